"""Scrapy item pipelines: thin adapters that validate, de-duplicate and count records."""

from __future__ import annotations

import logging

from itemadapter import ItemAdapter
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem
from scrapy.statscollectors import StatsCollector

from .pages import Deduplicator
from .schema import DATE_FIELDS
from .validation import record_errors

logger = logging.getLogger(__name__)


class ValidateRecordPipeline:
    """Drops a record that does not match ``schema/record-v1.json``: counted under
    ``archive/skipped/invalid_record`` and logged with the reasons."""

    def __init__(self, stats: StatsCollector):
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ValidateRecordPipeline:
        return cls(crawler.stats)

    def process_item(self, item):
        record = ItemAdapter(item)
        errors = record_errors(record.asdict())
        if errors:
            self.stats.inc_value("archive/skipped/invalid_record")
            url = record.get("url")
            logger.warning("Invalid record for %s not written: %s", url, "; ".join(errors))
            raise DropItem(f"invalid record for {url}", log_level="DEBUG")
        return item


class DeduplicatePipeline:
    """One record per page: drop a record whose canonical URL or body hash was already written."""

    def __init__(self, stats: StatsCollector, crawler: Crawler | None = None):
        self.stats = stats
        self.crawler = crawler
        self.seen = Deduplicator()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> DeduplicatePipeline:
        return cls(crawler.stats, crawler)

    def open_spider(self) -> None:
        # A resumed crawl: what the killed run already wrote counts as seen.
        state = getattr(getattr(self.crawler, "spider", None), "state", None)
        if state is not None and state.resumed:
            for url, digest in state.written_this_crawl():
                self.seen.urls.add(url)
                self.seen.hashes.add(digest)

    def process_item(self, item):
        record = ItemAdapter(item)
        reason = self.seen.duplicate(record)
        if reason:
            self.stats.inc_value(f"archive/skipped/{reason}")
            what = "canonical URL" if reason == "duplicate_url" else "text as an earlier record"
            raise DropItem(f"same {what}: {record['canonical_url']}", log_level="DEBUG")
        return item


class RecordStatsPipeline:
    """Counts written records by language, section and date field, under archive/records/."""

    def __init__(self, stats: StatsCollector):
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RecordStatsPipeline:
        return cls(crawler.stats)

    def process_item(self, item):
        record = ItemAdapter(item)
        self.stats.inc_value("archive/records")
        self.stats.inc_value(f"archive/records/language/{record['language']}")
        self.stats.inc_value(f"archive/records/section/{record['section'] or '(none)'}")
        for name in DATE_FIELDS:
            if record.get(name):
                self.stats.inc_value(f"archive/records/with/{name}")
        return item
