"""Politeness (crawler/politeness.py): robots.txt Crawl-delay, Retry-After on 429/503 with backoff, one
request at a time per host. Real crawls (`scrapy crawl nizkor` subprocesses) of a small site served by
fixtures.server; every timing is read from the server's request log ("time": when each request
arrived), never from the test's own clock.
"""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import time
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from conftest import BIN, GOLD, REPO, SITE, SITE_HEADERS, read_jsonl
from fixtures.server import running_server

CRAWL_DELAY = 1.0
# Arrival times at the server carry a few milliseconds of noise (thread wake-ups, socket writes)
# around the crawler's send times; gaps the crawler keeps at >= N s may arrive a hair under N s.
ARRIVAL_NOISE = 0.05
# Only the delays under test: no DOWNLOAD_DELAY, no AutoThrottle (CONCURRENT_REQUESTS_PER_DOMAIN stays 1).
NO_OTHER_DELAYS = ["-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=False"]

ARTICLES = ["aiuk1.html", "hrw4.html", "wapo3.html", "priv2.html", "priv2en.html", "onu12.html"]
DOC = "/nizkor/doc/"
# The scripted answers (fixtures/server.py "responses"): then the page itself.
SCRIPTS = {
    DOC + "hrw4.html": [{"status": 503, "headers": {"Retry-After": "2"}}],
    DOC + "wapo3.html": [{"status": 429, "headers": {"Retry-After": "1"}}],
    # No Retry-After: exponential backoff from RETRY_BACKOFF_BASE (1.5 s in this crawl), 1.5 s then 3 s.
    DOC + "priv2en.html": [{"status": 503}, {"status": 503}],
    # Longer than RETRY_AFTER_MAX (600 s): given up at once.
    DOC + "onu12.html": [{"status": 503, "headers": {"Retry-After": "900"}}],
    # Three refusals, RETRY_TIMES=2: two retries, then given up.
    DOC + "aiuk1.html": [{"status": 429, "headers": {"Retry-After": "1"}}] * 3,
}
GIVEN_UP = {DOC + "onu12.html", DOC + "aiuk1.html"}
# How many times the server sees each scripted page: refusals, then the page unless given up.
FETCHES = {DOC + "hrw4.html": 2, DOC + "wapo3.html": 2, DOC + "priv2en.html": 3, DOC + "onu12.html": 1,
           DOC + "aiuk1.html": 3}


def build_site(folder: Path, robots: str, scripts: dict[str, list[dict]]) -> tuple[Path, Path]:
    """A copy of six articles of the mock archive with a listing, its robots.txt and headers file."""
    site = folder / "site"
    (site / "nizkor" / "doc").mkdir(parents=True)
    for name in ARTICLES:
        shutil.copy(SITE / "nizkor" / "doc" / name, site / "nizkor" / "doc" / name)
    listing = "".join(f'<li><a href="doc/{name}">{name}</a></li>' for name in ARTICLES)
    (site / "nizkor" / "index.html").write_text(f"<html><body><ul>{listing}</ul></body></html>\n")
    # The articles link to doc/index.html too.
    (site / "nizkor" / "doc" / "index.html").write_text(
        "<html><body><ul>" + "".join(f'<li><a href="{n}">{n}</a></li>' for n in ARTICLES) + "</ul></body></html>\n")
    (site / "robots.txt").write_text(robots)
    charsets = json.loads(SITE_HEADERS.read_text(encoding="utf-8"))
    headers = {DOC + name: dict(charsets.get(DOC + name, {})) for name in ARTICLES}
    for path, answers in scripts.items():
        headers[path]["responses"] = answers
    headers_file = folder / "headers.json"
    headers_file.write_text(json.dumps(headers, indent=1), encoding="utf-8")
    return site, headers_file


def all_stats(log_text: str) -> dict:
    """The final stats dump, numbers only (floats included)."""
    dump = log_text.split("Dumping Scrapy stats:", 1)[1]
    return {key: float(value) for key, value in re.findall(r"'([^']+)': (\d+(?:\.\d+)?)[,}]", dump)}


def crawl_site(folder: Path, robots: str, scripts: dict[str, list[dict]], *settings: str) -> dict:
    site, headers_file = build_site(folder, robots, scripts)
    output, log_file = folder / "records.jsonl", folder / "crawl.log"
    with running_server(site, headers_file) as server:
        command = [str(BIN / "scrapy"), "crawl", "nizkor", "-a", f"start_url={server.base_url}/nizkor/",
                   "-O", str(output), "-s", f"CRAWL_STATE={folder / 'state'}", *settings,
                   "-s", f"LOG_FILE={log_file}", "-s", "LOG_LEVEL=INFO"]
        result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
        requests = server.requests.snapshot()
    log_text = log_file.read_text(encoding="utf-8")
    assert result.returncode == 0, result.stderr[-3000:] + log_text[-3000:]
    return {"requests": requests, "records": read_jsonl(output), "log": log_text, "stats": all_stats(log_text)}


@pytest.fixture(scope="module")
def polite_crawl(tmp_path_factory):
    """Crawl-delay 1 s in robots.txt and every Retry-After case, no other delay."""
    folder = tmp_path_factory.mktemp("polite-crawl")
    robots = f"User-agent: *\nCrawl-delay: {CRAWL_DELAY:g}\nDisallow: /nizkor/privado/\n"
    crawl = crawl_site(folder, robots, SCRIPTS, *NO_OTHER_DELAYS, "-s", "RETRY_BACKOFF_BASE=1.5", "-s", "RETRY_TIMES=2",
                       "-s", f"WARC_DIR={folder / 'warc'}")
    crawl["warc_dir"] = folder / "warc"
    return crawl


@pytest.fixture(scope="module")
def gold_by_path() -> dict[str, dict]:
    return {urlsplit(r["url"]).path: r for r in read_jsonl(GOLD)}


def requests_of(crawl: dict, path: str) -> list[tuple[int, dict]]:
    """(index in the server's log, entry) of every request of a path."""
    return [(i, r) for i, r in enumerate(crawl["requests"]) if urlsplit(r["path"]).path == path]


# --- Crawl-delay ---

def test_every_request_to_the_host_is_at_least_the_crawl_delay_after_the_previous_one(polite_crawl):
    log = polite_crawl["requests"]
    assert log[0]["path"] == "/robots.txt"
    assert len(log) >= 15
    gaps = [(b["time"] - a["time"], b["path"]) for a, b in zip(log, log[1:])]
    short = [(round(gap, 3), path) for gap, path in gaps if gap < CRAWL_DELAY - ARRIVAL_NOISE]
    assert not short, short
    # And not by luck of a few: over the whole crawl the requests average at least the delay apart.
    assert log[-1]["time"] - log[0]["time"] >= (len(log) - 1) * CRAWL_DELAY - ARRIVAL_NOISE


def test_the_crawl_delay_is_counted_and_logged(polite_crawl):
    assert polite_crawl["stats"]["politeness/crawl_delay"] == CRAWL_DELAY
    assert "Crawl-delay 1.0 s" in polite_crawl["log"]


@pytest.fixture(scope="module")
def autothrottled_crawl(tmp_path_factory):
    """AutoThrottle on, starting at 0 s with no DOWNLOAD_DELAY: it would go down to the server's
    latency (milliseconds), and Scrapy's default jitter (+-50%) on top; the Crawl-delay must hold."""
    folder = tmp_path_factory.mktemp("autothrottled-crawl")
    robots = f"User-agent: archive-crawler\nCrawl-delay: {CRAWL_DELAY:g}\n"
    return crawl_site(folder, robots, {}, "-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=True",
                      "-s", "AUTOTHROTTLE_START_DELAY=0", "-s", "AUTOTHROTTLE_DEBUG=True")


def test_autothrottle_does_not_go_below_the_crawl_delay(autothrottled_crawl):
    log = autothrottled_crawl["requests"]
    # AutoThrottle's own adjustment went under the Crawl-delay after responses (AUTOTHROTTLE_DEBUG)...
    lowered = [int(ms) for ms in re.findall(r"AutoThrottle delay:\s*(\d+) ms", autothrottled_crawl["log"])]
    assert lowered and min(lowered) < CRAWL_DELAY * 1000
    assert autothrottled_crawl["stats"]["politeness/crawl_delay/raised"] >= 1
    # ...its policy gave the slot the floor instead, from robots.txt on (Scrapy's own debug line shows
    # the delay applied; the one before is robots.txt's own response)...
    after_robots = autothrottled_crawl["log"].split("Crawl-delay 1.0 s", 1)[1]
    applied = [int(ms) for ms in re.findall(r"\| delay:\s*(\d+) ms", after_robots)]
    assert applied and min(applied) >= CRAWL_DELAY * 1000
    # ...and no request went out earlier for it.
    gaps = [round(b["time"] - a["time"], 3) for a, b in zip(log, log[1:])]
    assert len(gaps) >= 8 and min(gaps) >= CRAWL_DELAY - ARRIVAL_NOISE, gaps
    assert autothrottled_crawl["stats"]["politeness/crawl_delay"] == CRAWL_DELAY


def test_crawl_delay_can_be_switched_off(tmp_path):
    robots = "User-agent: *\nCrawl-delay: 5\n"
    crawl = crawl_site(tmp_path, robots, {}, *NO_OTHER_DELAYS, "-s", "ROBOTSTXT_CRAWL_DELAY=False")
    log = crawl["requests"]
    assert log[-1]["time"] - log[0]["time"] < 5, "the Crawl-delay was applied"
    assert not any(key.startswith("politeness/crawl_delay") for key in crawl["stats"])
    assert "Crawl-delay" not in crawl["log"]


def test_crawl_delay_max_caps_the_delay(tmp_path):
    robots = "User-agent: *\nCrawl-delay: 30\n"
    crawl = crawl_site(tmp_path, robots, {}, *NO_OTHER_DELAYS, "-s", "CRAWL_DELAY_MAX=0.5")
    log = crawl["requests"]
    gaps = [b["time"] - a["time"] for a, b in zip(log, log[1:])]
    assert min(gaps) >= 0.5 - ARRIVAL_NOISE and max(gaps) < 5
    assert crawl["stats"]["politeness/crawl_delay"] == 0.5
    assert crawl["stats"]["politeness/crawl_delay/capped"] == 1


# --- Retry-After ---

@pytest.mark.parametrize("path, status, wait", [(DOC + "hrw4.html", 503, 2.0), (DOC + "wapo3.html", 429, 1.0)])
def test_the_retry_comes_after_retry_after_and_nothing_else_in_between(polite_crawl, path, status, wait):
    (first_i, first), (retry_i, retry) = requests_of(polite_crawl, path)
    assert (first["status"], retry["status"]) == (status, 200)
    # The pause counts from the refused answer, which left the server after the request arrived.
    assert retry["time"] - first["time"] >= wait
    assert retry_i == first_i + 1, [r["path"] for r in polite_crawl["requests"][first_i:retry_i + 1]]
    assert polite_crawl["stats"][f"politeness/retry_after/{status}"] >= 1


def test_the_pause_ends_with_the_retry(polite_crawl):
    """After the retry of the 503 with Retry-After: 2, the host's delay is the Crawl-delay (1 s) again,
    not the pause's (a lingering pause would put ~2 s before the next request)."""
    log = polite_crawl["requests"]
    _, (retry_i, retry) = requests_of(polite_crawl, DOC + "hrw4.html")
    assert retry_i + 1 < len(log), "the retry was the crawl's last request"
    gap = log[retry_i + 1]["time"] - retry["time"]
    assert CRAWL_DELAY - ARRIVAL_NOISE <= gap < CRAWL_DELAY + 0.75, gap


def test_without_retry_after_the_backoff_doubles_from_its_base(polite_crawl):
    answers = requests_of(polite_crawl, DOC + "priv2en.html")
    assert [r["status"] for _, r in answers] == [503, 503, 200]
    (i0, r0), (i1, r1), (i2, r2) = answers
    assert r1["time"] - r0["time"] >= 1.5 and r2["time"] - r1["time"] >= 3.0
    assert (i1, i2) == (i0 + 1, i1 + 1), "another request went to the host during a backoff"
    assert polite_crawl["stats"]["politeness/retry_after/backoff"] == 2
    # Each host paused once per retry, by the throttle's delay policy.
    stats = polite_crawl["stats"]
    assert stats["politeness/retry_after/paused"] == stats["politeness/retry_after/count"]


def test_a_retry_after_over_the_maximum_gives_up_on_the_request(polite_crawl):
    assert [r["status"] for _, r in requests_of(polite_crawl, DOC + "onu12.html")] == [503]
    assert polite_crawl["stats"]["politeness/retry_after/gave_up/too_long"] == 1
    assert "exceeds RETRY_AFTER_MAX" in polite_crawl["log"]


def test_retries_are_bounded_by_retry_times(polite_crawl):
    answers = requests_of(polite_crawl, DOC + "aiuk1.html")
    assert [r["status"] for _, r in answers] == [429, 429, 429]
    assert all(b["time"] - a["time"] >= 1.0 for (_, a), (_, b) in zip(answers, answers[1:]))
    assert polite_crawl["stats"]["politeness/retry_after/gave_up/max_retries"] == 1
    # The retries are Scrapy's get_retry_request's, counted under their own key; it gave up once.
    assert polite_crawl["stats"]["politeness/retry_after/count"] == 6  # hrw4, wapo3, priv2en x2, aiuk1 x2
    assert polite_crawl["stats"]["politeness/retry_after/max_reached"] == 1
    assert polite_crawl["stats"]["politeness/retry_after/reason_count/429 Too Many Requests"] == 3
    assert re.search(r"Gave up retrying <GET \S+/aiuk1\.html> \(failed 3 times\)", polite_crawl["log"])
    # Given-up answers go on as HTTP errors; Scrapy's RetryMiddleware did not retry them again.
    assert polite_crawl["stats"]["httperror/response_ignored_status_count/429"] == 1
    assert polite_crawl["stats"]["httperror/response_ignored_status_count/503"] == 1
    assert "retry/count" not in polite_crawl["stats"]


def test_retried_pages_give_their_records(polite_crawl, gold_by_path):
    records = {urlsplit(r["url"]).path: r for r in polite_crawl["records"]}
    assert sorted(records) == sorted(DOC + name for name in ARTICLES if DOC + name not in GIVEN_UP)
    for path in (DOC + "hrw4.html", DOC + "wapo3.html", DOC + "priv2en.html"):
        for key in ("title", "text", "content_sha256", "document_date", "published_date"):
            assert records[path][key] == gold_by_path[path][key], (path, key)


def test_the_warc_capture_holds_the_refusals_and_the_retries(polite_crawl):
    from warcio.archiveiterator import ArchiveIterator

    statuses: dict[str, list[int]] = {}
    for warc in sorted(polite_crawl["warc_dir"].glob("*.warc.gz")):
        with warc.open("rb") as stream:
            for record in ArchiveIterator(stream):
                if record.rec_type == "response":
                    path = urlsplit(record.rec_headers.get_header("WARC-Target-URI")).path
                    statuses.setdefault(path, []).append(int(record.http_headers.get_statuscode()))
    served = {}
    for entry in polite_crawl["requests"]:
        served.setdefault(urlsplit(entry["path"]).path, []).append(entry["status"])
    assert statuses == served
    assert statuses[DOC + "hrw4.html"] == [503, 200] and statuses[DOC + "priv2en.html"] == [503, 503, 200]


def test_each_page_is_fetched_once_apart_from_its_retries(polite_crawl):
    paths = {urlsplit(r["path"]).path for r in polite_crawl["requests"]}
    # The spider fetches canonical URLs: dir/index.html is asked for as dir/; /sitemap.xml is the
    # discovery's probe of a site whose robots.txt names no sitemap (crawler/discovery.py).
    assert paths == {"/robots.txt", "/sitemap.xml", "/nizkor/", DOC} | {DOC + name for name in ARTICLES}
    for path in paths:
        assert len(requests_of(polite_crawl, path)) == FETCHES.get(path, 1), path


def test_a_graceful_stop_keeps_the_pause_and_does_not_wait_for_the_hold(tmp_path):
    """Ctrl-C while a retry waits: the retry is not sent (a stopping engine takes nothing more from its
    scheduler), the requests already waiting for the host go once its pause is over (as Scrapy lets the
    requests in its downloader finish), not before, and not only when the hold would have lapsed."""
    from crawler.politeness import HOLD_TIMEOUT

    wait = 6.0
    scripts = {DOC + "hrw4.html": [{"status": 503, "headers": {"Retry-After": f"{wait:g}"}}]}
    site, headers_file = build_site(tmp_path, "User-agent: *\n", scripts)
    log_file = tmp_path / "crawl.log"
    with running_server(site, headers_file) as server:
        command = [str(BIN / "scrapy"), "crawl", "nizkor", "-a", f"start_url={server.base_url}/nizkor/",
                   "-O", str(tmp_path / "records.jsonl"), "-s", f"CRAWL_STATE={tmp_path / 'state'}", *NO_OTHER_DELAYS,
                   "-s", f"LOG_FILE={log_file}", "-s", "LOG_LEVEL=INFO"]
        crawl = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 120
            while "Retrying" not in (log_file.read_text(encoding="utf-8") if log_file.exists() else ""):
                assert crawl.poll() is None and time.monotonic() < deadline, "no Retry-After retry"
                time.sleep(0.05)
            crawl.send_signal(signal.SIGINT)
            crawl.wait(timeout=wait + HOLD_TIMEOUT / 2)
        finally:
            if crawl.poll() is None:
                crawl.kill()
                crawl.wait()
        requests = server.requests.snapshot()
    stats = all_stats(log_file.read_text(encoding="utf-8"))
    [(refused_i, refused)] = requests_of({"requests": requests}, DOC + "hrw4.html")
    after = requests[refused_i + 1:]
    assert refused["status"] == 503 and after, "nothing was waiting for the host"
    assert min(r["time"] for r in after) - refused["time"] >= wait
    assert max(r["time"] for r in after) - refused["time"] < wait + HOLD_TIMEOUT / 2
    assert stats["politeness/retry_after/not_waited"] == 1 and stats["politeness/retry_after/hold_released"] == 1


# --- settings and the Retry-After parser ---

def test_one_request_at_a_time_per_host_with_autothrottle_by_default():
    from scrapy.settings import Settings

    settings = Settings()  # Scrapy's defaults, then the project's
    settings.setmodule("crawler.settings", priority="project")
    assert settings.getint("CONCURRENT_REQUESTS_PER_DOMAIN") == 1
    assert settings.getint("CONCURRENT_REQUESTS_PER_IP") == 0  # so the per-domain limit is the one used
    assert settings.getbool("AUTOTHROTTLE_ENABLED") and settings.getfloat("AUTOTHROTTLE_TARGET_CONCURRENCY") == 1.0
    assert settings.getbool("ROBOTSTXT_OBEY") and settings.getbool("ROBOTSTXT_CRAWL_DELAY")
    assert not {429, 503} & set(settings.getlist("RETRY_HTTP_CODES"))
    middlewares = {k: v for k, v in settings.getdict("DOWNLOADER_MIDDLEWARES").items() if v is not None}
    assert middlewares["crawler.politeness.HostQueueMiddleware"] == max(middlewares.values())
    # Retry-After sees an answer after Scrapy's RetryMiddleware and WARC capture.
    assert middlewares["crawler.politeness.RetryAfterMiddleware"] < 550
    assert middlewares["crawler.politeness.RetryAfterMiddleware"] < middlewares["crawler.capture.WarcCaptureMiddleware"]
    # The Crawl-delay and the Retry-After pause are AutoThrottle's policy: ours instead of Scrapy's.
    extensions = settings.getdict("EXTENSIONS")
    assert extensions["scrapy.extensions.throttle.AutoThrottle"] is None
    assert "crawler.politeness.PoliteAutoThrottle" in extensions


def test_retry_after_values():
    from crawler.politeness import retry_after_seconds

    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    assert retry_after_seconds(b"120") == 120.0
    assert retry_after_seconds(" 0 ") == 0.0
    later = format_datetime(now + timedelta(seconds=90), usegmt=True)
    assert retry_after_seconds(later, now=now) == 90.0
    # Counted from the answer's own Date header when there is one (the server's clock, not ours).
    server_now = format_datetime(now - timedelta(hours=1), usegmt=True)
    assert retry_after_seconds(later, date=server_now, now=now) == 3690.0
    assert retry_after_seconds(format_datetime(now - timedelta(seconds=5), usegmt=True), now=now) == 0.0
    for unusable in (None, b"", b"soon", b"-3", b"nan"):
        assert retry_after_seconds(unusable) is None, unusable
