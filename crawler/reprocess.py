"""Records re-made from WARC captures (``archive-crawler reprocess``), and from saved pages
(``archive-crawler extract``), through the crawl's own chain, without the network and without Scrapy.

Only responses the spider would have been handed (2xx; not robots.txt, which Scrapy reads for
itself) are read; each goes through ``crawler/chain.py`` as in the crawl: read and finish in the
worker pool (one worker per core) with the site profile named in the file's ``warcinfo`` record
(else the one the URL's host picks), boilerplate learned in the same way, then revision and
de-duplication. ``fetched_at`` is the capture's ``WARC-Date``. So the records equal the crawl's
apart from ``fetched_at`` (their order may differ).

Files that are not WARC files (empty, JSON Lines, anything not opening with a ``WARC/`` record
header, plain or gzip) are refused before anything is read (``warc_problem``), in one line each.

Revisions: without a crawl state every page's first record is revision 1, as on a first crawl.
Given the crawl's state (``--state``), a record's revision is decided against what that state knew
before the crawl that made the capture (``crawl-id`` in the ``warcinfo``, else its last crawl):
the crawl's own revisions, on re-crawls too. The state is only read.

On a dask.distributed cluster (``scheduler``, ``--scheduler tcp://HOST:PORT``) the same chain runs
with its reading and finishing in the cluster's tasks and everything order-dependent here: see
``crawler/cluster.py``.
"""

from __future__ import annotations

import asyncio
import gzip
import logging
import os
import zlib
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from warcio.exceptions import ArchiveLoadFailed

from crawler.chain import RecordRun, reaches_spider
from crawler.output import RecordWriter
from crawler.state import STATE_FILE, CrawlState
from crawler.warc import GZIP_MAGIC, CapturedResponse, read_responses
from crawler.workers import PageJob, RecordPool
from pipelines.boilerplate import BoilerplateModel
from pipelines.profiles import SiteProfile, load_profile, profile_for_url

__all__ = [
    "ReprocessResult",
    "capture_crawl_id",
    "cpu_count",
    "page_body",
    "page_job",
    "read_problem",
    "records_from_warcs",
    "reprocess",
    "state_file",
    "warc_problem",
]

logger = logging.getLogger(__name__)


def cpu_count() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def state_file(path: str | os.PathLike) -> Path:
    """A crawl state given as its folder (``CRAWL_STATE``) or as its database file."""
    path = Path(path)
    return path / STATE_FILE if path.is_dir() else path


# How every WARC record, hence every WARC file, begins (ISO 28500: "WARC/1.0", "WARC/1.1").
WARC_MAGIC = b"WARC/"


def warc_problem(path: str | os.PathLike) -> str | None:
    """Why ``path`` is not a WARC file (``not a WARC file: PATH (...)``), else None. Only its first
    bytes are read (decompressed when it is gzip): a WARC file opens with a ``WARC/`` record header."""
    try:
        with open(path, "rb") as raw:
            head = raw.read(len(GZIP_MAGIC))
            raw.seek(0)
            if head == GZIP_MAGIC:
                try:
                    with gzip.GzipFile(fileobj=raw) as unzipped:
                        head = unzipped.read(64)
                except (OSError, EOFError, zlib.error) as exc:
                    return f"not a WARC file: {path} (damaged gzip: {exc})"
            else:
                head = raw.read(64)
    except IsADirectoryError:
        return f"not a WARC file: {path} (a folder)"
    except OSError as exc:
        return f"cannot read {path}: {exc.strerror or exc}"
    if not head:
        return f"not a WARC file: {path} (it is empty)"
    if not head.lstrip(b"\r\n").startswith(WARC_MAGIC):
        if head.lstrip()[:1] in (b"{", b"["):
            return f"not a WARC file: {path} (it holds JSON: reprocess reads the WARC files a crawl writes with -s WARC_DIR=DIR)"
        return f"not a WARC file: {path} (it does not begin with a WARC record)"
    return None


@dataclass
class ReprocessResult:
    """What a run did: ``counts`` uses the crawl's stat names (``pages/fetched``, ``records``,
    ``skipped/<reason>``); ``errors`` lists files that could not be read to the end."""

    counts: Counter = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)


def _profile(response: CapturedResponse) -> SiteProfile:
    if response.profile:
        try:
            return load_profile(response.profile)
        except ValueError:
            logger.warning("Unknown site profile %r in %s's warcinfo; using the URL's", response.profile, response.url)
    return profile_for_url(response.url)


def capture_crawl_id(response: CapturedResponse) -> int | None:
    try:
        return int(response.warcinfo.get("crawl-id") or 0) or None
    except ValueError:
        return None


def page_body(response: CapturedResponse, counts: Counter) -> bytes | None:
    """The decoded body of a captured response the spider would have been handed, else None (counted
    as the crawl counts it: ``responses``, ``pages/fetched``, ``skipped/<reason>``)."""
    counts["responses"] += 1
    if not reaches_spider(response.status):
        counts[f"skipped/http_{response.status}"] += 1
        return None
    if urlsplit(response.url).path == "/robots.txt":
        counts["skipped/robots_txt"] += 1
        return None
    counts["pages/fetched"] += 1
    try:
        return response.decoded_body()
    except Exception as exc:  # the crawl's HttpCompressionMiddleware fails on it too
        counts["skipped/undecodable"] += 1
        logger.debug("Cannot undo the content coding of %s: %s", response.url, exc)
        return None


def page_job(response: CapturedResponse, body: bytes) -> tuple[PageJob, SiteProfile]:
    """The job the crawl would have sent to a worker for this response, and its site profile."""
    profile = _profile(response)
    return PageJob(body, response.url, response.header("Content-Type"), profile.name, response.date, follow=False), profile


def read_problem(path: str | os.PathLike, exc: BaseException) -> str:
    """What ``result.errors`` says of a file that could not be read to the end."""
    return f"{path}: {str(exc).strip()}"


def _pages(paths: Iterable[str | os.PathLike], result: ReprocessResult) -> Iterator[tuple[CapturedResponse, bytes]]:
    """The captured responses the spider would have been handed, with their decoded bodies."""
    for path in paths:
        problem = warc_problem(path)
        if problem is not None:
            result.errors.append(problem)
            logger.error("%s", problem)
            continue
        try:
            for response in read_responses(path):
                body = page_body(response, result.counts)
                if body is not None:
                    yield response, body
        except (ArchiveLoadFailed, OSError) as exc:
            message = read_problem(path, exc)
            result.errors.append(message)
            logger.error("Cannot read %s", message)


async def _records(
    paths: Iterable[str | os.PathLike], result: ReprocessResult, run: RecordRun
) -> AsyncIterator[dict]:
    """The run's records as they come out of the chain (any order)."""
    done: asyncio.Queue = asyncio.Queue()
    tasks: set[asyncio.Task] = set()
    # Pages read from the WARC ahead of the pool: enough to keep every worker busy, no more.
    ahead = 2 * run.pool.capacity

    async def one(response: CapturedResponse, body: bytes) -> None:
        job, profile = page_job(response, body)
        for built in await run.page(job, profile, capture_crawl_id(response)):
            if built.record is not None:
                await done.put(built.record)

    def drain() -> Iterator[dict]:
        while not done.empty():
            yield done.get_nowait()

    for response, body in _pages(paths, result):
        task = asyncio.ensure_future(one(response, body))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        for record in drain():
            yield record
        if len(tasks) >= ahead:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    while tasks:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for record in drain():
            yield record
    for record in drain():
        yield record
    for built in await run.flush():
        if built.record is not None:
            yield built.record


def _run(
    paths: Iterable[str | os.PathLike],
    result: ReprocessResult,
    write: Callable[[dict], None],
    *,
    learning: bool,
    model: BoilerplateModel | None,
    state: str | os.PathLike | None,
    workers: int,
) -> None:
    """Every record of these captures through the chain to ``write``, then marked written."""

    async def main() -> None:
        pool = RecordPool(workers)
        history = CrawlState(state_file(state), read_only=True) if state is not None else None
        run = RecordRun(pool, result.counts, history=history, learning=learning, model=model)
        try:
            async for record in _records(paths, result, run):
                write(record)
                run.written(record)
        finally:
            run.close()
            pool.close()

    asyncio.run(main())


def records_from_warcs(
    paths: Iterable[str | os.PathLike],
    result: ReprocessResult | None = None,
    *,
    learning: bool = True,
    model: BoilerplateModel | None = None,
    state: str | os.PathLike | None = None,
    workers: int = 0,
    scheduler: str | None = None,
    scheduler_timeout: float | None = None,
    slice_size: int | None = None,
) -> list[dict]:
    """The records the crawl would have written from these captures (in this process by default;
    on the dask.distributed scheduler at ``scheduler``, see ``crawler/cluster.py``)."""
    records: list[dict] = []
    result = result if result is not None else ReprocessResult()
    if scheduler is not None:
        from crawler.cluster import run_on_cluster

        run_on_cluster(paths, result, records.append, scheduler=scheduler, timeout=scheduler_timeout,
                       slice_size=slice_size, learning=learning, model=model, state=state)
        return records
    _run(paths, result, records.append, learning=learning, model=model, state=state, workers=workers)
    return records


def reprocess(
    paths: Iterable[str | os.PathLike],
    output: str | os.PathLike,
    *,
    batch_size: int = 0,
    fsync: bool = False,
    learning: bool = True,
    model: BoilerplateModel | None = None,
    state: str | os.PathLike | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    scheduler_timeout: float | None = None,
    slice_size: int | None = None,
) -> ReprocessResult:
    """Write the records of these WARC files to ``output`` (JSON Lines; ``.gz`` for gzip; with
    ``batch_size``, numbered files: ``%(batch_id)d`` in ``output``), on ``workers`` processes
    (default: one per core), or on the dask.distributed ``scheduler`` (``tcp://HOST:PORT``): then
    always in numbered parts (``crawler.cluster.part_template``), written once the scheduler has
    answered and a worker has joined."""
    result = ReprocessResult()
    if scheduler is not None:
        from crawler.cluster import PART_RECORDS, part_template, remove_parts, run_on_cluster

        template = part_template(output)
        writer: RecordWriter | None = None

        def start() -> None:  # the cluster is there: only now are earlier parts replaced
            nonlocal writer
            remove_parts(template)
            writer = RecordWriter(template, batch_size=batch_size or PART_RECORDS, fsync=fsync)

        try:
            run_on_cluster(paths, result, lambda record: writer.write(record), start=start, scheduler=scheduler,
                           timeout=scheduler_timeout, slice_size=slice_size, learning=learning, model=model,
                           state=state)
        finally:
            if writer is not None:
                writer.close()
                result.outputs = [str(p) for p in writer.paths]
        return result
    with RecordWriter(output, batch_size=batch_size, fsync=fsync) as writer:
        _run(paths, result, writer.write, learning=learning, model=model, state=state,
             workers=cpu_count() if workers is None else workers)
    result.outputs = [str(p) for p in writer.paths]
    return result
