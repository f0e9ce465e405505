"""A file feed storage that never leaves a partial line behind.

Scrapy's FileFeedStorage hands the exporter a buffered file: a killed crawl loses the buffer and can
leave a truncated last line or an empty file. Here each exported item (one JSON line) goes to the
operating system in a single unbuffered write as soon as it is produced, so ``kill -9`` loses at
most the record in flight and the file always ends with a complete line.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from scrapy.extensions.feedexport import FileFeedStorage


class LineDurableFile:
    """A binary file whose every ``write`` call reaches the OS whole before it returns."""

    def __init__(self, path: str | os.PathLike, mode: str, fsync: bool = False):
        flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if "w" in mode else os.O_APPEND)
        self._fd = os.open(path, flags, 0o644)
        self._fsync = fsync
        self.closed = False

    def write(self, data: bytes) -> int:
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
        if self._fsync:
            os.fsync(self._fd)
        return len(data)

    def flush(self) -> None:
        pass  # nothing is buffered here

    def fileno(self) -> int:
        return self._fd

    def close(self) -> None:
        if not self.closed:
            os.close(self._fd)
            self.closed = True

    def __enter__(self) -> LineDurableFile:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class DurableFileFeedStorage(FileFeedStorage):
    """Drop-in for Scrapy's file storage (``-o``/``-O`` and FEEDS with file paths)."""

    def __init__(self, uri: str, *, feed_options: dict[str, Any] | None = None, fsync: bool = False):
        super().__init__(uri, feed_options=feed_options)
        self.fsync = fsync

    @classmethod
    def from_crawler(cls, crawler, uri: str, *, feed_options: dict[str, Any] | None = None):
        return cls(uri, feed_options=feed_options, fsync=crawler.settings.getbool("FEED_FSYNC", False))

    def open(self, spider) -> LineDurableFile:  # type: ignore[override]
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        return LineDurableFile(self.path, self.write_mode, fsync=self.fsync)
