"""Crawl state: where a crawl keeps what its next run starts from (setting ``CRAWL_STATE``), and the
SQLite database in it that a re-crawl and a resumed crawl start from.

One database per crawl (``CRAWL_STATE/state.sqlite3``). Per canonical URL it keeps the last fetch
time, status, ETag, Last-Modified, content hash, record revision, and in which crawl the page was
queued and finished. A *crawl* may take several *runs*: a run killed before the end leaves its crawl
unfinished and the next run resumes it (only the pages not finished yet are fetched); a run that
ends finishes its crawl, and the next run starts a new crawl that re-checks every known page with
conditional requests.

A record's page is marked finished only after its line reached the output (``record_written``),
so a kill between the two can re-fetch a page but never lose its record; ``reconcile`` closes that
window from the previous run's output when it is still there.

Revisions: every record written is kept in ``revisions`` (page, revision, text hash, crawl), so the
revision a record gets is decided against what the state knew *before its crawl*
(``previous_revision``): the crawl and ``archive-crawler reprocess --state`` of that crawl's WARC
files give the same revisions. De-duplication reads the state too (``written_in_crawl``,
``text_held_by_other``), so it keeps no set in memory that grows with the crawl.
"""

from __future__ import annotations

import gzip
import ipaddress
import json
import re
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlsplit
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from scrapy.settings import BaseSettings

__all__ = [
    "STATE_FILE",
    "CrawlState",
    "PageState",
    "configured_state_dir",
    "previous_records",
    "requires_contact",
    "site_slug",
    "state_dir",
]

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
CREATE TABLE IF NOT EXISTS revisions (
    canonical_url TEXT NOT NULL,
    revision INTEGER NOT NULL,
    content_sha256 TEXT NOT NULL,
    crawl_id INTEGER NOT NULL,
    PRIMARY KEY (canonical_url, revision)
);
CREATE INDEX IF NOT EXISTS revisions_by_text ON revisions (content_sha256);
"""


# The database in a CRAWL_STATE folder.
STATE_FILE = "state.sqlite3"


def configured_state_dir(settings: BaseSettings, spider_name: str) -> Path | None:
    """``CRAWL_STATE`` as given (``<spider>`` or ``%(name)s`` stand for the spider), else ``None``."""
    configured = str(settings.get("CRAWL_STATE") or "").strip()
    if not configured:
        return None
    return Path(configured.replace("<spider>", spider_name).replace("%(name)s", spider_name))


def state_dir(settings: BaseSettings, spider_name: str) -> Path:
    """``CRAWL_STATE`` when set, else ``state/<spider>/`` under the working directory."""
    return configured_state_dir(settings, spider_name) or Path("state") / spider_name


def site_slug(site: str) -> str:
    """A file-name-safe form of a site key ("127.0.0.1:8080" -> "127.0.0.1_8080")."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", site)


def _is_local(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_private or address.is_link_local


def requires_contact(settings: BaseSettings, start_url: str) -> bool:
    """A crawl of a real (non-local) site must name its operator, unless USER_AGENT is set outright."""
    if settings.get("CONTACT_URL"):
        return False
    from scrapy.settings import SETTINGS_PRIORITIES

    if (settings.getpriority("USER_AGENT") or 0) >= SETTINGS_PRIORITIES["cmdline"]:
        return False
    return not _is_local((urlsplit(start_url).hostname or "").lower())


def previous_records(output: str | None) -> Iterator[dict]:
    """The records of a previous run's output file, if it is still there (plain or .gz JSON Lines)."""
    if not output:
        return
    path = Path(output.removeprefix("file://")) if output.startswith(("file://", "/")) else Path(output)
    if "%(" in str(path) or not path.is_file():
        return
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8") as lines:
            for line in lines:
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a torn last line (not written by this project's storage)
                if isinstance(record, dict) and "canonical_url" in record and "content_sha256" in record:
                    yield record
    except (OSError, EOFError):
        return


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

    def __init__(self, path: Path, *, read_only: bool = False):
        self.path = path
        self.crawl_id = 0
        self.run_id = 0
        self.resumed = False
        if read_only:
            # Another process's state, only read (``reprocess --state``): never created or changed.
            if not path.is_file():
                raise FileNotFoundError(f"no crawl state at {path}")
            self.db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None)
            self.crawl_id = self.last_crawl()
            return
        path.parent.mkdir(parents=True, exist_ok=True)
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

    def is_queued(self, canonical_url: str) -> bool:
        """The page was queued in this crawl already."""
        row = self.db.execute("SELECT queued_crawl FROM pages WHERE canonical_url = ?", (canonical_url,)).fetchone()
        return row is not None and row[0] == self.crawl_id

    def queued_count(self) -> int:
        """Pages queued in this crawl so far (a resumed run counts its earlier runs')."""
        return self.db.execute("SELECT COUNT(*) FROM pages WHERE queued_crawl = ?", (self.crawl_id,)).fetchone()[0]

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

    def record_written(self, canonical_url: str, content_sha256: str, revision: int) -> None:
        """The record's line is in the output: the page is finished for this crawl."""
        self.db.execute(
            "INSERT INTO pages (canonical_url, url, queued_crawl) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            (canonical_url, canonical_url, self.crawl_id),
        )
        self.db.execute(
            "UPDATE pages SET content_sha256 = ?, revision = ?, done_crawl = ?, written_crawl = ? "
            "WHERE canonical_url = ?",
            (content_sha256, revision, self.crawl_id, self.crawl_id, canonical_url),
        )
        self.db.execute(
            "INSERT OR REPLACE INTO revisions (canonical_url, revision, content_sha256, crawl_id) VALUES (?, ?, ?, ?)",
            (canonical_url, revision, content_sha256, self.crawl_id),
        )

    # --- revisions and de-duplication ------------------------------------------------------------

    def previous_revision(self, canonical_url: str, crawl_id: int | None = None) -> tuple[int, str] | None:
        """(revision, text hash) of the page's last record written before crawl ``crawl_id``
        (default: this crawl), or ``None`` for a page that never gave one."""
        row = self.db.execute(
            "SELECT revision, content_sha256 FROM revisions WHERE canonical_url = ? AND crawl_id < ? "
            "ORDER BY revision DESC LIMIT 1",
            (canonical_url, self.crawl_id if crawl_id is None else crawl_id),
        ).fetchone()
        return (row[0], row[1]) if row else None

    def written_in_crawl(self, canonical_url: str) -> bool:
        row = self.db.execute(
            "SELECT 1 FROM pages WHERE canonical_url = ? AND written_crawl = ?", (canonical_url, self.crawl_id)
        ).fetchone()
        return row is not None

    def text_held_by_other(self, content_sha256: str, canonical_url: str, crawl_id: int | None = None) -> bool:
        """Another page's latest record as of crawl ``crawl_id`` (default: this crawl, its records
        so far included) has this text."""
        crawl = self.crawl_id if crawl_id is None else crawl_id
        row = self.db.execute(
            "SELECT 1 FROM revisions AS r WHERE r.content_sha256 = ? AND r.canonical_url != ? AND r.crawl_id <= ? "
            "AND r.revision = (SELECT MAX(revision) FROM revisions WHERE canonical_url = r.canonical_url "
            "AND crawl_id <= ?) LIMIT 1",
            (content_sha256, canonical_url, crawl, crawl),
        ).fetchone()
        return row is not None

    def last_crawl(self) -> int:
        row = self.db.execute("SELECT MAX(id) FROM crawls").fetchone()
        return row[0] or 0

    def reconcile(self, records: Iterable[dict]) -> int:
        """Mark the records already in the previous run's output as written; how many were not."""
        missing = 0
        for record in records:
            if not self.is_done(record["canonical_url"]):
                missing += 1
                self.record_written(record["canonical_url"], record["content_sha256"], record.get("revision", 1))
        return missing
