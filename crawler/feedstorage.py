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

A file that cannot be opened (its folder is a file, no permission) is said in one line, without a
traceback: the storage hands the exporter a file that takes nothing (``UnwritableFile``), tells
``CrawlOutcome`` (``crawler/extensions.py``), which fails and stops the crawl (finish reason
``output_unwritable``), and no record counts as written, so the crawl state keeps those pages to do.

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

from crawler.extensions import CrawlOutcome, os_error_text
from crawler.output import DurableFile, GzipMemberFile, is_gzip_path

__all__ = ["DurableFileFeedStorage", "RecordLinesExporter", "UnwritableFile", "record_written"]

# Sent with ``record=`` (the item) once its line is written; see RecordLinesExporter.
record_written = object()

logger = logging.getLogger(__name__)


class UnwritableFile:
    """What the exporter writes to when the feed file could not be opened: nothing is kept."""

    def __init__(self, path: str, problem: str):
        self.path = path
        self.problem = problem
        self.closed = False

    def write(self, data) -> int:
        return len(data)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True


class DurableFileFeedStorage(FileFeedStorage):
    """Drop-in for Scrapy's file storage (``-o``/``-O`` and FEEDS with file paths)."""

    def __init__(self, uri: str, *, feed_options: dict[str, Any] | None = None, fsync: bool = False,
                 crawler=None):
        super().__init__(uri, feed_options=feed_options)
        self.fsync = fsync
        self.crawler = crawler
        # Why the file could not be opened (then nothing was written to it), else None.
        self.unwritable: str | None = None
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
        return cls(uri, feed_options=feed_options, fsync=crawler.settings.getbool("FEED_FSYNC", False),
                   crawler=crawler)

    def open(self, spider):  # type: ignore[override]
        cls = GzipMemberFile if self.gzip else DurableFile
        try:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            file = cls(self.path, self.write_mode, fsync=self.fsync)
        except OSError as exc:
            return self._unwritable(f"cannot open {self.path}: {os_error_text(self.path, exc)}")
        logger.debug("Writing feed %s (%s)", self.path, "gzip members" if self.gzip else "plain")
        return file

    def _unwritable(self, problem: str) -> UnwritableFile:
        """One line (through CrawlOutcome, which also stops the crawl), and a file that keeps nothing."""
        self.unwritable = problem
        outcome = self._outcome()
        if outcome is not None:
            outcome.output_unwritable(self.path, problem)
        else:
            logger.error("Cannot write the output: %s", problem)
        return UnwritableFile(self.path, problem)

    def _outcome(self):
        if self.crawler is None or getattr(self.crawler, "extensions", None) is None:
            return None
        return next((e for e in self.crawler.extensions.middlewares if isinstance(e, CrawlOutcome)), None)


class RecordLinesExporter(JsonLinesItemExporter):
    """Scrapy's JSON Lines exporter, telling the crawl about each record once its line is out."""

    def __init__(self, file, *, signals=None, **kwargs: Any):
        super().__init__(file, **kwargs)
        self.signals = signals

    @classmethod
    def from_crawler(cls, crawler, file, *args: Any, **kwargs: Any):
        return cls(file, *args, signals=crawler.signals, **kwargs)

    def export_item(self, item: Any) -> None:
        if isinstance(self.file, UnwritableFile):
            return  # nothing is written: the page is not marked finished (reported by the storage)
        super().export_item(item)
        if self.signals is not None:
            self.signals.send_catch_log(signal=record_written, record=item)
