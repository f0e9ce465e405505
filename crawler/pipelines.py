"""Scrapy item pipelines: thin adapters over the record chain (``crawler/chain.py``).

Records reach them already built and validated (in a worker process, ``crawler/workers.py``).
``RecordChainPipeline`` gives each its revision against the crawl state, drops what is unchanged or
a duplicate, and marks a page finished once the feed exporter has written its line
(``crawler.feedstorage.record_written``). ``RecordStatsPipeline`` counts what is written.
"""

from __future__ import annotations

import logging

from itemadapter import ItemAdapter
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem
from scrapy.statscollectors import StatsCollector

from crawler.chain import UNCHANGED, RecordAdmission
from crawler.feedstorage import record_written
from pipelines.schema import DATE_FIELDS

__all__ = ["RecordChainPipeline", "RecordStatsPipeline"]

logger = logging.getLogger(__name__)


class RecordChainPipeline:
    """Revision, then de-duplication, against the spider's crawl state (``spider.state``).

    Counts ``archive/pages/unchanged`` (the page's text is its last record's),
    ``archive/skipped/duplicate_url`` and ``archive/skipped/duplicate_content``, and
    ``archive/records/new`` / ``archive/records/changed`` for the records let through."""

    def __init__(self, stats: StatsCollector, crawler: Crawler | None = None):
        self.stats = stats
        self.crawler = crawler
        self.admission: RecordAdmission | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RecordChainPipeline:
        pipeline = cls(crawler.stats, crawler)
        crawler.signals.connect(pipeline.record_written, signal=record_written)
        return pipeline

    def open_spider(self) -> None:
        state = getattr(getattr(self.crawler, "spider", None), "state", None)
        if state is not None:
            self.admission = RecordAdmission(state)

    def process_item(self, item):
        if self.admission is None:
            return item
        record = dict(ItemAdapter(item))  # a shallow copy: asdict() would copy every nested field too
        revised, reason = self.admission.admit(record)
        if revised is None:
            state = self.admission.ledger
            state.finish(record["canonical_url"])
            if reason == UNCHANGED:
                self.stats.inc_value("archive/pages/unchanged")
                raise DropItem(f"unchanged: {record['canonical_url']}", log_level="DEBUG")
            self.stats.inc_value(f"archive/skipped/{reason}")
            what = "canonical URL" if reason == "duplicate_url" else "text as an earlier record"
            raise DropItem(f"same {what}: {record['canonical_url']}", log_level="DEBUG")
        self.stats.inc_value("archive/records/changed" if revised["revision"] > 1 else "archive/records/new")
        return revised

    def record_written(self, record) -> None:
        if self.admission is not None:
            self.admission.written(ItemAdapter(record))


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
