"""``archive-crawler reprocess WARC ... --scheduler tcp://HOST:PORT``: re-extraction on a
dask.distributed cluster, giving the records of a local run.

The costly work (decoding, parsing, trafilatura, dates, language, schema validation) runs in the
cluster's tasks; what depends on the order of the pages stays in this process (the driver) and is
done in capture order, by the chain's own classes (``crawler/chain.py``)::

    driver                                        dask tasks (pure functions of their arguments)
    warc_ranges: each WARC cut into byte ranges   read_slice(path, start, end, warcinfo, observe):
      of at most slice_size responses     ---->     every page read once; the drafts stay on the worker
    plan: each site's boilerplate learned  <----  slice_summary(read): URLs, line keys, counts
      by a PageReader fed those line keys in
      capture order; it says which learned keys
      each page is finished with          ---->   finish_pages(read, [(page, keys), ...]): the records
    admit: RecordRun replayed with the     <----
      tasks' outcomes: revision (--state),
      de-duplication, numbered output parts

* Boilerplate: ``plan`` runs ``PageReader`` (one per site, as ``RecordRun`` makes them) over a pool
  that answers from the slice summaries at once: the model observes every page's line keys in
  capture order, holds the drafts of its warm-up and releases them, and the keys it would hand a
  worker for each page are recorded as that page's plan. ``admit`` runs ``RecordRun`` itself over a
  pool that answers with the finished outcomes: its models see the same keys in the same order, so
  they ask for exactly the planned keys (checked, page by page), and revision, de-duplication and
  the counts are the chain's. The records are those of a local run in one process
  (``--workers 0``); a local run on its process pool gives the same records unless the learned
  boilerplate changes while pages are in flight (which keys a page is finished with then depends
  on how fast its neighbours came back), which the test archives never show.
* Worker deaths: a task is a pure function of (WARC path and byte range, warcinfo, learning on or
  off) or of (a read slice, the pages' boilerplate keys); dask runs again a task whose worker died,
  and recomputes a read slice lost with its worker when a finish task still needs it. The driver
  takes one result per task and de-duplicates by canonical URL and text as the chain does, so a
  re-run task can neither lose nor repeat a record. A task that kills its workers again and again
  (dask's ``distributed.scheduler.allowed-failures``, 3) is given up: its pages are counted as
  ``skipped/worker_died``, as the local pool does, or, for a slice not read at all, the file is
  reported as not read to the end (exit status 1).
* Flow: slices are read at most ``window`` (twice the workers' threads, plus two) ahead of the
  admission; a slice's drafts are released once all its pages are admitted.
* Output: always numbered parts (``part_template``), written by the driver alone.
* Workers need archive-crawler installed (same version) and the WARC files at the same absolute
  paths (a shared file system; the same machine).
"""

from __future__ import annotations

import asyncio
import copy
import logging
import os
import re
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed

from crawler.chain import PageReader, RecordRun, is_html
from crawler.output import BATCH_PLACEHOLDERS
from crawler.warc import _warcinfo_fields, read_responses
from crawler.workers import JobOutcome, PageJob, WorkerDied, finish_job, read_job
from pipelines.boilerplate import BoilerplateModel
from pipelines.profiles import SiteProfile, load_profile
from pipelines.urls import site_key

__all__ = [
    "DEFAULT_SLICE",
    "DEFAULT_TIMEOUT",
    "PART_RECORDS",
    "ClusterError",
    "PageSummary",
    "SliceRead",
    "SliceSummary",
    "finish_pages",
    "part_template",
    "read_slice",
    "remove_parts",
    "run_on_cluster",
    "slice_summary",
    "warc_ranges",
]

logger = logging.getLogger(__name__)

# Seconds to wait for the scheduler to answer, for a first worker, and without any worker mid-run.
DEFAULT_TIMEOUT = 30.0
# Response records per task.
DEFAULT_SLICE = 100
# Records per output part unless --batch-size says otherwise.
PART_RECORDS = 10_000
# How often the driver checks that the cluster still has a scheduler and a worker (seconds).
WATCH_INTERVAL = 1.0
KEY_PREFIX = "archive-crawler"
# dask task priorities (higher first): summaries are tiny and unblock the plan; finishing a slice
# before reading further ones keeps the records flowing and the workers' memory low.
SUMMARY_PRIORITY, FINISH_PRIORITY, READ_PRIORITY = 20, 10, 0


class ClusterError(OSError):
    """The cluster cannot run the job: one line for the user; ``status`` is the exit status (2 when
    nothing was written, 1 when the run stopped part-way)."""

    def __init__(self, message: str, status: int = 2):
        super().__init__(message)
        self.status = status

    def __str__(self) -> str:
        return self.args[0]


# --------------------------------------------------------------------------- reading byte ranges


def warc_ranges(path: str | os.PathLike, size: int) -> Iterator[tuple[int, int | None, dict[str, str]]]:
    """``(start, end, warcinfo)``: the file cut at response records into ranges of at most ``size``
    responses, the last one up to the end of the file (``end`` None), each with the warcinfo fields
    in force where it starts. Damage ends the cutting quietly: the last range reaches it, and its
    task reports it as a local run would."""
    if size < 1:
        raise ValueError(f"a slice holds at least one response, got {size}")
    start, start_info, info, responses = 0, {}, {}, 0
    try:
        with open(path, "rb") as raw:
            iterator = ArchiveIterator(raw)
            for record in iterator:
                if record.rec_type == "response":
                    if responses == size:
                        offset = iterator.get_record_offset()
                        yield start, offset, start_info
                        start, start_info, responses = offset, info, 0
                    responses += 1
                elif record.rec_type == "warcinfo":
                    info = _warcinfo_fields(record.raw_stream.read())
    except Exception as exc:  # noqa: BLE001 - damage: read (and reported) by the last range's task
        logger.debug("Cutting %s stopped at damage: %s", path, exc)
    yield start, None, start_info


# --------------------------------------------------------------------------- the tasks


@dataclass(frozen=True)
class PageSummary:
    """A page of a slice as the driver needs it: what the chain would have sent a worker (less the
    body), and what reading it gave (line keys, or the reason there is no draft)."""

    url: str
    content_type: str | None
    profile: str
    fetched_at: datetime | None
    crawl_id: int | None
    # False: not HTML (the chain does not read it).
    read: bool = False
    # The page's line keys for learning, each once, None left out (``(None,)``: lines, none keyed).
    line_keys: tuple[str | None, ...] = ()
    # Why reading gave no draft.
    skip: tuple[str, str] | None = None

    @property
    def has_draft(self) -> bool:
        return self.read and self.skip is None


@dataclass
class SliceSummary:
    pages: list[PageSummary]
    counts: Counter
    # Why the range could not be read to its end (the file's name is added by the driver).
    error: str | None = None


@dataclass
class SliceRead:
    """A read slice, kept on the worker: its summary and each page's draft (or None)."""

    summary: SliceSummary
    drafts: list


def _compact(keys: tuple[str | None, ...]) -> tuple[str | None, ...]:
    """The keys ``BoilerplateModel.observe`` counts (each once, no None), as short to send; a page
    with lines keeps a non-empty tuple (the chain tells "no lines" from "no keyed lines")."""
    unique = tuple(dict.fromkeys(key for key in keys if key is not None))
    return unique or ((None,) if keys else ())


def read_slice(path: str, start: int, end: int | None, info: dict[str, str], observe: bool) -> SliceRead:
    """Every page of the byte range read as the chain reads it before its boilerplate is known
    (``read_job(job, None, observe)``); counts as ``reprocess`` counts responses."""
    from crawler.reprocess import capture_crawl_id, page_body, page_job

    counts: Counter = Counter()
    pages: list[PageSummary] = []
    drafts: list = []
    error = None
    try:
        for response in read_responses(path, start, end, info):
            body = page_body(response, counts)
            if body is None:
                continue
            job, profile = page_job(response, body)
            known = dict(url=job.url, content_type=job.content_type, profile=profile.name,
                         fetched_at=job.fetched_at, crawl_id=capture_crawl_id(response))
            if not is_html(job.content_type):
                pages.append(PageSummary(**known))
                drafts.append(None)
                continue
            outcome = read_job(job, None, observe)
            pages.append(PageSummary(**known, read=True, line_keys=_compact(outcome.line_keys),
                                     skip=(outcome.skip or ("extraction_error", "no outcome")) if outcome.draft is None else None))
            drafts.append(outcome.draft)
    except (ArchiveLoadFailed, OSError) as exc:
        error = str(exc).strip()
    return SliceRead(SliceSummary(pages, counts, error), drafts)


def slice_summary(read: SliceRead) -> SliceSummary:
    return read.summary


def finish_pages(read: SliceRead, plan: tuple[tuple[int, frozenset[str]], ...]) -> list[tuple[int, JobOutcome]]:
    """The outcomes of the slice's pages ``plan`` names, each finished with its boilerplate keys."""
    return [(position, finish_job(read.drafts[position], keys)) for position, keys in plan]


# --------------------------------------------------------------------------- output parts

_PLACEHOLDER = re.compile(r"%\(batch_id\)\d*d|%\(batch_time\)s")


def part_template(output: str | os.PathLike) -> str:
    """The numbered parts a cluster run writes: ``OUT`` itself when it holds ``%(batch_id)d`` (or
    ``%(batch_time)s``), else ``-%(batch_id)05d`` before its suffix: ``records.jsonl`` ->
    ``records-00001.jsonl``, ``records.jsonl.gz`` -> ``records-00001.jsonl.gz``, ``records`` ->
    ``records-00001``."""
    text = str(output)
    if any(placeholder in text for placeholder in BATCH_PLACEHOLDERS):
        return text
    path = Path(text.replace("%", "%%"))
    name = path.name
    gz = name[-3:] if name.lower().endswith(".gz") and len(name) > 3 else ""
    stem = name[: len(name) - len(gz)]
    base, dot, suffix = stem.rpartition(".")
    if not dot or not base:
        base, suffix = stem, ""
    return str(path.with_name(f"{base}-%(batch_id)05d{'.' + suffix if suffix else ''}{gz}"))


def remove_parts(template: str) -> list[Path]:
    """Delete the files an earlier run with this part template wrote (the output is replaced, as a
    single ``OUT`` file is), so that no stale part is read with the new ones."""
    path = Path(template)
    if _PLACEHOLDER.search(str(path.parent)) or not _PLACEHOLDER.search(path.name):
        return []
    pieces, last = [], 0
    for found in _PLACEHOLDER.finditer(path.name):
        pieces.append(re.escape(path.name[last:found.start()].replace("%%", "%")))
        pieces.append(r"\d+" if "batch_id" in found.group() else r".+")
        last = found.end()
    pieces.append(re.escape(path.name[last:].replace("%%", "%")))
    pattern = re.compile("".join(pieces))
    folder = Path(str(path.parent).replace("%%", "%"))
    removed = []
    if folder.is_dir():
        for candidate in folder.iterdir():
            if pattern.fullmatch(candidate.name) and candidate.is_file():
                candidate.unlink()
                removed.append(candidate)
    return removed


# --------------------------------------------------------------------------- the driver


@dataclass(eq=False)
class _Slice:
    number: int
    path: str  # as the caller named it (messages); tasks get the absolute path
    start: int = 0
    end: int | None = None
    problem: str | None = None  # not a WARC file: nothing read
    read: Any = None  # dask future of read_slice
    summary: Any = None  # dask future of slice_summary
    pages: list[_Page] = field(default_factory=list)
    planned: asyncio.Event = field(default_factory=asyncio.Event)
    waiting: int = 0  # its pages with a draft whose outcome the admission has not taken yet


@dataclass(eq=False)
class _Page:
    slice: _Slice
    position: int
    summary: PageSummary
    job: PageJob  # without the body: the driver reads no page
    profile: SiteProfile
    keys: frozenset[str] | None = None  # what the plan finishes it with
    outcome: asyncio.Future | None = None


class _Held:
    """A draft left on a worker, where ``PageReader`` holds a draft during its warm-up (it reads
    only ``url``)."""

    __slots__ = ("page",)

    def __init__(self, page: _Page):
        self.page = page

    @property
    def url(self) -> str:
        return self.page.summary.url


_PLANNED: dict = {}  # the record of a planned page, for the plan's PageReader (never admitted)


class _PlanPool:
    """What ``PageReader`` takes for a worker pool while planning: answers at once from the slice
    summaries, and records the keys each page is to be finished with."""

    capacity = 1

    def __init__(self, driver: _Driver):
        self.driver = driver
        self.current: _Page | None = None

    async def run(self, function: Callable, *args: Any) -> JobOutcome:
        if function is finish_job:  # a held draft, at the end of the warm-up or of the run
            held, keys = args
            self.driver.assign(held.page, keys)
            return JobOutcome(record=_PLANNED)
        _job, keys, observe = args
        page = self.current
        summary = page.summary
        if not summary.has_draft:
            return JobOutcome(skip=summary.skip)
        if keys is None:
            return JobOutcome(line_keys=summary.line_keys, draft=_Held(page))
        self.driver.assign(page, keys)
        if observe and not summary.line_keys:
            # A page without lines is learnt from only if it gives a record (PageReader): wait for it.
            self.driver.submit()
            outcome = await self.driver.peek(page)
            return JobOutcome(record=outcome.record, skip=outcome.skip)
        return JobOutcome(line_keys=summary.line_keys, record=_PLANNED)


class _ReplayPool:
    """What ``RecordRun`` takes for a worker pool while admitting: answers with the tasks' outcomes."""

    capacity = 1

    def __init__(self, driver: _Driver):
        self.driver = driver
        self.current: _Page | None = None

    async def run(self, function: Callable, *args: Any) -> JobOutcome:
        if function is finish_job:
            held, keys = args
            return await self.driver.take(held.page, keys)
        _job, keys, _observe = args
        page = self.current
        summary = page.summary
        if not summary.has_draft:
            return JobOutcome(skip=summary.skip)
        if keys is None:
            return JobOutcome(line_keys=summary.line_keys, draft=_Held(page))
        outcome = await self.driver.take(page, keys)
        return JobOutcome(line_keys=summary.line_keys, record=outcome.record, skip=outcome.skip)


class _Driver:
    def __init__(self, client, result, write: Callable[[dict], None], *, scheduler: str, timeout: float,
                 slice_size: int, window: int, learning: bool, model: BoilerplateModel | None):
        self.client = client
        self.result = result
        self.write = write
        self.scheduler = scheduler
        self.timeout = timeout
        self.slice_size = slice_size
        self.window = window
        self.learning = learning
        self.model = model
        self.run_id = uuid.uuid4().hex[:12]
        self.slices: list[_Slice] = []
        self.indexed = False  # every slice is in self.slices
        self.admitted = 0  # slices whose pages have all been through the admission
        self.changed = asyncio.Condition()
        self.pending: dict[_Slice, list[_Page]] = {}  # planned, not yet sent to a finish task
        self.collecting: set[asyncio.Task] = set()
        self.finish_tasks = 0
        self.stats = Counter()

    # ------------------------------------------------------------- slices, in order

    async def _add(self, item: _Slice) -> None:
        async with self.changed:
            self.slices.append(item)
            self.changed.notify_all()

    async def _slice(self, number: int) -> _Slice | None:
        async with self.changed:
            await self.changed.wait_for(lambda: len(self.slices) > number or self.indexed)
            return self.slices[number] if number < len(self.slices) else None

    def _key(self, kind: str, *parts: int) -> str:
        return "-".join([KEY_PREFIX, kind, self.run_id, *map(str, parts)])

    async def feed(self, paths: Iterable[str | os.PathLike]) -> None:
        """Cut the files into slices and start reading them, at most ``window`` ahead of the admission."""
        from crawler.reprocess import warc_problem

        number = 0
        for path in paths:
            problem = warc_problem(path)
            if problem is not None:
                await self._add(_Slice(number, str(path), problem=problem))
                number += 1
                continue
            where = os.path.abspath(path)
            ranges = warc_ranges(path, self.slice_size)
            while (found := await asyncio.to_thread(next, ranges, None)) is not None:
                start, end, info = found
                async with self.changed:
                    await self.changed.wait_for(lambda: number < self.admitted + self.window)
                item = _Slice(number, str(path), start, end)
                item.read = self.client.submit(read_slice, where, start, end, info, self.learning,
                                               key=self._key("read", number), priority=READ_PRIORITY)
                item.summary = self.client.submit(slice_summary, item.read, key=self._key("summary", number),
                                                  priority=SUMMARY_PRIORITY)
                self.stats["slices"] += 1
                await self._add(item)
                number += 1
        async with self.changed:
            self.indexed = True
            self.changed.notify_all()

    # ------------------------------------------------------------- the plan

    def _readers(self, readers: dict[str, PageReader], page: _Page, pool, model: BoilerplateModel | None) -> PageReader:
        """As ``RecordRun._reader``: one reader per site, with the given model or a new one."""
        site = site_key(page.job.url, page.profile)
        if site not in readers:
            reader_model = None
            if self.learning:
                reader_model = model if model is not None else BoilerplateModel(site=site)
            readers[site] = PageReader(pool, reader_model, learning=True)
        return readers[site]

    async def _summary(self, item: _Slice) -> SliceSummary:
        try:
            return await item.summary
        except Exception as exc:  # noqa: BLE001 - KilledWorker (its workers kept dying), a lost cluster
            return SliceSummary([], Counter(), f"bytes {item.start} to {item.end if item.end is not None else 'the end'} "
                                f"were not read: the dask task failed ({type(exc).__name__}: {exc})")
        finally:
            item.summary.release()
            item.summary = None

    async def plan(self) -> None:
        """The chain's boilerplate learning over the pages in capture order: each page's keys."""
        from crawler.reprocess import read_problem

        pool = _PlanPool(self)
        readers: dict[str, PageReader] = {}
        model = copy.deepcopy(self.model)  # the admission's RecordRun learns from the caller's own
        number = 0
        while (item := await self._slice(number)) is not None:
            number += 1
            if item.problem is not None:
                self.result.errors.append(item.problem)
                logger.error("%s", item.problem)
                item.planned.set()
                continue
            summary = await self._summary(item)
            self.result.counts.update(summary.counts)
            for position, page_summary in enumerate(summary.pages):
                job = PageJob(b"", page_summary.url, page_summary.content_type, page_summary.profile,
                              page_summary.fetched_at, follow=False)
                page = _Page(item, position, page_summary, job, load_profile(page_summary.profile))
                item.pages.append(page)
                item.waiting += page_summary.has_draft
            for page in item.pages:
                pool.current = page
                await self._readers(readers, page, pool, model).read(page.job)
            if summary.error is not None:
                message = read_problem(item.path, summary.error)
                self.result.errors.append(message)
                logger.error("Cannot read %s", message)
            self.submit()
            item.planned.set()
            self._release_if_done(item)
        for reader in readers.values():
            await reader.flush()
        self.submit()

    def assign(self, page: _Page, keys: frozenset[str]) -> None:
        page.keys = keys
        page.outcome = asyncio.get_running_loop().create_future()
        self.pending.setdefault(page.slice, []).append(page)

    def submit(self) -> None:
        """Send every planned page to a finish task, one per slice, on the worker that read it."""
        for item, pages in self.pending.items():
            self.finish_tasks += 1
            future = self.client.submit(finish_pages, item.read, tuple((page.position, page.keys) for page in pages),
                                        key=self._key("finish", item.number, self.finish_tasks),
                                        priority=FINISH_PRIORITY)
            task = asyncio.ensure_future(self._collect(future, pages))
            self.collecting.add(task)
            task.add_done_callback(self.collecting.discard)
        self.pending = {}

    async def _collect(self, future, pages: list[_Page]) -> None:
        try:
            outcomes = dict(await future)
        except Exception as exc:  # noqa: BLE001 - its workers kept dying: the chain's worker_died
            error = WorkerDied(f"the dask task failed ({type(exc).__name__}: {exc})")
            for page in pages:
                if not page.outcome.done():
                    page.outcome.set_exception(error)
            return
        finally:
            future.release()
        for page in pages:
            if not page.outcome.done():
                page.outcome.set_result(outcomes[page.position])

    async def peek(self, page: _Page) -> JobOutcome:
        return await page.outcome

    # ------------------------------------------------------------- the admission

    async def take(self, page: _Page, keys: frozenset[str]) -> JobOutcome:
        """A page's outcome, once: the admission asks for the keys the plan chose."""
        if page.outcome is None or keys != page.keys:
            raise RuntimeError(f"the cluster run's plan and its admission differ on {page.summary.url}")
        try:
            return await page.outcome
        finally:
            page.outcome = None
            page.slice.waiting -= 1
            self._release_if_done(page.slice)

    def _release_if_done(self, item: _Slice) -> None:
        if item.read is not None and item.waiting == 0 and item.planned.is_set():
            item.read.release()
            item.read = None

    async def admit(self, history) -> None:
        """``RecordRun`` over the pages in capture order, with the tasks' outcomes: revision,
        de-duplication, counts; each record written, then marked written."""
        pool = _ReplayPool(self)
        run = RecordRun(pool, self.result.counts, history=history, learning=self.learning, model=self.model)
        try:
            number = 0
            while (item := await self._slice(number)) is not None:
                number += 1
                await item.planned.wait()
                for page in item.pages:
                    pool.current = page
                    self._admitted(await run.page(page.job, page.profile, page.summary.crawl_id), run)
                async with self.changed:
                    self.admitted = number
                    self.changed.notify_all()
            self._admitted(await run.flush(), run)
        finally:
            run.close()  # closes ``history`` too

    def _admitted(self, outcomes, run: RecordRun) -> None:
        for built in outcomes:
            if built.record is not None:
                self.write(built.record)
                run.written(built.record)

    # ------------------------------------------------------------- the cluster

    async def watch(self) -> None:
        """Stop the run when the cluster has had no scheduler or no worker for ``timeout`` seconds."""
        since = None
        while True:
            await asyncio.sleep(WATCH_INTERVAL)
            try:
                alive = bool(await asyncio.wait_for(self.client.nthreads(), self.timeout))
            except Exception:  # noqa: BLE001 - no answer from the scheduler
                alive = False
            now = time.monotonic()
            if alive:
                since = None
            elif since is None:
                since = now
            elif now - since >= self.timeout:
                raise ClusterError(f"the dask cluster at {self.scheduler} has had no scheduler or no worker for "
                                   f"{self.timeout:g} s: stopped, the output is incomplete", status=1)


async def _connect(scheduler: str, timeout: float):
    try:
        from distributed import Client
    except ImportError:
        raise ClusterError("--scheduler needs dask.distributed: pip install 'archive-crawler[dask]'") from None
    try:
        client = Client(scheduler, asynchronous=True, timeout=timeout, set_as_default=False)
    except (ValueError, TypeError) as exc:
        raise ClusterError(f"not a dask scheduler address: {scheduler!r} ({exc})") from None
    try:
        await asyncio.wait_for(client, timeout)
    except (ValueError, TypeError) as exc:
        await _close(client)
        raise ClusterError(f"not a dask scheduler address: {scheduler!r} ({exc})") from None
    except (OSError, asyncio.TimeoutError):
        await _close(client)
        raise ClusterError(f"no dask scheduler answered at {scheduler} within {timeout:g} s") from None
    return client


async def _close(client) -> None:
    try:
        await asyncio.wait_for(client.close(), 5)
    except Exception:  # noqa: BLE001 - going away anyway
        pass


async def _workers(client, scheduler: str, timeout: float) -> int:
    """The threads of the cluster's workers, once it has one."""
    try:
        await asyncio.wait_for(client.wait_for_workers(1), timeout)
        threads = await asyncio.wait_for(client.nthreads(), timeout)
    except (OSError, asyncio.TimeoutError):
        raise ClusterError(f"the dask scheduler at {scheduler} has no worker: none joined within {timeout:g} s") from None
    return sum(threads.values()) or 1


def _first_failure(group: BaseExceptionGroup) -> BaseException:
    failures = [exc for exc in group.exceptions if not isinstance(exc, asyncio.CancelledError)]
    for exc in failures:
        if isinstance(exc, ClusterError):
            return exc
    found = failures[0] if failures else group
    return _first_failure(found) if isinstance(found, BaseExceptionGroup) else found


def run_on_cluster(
    paths: Iterable[str | os.PathLike],
    result,
    write: Callable[[dict], None],
    *,
    scheduler: str,
    timeout: float | None = None,
    slice_size: int | None = None,
    learning: bool = True,
    model: BoilerplateModel | None = None,
    state: str | os.PathLike | None = None,
    start: Callable[[], None] | None = None,
) -> None:
    """Every record of these captures, made on the dask cluster at ``scheduler``, to ``write``
    (in this process, in capture order as far as the chain's warm-up allows). ``start`` is called
    once the scheduler has answered and has a worker, before the first record. Raises
    ``ClusterError`` when the cluster is not there or goes away."""
    from crawler.reprocess import state_file
    from crawler.state import CrawlState

    timeout = DEFAULT_TIMEOUT if timeout is None else timeout
    slice_size = DEFAULT_SLICE if slice_size is None else slice_size
    if timeout <= 0:
        raise ValueError(f"the scheduler timeout must be positive, got {timeout:g}")
    if slice_size < 1:
        raise ValueError(f"a slice holds at least one response, got {slice_size}")
    paths = list(paths)

    async def main() -> None:
        client = await _connect(scheduler, timeout)
        try:
            threads = await _workers(client, scheduler, timeout)
            history = CrawlState(state_file(state), read_only=True) if state is not None else None
            if start is not None:
                start()
            driver = _Driver(client, result, write, scheduler=scheduler, timeout=timeout, slice_size=slice_size,
                             window=2 * threads + 2, learning=learning, model=model)
            try:
                async with asyncio.TaskGroup() as group:
                    group.create_task(driver.feed(paths))
                    group.create_task(driver.plan())
                    watchdog = group.create_task(driver.watch())
                    await driver.admit(history)
                    watchdog.cancel()
            except BaseExceptionGroup as group:
                raise _first_failure(group) from None
            logger.debug("dask run %s: %d slices, %d finish tasks, %d worker threads at the start",
                         driver.run_id, driver.stats["slices"], driver.finish_tasks, threads)
        finally:
            await _close(client)

    asyncio.run(main())
