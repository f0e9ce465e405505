"""Decide at the end of a crawl whether it failed, so `scrapy crawl` can exit non-zero.

A crawl failed when its output could not be written, when every request failed, when no page was
fetched, or when no record was written and the spider raised errors on pages it fetched. The reason goes to the log (``Crawl failed: ...``), to the stat ``archive/failed_reason``
(which ``crawler/commands/crawl.py`` turns into exit status 1) and to the crawl report
(``crawler/report.py``, which listens for ``crawl_outcome_decided``).

The output is checked three times:

- when the spider opens, every local feed file's folder must be creatable and writable (and the path
  not a folder); otherwise the crawl stops at once (finish reason ``output_unwritable``) instead of
  crawling a whole site for nothing;
- Scrapy's feed exporter counts a feed it could not store (``feedexport/failed_count/*``), the WARC
  capture its write errors (``warc/write_errors``);
- a record the feed exporter could not write (the file cannot be opened, the disk is full) is only
  logged by Scrapy ("Error caught on signal handler: FeedExporter.item_scraped"); so each feed's
  written records (``feed_slot_closed``) are compared with the records the crawl produced.

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
from scrapy.exceptions import CloseSpider
from scrapy.extensions.feedexport import FeedExporter, FeedSlot
from scrapy.statscollectors import StatsCollector
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet.defer import Deferred

logger = logging.getLogger(__name__)

FAILED_KEY = "archive/failed_reason"
OUTPUT_UNWRITABLE = "output_unwritable"

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
        return f"cannot write in the folder of {path}: {exc}"
    return None


class CrawlOutcome:
    """Marks the crawl failed, giving the reason (see the module's docstring), and sends
    ``crawl_outcome_decided`` once the outputs are closed."""

    def __init__(self, stats: StatsCollector):
        self.stats = stats
        self.crawler: Crawler | None = None
        self.output_failure: str | None = None
        self.records = 0
        self.written: Counter[str] = Counter()
        self.whole_feeds: list[str] = []
        self.feeds_closed: Deferred[None] | None = None
        self.decided = False

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
        if problems:
            self.output_failure = "the output could not be written: " + "; ".join(problems)
            logger.error("Cannot write the output, closing the spider: %s", "; ".join(problems))
            raise CloseSpider(OUTPUT_UNWRITABLE)

    def item_scraped(self, item, spider: Spider) -> None:
        self.records += 1

    def feed_slot_closed(self, slot: FeedSlot) -> None:
        self.written[slot.uri_template] += slot.itemcount

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
        if self.output_failure:
            return self.output_failure
        stats = self.stats.get_stats()
        failed = {k: v for k, v in stats.items() if k.startswith("feedexport/failed_count/") or k == "warc/write_errors"}
        if failed:
            return f"the output could not be written ({failed})"
        short = [f"{uri} got {self.written[uri]} of {self.records} records"
                 for uri in self.whole_feeds if self.written[uri] < self.records]
        if short:
            return "the output could not be written: " + "; ".join(short) + " (the write errors are logged above)"
        return None

    def failure_reason(self) -> str | None:
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
        errors = {
            k: v
            for k, v in stats.items()
            if k.startswith(("downloader/exception_type_count/", "httperror/response_ignored_status_count/"))
            or k in ("robotstxt/forbidden", "offsite/filtered")
        }
        if errors:
            return f"every request failed: {errors}"
        return "no page was fetched"

    def decide(self, spider: Spider, reason: str) -> None:
        if self.decided:
            return
        self.decided = True
        failure = self.failure_reason()
        if failure:
            self.stats.set_value(FAILED_KEY, failure)
            logger.error("Crawl failed: %s", failure)
        if self.crawler is not None:
            self.crawler.signals.send_catch_log(
                signal=crawl_outcome_decided, spider=spider, reason=reason, failure=failure
            )
