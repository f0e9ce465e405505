"""A file feed storage that never leaves a partial line (or a broken gzip tail) behind, and the
JSON Lines exporter that says when a record's line is out.

Scrapy's FileFeedStorage hands the exporter a buffered file: a killed crawl loses the buffer and can
leave a truncated last line or an empty file. Here each exported item (one JSON line) goes to the
operating system in a single unbuffered write as soon as it is produced, so ``kill -9`` loses at
most the record in flight and the file always ends with a complete line.

A feed path ending in ``.gz`` is written gzip-compressed, each item as its own gzip member in one
unbuffered write (``pipelines.output.GzipMemberFile``): the file is a valid multi-member gzip stream
at every moment. Batches (``FEED_EXPORT_BATCH_ITEM_COUNT`` / ``batch_item_count`` with
``%(batch_id)d`` in the path) are Scrapy's own: each batch file is opened through this storage.

``RecordLinesExporter`` (``FEED_EXPORTERS`` for ``jsonlines``/``jsonl``) is Scrapy's JSON Lines
exporter that sends the ``record_written`` signal with the record once its line has been handed to
the storage: the crawl state marks the page finished then (``crawler/pipelines.py``), so a kill
between the two can re-fetch a page but never lose its record.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from scrapy.exporters import JsonLinesItemExporter
from scrapy.extensions.feedexport import FileFeedStorage

from crawler.output import DurableFile, GzipMemberFile, is_gzip_path

__all__ = ["DurableFileFeedStorage", "RecordLinesExporter", "record_written"]

# Sent with ``record=`` (the item) once its line is written; see RecordLinesExporter.
record_written = object()

logger = logging.getLogger(__name__)


class DurableFileFeedStorage(FileFeedStorage):
    """Drop-in for Scrapy's file storage (``-o``/``-O`` and FEEDS with file paths)."""

    def __init__(self, uri: str, *, feed_options: dict[str, Any] | None = None, fsync: bool = False):
        super().__init__(uri, feed_options=feed_options)
        self.fsync = fsync
        # Scrapy's own postprocessing plugins (e.g. GzipPlugin) would compress a second time.
        self.gzip = is_gzip_path(self.path) and not (feed_options or {}).get("postprocessing")
        if self.write_mode == "wb" and "%(" not in self.path:
            # -O: empty the file when the crawl opens, not at its first record, so that a run killed
            # before its first record leaves an empty part rather than the previous run's records.
            # (A resumed crawl has already read them back: crawler/spiders/base.py.)
            try:
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
                (GzipMemberFile if self.gzip else DurableFile)(self.path, "wb").close()
            except OSError:
                pass  # an output that cannot be written is reported by CrawlOutcome

    @classmethod
    def from_crawler(cls, crawler, uri: str, *, feed_options: dict[str, Any] | None = None):
        return cls(uri, feed_options=feed_options, fsync=crawler.settings.getbool("FEED_FSYNC", False))

    def open(self, spider):  # type: ignore[override]
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        cls = GzipMemberFile if self.gzip else DurableFile
        logger.debug("Writing feed %s (%s)", self.path, "gzip members" if self.gzip else "plain")
        return cls(self.path, self.write_mode, fsync=self.fsync)


class RecordLinesExporter(JsonLinesItemExporter):
    """Scrapy's JSON Lines exporter, telling the crawl about each record once its line is out."""

    def __init__(self, file, *, signals=None, **kwargs: Any):
        super().__init__(file, **kwargs)
        self.signals = signals

    @classmethod
    def from_crawler(cls, crawler, file, *args: Any, **kwargs: Any):
        return cls(file, *args, signals=crawler.signals, **kwargs)

    def export_item(self, item: Any) -> None:
        super().export_item(item)
        if self.signals is not None:
            self.signals.send_catch_log(signal=record_written, record=item)
