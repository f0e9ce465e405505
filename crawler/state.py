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

WARC capture (``captures``, written by ``crawler/capture.py``): per canonical URL the page's last
response record (target URI, WARC-Date, record ID, payload digest, HTTP status line and headers), which
later revisit records refer to. With ``WARC_DIR`` set, capture is part of being finished: a page whose
exchange could not be written in this crawl is not finished (a trigger on ``pages.done_crawl``
enforces it, whoever marks the page), and a page with no usable capture (none yet, a write that failed,
or fetched in full by a crawl without ``WARC_DIR``) is fetched unconditionally (``capture_missing``).
"""

from __future__ import annotations

import gzip
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

    from crawler.warc import Capture, CaptureRef

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
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
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

# WARC capture (crawler/capture.py): each page's last response record, what revisits refer to.
# ``stale``: the page was fetched in full since, without capture; ``missing_crawl``: the crawl in which
# an exchange of the page could not be written (cleared by the next one written). A page is not
# finished in a crawl while its capture of that crawl is missing, whichever method marks it.
CAPTURES_SCHEMA = """
CREATE TABLE IF NOT EXISTS captures (
    canonical_url TEXT PRIMARY KEY,
    target_uri TEXT,
    warc_date TEXT,
    record_id TEXT,
    payload_digest TEXT,
    http TEXT,
    crawl_id INTEGER,
    stale INTEGER NOT NULL DEFAULT 0,
    missing_crawl INTEGER
);
CREATE TRIGGER IF NOT EXISTS finished_only_once_captured AFTER UPDATE OF done_crawl ON pages
WHEN NEW.done_crawl IS NOT NULL AND NEW.done_crawl IS NOT OLD.done_crawl AND EXISTS (
    SELECT 1 FROM captures WHERE canonical_url = NEW.canonical_url AND missing_crawl = NEW.done_crawl)
BEGIN
    UPDATE pages SET done_crawl = OLD.done_crawl WHERE canonical_url = NEW.canonical_url;
END;
"""

# What became of each URL in a run, and the links of the site's index pages (crawler/report.py
# lists them in the crawl report): see ``CrawlState.outcome`` and ``CrawlState.index_links``.
OUTCOMES_SCHEMA = """
CREATE TABLE IF NOT EXISTS outcomes (
    run_id INTEGER NOT NULL,
    crawl_id INTEGER NOT NULL,
    kind TEXT NOT NULL,
    url TEXT NOT NULL,
    detail TEXT,
    source TEXT,
    UNIQUE (run_id, kind, url)
);
CREATE INDEX IF NOT EXISTS outcomes_by_crawl ON outcomes (crawl_id, url);
CREATE TABLE IF NOT EXISTS index_links (
    page TEXT NOT NULL,
    link TEXT NOT NULL,
    crawl_id INTEGER NOT NULL,
    PRIMARY KEY (page, link)
);
"""
# Links kept per index page, at most (the first ones on the page).
MAX_INDEX_LINKS = 10_000


def configured_state_dir(settings: BaseSettings, spider_name: str) -> Path | None:
    """``CRAWL_STATE`` as given (``<spider>`` or ``%(name)s`` stand for the spider), else ``None``."""
    configured = str(settings.get("CRAWL_STATE") or "").strip()
    if not configured:
        return None
    return Path(configured.replace("<spider>", spider_name).replace("%(name)s", spider_name))


def state_dir(settings: BaseSettings, spider_name: str, site: str | None = None) -> Path:
    """``CRAWL_STATE`` when set, else ``state/<spider>/<site>/`` under the working directory: each
    site (``site_origin``) has its own crawl state and learned boilerplate."""
    configured = configured_state_dir(settings, spider_name)
    if configured is not None:
        return configured
    folder = Path("state") / spider_name
    return folder / site_slug(site) if site else folder


def site_origin(start_url: str, profile) -> str:
    """The site a crawl belongs to: scheme, host and port of its start URL, the profile's host
    aliases and scheme folded (``http://derechos.org`` and ``https://www.derechos.org`` are one
    site; a mirror on another port is another)."""
    from pipelines.urls import canonical_url

    parts = urlsplit(canonical_url(start_url, profile))
    return f"{parts.scheme}://{parts.netloc}"


def site_slug(site: str) -> str:
    """A file-name-safe form of a site key ("127.0.0.1:8080" -> "127.0.0.1_8080")."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", site)


def requires_contact(settings: BaseSettings, start_url: str) -> bool:
    """A crawl of a real (non-local) site must name its operator, unless USER_AGENT is set outright."""
    if settings.get("CONTACT_URL"):
        return False
    from scrapy.settings import SETTINGS_PRIORITIES

    if (settings.getpriority("USER_AGENT") or 0) >= SETTINGS_PRIORITIES["cmdline"]:
        return False
    from crawler.scope import special_address

    return not special_address(urlsplit(start_url).hostname or "")


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

    # This run captures its exchanges in WARC files (set by crawler.capture.WarcCaptureMiddleware).
    capturing = False

    def __init__(self, path: Path, *, read_only: bool = False, site: str | None = None):
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
        self.db.executescript(OUTCOMES_SCHEMA)
        self.db.executescript(CAPTURES_SCHEMA)
        self.crawl_id = 0
        self.run_id = 0
        self.resumed = False
        if site is not None:
            self._claim(site)

    def _claim(self, site: str) -> None:
        """The folder belongs to one site: the first crawl names it, another site is refused."""
        row = self.db.execute("SELECT value FROM meta WHERE key = 'site'").fetchone()
        if row is None:
            if self.db.execute("SELECT 1 FROM pages LIMIT 1").fetchone() is None:
                self.db.execute("INSERT INTO meta (key, value) VALUES ('site', ?)", (site,))
            return  # a folder from before sites were recorded: left as it was
        if row[0] != site:
            self.db.close()
            raise ValueError(f"the crawl state {self.path.parent} belongs to the site {row[0]}, not {site}: "
                             "give each site its own CRAWL_STATE (or leave it unset: state/<spider>/<site>/)")

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
        if not self.capturing:
            self._uncaptured(canonical_url, status)
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

    # --- WARC capture (crawler/capture.py) -----------------------------------------------------------

    def last_capture(self, canonical_url: str) -> CaptureRef | None:
        """The page's last whole 200 response record, what a revisit of it refers to; None when there
        is none."""
        from crawler.warc import CaptureRef

        row = self.db.execute(
            "SELECT target_uri, warc_date, record_id, payload_digest, http FROM captures "
            "WHERE canonical_url = ? AND target_uri IS NOT NULL",
            (canonical_url,),
        ).fetchone()
        return CaptureRef.from_fields(*row) if row else None

    def captured(self, canonical_url: str, capture: Capture) -> None:
        """An exchange of the page is in a WARC file: a response record (for a whole 200, the capture
        later revisits refer to) or a revisit record of the last capture."""
        ref = capture.ref
        if capture.revisit:  # the last capture confirmed
            self.db.execute(
                "INSERT INTO captures (canonical_url) VALUES (?) "
                "ON CONFLICT DO UPDATE SET stale = 0, missing_crawl = NULL",
                (canonical_url,),
            )
            return
        if ref is None:
            # An error or a redirect leaves the last capture as it was; a 200 cut short is the page
            # fetched in full and not captured whole.
            self.db.execute(
                "INSERT INTO captures (canonical_url, stale) VALUES (?, ?) "
                "ON CONFLICT DO UPDATE SET stale = MAX(stale, excluded.stale), missing_crawl = NULL",
                (canonical_url, int(capture.status == 200)),
            )
            return
        self.db.execute(
            "INSERT INTO captures (canonical_url, target_uri, warc_date, record_id, payload_digest, http, crawl_id) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET target_uri = excluded.target_uri, "
            "warc_date = excluded.warc_date, record_id = excluded.record_id, "
            "payload_digest = excluded.payload_digest, http = excluded.http, crawl_id = excluded.crawl_id, "
            "stale = 0, missing_crawl = NULL",
            (canonical_url, ref.target_uri, ref.date, ref.record_id, ref.payload_digest, ref.http_json(),
             self.crawl_id),
        )

    def capture_failed(self, canonical_url: str) -> None:
        """An exchange of the page could not be written: the page is not finished in this crawl (nor
        counts as finished if it already did), and its next request is unconditional."""
        self.db.execute(
            "INSERT INTO captures (canonical_url, missing_crawl) VALUES (?, ?) "
            "ON CONFLICT DO UPDATE SET missing_crawl = excluded.missing_crawl",
            (canonical_url, self.crawl_id),
        )
        self.db.execute("UPDATE pages SET done_crawl = NULL WHERE canonical_url = ? AND done_crawl = ?",
                        (canonical_url, self.crawl_id))

    def _uncaptured(self, canonical_url: str, status: int) -> None:
        """A run without capture fetched the page: a 200 leaves its last capture behind (the page
        may have changed); no capture of this run is missing."""
        self.db.execute(
            "UPDATE captures SET stale = CASE WHEN ? = 200 THEN 1 ELSE stale END, missing_crawl = NULL "
            "WHERE canonical_url = ?",
            (status, canonical_url),
        )

    def capture_missing(self, canonical_url: str) -> bool:
        """This run captures, and the page has no capture that its next answer could be a revisit of
        (never captured, cut short, a write that failed, fetched since without capture): it is asked
        for without If-None-Match / If-Modified-Since, so that its payload is captured."""
        if not self.capturing:
            return False
        row = self.db.execute(
            "SELECT target_uri IS NULL OR stale OR missing_crawl IS NOT NULL FROM captures WHERE canonical_url = ?",
            (canonical_url,),
        ).fetchone()
        return row is None or bool(row[0])

    # --- what became of each URL (the crawl report) -------------------------------------------------

    def outcome(self, url: str, kind: str, detail: str | None = None, source: str | None = None) -> bool:
        """Note what became of ``url`` in this run: ``kind`` is ``record`` (its record was written;
        ``detail`` ``new`` or ``changed``), ``unchanged``, ``gone``, ``redirected`` (``detail``: where
        to), ``skipped/<reason>``, ``failed/<reason>``, ``refused/<reason>``, ``off_host`` or
        ``not_followed/<reason>``; ``source``: the page that linked to it, when known. A URL is noted
        once per kind and run (the first time); True when this is the first."""
        cursor = self.db.execute(
            "INSERT OR IGNORE INTO outcomes (run_id, crawl_id, kind, url, detail, source) VALUES (?, ?, ?, ?, ?, ?)",
            (self.run_id, self.crawl_id, kind, url, detail, source),
        )
        return cursor.rowcount > 0

    def index_links(self, page: str, links: Iterable[str]) -> None:
        """The links (canonical URLs) an index page gave in this crawl, replacing what an earlier
        crawl noted for it; at most ``MAX_INDEX_LINKS``."""
        rows = []
        for link in links:
            if len(rows) >= MAX_INDEX_LINKS:
                break
            rows.append((page, link, self.crawl_id))
        self.db.execute("BEGIN")
        try:
            self.db.execute("DELETE FROM index_links WHERE page = ? AND crawl_id != ?", (page, self.crawl_id))
            self.db.executemany("INSERT OR IGNORE INTO index_links (page, link, crawl_id) VALUES (?, ?, ?)", rows)
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def prune_outcomes(self) -> None:
        """Forget the outcomes of earlier crawls (their reports have them): the table holds this
        crawl's runs only."""
        self.db.execute("DELETE FROM outcomes WHERE crawl_id < ?", (self.crawl_id,))

    def run_outcomes(self, run_id: int) -> Iterator[tuple[str, str, str | None, str | None]]:
        """(kind, url, detail, source) of a run, in the order they were noted."""
        rows = self.db.execute(
            "SELECT kind, url, detail, source FROM outcomes WHERE run_id = ? ORDER BY rowid", (run_id,))
        yield from rows

    def outcomes_of(self, url: str, crawl_id: int) -> list[tuple[str, str | None]]:
        """(kind, detail) of ``url`` in every run of crawl ``crawl_id``, oldest first."""
        return self.db.execute(
            "SELECT kind, detail FROM outcomes WHERE crawl_id = ? AND url = ? ORDER BY rowid", (crawl_id, url)
        ).fetchall()

    def all_index_links(self) -> Iterator[tuple[str, str, int]]:
        """(page, link, crawl) of every index page noted, page by page in the order noted."""
        yield from self.db.execute("SELECT page, link, crawl_id FROM index_links ORDER BY rowid").fetchall()

    def progress(self, canonical_url: str, crawl_id: int) -> tuple[bool, bool, bool] | None:
        """(queued, finished, record written) of a page in crawl ``crawl_id``; None for a page never queued."""
        row = self.db.execute(
            "SELECT queued_crawl = ?1, done_crawl = ?1, written_crawl = ?1 FROM pages WHERE canonical_url = ?2",
            (crawl_id, canonical_url),
        ).fetchone()
        return None if row is None else (bool(row[0]), bool(row[1]), bool(row[2]))

    def queue_counts(self, crawl_id: int) -> tuple[int, int]:
        """(pages queued, of which finished) in crawl ``crawl_id``."""
        row = self.db.execute(
            "SELECT COUNT(*), COALESCE(SUM(done_crawl = ?1), 0) FROM pages WHERE queued_crawl = ?1", (crawl_id,)
        ).fetchone()
        return row[0], row[1]
