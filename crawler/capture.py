"""WARC capture of every response of a crawl (``-s WARC_DIR=out/warc``).

A downloader middleware placed next to the downloader (priority 950, above every built-in one), so
its ``process_response`` sees each response before any other middleware acts on it: robots.txt,
redirects (before RedirectMiddleware follows them), HTTP errors (before RetryMiddleware and
HttpErrorMiddleware drop them) and pages, with their bodies still content-encoded (before
HttpCompressionMiddleware). Requests that got no response (connection refused, timeout) leave no
record. The file format is described in ``crawler/warc.py``.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone

from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.http import Response
from scrapy.statscollectors import StatsCollector

from crawler.warc import CAPTURE_DESCRIPTION, HttpExchange, WarcWriter

__all__ = ["WarcCaptureMiddleware"]

logger = logging.getLogger(__name__)


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

    Counts under ``warc/``: ``files``, ``bytes``, ``records/warcinfo|response|request`` and
    ``write_errors`` (a failed write is logged and the crawl goes on)."""

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

    def spider_opened(self, spider: Spider) -> None:
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
            self._count("write_errors")
            logger.error("Cannot open a WARC file in %s: %s", self.directory, exc)

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
        try:
            self.writer.write_exchange(exchange)
        except OSError as exc:
            self._count("write_errors")
            logger.error("Cannot write %s to WARC: %s", response.url, exc)
        return response

    def spider_closed(self, spider: Spider, reason: str) -> None:
        if self.writer is None:
            return
        self.writer.close()
        logger.info(
            "WARC capture: %d responses in %d file(s) in %s",
            self.writer.counts.get("records/response", 0),
            len(self.writer.files),
            self.directory,
        )
        self.stats.set_value("warc/directory", self.directory)
