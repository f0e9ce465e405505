"""Scrapy item pipelines: thin adapters that de-duplicate and count records."""

from __future__ import annotations

from itemadapter import ItemAdapter
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem
from scrapy.statscollectors import StatsCollector

from .schema import DATE_FIELDS


class DeduplicatePipeline:
    """One record per page: drop a record whose canonical URL or body hash was already written."""

    def __init__(self, stats: StatsCollector):
        self.stats = stats
        self.urls: set[str] = set()
        self.hashes: set[str] = set()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> DeduplicatePipeline:
        return cls(crawler.stats)

    def process_item(self, item):
        record = ItemAdapter(item)
        url, digest = record["canonical_url"], record["content_sha256"]
        if url in self.urls:
            self.stats.inc_value("archive/skipped/duplicate_url")
            raise DropItem(f"duplicate canonical URL {url}", log_level="DEBUG")
        if digest in self.hashes:
            self.stats.inc_value("archive/skipped/duplicate_content")
            raise DropItem(f"same text as an earlier record: {url}", log_level="DEBUG")
        self.urls.add(url)
        self.hashes.add(digest)
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
