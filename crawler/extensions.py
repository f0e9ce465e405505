"""Decide at the end of a crawl whether it failed, so `scrapy crawl` can exit non-zero.

A crawl failed when its output could not be written, when every request failed, when no page was
fetched, or when no record was written and the spider raised errors on pages it fetched. The reason goes to the log (``Crawl failed: ...``), to the stat ``archive/failed_reason``
(which ``crawler/commands/crawl.py`` turns into exit status 1) and to the crawl report
(``crawler/report.py``, which listens for ``crawl_outcome_decided``).

What counts as a failed request: a download error (no response) or an HTTP error answer other than
404/410. A robots.txt or scope refusal, a 404/410 (a page gone: the spider handles it) and a 304 are
answers the crawl expected, not failures. A resumed run (the crawl state's last crawl had not
finished) that found little left to do fails only when it reached nothing at all and something failed.

A crawl stopped by Ctrl-C or SIGTERM (Scrapy's finish reason ``shutdown``) was *interrupted*: unless
its output could not be written, it did not fail; the stat ``archive/interrupted`` is set, the report's
status is ``interrupted`` and ``scrapy crawl`` exits 130. The crawl state keeps the crawl unfinished,
so the same command (same ``CRAWL_STATE``) resumes it.

The output is checked at four points:

- when the spider opens, every local feed file's folder must be creatable and writable (and the path
  not a folder); otherwise the crawl stops at once (finish reason ``output_unwritable``) instead of
  crawling a whole site for nothing;
- Scrapy's feed exporter counts a feed it could not store (``feedexport/failed_count/*``), the WARC
  capture its write errors (``warc/write_errors``);
- a feed file that cannot be opened when its first record (or, for an empty feed, the end of the
  crawl) comes is reported by the feed storage (``crawler/feedstorage.py``) through
  ``CrawlOutcome.output_unwritable``: one line, and the crawl stops (``output_unwritable``);
- a record the feed exporter could not write (the disk is full) is only logged by Scrapy ("Error
  caught on signal handler: FeedExporter.item_scraped"); so each feed's written records
  (``feed_slot_closed``) are compared with the records the crawl produced.

The decision waits until the feed exporter has closed its files (``feed_exporter_closed``), so that
failures while closing count too.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

from scrapy import Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import CloseSpider, IgnoreRequest
from scrapy.extensions.feedexport import FeedExporter, FeedSlot
from scrapy.statscollectors import StatsCollector
from scrapy.utils.defer import deferred_from_coro, maybe_deferred_to_future
from scrapy.utils.misc import load_object
from twisted.internet.defer import Deferred

logger = logging.getLogger(__name__)

FAILED_KEY = "archive/failed_reason"
OUTPUT_UNWRITABLE = "output_unwritable"
# Scrapy's finish reason when SIGINT (Ctrl-C) or SIGTERM stopped the crawl gracefully.
SHUTDOWN = "shutdown"
INTERRUPTED_KEY = "archive/interrupted"
# `scrapy crawl`'s exit status for an interrupted crawl (the shell's 128 + SIGINT).
INTERRUPTED_EXIT = 130

DOWNLOAD_ERROR_PREFIX = "downloader/exception_type_count/"
HTTP_ERROR_PREFIX = "httperror/response_ignored_status_count/"
# Answers the spider handles (crawler/spiders/base.py counts them under the HTTP error key too).
GONE_STATUSES = ("404", "410")
# Downloads cancelled at DOWNLOAD_MAXSIZE: the site answered, the crawl declined the body.
TOO_LARGE_KEY = DOWNLOAD_ERROR_PREFIX + "scrapy.exceptions.DownloadCancelledError"

# Sent (synchronously) once the crawl's outcome is decided, after the outputs are closed:
# handlers get ``spider``, ``reason`` (the finish reason) and ``failure`` (the reason, or None).
crawl_outcome_decided = object()


def local_feed_path(uri: str) -> Path | None:
    """The file of a local feed URI (a plain path or ``file://``), else None."""
    parts = urlsplit(uri)
    if parts.scheme == "file":
        return Path(parts.path)
    if len(parts.scheme) > 1:  # stdout:, s3://, ftp://...; a one-letter scheme is a Windows drive
        return None
    return Path(uri)


def unwritable_reason(path: Path) -> str | None:
    """Why a feed file at ``path`` could not be written: its folder is created (as the feed storage
    would) and a temporary file made in it; the file itself is neither created nor truncated."""
    folder = path.parent
    if "%(" in str(folder):  # a folder named by URI parameters is only known once the feed opens
        return None
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if path.is_dir():
            return f"{path} is a folder"
        if path.exists() and not os.access(path, os.W_OK):
            return f"{path} is not writable"
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        return f"cannot write in the folder of {path}: {os_error_text(path, exc)}"
    return None


def os_error_text(path: str | os.PathLike, exc: OSError) -> str:
    """Why a file at ``path`` could not be made, in words: a file where a folder should be is named."""
    here = Path(path).parent
    while not here.exists() and here != here.parent:
        here = here.parent
    if here.exists() and not here.is_dir():
        return f"{here} is a file, not a folder"
    return f"{exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else "")


def _is_refusal(exception_name: str) -> bool:
    """An exception counted by Scrapy's downloader stats that is a decision of the crawl (an
    ``IgnoreRequest``: robots.txt, scope), not a fault of the site."""
    try:
        exception = load_object(exception_name)
    except (ImportError, AttributeError, ValueError, NameError):
        return exception_name.rsplit(".", 1)[-1] == "IgnoreRequest"
    return isinstance(exception, type) and issubclass(exception, IgnoreRequest)


def failed_requests(stats: dict) -> dict[str, int]:
    """The stats of requests that failed: download errors (no response) and HTTP error answers,
    without refusals, pages gone (404/410) and bodies over DOWNLOAD_MAXSIZE."""
    failed = {}
    for key, value in stats.items():
        if key.startswith(DOWNLOAD_ERROR_PREFIX):
            if key != TOO_LARGE_KEY and not _is_refusal(key[len(DOWNLOAD_ERROR_PREFIX):]):
                failed[key] = value
        elif key.startswith(HTTP_ERROR_PREFIX) and key[len(HTTP_ERROR_PREFIX):] not in GONE_STATUSES:
            failed[key] = value
    return failed


def handled_requests(stats: dict) -> dict[str, int]:
    """The stats of requests that gave no page to read and did not fail: refusals, pages gone,
    unchanged pages, bodies too large."""
    return {
        key: value for key, value in stats.items()
        if key in ("robotstxt/forbidden", "offsite/filtered", "archive/pages/gone", "archive/pages/unchanged",
                   TOO_LARGE_KEY)
        or key.startswith("archive/scope/refused/")
    }


class CrawlOutcome:
    """Marks the crawl failed, giving the reason (see the module's docstring), and sends
    ``crawl_outcome_decided`` once the outputs are closed."""

    def __init__(self, stats: StatsCollector):
        self.stats = stats
        self.crawler: Crawler | None = None
        self.records = 0
        self.written: Counter[str] = Counter()
        self.whole_feeds: list[str] = []
        self.feeds_closed: Deferred[None] | None = None
        self.decided = False
        # Feed files found unwritable (absolute path -> why), each said once.
        self.unwritable: dict[str, str] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CrawlOutcome:
        extension = cls(crawler.stats)
        extension.crawler = crawler
        crawler.signals.connect(extension.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(extension.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(extension.item_scraped, signal=signals.item_scraped)
        crawler.signals.connect(extension.feed_slot_closed, signal=signals.feed_slot_closed)
        crawler.signals.connect(extension.feed_exporter_closed, signal=signals.feed_exporter_closed)
        return extension

    # ------------------------------------------------------------------ signals

    def spider_opened(self, spider: Spider) -> None:
        exporter = None
        if self.crawler is not None:
            exporter = next((e for e in self.crawler.extensions.middlewares if isinstance(e, FeedExporter)), None)
        if exporter is None:
            return
        self.feeds_closed = Deferred()
        # Feeds that get every record (no item filter): their written count must equal the records'.
        self.whole_feeds = [uri for uri, options in exporter.feeds.items()
                            if "item_filter" not in options and not options.get("item_classes")]
        problems = []
        for uri in exporter.feeds:
            path = local_feed_path(uri)
            problem = unwritable_reason(path) if path is not None else None
            if problem:
                problems.append(problem)
                self.unwritable[os.path.abspath(path)] = problem
        if problems:
            logger.error("Cannot write the output, closing the spider: %s", "; ".join(problems))
            raise CloseSpider(OUTPUT_UNWRITABLE)

    def output_unwritable(self, path: str | os.PathLike, problem: str) -> None:
        """A feed file could not be opened (``crawler/feedstorage.py``): one line per file, and the
        crawl stops with finish reason ``output_unwritable``."""
        if self.unwritable:
            # Already said, and the crawl is stopping (a batch file in a folder found unwritable).
            logger.debug("Cannot write the output either: %s", problem)
            return
        self.unwritable[os.path.abspath(path)] = problem
        logger.error("Cannot write the output, closing the spider: %s", problem)
        engine = self.crawler.engine if self.crawler is not None else None
        if engine is not None and getattr(engine, "spider", None) is not None:
            deferred_from_coro(engine.close_spider_async(reason=OUTPUT_UNWRITABLE))

    def item_scraped(self, item, spider: Spider) -> None:
        self.records += 1

    def feed_slot_closed(self, slot: FeedSlot) -> None:
        # A file the storage could not open took the slot's records and wrote none.
        written = 0 if getattr(slot.storage, "unwritable", None) else slot.itemcount
        self.written[slot.uri_template] += written

    def feed_exporter_closed(self) -> None:
        if self.feeds_closed is not None and not self.feeds_closed.called:
            self.feeds_closed.callback(None)

    async def spider_closed(self, spider: Spider, reason: str) -> None:
        if self.feeds_closed is not None and not self.feeds_closed.called:
            # The feed exporter closes its files concurrently with this signal: decide after it.
            await maybe_deferred_to_future(self.feeds_closed)
        self.decide(spider, reason)

    # ------------------------------------------------------------------ the decision

    def output_problem(self) -> str | None:
        problems = list(self.unwritable.values())
        stats = self.stats.get_stats()
        failed = {k: v for k, v in stats.items() if k.startswith("feedexport/failed_count/") or k == "warc/write_errors"}
        if failed:
            problems.append(f"{failed}")
        short = [f"{uri} got {self.written[uri]} of {self.records} records"
                 for uri in self.whole_feeds if self.written[uri] < self.records]
        problems += short
        if not problems:
            return None
        logged = " (the write errors are logged above)" if short and not self.unwritable else ""
        return "the output could not be written: " + "; ".join(problems) + logged

    def failure_reason(self, resumed: bool = False) -> str | None:
        """Why the crawl failed, or None. ``resumed``: the run resumed an unfinished crawl, so it
        may have had little left to do."""
        output = self.output_problem()
        if output:
            return output
        stats = self.stats.get_stats()
        if stats.get("archive/pages/fetched", 0) > 0:
            raised = stats.get("spider_exceptions/count", 0)
            if raised and not stats.get("item_scraped_count", 0):
                errors = {k.split("/", 1)[1]: v for k, v in stats.items()
                          if k.startswith("spider_exceptions/") and k != "spider_exceptions/count"}
                return f"no record was written and the spider raised on {raised} page(s): {errors}"
            return None
        failed, handled = failed_requests(stats), handled_requests(stats)
        if resumed:
            # What was left may all have been refused or gone: only a run that reached nothing fails.
            return f"every request failed: {failed}" if failed and not handled else None
        if stats.get("archive/pages/unchanged", 0):
            return None  # a re-crawl that found its pages unchanged
        if failed:
            return f"every request failed: {failed}" + (f" (and refused or gone: {handled})" if handled else "")
        return "no page was fetched" + (f": {handled}" if handled else "")

    def decide(self, spider: Spider, reason: str) -> None:
        if self.decided:
            return
        self.decided = True
        if reason == SHUTDOWN:
            # Stopped by a signal: only an output that could not be written is a failure.
            failure = self.output_problem()
            if not failure:
                self.stats.set_value(INTERRUPTED_KEY, True)
                logger.warning("Crawl interrupted: run the same command again (same CRAWL_STATE) to resume it")
        else:
            failure = self.failure_reason(resumed=_resumed(spider))
        if failure:
            self.stats.set_value(FAILED_KEY, failure)
            logger.error("Crawl failed: %s", failure)
        if self.crawler is not None:
            self.crawler.signals.send_catch_log(
                signal=crawl_outcome_decided, spider=spider, reason=reason, failure=failure
            )


def _resumed(spider: Spider) -> bool:
    """The run resumed an unfinished crawl (the spider's crawl state says so)."""
    return bool(getattr(getattr(spider, "state", None), "resumed", False))
