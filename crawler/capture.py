"""WARC capture of every response of a crawl (``-s WARC_DIR=out/warc``).

A downloader middleware placed next to the downloader (priority 950, above every built-in one), so
its ``process_response`` sees each response before any other middleware acts on it: robots.txt,
redirects (before RedirectMiddleware follows them), HTTP errors (before RetryMiddleware and
HttpErrorMiddleware drop them) and pages, with their bodies still content-encoded (before
HttpCompressionMiddleware). Requests that got no response (connection refused, timeout) leave no
record. The file format is described in ``crawler/warc.py``.

Revisits and the crawl state: the page's last response record is kept in the spider's crawl state
(``CrawlState.last_capture``, by canonical URL); a 304, or an answer whose payload digest is that
record's, is written as a revisit record referring to it (``server-not-modified``,
``identical-payload-digest``). Capture is part of a page being finished: an exchange that could not be
written is noted (``CrawlState.capture_failed``), so the page is not finished in this crawl and its next
request is unconditional; a crawl with ``WARC_DIR`` asks unconditionally for every page without a usable
capture (``CrawlState.capture_missing``). The folder is checked when the spider opens: one that cannot
be written stops the crawl before its first request (finish reason ``warc_unwritable``).
"""

from __future__ import annotations

import logging
import os
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import CloseSpider, NotConfigured
from scrapy.http import Response
from scrapy.statscollectors import StatsCollector

from crawler.extensions import CrawlOutcome, os_error_text
from crawler.warc import CAPTURE_DESCRIPTION, HttpExchange, WarcWriter
from pipelines.urls import canonical_or_itself

__all__ = ["WARC_UNWRITABLE", "WarcCaptureMiddleware", "warc_dir_problem"]

logger = logging.getLogger(__name__)

# The finish reason of a crawl whose WARC folder cannot be written (checked when the spider opens).
WARC_UNWRITABLE = "warc_unwritable"


def warc_dir_problem(directory: str | os.PathLike) -> str | None:
    """Why WARC files could not be written in ``directory`` (created as the writer would create it;
    a temporary file made in it), else None."""
    path = Path(directory)
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except PermissionError:
        return f"{path} is not writable"
    except OSError as exc:
        # A file in the way (the folder itself, or a folder above it) is named as such.
        return f"cannot write in {path}: {os_error_text(path / WARC_UNWRITABLE, exc)}"
    return None


def _str_headers(headers) -> list[tuple[str, str]]:
    """Scrapy ``Headers`` (bytes, several values per name) as (name, value) pairs in order."""
    pairs = []
    for name, values in headers.items():
        key = name.decode("latin-1")
        for value in values:
            pairs.append((key, value.decode("latin-1")))
    return pairs


class WarcCaptureMiddleware:
    """Writes each response and its request to WARC files in ``WARC_DIR``, rotated at ``WARC_MAX_SIZE``.

    Counts under ``warc/``: ``captured`` (exchanges written), ``revisits/server_not_modified``,
    ``revisits/identical_payload``, ``missing`` (pages of the crawl whose exchange could not be
    written, and was not written since), ``files``, ``bytes``, ``records/warcinfo|response|revisit|request``
    and ``write_errors`` (a failed write is logged and the crawl goes on, but exits 1)."""

    def __init__(
        self,
        directory: str,
        max_size: int,
        stats: StatsCollector,
        *,
        fsync: bool = False,
        user_agent: str = "",
        robots_obey: bool = True,
    ):
        self.directory = directory
        self.max_size = max_size
        self.stats = stats
        self.fsync = fsync
        self.user_agent = user_agent
        self.robots_obey = robots_obey
        self.writer: WarcWriter | None = None
        self.crawler: Crawler | None = None
        # Pages whose exchange could not be written in this run (and has not been since).
        self.missing: set[str] = set()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> WarcCaptureMiddleware:
        settings = crawler.settings
        directory = (settings.get("WARC_DIR") or "").strip()
        if not directory:
            raise NotConfigured("WARC_DIR is empty: no WARC capture")
        max_size = settings.getint("WARC_MAX_SIZE")
        if max_size <= 0:
            raise ValueError(f"WARC_MAX_SIZE must be a positive number of bytes, got {settings.get('WARC_MAX_SIZE')!r}")
        middleware = cls(
            directory,
            max_size,
            crawler.stats,
            fsync=settings.getbool("FEED_FSYNC"),
            user_agent=settings.get("USER_AGENT") or "",
            robots_obey=settings.getbool("ROBOTSTXT_OBEY"),
        )
        middleware.crawler = crawler
        crawler.signals.connect(middleware.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(middleware.spider_closed, signal=signals.spider_closed)
        return middleware

    def _info(self, spider: Spider) -> dict[str, str]:
        profile = getattr(spider, "profile", None)
        return {
            "isPartOf": spider.name,
            "description": CAPTURE_DESCRIPTION,
            "robots": "obey" if self.robots_obey else "ignore",
            "http-header-user-agent": self.user_agent,
            "spider": spider.name,
            "site-profile": getattr(profile, "name", "") or "",
            "start-url": getattr(spider, "start_url", "") or "",
            # Which crawl of the crawl state made the captures: reprocess --state takes revisions from it.
            "crawl-id": str(getattr(getattr(spider, "state", None), "crawl_id", "") or ""),
        }

    def _count(self, key: str, n: int = 1) -> None:
        self.stats.inc_value(f"warc/{key}", n)

    def _state(self):
        """The spider's crawl state (crawler/state.py), if it keeps one."""
        spider = getattr(self.crawler, "spider", None)
        return getattr(spider, "state", None)

    def _key(self, url: str) -> str:
        """The page a URL is, in the crawl state: its canonical URL under the spider's profile."""
        return canonical_or_itself(url, getattr(getattr(self.crawler, "spider", None), "profile", None))

    def _unwritable(self, problem: str) -> None:
        """One line, and the crawl stops before its first request (finish reason ``warc_unwritable``)."""
        problem = f"WARC_DIR {self.directory}: {problem}"
        logger.error("Cannot write the WARC files, closing the spider: %s", problem)
        # The crawl's outcome names the problem, as for an output that cannot be written.
        outcome = next((e for e in getattr(getattr(self.crawler, "extensions", None), "middlewares", ())
                        if isinstance(e, CrawlOutcome)), None)
        if outcome is not None:
            outcome.unwritable.setdefault(os.path.abspath(self.directory), problem)
        else:
            self._count("write_errors")
        raise CloseSpider(WARC_UNWRITABLE)

    def spider_opened(self, spider: Spider) -> None:
        problem = warc_dir_problem(self.directory)
        if problem:
            self._unwritable(problem)
        state = self._state()
        if state is not None:
            state.capturing = True  # capture is part of a page being finished (crawler/state.py)
        self.stats.set_value("warc/missing", 0)
        self.writer = WarcWriter(
            self.directory,
            spider.name,
            self._info(spider),
            max_size=self.max_size,
            fsync=self.fsync,
            started=datetime.now(timezone.utc),
            on_count=self._count,
        )
        try:
            self.writer.open()
        except OSError as exc:
            self.writer = None
            self._unwritable(f"cannot open a WARC file: {os_error_text(Path(self.directory) / 'x', exc)}")

    def process_response(self, request: Request, response: Response) -> Response:
        # Only what came over HTTP is an archive's business (not the spider's own data: requests).
        if self.writer is None or not request.url.startswith(("http://", "https://")):
            return response
        exchange = HttpExchange(
            url=response.url,
            status=response.status,
            response_headers=_str_headers(response.headers),
            body=response.body,
            method=request.method,
            request_headers=_str_headers(request.headers),
            request_body=request.body,
            protocol=response.protocol,
            date=datetime.now(timezone.utc),
            ip_address=str(response.ip_address) if response.ip_address else None,
            truncated="dataloss" in response.flags,
        )
        key = self._key(response.url)
        state = self._state()
        try:
            capture = self.writer.write_exchange(exchange, state.last_capture(key) if state is not None else None)
        except OSError as exc:
            self._count("write_errors")
            logger.error("Cannot write %s to WARC (the page is not finished until it is captured): %s",
                         response.url, exc)
            if state is not None:
                state.capture_failed(key)
            self.missing.add(key)
        else:
            if state is not None:
                state.captured(key, capture)
            self.missing.discard(key)
        self.stats.set_value("warc/missing", len(self.missing))
        return response

    def spider_closed(self, spider: Spider, reason: str) -> None:
        if self.writer is None:
            return
        self.writer.close()
        logger.info(
            "WARC capture: %d responses and %d revisits in %d file(s) in %s",
            self.writer.counts.get("records/response", 0),
            self.writer.counts.get("records/revisit", 0),
            len(self.writer.files),
            self.directory,
        )
        self.stats.set_value("warc/directory", self.directory)
