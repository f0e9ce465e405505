"""`scrapy crawl` that also exits non-zero when the crawl ran but failed (see CrawlOutcome)."""

from __future__ import annotations

from scrapy.commands.crawl import Command as ScrapyCrawlCommand

from crawler.extensions import FAILED_KEY


class Command(ScrapyCrawlCommand):
    def _create_crawler(self, spname):
        self._crawler = super()._create_crawler(spname)
        return self._crawler

    def run(self, args, opts) -> None:
        self._crawler = None
        super().run(args, opts)
        stats = getattr(self._crawler, "stats", None)
        if self.exitcode == 0 and stats is not None and stats.get_value(FAILED_KEY):
            self.exitcode = 1
