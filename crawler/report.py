"""What a crawl did: ``report.json``, ``report.md`` and ``report.html`` beside its output, a copy of
each run's report in ``reports/<run>/`` with an index of runs, and a progress line.

``CrawlReport`` (an extension, in the style of Scrapy's ``LogStats``) writes the report once the crawl's
outcome is decided (``crawler.extensions.CrawlOutcome`` sends ``crawl_outcome_decided`` after the outputs
are closed), in the folder of the first ``FEEDS`` entry (what ``-O``/``-o`` gave), else in the
``CRAWL_STATE`` folder, else nowhere (an info line says so). Every file is written atomically (a
temporary file in the same folder, then a rename). ``REPORT_ENABLED = False`` turns it off.

The counts come from the crawl stats (``build_report``), so ``scrapy crawl`` can also write a report
for a spider that could not start (``crawler/commands/crawl.py``). The URLs behind them come from the
crawl state: the spider notes what became of every URL (``CrawlState.outcome``: a record written, a
skip and its reason, an HTTP error, a refusal, a link not followed) and which links the site's index
pages gave (``CrawlState.index_links``); the report lists them by reason and compares the index
pages' links with what the crawl made of them (``completeness``). While the crawl runs, the extension
counts the records as their lines are written (``crawler.feedstorage.record_written``: written, new
and changed add up), the records dropped by the pipelines, and the responses over time (bounded).

``report.json`` is the contract; its keys are listed in README.md ("Crawl reports"). ``report.html``
is for a person: the same facts in words, tables and inline SVG plots, no script and nothing fetched
from the network (its Content-Security-Policy forbids both).

``CrawlProgress`` logs a progress line every ``PROGRESS_INTERVAL`` seconds (0 turns it off) on the
``crawler.report`` logger: pages done, records, errors and the rate in pages per minute.
"""

from __future__ import annotations

import ast
import contextlib
import html
import json
import logging
import math
import os
import re
import sqlite3
import time
import uuid
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable

from scrapy import Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.settings import BaseSettings
from scrapy.statscollectors import StatsCollector
from scrapy.utils.asyncio import create_looping_call
from scrapy.utils.misc import load_object

from crawler.extensions import (
    DOWNLOAD_ERROR_PREFIX,
    FAILED_KEY,
    INTERRUPTED_EXIT,
    INTERRUPTED_KEY,
    SHUTDOWN,
    TOO_LARGE_KEY,
    CrawlOutcome,
    _is_refusal,
    crawl_outcome_decided,
    local_feed_path,
)
from crawler.feedstorage import RecordLinesExporter, record_written
from crawler.scope import INTERNAL
from crawler.state import CrawlState, configured_state_dir
from pipelines.schema import DATE_FIELDS

__all__ = [
    "CrawlProgress",
    "CrawlReport",
    "REPORT_VERSION",
    "build_report",
    "reason_words",
    "render_html",
    "render_index",
    "render_markdown",
    "report_folder",
    "write_report",
]

logger = logging.getLogger(__name__)

REPORT_VERSION = 1
REPORT_JSON = "report.json"
REPORT_MD = "report.md"
REPORT_HTML = "report.html"
# Each run's report is kept in REPORTS/<run id>/, listed in REPORTS/index.json and index.html.
REPORTS = "reports"
INDEX_JSON = "index.json"
INDEX_HTML = "index.html"
# URLs shown per reason in report.md and report.html (report.json has all of them): REPORT_URLS_SHOWN.
URLS_SHOWN = 20

# Scrapy 2.19 raises DownloadCancelledError only when a body exceeds DOWNLOAD_MAXSIZE (announced by
# Content-Length, or counted while it arrives); RetryMiddleware does not retry it.

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
# A reason of ``archive/skipped/<reason>`` (the spider's and the pipelines') -> its name in the report.
SKIP_NAMES = {key.rsplit("/", 1)[1]: name for name, keys in SKIP_SOURCES.items()
              for key in keys if key.startswith("archive/skipped/")}
# Requests Scrapy's duplicate filter dropped (noted by CrawlReport) are duplicates too.
SKIP_NAMES["duplicate_request"] = "duplicate"
# Skips decided by the pipelines, on records already built (the rest are decided reading the page).
PIPELINE_SKIPS = ("duplicate_url", "duplicate_content")
HTTP_ERROR_PREFIX = "httperror/response_ignored_status_count/"
STATUS_PREFIX = "downloader/response_status_count/"
SKIPPED_PREFIX = "archive/skipped/"
# What this module counts while the crawl runs (CrawlReport): records as their lines are written.
WRITTEN = "archive/records/written"
DROPPED = "archive/records/dropped/"
HELD = "archive/boilerplate/held"

# Every reason the report names, in words: the report's tables, the demo's summary (crawler/demo.py).
REASON_WORDS = {
    # skipped
    "robots": "refused by robots.txt",
    "off_host": "links to other sites or schemes, not followed (distinct URLs)",
    "duplicate": "duplicates: a page already requested, or a record already written",
    "too_large": "too large (DOWNLOAD_MAXSIZE, PAGE_MAX_BYTES)",
    "not_html": "not HTML",
    "decode_error": "could not be read as text",
    "listing": "index and listing pages: links followed, no record",
    "invalid_record": "records that did not match the schema",
    "http_error": "HTTP error answers",
    "no_text": "no body text",
    "no_title": "no title",
    "too_many_elements": "too many elements (PAGE_MAX_ELEMENTS)",
    "too_deep": "nested deeper than the parser reads",
    "record_timeout": "took longer than RECORD_TIMEOUT to read",
    "worker_died": "the worker reading it died",
    "extraction_error": "could not be extracted",
    # failed (crawler/faults.py)
    "timeout": "timed out",
    "connection_reset": "connection reset",
    "connection_refused": "connection refused",
    "dns_error": "host name not found (DNS)",
    "truncated": "answer cut short",
    "decompression_bomb": "too large once decompressed",
    "redirect_limit": "too many redirects (REDIRECT_MAX_TIMES)",
    "redirect_refused": "a redirect to no http(s) location",
    "unsupported_scheme": "unsupported URL scheme",
    "download_failed": "download failed",
    "download_error": "download error",
    "ignored": "ignored by a middleware",
    # refused, not followed
    "out_of_scope": "out of the crawl's scope",
    "robots_unreachable_hosts": "hosts whose robots.txt could not be read (everything refused)",
    "depth": "more than DEPTH_LIMIT hops from the start page",
    "budget": "over the page budget (SITE_PAGE_BUDGET)",
    "trap_counting": "generated paths: a counter (TRAP_RUN_LIMIT)",
    "trap_repeating": "generated paths: repeating segments (TRAP_MAX_SEGMENTS)",
    "offsite": "another site",
    "scheme": "not http(s)",
    "private_address": "a private address",
    # completeness
    "not_fetched": "not fetched yet",
    "not_followed": "not followed: a limit of the crawl",
    "error": "an error: HTTP error, page gone or no answer",
    "off_scope": "off scope: another site or scheme",
    "unchanged": "unchanged since the last crawl (no new record)",
    "held": "held for boilerplate learning: no record yet",
    "gone": "gone (404, 410)",
}
# Counts a URL list can fall short of: a URL is listed once per reason and run.
NO_URL = "counted without a URL of their own (the same URL more than once, or dropped before the spider saw it)"
# Shorter words for the status line.
SHORT_WORDS = {
    "listing": "index or listing pages", "decode_error": "unreadable", "no_text": "without text",
    "no_title": "without a title", "not_html": "not HTML", "too_large": "too large", "duplicate": "duplicates",
    "invalid_record": "invalid records", "too_many_elements": "too many elements", "too_deep": "nested too deep",
}
# The completeness check's reasons for a linked page that gave neither a record nor a skip, in order.
MISSING_REASONS = ("not_fetched", "not_followed", "robots", "error", "off_scope")

_EXCEPTION_WORDS = {
    "ConnectionRefusedError": "connection refused",
    "DownloadConnectionRefusedError": "connection refused",
    "DNSLookupError": "host name not found (DNS)",
    "CannotResolveHostError": "host name not found (DNS)",
    "TimeoutError": "timed out",
    "TCPTimedOutError": "timed out",
    "DownloadTimeoutError": "timed out",
    "ResponseNeverReceived": "no answer",
    "ResponseFailed": "answer failed",
    "ResponseDataLossError": "answer cut short",
    "ConnectionLost": "connection lost",
    "ConnectionDone": "connection closed",
    "DownloadCancelledError": "too large (DOWNLOAD_MAXSIZE)",
}


def reason_words(name: str) -> str:
    """A reason the report names (``robots``, ``http_404``, ``out_of_scope/offsite``...) in words."""
    if name in REASON_WORDS:
        return REASON_WORDS[name]
    if name.startswith("http_error"):
        return f"HTTP {name.split()[-1]}" if " " in name else REASON_WORDS["http_error"]
    if name.startswith("http_") and name[5:].isdigit():
        return f"HTTP {name[5:]}"
    if name.isdigit():
        return f"HTTP {name}"
    if "/" in name:
        head, _, tail = name.partition("/")
        return f"{reason_words(head)}: {reason_words(tail)}"
    if name.startswith("not followed: "):
        return f"not followed: {reason_words(name[14:])}"
    return name.replace("_", " ")


def _exception_words(name: str) -> str:
    short = name.rsplit(".", 1)[-1]
    if short in _EXCEPTION_WORDS:
        return _EXCEPTION_WORDS[short]
    return re.sub(r"(?<=[a-z])(?=[A-Z])", " ", short.removesuffix("Error")).lower() or short


def _stat_words(key: str) -> str:
    """A stats key in words (``downloader/exception_type_count/...ConnectionRefusedError`` -> ``connection refused``)."""
    if key.startswith(DOWNLOAD_ERROR_PREFIX):
        return _exception_words(key[len(DOWNLOAD_ERROR_PREFIX):])
    if key.startswith(HTTP_ERROR_PREFIX):
        return f"HTTP {key[len(HTTP_ERROR_PREFIX):]}"
    if key.startswith("archive/scope/refused/"):
        return f"out of scope ({reason_words(key.rsplit('/', 1)[1])})"
    if key.startswith("feedexport/failed_count/"):
        return "the output storage failed"
    if key.startswith("spider_exceptions/"):
        return f"{key.split('/', 1)[1]} raised"
    return {
        "robotstxt/forbidden": "refused by robots.txt",
        "offsite/filtered": "off the site",
        "archive/pages/gone": "gone (404, 410)",
        "archive/pages/unchanged": "unchanged",
        "warc/write_errors": "WARC write errors",
    }.get(key, key)


def _dict_in_words(match: re.Match) -> str:
    try:
        counts = ast.literal_eval(match.group(0))
    except (ValueError, SyntaxError):
        return match.group(0)
    if not isinstance(counts, dict):
        return match.group(0)
    words: Counter[str] = Counter()
    for key, value in counts.items():
        words[_stat_words(str(key))] += value if isinstance(value, int) else 1
    return ", ".join(f"{n} {what}" for what, n in words.most_common())


def failure_in_words(failure: str) -> str:
    """A failure reason with the stats dicts it may hold said in words."""
    return re.sub(r"\{[^{}]*\}", _dict_in_words, failure)


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


def _numeric_key(value: str) -> tuple[int, str]:
    """Sorts "404" after "200" and a non-number (an HTTP status, a year) last."""
    return (int(value), value) if value.isdigit() else (10**6, value)


def _int(stats: dict[str, Any], key: str) -> int:
    value = stats.get(key, 0)
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0


def empty_urls() -> dict[str, Any]:
    """``urls`` of a report with no crawl state to read."""
    return {"skipped": {}, "failed": {}, "refused": {}, "not_followed": {}, "unchanged": [], "redirected": [],
            "held": []}


def empty_completeness() -> dict[str, Any]:
    return {"index_pages": 0, "linked": 0, "records": 0, "unchanged": 0, "skipped": 0, "missing": 0,
            "missing_by_reason": {reason: 0 for reason in MISSING_REASONS}, "index_page_urls": [],
            "missing_pages": []}


def run_id(start: str | None, run: int | None) -> str:
    """The name of a run's folder under reports/: its start (UTC) and the crawl state's run number
    (random when it has none)."""
    stamp = (start or _iso(datetime.now(timezone.utc)) or "").replace("-", "").replace(":", "")
    return f"{stamp}-{run if run else uuid.uuid4().hex[:6]}"


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
    details: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The report of one crawl, from its stats (a plain dict; missing stats count as 0) and the
    ``details`` read from its crawl state and gathered while it ran (``CrawlReport.details``:
    ``run``, ``urls``, ``completeness``, ``queue``, ``timeline``, ``off_host``), when there are any."""
    details = details or {}
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
    status = "failed" if failure else "interrupted" if interrupted else "ok"

    by_status = dict(sorted(_by_suffix(stats, STATUS_PREFIX).items(), key=lambda kv: _numeric_key(kv[0])))
    fetched = sum(by_status.values())
    passed = _int(stats, "archive/records") or _int(stats, "item_scraped_count")
    if WRITTEN in stats:
        # Counted as each record's line was written (CrawlReport): new and changed add up to it.
        new, changed = _int(stats, f"{WRITTEN}/new"), _int(stats, f"{WRITTEN}/changed")
        written, prefix = new + changed, f"{WRITTEN}/"
    else:
        # Another component counts new and changed records on a re-crawl; without it every record is new.
        written, prefix = passed, "archive/records/"
        new = _int(stats, "archive/records/new") if "archive/records/new" in stats else written
        new = min(new, written)
        changed = min(_int(stats, "archive/records/changed"), written - new)

    skipped: dict[str, Any] = {}
    detail: dict[str, int] = {}
    for reason, keys in SKIP_SOURCES.items():
        skipped[reason] = sum(_int(stats, k) for k in keys)
        detail.update({k: _int(stats, k) for k in keys if k in stats})
    if details.get("off_host") is not None:
        # Distinct URLs (the crawl state notes each once per run), not the times they were met.
        skipped["off_host"] = details["off_host"] + _int(stats, "offsite/filtered")
    named = {key for keys in SKIP_SOURCES.values() for key in keys}
    for key, value in sorted(stats.items()):
        if key.startswith(SKIPPED_PREFIX) and key not in named and isinstance(value, int):
            skipped[key[len(SKIPPED_PREFIX):]] = value
            detail[key] = value
    skipped["http_error"] = dict(sorted(_by_suffix(stats, HTTP_ERROR_PREFIX).items(), key=lambda kv: _numeric_key(kv[0])))

    download_errors = {
        k.rsplit("/", 1)[1].rsplit(".", 1)[-1]: _int(stats, k)
        for k in sorted(stats)
        if k.startswith(DOWNLOAD_ERROR_PREFIX) and k != TOO_LARGE_KEY and not _is_refusal(k[len(DOWNLOAD_ERROR_PREFIX):])
    }
    refused_scope = _by_suffix(stats, "archive/scope/refused/")
    records_missing = {f: max(written - _int(stats, f"{prefix}with/{f}"), 0) for f in DATE_FIELDS}
    by_year = dict(sorted(_by_suffix(stats, f"{WRITTEN}/year/").items(), key=lambda kv: _numeric_key(kv[0])))

    report = {
        "report_version": REPORT_VERSION,
        "spider": spider,
        "start_url": start_url,
        "output": output,
        "start_time": _iso(start) if isinstance(start, datetime) else None,
        "end_time": _iso(end) if isinstance(end, datetime) else None,
        "duration_seconds": duration,
        "finish_reason": finish_reason,
        "status": status,
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
            # Read, and held for boilerplate learning when the run ended: no record from them yet.
            "held": _int(stats, HELD),
        },
        "records": {"written": written, "new": new, "changed": changed,
                    "unchanged": _int(stats, "archive/pages/unchanged")},
        "skipped": skipped,
        "skipped_detail": detail,
        "faults": {
            # Requests that gave no page for good (after retries), by reason (crawler/faults.py).
            "failed": _by_suffix(stats, "archive/faults/"),
            # Requests the crawl would not send: its scope, robots.txt (and hosts whose robots.txt was unreachable).
            "refused": {
                "out_of_scope": sum(refused_scope.values()),
                **{f"out_of_scope/{k}": v for k, v in refused_scope.items()},
                "robots": _int(stats, "robotstxt/forbidden"),
                "robots_unreachable_hosts": _int(stats, "archive/robots/unreachable"),
            },
            # Links not followed: depth, page budget, generated paths (crawler/frontier.py).
            "not_followed": _by_suffix(stats, "archive/frontier/"),
        },
        "records_missing": records_missing,
        "sections": _by_suffix(stats, f"{prefix}section/"),
        "languages": _by_suffix(stats, f"{prefix}language/"),
        # Added keys (report_version 1 still: nothing above changed shape).
        "run": {},
        "status_text": "",
        "records_by_year": by_year,
        "queue": details.get("queue") or {"queued": 0, "finished": 0, "pending": 0},
        "accounting": {},
        "timeline": details.get("timeline") or {"bucket_seconds": 1.0, "counts": {}},
        "urls": details.get("urls") or empty_urls(),
        "completeness": details.get("completeness") or empty_completeness(),
    }
    run = details.get("run") or {}
    report["run"] = {
        "id": run.get("id") or run_id(report["start_time"], run.get("run")),
        "crawl": run.get("crawl"),
        "run": run.get("run"),
        "resumed": bool(run.get("resumed")),
    }
    report["run"]["folder"] = f"{REPORTS}/{report['run']['id']}"
    report["accounting"] = _accounting(stats, report, passed)
    report["status_text"] = status_text(report)
    return report


def _accounting(stats: dict[str, Any], report: dict[str, Any], passed: int) -> dict[str, Any]:
    """Where every page read and every record built went, and the checks that the numbers add up."""
    pages, records = report["pages"], report["records"]
    read_skips = {k[len(SKIPPED_PREFIX):]: _int(stats, k) for k in sorted(stats)
                  if k.startswith(SKIPPED_PREFIX) and k[len(SKIPPED_PREFIX):] not in PIPELINE_SKIPS
                  and "/" not in k[len(SKIPPED_PREFIX):]}
    built = _int(stats, "archive/pages/article")
    held = pages["held"]
    in_progress = pages["read"] - built - sum(read_skips.values()) - held
    dropped = _by_suffix(stats, DROPPED)
    if not dropped:  # without the drop counts (no CrawlReport): what the pipelines' stats say
        dropped = {k: _int(stats, f"{SKIPPED_PREFIX}{k}") for k in PIPELINE_SKIPS if _int(stats, f"{SKIPPED_PREFIX}{k}")}
    not_written = max(passed - records["written"], 0)
    interrupted = report["status"] == "interrupted"
    checks = []
    if records["written"] or records["new"] or records["changed"]:
        checks.append(_check("records written = new + changed", records["written"], [records["new"], records["changed"]]))
    if report["sections"] or records["written"]:
        checks.append(_check("records written = records per section", records["written"], report["sections"].values()))
        checks.append(_check("records written = records per language", records["written"], report["languages"].values()))
    if report["records_by_year"]:
        checks.append(_check("records written = records per year of document_date", records["written"],
                             report["records_by_year"].values()))
    if pages["read"]:
        checks.append(_check(
            "pages read = records built + pages skipped while reading + pages held for learning"
            + (" + pages being read when the crawl stopped" if in_progress and interrupted else ""),
            pages["read"], [built, sum(read_skips.values()), held] + ([in_progress] if interrupted else [])))
    if built and dropped is not None and "archive/records" in stats:
        checks.append(_check("records built = records the pipelines let through + records dropped (unchanged, duplicates)",
                             built, [passed, sum(dropped.values())]))
    if passed:
        checks.append(_check("records let through = records written + records the output did not take",
                             passed, [records["written"], not_written]))
    urls = report["urls"]
    if any(urls.values()):
        listed = [
            ("HTTP error answers = their URLs listed", sum(report["skipped"]["http_error"].values()),
             [len(v) for v in (urls["skipped"].get("http_error") or {}).values()]),
            ("requests that failed = their URLs listed", sum(report["faults"]["failed"].values()),
             [len(v) for v in urls["failed"].values()]),
            ("requests refused by robots.txt = their URLs listed", report["skipped"]["robots"],
             [len(urls["skipped"].get("robots") or [])]),
        ]
        checks += [_check(what, total, parts) for what, total, parts in listed if total or sum(parts)]
    done = report["completeness"]
    if done["linked"]:
        checks.append(_check("pages linked from index pages = records + unchanged + skipped + missing", done["linked"],
                             [done["records"], done["unchanged"], done["skipped"], done["missing"]]))
    return {
        "pages_read": pages["read"],
        "records_built": built,
        "skipped_while_reading": read_skips,
        "held": held,
        "in_progress": in_progress,
        "records_let_through": passed,
        "records_dropped": dropped,
        "records_not_written": not_written,
        "checks": checks,
    }


def _check(what: str, total: int, parts: Iterable[int]) -> dict[str, Any]:
    parts = [int(p) for p in parts]
    return {"what": what, "total": int(total), "parts": parts, "ok": int(total) == sum(parts)}


def _plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


def status_text(report: dict[str, Any]) -> str:
    """The run's status and its reason, in words."""
    pages, records, skipped = report["pages"], report["records"], report["skipped"]
    queue, faults = report["queue"], report["faults"]
    duration = _duration(report["duration_seconds"])
    if report["status"] == "failed":
        reason = failure_in_words(report["failure_reason"] or "")
        words = f"Failed: {reason}."
        if report["finish_reason"] == "could_not_start":
            return words + " Nothing was fetched."
        if not pages["fetched"]:
            return words + f" Nothing was fetched in {duration}."
        return words + f" {_plural(pages['fetched'], 'response')} in {duration}, {_plural(records['written'], 'record')} written."
    what = [f"{_plural(pages['fetched'], 'response')} in {duration} ({_plural(pages['read'], 'page')} read)",
            f"{_plural(records['written'], 'record')} written ({records['new']} new, {records['changed']} changed)"]
    if records["unchanged"]:
        what.append(f"{_plural(records['unchanged'], 'page')} unchanged")
    no_record: Counter[str] = Counter()
    for key, n in report["accounting"]["skipped_while_reading"].items():
        no_record[SKIP_NAMES.get(key, key)] += n
    no_record = +no_record
    if no_record:
        what.append(f"{_plural(sum(no_record.values()), 'page')} read gave no record ("
                    + ", ".join(f"{n} {SHORT_WORDS.get(k) or reason_words(k)}" for k, n in no_record.most_common()) + ")")
    errors = sum(skipped["http_error"].values())
    failed = {k: v for k, v in faults["failed"].items() if not k.startswith("http_")}
    if errors:
        what.append(f"{_plural(errors, 'HTTP error')} ("
                    + ", ".join(f"{n} × {code}" for code, n in skipped["http_error"].items()) + ")")
    if failed:
        what.append(f"{_plural(sum(failed.values()), 'request')} without an answer ("
                    + ", ".join(f"{n} {reason_words(k)}" for k, n in failed.items()) + ")")
    if skipped["robots"]:
        what.append(f"{_plural(skipped['robots'], 'page')} refused by robots.txt")
    missing = report["completeness"]["missing"]
    if report["completeness"]["linked"]:
        what.append(f"{_plural(missing, 'page')} linked from the index pages gave neither a record nor a skip")
    if report["status"] == "interrupted":
        held = pages["held"]
        left = [f"{_plural(held, 'page')} held for boilerplate learning gave no record yet"] if held else []
        if queue["pending"]:
            left.append(f"{_plural(queue['pending'], 'page')} queued in this crawl not finished yet")
        return (f"Interrupted (Ctrl-C or SIGTERM) after {duration}: " + "; ".join(what[:2])
                + (f"; {'; '.join(left)}" if left else "")
                + ". Run the same command again (same CRAWL_STATE) to resume the crawl.")
    resumed = " (resumed crawl)" if report["run"].get("resumed") else ""
    return f"Finished{resumed}: " + "; ".join(what) + "."


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes} min {secs} s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min"
    return f"{hours // 24} days {hours % 24} h"


# --------------------------------------------------------------------------- the URLs behind the counts


def _entry(url: str, detail: str | None = None, source: str | None = None) -> dict[str, Any]:
    return {"url": url, "detail": detail, "from": source}


def group_outcomes(rows: Iterable[tuple[str, str, str | None, str | None]]) -> tuple[dict[str, Any], int]:
    """The run's outcomes (kind, url, detail, source) as the report's ``urls``, named as its counts
    are; and how many distinct off-host URLs there were."""
    urls = empty_urls()
    skipped, failed, refused, not_followed = urls["skipped"], urls["failed"], urls["refused"], urls["not_followed"]
    off_host = 0
    for kind, url, detail, source in rows:
        head, _, reason = kind.partition("/")
        if kind == "record":
            continue
        if kind in ("unchanged", "redirected"):
            urls[kind].append(_entry(url, detail, source))
        elif kind == "gone":
            skipped.setdefault("http_error", {}).setdefault(detail or "404", []).append(_entry(url, "gone", source))
        elif kind == "off_host":
            off_host += 1
            skipped.setdefault("off_host", []).append(_entry(url, detail, source))
        elif head == "skipped":
            name = SKIP_NAMES.get(reason, reason)
            text = reason if name not in (reason, "listing") else None
            if detail:
                text = f"{text}: {detail}" if text else detail
            skipped.setdefault(name, []).append(_entry(url, text, source))
        elif head == "failed":
            failed.setdefault(reason, []).append(_entry(url, detail, source))
            if reason.startswith("http_") and reason[5:].isdigit():
                skipped.setdefault("http_error", {}).setdefault(reason[5:], []).append(_entry(url, detail, source))
            elif reason == "too_large":
                skipped.setdefault("too_large", []).append(_entry(url, detail, source))
        elif head == "refused":
            name = "out_of_scope" if reason.startswith("out_of_scope") else reason
            refused.setdefault(name, []).append(_entry(url, detail or reason, source))
            if name == "robots":
                skipped.setdefault("robots", []).append(_entry(url, detail, source))
        elif head == "not_followed":
            not_followed.setdefault(reason, []).append(_entry(url, detail, source))
    if "http_error" in skipped:
        skipped["http_error"] = dict(sorted(skipped["http_error"].items(), key=lambda kv: _numeric_key(kv[0])))
    return urls, off_host


# What a linked page became, most telling first: (outcome kind or its head, completeness category).
_FATES = (
    ("record", "records"),
    ("unchanged", "unchanged"),
    ("skipped/duplicate_request", None),  # the page's own outcome is under its first request
    ("skipped", "skipped"),
    ("gone", "error"),
    ("failed", "error"),
    ("refused/robots", "robots"),
    ("refused", "off_scope"),
    ("off_host", "off_scope"),
    ("not_followed", "not_followed"),
    ("skipped/duplicate_request", "skipped"),
)


def _fate(state: CrawlState, url: str, crawl: int, held: set[str]) -> tuple[str, str | None, str]:
    """(category, detail, the URL it ended at) of a page linked from an index page, redirects followed."""
    seen = set()
    while url not in seen and len(seen) < 10:
        seen.add(url)
        outcomes = state.outcomes_of(url, crawl)
        kinds = {kind: detail for kind, detail in reversed(outcomes)}
        redirect = kinds.get("redirected")
        for prefix, category in _FATES:
            for kind, detail in kinds.items():
                if category is None and kind == prefix:
                    break  # considered last
                if kind == prefix or (kind.startswith(prefix + "/") and kind != "skipped/duplicate_request"):
                    if category == "error":
                        reason = kind.split("/", 1)[-1]
                        if kind == "gone":
                            detail = f"HTTP {detail}"
                        elif not reason.startswith("http_"):
                            detail = f"{reason}: {detail or ''}".rstrip(": ")
                    elif category in ("skipped", "not_followed", "off_scope") and "/" in kind:
                        detail = kind.split("/", 1)[1] + (f": {detail}" if detail else "")
                    return category, detail, url
        if redirect and redirect not in seen:
            url = redirect
            continue
        progress = state.progress(url, crawl)
        if progress is not None and progress[2]:
            return "records", None, url
        if url in held:
            return "not_fetched", "held for boilerplate learning: no record yet", url
        if progress is not None and progress[0] and not progress[1]:
            return "not_fetched", "queued, not fetched yet", url
        if progress is not None and progress[1]:
            return "skipped", "finished in an earlier run", url
        return "not_fetched", "never queued", url
    return "not_fetched", "a redirect loop", url


def completeness(state: CrawlState, crawl: int, start_url: str | None, held: set[str]) -> dict[str, Any]:
    """The links the site's index pages list (listing pages and the start page) against the records
    written and the skips counted in this crawl: each linked page that gave neither, with why."""
    result = empty_completeness()
    pages: dict[str, tuple[int, list[str]]] = {}
    for page, link, noted in state.all_index_links():
        pages.setdefault(page, (noted, []))[1].append(link)
    index_pages = []
    for page, (noted, links) in pages.items():
        kinds = {kind for kind, _ in state.outcomes_of(page, crawl)}
        if page == start_url or "skipped/listing_page" in kinds:
            index_pages.append(page)
        elif noted < crawl and kinds and kinds <= {"unchanged", "redirected"}:
            known = state.page(page)
            if known is not None and not known.revision:
                # Not modified since the crawl that read it, and never gave a record: its links then.
                index_pages.append(page)
    linked: dict[str, str] = {}
    for page in index_pages:
        for link in pages[page][1]:
            linked.setdefault(link, page)
    missing = []
    for link, source in linked.items():
        category, detail, _ = _fate(state, link, crawl, held)
        if category in MISSING_REASONS:
            missing.append({"url": link, "reason": category, "detail": detail, "from": source})
            result["missing_by_reason"][category] += 1
        else:
            result[category] += 1
    order = {reason: i for i, reason in enumerate(MISSING_REASONS)}
    missing.sort(key=lambda m: order[m["reason"]])
    result.update(index_pages=len(index_pages), linked=len(linked), missing=len(missing),
                  index_page_urls=index_pages, missing_pages=missing)
    return result


# --------------------------------------------------------------------------- report.md


def _cell(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def _table(header: tuple[str, ...], rows: list[tuple[Any, ...]]) -> list[str]:
    if not rows:
        return ["(none)", ""]
    lines = [f"| {' | '.join(header)} |", "|---|" + "---:|" * (len(header) - 1)]
    lines += [f"| {' | '.join(_cell(c) for c in row)} |" for row in rows]
    return lines + [""]


def _section(title: str, header: tuple[str, ...], rows: list[tuple[Any, ...]]) -> list[str]:
    """A titled table, left out when it has nothing to say (no rows, or only zeros)."""
    if not any(any(isinstance(c, (int, float)) and c for c in row[1:]) for row in rows):
        return []
    return [f"## {title}", "", *_table(header, rows)]


def status_cell(report: dict[str, Any]) -> str:
    if report["status"] == "failed":
        return f"**FAILED**: {failure_in_words(report['failure_reason'] or '')}"
    if report["status"] == "interrupted":
        return "**INTERRUPTED**: run the same command again (same CRAWL_STATE) to resume"
    return "ok"


def url_groups(report: dict[str, Any]) -> list[tuple[str, str, list[dict[str, Any]], int]]:
    """(name, words, URLs, count) of every reason with URLs behind it: skips, HTTP errors, failed,
    refused and not followed requests, pages held."""
    urls, skipped, faults = report["urls"], report["skipped"], report["faults"]
    groups = []
    for code, entries in (urls["skipped"].get("http_error") or {}).items():
        groups.append((f"http_error {code}", f"HTTP {code}", entries, skipped["http_error"].get(code, len(entries))))
    for name, entries in urls["failed"].items():
        if not name.startswith("http_") and name != "too_large":  # listed with the skips
            groups.append((f"failed: {name}", reason_words(name), entries, faults["failed"].get(name, len(entries))))
    for name, entries in urls["skipped"].items():
        if name != "http_error":
            count = skipped.get(name, len(entries))
            groups.append((name, reason_words(name), entries, count if isinstance(count, int) else len(entries)))
    for name, entries in urls["refused"].items():
        if name != "robots":
            groups.append((f"refused: {name}", reason_words(name), entries, faults["refused"].get(name, len(entries))))
    for name, entries in urls["not_followed"].items():
        groups.append((f"not followed: {name}", reason_words(name), entries,
                       faults["not_followed"].get(name, len(entries))))
    if urls["held"]:
        groups.append(("held", reason_words("held"), urls["held"], len(urls["held"])))
    return groups


def _md_url(entry: dict[str, Any]) -> str:
    line = f"- {entry['url']}"
    if entry.get("detail"):
        line += f" ({entry['detail']})"
    if entry.get("from"):
        line += f", linked from {entry['from']}"
    return line


def render_markdown(report: dict[str, Any], shown: int = URLS_SHOWN) -> str:
    """report.md: the same facts as report.json, as short tables; the first ``shown`` URLs of each reason."""
    pages, records, skipped = report["pages"], report["records"], report["skipped"]
    lines = [
        f"# Crawl report: {report['spider']}",
        "",
        "| | |",
        "|---|---|",
        f"| start URL | {_cell(report['start_url'] or '')} |",
        f"| output | {_cell(report['output'] or '(none)')} |",
        f"| run | {_cell(report['run']['id'])} (kept in {report['run']['folder']}/) |",
        f"| started (UTC) | {report['start_time'] or ''} |",
        f"| ended (UTC) | {report['end_time'] or ''} |",
        f"| duration | {report['duration_seconds']:.1f} s |",
        f"| status | {_cell(status_cell(report))} |",
        f"| exit status | {report['exit_status']} |",
        f"| finish reason | {_cell(report['finish_reason'] or '')} |",
        f"| pages fetched | {pages['fetched']} ({pages['per_second']:.2f} per second) |",
        f"| records written | {records['written']} (new {records['new']}, changed {records['changed']}; "
        f"unchanged pages {records['unchanged']}) |",
        "",
        report["status_text"],
        "",
    ]
    lines += _md_accounting(report)
    lines += _section("Pages fetched by HTTP status", ("status", "pages"), list(pages["by_status"].items()))
    lines += _section("Download errors (no response)", ("error", "requests"),
                      [(f"{k} ({_exception_words(k)})", v) for k, v in pages["download_errors"].items()])
    faults = report.get("faults") or {}
    lines += _section("Requests that failed (after retries)", ("reason", "requests"),
                      list((faults.get("failed") or {}).items()))
    lines += _section("Requests refused, links not followed", ("reason", "count"),
                      [(k, v) for k, v in (faults.get("refused") or {}).items() if v]
                      + [(f"not followed: {k}", v) for k, v in (faults.get("not_followed") or {}).items()])
    # Reasons with nothing behind them are left out (report.json has every one).
    skip_rows = [(k, v) for k, v in skipped.items() if k != "http_error" and v]
    skip_rows += [(f"http_error {code}", n) for code, n in skipped["http_error"].items()]
    lines += _section("Pages skipped", ("reason", "count"), skip_rows)
    lines += _md_urls(report, shown)
    lines += _md_completeness(report, shown)
    if records["written"]:
        lines += _section("Records missing a date field", ("field", "records without it"),
                          list(report["records_missing"].items()))
        lines += _section("Records per year of document_date", ("year", "records"), list(report["records_by_year"].items()))
        lines += _section("Records per section", ("section", "records"), list(report["sections"].items()))
        lines += _section("Records per language", ("language", "records"), list(report["languages"].items()))
    return "\n".join(lines).rstrip("\n") + "\n"


def _md_accounting(report: dict[str, Any]) -> list[str]:
    checks = report["accounting"]["checks"]
    if not checks:
        return []
    rows = [(c["what"], _sum_text(c), "yes" if c["ok"] else "**NO**") for c in checks]
    return ["## The numbers add up", "", *_table(("what", "numbers", "adds up"), rows)]


def _sum_text(check: dict[str, Any]) -> str:
    parts = check["parts"]
    if len(parts) > 6:
        return f"{check['total']} = {' + '.join(map(str, parts[:4]))} + … ({len(parts)} numbers, sum {sum(parts)})"
    return f"{check['total']} = {' + '.join(map(str, parts)) or '0'}"


def _md_urls(report: dict[str, Any], shown: int) -> list[str]:
    groups = url_groups(report)
    if not groups:
        return []
    lines = ["## URLs behind each skip and error", "",
             f"The first {shown} of each reason; report.json lists them all.", ""]
    for name, words, entries, count in groups:
        lines += [f"### {name}: {words} ({count})", ""]
        lines += [_md_url(e) for e in entries[:shown]]
        if len(entries) > shown:
            lines.append(f"- ... and {len(entries) - shown} more (report.json)")
        if count > len(entries):
            lines.append(f"- ({count - len(entries)} {NO_URL})")
        lines.append("")
    return lines


def _md_completeness(report: dict[str, Any], shown: int) -> list[str]:
    done = report["completeness"]
    if not done["index_pages"]:
        return []
    lines = [
        "## Completeness: the index pages' links against what the crawl made of them",
        "",
        f"{_plural(done['index_pages'], 'index page')} (the start page and the listing pages) link to "
        f"{_plural(done['linked'], 'page')}: {done['records']} gave a record, {done['unchanged']} were unchanged, "
        f"{done['skipped']} were skipped for a reason counted above, and {done['missing']} gave neither.",
        "",
        *_table(("reason", "pages"), [(f"{k} ({reason_words(k)})", v) for k, v in done["missing_by_reason"].items()]),
    ]
    for reason in MISSING_REASONS:
        entries = [m for m in done["missing_pages"] if m["reason"] == reason]
        if not entries:
            continue
        lines += [f"### {reason}: {reason_words(reason)} ({len(entries)})", ""]
        lines += [_md_url(e) for e in entries[:shown]]
        if len(entries) > shown:
            lines.append(f"- ... and {len(entries) - shown} more (report.json)")
        lines.append("")
    return lines


# --------------------------------------------------------------------------- report.html: plots (inline SVG)

_E = html.escape
STATUS_COLOURS = {"2xx": "#2e7d32", "3xx": "#1565c0", "4xx": "#ef6c00", "5xx": "#c62828", "other": "#757575"}
BAR = "#3b6ea8"
CHART_WIDTH = 520


def _short(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _nice(value: float) -> float:
    """A round number at least ``value`` (1, 2, 2.5, 5 times a power of ten)."""
    if value <= 0:
        return 1
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * power:
            return step * power
    return 10 * power


def _svg(width: int, height: int, title: str, body: list[str]) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" '
            f'role="img" aria-label="{_E(title)}" class="chart"><title>{_E(title)}</title>{"".join(body)}</svg>')


def svg_hbars(rows: list[tuple[str, float]], title: str, *, colours: list[str] | None = None,
              labels: list[str] | None = None, max_rows: int = 12, scale_max: float | None = None) -> str:
    """Horizontal bars, one per row, largest scale first; the rows past ``max_rows`` summed in one."""
    rows = list(rows)
    labels = list(labels) if labels is not None else [f"{v:g}" for _, v in rows]
    colours = list(colours) if colours is not None else [BAR] * len(rows)
    if len(rows) > max_rows:
        rest = rows[max_rows - 1:]
        total = sum(v for _, v in rest)
        rows = rows[: max_rows - 1] + [(f"{len(rest)} others", total)]
        labels = labels[: max_rows - 1] + [f"{total:g}"]
        colours = colours[: max_rows - 1] + ["#9e9e9e"]
    label_width, bar_height, gap, right = 180, 16, 6, 64
    height = len(rows) * (bar_height + gap) + gap
    span = CHART_WIDTH - label_width - right
    top = scale_max or max((v for _, v in rows), default=0) or 1
    body = []
    for i, ((name, value), label, colour) in enumerate(zip(rows, labels, colours)):
        y = gap + i * (bar_height + gap)
        w = max(span * value / top, 1 if value else 0)
        body.append(f'<text x="{label_width - 6}" y="{y + bar_height - 4}" text-anchor="end" class="label">'
                    f'{_E(_short(str(name), 27))}<title>{_E(str(name))}</title></text>')
        body.append(f'<rect x="{label_width}" y="{y}" width="{w:.1f}" height="{bar_height}" fill="{colour}" rx="2">'
                    f'<title>{_E(str(name))}: {_E(label)}</title></rect>')
        body.append(f'<text x="{label_width + w + 5:.1f}" y="{y + bar_height - 4}" class="value">{_E(label)}</text>')
    return _svg(CHART_WIDTH, height, title, body)


def svg_columns(series: dict[str, list[float]], ticks: list[str], title: str, *, colours: dict[str, str] | None = None,
                height: int = 200, label_every: int | None = None, x_title: str = "",
                width: int = CHART_WIDTH) -> str:
    """Vertical columns, stacked when there are several series (same length as ``ticks``)."""
    colours = colours or {}
    names = [name for name, values in series.items() if any(values)] or list(series)[:1]
    count = len(ticks)
    left, bottom, top_pad, right = 40, 34 if x_title else 22, 24 if len(names) > 1 else 10, 8
    plot_w, plot_h = width - left - right, height - bottom - top_pad
    totals = [sum(series[name][i] for name in names) for i in range(count)]
    top = _nice(max(totals, default=0) or 1)
    body = []
    for fraction in (0, 0.5, 1):
        y = top_pad + plot_h * (1 - fraction)
        body.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>')
        body.append(f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end" class="axis">{top * fraction:g}</text>')
    if count:
        slot = plot_w / count
        column = max(slot * 0.8, 0.8)
        every = label_every or max(1, math.ceil(count / (10 * width / CHART_WIDTH)))
        for i in range(count):
            x = left + i * slot + (slot - column) / 2
            base = top_pad + plot_h
            parts = []
            for name in names:
                value = series[name][i]
                if not value:
                    continue
                h = plot_h * value / top
                base -= h
                body.append(f'<rect x="{x:.1f}" y="{base:.1f}" width="{column:.1f}" height="{h:.1f}" '
                            f'fill="{colours.get(name, BAR)}"><title>{_E(ticks[i])}: {value:g} {_E(name)}</title></rect>')
                parts.append(f"{value:g} {name}")
            if i % every == 0:
                body.append(f'<text x="{left + i * slot + slot / 2:.1f}" y="{top_pad + plot_h + 14}" '
                            f'text-anchor="middle" class="axis">{_E(ticks[i])}</text>')
    if x_title:
        body.append(f'<text x="{left + plot_w / 2:.1f}" y="{height - 4}" text-anchor="middle" class="axis">{_E(x_title)}</text>')
    if len(names) > 1:
        x = left + 4
        for name in names:
            body.append(f'<rect x="{x}" y="2" width="10" height="10" fill="{colours.get(name, BAR)}"/>'
                        f'<text x="{x + 14}" y="11" class="axis">{_E(name)}</text>')
            x += 24 + 7 * len(name)
    return _svg(width, height, title, body)


def _status_class(code: str) -> str:
    return f"{code[0]}xx" if code.isdigit() and code[0] in "2345" else "other"


def _clock(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:g} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def charts(report: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(title, caption, svg) of the plots that have something to show."""
    out = []
    written = report["records"]["written"]
    years = {k: v for k, v in report["records_by_year"].items() if k.isdigit()}
    if years:
        first, last = min(map(int, years)), max(map(int, years))
        span = list(range(first, last + 1)) if last - first <= 200 else sorted(map(int, years))
        without = report["records_by_year"].get("(none)", 0)
        out.append(("Records per year of document_date",
                    f"{sum(years.values())} of {written} records have a document date"
                    + (f"; {without} have none" if without else ""),
                    svg_columns({"records": [years.get(str(y), 0) for y in span]}, [str(y) for y in span],
                                "Records per year of document_date")))
    timeline = report["timeline"]
    counts = timeline.get("counts") or {}
    if counts and any(any(v) for v in counts.values()):
        width = float(timeline.get("bucket_seconds") or 1)
        length = max(len(v) for v in counts.values())
        ticks = [_clock(i * width) for i in range(length)]
        out.append(("Fetches over time", f"responses per {_clock(width)}, by status class, from the start of the run",
                    svg_columns({k: list(v) + [0] * (length - len(v)) for k, v in counts.items()}, ticks,
                                "Fetches over time", colours=STATUS_COLOURS, x_title="time since the start")))
    statuses = report["pages"]["by_status"]
    if statuses:
        out.append(("HTTP statuses", f"{report['pages']['fetched']} responses",
                    svg_hbars([(code, n) for code, n in statuses.items()], "HTTP statuses",
                              colours=[STATUS_COLOURS[_status_class(code)] for code in statuses])))
    if written:
        missing = report["records_missing"]
        rows = [(field, 100.0 * (written - n) / written) for field, n in missing.items()]
        out.append(("Date-field coverage", f"share of the {written} records that have each field",
                    svg_hbars(rows, "Date-field coverage", scale_max=100,
                              labels=[f"{written - n} ({100.0 * (written - n) / written:.0f}%)" for n in missing.values()])))
    if report["sections"]:
        out.append(("Records per section", f"{len(report['sections'])} sections",
                    svg_hbars(list(report["sections"].items()), "Records per section")))
    if report["languages"]:
        out.append(("Records per language", f"{len(report['languages'])} languages",
                    svg_hbars(list(report["languages"].items()), "Records per language", colours=["#6a4c93"] * len(report["languages"]))))
    return out


# --------------------------------------------------------------------------- report.html: the page

CSS = """
:root{--fg:#1d2330;--muted:#5b6475;--line:#d9dde5;--bg:#f5f6f8;--card:#fff;--ok:#2e7d32;--warn:#b26a00;--bad:#c62828}
*{box-sizing:border-box}
body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:var(--fg);background:var(--bg)}
main{max-width:1120px;margin:0 auto;padding:24px 20px 48px}
h1{font-size:26px;margin:0 0 4px}
h2{font-size:19px;margin:32px 0 10px;padding-bottom:4px;border-bottom:1px solid var(--line)}
h3{font-size:15px;margin:0 0 6px}
a{color:#1f5fa8}
.sub{color:var(--muted);margin:0 0 14px;word-break:break-all}
.status{display:flex;gap:14px;align-items:flex-start;background:var(--card);border:1px solid var(--line);border-left:6px solid var(--ok);border-radius:6px;padding:12px 16px}
.status.s-interrupted{border-left-color:var(--warn)}.status.s-failed{border-left-color:var(--bad)}
.badge{font-weight:700;font-size:13px;letter-spacing:.05em;color:#fff;background:var(--ok);border-radius:4px;padding:3px 8px;white-space:nowrap}
.s-interrupted .badge{background:var(--warn)}.s-failed .badge{background:var(--bad)}
.status p{margin:0}
nav{margin:10px 0 0;color:var(--muted);font-size:14px}
nav a{margin-right:14px}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(128px,1fr));gap:12px;margin:18px 0 0}
.card{background:var(--card);border:1px solid var(--line);border-radius:6px;padding:10px 14px}
.card b{display:block;font-size:26px;line-height:1.2}
.card span{color:var(--muted);font-size:13px}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(480px,1fr));gap:14px}
figure{margin:0;background:var(--card);border:1px solid var(--line);border-radius:6px;padding:12px 14px}
figcaption{color:var(--muted);font-size:13px;margin:0 0 6px}
svg.chart{display:block;font-size:11px}
svg .label{fill:#333}svg .value{fill:#555}svg .axis{fill:#666;font-size:10px}svg .grid{stroke:#e3e6eb}
table{border-collapse:collapse;background:var(--card);border:1px solid var(--line);border-radius:6px;width:100%;font-size:14px}
th,td{text-align:left;padding:5px 10px;border-bottom:1px solid var(--line);vertical-align:top}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tr:last-child td{border-bottom:0}
.ok{color:var(--ok);font-weight:600}.no{color:var(--bad);font-weight:700}
details{background:var(--card);border:1px solid var(--line);border-radius:6px;margin:6px 0;padding:6px 12px}
summary{cursor:pointer}summary code{color:var(--muted);font-size:12px;margin-left:6px}
details ol{margin:6px 0 4px;padding-left:26px;font-size:13px;word-break:break-all}
details li span{color:var(--muted)}
.muted{color:var(--muted)}
.two{display:grid;grid-template-columns:repeat(auto-fit,minmax(320px,1fr));gap:14px;align-items:start}
footer{margin-top:36px;color:var(--muted);font-size:13px}
"""

# No script, no request to anywhere: styles inline, plots as inline SVG.
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


def _page(title: str, body: list[str]) -> str:
    return "\n".join([
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_E(title)}</title>",
        f"<style>{CSS}</style>",
        "</head>",
        "<body><main>",
        *body,
        "</main></body>",
        "</html>",
        "",
    ])


def _link(url: str) -> str:
    if url.startswith(("http://", "https://")):
        return f'<a href="{_E(url)}" rel="noreferrer nofollow">{_E(url)}</a>'
    return _E(url)


def _html_url(entry: dict[str, Any]) -> str:
    text = _link(entry["url"])
    if entry.get("detail"):
        text += f' <span>({_E(str(entry["detail"]))})</span>'
    if entry.get("from"):
        text += f' <span>linked from</span> {_link(entry["from"])}'
    return f"<li>{text}</li>"


def _html_table(header: tuple[str, ...], rows: list[tuple[Any, ...]], numeric: tuple[int, ...] = (1,)) -> str:
    head = "".join(f'<th class="n">{_E(h)}</th>' if i in numeric else f"<th>{_E(h)}</th>" for i, h in enumerate(header))
    body = []
    for row in rows:
        cells = []
        for i, cell in enumerate(row):
            raw = cell if isinstance(cell, _Raw) else _E(str(cell))
            cells.append(f'<td class="n">{raw}</td>' if i in numeric else f"<td>{raw}</td>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


class _Raw(str):
    """HTML already escaped."""


# Reasons whose URLs are shown unfolded: errors and refusals, what a person looks at first.
OPEN_GROUPS = ("http_error", "failed", "robots", "refused", "not followed", "held", "not_fetched", "not_followed",
               "error")


def _url_details(words: str, name: str, entries: list[dict[str, Any]], count: int, shown: int) -> str:
    more = len(entries) - shown
    items = "".join(_html_url(e) for e in entries[:shown])
    tail = f'<p class="muted">… and {more} more: report.json lists them all.</p>' if more > 0 else ""
    if count > len(entries):
        tail += f'<p class="muted">{count - len(entries)} {NO_URL}.</p>'
    if not entries:
        listed = f"{count}, no URL known"
    elif len(entries) <= shown and count == len(entries):
        listed = _plural(count, "URL")
    else:
        listed = f"{min(len(entries), shown)} of {count} shown"
    unfold = " open" if name.startswith(OPEN_GROUPS) else ""
    return (f"<details{unfold}><summary><b>{_E(words[:1].upper() + words[1:])}</b> <span class=\"muted\">({listed})</span>"
            f"<code>{_E(name)}</code></summary><ol>{items}</ol>{tail}</details>")


def render_html(report: dict[str, Any], *, index_href: str | None = None, kept_href: str | None = None,
                shown: int = URLS_SHOWN) -> str:
    """report.html: status and reason in words, counts, plots, the URLs behind every skip and error
    (the first ``shown`` of each) and the completeness check. Self-contained: no script, nothing fetched."""
    pages, records, skipped, faults = report["pages"], report["records"], report["skipped"], report["faults"]
    status = report["status"]
    label = {"ok": "OK", "interrupted": "INTERRUPTED", "failed": "FAILED"}[status]
    when = " – ".join(filter(None, [report["start_time"], report["end_time"]])) or "time unknown"
    links = [f'<a href="{REPORT_JSON}">report.json</a>', f'<a href="{REPORT_MD}">report.md</a>']
    if kept_href:
        links.append(f'<a href="{_E(kept_href)}">this run\'s kept copy</a>')
    if index_href:
        links.append(f'<a href="{_E(index_href)}">every run of this output</a>')
    body = [
        f"<h1>Crawl report: {_E(report['spider'])}</h1>",
        f'<p class="sub">{_link(report["start_url"] or "(no start URL)")} · run {_E(report["run"]["id"])} · '
        f'{_E(when)} UTC ({_duration(report["duration_seconds"])}) · output {_E(report["output"] or "(none)")}</p>',
        f'<div class="status s-{status}"><span class="badge">{label}</span><p>{_E(report["status_text"])}</p></div>',
        f"<nav>{''.join(links)}</nav>",
    ]
    errors = sum(skipped["http_error"].values()) + sum(v for k, v in faults["failed"].items() if not k.startswith("http_"))
    no_record = sum(report["accounting"]["skipped_while_reading"].values())
    done = report["completeness"]
    cards = [
        (pages["fetched"], "responses", f"{pages['per_second']:.1f} per second"),
        (pages["read"], "pages read", f"{pages['held']} held for learning" if pages["held"] else "handed to the reader"),
        (records["written"], "records written", f"{records['new']} new, {records['changed']} changed"),
        (no_record, "pages without a record", "listings and skips"),
        (errors, "errors", "HTTP errors and failed requests"),
        (skipped["robots"], "refused by robots.txt", ""),
    ]
    if done["linked"]:
        cards.append((done["missing"], "linked pages missing", f"of {done['linked']} linked from index pages"))
    if status != "failed" or pages["fetched"]:
        body.append('<section class="cards">' + "".join(
            f'<div class="card"><b>{n}</b><span>{_E(what)}</span><br><span>{_E(sub)}</span></div>'
            for n, what, sub in cards) + "</section>")
    plots = charts(report)
    if plots:
        body.append("<h2>At a glance</h2>")
        body.append('<div class="grid">' + "".join(
            f"<figure><h3>{_E(title)}</h3><figcaption>{_E(caption)}</figcaption>{svg}</figure>"
            for title, caption, svg in plots) + "</div>")
    body += _html_accounting(report)
    body += _html_skips(report, shown)
    body += _html_completeness(report, shown)
    body += _html_faults(report)
    body.append(f'<footer>report_version {report["report_version"]} · finish reason {_E(str(report["finish_reason"]))}'
                f' · exit status {report["exit_status"]}'
                + (f' · failure reason (raw): {_E(report["failure_reason"])}' if report["failure_reason"] else "")
                + "</footer>")
    return _page(f"Crawl report: {report['spider']} ({label.lower()})", body)


def _html_accounting(report: dict[str, Any]) -> list[str]:
    acc = report["accounting"]
    if not acc["checks"]:
        return []
    rows = [(_Raw('<span class="ok" title="adds up">✓</span>' if c["ok"] else '<span class="no" title="does not add up">✗</span>'),
             c["what"], _sum_text(c)) for c in acc["checks"]]
    out = ["<h2>Where everything went: the numbers add up</h2>", _html_table(("", "what", "numbers"), rows, numeric=(2,))]
    if report["status"] == "interrupted" and (acc["held"] or acc["in_progress"] or report["queue"]["pending"]):
        out.append(f'<p class="muted">Interrupted: {_plural(acc["held"], "page")} held for boilerplate learning and '
                   f'{acc["in_progress"]} being read gave no record yet; {_plural(report["queue"]["pending"], "page")} '
                   "queued in this crawl are not finished. The same command with the same CRAWL_STATE fetches them.</p>")
    return out


def _html_skips(report: dict[str, Any], shown: int) -> list[str]:
    skipped = report["skipped"]
    rows = [(k, v, reason_words(k)) for k, v in skipped.items() if k != "http_error" and v]
    rows += [(f"http_error {code}", n, f"HTTP {code}") for code, n in skipped["http_error"].items()]
    groups = url_groups(report)
    if not rows and not groups:
        return []
    out = ["<h2>What gave no record, and why</h2>"]
    if rows:
        out.append(_html_table(("reason", "count", "what it means"), rows))
    if groups:
        out.append(f'<h3 style="margin-top:14px">The URLs behind them</h3><p class="muted">The first {shown} of each '
                   "reason, in the order met, with the page that linked to them; report.json lists them all.</p>")
        for name, words, entries, count in groups:
            out.append(_url_details(words, name, entries, count, shown))
    return out


def _html_completeness(report: dict[str, Any], shown: int) -> list[str]:
    done = report["completeness"]
    if not done["index_pages"]:
        return []
    out = [
        "<h2>Completeness: what the site's index pages list, against what the crawl found</h2>",
        f"<p>{_plural(done['index_pages'], 'index page')} (the start page and the listing pages) link to "
        f"<b>{done['linked']}</b> pages: <b>{done['records']}</b> gave a record, <b>{done['unchanged']}</b> were unchanged "
        f"since the last crawl, <b>{done['skipped']}</b> were skipped for a reason counted above, and "
        f"<b>{done['missing']}</b> gave neither:</p>",
        _html_table(("why", "pages", "meaning"), [(k, v, reason_words(k)) for k, v in done["missing_by_reason"].items()]),
    ]
    for reason in MISSING_REASONS:
        entries = [m for m in done["missing_pages"] if m["reason"] == reason]
        if entries:
            out.append(_url_details(reason_words(reason), reason, entries, len(entries), shown))
    return out


def _html_faults(report: dict[str, Any]) -> list[str]:
    faults, pages = report["faults"], report["pages"]
    rows = [(f"failed: {k}", v, reason_words(k)) for k, v in faults["failed"].items()]
    rows += [(f"refused: {k}", v, reason_words(k)) for k, v in faults["refused"].items() if v]
    rows += [(f"not followed: {k}", v, reason_words(k)) for k, v in faults["not_followed"].items()]
    rows += [(f"download error: {k}", v, _exception_words(k)) for k, v in pages["download_errors"].items()]
    if not rows:
        return []
    return ["<h2>Requests that failed, were refused or not followed</h2>",
            _html_table(("reason", "count", "what it means"), rows)]


# --------------------------------------------------------------------------- the index of runs


def run_summary(report: dict[str, Any]) -> dict[str, Any]:
    """One run's line in reports/index.json."""
    return {
        "id": report["run"]["id"],
        "report": f"{report['run']['id']}/{REPORT_HTML}",
        "spider": report["spider"],
        "start_url": report["start_url"],
        "start_time": report["start_time"],
        "end_time": report["end_time"],
        "duration_seconds": report["duration_seconds"],
        "status": report["status"],
        "status_text": report["status_text"],
        "exit_status": report["exit_status"],
        "finish_reason": report["finish_reason"],
        "pages_fetched": report["pages"]["fetched"],
        "records_written": report["records"]["written"],
        "records_new": report["records"]["new"],
        "records_changed": report["records"]["changed"],
        "http_errors": sum(report["skipped"]["http_error"].values()),
        "failed_requests": sum(report["faults"]["failed"].values()),
        "missing_links": report["completeness"]["missing"],
    }


def render_index(runs: list[dict[str, Any]]) -> str:
    """reports/index.html: every run kept, newest first, with its status."""
    rows = []
    for run in runs:
        cls = {"ok": "ok", "failed": "no"}.get(run.get("status"), "")
        rows.append((_Raw(f'<a href="{_E(run["report"])}">{_E(run["id"])}</a>'), run.get("start_time") or "",
                     _duration(run.get("duration_seconds") or 0),
                     _Raw(f'<span class="{cls}">{_E(str(run.get("status")))}</span>'),
                     run.get("pages_fetched", 0), run.get("records_written", 0),
                     run.get("http_errors", 0) + run.get("failed_requests", 0), run.get("missing_links", 0),
                     run.get("status_text") or ""))
    body = ["<h1>Crawl reports: every run</h1>",
            f'<p class="sub">{_plural(len(runs), "run")}, newest first; each links to its own report.</p>']
    recent = list(reversed(runs[:60]))
    if recent:
        body.append("<figure><h3>Records written per run</h3><figcaption>oldest to newest (the last 60 runs), coloured "
                    "by status</figcaption>" + svg_columns(
                        {status: [r.get("records_written", 0) if r.get("status") == status else 0 for r in recent]
                         for status in ("ok", "interrupted", "failed")},
                        [(r.get("start_time") or "")[5:16].replace("T", " ") for r in recent], "Records written per run",
                        colours={"ok": "#2e7d32", "interrupted": "#b26a00", "failed": "#c62828"}, height=170,
                        width=1040)
                    + "</figure><br>")
    body.append(_html_table(("run", "started (UTC)", "duration", "status", "responses", "records", "errors",
                             "missing links", "in words"), rows, numeric=(4, 5, 6, 7)))
    return _page("Crawl reports: every run", body)


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


def _write_files(report: dict[str, Any], folder: Path, *, index_href: str, kept_href: str | None,
                 shown: int) -> tuple[Path, Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = folder / REPORT_JSON, folder / REPORT_MD, folder / REPORT_HTML
    _write_atomically(paths[0], json.dumps(report, ensure_ascii=False, indent=2) + "\n")
    _write_atomically(paths[1], render_markdown(report, shown))
    _write_atomically(paths[2], render_html(report, index_href=index_href, kept_href=kept_href, shown=shown))
    return paths


def _read_index(reports: Path) -> list[dict[str, Any]]:
    """The runs reports/index.json lists; rebuilt from the reports kept when it is missing or unreadable."""
    try:
        runs = json.loads((reports / INDEX_JSON).read_text(encoding="utf-8"))["runs"]
        if isinstance(runs, list) and all(isinstance(r, dict) and "id" in r for r in runs):
            return runs
    except (OSError, ValueError, KeyError, TypeError):
        pass
    runs = []
    for path in sorted(reports.glob(f"*/{REPORT_JSON}")):
        try:
            runs.append(run_summary(json.loads(path.read_text(encoding="utf-8"))))
        except (OSError, ValueError, KeyError, TypeError):
            logger.warning("Crawl report index: left out the unreadable %s", path)
    return runs


def update_index(reports: Path, report: dict[str, Any]) -> Path:
    """Adds the run to reports/index.json and index.html (newest first); returns index.html."""
    runs = [r for r in _read_index(reports) if r.get("id") != report["run"]["id"]] + [run_summary(report)]
    runs.sort(key=lambda r: (r.get("start_time") or "", r.get("id") or ""), reverse=True)
    _write_atomically(reports / INDEX_JSON, json.dumps({"runs": runs}, ensure_ascii=False, indent=2) + "\n")
    _write_atomically(reports / INDEX_HTML, render_index(runs))
    return reports / INDEX_HTML


def write_report(report: dict[str, Any], folder: Path, shown: int = URLS_SHOWN) -> tuple[Path, Path]:
    """Writes the run's report in ``folder/reports/<run id>/`` (kept), adds it to the index of runs
    ``folder/reports/index.{json,html}``, then report.json, report.md and report.html in ``folder``
    (the latest run's); each file atomically. Returns the report.json and report.md paths in ``folder``."""
    reports = folder / REPORTS
    _write_files(report, folder / report["run"]["folder"], index_href=f"../{INDEX_HTML}", kept_href=None, shown=shown)
    update_index(reports, report)
    json_path, md_path, _ = _write_files(report, folder, index_href=f"{REPORTS}/{INDEX_HTML}",
                                         kept_href=f"{report['run']['folder']}/{REPORT_HTML}", shown=shown)
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
    shown = settings.getint("REPORT_URLS_SHOWN", URLS_SHOWN)
    for place, where in candidates:
        try:
            json_path, md_path = write_report(report, place, shown)
        except OSError as exc:
            logger.error("Cannot write the crawl report in %s: %s", place, exc)
            continue
        logger.info("Crawl report (%s): %s, %s and %s (this run's kept in %s)", where, json_path, md_path.name,
                    REPORT_HTML, report["run"]["folder"])
        return json_path
    return None


# --------------------------------------------------------------------------- what is gathered while the crawl runs


class Timeline:
    """Responses per time bucket and status class, in bounded memory: the buckets double in width
    whenever there would be more than ``max_buckets``."""

    def __init__(self, max_buckets: int = 120, width: float = 0.25):
        self.max_buckets = max_buckets
        self.width = width
        self.started = time.monotonic()
        self.counts: dict[str, list[int]] = {name: [] for name in STATUS_COLOURS}

    def add(self, status: int, now: float | None = None) -> None:
        elapsed = max((now if now is not None else time.monotonic()) - self.started, 0.0)
        index = int(elapsed // self.width)
        while index >= self.max_buckets:
            self.width *= 2
            for name, values in self.counts.items():
                self.counts[name] = [sum(values[i:i + 2]) for i in range(0, len(values), 2)]
            index = int(elapsed // self.width)
        series = self.counts[_status_class(str(status))]
        for values in self.counts.values():
            if len(values) <= index:
                values.extend([0] * (index + 1 - len(values)))
        series[index] += 1

    def as_json(self) -> dict[str, Any]:
        return {"bucket_seconds": self.width, "counts": {k: list(v) for k, v in self.counts.items()}}


def _drop_reason(exception: BaseException) -> str:
    """Why the record pipeline (crawler/pipelines.py) dropped a record, from the DropItem's message."""
    message = str(exception)
    if message.startswith("unchanged"):
        return "unchanged"
    if message.startswith("same canonical URL"):
        return "duplicate_url"
    if message.startswith("same text"):
        return "duplicate_content"
    return "dropped"


def _written_by_line_exporter(settings: BaseSettings) -> bool:
    """The first feed's exporter tells when each record's line is written (``record_written``)."""
    feeds = settings.getdict("FEEDS")
    if not feeds:
        return False
    options = next(iter(feeds.values())) or {}
    exporters = settings.getwithbase("FEED_EXPORTERS")
    name = exporters.get(options.get("format"))
    if not name:
        return False
    try:
        exporter = load_object(name) if isinstance(name, str) else name
    except (ImportError, AttributeError, ValueError, NameError):
        return False
    return isinstance(exporter, type) and issubclass(exporter, RecordLinesExporter)


# --------------------------------------------------------------------------- the extensions


class CrawlReport:
    """Writes report.json, report.md and report.html at the end of every crawl (``REPORT_ENABLED``),
    and counts what the report needs while the crawl runs."""

    def __init__(self, stats: StatsCollector, settings: BaseSettings):
        self.stats = stats
        self.settings = settings
        self.spider: Spider | None = None
        self.written = False
        self.outcome_decides = True
        self.timeline = Timeline()
        self.state_path: Path | None = None
        self.run: dict[str, Any] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CrawlReport:
        if not crawler.settings.getbool("REPORT_ENABLED", True):
            raise NotConfigured("REPORT_ENABLED is False")
        extension = cls(crawler.stats, crawler.settings)
        extension.crawler = crawler
        crawler.signals.connect(extension.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(extension.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(extension.outcome_decided, signal=crawl_outcome_decided)
        crawler.signals.connect(extension.record_written, signal=record_written)
        crawler.signals.connect(extension.item_dropped, signal=signals.item_dropped)
        crawler.signals.connect(extension.response_downloaded, signal=signals.response_downloaded)
        crawler.signals.connect(extension.request_dropped, signal=signals.request_dropped)
        return extension

    def spider_opened(self, spider: Spider) -> None:
        self.spider = spider
        self.timeline = Timeline()
        # CrawlOutcome decides once the outputs are closed and then signals; without it, write at close.
        self.outcome_decides = any(isinstance(ext, CrawlOutcome) for ext in self.crawler.extensions.middlewares)
        if _written_by_line_exporter(self.settings):
            self.stats.set_value(WRITTEN, 0)  # records are counted as their lines are written
        state = self._state()
        if state is not None:
            self.state_path = state.path
            self.run = {"crawl": state.crawl_id, "run": state.run_id, "resumed": state.resumed}
            state.prune_outcomes()

    def _state(self) -> CrawlState | None:
        state = getattr(self.spider, "state", None)
        return state if isinstance(state, CrawlState) else None

    def record_written(self, record) -> None:
        """A record's line is in the output: counted once per URL and run (several feeds write it
        several times), as new or changed, by year, section, language and date field."""
        record = dict(record)
        url = record.get("canonical_url") or record.get("url") or ""
        revision = record.get("revision") or 1
        state = self._state()
        if state is not None and not state.outcome(url, "record", "new" if revision == 1 else "changed"):
            return
        if WRITTEN not in self.stats.get_stats():
            return  # not the first feed's exporter: the pipelines' counts stand
        self.stats.inc_value(WRITTEN)
        self.stats.inc_value(f"{WRITTEN}/{'new' if revision == 1 else 'changed'}")
        date = record.get("document_date") or ""
        self.stats.inc_value(f"{WRITTEN}/year/{date[:4] if date[:4].isdigit() else '(none)'}")
        self.stats.inc_value(f"{WRITTEN}/section/{record.get('section') or '(none)'}")
        self.stats.inc_value(f"{WRITTEN}/language/{record.get('language')}")
        for name in DATE_FIELDS:
            if record.get(name):
                self.stats.inc_value(f"{WRITTEN}/with/{name}")

    def item_dropped(self, item, exception, **kwargs) -> None:
        reason = _drop_reason(exception)
        self.stats.inc_value(f"{DROPPED}{reason}")
        state = self._state()
        url = dict(item).get("canonical_url") if item is not None else None
        if state is not None and url:
            state.outcome(url, "unchanged" if reason == "unchanged" else f"skipped/{reason}",
                          "same text as its last record" if reason == "unchanged" else None)

    def response_downloaded(self, response, **kwargs) -> None:
        """Every response the downloader got (retries and redirects too, as pages.fetched counts them)."""
        self.timeline.add(response.status)

    def request_dropped(self, request, **kwargs) -> None:
        """Scrapy's duplicate filter dropped a request: a page already requested; when it was a
        redirect, the page that redirected there is noted as redirected."""
        state = self._state()
        profile = getattr(self.spider, "profile", None)
        if state is None or profile is None or request.meta.get(INTERNAL):
            return
        from pipelines.urls import canonical_url

        try:
            target = canonical_url(request.url, profile)
        except ValueError:
            return
        requested = request.meta.get("canonical_url")
        if requested and requested != target:
            state.outcome(requested, "redirected", target)
        referer = request.headers.get(b"Referer")
        state.outcome(target, "skipped/duplicate_request", "already requested",
                      referer.decode("latin-1") if referer else None)

    def spider_closed(self, spider: Spider, reason: str) -> None:
        if not self.outcome_decides:
            self.write(spider, reason, self.stats.get_value(FAILED_KEY))

    def outcome_decided(self, spider: Spider, reason: str, failure: str | None) -> None:
        self.write(spider, reason, failure)

    def details(self, spider: Spider) -> dict[str, Any]:
        """What the report has beyond the stats: from the crawl state (read once the spider has
        closed it) and from what was gathered while the crawl ran."""
        details: dict[str, Any] = {"run": dict(self.run), "timeline": self.timeline.as_json()}
        if self.state_path is None or not self.state_path.is_file():
            return details
        reader = getattr(spider, "reader", None)
        held_urls = [getattr(draft, "url", None) for draft in getattr(reader, "held", None) or []]
        from pipelines.urls import canonical_or_itself

        profile = getattr(spider, "profile", None)
        held = {canonical_or_itself(u, profile) for u in held_urls if u}
        start = getattr(spider, "start_url", None)
        try:
            state = CrawlState(self.state_path, read_only=True)
        except (OSError, sqlite3.Error) as exc:
            logger.warning("The crawl report cannot read the crawl state %s: %s", self.state_path, exc)
            return details
        try:
            urls, off_host = group_outcomes(state.run_outcomes(self.run["run"]))
            urls["held"] = [_entry(u, "held for boilerplate learning") for u in sorted(held)]
            queued, finished = state.queue_counts(self.run["crawl"])
            details.update(
                urls=urls, off_host=off_host,
                queue={"queued": queued, "finished": finished, "pending": queued - finished},
                completeness=completeness(state, self.run["crawl"], canonical_or_itself(start, profile) if start else None, held),
            )
        except sqlite3.Error as exc:
            logger.warning("The crawl report cannot read the crawl state %s: %s", self.state_path, exc)
        finally:
            state.close()
        return details

    def write(self, spider: Spider, reason: str, failure: str | None) -> Path | None:
        if self.written:
            return None
        self.written = True
        try:
            details = self.details(spider)
        except Exception:  # a bug here must not cost the crawl its report: the counts are written all the same
            logger.exception("The crawl report could not gather the URLs behind its counts")
            details = {"run": dict(self.run), "timeline": self.timeline.as_json()}
        stats = self.stats.get_stats()
        report = build_report(
            stats,
            spider=spider.name,
            start_url=getattr(spider, "start_url", None),
            output=first_feed(self.settings),
            finish_reason=stats.get("finish_reason") or reason,
            failure_reason=failure,
            end_time=stats.get("finish_time") or datetime.now(timezone.utc),
            details=details,
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
            if k.startswith(DOWNLOAD_ERROR_PREFIX) and not _is_refusal(k[len(DOWNLOAD_ERROR_PREFIX):])
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
