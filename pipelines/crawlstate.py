"""Crawl state in SQLite: what a re-crawl and a resumed crawl start from.

One database per crawl (``CRAWL_STATE/state.sqlite3``). Per canonical URL it keeps the last fetch
time, status, ETag, Last-Modified, content hash, record revision, and in which crawl the page was
queued and finished. A *crawl* may take several *runs*: a run killed before the end leaves its crawl
unfinished and the next run resumes it (only the pages not finished yet are fetched); a run that
ends finishes its crawl, and the next run starts a new crawl that re-checks every known page with
conditional requests.

A record's page is marked finished only after its line reached the output (``record_written``),
so a kill between the two can re-fetch a page but never lose its record; ``reconcile`` closes that
window from the previous run's output when it is still there.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

__all__ = ["CrawlState", "PageState"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS crawls (
    id INTEGER PRIMARY KEY,
    started TEXT NOT NULL,
    finished TEXT
);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    crawl_id INTEGER NOT NULL REFERENCES crawls(id),
    started TEXT NOT NULL,
    finished TEXT,
    output TEXT
);
CREATE TABLE IF NOT EXISTS pages (
    canonical_url TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    last_fetch TEXT,
    status INTEGER,
    etag TEXT,
    last_modified TEXT,
    content_sha256 TEXT,
    revision INTEGER NOT NULL DEFAULT 0,
    queued_crawl INTEGER,
    done_crawl INTEGER,
    written_crawl INTEGER
);
"""


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class PageState:
    canonical_url: str
    url: str
    status: int | None
    etag: str | None
    last_modified: str | None
    content_sha256: str | None
    revision: int


class CrawlState:
    """The state database of one crawl folder; every change is committed at once."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        # WAL without fsync per commit: a commit survives the process being killed (the OS has it),
        # which is what resuming needs; a power cut may lose the last commits (FEED_FSYNC-like cost).
        self.db = sqlite3.connect(path, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(SCHEMA)
        self.crawl_id = 0
        self.run_id = 0
        self.resumed = False

    # --- crawls and runs ----------------------------------------------------------------------

    def begin_run(self, output: str | None) -> None:
        """Resume the last crawl if it did not finish, else start a new one."""
        row = self.db.execute("SELECT id, finished FROM crawls ORDER BY id DESC LIMIT 1").fetchone()
        if row is not None and row[1] is None:
            self.crawl_id, self.resumed = row[0], True
        else:
            self.crawl_id = self.db.execute("INSERT INTO crawls (started) VALUES (?)", (_now(),)).lastrowid
        self.run_id = self.db.execute(
            "INSERT INTO runs (crawl_id, started, output) VALUES (?, ?, ?)", (self.crawl_id, _now(), output)
        ).lastrowid

    def previous_output(self) -> str | None:
        """The output of the last run before this one, when this run resumes its crawl."""
        row = self.db.execute(
            "SELECT output FROM runs WHERE crawl_id = ? AND id < ? ORDER BY id DESC LIMIT 1",
            (self.crawl_id, self.run_id),
        ).fetchone()
        return row[0] if row else None

    def end_run(self, finished_crawl: bool) -> None:
        self.db.execute("UPDATE runs SET finished = ? WHERE id = ?", (_now(), self.run_id))
        if finished_crawl:
            self.db.execute("UPDATE crawls SET finished = ? WHERE id = ?", (_now(), self.crawl_id))

    def close(self) -> None:
        self.db.close()

    # --- the frontier -------------------------------------------------------------------------

    def queue(self, canonical_url: str, url: str) -> bool:
        """Note a page for this crawl; False when it was already queued in this crawl."""
        cursor = self.db.execute(
            "INSERT INTO pages (canonical_url, url, queued_crawl) VALUES (?, ?, ?) "
            "ON CONFLICT(canonical_url) DO UPDATE SET queued_crawl = excluded.queued_crawl "
            "WHERE pages.queued_crawl IS NOT excluded.queued_crawl",
            (canonical_url, url, self.crawl_id),
        )
        return cursor.rowcount > 0

    def pending(self) -> Iterator[str]:
        """URLs queued in this crawl and not finished (what a resumed run fetches)."""
        rows = self.db.execute(
            "SELECT url FROM pages WHERE queued_crawl = ? AND done_crawl IS NOT ? ORDER BY rowid", (self.crawl_id,
                                                                                                   self.crawl_id)
        )
        yield from (url for (url,) in rows.fetchall())

    def known(self) -> Iterator[str]:
        """Every page an earlier crawl fetched (what a new crawl re-checks)."""
        rows = self.db.execute("SELECT url FROM pages WHERE last_fetch IS NOT NULL ORDER BY rowid")
        yield from (url for (url,) in rows.fetchall())

    def is_done(self, canonical_url: str) -> bool:
        row = self.db.execute("SELECT done_crawl FROM pages WHERE canonical_url = ?", (canonical_url,)).fetchone()
        return row is not None and row[0] == self.crawl_id

    def page(self, canonical_url: str) -> PageState | None:
        row = self.db.execute(
            "SELECT canonical_url, url, status, etag, last_modified, content_sha256, revision FROM pages "
            "WHERE canonical_url = ?",
            (canonical_url,),
        ).fetchone()
        return PageState(*row) if row else None

    # --- outcomes -----------------------------------------------------------------------------

    def fetched(
        self, canonical_url: str, url: str, status: int, etag: str | None, last_modified: str | None, done: bool
    ) -> None:
        """A response arrived; ``done`` when the page needs nothing more in this crawl."""
        self.db.execute(
            "INSERT INTO pages (canonical_url, url, queued_crawl) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            (canonical_url, url, self.crawl_id),
        )
        self.db.execute(
            "UPDATE pages SET url = ?, last_fetch = ?, status = ?, "
            "etag = CASE WHEN ? = 304 THEN etag ELSE ? END, "
            "last_modified = CASE WHEN ? = 304 THEN last_modified ELSE ? END, "
            "done_crawl = CASE WHEN ? THEN ? ELSE done_crawl END WHERE canonical_url = ?",
            (url, _now(), status, status, etag, status, last_modified, done, self.crawl_id, canonical_url),
        )

    def finish(self, canonical_url: str) -> None:
        """The page needs nothing more in this crawl (it gave no record, or the same one as before)."""
        self.db.execute("UPDATE pages SET done_crawl = ? WHERE canonical_url = ?", (self.crawl_id, canonical_url))

    def written_this_crawl(self) -> Iterator[tuple[str, str]]:
        """(canonical URL, content hash) of the records this crawl already wrote."""
        rows = self.db.execute(
            "SELECT canonical_url, content_sha256 FROM pages WHERE written_crawl = ?", (self.crawl_id,)
        )
        yield from rows.fetchall()

    def record_written(self, canonical_url: str, content_sha256: str, revision: int) -> None:
        """The record's line is in the output: the page is finished for this crawl."""
        self.db.execute(
            "UPDATE pages SET content_sha256 = ?, revision = ?, done_crawl = ?, written_crawl = ? "
            "WHERE canonical_url = ?",
            (content_sha256, revision, self.crawl_id, self.crawl_id, canonical_url),
        )

    def reconcile(self, records: Iterable[dict]) -> int:
        """Mark the records already in the previous run's output as written; how many were not."""
        missing = 0
        for record in records:
            if not self.is_done(record["canonical_url"]):
                missing += 1
                self.record_written(record["canonical_url"], record["content_sha256"], record.get("revision", 1))
        return missing
