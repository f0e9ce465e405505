"""End to end: the contract command crawls the mock archive through a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
import re
import subprocess
from collections import Counter
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit

import pytest

from conftest import BIN, LOCAL_CRAWL, REPO, SITE_HEADERS, read_jsonl
from pipelines.schema import RECORD_FIELDS

COMPARED = [f for f in RECORD_FIELDS if f not in ("url", "canonical_url", "fetched_at")]


def run_crawl(start_url: str, output, *extra: str, log_file=None, timeout: int = 300) -> subprocess.CompletedProcess:
    command = [str(BIN / "scrapy"), "crawl", "nizkor", "-a", f"start_url={start_url}", "-O", str(output),
               "-s", f"CRAWL_STATE={output.parent / 'state'}", *extra]
    if log_file is not None:
        command += ["-s", f"LOG_FILE={log_file}", "-s", "LOG_LEVEL=DEBUG"]
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=timeout)


def final_stats(log_text: str) -> dict:
    """The stats Scrapy dumps at the end of the crawl, read from its log."""
    dump = log_text.split("Dumping Scrapy stats:", 1)[1]
    pairs = re.findall(r"'([^']+)': (\d+)[,}]", dump)
    return {key: int(value) for key, value in pairs}


@pytest.fixture(scope="module")
def crawl(fixture_site, tmp_path_factory):
    folder = tmp_path_factory.mktemp("crawl")
    output, log_file = folder / "records.jsonl", folder / "crawl.log"
    started = len(fixture_site.requests)
    result = run_crawl(f"{fixture_site.base_url}/nizkor/", output, *LOCAL_CRAWL, log_file=log_file)
    log_text = log_file.read_text(encoding="utf-8")
    return {
        "result": result,
        "records": read_jsonl(output),
        "log": log_text,
        "stats": final_stats(log_text),
        "requests": list(fixture_site.requests)[started:],
        "base_url": fixture_site.base_url,
    }


def test_crawl_exits_cleanly(crawl):
    assert crawl["result"].returncode == 0, crawl["result"].stderr[-3000:]


def test_one_record_per_gold_article_and_nothing_else(crawl, gold):
    paths = Counter(urlsplit(r["url"]).path for r in crawl["records"])
    assert sorted(paths) == sorted(gold)
    assert max(paths.values()) == 1, "a page gave more than one record"


def test_every_field_equals_the_gold_record(crawl, gold):
    mismatches = []
    for record in crawl["records"]:
        path = urlsplit(record["url"]).path
        expected = gold[path]
        for field in COMPARED:
            if record[field] != expected[field]:
                mismatches.append((path, field, record[field], expected[field]))
        assert record["canonical_url"] == crawl["base_url"] + path
        assert list(record) == list(RECORD_FIELDS)
    assert not mismatches, "\n".join(map(repr, mismatches))


def test_fetched_at_is_a_utc_timestamp_of_this_crawl(crawl):
    now = datetime.now(timezone.utc)
    for record in crawl["records"]:
        moment = datetime.fromisoformat(record["fetched_at"].replace("Z", "+00:00"))
        assert moment.utcoffset() == timedelta(0)
        assert now - timedelta(minutes=30) < moment <= now


def test_no_duplicate_records(crawl):
    records = crawl["records"]
    assert len({r["canonical_url"] for r in records}) == len(records)
    assert len({r["content_sha256"] for r in records}) == len(records)


def test_robots_txt_is_obeyed_and_fetched_first(crawl):
    paths = [r["path"] for r in crawl["requests"]]
    assert paths[0] == "/robots.txt"
    assert not [p for p in paths if p.startswith("/nizkor/privado/")]
    assert crawl["stats"].get("robotstxt/forbidden", 0) >= 1


def test_stays_on_the_start_host(crawl):
    crawled = re.findall(r"Crawled \(\d+\) <GET ([^>]+)>", crawl["log"])
    assert crawled
    assert {urlsplit(url).netloc for url in crawled} == {urlsplit(crawl["base_url"]).netloc}
    assert crawl["stats"].get("archive/links/offsite", 0) >= 1


def test_each_page_is_requested_once(crawl):
    # Index pages are linked as dir/, dir/index.html, ../dir/index.html, with fragments and query strings.
    retried = {path for path, options in json.loads(SITE_HEADERS.read_text()).items()
               if options.get("status", 200) >= 500}  # Scrapy retries a 5xx: a re-request, not a duplicate
    seen = Counter()
    for request in crawl["requests"]:
        path = urlsplit(request["path"]).path
        seen[path.removesuffix("index.html")] += 1
    repeated = {p: n for p, n in seen.items() if n > 1 and p != "/robots.txt" and p not in retried}
    assert not repeated


def test_polite_identity(crawl):
    agents = {r["headers"].get("User-Agent") for r in crawl["requests"]}
    assert len(agents) == 1 and agents.pop().startswith("archive-crawler/")
    enabled = crawl["log"].split("Enabled extensions:", 1)[1].split("]", 1)[0]
    assert "TelnetConsole" not in enabled and "RemoteControl" not in enabled


def test_bad_pages_are_counted_and_the_crawl_goes_on(crawl, gold):
    stats = crawl["stats"]
    assert stats.get("httperror/response_ignored_status_count/404", 0) >= 1
    assert stats.get("httperror/response_ignored_status_count/500", 0) >= 1
    for reason in ("empty", "binary", "no_text", "listing_page"):
        assert stats.get(f"archive/skipped/{reason}", 0) >= 1, reason
    assert stats["archive/records"] == len(gold)
    assert all(r["text"].strip() for r in crawl["records"])


def test_a_crawl_where_every_request_fails_exits_non_zero(tmp_path):
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = run_crawl(f"http://127.0.0.1:{port}/nizkor/", tmp_path / "out.jsonl", "-s", "RETRY_TIMES=0", timeout=120)
    assert result.returncode == 1
    assert "Crawl failed: every request failed" in result.stderr


def test_a_spider_that_cannot_start_exits_non_zero(tmp_path):
    result = run_crawl("ftp://example.org/", tmp_path / "out.jsonl", timeout=120)
    assert result.returncode == 1
    assert "start_url must be an http(s) URL" in result.stderr
