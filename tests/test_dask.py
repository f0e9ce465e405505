"""`archive-crawler reprocess ... --scheduler tcp://HOST:PORT`: re-extraction on a dask.distributed
cluster (crawler/cluster.py) gives the records of a local run, also when a worker is killed mid-run.

The tests marked ``dask`` start a real `dask scheduler` and `dask worker` processes on 127.0.0.1
(`pytest -m dask` runs them apart, `-m 'not dask'` leaves them out); the others need no process."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest

from conftest import BIN, REPO, read_jsonl
from pipelines.schema import RECORD_FIELDS

DASK = BIN / "dask"


def reprocess(*args, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "archive-crawler"), "reprocess", *map(str, args)],
                          cwd=REPO, capture_output=True, text=True, timeout=timeout)


def summary(result: subprocess.CompletedProcess) -> str:
    """The run's counts line, without the output files' names."""
    [line] = [line for line in result.stderr.splitlines() if " responses, " in line]
    head, _, tail = line.partition(" records written to ")
    return head + (tail[tail.index(";"):] if ";" in tail else "")


def by_url(records: list[dict]) -> list[dict]:
    return sorted(records, key=lambda r: r["canonical_url"])


def without_fetched_at(records: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "fetched_at"} for r in by_url(records)]


def parts(folder: Path, pattern: str = "*.jsonl") -> list[Path]:
    return sorted(folder.glob(pattern))


def read_parts(files: list[Path]) -> list[dict]:
    return [record for path in files for record in read_jsonl(path)]


def assert_same_records(remade: list[dict], local: list[dict]) -> None:
    """The contract: the same records as a local run apart from fetched_at, each once."""
    urls = Counter(r["canonical_url"] for r in remade)
    assert not [url for url, n in urls.items() if n > 1], "a record written twice"
    assert len({r["content_sha256"] for r in remade}) == len(remade)
    assert without_fetched_at(remade) == without_fetched_at(local)
    assert all(list(r) == list(RECORD_FIELDS) for r in remade)


class DaskCluster:
    """A `dask scheduler` and `dask worker` processes (no nanny: a killed worker stays dead) on
    127.0.0.1; the scheduler's port is chosen by the system and read from its scheduler file."""

    def __init__(self, folder: Path, workers: int = 2, preload: Path | None = None):
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.processes: list[subprocess.Popen] = []
        try:
            self._start_all(workers, preload)
        except BaseException:
            self.close()  # no process outlives a cluster that did not come up
            raise

    def _start_all(self, workers: int, preload: Path | None) -> None:
        folder = self.folder
        scheduler_file = folder / "scheduler.json"
        self.scheduler = self._start("scheduler", "scheduler", "--host", "127.0.0.1", "--port", "0",
                                     "--no-dashboard", "--scheduler-file", str(scheduler_file))
        self.address = self._address(scheduler_file)
        extra = ["--preload", str(preload)] if preload else []
        self.workers = [
            self._start(f"worker-{i}", "worker", self.address, "--nworkers", "1", "--nthreads", "1", "--no-nanny",
                        "--no-dashboard", "--host", "127.0.0.1", "--name", f"worker-{i}", "--memory-limit", "0",
                        "--local-directory", str(folder / f"worker-{i}"), *extra)
            for i in range(workers)
        ]
        self.pids: dict[str, int] = {}  # worker address -> pid
        if workers:
            from distributed import Client

            with Client(self.address, timeout=60) as client:
                client.wait_for_workers(workers, timeout=180)
                self.pids = client.run(os.getpid)

    def _start(self, name: str, *args: str) -> subprocess.Popen:
        log = open(self.folder / f"{name}.log", "wb")
        process = subprocess.Popen([str(DASK), *args], cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        self.processes.append(process)
        return process

    def _address(self, scheduler_file: Path) -> str:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert self.scheduler.poll() is None, (self.folder / "scheduler.log").read_text(errors="replace")
            try:
                return json.loads(scheduler_file.read_text())["address"]
            except (OSError, ValueError, KeyError):
                time.sleep(0.1)
        raise AssertionError("the dask scheduler did not write its scheduler file")

    def close(self) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture(scope="module")
def dask_cluster(tmp_path_factory):
    cluster = DaskCluster(tmp_path_factory.mktemp("dask"))
    try:
        yield cluster
    finally:
        cluster.close()


@pytest.fixture(scope="module")
def local_run(warc_crawl, tmp_path_factory):
    """A local reprocess of the fixture crawl's WARC files (the process pool, the default)."""
    output = tmp_path_factory.mktemp("local") / "records.jsonl"
    result = reprocess(*warc_crawl["warc_files"], "-o", output)
    assert result.returncode == 0, result.stderr
    return {"result": result, "records": read_jsonl(output)}


# --------------------------------------------------------------------------- on a real cluster


@pytest.mark.dask
def test_a_cluster_run_gives_the_records_of_a_local_run_in_numbered_parts(dask_cluster, warc_crawl, local_run,
                                                                          tmp_path):
    output = tmp_path / "out" / "records.jsonl"
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "records-00009.jsonl").write_text("{}\n")  # an earlier run's part: replaced
    result = reprocess(*warc_crawl["warc_files"], "-o", output, "--scheduler", dask_cluster.address,
                       "--slice-size", "4", "--batch-size", "25")
    assert result.returncode == 0, result.stderr
    files = parts(tmp_path / "out")
    records = len(local_run["records"])
    assert [f.name for f in files] == [f"records-{n:05d}.jsonl" for n in range(1, (records + 24) // 25 + 1)]
    assert [len(read_jsonl(f)) for f in files[:-1]] == [25] * (len(files) - 1)
    assert_same_records(read_parts(files), local_run["records"])
    assert without_fetched_at(read_parts(files)) == without_fetched_at(warc_crawl["records"])
    assert summary(result) == summary(local_run["result"])
    assert ", ".join(map(str, files)) in result.stderr


@pytest.mark.dask
def test_one_task_per_file_and_gzip_parts(dask_cluster, warc_crawl, local_run, tmp_path):
    """The default slice (100 responses) is more than a fixture file holds: one task per file."""
    import gzip

    result = reprocess(*warc_crawl["warc_files"], "-o", tmp_path / "records.jsonl.gz",
                       "--scheduler", dask_cluster.address)
    assert result.returncode == 0, result.stderr
    [part] = parts(tmp_path, "*.gz")
    assert part.name == "records-00001.jsonl.gz"
    remade = [json.loads(line) for line in gzip.decompress(part.read_bytes()).decode("utf-8").splitlines()]
    assert_same_records(remade, local_run["records"])


@pytest.mark.dask
def test_learned_boilerplate_and_two_sites_in_one_run(dask_cluster, warc_crawl, other_warc, tmp_path):
    """A site without a profile, whose template lines only learning removes, and the derechos.org
    crawl in one run: each site's model learns in capture order, across slices of two responses
    (the warm-up of 20 pages spans many tasks): the records of a local run in one process."""
    from test_boilerplate import BOILERPLATE

    files = [*other_warc["warc_files"], *warc_crawl["warc_files"]]
    local = reprocess(*files, "-o", tmp_path / "local.jsonl", "--workers", "0")
    assert local.returncode == 0, local.stderr
    remote = reprocess(*files, "-o", tmp_path / "remote" / "records.jsonl", "--scheduler", dask_cluster.address,
                       "--slice-size", "2")
    assert remote.returncode == 0, remote.stderr
    remade, expected = read_parts(parts(tmp_path / "remote")), read_jsonl(tmp_path / "local.jsonl")
    assert_same_records(remade, expected)
    assert summary(remote) == summary(local)
    other = [r for r in remade if r["site"] == "127.0.0.1"]
    assert without_fetched_at(other) == without_fetched_at(other_warc["records"])
    assert not [s for r in other for s in BOILERPLATE if s in r["text"]]


@pytest.mark.dask
def test_revisions_against_the_crawl_state(dask_cluster, own_site, tmp_path, gold):
    """--state: a re-crawl's captures get the re-crawl's revisions on the cluster too."""
    from test_state import _change_body, crawl

    state = tmp_path / "state"
    crawl(own_site.base_url, tmp_path / "first.jsonl", state, "-s", f"WARC_DIR={tmp_path / 'warc1'}")
    changed = ["/nizkor/espana/doc/cyberthreat2.html", "/nizkor/doc/hrw4.html"]
    for path in changed:
        word = next(w for w in gold[path]["text"].split("\n")[-1].split() if w.isascii() and w.isalpha() and len(w) > 5)
        _change_body(own_site.root / path.lstrip("/"), word, word + " (revised)")
    second, _ = crawl(own_site.base_url, tmp_path / "second.jsonl", state, "-s", f"WARC_DIR={tmp_path / 'warc2'}")
    files = sorted((tmp_path / "warc2").glob("*.warc.gz"))
    before = (state / "state.sqlite3").read_bytes()
    local = reprocess(*files, "-o", tmp_path / "local.jsonl", "--state", state)
    remote = reprocess(*files, "-o", tmp_path / "remote" / "re.jsonl", "--state", state,
                       "--scheduler", dask_cluster.address, "--slice-size", "3")
    assert local.returncode == 0 and remote.returncode == 0, remote.stderr
    remade = read_parts(parts(tmp_path / "remote"))
    assert {r["revision"] for r in remade} == {2} and len(remade) == len(changed) == len(second)
    assert_same_records(remade, read_jsonl(tmp_path / "local.jsonl"))
    assert summary(remote) == summary(local)
    assert (state / "state.sqlite3").read_bytes() == before, "reprocess changed the crawl state"


@pytest.mark.dask
def test_a_damaged_file_is_read_as_far_as_a_local_run_reads_it(dask_cluster, warc_crawl, tmp_path):
    first = warc_crawl["warc_files"][0]
    damaged = tmp_path / "damaged.warc.gz"
    damaged.write_bytes(first.read_bytes()[: len(first.read_bytes()) // 2])
    files = [damaged, *warc_crawl["warc_files"][1:]]
    local = reprocess(*files, "-o", tmp_path / "local.jsonl")
    remote = reprocess(*files, "-o", tmp_path / "remote" / "re.jsonl", "--scheduler", dask_cluster.address,
                       "--slice-size", "3")
    assert local.returncode == remote.returncode == 1
    assert "damaged.warc.gz" in remote.stderr
    assert_same_records(read_parts(parts(tmp_path / "remote")), read_jsonl(tmp_path / "local.jsonl"))
    assert summary(remote) == summary(local)


SLOW_WORKER = '''\
"""dask worker --preload: every slice read takes half a second longer (the kill must land mid-run)."""
import time

import crawler.cluster

# dask imports a preload file more than once: wrap the original function, once.
_read_slice = getattr(crawler.cluster, "_unslowed_read_slice", crawler.cluster.read_slice)
crawler.cluster._unslowed_read_slice = _read_slice


def read_slice(*args, **kwargs):
    time.sleep(0.5)
    return _read_slice(*args, **kwargs)


crawler.cluster.read_slice = read_slice
'''


@pytest.mark.dask
def test_a_worker_killed_mid_run_loses_no_record(warc_crawl, local_run, tmp_path):
    from distributed import Client

    preload = tmp_path / "slow_worker.py"
    preload.write_text(SLOW_WORKER)
    cluster = DaskCluster(tmp_path / "dask", workers=2, preload=preload)
    output = tmp_path / "out" / "records.jsonl"
    process = None
    try:
        victim, pid = next(iter(cluster.pids.items()))
        [victim_process] = [p for p in cluster.workers if p.pid == pid]
        process = subprocess.Popen([str(BIN / "archive-crawler"), "reprocess", *map(str, warc_crawl["warc_files"]),
                                    "-o", str(output), "--scheduler", cluster.address, "--slice-size", "4"],
                                   cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        part = tmp_path / "out" / "records-00001.jsonl"
        written_at_kill = None
        with Client(cluster.address, timeout=30) as client:
            deadline = time.monotonic() + 240
            while time.monotonic() < deadline and process.poll() is None:
                written = len(part.read_text().splitlines()) if part.exists() else 0
                # Mid-run: records are out, and the victim is working on a task or holds a read slice.
                busy = client.processing(workers=[victim]).get(victim) or client.has_what(workers=[victim]).get(victim)
                if written and busy:
                    os.kill(pid, signal.SIGKILL)
                    written_at_kill = written
                    break
                time.sleep(0.05)
        if written_at_kill is None:
            process.kill()
            pytest.fail(f"the run ended before the worker could be killed: {process.communicate()[1][-3000:]}")
        assert written_at_kill < len(local_run["records"])
        _, stderr = process.communicate(timeout=300)
        assert victim_process.wait(timeout=30) == -signal.SIGKILL
    finally:
        if process is not None and process.poll() is None:
            process.kill()
        cluster.close()
    assert process.returncode == 0, stderr
    assert_same_records(read_parts(parts(tmp_path / "out")), local_run["records"])
    assert summary(subprocess.CompletedProcess([], 0, "", stderr)) == summary(local_run["result"])


# --------------------------------------------------------------------------- bad input


def _silent_port() -> socket.socket:
    """A port that takes connections (the kernel's backlog) and never says a word."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    return server


@pytest.mark.dask
@pytest.mark.parametrize("kind", ["silent", "closed"])
def test_a_scheduler_that_does_not_answer_is_one_line_and_a_bounded_exit(warc_crawl, tmp_path, kind):
    server = _silent_port()
    port = server.getsockname()[1]
    if kind == "closed":
        server.close()
    try:
        started = time.monotonic()
        result = reprocess(*warc_crawl["warc_files"], "-o", tmp_path / "records.jsonl",
                           "--scheduler", f"tcp://127.0.0.1:{port}", "--scheduler-timeout", "2", timeout=120)
        elapsed = time.monotonic() - started
    finally:
        server.close()
    assert result.returncode == 2
    assert result.stderr.splitlines() == [f"archive-crawler: no dask scheduler answered at tcp://127.0.0.1:{port} within 2 s"]
    assert elapsed < 30  # the interpreter's start-up, imports and the 2 s
    assert not list(tmp_path.iterdir()), "nothing is written"


@pytest.mark.dask
def test_a_scheduler_without_workers_is_one_line_and_a_bounded_exit(warc_crawl, tmp_path):
    cluster = DaskCluster(tmp_path / "dask", workers=0)
    try:
        result = reprocess(*warc_crawl["warc_files"], "-o", tmp_path / "out" / "records.jsonl",
                           "--scheduler", cluster.address, "--scheduler-timeout", "2", timeout=120)
    finally:
        cluster.close()
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"archive-crawler: the dask scheduler at {cluster.address} has no worker: none joined within 2 s"]
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("args, message", [
    (["--scheduler", "127.0.0.1"], "not a dask scheduler address: '127.0.0.1'"),
    (["--scheduler", "http://127.0.0.1:8786"], "not a dask scheduler address: 'http://127.0.0.1:8786'"),
    (["--scheduler", "tcp://127.0.0.1:1", "--workers", "2"], "--workers is for a local run"),
])
def test_bad_cluster_options_are_one_line(warc_crawl, tmp_path, args, message):
    result = reprocess(*warc_crawl["warc_files"], "-o", tmp_path / "records.jsonl", *args, timeout=120)
    assert result.returncode == 2
    [line] = result.stderr.splitlines()
    assert line.startswith(f"archive-crawler: {message}"), line
    assert not list(tmp_path.iterdir())


# --------------------------------------------------------------------------- no process needed


@pytest.mark.parametrize("output, template", [
    ("out/records.jsonl", "out/records-%(batch_id)05d.jsonl"),
    ("out/records.jsonl.gz", "out/records-%(batch_id)05d.jsonl.gz"),
    ("records", "records-%(batch_id)05d"),
    ("out/100%.jsonl", "out/100%%-%(batch_id)05d.jsonl"),
    ("out/part-%(batch_id)03d.jsonl", "out/part-%(batch_id)03d.jsonl"),
])
def test_part_names(output, template):
    from crawler.cluster import part_template
    from crawler.output import batch_path

    assert part_template(output) == template
    if "batch_id" in template:
        assert batch_path(template, 1).endswith(("00001.jsonl", "00001.jsonl.gz", "00001", "001.jsonl"))


def test_earlier_parts_are_removed_and_nothing_else(tmp_path):
    from crawler.cluster import part_template, remove_parts

    for name in ("re-00001.jsonl", "re-00002.jsonl", "re-00003.jsonl", "re.jsonl", "re-1.json", "other-00001.jsonl"):
        (tmp_path / name).write_text("")
    removed = remove_parts(part_template(tmp_path / "re.jsonl"))
    assert sorted(p.name for p in removed) == ["re-00001.jsonl", "re-00002.jsonl", "re-00003.jsonl"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other-00001.jsonl", "re-1.json", "re.jsonl"]


def _response_fields(responses) -> list[tuple]:
    return [(r.url, r.status, r.headers, r.body, r.date, r.profile, r.warcinfo) for r in responses]


@pytest.mark.parametrize("size", [1, 3, 100])
def test_byte_ranges_read_the_same_responses_as_the_whole_file(warc_crawl, size):
    from crawler.cluster import warc_ranges
    from crawler.warc import read_responses

    for path in warc_crawl["warc_files"]:
        ranges = list(warc_ranges(path, size))
        assert ranges[0][0] == 0 and ranges[-1][1] is None
        assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:]))
        pieces = [_response_fields(read_responses(path, start, end, info)) for start, end, info in ranges]
        assert all(len([r for r in piece]) <= size for piece in pieces)
        assert [r for piece in pieces for r in piece] == _response_fields(read_responses(path))


def test_a_damaged_file_fails_in_its_last_range_as_it_fails_whole(warc_crawl, tmp_path):
    from warcio.exceptions import ArchiveLoadFailed

    from crawler.cluster import warc_ranges
    from crawler.warc import read_responses

    data = warc_crawl["warc_files"][0].read_bytes()
    damaged = tmp_path / "damaged.warc.gz"
    damaged.write_bytes(data[: len(data) // 2])

    def read_all(responses) -> tuple[list, str]:
        got = []
        try:
            for response in responses:
                got.append(response.url)
        except ArchiveLoadFailed as exc:
            return got, str(exc)
        return got, ""

    whole = read_all(read_responses(damaged))
    assert whole[1], "the cut file reads as damaged"
    ranges = list(warc_ranges(damaged, 2))
    pieces = [read_all(read_responses(damaged, start, end, info)) for start, end, info in ranges]
    assert all(not error for _, error in pieces[:-1])
    assert ([url for urls, _ in pieces for url in urls], pieces[-1][1]) == whole


# --------------------------------------------------------------------------- fixtures from other modules


@pytest.fixture(scope="module")
def other_warc(tmp_path_factory):
    """fixtures/otherarchive (no site profile: boilerplate is learnt) crawled with WARC capture."""
    from fixtures.server import running_server
    from test_boilerplate import OTHER, crawl_archive

    folder = tmp_path_factory.mktemp("other-warc")
    with running_server(OTHER) as site:
        records, _ = crawl_archive(site.base_url, folder, "-s", f"WARC_DIR={folder / 'warc'}")
    return {"records": records, "warc_files": sorted((folder / "warc").glob("*.warc.gz"))}


@pytest.fixture
def own_site(tmp_path):
    """A copy of the mock archive that a test may change, served on its own port (as in test_state)."""
    import shutil

    from conftest import SITE, SITE_HEADERS
    from fixtures.server import running_server

    root = tmp_path / "site"
    shutil.copytree(SITE, root)
    with running_server(root, headers_file=SITE_HEADERS) as server:
        server.root = root
        yield server
