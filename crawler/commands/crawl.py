"""`scrapy crawl` that also exits non-zero when the crawl ran but failed (see CrawlOutcome), and
that reads the format of a gzip output from the name inside the ``.gz`` (``-O records.jsonl.gz``)."""

from __future__ import annotations

from pathlib import PurePosixPath

from scrapy.commands.crawl import Command as ScrapyCrawlCommand

from crawler.extensions import FAILED_KEY


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
        self._crawler = None
        super().run(args, opts)
        stats = getattr(self._crawler, "stats", None)
        if self.exitcode == 0 and stats is not None and stats.get_value(FAILED_KEY):
            self.exitcode = 1
