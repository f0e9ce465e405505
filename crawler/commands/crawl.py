"""`scrapy crawl` that also exits non-zero when the crawl ran but failed (see CrawlOutcome), logs why
a spider could not start and writes its crawl report (see crawler/report.py), and that reads the
format of a gzip output from the name inside the ``.gz`` (``-O records.jsonl.gz``)."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timezone
from pathlib import PurePosixPath

from scrapy.commands.crawl import Command as ScrapyCrawlCommand
from scrapy.exceptions import UsageError
from twisted.internet.defer import Deferred

from crawler.extensions import FAILED_KEY
from crawler.report import build_report, first_feed, save_report

logger = logging.getLogger(__name__)


def gzip_output_format(element: str, formats) -> str:
    """``out.jsonl.gz`` -> ``out.jsonl.gz:jsonl``: Scrapy would take ``gz`` for the format.

    The feed storage gzips any path ending in ``.gz`` (``crawler/feedstorage.py``). An element that
    already ends in ``:FORMAT`` is left alone."""
    if ":" in element and element.rsplit(":", 1)[1] in formats:
        return element
    if not element.lower().endswith(".gz"):
        return element
    inner = PurePosixPath(element[:-3]).suffix.lstrip(".")
    return f"{element}:{inner}" if inner in formats else element


class Command(ScrapyCrawlCommand):
    def process_options(self, args, opts) -> None:
        formats = set(self.settings.getwithbase("FEED_EXPORTERS"))
        opts.output = [gzip_output_format(e, formats) for e in opts.output or []]
        opts.overwrite_output = [gzip_output_format(e, formats) for e in opts.overwrite_output or []]
        super().process_options(args, opts)

    def _create_crawler(self, spname):
        self._crawler = super()._create_crawler(spname)
        return self._crawler

    def run(self, args, opts) -> None:
        # Scrapy's run, keeping what crawl() returns: it holds the error of a spider that cannot start.
        if len(args) < 1:
            raise UsageError
        if len(args) > 1:
            raise UsageError("running 'scrapy crawl' with more than one spider is not supported")
        assert self.crawler_process
        self._crawler = None
        began = datetime.now(timezone.utc)
        started = self.crawler_process.crawl(self._create_crawler(args[0]), **opts.spargs)
        self.crawler_process.start()
        if self.crawler_process.bootstrap_failed:
            self.exitcode = 1
        crawler = self._crawler
        if crawler is not None and getattr(crawler, "spider", None) is None:
            self.exitcode = 1
            self._could_not_start(crawler, args[0], opts.spargs, _startup_error(started), began)
            return
        try:
            stats = crawler.stats if crawler is not None else None
        except (AttributeError, RuntimeError):  # Crawler.stats raises until the crawl has started
            stats = None
        if self.exitcode == 0 and stats is not None and stats.get_value(FAILED_KEY):
            self.exitcode = 1

    def _could_not_start(self, crawler, spider_name: str, spargs: dict, error: BaseException | None, began) -> None:
        """Logs why, and writes the crawl report (crawler/report.py) as far as it can be known."""
        what = f"{type(error).__name__}: {error}" if error is not None else "see the errors above"
        failure = f"the spider could not start: {what}"
        exc_info = (type(error), error, error.__traceback__) if error is not None else None
        logger.error("Crawl failed: %s", failure, exc_info=exc_info)
        settings = crawler.settings
        if not settings.getbool("REPORT_ENABLED", True):
            return
        report = build_report({}, spider=spider_name, start_url=spargs.get("start_url"), output=first_feed(settings),
                              finish_reason="could_not_start", failure_reason=failure,
                              start_time=began, end_time=datetime.now(timezone.utc))
        save_report(report, settings, spider_name)


def _startup_error(started) -> BaseException | None:
    """The exception a crawl task (asyncio) or Deferred (Twisted) ended with, marked as handled."""
    if isinstance(started, asyncio.Future):
        if started.done() and not started.cancelled():
            return started.exception()
        return None
    if isinstance(started, Deferred):
        errors: list[BaseException] = []
        started.addErrback(lambda failure: errors.append(failure.value))
        return errors[0] if errors else None
    return None
