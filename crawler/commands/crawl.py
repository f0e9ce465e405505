"""`scrapy crawl` that also exits non-zero when the crawl ran but failed (see CrawlOutcome), logs why
a spider could not start and writes its crawl report (see crawler/report.py), and that reads the
format of a gzip output from the name inside the ``.gz`` (``-O records.jsonl.gz``).

Bad input gets one line and no traceback: an unknown spider name or an output that is a folder is a
usage error (exit status 2, Scrapy's ``UsageError``); a spider that refuses its arguments or
settings (a bad ``start_url``, no ``CONTACT_URL`` for a real site: ``ValueError``; a ``CRAWL_STATE``
that cannot be made: ``OSError``) logs ``Crawl failed: the spider could not start: ...`` (the
traceback only at DEBUG) and exits 1. Any other exception at start-up is a bug and keeps its
traceback. A crawl interrupted by Ctrl-C or SIGTERM exits 130 (see CrawlOutcome).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from datetime import datetime, timezone
from pathlib import PurePosixPath

from scrapy.commands.crawl import Command as ScrapyCrawlCommand
from scrapy.exceptions import UsageError
from twisted.internet.defer import Deferred

from crawler.extensions import FAILED_KEY, INTERRUPTED_EXIT, INTERRUPTED_KEY, SHUTDOWN, CrawlOutcome, local_feed_path
from crawler.report import CrawlReport, build_report, first_feed, save_report

logger = logging.getLogger(__name__)

# What a spider raises when its arguments, settings or folders are wrong (not a bug in the code).
BAD_INPUT_ERRORS = (ValueError, OSError, sqlite3.Error)


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


def output_folder(element: str, formats) -> str | None:
    """The path of an ``-o``/``-O`` element when it names a folder (an existing one, or a path
    ending in ``/``), else None."""
    uri = element.rsplit(":", 1)[0] if ":" in element and element.rsplit(":", 1)[1] in formats else element
    path = local_feed_path(uri)
    if path is None or "%(" in uri:
        return None
    return str(path) if path.is_dir() or uri.endswith("/") else None


class Command(ScrapyCrawlCommand):
    def process_options(self, args, opts) -> None:
        formats = set(self.settings.getwithbase("FEED_EXPORTERS"))
        for option, elements in (("-o", opts.output), ("-O", opts.overwrite_output)):
            for element in elements or []:
                folder = output_folder(element, formats)
                if folder is not None:
                    example = f"{folder.rstrip('/')}/records.jsonl"
                    raise UsageError(f"the output {folder} is a folder, not a file: "
                                     f"give a file name, e.g. {option} {example}", print_help=False)
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
        known = sorted(self.crawler_process.spider_loader.list())
        if args[0] not in known:
            raise UsageError(f"unknown spider {args[0]!r} (known: {', '.join(known)})", print_help=False)
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
        if self.exitcode == 0 and stats is not None:
            if stats.get_value(FAILED_KEY):
                self.exitcode = 1
            elif stats.get_value(INTERRUPTED_KEY):
                self.exitcode = INTERRUPTED_EXIT
        outcome = _extension(crawler, CrawlOutcome)
        if self.exitcode == 0 and outcome is not None and not outcome.decided:
            # Stopped before its end was decided: a second Ctrl-C ("forcing unclean shutdown").
            self.exitcode = INTERRUPTED_EXIT
            logger.warning("Crawl interrupted before it could close: run the same command again "
                           "(same CRAWL_STATE) to resume it")
            report = _extension(crawler, CrawlReport)
            if report is not None and crawler.spider is not None:
                report.write(crawler.spider, SHUTDOWN, None)

    def _could_not_start(self, crawler, spider_name: str, spargs: dict, error: BaseException | None, began) -> None:
        """Logs why, and writes the crawl report (crawler/report.py) as far as it can be known."""
        what = f"{type(error).__name__}: {error}" if error is not None else "see the errors above"
        failure = f"the spider could not start: {what}"
        exc_info = (type(error), error, error.__traceback__) if error is not None else None
        if isinstance(error, BAD_INPUT_ERRORS):
            # Bad arguments, settings or folders: the message says it; the traceback is for debugging.
            logger.error("Crawl failed: %s", failure)
            logger.debug("Where the spider stopped:", exc_info=exc_info)
        else:
            logger.error("Crawl failed: %s", failure, exc_info=exc_info)
        settings = crawler.settings
        if not settings.getbool("REPORT_ENABLED", True):
            return
        report = build_report({}, spider=spider_name, start_url=spargs.get("start_url"), output=first_feed(settings),
                              finish_reason="could_not_start", failure_reason=failure,
                              start_time=began, end_time=datetime.now(timezone.utc))
        save_report(report, settings, spider_name)


def _extension(crawler, kind):
    """The crawler's extension of this class, or None."""
    extensions = getattr(crawler, "extensions", None) if crawler is not None else None
    if extensions is None:
        return None
    return next((e for e in extensions.middlewares if isinstance(e, kind)), None)


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
