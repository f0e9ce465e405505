"""report.html and reports/index.html in a real headless Chromium (Debian's ``chromium`` package, which
``make test`` and ``.ci/run`` install when it is missing): each page is rendered and screenshotted, the
screenshot must not be blank, the page must log nothing to the console (no script error: the report
has no script at all) and make no network request (Chromium's own NetLog says what it fetched).
The checks are themselves checked on a page that breaks every rule.

``UPDATE_SCREENSHOT=1 .venv/bin/python -m pytest tests/test_report_html.py`` also saves the report's
screenshot as docs/report.png (shown in README.md)."""

from __future__ import annotations

import json
import os
import re
import shutil
import struct
import subprocess
import zlib
from collections import Counter
from pathlib import Path

import pytest

from conftest import LOCAL_CRAWL, REPO
from test_report import scrapy_crawl

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SCREENSHOT = REPO / "docs" / "report.png"
WINDOW = (1280, 2000)


def _chromium() -> str:
    if CHROMIUM is None:
        message = "Debian's chromium is not installed (make test and .ci/run install it: apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return CHROMIUM


def render(page: Path, png: Path, work: Path, window: tuple[int, int] = WINDOW) -> dict:
    """Renders ``page`` in headless Chromium: the screenshot, the console lines it logged and the URLs
    the page itself asked the network for."""
    net_log = work / f"{png.stem}.netlog.json"
    command = [
        _chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={work / 'chromium-profile'}", "--enable-logging=stderr", "--v=0",
        f"--log-net-log={net_log}", f"--window-size={window[0]},{window[1]}", f"--screenshot={png}",
        page.absolute().as_uri(),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert png.is_file(), f"no screenshot: {result.returncode}\n{result.stderr[-3000:]}"
    console = [line for line in result.stderr.splitlines() if ":CONSOLE" in line]
    return {"png": png, "console": console, "requests": page_requests(net_log), "stderr": result.stderr}


def page_requests(net_log: Path) -> list[str]:
    """URLs that pages opened from file:// asked for (Chromium's background requests left out)."""
    log = json.loads(net_log.read_text(encoding="utf-8"))
    start_job = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    return [event["params"]["url"] for event in log["events"]
            if event["type"] == start_job and "url" in event.get("params", {})
            and "file://" in event["params"].get("network_isolation_key", "")]


def read_png(path: Path) -> tuple[int, int, int, list[bytearray]]:
    """(width, height, channels, rows) of an 8-bit, non-interlaced PNG (what Chromium writes)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, [], None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
    width, height, depth, colour, _, _, interlace = header
    channels = {0: 1, 2: 3, 4: 2, 6: 4}[colour]
    assert depth == 8 and interlace == 0, header
    raw = zlib.decompress(b"".join(idat))
    stride = width * channels
    rows, previous = [], bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        if kind == 1:
            for i in range(channels, stride):
                line[i] = (line[i] + line[i - channels]) & 255
        elif kind == 2:
            line = bytearray((a + b) & 255 for a, b in zip(line, previous))
        elif kind == 3:
            for i in range(stride):
                left = line[i - channels] if i >= channels else 0
                line[i] = (line[i] + ((left + previous[i]) >> 1)) & 255
        elif kind == 4:
            for i in range(stride):
                a = line[i - channels] if i >= channels else 0
                b, c = previous[i], previous[i - channels] if i >= channels else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(line)
        previous = line
    return width, height, channels, rows


def colours(png: Path, step: int = 3) -> tuple[tuple[int, int], Counter]:
    """The screenshot's size and how often each colour occurs (every ``step``-th pixel and row)."""
    width, height, channels, rows = read_png(png)
    seen: Counter = Counter()
    for row in rows[::step]:
        for x in range(0, width * channels, channels * step):
            seen[bytes(row[x:x + min(channels, 3)])] += 1
    return (width, height), seen


def assert_not_blank(png: Path, window: tuple[int, int] = WINDOW) -> None:
    size, seen = colours(png)
    assert size == window
    background, share = seen.most_common(1)[0][0], seen.most_common(1)[0][1] / sum(seen.values())
    assert len(seen) > 50, f"{len(seen)} colours: a blank or nearly blank page"
    assert share < 0.9, f"{share:.0%} of the page is one colour ({background.hex()})"


@pytest.fixture(scope="module")
def html_crawl(fixture_site, tmp_path_factory):
    folder = tmp_path_factory.mktemp("report-html")
    result = scrapy_crawl(f"{fixture_site.base_url}/nizkor/", folder / "records.jsonl", *LOCAL_CRAWL,
                          "-s", f"CRAWL_STATE={folder / 'state'}")
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    return {"folder": folder, "report": report, "html": (folder / "report.html").read_text(encoding="utf-8")}


def test_report_html_is_self_contained(html_crawl):
    page = html_crawl["html"]
    assert "<script" not in page.lower()
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    # Nothing loaded from anywhere: no stylesheet, image, frame or font by URL (links to pages are fine).
    assert not re.search(r"<(link|img|iframe|object|embed|source|audio|video)\b", page, re.I)
    assert not re.search(r"url\(", page)
    assert page.count("<svg") >= 6  # the plots are inline


def test_report_html_says_what_the_crawl_did(html_crawl):
    report, page = html_crawl["report"], html_crawl["html"]
    import html

    assert html.escape(report["status_text"]) in page
    for code, entries in report["urls"]["skipped"]["http_error"].items():
        for entry in entries:
            assert html.escape(entry["url"]) in page, code
    for entry in report["urls"]["skipped"]["robots"]:
        assert html.escape(entry["url"]) in page
    for missing in report["completeness"]["missing_pages"]:
        assert html.escape(missing["url"]) in page
    for title in ("Records per year of document_date", "Records per section", "Records per language",
                  "HTTP statuses", "Fetches over time", "Date-field coverage"):
        assert f"<h3>{title}</h3>" in page, title
    assert "✗" not in page  # every number adds up
    assert f'href="reports/{report["run"]["id"]}/report.html"' in page and 'href="reports/index.html"' in page


def test_chromium_renders_the_report(html_crawl, tmp_path):
    shot = render(html_crawl["folder"] / "report.html", tmp_path / "report.png", tmp_path)
    assert shot["console"] == [], shot["console"]
    assert shot["requests"] == [], shot["requests"]
    assert_not_blank(shot["png"])
    if os.environ.get("UPDATE_SCREENSHOT"):
        SCREENSHOT.parent.mkdir(exist_ok=True)
        shutil.copyfile(shot["png"], SCREENSHOT)


def test_chromium_renders_the_kept_copy_and_the_index_of_runs(html_crawl, tmp_path):
    folder = html_crawl["folder"]
    for page in (folder / html_crawl["report"]["run"]["folder"] / "report.html", folder / "reports" / "index.html"):
        shot = render(page, tmp_path / f"{page.parent.name}.png", tmp_path, window=(1280, 900))
        assert shot["console"] == [] and shot["requests"] == [], (page, shot["console"], shot["requests"])
        assert_not_blank(shot["png"], window=(1280, 900))


def test_the_checks_catch_a_page_that_breaks_the_rules(tmp_path):
    """The console, network and blankness checks above would see a broken page."""
    broken = tmp_path / "broken.html"
    broken.write_text('<!DOCTYPE html><html><body><img src="http://127.0.0.1:9/x.png">'
                      '<script>throw new Error("boom")</script></body></html>', encoding="utf-8")
    shot = render(broken, tmp_path / "broken.png", tmp_path, window=(400, 300))
    assert any("Uncaught Error: boom" in line for line in shot["console"]), shot["stderr"][-2000:]
    assert shot["requests"] == ["http://127.0.0.1:9/x.png"]
    with pytest.raises(AssertionError, match="blank"):
        assert_not_blank(shot["png"], window=(400, 300))


def test_the_readme_shows_a_screenshot_of_the_report():
    assert SCREENSHOT.is_file()
    assert_not_blank(SCREENSHOT)
    assert "docs/report.png" in (REPO / "README.md").read_text(encoding="utf-8")
