"""The record pool (crawler/workers.py) and the chain around it (crawler/chain.py): real worker
processes, back-pressure, a worker killed mid-job, the same records with and without the pool and
in any page order."""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from conftest import BIN, LOCAL_CRAWL, REPO, read_jsonl

OTHER = REPO / "fixtures" / "otherarchive"
OTHER_GOLD = REPO / "fixtures" / "otherarchive.gold.jsonl"


# Run in the worker processes (picklable: module-level functions of an importable module).
def worker_pid(pause: float = 0.0) -> int:
    time.sleep(pause)
    return os.getpid()


def die_once(marker: str) -> str:
    if not os.path.exists(marker):
        Path(marker).write_text("died here once")
        os.kill(os.getpid(), signal.SIGKILL)
    return "done on the second worker"


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def loaded_in_worker() -> dict:
    from pipelines.language import load_model

    return {"trafilatura": "trafilatura" in sys.modules, "language_models": load_model.cache_info().currsize,
            "language_loads": load_model.cache_info().misses}


def run(coroutine):
    return asyncio.run(coroutine)


def test_jobs_run_in_other_processes_and_the_pool_never_holds_more_than_its_capacity():
    from crawler.workers import RecordPool

    async def main():
        pool = RecordPool(2, capacity=3)
        try:
            pids = await asyncio.gather(*(pool.run(worker_pid, 0.02) for _ in range(24)))
        finally:
            pool.close()
        return pool, pids

    pool, pids = run(main())
    assert os.getpid() not in pids and len(set(pids)) == 2
    assert pool.stats["jobs"] == 24
    assert pool.stats["peak"] == 3, "24 callers at once, at most 3 pages in the pool"


@pytest.mark.parametrize("workers", [1, 2])
def test_workers_start_with_trafilatura_and_the_language_model_loaded(workers):
    """One worker is spawned and loads the record engine itself; two or more are forked from a
    forkserver that loaded it once. Either way a job finds it loaded, and loaded once."""
    from crawler.workers import RecordPool

    async def main():
        pool = RecordPool(workers)
        try:
            results = await asyncio.gather(*(pool.run(loaded_in_worker) for _ in range(4 * workers)))
        finally:
            pool.close()
        return pool, results

    pool, results = run(main())
    assert pool._context.get_start_method() == ("spawn" if workers == 1 else "forkserver")
    for loaded in results:
        assert loaded["trafilatura"] and loaded["language_models"] == 1
        assert loaded["language_loads"] == 1  # once, when the worker (or its forkserver) started


def test_a_job_over_the_time_budget_is_abandoned_and_the_others_go_on():
    from crawler.workers import JobTimedOut, RecordPool

    async def main():
        pool = RecordPool(2, timeout=1.0)
        try:
            slow = asyncio.ensure_future(pool.run(worker_pid, 60))
            quick = await asyncio.gather(*(pool.run(worker_pid, 0.01) for _ in range(6)))
            with pytest.raises(JobTimedOut):
                await slow
            after = await pool.run(worker_pid)
        finally:
            pool.close()
        return pool, quick, after

    pool, quick, after = run(main())
    assert len(quick) == 6, "the other jobs ran while the slow one was in its worker"
    assert pool.stats["timed_out"] == 1 and pool.stats["lost"] == 0
    assert after and len(pool.pids()) == 0  # closed; a new worker had replaced the killed one


def test_a_killed_worker_loses_no_job_it_is_retried_once():
    from crawler.workers import RecordPool, WorkerDied

    async def main(marker):
        pool = RecordPool(1)
        try:
            retried = await pool.run(die_once, marker)
            with pytest.raises(WorkerDied):
                await pool.run(die)
            after = await pool.run(worker_pid)
        finally:
            pool.close()
        return pool, retried, after

    marker = Path(os.environ.get("TMPDIR", "/tmp")) / f"die-once-{os.getpid()}-{time.monotonic_ns()}"
    pool, retried, after = run(main(str(marker)))
    assert marker.exists() and retried == "done on the second worker"
    assert pool.stats["retried"] == 2 and pool.stats["lost"] == 1  # die_once once, die once then given up
    assert pool.stats["worker_deaths"] == 3
    assert isinstance(after, int), "the pool goes on after a page is given up"


def _other_pages() -> list[tuple[str, bytes]]:
    pages = []
    for path in sorted(OTHER.rglob("*.html")):
        if "admin" not in path.parts:
            relative = path.relative_to(OTHER).as_posix()
            pages.append((f"http://memorywatch.example/{relative}", path.read_bytes()))
    return pages


def _learned_records(pages, workers: int) -> dict[str, dict]:
    """The chain of a crawl (learning included) over these pages in this order."""
    from crawler.chain import PageReader
    from crawler.workers import PageJob, RecordPool
    from pipelines.boilerplate import BoilerplateModel

    async def main():
        pool = RecordPool(workers)
        reader = PageReader(pool, BoilerplateModel(site="memorywatch.example"))
        try:
            outcomes = await asyncio.gather(*(reader.read(PageJob(body, url, "text/html", "generic"))
                                              for url, body in pages))
            built = [b for _links, batch in outcomes for b in batch] + await reader.flush()
        finally:
            pool.close()
        return {b.url: b.record for b in built if b.record is not None}

    return run(main())


def test_records_are_the_same_in_any_page_order_and_with_or_without_the_pool():
    pages = _other_pages()
    gold = {"http://memorywatch.example" + g["path"]: g for g in read_jsonl(OTHER_GOLD)}
    baseline = _learned_records(pages, workers=0)
    assert sorted(baseline) == sorted(gold)
    for url, record in baseline.items():
        assert record["text"] == gold[url]["text"], url  # learned boilerplate removed
    shuffled = list(pages)
    for seed in (1, 2):
        random.Random(seed).shuffle(shuffled)
        for workers in (0, 2):
            records = _learned_records(shuffled, workers)
            assert {u: r["text"] for u, r in records.items()} == {u: r["text"] for u, r in baseline.items()}, (seed, workers)
            assert {u: r["title"] for u, r in records.items()} == {u: r["title"] for u, r in baseline.items()}


def test_the_crawl_process_never_imports_the_record_engine():
    """The reactor does no parsing: the spider, its pipelines and the chain import neither
    trafilatura nor the language identifier, nor the schema validator."""
    code = ("import sys; import crawler.spiders.nizkor, crawler.pipelines, crawler.chain, crawler.capture; "
            "print([m for m in ('trafilatura', 'py3langid', 'jsonschema') if m in sys.modules])")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_pages_held_for_learning_do_not_bring_the_record_engine_into_the_crawl_process():
    """Drafts held until the boilerplate model is ready stay pickled in the crawl's process: only a
    worker unpickles them (a PageDraft would import pipelines.records, and with it trafilatura)."""
    code = f"""
import asyncio, sys
from pathlib import Path
from crawler.chain import PageReader
from crawler.workers import PageJob, RecordPool
from pipelines.boilerplate import BoilerplateModel
pages = sorted(p for p in Path({str(OTHER)!r}).rglob('*.html') if 'admin' not in p.parts)
async def main():
    pool = RecordPool(1)
    reader = PageReader(pool, BoilerplateModel(site='memorywatch.example'))
    try:
        batches, held = [], 0
        for p in pages:
            url = 'http://memorywatch.example/' + p.relative_to({str(OTHER)!r}).as_posix()
            batches.append(await reader.read(PageJob(p.read_bytes(), url, 'text/html', 'generic')))
            held = max(held, len(reader.held))
        built = [b for _links, batch in batches for b in batch] + await reader.flush()
    finally:
        pool.close()
    return held, sum(b.record is not None for b in built)
held, records = asyncio.run(main())
print(held > 0, records, [m for m in ('trafilatura', 'pipelines.records', 'py3langid') if m in sys.modules])
"""
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    held, records, loaded = result.stdout.strip().split(" ", 2)
    assert held == "True", "the warm-up held no page: nothing tested"
    assert int(records) == len(read_jsonl(OTHER_GOLD))
    assert loaded == "[]"


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def test_a_worker_killed_during_a_crawl_loses_no_record(fixture_site, gold, tmp_path):
    output, log = tmp_path / "records.jsonl", tmp_path / "crawl.log"
    command = [str(BIN / "scrapy"), "crawl", "nizkor", "-a", f"start_url={fixture_site.base_url}/nizkor/",
               "-O", str(output), "-s", f"CRAWL_STATE={tmp_path / 'state'}", "-s", f"LOG_FILE={log}",
               "-s", "RECORD_WORKERS=2", "-s", "DOWNLOAD_DELAY=0.05", "-s", "AUTOTHROTTLE_ENABLED=False",
               "-s", "DOWNLOAD_DELAY_JITTER=0"]
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    killed = None
    try:
        deadline = time.monotonic() + 120
        while killed is None and time.monotonic() < deadline and process.poll() is None:
            # The workers are the children of multiprocessing's forkserver, a child of the crawl.
            servers = [p for p in _descendants(process.pid) if "forkserver" in _cmdline(p)]
            # (only the forked workers: not a helper the forkserver runs while it boots, e.g. ldconfig)
            workers = [w for server in servers for w in _descendants(server) if "forkserver" in _cmdline(w)]
            if workers:
                killed = workers[0]
                os.kill(killed, signal.SIGKILL)
            time.sleep(0.005)
        assert killed is not None, "no worker process was seen"
        assert process.wait(timeout=300) == 0
    finally:
        process.kill()
        process.wait()
    records = read_jsonl(output)
    paths = Counter(urlsplit(r["url"]).path for r in records)
    assert sorted(paths) == sorted(gold) and set(paths.values()) == {1}
    text = log.read_text(encoding="utf-8")
    assert "'archive/pool/worker_deaths': 1" in text
    assert "archive/skipped/worker_died" not in text


def test_a_crawl_without_the_pool_gives_the_same_records(fixture_site, gold, tmp_path):
    output = tmp_path / "records.jsonl"
    command = [str(BIN / "scrapy"), "crawl", "nizkor", "-a", f"start_url={fixture_site.base_url}/nizkor/",
               "-O", str(output), "-s", f"CRAWL_STATE={tmp_path / 'state'}", "-s", "RECORD_WORKERS=0", *LOCAL_CRAWL]
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    records = {urlsplit(r["url"]).path: r for r in read_jsonl(output)}
    assert sorted(records) == sorted(gold)
    for path, record in records.items():
        for field in ("title", "text", "language", "section", "document_date", "published_date", "source", "dateline"):
            assert record[field] == gold[path][field], (path, field)
    assert "'archive/pool/workers': 0" in result.stderr
    json.dumps(records)  # plain JSON data


def test_extract_on_one_page_loads_only_what_it_uses():
    """``extract`` builds in its own process: no worker, no Scrapy, no WARC library, one model load."""
    page = REPO / "fixtures" / "derechos" / "nizkor" / "espana" / "doc" / "cat1233.html"
    code = ("import sys, contextlib, io; from crawler.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()) as out: status = main(['extract', '--url', "
            f"'https://www.derechos.org/nizkor/espana/doc/cat1233.html', {str(page)!r}])\n"
            "from pipelines.language import load_model\n"
            "print(status, bool(out.getvalue()), [m for m in ('scrapy', 'twisted', 'warcio', 'multiprocessing.forkserver')"
            " if m in sys.modules], load_model.cache_info().misses)")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert result.stdout.split("\n")[0] == "0 True [] 1"
