"""Re-extraction throughput: `archive-crawler reprocess` locally and on a dask.distributed cluster of
1 and 2 workers, over the WARC of the throughput benchmark's mirror crawl.

    python benchmarks/reprocess_dask.py [--pages 2000] [--warc DIR] [--rounds 1] [--slice-size 100] [--keep]

Without --warc, the mirror of benchmarks/throughput.py (N article pages made from fixtures/derechos/)
is built, served on 127.0.0.1 and crawled once with `scrapy crawl nizkor -s WARC_DIR=...` (the same
crawl as that benchmark's); --warc DIR reads the *.warc.gz of an earlier crawl instead (e.g. the
round-0/warc folder that `throughput.py --keep` leaves). Then, in each round: a local `reprocess`
(the process pool, one worker per core), and `reprocess --scheduler` on a `dask scheduler` with one,
then two `dask worker --nworkers 1 --nthreads 1 --no-nanny` processes on 127.0.0.1 (started before
the timed runs, with `--preload crawler.worker_boot` so that they have the record engine loaded, as
the local pool's forkserver has it; a cluster is there before its jobs). Every run's records are
checked against the local run's (sorted by URL, fetched_at included: both take it from the WARC).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
BIN = Path(sys.executable).parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO))

import throughput  # noqa: E402  (benchmarks/throughput.py: the mirror, its server, its crawl settings)

NOTE = """\
seconds: wall time of the `archive-crawler reprocess` command (interpreter start, imports, connecting
to the scheduler included; the dask workers already running). records/s: records / seconds. ratio:
records/s over the local run's. command CPU s: user+system CPU of the command's whole process tree
(a local run: its forkserver and worker processes too; a dask run: the driver alone). scheduler and
workers CPU s: the dask scheduler's and workers' during the run (psutil, per process)."""


def crawl_mirror(pages: int, work: Path) -> list[Path]:
    mirror = work / "mirror"
    mirror.mkdir()
    started = time.perf_counter()
    throughput.build_mirror(REPO, mirror, pages)
    warc_dir = work / "warc"
    settings = {**throughput.LOCAL_CRAWL, "CRAWL_STATE": work / "state", "WARC_DIR": warc_dir,
                "PROGRESS_INTERVAL": 0, "LOG_LEVEL": "WARNING"}
    with throughput.serve(REPO, mirror, nodelay=False) as (base, _server_cpu):
        command = [str(BIN / "scrapy"), "crawl", "nizkor", "-a", f"start_url={base}/nizkor/", "-O",
                   str(work / "crawl.jsonl"), *[a for k, v in settings.items() for a in ("-s", f"{k}={v}")]]
        result = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"reprocess_dask: the mirror crawl failed:\n{result.stderr[-3000:]}")
    print(f"Mirror of {pages} article pages built and crawled in {time.perf_counter() - started:.0f} s "
          f"({throughput.count_lines(work / 'crawl.jsonl')} records).")
    return sorted(warc_dir.glob("*.warc.gz"))


class Cluster:
    """A dask scheduler on 127.0.0.1 and the worker processes added to it."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.processes: list[subprocess.Popen] = []
        scheduler_file = folder / "scheduler.json"
        self.scheduler = self._start("scheduler", "scheduler", "--host", "127.0.0.1", "--port", "0",
                                     "--no-dashboard", "--scheduler-file", str(scheduler_file))
        deadline = time.monotonic() + 120
        while True:
            try:
                self.address = json.loads(scheduler_file.read_text())["address"]
                break
            except (OSError, ValueError, KeyError):
                if time.monotonic() > deadline or self.scheduler.poll() is not None:
                    sys.exit("reprocess_dask: the dask scheduler did not start (see its log in --keep's folder)")
                time.sleep(0.1)
        self.workers: list[subprocess.Popen] = []

    def _start(self, name: str, *args: str) -> subprocess.Popen:
        with open(self.folder / f"{name}.log", "wb") as log:
            process = subprocess.Popen([str(BIN / "dask"), *args], cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
        self.processes.append(process)
        return process

    def add_worker(self) -> None:
        number = len(self.workers)
        self.workers.append(self._start(
            f"worker-{number}", "worker", self.address, "--nworkers", "1", "--nthreads", "1", "--no-nanny",
            "--no-dashboard", "--host", "127.0.0.1", "--memory-limit", "0", "--name", f"worker-{number}",
            "--local-directory", str(self.folder / f"worker-{number}"), "--preload", "crawler.worker_boot"))
        from distributed import Client

        with Client(self.address, timeout=60) as client:
            client.wait_for_workers(len(self.workers), timeout=180)

    def cpu(self) -> tuple[float, float]:
        """CPU seconds so far of the scheduler, and of the workers together."""
        import psutil

        def seconds(process: subprocess.Popen) -> float:
            times = psutil.Process(process.pid).cpu_times()
            return times.user + times.system

        return seconds(self.scheduler), sum(seconds(worker) for worker in self.workers)

    def close(self) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


def records_of(folder: Path) -> list[str]:
    return sorted(line for path in sorted(folder.glob("*.jsonl")) for line in path.read_text(encoding="utf-8").splitlines()
                  if line.strip())


def run(label: str, warcs: list[Path], out: Path, cluster: Cluster | None, slice_size: int) -> dict:
    out.mkdir(parents=True)
    command = [str(BIN / "archive-crawler"), "reprocess", *map(str, warcs), "-o", str(out / "records.jsonl")]
    if cluster is not None:
        command += ["--scheduler", cluster.address, "--slice-size", str(slice_size)]
    usage = out / "usage.json"
    scheduler_before, workers_before = cluster.cpu() if cluster else (0.0, 0.0)
    # throughput.py's wrapper: wall time, and the CPU of the command's whole process tree (a local
    # run's forkserver and workers included).
    result = subprocess.run([sys.executable, str(HERE / "throughput.py"), "--internal", "wrap", str(usage), *command],
                            cwd=REPO, capture_output=True, text=True)
    scheduler_after, workers_after = cluster.cpu() if cluster else (0.0, 0.0)
    measured = json.loads(usage.read_text()) if usage.exists() else {"returncode": result.returncode}
    if measured["returncode"] != 0:
        sys.exit(f"reprocess_dask: {label} failed (exit {measured['returncode']}):\n{result.stderr[-3000:]}")
    return {"label": label, "wall": measured["wall"], "records": records_of(out), "driver_cpu": measured["cpu"],
            "scheduler_cpu": scheduler_after - scheduler_before, "workers_cpu": workers_after - workers_before}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=2000, help="article pages in the mirror (default 2000)")
    parser.add_argument("--warc", type=Path, help="the *.warc.gz of an earlier crawl, instead of crawling a mirror")
    parser.add_argument("--rounds", type=int, default=1, help="rounds of the three runs; the median is shown")
    parser.add_argument("--slice-size", type=int, default=100, help="--slice-size of the dask runs (default 100)")
    parser.add_argument("--keep", action="store_true", help="keep the temp folder (mirror, WARC, outputs, logs)")
    args = parser.parse_args(argv)
    if args.pages < 1 or args.rounds < 1 or args.slice_size < 1:
        parser.error("--pages, --rounds and --slice-size must be at least 1")
    work = Path(tempfile.mkdtemp(prefix="reprocess-dask-"))
    cluster = None
    try:
        if args.warc is not None:
            warcs = sorted(args.warc.resolve().glob("*.warc.gz"))
            if not warcs:
                sys.exit(f"reprocess_dask: no *.warc.gz in {args.warc}")
        else:
            warcs = crawl_mirror(args.pages, work)
        size = sum(path.stat().st_size for path in warcs)
        print(f"# Re-extraction on dask ({os.cpu_count()} CPUs)\n\n{len(warcs)} WARC file(s), {size / 1e6:.1f} MB; "
              f"dask slices of {args.slice_size} responses.")
        (work / "dask").mkdir()
        cluster = Cluster(work / "dask")
        runs: dict[str, list[dict]] = {"local (process pool)": [], "dask, 1 worker": [], "dask, 2 workers": []}
        for number in range(args.rounds):
            here = work / f"round-{number}"
            runs["local (process pool)"].append(run("local", warcs, here / "local", None, args.slice_size))
            while len(cluster.workers) < 1:
                cluster.add_worker()
            runs["dask, 1 worker"].append(run("dask-1", warcs, here / "dask-1", cluster, args.slice_size))
            while len(cluster.workers) < 2:
                cluster.add_worker()
            runs["dask, 2 workers"].append(run("dask-2", warcs, here / "dask-2", cluster, args.slice_size))
            if cluster is not None and number + 1 < args.rounds:  # the next round starts from one worker again
                cluster.close()
                shutil.rmtree(work / "dask")
                (work / "dask").mkdir()
                cluster = Cluster(work / "dask")
        reference = runs["local (process pool)"][0]["records"]
        for label, measured in runs.items():
            for one in measured:
                if one["records"] != reference:
                    sys.exit(f"reprocess_dask: {label} did not give the local run's records")
        chosen = {label: sorted(measured, key=lambda r: r["wall"])[(len(measured) - 1) // 2]
                  for label, measured in runs.items()}
        local_rate = len(reference) / chosen["local (process pool)"]["wall"]
        print(f"\n## {len(reference)} records, {args.rounds} round(s){' (median)' if args.rounds > 1 else ''}\n")
        header = ["run", "records", "seconds", "records/s", "ratio to local", "command CPU s", "scheduler CPU s",
                  "workers CPU s"] + (["seconds, each round"] if args.rounds > 1 else [])
        print("| " + " | ".join(header) + " |\n|" + "|".join("---" for _ in header) + "|")
        for label, one in chosen.items():
            rate = len(one["records"]) / one["wall"]
            row = [label, str(len(one["records"])), f"{one['wall']:.1f}", f"{rate:.1f}", f"{rate / local_rate:.2f}",
                   f"{one['driver_cpu']:.1f}", f"{one['scheduler_cpu']:.1f}" if one["scheduler_cpu"] else "",
                   f"{one['workers_cpu']:.1f}" if one["workers_cpu"] else ""]
            if args.rounds > 1:
                row.append(" / ".join(f"{r['wall']:.1f}" for r in runs[label]))
            print("| " + " | ".join(row) + " |")
        dask_1, dask_2 = (len(chosen[k]["records"]) / chosen[k]["wall"] for k in ("dask, 1 worker", "dask, 2 workers"))
        print(f"\ndask 2 workers / dask 1 worker: {dask_2 / dask_1:.2f}\n\n{NOTE}")
    finally:
        if cluster is not None:
            cluster.close()
        if args.keep:
            print(f"\nKept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
