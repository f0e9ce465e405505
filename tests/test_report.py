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
    # added: the run, its status in words, and what lies behind the counts
    "run", "status_text", "records_by_year", "queue", "accounting", "timeline", "urls", "completeness",
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
    # Distinct off-host URLs, not the times links to them were met (the start page's links recur on every page).
    listed = [entry["url"] for entry in report_crawl["report"]["urls"]["skipped"]["off_host"]]
    assert skipped["off_host"] == len(listed) + stats.get("offsite/filtered", 0) >= 1
    assert skipped["off_host"] < stats["archive/links/offsite"]
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
    for reason in ("robots", "off_host", "duplicate", "listing", "http_error 404", "http_error 500"):
        assert re.search(rf"^\| {reason} \| [1-9]\d* \|$", markdown, re.M), reason
    assert not re.search(r"^\| too_large \|", markdown, re.M)  # nothing too large: left out
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
    markdown = (output.parent / "report.md").read_text(encoding="utf-8")
    assert "**FAILED**: every request failed" in markdown
    # Said in words, without the stats keys, and no table of zeros.
    assert report["status_text"].startswith("Failed: every request failed: ")
    assert "connection refused" in report["status_text"] and "downloader/" not in report["status_text"]
    assert "downloader/exception_type_count" not in markdown
    assert "(none)" not in markdown and "| 0 |" not in markdown
    assert "## Download errors" in markdown
    page = (output.parent / "report.html").read_text(encoding="utf-8")
    assert "FAILED" in page and "connection refused" in page
    assert (output.parent / "reports" / "index.html").is_file()


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


# --------------------------------------------------------------------------- what lies behind the counts


def _fixture_file(server, path: str) -> Path | None:
    fs_path, _ = server.resolve(unquote(urlsplit(path).path) or "/")
    return fs_path


def _links_of_pages_served(report_crawl) -> dict[str, set[str]]:
    """Every http(s) link (absolute) on the HTML pages the server answered 200 in the crawl, read
    from the fixture files with lxml: link -> the pages it is on."""
    import lxml.html
    from urllib.parse import urljoin

    base, server = report_crawl["base_url"], report_crawl["server"]
    links: dict[str, set[str]] = {}
    for request in report_crawl["requests"]:
        path = urlsplit(request["path"]).path
        if request["status"] != 200 or path == "/robots.txt" or path.endswith(".xml"):
            continue
        fs_path = _fixture_file(server, path)
        try:
            tree = lxml.html.fromstring(fs_path.read_bytes())
        except (ValueError, lxml.etree.ParserError):
            continue  # an empty or binary page: no links read
        page = f"{base}{path}"
        for element in tree.iter("a", "area"):
            href = (element.get("href") or "").strip()
            link = urljoin(page, href)
            if href and urlsplit(link).scheme in ("http", "https"):
                links.setdefault(link, set()).add(page)
    return links


def test_off_host_counts_distinct_urls(report_crawl):
    from pipelines.profiles import load_profile
    from pipelines.urls import canonical_url

    report, host = report_crawl["report"], urlsplit(report_crawl["base_url"]).netloc
    profile = load_profile("derechos.org")
    off_host = {canonical_url(link, profile) for link in _links_of_pages_served(report_crawl)
                if urlsplit(link).netloc != host}
    listed = [entry["url"] for entry in report["urls"]["skipped"]["off_host"]]
    assert len(listed) == len(set(listed)), "an off-host URL was listed twice"
    assert set(listed) == off_host
    assert report["skipped"]["off_host"] == len(off_host) + report_crawl["stats"].get("offsite/filtered", 0)


def test_the_urls_behind_http_errors_are_listed_with_the_page_that_linked_them(report_crawl):
    report, base = report_crawl["report"], report_crawl["base_url"]
    for code in ("404", "500"):
        answered = {(f"{base}{urlsplit(r['path']).path}", r["headers"].get("Referer"))
                    for r in report_crawl["requests"] if str(r["status"]) == code and r["path"] != "/sitemap.xml"}
        listed = {(e["url"], e["from"]) for e in report["urls"]["skipped"]["http_error"][code]}
        assert listed == answered and listed, code
        assert len(report["urls"]["skipped"]["http_error"][code]) == report["skipped"]["http_error"][code]
    # A 500 is a request that failed for good (after retries): listed there too, with the reason.
    assert [e["url"] for e in report["urls"]["failed"]["http_500"]] == [
        e["url"] for e in report["urls"]["skipped"]["http_error"]["500"]]
    for entry in report["urls"]["skipped"]["http_error"]["404"]:
        assert f"| {entry['url']}" not in report_crawl["markdown"]
        assert f"- {entry['url']} (gone), linked from {entry['from']}" in report_crawl["markdown"]


def test_the_urls_robots_txt_refused_are_listed(report_crawl):
    report, base = report_crawl["report"], report_crawl["base_url"]
    # Every link on a page served to a path robots.txt disallows (Disallow: /nizkor/privado/).
    refused = {link for link in _links_of_pages_served(report_crawl)
               if link.startswith(f"{base}/nizkor/privado/")}
    listed = {entry["url"] for entry in report["urls"]["skipped"]["robots"]}
    assert listed == refused and len(listed) == report["skipped"]["robots"] >= 1
    requested = {urlsplit(r["path"]).path for r in report_crawl["requests"]}
    assert not {urlsplit(url).path for url in listed} & requested
    assert all(entry["from"] and "robots.txt" in entry["detail"] for entry in report["urls"]["skipped"]["robots"])
    for url in listed:
        assert f"- {url} (" in report_crawl["markdown"]


def test_the_urls_behind_each_skip_reason_are_listed(report_crawl):
    report = report_crawl["report"]
    urls = report["urls"]["skipped"]
    for reason in ("listing", "decode_error", "no_text"):
        assert len(urls[reason]) == report["skipped"][reason] >= 1, reason
    records = {r["canonical_url"] for r in report_crawl["records"]}
    assert not {e["url"] for e in urls["listing"]} & records
    assert f"{report_crawl['base_url']}/nizkor/" in {e["url"] for e in urls["listing"]}


def test_every_number_adds_up(report_crawl):
    report = report_crawl["report"]
    records, pages, accounting = report["records"], report["pages"], report["accounting"]
    assert records["new"] + records["changed"] == records["written"] == len(report_crawl["records"])
    assert sum(report["sections"].values()) == sum(report["languages"].values()) == records["written"]
    assert sum(report["records_by_year"].values()) == records["written"]
    years = Counter((r["document_date"] or "")[:4] or "(none)" for r in report_crawl["records"])
    assert report["records_by_year"] == dict(sorted(years.items(), key=lambda kv: (not kv[0].isdigit(), kv[0])))
    assert pages["read"] == (accounting["records_built"] + sum(accounting["skipped_while_reading"].values())
                             + pages["held"])
    assert pages["held"] == 0 and accounting["in_progress"] == 0
    assert accounting["checks"] and all(check["ok"] for check in accounting["checks"]), accounting["checks"]
    assert "| records written = new + changed |" in report_crawl["markdown"]
    timeline = report["timeline"]
    assert sum(sum(v) for v in timeline["counts"].values()) == pages["fetched"]
    assert report["queue"]["queued"] >= report["queue"]["finished"] > 0
    assert report["status_text"].startswith("Finished: ")
    assert f"{records['written']} records written" in report["status_text"]


def test_the_completeness_check_lists_the_linked_pages_that_gave_nothing(report_crawl):
    report, base = report_crawl["report"], report_crawl["base_url"]
    done = report["completeness"]
    assert done["index_pages"] == report["skipped"]["listing"] >= 1
    assert f"{base}/nizkor/" in done["index_page_urls"]
    assert done["linked"] == done["records"] + done["unchanged"] + done["skipped"] + done["missing"]
    assert done["records"] == len(report_crawl["records"])  # every article is listed by an index page
    assert done["missing"] == sum(done["missing_by_reason"].values()) == len(done["missing_pages"])
    missing = {m["url"]: m for m in done["missing_pages"]}
    assert missing[f"{base}/nizkor/privado/secreto1.html"]["reason"] == "robots"
    assert missing[f"{base}/nizkor/doc/perdido.html"]["reason"] == "error"
    assert missing[f"{base}/nizkor/doc/perdido.html"]["detail"] == "HTTP 404"
    assert missing[f"{base}/nizkor/doc/fallo.html"]["reason"] == "error"
    assert done["missing_by_reason"]["not_fetched"] == 0  # a finished crawl fetched all it could
    for m in done["missing_pages"]:
        assert m["from"] in done["index_page_urls"]
        if m["reason"] == "off_scope":
            assert urlsplit(m["url"]).netloc != urlsplit(base).netloc
    assert "## Completeness" in report_crawl["markdown"]


def test_a_page_an_index_links_beyond_depth_limit_is_listed_with_its_reason(fixture_site, tmp_path):
    output = tmp_path / "records.jsonl"
    started = len(fixture_site.requests)
    result = scrapy_crawl(f"{fixture_site.base_url}/nizkor/", output, *LOCAL_CRAWL, "-s", "DEPTH_LIMIT=1",
                          "-s", f"CRAWL_STATE={tmp_path / 'state'}")
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    done = report["completeness"]
    deep = [m for m in done["missing_pages"] if m["reason"] == "not_followed"]
    assert deep and all(m["detail"].startswith("depth") for m in deep)
    assert len(deep) == done["missing_by_reason"]["not_followed"]
    requested = {urlsplit(r["path"]).path for r in list(fixture_site.requests)[started:]}
    assert not {urlsplit(m["url"]).path for m in deep} & requested, "a page beyond DEPTH_LIMIT was fetched"
    listed = {e["url"] for e in report["urls"]["not_followed"]["depth"]}
    assert {m["url"] for m in deep} <= listed
    assert len(listed) <= report["faults"]["not_followed"]["depth"]
    assert all(check["ok"] for check in report["accounting"]["checks"]), report["accounting"]["checks"]
    markdown = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert f"- {deep[0]['url']} (depth" in markdown


def test_each_run_keeps_its_report_and_an_index_lists_the_runs(report_crawl):
    """The module's crawl is the first run; the next run of the same command goes into the same folder."""
    tmp_path, output, state = report_crawl["folder"], report_crawl["output"], report_crawl["folder"] / "state"
    report1 = report_crawl["report"]
    # The next run of the crawl: a re-crawl, its pages unchanged.
    second = scrapy_crawl(f"{report_crawl['base_url']}/nizkor/", output, *LOCAL_CRAWL, "-s", f"CRAWL_STATE={state}")
    assert second.returncode == 0, second.stderr[-3000:]
    report2 = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert report1["run"]["id"] != report2["run"]["id"] and report2["run"]["run"] == report1["run"]["run"] + 1
    assert report1["records"]["written"] > 0 and report2["records"]["written"] == 0
    assert report2["records"]["unchanged"] == report1["records"]["written"]
    runs = tmp_path / "reports"
    assert sorted(p.name for p in runs.iterdir() if p.is_dir()) == sorted([report1["run"]["id"], report2["run"]["id"]])
    for report in (report1, report2):
        folder = tmp_path / report["run"]["folder"]
        assert {p.name for p in folder.iterdir()} == {"report.json", "report.md", "report.html"}
        assert json.loads((folder / "report.json").read_text(encoding="utf-8")) == report
        assert report["run"]["id"].startswith(report["start_time"].replace("-", "").replace(":", ""))
    index = json.loads((runs / "index.json").read_text(encoding="utf-8"))["runs"]
    assert [run["id"] for run in index] == [report2["run"]["id"], report1["run"]["id"]]  # newest first
    assert [run["status"] for run in index] == ["ok", "ok"]
    assert [run["records_written"] for run in index] == [0, report1["records"]["written"]]
    page = (runs / "index.html").read_text(encoding="utf-8")
    for report in (report1, report2):
        assert f'href="{report["run"]["id"]}/report.html"' in page
    # The re-crawl's completeness: the index pages' links are accounted for as unchanged pages.
    done = report2["completeness"]
    assert done["unchanged"] == report1["completeness"]["records"] and done["records"] == 0
    assert done["missing_by_reason"] == report1["completeness"]["missing_by_reason"]
    assert all(check["ok"] for check in report2["accounting"]["checks"]), report2["accounting"]["checks"]


def test_an_interrupted_run_accounts_for_the_pages_held_for_learning(fixture_site, tmp_path):
    import signal
    import time

    output = tmp_path / "records.jsonl"
    started = len(fixture_site.requests)
    # Slow (one page every 0.2 s): the signal lands before the boilerplate warm-up (20 pages) is over.
    command = [str(BIN / "scrapy"), "crawl", "nizkor", "-a", f"start_url={fixture_site.base_url}/nizkor/",
               "-O", str(output), "-s", f"CRAWL_STATE={tmp_path / 'state'}", "-s", "DOWNLOAD_DELAY=0.2",
               "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "DOWNLOAD_DELAY_JITTER=0"]
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and len(fixture_site.requests) - started < 5:
            time.sleep(0.02)
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 130, stderr[-3000:]
    report = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    pages, accounting = report["pages"], report["accounting"]
    assert report["status"] == "interrupted"
    assert pages["read"] >= 1 and pages["held"] >= 1 and report["records"]["written"] == 0
    assert pages["held"] == len(report["urls"]["held"])
    assert pages["read"] == (accounting["records_built"] + sum(accounting["skipped_while_reading"].values())
                             + pages["held"] + accounting["in_progress"])
    assert all(check["ok"] for check in accounting["checks"]), accounting["checks"]
    assert report["queue"]["pending"] >= pages["held"]
    text = report["status_text"]
    assert text.startswith("Interrupted") and "held for boilerplate learning" in text and "resume" in text
    assert f"{pages['held']} page" in text
    assert report["completeness"]["missing_by_reason"]["not_fetched"] >= 1
    markdown = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "held for boilerplate learning" in markdown


def test_the_timeline_of_fetches_stays_bounded():
    from crawler.report import Timeline

    timeline = Timeline(max_buckets=8, width=0.25)
    for second in range(1000):
        timeline.add(200 if second % 10 else 404, now=timeline.started + second)
    counts = timeline.as_json()["counts"]
    assert max(len(v) for v in counts.values()) <= 8
    assert sum(counts["2xx"]) == 900 and sum(counts["4xx"]) == 100
    assert timeline.as_json()["bucket_seconds"] >= 1000 / 8


def test_a_failure_reason_is_said_in_words():
    from crawler.report import failure_in_words, reason_words

    raw = ("every request failed: {'downloader/exception_type_count/twisted.internet.error.DNSLookupError': 2, "
           "'httperror/response_ignored_status_count/503': 1} (and refused or gone: {'robotstxt/forbidden': 1})")
    assert failure_in_words(raw) == ("every request failed: 2 host name not found (DNS), 1 HTTP 503 "
                                     "(and refused or gone: 1 refused by robots.txt)")
    assert reason_words("http_error 404") == "HTTP 404" and reason_words("out_of_scope/offsite").endswith("another site")
