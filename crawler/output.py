"""Output files that survive ``kill -9``: whole lines, whole gzip members, numbered batches.

Used by the crawl's feed storage (``crawler/feedstorage.py``) and by ``archive-crawler reprocess``.

* ``DurableFile``: every ``write`` call reaches the operating system whole, unbuffered, before it
  returns. A writer that hands it one JSON line per call never leaves a partial line behind.
* ``GzipMemberFile``: every ``write`` call becomes one complete gzip member, written in one
  unbuffered write. A gzip file may hold any number of members (RFC 1952, section 2.2; ``gzip -d``,
  Python's ``gzip`` module, pandas and DuckDB read them all), so the file is a valid gzip stream
  after every record; a killed writer loses at most the member in flight.
* ``RecordWriter``: JSON Lines in schema field order, as Scrapy's JSON Lines exporter writes them,
  optionally rotated into numbered batch files (``%(batch_id)d`` in the path, as in Scrapy's
  ``FEED_EXPORT_BATCH_ITEM_COUNT``).
"""

from __future__ import annotations

import gzip
import json
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pipelines.schema import RECORD_FIELDS

__all__ = [
    "DurableFile",
    "GzipMemberFile",
    "RecordWriter",
    "batch_path",
    "is_gzip_path",
    "open_durable",
    "record_line",
]

BATCH_PLACEHOLDERS = ("%(batch_id)", "%(batch_time)s")


class DurableFile:
    """A binary file whose every ``write`` call reaches the OS whole before it returns."""

    def __init__(self, path: str | os.PathLike, mode: str = "wb", fsync: bool = False):
        flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if "w" in mode else os.O_APPEND)
        self.path = Path(path)
        self._fd = os.open(path, flags, 0o644)
        self._fsync = fsync
        self.closed = False

    def _write_all(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
        if self._fsync:
            os.fsync(self._fd)

    def write(self, data: bytes) -> int:
        self._write_all(data)
        return len(data)

    def flush(self) -> None:
        pass  # nothing is buffered here

    def fileno(self) -> int:
        return self._fd

    def tell(self) -> int:
        return os.lseek(self._fd, 0, os.SEEK_CUR)

    def close(self) -> None:
        if not self.closed:
            os.close(self._fd)
            self.closed = True

    def __enter__(self):
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class GzipMemberFile(DurableFile):
    """A ``DurableFile`` that gzips each ``write`` into its own member.

    A new (or emptied) file starts with an empty member, so that even a file with no records is a
    valid gzip stream.
    """

    def __init__(self, path: str | os.PathLike, mode: str = "wb", fsync: bool = False, compresslevel: int = 6):
        super().__init__(path, mode, fsync)
        self.compresslevel = compresslevel
        if os.fstat(self._fd).st_size == 0:
            self._write_all(gzip.compress(b"", compresslevel, mtime=0))

    def write(self, data: bytes) -> int:
        if data:
            self._write_all(gzip.compress(bytes(data), self.compresslevel, mtime=0))
        return len(data)


def is_gzip_path(path: str | os.PathLike) -> bool:
    return str(path).lower().endswith(".gz")


def open_durable(path: str | os.PathLike, mode: str = "wb", fsync: bool = False) -> DurableFile:
    """A ``GzipMemberFile`` for a path ending in ``.gz``, else a ``DurableFile``; creates parent folders."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    cls = GzipMemberFile if is_gzip_path(path) else DurableFile
    return cls(path, mode, fsync)


def record_line(record: dict) -> bytes:
    """One record as Scrapy's JSON Lines exporter writes it (UTF-8, schema field order)."""
    ordered = {name: record.get(name) for name in RECORD_FIELDS}
    return (json.dumps(ordered, ensure_ascii=False) + "\n").encode("utf-8")


def batch_path(template: str, batch_id: int, moment: datetime | None = None) -> str:
    """Fill Scrapy's batch placeholders ``%(batch_id)d`` and ``%(batch_time)s`` in ``template``."""
    moment = moment or datetime.now(timezone.utc)
    return template % {"batch_id": batch_id, "batch_time": moment.isoformat().replace(":", "-")}


class RecordWriter:
    """Writes records as JSON Lines to ``path``, or to numbered batch files of ``batch_size`` records.

    With ``batch_size`` the path must contain ``%(batch_id)d`` (or ``%(batch_id)05d``, or
    ``%(batch_time)s``); batch 1 is always written, later batches only when they get a record, as in
    Scrapy's feed exports. A path ending in ``.gz`` gives gzip members (see ``GzipMemberFile``).
    """

    def __init__(self, path: str | os.PathLike, *, batch_size: int = 0, fsync: bool = False, mode: str = "wb"):
        self.template = str(path)
        self.batch_size = batch_size
        if batch_size < 0:
            raise ValueError("the batch size must be a positive number of records")
        if batch_size and not any(p in self.template for p in BATCH_PLACEHOLDERS):
            raise ValueError(
                f"with a batch size the output path must contain %(batch_id)d or %(batch_time)s: {self.template}"
            )
        self.fsync = fsync
        self.mode = mode
        self.batch_id = 0
        self.in_batch = 0
        self.written = 0
        self.paths: list[Path] = []
        self._file: DurableFile | None = None

    def _open_next(self) -> None:
        self._close_current()
        self.batch_id += 1
        path = batch_path(self.template, self.batch_id) if self.batch_size else self.template
        self._file = open_durable(path, self.mode, self.fsync)
        self.paths.append(Path(path))
        self.in_batch = 0

    def _close_current(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def write(self, record: dict) -> None:
        if self._file is None or (self.batch_size and self.in_batch >= self.batch_size):
            self._open_next()
        assert self._file is not None
        self._file.write(record_line(record))
        self.in_batch += 1
        self.written += 1

    def close(self) -> None:
        if self.batch_id == 0:  # no record at all: still write the (first) file, empty
            self._open_next()
        self._close_current()

    def __enter__(self) -> RecordWriter:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
