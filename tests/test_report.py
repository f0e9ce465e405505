"""The crawl report (report.json, report.md), the progress line and the exit status, checked on real
crawls of the mock archive through the fixture HTTP server, as a user would check them: against the
output file, the server's request log and the crawl log."""

from __future__ import annotations

import json
import re
import socket
import subprocess
from collections import Counter
from datetime import datetime
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from conftest import BIN, LOCAL_CRAWL, REPO, read_jsonl
from pipelines.schema import DATE_FIELDS
from test_crawl import final_stats

REPORT_KEYS = [
    "report_version", "spider", "start_url", "output", "start_time", "end_time", "duration_seconds",
    "finish_reason", "status", "failure_reason", "exit_status", "pages", "records", "skipped",
    "skipped_detail", "faults", "records_missing", "sections", "languages",
]
SKIP_REASONS = ["robots", "off_host", "duplicate", "too_large", "not_html", "decode_error", "listing",
                "invalid_record", "http_error"]


def scrapy_crawl(start_url: str, output: Path | str, *extra: str, timeout: int = 300) -> subprocess.CompletedProcess:
    command = [str(BIN / "scrapy"), "crawl", "nizkor", "-a", f"start_url={start_url}", "-O", str(output), *extra]
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=timeout)


def utc(moment: str) -> datetime:
    assert moment.endswith("Z"), moment
    return datetime.fromisoformat(moment.replace("Z", "+00:00"))


def unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def expected_status(server, path: str) -> int:
    """What the fixture server answers for a request path (its own rules, see fixtures/server.py)."""
    url_path = unquote(urlsplit(path).path) or "/"
    fs_path, redirect = server.resolve(url_path)
    if redirect is not None:
        return 301
    return int(server.override_for(url_path, fs_path).get("status", 200 if fs_path else 404))


@pytest.fixture(scope="module")
def report_crawl(fixture_site, tmp_path_factory):
    """One crawl of the mock archive, slowed a little (DOWNLOAD_DELAY) so that it lasts a few progress
    intervals (PROGRESS_INTERVAL=0.5)."""
    folder = tmp_path_factory.mktemp("report-crawl")
    output, log_file = folder / "records.jsonl", folder / "crawl.log"
    started = len(fixture_site.requests)
    result = scrapy_crawl(f"{fixture_site.base_url}/nizkor/", output, *LOCAL_CRAWL,
                          "-s", "DOWNLOAD_DELAY=0.03", "-s", "PROGRESS_INTERVAL=0.5",
                          "-s", f"CRAWL_STATE={folder / 'state'}",
                          "-s", f"LOG_FILE={log_file}", "-s", "LOG_LEVEL=INFO")
    log_text = log_file.read_text(encoding="utf-8")
    return {
        "result": result,
        "folder": folder,
        "output": output,
        "records": read_jsonl(output),
        "log": log_text,
        "stats": final_stats(log_text),
        "requests": list(fixture_site.requests)[started:],
        "server": fixture_site.server,
        "base_url": fixture_site.base_url,
        "report": json.loads((folder / "report.json").read_text(encoding="utf-8")),
        "markdown": (folder / "report.md").read_text(encoding="utf-8"),
    }


def test_report_json_and_md_are_written_beside_the_output(report_crawl):
    assert report_crawl["result"].returncode == 0, report_crawl["result"].stderr[-3000:]
    folder = report_crawl["folder"]
    assert (folder / "report.json").is_file() and (folder / "report.md").is_file()
    assert not [p.name for p in folder.iterdir() if p.name.endswith(".tmp")], "a temporary file was left behind"
    assert "Crawl report (beside the output" in report_crawl["log"]
    # ... and nowhere else: not in the CRAWL_STATE folder, not in the working directory.
    assert not (folder / "state" / "report.json").exists()


def test_report_says_what_crawl_it_was(report_crawl):
    report = report_crawl["report"]
    assert list(report) == REPORT_KEYS
    assert report["spider"] == "nizkor"
    assert report["start_url"] == f"{report_crawl['base_url']}/nizkor/"
    assert report["output"] == str(report_crawl["output"])
    assert report["status"] == "ok" and report["exit_status"] == 0 and report["failure_reason"] is None
    assert report["finish_reason"] == "finished"
    assert utc(report["start_time"]) <= utc(report["end_time"])
    assert report["duration_seconds"] > 0


def test_pages_by_status_code_match_what_the_server_answered(report_crawl):
    report, server = report_crawl["report"], report_crawl["server"]
    answered = Counter(str(expected_status(server, r["path"])) for r in report_crawl["requests"])
    assert report["pages"]["by_status"] == dict(answered)
    assert {"200", "301", "404", "500"} <= set(report["pages"]["by_status"])
    assert report["pages"]["fetched"] == len(report_crawl["requests"])
    fetched, duration = report["pages"]["fetched"], report["duration_seconds"]
    assert report["pages"]["per_second"] == pytest.approx(fetched / duration, rel=0.01)


def test_skipped_pages_are_reported_by_reason(report_crawl):
    skipped, stats = report_crawl["report"]["skipped"], report_crawl["stats"]
    assert set(SKIP_REASONS) <= set(skipped)
    assert skipped["robots"] == stats["robotstxt/forbidden"] >= 1
    assert skipped["off_host"] == stats["archive/links/offsite"] + stats.get("offsite/filtered", 0) >= 1
    assert skipped["duplicate"] >= stats["dupefilter/filtered"] >= 1
    assert skipped["listing"] == stats["archive/skipped/listing_page"] >= 1
    assert skipped["decode_error"] + skipped["not_html"] >= 1
    assert skipped["too_large"] == 0
    assert skipped["http_error"] == {"404": stats["httperror/response_ignored_status_count/404"],
                                     "500": stats["httperror/response_ignored_status_count/500"]}
    # Skip reasons without a normalised name keep their own (e.g. no_text: a page with no body text).
    for key, value in stats.items():
        if key.startswith("archive/skipped/") and key.split("/")[-1] not in (
                "duplicate_url", "duplicate_content", "not_html", "binary", "unparsable", "empty", "listing_page"):
            assert skipped[key.split("/")[-1]] == value


def test_records_match_the_output_file(report_crawl):
    report, records = report_crawl["report"], report_crawl["records"]
    lines = [line for line in report_crawl["output"].read_text(encoding="utf-8").splitlines() if line.strip()]
    assert report["records"]["written"] == len(lines) == len(records) > 0
    # A first crawl: every record is new.
    assert report["records"] == {"written": len(records), "new": len(records), "changed": 0, "unchanged": 0}


def test_records_missing_each_date_field_match_the_output(report_crawl):
    records, missing = report_crawl["records"], report_crawl["report"]["records_missing"]
    assert missing == {field: sum(1 for r in records if r[field] is None) for field in DATE_FIELDS}
    assert all(0 < n < len(records) for n in missing.values())


def test_sections_and_languages_match_the_output(report_crawl):
    records, report = report_crawl["records"], report_crawl["report"]
    assert report["sections"] == dict(Counter(r["section"] or "(none)" for r in records))
    assert report["languages"] == dict(Counter(r["language"] for r in records))


def test_report_md_has_the_same_facts_as_tables(report_crawl):
    report, markdown = report_crawl["report"], report_crawl["markdown"]
    assert markdown.startswith("# Crawl report: nizkor\n")
    assert "| status | ok |" in markdown
    assert f"| records written | {report['records']['written']} " in markdown
    for code, n in report["pages"]["by_status"].items():
        assert f"| {code} | {n} |" in markdown
    for reason in ("robots", "off_host", "duplicate", "too_large", "listing", "http_error 404", "http_error 500"):
        assert re.search(rf"^\| {reason} \| \d+ \|$", markdown, re.M), reason
    for field, n in report["records_missing"].items():
        assert f"| {field} | {n} |" in markdown
    for section, n in report["sections"].items():
        assert f"| {section} | {n} |" in markdown


def test_a_progress_line_is_logged_during_the_crawl(report_crawl):
    lines = re.findall(
        r"\[crawler\.report\] INFO: Progress: (\d+) pages done, (\d+) records, (\d+) errors, ([\d.]+) pages/min",
        report_crawl["log"])
    assert len(lines) >= 2, "expected several progress lines at PROGRESS_INTERVAL=0.5"
    pages = [int(p) for p, *_ in lines]
    records = [int(r) for _, r, *_ in lines]
    assert pages == sorted(pages) and records == sorted(records)
    assert pages[-1] <= report_crawl["stats"]["response_received_count"]
    assert records[-1] <= len(report_crawl["records"])
    # Errors: download exceptions and HTTP error responses (the fixture's 404 and 500).
    assert int(lines[-1][2]) <= report_crawl["stats"]["httperror/response_ignored_count"]


def test_pages_over_download_maxsize_are_reported_as_too_large(fixture_site, tmp_path):
    output = tmp_path / "records.jsonl"
    result = scrapy_crawl(f"{fixture_site.base_url}/nizkor/", output, *LOCAL_CRAWL, "-s", "DOWNLOAD_MAXSIZE=3000",
                          "-s", f"CRAWL_STATE={tmp_path / 'state'}")
    assert result.returncode == 0, result.stderr[-3000:]
    too_large = set(re.findall(r"larger than download max size \(3000\) in request <GET ([^>]+)>", result.stderr))
    assert too_large
    report = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert report["skipped"]["too_large"] == len(too_large)
    assert not too_large & {r["url"] for r in read_jsonl(output)}
    assert report["status"] == "ok"


def test_a_crawl_where_every_request_fails_reports_the_failure(tmp_path):
    output = tmp_path / "out" / "records.jsonl"
    result = scrapy_crawl(f"http://127.0.0.1:{unused_port()}/nizkor/", output, "-s", "RETRY_TIMES=0",
                          "-s", f"CRAWL_STATE={tmp_path / 'state'}", timeout=120)
    assert result.returncode == 1
    assert "Crawl failed: every request failed" in result.stderr
    report = json.loads((output.parent / "report.json").read_text(encoding="utf-8"))
    assert report["status"] == "failed" and report["exit_status"] == 1
    assert report["failure_reason"].startswith("every request failed")
    assert "ConnectionRefused" in report["failure_reason"]
    assert report["pages"]["fetched"] == 0 and report["records"]["written"] == 0
    assert report["pages"]["download_errors"]
    assert "**FAILED**: every request failed" in (output.parent / "report.md").read_text(encoding="utf-8")


def test_an_output_that_cannot_be_created_stops_the_crawl_at_once(fixture_site, tmp_path):
    (tmp_path / "not-a-folder").write_text("a file where the output's folder should be\n")
    started = len(fixture_site.requests)
    state = tmp_path / "state"
    result = scrapy_crawl(f"{fixture_site.base_url}/nizkor/", tmp_path / "not-a-folder" / "records.jsonl",
                          *LOCAL_CRAWL, "-s", f"CRAWL_STATE={state}")
    assert result.returncode == 1
    assert "Crawl failed: the output could not be written" in result.stderr
    assert len(fixture_site.requests) == started, "the crawl went on without a place to write its records"
    # The report cannot go beside the output: it goes to the CRAWL_STATE folder.
    report = json.loads((state / "report.json").read_text(encoding="utf-8"))
    assert report["status"] == "failed" and report["exit_status"] == 1
    assert report["failure_reason"].startswith("the output could not be written")
    assert "not-a-folder" in report["failure_reason"]
    assert report["finish_reason"] == "output_unwritable"
    assert "the output could not be written" in (state / "report.md").read_text(encoding="utf-8")


def test_records_that_could_not_be_written_fail_the_crawl(fixture_site, tmp_path):
    # The batch folder is only known when the first record arrives, and is then a file: every write fails.
    (tmp_path / "batch1").write_text("a file where the first batch's folder should be\n")
    state = tmp_path / "state"
    result = scrapy_crawl(f"{fixture_site.base_url}/nizkor/", tmp_path / "batch%(batch_id)d" / "records.jsonl",
                          *LOCAL_CRAWL, "-s", f"CRAWL_STATE={state}")
    assert result.returncode == 1
    match = re.search(r"Crawl failed: the output could not be written: .* got 0 of (\d+) records", result.stderr)
    assert match and int(match.group(1)) > 0
    report = json.loads((state / "report.json").read_text(encoding="utf-8"))
    assert report["status"] == "failed"
    assert f"got 0 of {match.group(1)} records" in report["failure_reason"]


def test_a_spider_that_cannot_start_writes_a_failed_report(tmp_path):
    output = tmp_path / "out" / "records.jsonl"
    result = scrapy_crawl("ftp://example.org/", output, timeout=120)
    assert result.returncode == 1
    assert "Crawl failed: the spider could not start: ValueError: start_url must be an http(s) URL" in result.stderr
    assert "Traceback" not in result.stderr  # a bad argument is one line, not a stack
    report = json.loads((output.parent / "report.json").read_text(encoding="utf-8"))
    assert report["status"] == "failed" and report["exit_status"] == 1
    assert report["finish_reason"] == "could_not_start"
    assert "start_url must be an http(s) URL" in report["failure_reason"]
    assert report["start_url"] == "ftp://example.org/"


def test_report_enabled_false_writes_no_report(tmp_path):
    output = tmp_path / "records.jsonl"
    result = scrapy_crawl("ftp://example.org/", output, "-s", "REPORT_ENABLED=False", timeout=120)
    assert result.returncode == 1
    assert not (tmp_path / "report.json").exists() and not (tmp_path / "report.md").exists()
