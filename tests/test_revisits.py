"""WARC revisit records and capture as part of a page being finished (issue 12, points 1 and 3).

Every crawl goes through a real server (a copy of the mock archive, fixtures/server.py, whose
conditional requests give 304s) and every replay through a real pywb on 127.0.0.1 (pywb's
``FrontEndApp`` served by gevent's WSGI server on port 0, in a subprocess, over a collection made
with ``wb-manager``). The WARC files are checked with ``warcio check``."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import re
import shutil
import sqlite3
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from email.utils import parsedate_to_datetime
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from warcio.archiveiterator import ArchiveIterator

from conftest import BIN, LOCAL_CRAWL, REPO, SITE, SITE_HEADERS, read_jsonl
from test_crawl import final_stats

SERVER_NOT_MODIFIED = "http://netpreserve.org/warc/1.1/revisit/server-not-modified"
IDENTICAL_PAYLOAD = "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest"
COLLECTION = "crawls"
COMPARED = ("title", "text", "content_sha256", "language", "section", "document_date", "published_date",
            "source", "dateline", "revision", "url", "canonical_url", "site")


# --------------------------------------------------------------------------------------- helpers


@pytest.fixture
def own_site(tmp_path):
    """A copy of the mock archive served on its own port; ``overrides`` is its headers file, live."""
    from fixtures.server import running_server

    root = tmp_path / "site"
    shutil.copytree(SITE, root)
    with running_server(root, headers_file=SITE_HEADERS) as server:
        server.root = root
        yield server


def crawl(site, folder: Path, name: str, *extra: str, expect: int = 0) -> dict:
    """One ``scrapy crawl nizkor`` of ``site`` with the crawl state in ``folder/state``."""
    output, log_file = folder / f"{name}.jsonl", folder / f"{name}.log"
    started = len(site.requests)
    command = [str(BIN / "scrapy"), "crawl", "nizkor", "-a", f"start_url={site.base_url}/nizkor/", "-O", str(output),
               "-s", f"CRAWL_STATE={folder / 'state'}", "-s", f"LOG_FILE={log_file}", "-s", "LOG_LEVEL=INFO",
               *extra]
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
    log = log_file.read_text(encoding="utf-8")
    assert result.returncode == expect, log[-3000:] + result.stderr[-2000:]
    return {"records": read_jsonl(output), "log": log, "stats": final_stats(log),
            "requests": list(site.requests)[started:]}


def warc_records(folder: Path) -> list:
    """(WARC headers, HTTP headers, block bytes after the HTTP headers) of every record, file by file."""
    records = []
    for path in sorted(folder.glob("*.warc.gz")):
        with path.open("rb") as stream:
            for record in ArchiveIterator(stream):
                records.append((record.rec_headers, record.http_headers, record.raw_stream.read()))
    return records


def of_type(records: list, kind: str) -> list:
    return [r for r in records if r[0].get_header("WARC-Type") == kind]


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def conditional(request: dict) -> bool:
    names = {name.lower() for name in request["headers"]}
    return "if-none-match" in names or "if-modified-since" in names


def warcio_check(*folders: Path) -> None:
    files = [str(p) for folder in folders for p in sorted(folder.glob("*.warc.gz"))]
    assert files
    result = subprocess.run([str(BIN / "warcio"), "check", "-v", *files], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "digest failed" not in result.stdout


def block_digest(http_headers) -> str:
    """warcio check leaves revisits unchecked: their block (HTTP headers only) digested here."""
    return "sha1:" + base64.b32encode(hashlib.sha1(http_headers.to_bytes()).digest()).decode()


def stamp(warc_date: str) -> str:
    """The 14-digit timestamp of a WARC-Date (pywb's replay URLs)."""
    return re.sub(r"\D", "", warc_date)[:14]


PYWB_SERVER = textwrap.dedent("""
    from gevent.monkey import patch_all; patch_all()
    from gevent.pywsgi import WSGIServer
    from pywb.apps.frontendapp import FrontEndApp
    from pywb.utils.geventserver import RequestURIWSGIHandler
    server = WSGIServer(("127.0.0.1", 0), FrontEndApp(), handler_class=RequestURIWSGIHandler, log=None)
    server.init_socket()
    print("PORT", server.address[1], flush=True)
    server.serve_forever()
""")


@contextlib.contextmanager
def pywb(root: Path, *folders: Path):
    """A pywb collection of the WARC files in ``folders``, served on 127.0.0.1: yields its base URL."""
    root.mkdir()
    files = [str(p) for folder in folders for p in sorted(folder.glob("*.warc.gz"))]
    for command in (["init", COLLECTION], ["add", COLLECTION, *files]):
        result = subprocess.run([str(BIN / "wb-manager"), *command], cwd=root, capture_output=True, text=True,
                                timeout=120)
        assert result.returncode == 0, result.stderr[-3000:]
    process = subprocess.Popen([sys.executable, "-c", PYWB_SERVER], cwd=root, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True)
    try:
        port = None
        for line in process.stdout:  # pywb may say a thing or two first (no config.yaml)
            if line.startswith("PORT "):
                port = int(line.split()[1])
                break
        assert port, "pywb did not start"
        yield f"http://127.0.0.1:{port}/{COLLECTION}"
    finally:
        process.terminate()
        process.wait(timeout=20)


def replay(base: str, timestamp: str, url: str) -> tuple[int, dict, bytes]:
    """pywb's replay of ``url`` closest to ``timestamp``, unrewritten (``id_``)."""
    try:
        with urllib.request.urlopen(f"{base}/{timestamp}id_/{url}", timeout=30) as answer:
            return answer.status, dict(answer.headers), answer.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def same_second(http_date: str, warc_date: str) -> bool:
    return parsedate_to_datetime(http_date).strftime("%Y%m%d%H%M%S") == stamp(warc_date)


# ---------------------------------------------------------------- three crawls: 304s, then 200s


@pytest.fixture(scope="module")
def recrawls(tmp_path_factory):
    """The mock archive crawled three times with the same state: a first crawl, a re-crawl answered
    with 304s, and a re-crawl of a server that no longer answers conditionally (the same bytes)."""
    from fixtures.server import running_server

    folder = tmp_path_factory.mktemp("recrawls")
    root = folder / "site"
    shutil.copytree(SITE, root)
    with running_server(root, headers_file=SITE_HEADERS) as site:
        crawls = {}
        for name in ("first", "second"):
            crawls[name] = crawl(site, folder, name, *LOCAL_CRAWL, "-s", f"WARC_DIR={folder / name}")
        # No validators and never a 304, for every path: every page comes back whole, unchanged.
        for path in root.rglob("*"):
            if path.is_file():
                site.server.overrides.setdefault("/" + path.relative_to(root).as_posix(), {})["conditional"] = False
        crawls["third"] = crawl(site, folder, "third", *LOCAL_CRAWL, "-s", f"WARC_DIR={folder / 'third'}")
        for name, result in crawls.items():
            result["warc"] = warc_records(folder / name)
            result["dir"] = folder / name
        crawls["folder"], crawls["root"], crawls["base_url"] = folder, root, site.base_url
        yield crawls


def test_a_304_is_a_server_not_modified_revisit_of_the_last_capture(recrawls, gold):
    first, second = recrawls["first"], recrawls["second"]
    assert second["records"] == []
    not_modified = [r for r in second["requests"] if r["status"] == 304]
    assert {urlsplit(r["path"]).path for r in not_modified} >= set(gold), "every article answered 304"
    responses = {rec.get_header("WARC-Target-URI"): rec for rec, _, _ in of_type(first["warc"], "response")}
    revisits = of_type(second["warc"], "revisit")
    by_uri = {rec.get_header("WARC-Target-URI"): (rec, http, block) for rec, http, block in revisits
              if rec.get_header("WARC-Profile") == SERVER_NOT_MODIFIED}
    assert sorted(path_of(uri) for uri in by_uri) == sorted(r["path"] for r in not_modified)
    for uri, (rec, http, block) in by_uri.items():
        original = responses[uri]
        assert rec.get_header("WARC-Refers-To-Target-URI") == uri
        assert rec.get_header("WARC-Refers-To-Date") == original.get_header("WARC-Date")
        assert rec.get_header("WARC-Refers-To") == original.get_header("WARC-Record-ID")
        assert rec.get_header("WARC-Payload-Digest") == original.get_header("WARC-Payload-Digest")
        assert rec.get_header("WARC-Block-Digest") == block_digest(http)
        assert block == b""
        # The block is the response the 304 confirmed: the capture's 200 with the 304's Date.
        assert http.get_statuscode() == "200"
        assert http.get_header("ETag") and http.get_header("Content-Length")
    # No 304 is stored as an empty response any more.
    assert not [h for _, h, _ in of_type(second["warc"], "response") if h.get_statuscode() == "304"]
    stats = second["stats"]
    assert stats["warc/revisits/server_not_modified"] == len(not_modified)
    assert stats["warc/captured"] == len(second["requests"]) == stats["warc/records/request"]
    assert stats["warc/missing"] == 0


def test_an_unchanged_200_is_an_identical_payload_revisit(recrawls, gold):
    first, second, third = recrawls["first"], recrawls["second"], recrawls["third"]
    assert third["records"] == []
    assert {r["status"] for r in third["requests"]} <= {200, 301, 404, 500}
    assert not [r for r in third["requests"] if r["status"] == 304]
    whole = [r for r in third["requests"] if r["status"] == 200]
    assert {urlsplit(r["path"]).path for r in whole} >= set(gold)
    responses = {rec.get_header("WARC-Target-URI"): rec for rec, http, _ in of_type(first["warc"], "response")
                 if http.get_statuscode() == "200"}
    revisits = {rec.get_header("WARC-Target-URI"): (rec, http, block) for rec, http, block
                in of_type(third["warc"], "revisit")}
    assert all(rec.get_header("WARC-Profile") == IDENTICAL_PAYLOAD for rec, _, _ in revisits.values())
    assert sorted(path_of(uri) for uri in revisits) == sorted(r["path"] for r in whole)
    for uri, (rec, http, block) in revisits.items():
        original = responses[uri]  # the first crawl's: the second only confirmed it
        assert rec.get_header("WARC-Refers-To-Target-URI") == uri
        assert rec.get_header("WARC-Refers-To-Date") == original.get_header("WARC-Date")
        assert rec.get_header("WARC-Refers-To") == original.get_header("WARC-Record-ID")
        assert rec.get_header("WARC-Payload-Digest") == original.get_header("WARC-Payload-Digest")
        assert rec.get_header("WARC-Truncated") == "length"
        assert rec.get_header("WARC-Block-Digest") == block_digest(http)
        assert block == b""
        # This answer's own headers: the server sent no validators this time.
        assert http.get_statuscode() == "200" and http.get_header("ETag") is None
    # What is not a whole 200 (the redirect, the 404, the 500 and its retries) stays a response record.
    kept = {int(h.get_statuscode()) for _, h, _ in of_type(third["warc"], "response")}
    assert kept and 200 not in kept
    stats = third["stats"]
    assert stats["warc/revisits/identical_payload"] == len(whole)
    assert "warc/revisits/server_not_modified" not in stats
    # The re-crawl answered with 304s had its listing pages whole: identical payloads too.
    assert second["stats"]["warc/revisits/identical_payload"] == len(
        [r for r in second["requests"] if r["status"] == 200])


def test_warcio_check_passes_on_every_file(recrawls):
    warcio_check(*(recrawls[name]["dir"] for name in ("first", "second", "third")))


def test_pywb_replays_the_page_at_each_recrawls_time(recrawls, gold):
    """At the time of the re-crawl answered 304, and of the one answered 200 unchanged, pywb shows the
    page the server sent the first time (byte for byte), dated by the revisit."""
    root = recrawls["root"]
    with pywb(recrawls["folder"] / "pywb", *(recrawls[name]["dir"] for name in ("first", "second", "third"))) as base:
        for name, profile in (("second", SERVER_NOT_MODIFIED), ("third", IDENTICAL_PAYLOAD)):
            revisits = [rec for rec, _, _ in of_type(recrawls[name]["warc"], "revisit")
                        if rec.get_header("WARC-Profile") == profile]
            replayed = 0
            for rec in revisits:
                uri = rec.get_header("WARC-Target-URI")
                path = urlsplit(uri).path
                if path not in gold:
                    continue
                status, headers, body = replay(base, stamp(rec.get_header("WARC-Date")), uri)
                assert status == 200, (name, uri, status)
                assert same_second(headers["Memento-Datetime"], rec.get_header("WARC-Date")), (name, uri)
                assert body == (root / path.lstrip("/")).read_bytes(), (name, uri)
                replayed += 1
            assert replayed == len(gold), name
        # An index page (fetched whole by every crawl) replays too at the second crawl's time.
        [index] = [rec for rec, _, _ in of_type(recrawls["second"]["warc"], "revisit")
                   if urlsplit(rec.get_header("WARC-Target-URI")).path == "/nizkor/"]
        status, _, body = replay(base, stamp(index.get_header("WARC-Date")), index.get_header("WARC-Target-URI"))
        assert status == 200 and body == (root / "nizkor" / "index.html").read_bytes()


def test_reprocess_of_the_recrawls_gives_what_they_gave(recrawls):
    """The revisits hold no page to re-read: re-crawls of an unchanged site give no record, as in the crawl."""
    folder = recrawls["folder"]
    for name in ("second", "third"):
        output = folder / f"re-{name}.jsonl"
        result = subprocess.run([str(BIN / "archive-crawler"), "reprocess", *map(str, sorted(
            recrawls[name]["dir"].glob("*.warc.gz"))), "-o", str(output), "--state", str(folder / "state")],
            cwd=REPO, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr[-3000:]
        assert read_jsonl(output) == recrawls[name]["records"] == []


# ------------------------------------------------------------- capture is part of being finished


def test_pages_whose_capture_failed_are_not_finished_and_the_next_crawl_fills_the_gap(own_site, tmp_path, gold):
    """The WARC folder is replaced by a file in the middle of a crawl (WARC_MAX_SIZE=1: a new file
    for every exchange, so every later exchange fails): those pages are not finished in the crawl
    state; the next crawl asks for them unconditionally, captures them whole, and reprocess of that
    capture gives their records."""
    warc, moved = tmp_path / "warc", tmp_path / "warc-written"
    output, log_file = tmp_path / "first.jsonl", tmp_path / "first.log"
    command = [str(BIN / "scrapy"), "crawl", "nizkor", "-a", f"start_url={own_site.base_url}/nizkor/",
               "-O", str(output), "-s", f"CRAWL_STATE={tmp_path / 'state'}", "-s", f"WARC_DIR={warc}",
               "-s", "WARC_MAX_SIZE=1", "-s", "DOWNLOAD_DELAY=0.05", "-s", "DOWNLOAD_DELAY_JITTER=0",
               "-s", "AUTOTHROTTLE_ENABLED=False", "-s", f"LOG_FILE={log_file}", "-s", "LOG_LEVEL=INFO"]
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None and len(own_site.requests) < 40:
            time.sleep(0.01)
        assert process.poll() is None, "the crawl ended before its WARC folder could be taken away"
        warc.rename(moved)
        warc.write_text("a file where the WARC folder was\n", encoding="utf-8")
        assert process.wait(timeout=300) == 1  # write errors: the crawl says it failed
    finally:
        process.kill()
        process.wait()
    log = log_file.read_text(encoding="utf-8")
    first = read_jsonl(output)
    assert len(first) == len(gold), "the records are written all the same"
    failed = set(re.findall(r"Cannot write (\S+) to WARC \(the page is not finished", log))
    exchanges = [rec for rec, _, _ in warc_records(moved) if rec.get_header("WARC-Type") in ("response", "revisit")]
    written = {rec.get_header("WARC-Target-URI") for rec in exchanges}
    assert failed and written
    failed_articles = {urlsplit(url).path for url in failed} & set(gold)
    assert len(failed_articles) >= 10, "most of the crawl came after the folder went"
    stats = final_stats(log)
    assert stats["warc/missing"] == len(failed)
    assert stats["warc/captured"] == len(exchanges)
    warcio_check(moved)

    # The crawl state: a page is finished only once its exchange is in a WARC file.
    with sqlite3.connect(tmp_path / "state" / "state.sqlite3") as db:
        done = dict(db.execute("SELECT canonical_url, done_crawl FROM pages"))
        crawl_id = db.execute("SELECT MAX(id) FROM crawls").fetchone()[0]
    for url in failed:
        assert done.get(url) != crawl_id, f"{url} counts as finished without its capture"
    for url in written:
        if url in done and urlsplit(url).path in gold:
            assert done[url] == crawl_id, url

    warc.unlink()
    second = crawl(own_site, tmp_path, "second", *LOCAL_CRAWL, "-s", f"WARC_DIR={warc}")
    assert second["records"] == []  # the same texts as the first crawl's records
    asked = {r["path"]: r for r in second["requests"]}
    for url in failed:
        if urlsplit(url).path in gold:
            assert not conditional(asked[path_of(url)]), f"{url} was asked for conditionally"
            assert asked[path_of(url)]["status"] == 200
    captured_before = {urlsplit(url).path for url in written} & set(gold)
    assert captured_before and all(conditional(asked[path]) for path in captured_before)
    records = warc_records(warc)
    whole = {path_of(rec.get_header("WARC-Target-URI")) for rec, http, _ in of_type(records, "response")
             if http.get_statuscode() == "200"}
    assert failed_articles <= whole
    assert second["stats"]["warc/missing"] == 0
    assert second["stats"]["warc/revisits/server_not_modified"] >= len(captured_before)
    warcio_check(warc)

    remade = tmp_path / "remade.jsonl"
    result = subprocess.run([str(BIN / "archive-crawler"), "reprocess", *map(str, sorted(warc.glob("*.warc.gz"))),
                             "-o", str(remade)], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    by_path = {urlsplit(r["url"]).path: r for r in read_jsonl(remade)}
    before = {urlsplit(r["url"]).path: r for r in first}
    assert failed_articles <= set(by_path)
    for path in failed_articles:
        assert {k: by_path[path][k] for k in COMPARED} == {k: before[path][k] for k in COMPARED}, path


def test_a_crawl_without_warc_dir_is_captured_whole_by_the_next_crawl_with_it(own_site, tmp_path, gold):
    first = crawl(own_site, tmp_path, "first", *LOCAL_CRAWL)
    assert len(first["records"]) == len(gold)
    second = crawl(own_site, tmp_path, "second", *LOCAL_CRAWL, "-s", f"WARC_DIR={tmp_path / 'warc2'}")
    assert second["records"] == []
    articles = [r for r in second["requests"] if urlsplit(r["path"]).path in gold]
    assert {urlsplit(r["path"]).path for r in articles} == set(gold)
    assert not [r for r in articles if conditional(r)], "a page never captured was asked for conditionally"
    assert {r["status"] for r in articles} == {200}
    records = warc_records(tmp_path / "warc2")
    whole = {path_of(rec.get_header("WARC-Target-URI")) for rec, http, _ in of_type(records, "response")
             if http.get_statuscode() == "200"}
    assert set(gold) <= whole
    assert not of_type(records, "revisit")
    warcio_check(tmp_path / "warc2")

    remade = tmp_path / "remade.jsonl"
    result = subprocess.run([str(BIN / "archive-crawler"), "reprocess",
                             *map(str, sorted((tmp_path / "warc2").glob("*.warc.gz"))), "-o", str(remade)],
                            cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    remade_records = {r["canonical_url"]: {k: r[k] for k in COMPARED} for r in read_jsonl(remade)}
    assert remade_records == {r["canonical_url"]: {k: r[k] for k in COMPARED} for r in first["records"]}

    # Now captured: the next crawl asks conditionally again, and its 304s are revisits of crawl 2's.
    third = crawl(own_site, tmp_path, "third", *LOCAL_CRAWL, "-s", f"WARC_DIR={tmp_path / 'warc3'}")
    articles = [r for r in third["requests"] if urlsplit(r["path"]).path in gold]
    assert articles and all(conditional(r) and r["status"] == 304 for r in articles)
    dates = {rec.get_header("WARC-Target-URI"): rec.get_header("WARC-Date")
             for rec, _, _ in of_type(records, "response")}
    revisits = of_type(warc_records(tmp_path / "warc3"), "revisit")
    for rec, _, _ in revisits:
        if rec.get_header("WARC-Profile") == SERVER_NOT_MODIFIED:
            assert rec.get_header("WARC-Refers-To-Date") == dates[rec.get_header("WARC-Target-URI")]
    assert third["stats"]["warc/revisits/server_not_modified"] == len(
        [r for r in third["requests"] if r["status"] == 304])


@pytest.mark.parametrize("where", ["under-a-file", "a-file"])
def test_an_unwritable_warc_dir_stops_the_crawl_before_its_first_request(fixture_site, tmp_path, where):
    blocker = tmp_path / "afile"
    blocker.write_text("a file, not a folder\n", encoding="utf-8")
    warc_dir = blocker / "warc" if where == "under-a-file" else blocker
    started = len(fixture_site.requests)
    result = subprocess.run(
        [str(BIN / "scrapy"), "crawl", "nizkor", "-a", f"start_url={fixture_site.base_url}/nizkor/",
         "-O", str(tmp_path / "out.jsonl"), *LOCAL_CRAWL, "-s", f"CRAWL_STATE={tmp_path / 'state'}",
         "-s", f"WARC_DIR={warc_dir}", "-s", "LOG_LEVEL=INFO"],
        cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr and "Error caught on signal handler" not in result.stderr
    [line] = [line for line in result.stderr.splitlines() if "Cannot write the WARC files" in line]
    assert f"WARC_DIR {warc_dir}" in line and f"{blocker} is a file, not a folder" in line
    assert "'finish_reason': 'warc_unwritable'" in result.stderr
    [failed] = [line for line in result.stderr.splitlines() if "Crawl failed:" in line]
    assert f"{blocker} is a file, not a folder" in failed
    assert len(fixture_site.requests) == started, "a request was sent"
    assert blocker.read_text(encoding="utf-8") == "a file, not a folder\n"


# --------------------------------------------------------------- the state and the headers, alone


def test_a_page_is_finished_only_once_its_exchange_is_captured(tmp_path):
    from crawler.state import CrawlState
    from crawler.warc import RESPONSE, SERVER_NOT_MODIFIED as SNM, Capture, CaptureRef

    state = CrawlState(tmp_path / "state.sqlite3")
    state.begin_run(None)
    state.capturing = True
    url = "http://127.0.0.1:1/a.html"
    state.queue(url, url)
    assert state.capture_missing(url)  # never captured
    ref = CaptureRef(url, "2026-01-01T00:00:00.000001Z", "<urn:uuid:1>", "sha1:AAAA", "200 OK", "HTTP/1.1",
                     (("Content-Type", "text/html"), ("ETag", '"1"')))
    state.capture_failed(url)
    state.fetched(url, url, 200, '"1"', None, done=True)
    state.finish(url)
    state.record_written(url, "0" * 64, 1)
    assert not state.is_done(url) and list(state.pending()) == [url]
    assert state.capture_missing(url)
    state.captured(url, Capture(RESPONSE, "<urn:uuid:1>", ref))
    state.finish(url)
    assert state.is_done(url) and list(state.pending()) == []
    assert not state.capture_missing(url) and state.last_capture(url) == ref
    # A revisit keeps the capture it refers to; a write failing after the page was finished undoes it.
    state.captured(url, Capture(SNM, "<urn:uuid:2>", ref, 304))
    assert state.last_capture(url) == ref
    state.capture_failed(url)
    assert not state.is_done(url)
    # A run without WARC capture: a 200 leaves the capture behind (fetched next time in full), a 304 does not.
    state.captured(url, Capture(RESPONSE, "<urn:uuid:3>", ref))
    state.capturing = False
    state.fetched(url, url, 304, None, None, done=True)
    state.capturing = True
    assert not state.capture_missing(url)
    state.capturing = False
    state.fetched(url, url, 200, '"2"', None, done=True)
    assert state.is_done(url) and not state.capture_missing(url)  # without capture, nothing is missing
    state.capturing = True
    assert state.capture_missing(url)
    state.close()


def test_a_304_freshens_the_captured_headers():
    from crawler.warc import freshened_headers

    stored = [("Content-Type", "text/html"), ("Content-Length", "10"), ("Date", "old"), ("ETag", '"1"'),
              ("Content-Encoding", "gzip"), ("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")]
    sent = [("Date", "new"), ("ETag", '"1"'), ("Content-Length", "0"), ("Set-Cookie", "c=3"),
            ("Connection", "close"), ("Cache-Control", "max-age=60")]
    assert freshened_headers(stored, sent) == [
        ("Content-Type", "text/html"), ("Content-Length", "10"), ("Date", "new"), ("ETag", '"1"'),
        ("Content-Encoding", "gzip"), ("Set-Cookie", "c=3"), ("Cache-Control", "max-age=60")]
