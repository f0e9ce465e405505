"""Worker processes that read pages and build records, so that the crawl's reactor does no parsing.

``RecordPool`` runs picklable module-level functions in ``workers`` processes that start with
``crawler/worker_boot.py`` (trafilatura, the schema, the language models) loaded: two or more are
forked from multiprocessing's forkserver, which imported it once for all of them; a single worker
is spawned and imports it itself (a forkserver would only hold a second copy). The crawl's own
process loads none of it. ``workers=0`` runs the same functions in the calling process (``extract``, tests).

* Back-pressure: ``run`` waits (asyncio) while ``capacity`` jobs are in the pool, so the pool never
  holds more pages than that; the caller (a spider callback) waits, the engine goes on fetching.
* Each worker has one job at a time, so a job is never queued behind a slow one in a pipe.
* A worker that dies (killed, out of memory, a crash in C code) loses no job: its job is given to
  a new worker once (``RETRIES``); if that one dies too, ``run`` raises ``WorkerDied`` and the
  caller counts the page as skipped.
* A job that runs longer than ``timeout`` seconds (a page the record engine is slow on) is given up:
  its worker is killed and replaced, ``run`` raises ``JobTimedOut`` and the other jobs go on.

The functions below (``read_job``, ``finish_job``) are what the crawl and ``reprocess`` send; they
wrap the pure functions of ``pipelines/records.py`` and turn their ``PageSkipped`` into data.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import multiprocessing
import os
import pickle
import sys
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

__all__ = ["HeldDraft", "JobOutcome", "JobTimedOut", "PageJob", "RecordPool", "WorkerDied", "default_workers", "finish_job", "read_job"]

logger = logging.getLogger(__name__)

# A job whose worker died is given to a new worker this many times before it is given up.
RETRIES = 1
# Deaths in a row with no job finished in between: the workers cannot run at all.
MAX_DEATHS_IN_A_ROW = 5
BOOT_MODULE = "crawler.worker_boot"
# The site profiles a crawl's workers will use (comma-separated), read by BOOT_MODULE.
PROFILES_VARIABLE = "ARCHIVE_CRAWLER_WORKER_PROFILES"


def default_workers() -> int:
    """One worker per core beyond the first (that one runs the reactor), at least one."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, cores - 1)


class WorkerDied(Exception):
    """The worker processes that ran a job died, ``RETRIES + 1`` times."""


class JobTimedOut(Exception):
    """A job ran longer than the pool's ``timeout``: its worker was killed, and it is not retried."""


# --------------------------------------------------------------------------- what workers run

# Set in each worker by ``configure`` (the pool's initializer): link extensions left out, and the
# page budgets (None: pipelines/budgets.py's).
_IGNORED_EXTENSIONS: frozenset[str] = frozenset()
_BUDGETS: dict[str, int] = {}


def configure(ignored_extensions: frozenset[str], max_bytes: int | None = None, max_elements: int | None = None) -> None:
    global _IGNORED_EXTENSIONS, _BUDGETS
    _IGNORED_EXTENSIONS = frozenset(ignored_extensions)
    _BUDGETS = {key: value for key, value in (("max_bytes", max_bytes), ("max_elements", max_elements))
                if value is not None}


@dataclass(frozen=True)
class PageJob:
    """A fetched HTML page, as the crawl hands it to a worker."""

    body: bytes
    url: str
    content_type: str | None
    profile: str
    fetched_at: datetime | None = None
    # The crawl follows the page's links; reprocess and extract do not.
    follow: bool = True


@dataclass(frozen=True)
class HeldDraft:
    """A read page waiting for the site's boilerplate, as the crawl's process holds it: its URL and
    the pickled ``PageDraft``, which only a worker unpickles (unpickling it would import the record
    engine, trafilatura included, into the crawl's own process)."""

    url: str
    data: bytes


@dataclass
class JobOutcome:
    """What a worker gives back: the page's links and line keys (read jobs), and a record, a draft
    (a page read before the site's boilerplate is known) or the reason for no record."""

    links: tuple[str, ...] = ()
    line_keys: tuple[str | None, ...] = ()
    draft: HeldDraft | None = None
    record: dict | None = None
    skip: tuple[str, str] | None = None


def _finish(draft, boilerplate: frozenset[str]) -> JobOutcome:
    from pipelines.encoding import PageSkipped
    from pipelines.records import finish_record
    from pipelines.validation import record_errors

    try:
        record = finish_record(draft, boilerplate)
    except PageSkipped as skipped:
        return JobOutcome(skip=(skipped.reason, skipped.detail))
    # Validated where it is built (the schema walk is the costliest check); the crawl only sets
    # ``revision`` afterwards, an integer >= 1 by construction.
    errors = record_errors(record)
    if errors:
        return JobOutcome(skip=("invalid_record", "; ".join(errors)))
    return JobOutcome(record=record)


def read_job(job: PageJob, boilerplate: frozenset[str] | None, observe: bool = True) -> JobOutcome:
    """Read a page; with ``boilerplate`` (the site's learned line keys, or ``frozenset()`` when not
    learning) also finish its record, else return the draft for ``finish_job`` later. ``observe``:
    give the page's line keys, for learning."""
    from pipelines.encoding import PageSkipped
    from pipelines.profiles import load_profile
    from pipelines.records import read_page

    headers = {"Content-Type": job.content_type} if job.content_type else None
    try:
        draft = read_page(job.body, job.url, headers=headers, profile=load_profile(job.profile),
                          fetched_at=job.fetched_at, ignored_extensions=_IGNORED_EXTENSIONS,
                          follow=job.follow, observe=observe, **_BUDGETS)
    except PageSkipped as skipped:
        return JobOutcome(skip=(skipped.reason, skipped.detail))
    except Exception as exc:  # noqa: BLE001 - a page the code cannot handle is a counted skip, not a crash
        logger.exception("Extraction failed on %s", job.url)
        return JobOutcome(skip=("extraction_error", f"{type(exc).__name__}: {exc}"))
    if boilerplate is None:
        return JobOutcome(links=draft.links, line_keys=draft.line_keys,
                          draft=HeldDraft(draft.url, pickle.dumps(draft, pickle.HIGHEST_PROTOCOL)))
    outcome = _finish_or_skip(draft, boilerplate)
    outcome.links, outcome.line_keys = draft.links, draft.line_keys
    return outcome


def finish_job(held: HeldDraft, boilerplate: frozenset[str]) -> JobOutcome:
    """The record of a held page, cleaned of the ``boilerplate`` line keys."""
    return _finish_or_skip(pickle.loads(held.data), boilerplate)


def _finish_or_skip(draft, boilerplate: frozenset[str]) -> JobOutcome:
    try:
        return _finish(draft, boilerplate)
    except Exception as exc:  # noqa: BLE001 - a page the code cannot handle is a counted skip, not a crash
        logger.exception("Extraction failed on %s", draft.url)
        return JobOutcome(skip=("extraction_error", f"{type(exc).__name__}: {exc}"))


def _serve(conn, initializer: Callable | None, initargs: tuple) -> None:
    """A worker's loop: one job in, its result out, until told to stop (``None``)."""
    importlib.import_module(BOOT_MODULE)  # already imported in a forkserver's child; a spawned worker loads it here
    if initializer is not None:
        initializer(*initargs)
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError, KeyboardInterrupt):
            return
        if message is None:
            return
        job_id, function, args = message
        try:
            reply = (job_id, True, function(*args))
        except BaseException as exc:  # noqa: BLE001 - handed back to the caller, which decides
            reply = (job_id, False, exc)
        try:
            conn.send(reply)
        except (OSError, ValueError):
            return


# --------------------------------------------------------------------------- the pool


@contextlib.contextmanager
def _main_script_hidden():
    """multiprocessing re-runs the parent's main script in every new process started from the
    forkserver (``spawn.prepare``: ``init_main_from_path``); for ``scrapy crawl`` that would import
    Scrapy and Twisted in each worker. Workers only run this module's functions, so the script's
    path is left out of what the new process is told (it is read once, in ``Process.start``)."""
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if main is None or path is None or getattr(main, "__spec__", None) is not None:
        yield
        return
    del main.__file__
    try:
        yield
    finally:
        main.__file__ = path


@dataclass
class _Job:
    id: int
    function: Callable
    args: tuple
    future: asyncio.Future
    attempts: int = 0


@dataclass
class _Worker:
    process: Any
    conn: Any
    job: _Job | None = None
    deadline: Any = None  # the timer of its job's timeout


class RecordPool:
    """A bounded pool of worker processes driven from an asyncio event loop (see the module)."""

    def __init__(
        self,
        workers: int,
        capacity: int | None = None,
        *,
        initializer: Callable | None = None,
        initargs: tuple = (),
        profiles: tuple[str, ...] = (),
        timeout: float | None = None,
    ):
        if workers < 0:
            raise ValueError(f"the number of worker processes cannot be negative, got {workers}")
        self.workers = workers
        self.capacity = max(1, capacity if capacity is not None else 4 * max(1, workers))
        self.initializer = initializer
        self.initargs = initargs
        self.profiles = profiles
        # Seconds a job may run in a worker (None or 0: no limit; jobs run inline cannot be bounded).
        self.timeout = timeout or None
        self.stats: dict[str, int] = {"jobs": 0, "peak": 0, "retried": 0, "lost": 0, "worker_deaths": 0,
                                      "timed_out": 0}
        self._slots: asyncio.Semaphore | None = None
        self._held = 0
        self._waiting: deque[_Job] = deque()
        self._idle: list[_Worker] = []
        self._all: list[_Worker] = []
        self._next_id = 0
        self._deaths_in_a_row = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._context = None
        self._closed = False
        if workers == 0 and initializer is not None:
            initializer(*initargs)

    @property
    def inline(self) -> bool:
        return self.workers == 0

    @property
    def held(self) -> int:
        """Jobs in the pool now (waiting for a worker or running)."""
        return self._held

    async def run(self, function: Callable, *args: Any) -> Any:
        """``function(*args)`` in a worker; waits first while the pool is full."""
        if self._closed:
            raise RuntimeError("the record pool is closed")
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.capacity)
        async with self._slots:
            self._held += 1
            self.stats["jobs"] += 1
            self.stats["peak"] = max(self.stats["peak"], self._held)
            try:
                if self.inline:
                    return function(*args)
                future = self._submit(function, args)
                return await future
            finally:
                self._held -= 1

    def start(self) -> None:
        """Start the worker processes now rather than with the first job: a worker loads the record
        engine (about a second), meanwhile the crawl fetches robots.txt and its first pages. Called
        from the event loop that will run the jobs; does nothing for an inline pool."""
        if self.inline or self._closed or self._loop is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._start_workers()

    # ----------------------------------------------------------------- processes

    def _submit(self, function: Callable, args: tuple) -> asyncio.Future:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
            self._start_workers()
        self._next_id += 1
        job = _Job(self._next_id, function, args, self._loop.create_future())
        self._waiting.append(job)
        self._dispatch()
        return job.future

    def _start_workers(self) -> None:
        if self._context is None:
            if self.profiles:  # inherited by the forkserver, started by the first worker below
                os.environ[PROFILES_VARIABLE] = ",".join(self.profiles)
            if self.workers > 1:
                self._context = multiprocessing.get_context("forkserver")
                # Before the forkserver starts: it imports the record engine once for every worker.
                self._context.set_forkserver_preload([BOOT_MODULE])
            else:
                # One worker loads the record engine itself: a forkserver would only keep a second
                # copy of it (the crawl's tree PSS on the throughput mirror: 250 -> 236 MB).
                self._context = multiprocessing.get_context("spawn")
        while len(self._all) < self.workers:
            self._start_worker()

    def _start_worker(self) -> None:
        parent, child = self._context.Pipe()
        process = self._context.Process(
            target=_serve, args=(child, self.initializer, self.initargs), daemon=True, name="archive-crawler-worker"
        )
        with _main_script_hidden():
            process.start()
        child.close()  # the worker holds the other end: its death is an end of file here
        worker = _Worker(process, parent)
        self._all.append(worker)
        self._idle.append(worker)
        self._loop.add_reader(parent.fileno(), self._readable, worker)

    def _dispatch(self) -> None:
        while self._waiting and self._idle:
            worker = self._idle.pop()
            job = self._waiting.popleft()
            if job.future.done():  # cancelled meanwhile
                self._idle.append(worker)
                continue
            worker.job = job
            try:
                worker.conn.send((job.id, job.function, job.args))
            except (OSError, ValueError):
                self._died(worker)
                continue
            if self.timeout:
                worker.deadline = self._loop.call_later(self.timeout, self._overdue, worker, job)

    def _overdue(self, worker: _Worker, job: _Job) -> None:
        """The job is still running after ``timeout``: kill its worker, give the job up, start another."""
        if worker.job is not job or job.future.done():
            return
        self.stats["timed_out"] += 1
        worker.job = None
        job.future.set_exception(JobTimedOut(f"not done after {self.timeout:g} s"))
        logger.warning("A page took more than %g s in a worker: abandoned, the worker replaced", self.timeout)
        worker.process.kill()
        self._forget(worker)
        if not self._closed:
            self._start_worker()
            self._dispatch()

    def _readable(self, worker: _Worker) -> None:
        try:
            job_id, ok, value = worker.conn.recv()
        except (EOFError, OSError):
            self._died(worker)
            return
        except Exception as exc:  # noqa: BLE001 - a result that does not unpickle
            job_id, ok, value = (worker.job.id if worker.job else 0), False, exc
        job, worker.job = worker.job, None
        if worker.deadline is not None:
            worker.deadline.cancel()
            worker.deadline = None
        self._deaths_in_a_row = 0
        self._idle.append(worker)
        if job is not None and job.id == job_id and not job.future.done():
            if ok:
                job.future.set_result(value)
            else:
                job.future.set_exception(value)
        self._dispatch()

    def _died(self, worker: _Worker) -> None:
        if worker.deadline is not None:
            worker.deadline.cancel()
        self._forget(worker)
        self.stats["worker_deaths"] += 1
        self._deaths_in_a_row += 1
        code = worker.process.exitcode
        job = worker.job
        if job is not None and not job.future.done():
            job.attempts += 1
            if job.attempts > RETRIES:
                self.stats["lost"] += 1
                job.future.set_exception(WorkerDied(f"the worker died twice on it (exit code {code})"))
            else:
                self.stats["retried"] += 1
                logger.warning("A worker process died (exit code %s); its page is given to a new worker", code)
                self._waiting.appendleft(job)
        if self._closed:
            return
        if self._deaths_in_a_row > MAX_DEATHS_IN_A_ROW * max(1, self.workers):
            logger.error("The worker processes keep dying (exit code %s): giving up their pages", code)
            while self._waiting:
                waiting = self._waiting.popleft()
                if not waiting.future.done():
                    self.stats["lost"] += 1
                    waiting.future.set_exception(WorkerDied(f"the worker processes keep dying (exit code {code})"))
            self._deaths_in_a_row = 0
        self._start_worker()
        self._dispatch()

    def _forget(self, worker: _Worker) -> None:
        if self._loop is not None:
            try:
                self._loop.remove_reader(worker.conn.fileno())
            except (ValueError, OSError):
                pass
        if worker in self._all:
            self._all.remove(worker)
        if worker in self._idle:
            self._idle.remove(worker)
        try:
            worker.conn.close()
        except OSError:
            pass
        worker.process.join(timeout=1)

    def pids(self) -> list[int]:
        """The worker processes' ids (for tests and diagnostics)."""
        return [worker.process.pid for worker in self._all]

    def close(self) -> None:
        """Stop the workers (their running jobs are abandoned)."""
        if self._closed:
            return
        self._closed = True
        for worker in list(self._all):
            try:
                worker.conn.send(None)
            except (OSError, ValueError):
                pass
        for worker in list(self._all):
            worker.process.join(timeout=5)
            if worker.process.is_alive():
                worker.process.terminate()
                worker.process.join(timeout=5)
            self._forget(worker)
        for job in self._waiting:
            if not job.future.done():
                job.future.cancel()
        self._waiting.clear()
