"""What a crawl did: ``report.json`` and ``report.md`` beside its output, and a progress line.

``CrawlReport`` (an extension, in the style of Scrapy's ``LogStats``) writes the report once the crawl's
outcome is decided (``crawler.extensions.CrawlOutcome`` sends ``crawl_outcome_decided`` after the outputs
are closed), in the folder of the first ``FEEDS`` entry (what ``-O``/``-o`` gave), else in the
``CRAWL_STATE`` folder, else nowhere (an info line says so). Both files are written atomically (a
temporary file in the same folder, then a rename). ``REPORT_ENABLED = False`` turns it off.

``CrawlProgress`` logs a progress line every ``PROGRESS_INTERVAL`` seconds (0 turns it off) on the
``crawler.report`` logger: pages done, records, errors and the rate in pages per minute.

The report is built from the crawl stats only (``build_report``), so ``scrapy crawl`` can also write one
for a spider that could not start (``crawler/commands/crawl.py``). ``report.json`` is the contract; its
keys are listed in README.md ("Crawl reports").
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from scrapy import Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.settings import BaseSettings
from scrapy.statscollectors import StatsCollector
from scrapy.utils.asyncio import create_looping_call

from crawler.extensions import (
    FAILED_KEY,
    INTERRUPTED_EXIT,
    INTERRUPTED_KEY,
    SHUTDOWN,
    CrawlOutcome,
    crawl_outcome_decided,
    local_feed_path,
)
from crawler.state import configured_state_dir
from pipelines.schema import DATE_FIELDS

__all__ = [
    "CrawlProgress",
    "CrawlReport",
    "REPORT_VERSION",
    "build_report",
    "render_markdown",
    "report_folder",
    "write_report",
]

logger = logging.getLogger(__name__)

REPORT_VERSION = 1
REPORT_JSON = "report.json"
REPORT_MD = "report.md"

# Scrapy 2.19 raises DownloadCancelledError only when a body exceeds DOWNLOAD_MAXSIZE (announced by
# Content-Length, or counted while it arrives); RetryMiddleware does not retry it.
TOO_LARGE_KEY = "downloader/exception_type_count/scrapy.exceptions.DownloadCancelledError"
# A robots.txt refusal reaches the downloader stats as an IgnoreRequest: a skip, not an error.
NOT_AN_ERROR = {"downloader/exception_type_count/scrapy.exceptions.IgnoreRequest"}

# Normalised skip reasons -> the stats they add up. ``archive/skipped/*`` keys not named here are
# reported under their own name.
SKIP_SOURCES: dict[str, tuple[str, ...]] = {
    "robots": ("robotstxt/forbidden",),
    "off_host": ("archive/links/offsite", "offsite/filtered"),
    "duplicate": ("dupefilter/filtered", "archive/skipped/duplicate_url", "archive/skipped/duplicate_content"),
    "too_large": (TOO_LARGE_KEY, "archive/skipped/too_large"),
    "not_html": ("archive/skipped/not_html",),
    "decode_error": ("archive/skipped/binary", "archive/skipped/unparsable", "archive/skipped/empty"),
    "listing": ("archive/skipped/listing_page",),
    "invalid_record": ("archive/skipped/invalid_record",),
}
HTTP_ERROR_PREFIX = "httperror/response_ignored_status_count/"
STATUS_PREFIX = "downloader/response_status_count/"
SKIPPED_PREFIX = "archive/skipped/"


# --------------------------------------------------------------------------- building the report


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def _by_suffix(stats: dict[str, Any], prefix: str) -> dict[str, int]:
    """``{prefix + name: n}`` -> ``{name: n}``, largest first, then by name."""
    found = {k[len(prefix):]: int(v) for k, v in stats.items() if k.startswith(prefix) and isinstance(v, int)}
    return dict(sorted(found.items(), key=lambda kv: (-kv[1], kv[0])))


def _status_key(code: str) -> tuple[int, str]:
    return (int(code), code) if code.isdigit() else (10**6, code)


def _int(stats: dict[str, Any], key: str) -> int:
    value = stats.get(key, 0)
    return int(value) if isinstance(value, (int, float)) else 0


def build_report(
    stats: dict[str, Any],
    *,
    spider: str,
    start_url: str | None,
    output: str | None = None,
    finish_reason: str | None = None,
    failure_reason: str | None = None,
    start_time: datetime | None = None,
    end_time: datetime | None = None,
) -> dict[str, Any]:
    """The report of one crawl, from its stats (a plain dict). Missing stats count as 0."""
    start = start_time or stats.get("start_time")
    end = end_time or stats.get("finish_time")
    duration = stats.get("elapsed_time_seconds")
    if duration is None and isinstance(start, datetime) and isinstance(end, datetime):
        duration = (end - start).total_seconds()
    duration = round(float(duration or 0.0), 3)
    failure = failure_reason if failure_reason is not None else stats.get(FAILED_KEY)
    finish_reason = finish_reason if finish_reason is not None else stats.get("finish_reason")
    # Stopped by Ctrl-C or SIGTERM and not failed (crawler/extensions.py): resumable, exit status 130.
    interrupted = not failure and (finish_reason == SHUTDOWN or bool(stats.get(INTERRUPTED_KEY)))

    by_status = dict(sorted(_by_suffix(stats, STATUS_PREFIX).items(), key=lambda kv: _status_key(kv[0])))
    fetched = sum(by_status.values())
    written = _int(stats, "archive/records") or _int(stats, "item_scraped_count")
    # Another component counts new and changed records on a re-crawl; without it every record is new.
    new = _int(stats, "archive/records/new") if "archive/records/new" in stats else written

    skipped: dict[str, Any] = {}
    detail: dict[str, int] = {}
    for reason, keys in SKIP_SOURCES.items():
        skipped[reason] = sum(_int(stats, k) for k in keys)
        detail.update({k: _int(stats, k) for k in keys if k in stats})
    named = {key for keys in SKIP_SOURCES.values() for key in keys}
    for key, value in sorted(stats.items()):
        if key.startswith(SKIPPED_PREFIX) and key not in named and isinstance(value, int):
            skipped[key[len(SKIPPED_PREFIX):]] = value
            detail[key] = value
    skipped["http_error"] = dict(sorted(_by_suffix(stats, HTTP_ERROR_PREFIX).items(), key=lambda kv: _status_key(kv[0])))

    download_errors = {
        k.rsplit("/", 1)[1].rsplit(".", 1)[-1]: _int(stats, k)
        for k in sorted(stats)
        if k.startswith("downloader/exception_type_count/") and k not in NOT_AN_ERROR and k != TOO_LARGE_KEY
    }

    return {
        "report_version": REPORT_VERSION,
        "spider": spider,
        "start_url": start_url,
        "output": output,
        "start_time": _iso(start) if isinstance(start, datetime) else None,
        "end_time": _iso(end) if isinstance(end, datetime) else None,
        "duration_seconds": duration,
        "finish_reason": finish_reason,
        "status": "failed" if failure else "interrupted" if interrupted else "ok",
        "failure_reason": failure or None,
        "exit_status": 1 if failure else INTERRUPTED_EXIT if interrupted else 0,
        "pages": {
            "fetched": fetched,
            "by_status": by_status,
            "per_second": round(fetched / duration, 3) if duration > 0 else 0.0,
            "read": _int(stats, "archive/pages/fetched"),
            "download_errors": download_errors,
            # Known pages that answered 404 or 410 (the crawl state remembers them).
            "gone": _int(stats, "archive/pages/gone"),
        },
        "records": {
            "written": written,
            "new": new,
            "changed": _int(stats, "archive/records/changed"),
            "unchanged": _int(stats, "archive/pages/unchanged"),
        },
        "skipped": skipped,
        "skipped_detail": detail,
        "faults": {
            # Requests that gave no page for good (after retries), by reason (crawler/faults.py).
            "failed": _by_suffix(stats, "archive/faults/"),
            # Requests the crawl would not send: its scope, robots.txt (and hosts whose robots.txt was unreachable).
            "refused": {
                "out_of_scope": sum(_by_suffix(stats, "archive/scope/refused/").values()),
                **{f"out_of_scope/{k}": v for k, v in _by_suffix(stats, "archive/scope/refused/").items()},
                "robots": _int(stats, "robotstxt/forbidden"),
                "robots_unreachable_hosts": _int(stats, "archive/robots/unreachable"),
            },
            # Links not followed: depth, page budget, generated paths (crawler/frontier.py).
            "not_followed": _by_suffix(stats, "archive/frontier/"),
        },
        "records_missing": {f: max(written - _int(stats, f"archive/records/with/{f}"), 0) for f in DATE_FIELDS},
        "sections": _by_suffix(stats, "archive/records/section/"),
        "languages": _by_suffix(stats, "archive/records/language/"),
    }


# --------------------------------------------------------------------------- report.md


def _cell(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def _table(header: tuple[str, str], rows: list[tuple[Any, Any]]) -> list[str]:
    if not rows:
        return ["(none)", ""]
    lines = [f"| {header[0]} | {header[1]} |", "|---|---:|"]
    lines += [f"| {_cell(a)} | {_cell(b)} |" for a, b in rows]
    return lines + [""]


def render_markdown(report: dict[str, Any]) -> str:
    """report.md: the same facts as report.json, as short tables."""
    pages, records, skipped = report["pages"], report["records"], report["skipped"]
    status = "ok" if report["status"] == "ok" else f"**FAILED**: {report['failure_reason']}"
    if report["status"] == "interrupted":
        status = "**INTERRUPTED**: run the same command again (same CRAWL_STATE) to resume"
    lines = [
        f"# Crawl report: {report['spider']}",
        "",
        "| | |",
        "|---|---|",
        f"| start URL | {_cell(report['start_url'] or '')} |",
        f"| output | {_cell(report['output'] or '(none)')} |",
        f"| started (UTC) | {report['start_time'] or ''} |",
        f"| ended (UTC) | {report['end_time'] or ''} |",
        f"| duration | {report['duration_seconds']:.1f} s |",
        f"| status | {_cell(status)} |",
        f"| exit status | {report['exit_status']} |",
        f"| finish reason | {_cell(report['finish_reason'] or '')} |",
        f"| pages fetched | {pages['fetched']} ({pages['per_second']:.2f} per second) |",
        f"| records written | {records['written']} (new {records['new']}, changed {records['changed']}; "
        f"unchanged pages {records['unchanged']}) |",
        "",
        "## Pages fetched by HTTP status",
        "",
        *_table(("status", "pages"), list(pages["by_status"].items())),
    ]
    if pages["download_errors"]:
        lines += ["## Download errors (no response)", "", *_table(("error", "requests"), list(pages["download_errors"].items()))]
    skip_rows = [(k, v) for k, v in skipped.items() if k != "http_error"]
    skip_rows += [(f"http_error {code}", n) for code, n in skipped["http_error"].items()]
    faults = report.get("faults") or {}
    lines += [
        "## Requests that failed (after retries)",
        "",
        *_table(("reason", "requests"), list((faults.get("failed") or {}).items())),
        "## Requests refused, links not followed",
        "",
        *_table(("reason", "count"), [(k, v) for k, v in (faults.get("refused") or {}).items() if v]
                + [(f"not followed: {k}", v) for k, v in (faults.get("not_followed") or {}).items()]),
        "## Pages skipped",
        "",
        *_table(("reason", "count"), skip_rows),
        "## Records missing a date field",
        "",
        *_table(("field", "records without it"), list(report["records_missing"].items())),
        "## Records per section",
        "",
        *_table(("section", "records"), list(report["sections"].items())),
        "## Records per language",
        "",
        *_table(("language", "records"), list(report["languages"].items())),
    ]
    return "\n".join(lines).rstrip("\n") + "\n"


# --------------------------------------------------------------------------- where and how it is written


def _local_folder(uri: str, spider: str) -> Path | None:
    """The folder of a local file feed URI, or None (stdout, s3://, ftp://, an unresolvable template)."""
    path = local_feed_path(uri)
    if path is None:
        return None
    folder = str(path.parent).replace("%(name)s", spider)
    if "%(" in folder:
        return None
    return Path(folder).absolute()


def first_feed(settings: BaseSettings) -> str | None:
    feeds = settings.getdict("FEEDS")
    if not feeds:
        return None
    uri = next(iter(feeds))
    return uri.absolute().as_uri() if isinstance(uri, Path) else str(uri)


def state_folder(settings: BaseSettings, spider: str) -> Path | None:
    """The CRAWL_STATE folder when the setting is given (the report never goes to the default one)."""
    folder = configured_state_dir(settings, spider)
    return folder.absolute() if folder is not None else None


def report_folder(settings: BaseSettings, spider: str) -> tuple[Path | None, str]:
    """Where the report goes, and why: beside the first feed's file, else in CRAWL_STATE."""
    uri = first_feed(settings)
    if uri is not None:
        folder = _local_folder(uri, spider)
        if folder is not None:
            return folder, f"beside the output {uri}"
    folder = state_folder(settings, spider)
    if folder is not None:
        return folder, "in the CRAWL_STATE folder"
    if uri is not None:
        return None, f"the output {uri} is not a local file and CRAWL_STATE is not set"
    return None, "no output (FEEDS, -o/-O) and no CRAWL_STATE"


def _write_atomically(path: Path, text: str) -> None:
    """A temporary file beside ``path`` (created with the usual permissions), fsynced, then renamed."""
    temp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(temp, "x", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise


def write_report(report: dict[str, Any], folder: Path) -> tuple[Path, Path]:
    """Writes report.json and report.md into ``folder`` (created if missing), each atomically."""
    folder.mkdir(parents=True, exist_ok=True)
    json_path, md_path = folder / REPORT_JSON, folder / REPORT_MD
    _write_atomically(json_path, json.dumps(report, ensure_ascii=False, indent=2) + "\n")
    _write_atomically(md_path, render_markdown(report))
    return json_path, md_path


def save_report(report: dict[str, Any], settings: BaseSettings, spider: str) -> Path | None:
    """Writes the report where it belongs (falling back to CRAWL_STATE when the output's folder cannot
    be written); logs where it went, or why it was not written. Returns the report.json path."""
    folder, why = report_folder(settings, spider)
    if folder is None:
        logger.info("No crawl report written: %s", why)
        return None
    candidates = [(folder, why)]
    fallback = state_folder(settings, spider)
    if fallback is not None and fallback != folder:
        candidates.append((fallback, "in the CRAWL_STATE folder"))
    for place, where in candidates:
        try:
            json_path, md_path = write_report(report, place)
        except OSError as exc:
            logger.error("Cannot write the crawl report in %s: %s", place, exc)
            continue
        logger.info("Crawl report (%s): %s and %s", where, json_path, md_path.name)
        return json_path
    return None


# --------------------------------------------------------------------------- the extensions


class CrawlReport:
    """Writes report.json and report.md at the end of every crawl (``REPORT_ENABLED``)."""

    def __init__(self, stats: StatsCollector, settings: BaseSettings):
        self.stats = stats
        self.settings = settings
        self.spider: Spider | None = None
        self.written = False
        self.outcome_decides = True

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CrawlReport:
        if not crawler.settings.getbool("REPORT_ENABLED", True):
            raise NotConfigured("REPORT_ENABLED is False")
        extension = cls(crawler.stats, crawler.settings)
        extension.crawler = crawler
        crawler.signals.connect(extension.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(extension.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(extension.outcome_decided, signal=crawl_outcome_decided)
        return extension

    def spider_opened(self, spider: Spider) -> None:
        self.spider = spider
        # CrawlOutcome decides once the outputs are closed and then signals; without it, write at close.
        self.outcome_decides = any(isinstance(ext, CrawlOutcome) for ext in self.crawler.extensions.middlewares)

    def spider_closed(self, spider: Spider, reason: str) -> None:
        if not self.outcome_decides:
            self.write(spider, reason, self.stats.get_value(FAILED_KEY))

    def outcome_decided(self, spider: Spider, reason: str, failure: str | None) -> None:
        self.write(spider, reason, failure)

    def write(self, spider: Spider, reason: str, failure: str | None) -> Path | None:
        if self.written:
            return None
        self.written = True
        stats = self.stats.get_stats()
        report = build_report(
            stats,
            spider=spider.name,
            start_url=getattr(spider, "start_url", None),
            output=first_feed(self.settings),
            finish_reason=stats.get("finish_reason") or reason,
            failure_reason=failure,
            end_time=stats.get("finish_time") or datetime.now(timezone.utc),
        )
        return save_report(report, self.settings, spider.name)


class CrawlProgress:
    """Logs pages done, records, errors and the rate every ``PROGRESS_INTERVAL`` seconds."""

    def __init__(self, stats: StatsCollector, interval: float = 10.0):
        self.stats = stats
        self.interval = interval
        self.task = None
        self.previous_pages = 0

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CrawlProgress:
        interval = crawler.settings.getfloat("PROGRESS_INTERVAL", 10.0)
        if interval <= 0:
            raise NotConfigured("PROGRESS_INTERVAL is 0")
        extension = cls(crawler.stats, interval)
        crawler.signals.connect(extension.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(extension.spider_closed, signal=signals.spider_closed)
        return extension

    def spider_opened(self, spider: Spider) -> None:
        self.started = datetime.now(timezone.utc)
        self.task = create_looping_call(self.log, spider)
        self.task.start(self.interval, now=False)

    def progress(self) -> dict[str, Any]:
        stats = self.stats.get_stats()
        pages = _int(stats, "response_received_count")
        download_errors = sum(
            _int(stats, k) for k in stats
            if k.startswith("downloader/exception_type_count/") and k not in NOT_AN_ERROR
        )
        elapsed = max((datetime.now(timezone.utc) - self.started).total_seconds(), 1e-9)
        recent = (pages - self.previous_pages) * 60.0 / self.interval
        self.previous_pages = pages
        return {
            "pages": pages,
            "records": _int(stats, "item_scraped_count"),
            "errors": download_errors + _int(stats, "httperror/response_ignored_count"),
            "rate": recent,
            "average": pages * 60.0 / elapsed,
        }

    def log(self, spider: Spider) -> None:
        logger.info(
            "Progress: %(pages)d pages done, %(records)d records, %(errors)d errors, "
            "%(rate).1f pages/min (%(average).1f pages/min since the start)",
            self.progress(),
            extra={"spider": spider},
        )

    def spider_closed(self, spider: Spider, reason: str) -> None:
        if self.task is not None and self.task.running:
            self.task.stop()
