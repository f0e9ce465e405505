"""Decide at the end of a crawl whether it failed, so `scrapy crawl` can exit non-zero."""

from __future__ import annotations

import logging

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.statscollectors import StatsCollector

logger = logging.getLogger(__name__)

FAILED_KEY = "archive/failed_reason"


class CrawlOutcome:
    """Marks the crawl failed when no page could be fetched and read, giving the reason."""

    def __init__(self, stats: StatsCollector):
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CrawlOutcome:
        extension = cls(crawler.stats)
        crawler.signals.connect(extension.spider_closed, signal=signals.spider_closed)
        return extension

    def failure_reason(self) -> str | None:
        stats = self.stats.get_stats()
        if stats.get("archive/pages/fetched", 0) > 0:
            failed_feeds = {k: v for k, v in stats.items()
                            if k.startswith("feedexport/failed_count/") or k == "warc/write_errors"}
            if failed_feeds:
                return f"the output could not be written ({failed_feeds})"
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

    def spider_closed(self, spider, reason: str) -> None:
        failure = self.failure_reason()
        if failure:
            self.stats.set_value(FAILED_KEY, failure)
            logger.error("Crawl failed: %s", failure)
