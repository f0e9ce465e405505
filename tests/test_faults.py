"""The hostile web: the contract command crawls the fault-injection site (fixtures/faults.py: the mock
archive plus linked faults) and everything is checked from outside, from the server's request log,
the output and the crawl report."""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from urllib.parse import urlsplit

import pytest

from conftest import BIN, LOCAL_CRAWL, REPO, read_jsonl
from test_crawl import final_stats

# Quick enough for a test, slow page still over the timeout; the trap limits are the defaults.
FAULT_SETTINGS = [*LOCAL_CRAWL, "-s", "DOWNLOAD_TIMEOUT=3", "-s", "RETRY_TIMES=1", "-s", "LOG_LEVEL=INFO"]
# Characters no record may hold (the fault pages' bytes do not contain U+FFFD).
BAD_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffd]")
# Peak resident memory of the crawl's processes, printed by the wrapper that starts it.
PEAK = "PEAK_RSS_KB"
WRAPPER = ("import resource, subprocess, sys; code = subprocess.call(sys.argv[1:]); "
           f"print('{PEAK}', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); "
           "sys.exit(code)")


def crawl_command(site, output, state, *extra: str) -> list[str]:
    return [str(BIN / "scrapy"), "crawl", "nizkor", "-a", f"start_url={site.start_url}", "-O", str(output),
            "-s", f"CRAWL_STATE={state}", *FAULT_SETTINGS, *extra]


@pytest.fixture(scope="module")
def fault_crawl(tmp_path_factory):
    from fixtures.faults import running_fault_site

    folder = tmp_path_factory.mktemp("faults")
    output, log_file = folder / "records.jsonl", folder / "crawl.log"
    with running_fault_site(slow_seconds=8) as site:
        started = time.monotonic()
        result = subprocess.run([sys.executable, "-c", WRAPPER, *crawl_command(
            site, output, folder / "state", "-s", f"LOG_FILE={log_file}")], cwd=REPO, capture_output=True,
            text=True, timeout=600)
        duration = time.monotonic() - started
        requests, other = site.requests.snapshot(), site.other_requests.snapshot()
        good, nul_lines = dict(site.good_pages), list(site.nul_expected_lines)
        base_port = urlsplit(site.base_url).port
    log = log_file.read_text(encoding="utf-8")
    peak_kb = int(re.search(rf"{PEAK} (\d+)", result.stderr).group(1))
    print(f"\nfault crawl: {duration:.1f} s, peak RSS {peak_kb / 1024:.0f} MB, {len(requests)} requests")
    return {"result": result, "log": log, "stats": final_stats(log), "records": read_jsonl(output),
            "requests": requests, "other_requests": other, "good": good, "nul_lines": nul_lines,
            "peak_kb": peak_kb, "port": base_port, "report": json.loads((folder / "report.json").read_text())}


def paths_requested(crawl) -> list[str]:
    return [entry["path"] for entry in crawl["requests"]]


def test_no_crash_no_traceback(fault_crawl):
    result = fault_crawl["result"]
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in fault_crawl["log"] and "Traceback" not in result.stderr
    assert fault_crawl["stats"].get("log_count/CRITICAL", 0) == 0
    assert fault_crawl["report"]["status"] == "ok"


def test_every_good_page_gives_its_record(fault_crawl, gold):
    by_path = {urlsplit(r["url"]).path: r for r in fault_crawl["records"]}
    missing = sorted(set(gold) - set(by_path))
    assert not missing, f"archive pages without a record: {missing}"
    for path, title in fault_crawl["good"].items():
        assert path in by_path, f"no record from {path}"
        assert by_path[path]["title"] == title
    paths = Counter(urlsplit(r["url"]).path for r in fault_crawl["records"])
    assert set(paths.values()) == {1}


def test_no_record_carries_control_characters_or_replacement_characters(fault_crawl):
    for record in fault_crawl["records"]:
        for field in ("title", "text", "section"):
            value = record.get(field) or ""
            assert not BAD_TEXT.search(value), (record["url"], field, BAD_TEXT.findall(value))


def test_nul_bytes_drop_no_paragraph(fault_crawl):
    record = next(r for r in fault_crawl["records"] if urlsplit(r["url"]).path == "/faults/articles/nul.html")
    lines = record["text"].splitlines()
    for expected in fault_crawl["nul_lines"]:
        assert expected in lines, (expected, lines)


def test_nothing_off_scope_or_disallowed_is_requested(fault_crawl):
    paths = paths_requested(fault_crawl)
    assert paths[0] == "/robots.txt" and paths.count("/robots.txt") == 1
    assert fault_crawl["other_requests"] == [], "the server on the other port was asked"
    hosts = {entry["headers"].get("Host") for entry in fault_crawl["requests"]}
    assert hosts == {f"127.0.0.1:{fault_crawl['port']}"}, hosts
    assert not [p for p in paths if p.startswith(("/faults/private/", "/nizkor/privado/"))]
    hops = [int(m.group(1)) for p in paths if (m := re.fullmatch(r"/faults/redirect/hop/(\d+)\.html", p))]
    assert hops and max(hops) <= 20, "followed past REDIRECT_MAX_TIMES"
    refused = fault_crawl["stats"]
    assert refused.get("archive/scope/refused/offsite", 0) >= 3  # other port, other host, retried redirect
    assert refused.get("robotstxt/forbidden", 0) >= 1


def test_generated_paths_are_stopped_early(fault_crawl):
    paths = paths_requested(fault_crawl)
    calendar = [p for p in paths if p.startswith("/faults/calendar/")]
    loop = [p for p in paths if p.startswith("/faults/loop/")]
    assert 0 < len(calendar) <= 200, len(calendar)
    assert 0 < len(loop) <= 5, loop
    stats = fault_crawl["stats"]
    assert stats.get("archive/frontier/trap_counting", 0) >= 1
    assert stats.get("archive/frontier/trap_repeating", 0) >= 1
    many = [p for p in paths if p.startswith("/faults/many/")]
    assert many == [], "the page of 100,000 links is over the element budget: none of them followed"


def test_memory_stays_bounded(fault_crawl):
    assert fault_crawl["peak_kb"] < 300 * 1024


FAULT_REASONS = {
    # archive/faults/<reason>: each fault class of the site, counted by its reason.
    "timeout": 1, "connection_reset": 1, "truncated": 1, "http_500": 1, "redirect_limit": 1,
    "redirect_refused": 3, "decompression_bomb": 2, "too_large": 2,
}


def test_every_fault_is_counted_by_reason(fault_crawl):
    stats = fault_crawl["stats"]
    for reason, least in FAULT_REASONS.items():
        assert stats.get(f"archive/faults/{reason}", 0) >= least, reason
    assert stats.get("archive/skipped/binary", 0) >= 2
    assert stats.get("archive/skipped/too_many_elements", 0) >= 1
    report = fault_crawl["report"]
    for reason in FAULT_REASONS:
        assert report["faults"]["failed"].get(reason, 0) >= 1, reason
    assert report["faults"]["refused"]["out_of_scope"] >= 3
    assert report["faults"]["refused"]["robots"] >= 1
    assert report["faults"]["not_followed"]["trap_counting"] >= 1
    assert report["skipped"]["too_many_elements"] >= 1
    # One warning line per failed page, no stack.
    failed_lines = [line for line in fault_crawl["log"].splitlines() if "WARNING: Failed (" in line]
    assert len(failed_lines) == sum(report["faults"]["failed"].values())


def test_killed_at_random_moments_the_fault_crawl_resumes_with_every_record_once(tmp_path, gold):
    """kill -9 at seeded random moments (counted in requests the server answered), the same
    command again each time; the parts hold every record exactly once."""
    from fixtures.faults import running_fault_site

    chooser = random.Random(20261201)
    state, output = tmp_path / "state", tmp_path / "part.jsonl"
    parts = []
    with running_fault_site(slow_seconds=8) as site:
        command = crawl_command(site, output, state, "-s", "LOG_LEVEL=WARNING")
        for kill_after in [chooser.randint(5, 120) for _ in range(3)] + [None]:
            started = len(site.requests)
            process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                       text=True)
            try:
                if kill_after is None:
                    _, errors = process.communicate(timeout=600)
                    assert process.returncode == 0, errors[-3000:]
                    assert "Traceback" not in errors
                else:
                    deadline = time.monotonic() + 300
                    while time.monotonic() < deadline and process.poll() is None:
                        if len(site.requests) - started >= kill_after:
                            break
                        time.sleep(0.01)
                    os.kill(process.pid, signal.SIGKILL)
            finally:
                process.kill()
                process.wait()
            kept = tmp_path / f"part{len(parts)}.jsonl"
            kept.write_bytes(output.read_bytes() if output.exists() else b"")
            parts.append(kept)
        good = set(site.good_pages)
    records = [r for part in parts for r in read_jsonl(part)]
    paths = Counter(urlsplit(r["url"]).path for r in records)
    assert set(gold) | good <= set(paths), f"lost: {sorted(set(gold) | good - set(paths))}"
    assert set(paths.values()) == {1}, f"written twice: {[p for p, n in paths.items() if n > 1]}"
