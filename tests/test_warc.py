"""WARC capture: the fixture crawl with WARC_DIR set writes WARC/1.1 files that warcio accepts and
that hold every response of the crawl."""

from __future__ import annotations

import json
import re
import subprocess
import zlib
from collections import Counter
from urllib.parse import urlsplit

import pytest
from warcio.archiveiterator import ArchiveIterator

from conftest import BIN, GOLD, SITE, SITE_HEADERS, WARC_TEST_SIZE, read_jsonl

NAME = re.compile(r"^nizkor-\d{14}-\d{5}\.warc\.gz$")


def warc_records(path):
    """(WARC headers, HTTP headers or None, payload bytes as stored) of each record."""
    with open(path, "rb") as stream:
        for record in ArchiveIterator(stream):
            yield record.rec_headers, record.http_headers, record.raw_stream.read()


def responses(crawl):
    return [
        (rec, http, body)
        for path in crawl["warc_files"]
        for rec, http, body in warc_records(path)
        if rec.get_header("WARC-Type") == "response"
    ]


def test_warcio_check_accepts_every_file(warc_crawl):
    assert warc_crawl["warc_files"]
    result = subprocess.run([str(BIN / "warcio"), "check", "-v", *map(str, warc_crawl["warc_files"])],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    # Every record (warcinfo, request, response) carries digests, and they match.
    assert result.stdout.count("digest pass") == sum(
        1 for path in warc_crawl["warc_files"] for _ in warc_records(path))


def test_warcio_index_lists_every_response(warc_crawl):
    result = subprocess.run([str(BIN / "warcio"), "index", "-f", "warc-type,warc-target-uri,http:status",
                             *map(str, warc_crawl["warc_files"])], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    entries = [json.loads(line) for line in result.stdout.splitlines()]
    indexed = [e for e in entries if e["warc-type"] == "response"]
    assert len(indexed) == warc_crawl["stats"]["downloader/response_count"]
    assert {e["http:status"] for e in indexed} >= {"200", "301", "404", "500"}


def test_every_response_of_the_crawl_is_captured(warc_crawl):
    """robots.txt, the redirect, the 404 and each try of the 500 are all there, once per request."""
    served = Counter(r["path"] for r in warc_crawl["requests"])
    captured = Counter()
    for rec, _, _ in responses(warc_crawl):
        parts = urlsplit(rec.get_header("WARC-Target-URI"))
        captured[parts.path + (f"?{parts.query}" if parts.query else "")] += 1
    assert captured == served
    assert captured["/robots.txt"] == 1
    assert captured["/nizkor/chile/doc"] == 1  # the 301 to chile/doc/, before the redirect is followed
    assert captured["/nizkor/doc/fallo.html"] == 3  # a 500, retried twice
    stats = warc_crawl["stats"]
    assert stats["warc/records/response"] == stats["warc/records/request"] == sum(served.values())


def test_records_carry_uri_date_and_digests_and_requests_are_paired(warc_crawl):
    by_id = {}
    requests = []
    for path in warc_crawl["warc_files"]:
        for rec, http, _ in warc_records(path):
            assert rec.protocol == "WARC/1.1"
            assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", rec.get_header("WARC-Date"))
            kind = rec.get_header("WARC-Type")
            if kind in ("request", "response"):
                assert rec.get_header("WARC-Target-URI").startswith(warc_crawl["base_url"])
                assert rec.get_header("WARC-Payload-Digest").startswith("sha1:")
                assert rec.get_header("WARC-Block-Digest").startswith("sha1:")
            if kind == "response":
                by_id[rec.get_header("WARC-Record-ID")] = rec
                assert rec.get_header("WARC-IP-Address") == "127.0.0.1"
            elif kind == "request":
                requests.append((rec, http))
    assert len(requests) == len(by_id)
    for rec, http in requests:
        response = by_id[rec.get_header("WARC-Concurrent-To")]
        assert response.get_header("WARC-Target-URI") == rec.get_header("WARC-Target-URI")
        assert http.protocol == "GET"
        assert http.get_header("User-Agent").startswith("archive-crawler/")
        assert http.get_header("Host") == urlsplit(warc_crawl["base_url"]).netloc


def test_bodies_are_the_served_bytes_with_consistent_headers(warc_crawl):
    served_types = json.loads(SITE_HEADERS.read_text())
    checked = 0
    for rec, http, body in responses(warc_crawl):
        path = urlsplit(rec.get_header("WARC-Target-URI")).path
        assert http.get_header("Transfer-Encoding") is None
        length = http.get_header("Content-Length")
        assert length is None or int(length) == len(body)
        if http.get_statuscode() != "200" or path.endswith("/"):
            continue
        assert body == (SITE / path.lstrip("/")).read_bytes(), path
        if "content_type" in served_types.get(path, {}):
            assert http.get_header("Content-Type") == served_types[path]["content_type"]
        checked += 1
    assert checked >= len(read_jsonl(GOLD))


def test_each_file_opens_with_warcinfo_naming_software_spider_and_profile(warc_crawl):
    for path in warc_crawl["warc_files"]:
        assert NAME.match(path.name), path.name
        with open(path, "rb") as stream:
            first = next(iter(ArchiveIterator(stream)))
            assert first.rec_type == "warcinfo"
            assert first.rec_headers.get_header("WARC-Filename") == path.name
            fields = dict(line.split(": ", 1) for line in first.content_stream().read().decode().splitlines())
        assert fields["software"].startswith("archive-crawler/")
        assert "warcio/" in fields["software"]
        assert fields["spider"] == fields["isPartOf"] == "nizkor"
        assert fields["site-profile"] == "derechos.org"  # whatever the host: reprocess needs it
        assert fields["start-url"] == warc_crawl["base_url"] + "/nizkor/"
        assert fields["http-header-user-agent"].startswith("archive-crawler/")


def test_files_rotate_at_the_size_limit(warc_crawl):
    files = warc_crawl["warc_files"]
    assert len(files) >= 3
    assert warc_crawl["stats"]["warc/files"] == len(files)
    serials = [int(p.name.rsplit("-", 1)[1].split(".")[0]) for p in files]
    assert serials == list(range(len(files)))
    for path in files[:-1]:
        assert path.stat().st_size >= WARC_TEST_SIZE
    # Rotation happens between exchanges: a file's last record is never more than one exchange past the limit.
    for path in files:
        assert path.stat().st_size < WARC_TEST_SIZE + 20_000


def test_every_record_is_its_own_gzip_member(warc_crawl):
    """Per-record gzip: each record's offset starts a member that decompresses to exactly that record."""
    for path in warc_crawl["warc_files"]:
        data = path.read_bytes()
        with open(path, "rb") as stream:
            iterator = ArchiveIterator(stream)
            offsets = []
            for record in iterator:
                offsets.append(iterator.get_record_offset())
        offsets.append(len(data))
        for start, end in zip(offsets, offsets[1:]):
            member = zlib.decompressobj(16 + zlib.MAX_WBITS)
            text = member.decompress(data[start:end])
            assert member.eof and not member.unused_data
            assert text.startswith(b"WARC/1.1\r\n")


def test_capture_is_off_unless_warc_dir_is_set():
    from scrapy.exceptions import NotConfigured
    from scrapy.utils.project import get_project_settings
    from scrapy.utils.test import get_crawler

    from crawler.spiders.nizkor import NizkorSpider
    from crawler.capture import WarcCaptureMiddleware

    settings = get_project_settings()
    assert settings.get("WARC_DIR") == ""
    assert "crawler.capture.WarcCaptureMiddleware" in settings.getdict("DOWNLOADER_MIDDLEWARES")
    with pytest.raises(NotConfigured):
        WarcCaptureMiddleware.from_crawler(get_crawler(NizkorSpider, {"WARC_DIR": settings.get("WARC_DIR")}))
    with pytest.raises(ValueError, match="WARC_MAX_SIZE"):
        WarcCaptureMiddleware.from_crawler(get_crawler(NizkorSpider, {"WARC_DIR": "x", "WARC_MAX_SIZE": 0}))


ARTICLE = "/nizkor/espana/doc/cyberthreat2.html"


@pytest.fixture
def chunked_gzip_site():
    """A server that sends one fixture article gzip-encoded in chunks (HTTP/1.1), as many servers do."""
    import gzip
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    page = (SITE / ARTICLE.lstrip("/")).read_bytes()
    content_type = json.loads(SITE_HEADERS.read_text()).get(ARTICLE, {}).get("content_type", "text/html")

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            if self.path != ARTICLE:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            body = gzip.compress(page)
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Encoding", "gzip")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for start in range(0, len(body), 1000):
                chunk = body[start:start + 1000]
                self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            self.wfile.write(b"0\r\n\r\n")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", page
    finally:
        server.shutdown()
        server.server_close()


def test_chunked_gzip_response_is_stored_consistently_and_reprocesses(chunked_gzip_site, tmp_path):
    import gzip

    from conftest import LOCAL_CRAWL, REPO, read_jsonl

    base, page = chunked_gzip_site
    output, warc_dir = tmp_path / "records.jsonl", tmp_path / "warc"
    crawl = subprocess.run([str(BIN / "scrapy"), "crawl", "nizkor", "-a", f"start_url={base}{ARTICLE}",
                            "-O", str(output), *LOCAL_CRAWL, "-s", f"WARC_DIR={warc_dir}",
                            "-s", f"CRAWL_STATE={tmp_path / 'state'}"],
                           cwd=REPO, capture_output=True, text=True, timeout=300)
    assert crawl.returncode == 0, crawl.stderr[-3000:]
    files = sorted(warc_dir.glob("*.warc.gz"))
    check = subprocess.run([str(BIN / "warcio"), "check", *map(str, files)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr

    [(rec, http, body)] = [r for path in files for r in warc_records(path)
                           if r[0].get_header("WARC-Type") == "response" and r[1].get_statuscode() == "200"]
    # Twisted de-chunks the body and drops Transfer-Encoding: no header may claim a chunked body.
    assert http.get_header("Transfer-Encoding") is None
    assert http.get_header("Content-Encoding") == "gzip"
    assert http.get_header("Content-Length") in (None, str(len(body)))
    assert gzip.decompress(body) == page  # the entity as sent: de-chunked, still gzip-encoded

    crawled = read_jsonl(output)
    assert len(crawled) == 1
    remade_path = tmp_path / "remade.jsonl"
    result = subprocess.run([str(BIN / "archive-crawler"), "reprocess", *map(str, files), "-o", str(remade_path)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    [remade] = read_jsonl(remade_path)
    assert {k: v for k, v in remade.items() if k != "fetched_at"} == {
        k: v for k, v in crawled[0].items() if k != "fetched_at"}


def test_headers_are_made_consistent_with_the_stored_body():
    from crawler.warc import archival_response_headers

    sent = [("Server", "x"), ("Content-Length", "10"), ("Content-Type", "text/html")]
    assert archival_response_headers(sent, 10) == sent  # nothing to change: order and values kept
    assert archival_response_headers([("Content-Length", "99"), ("Content-Type", "text/html")], 10) == [
        ("X-Archive-Orig-Content-Length", "99"), ("Content-Length", "10"), ("Content-Type", "text/html")]
    assert archival_response_headers([("Transfer-Encoding", "chunked"), ("Content-Type", "text/html")], 10) == [
        ("X-Archive-Orig-Transfer-Encoding", "chunked"), ("Content-Type", "text/html"), ("Content-Length", "10")]


def test_a_file_cut_anywhere_reads_up_to_the_cut_and_says_so(warc_crawl, tmp_path):
    """A WARC file cut short (a disk full, a copy stopped) gives the responses before the cut and
    then warcio's ArchiveLoadFailed, wherever the cut falls: inside a body, inside a record's WARC
    headers (no Content-Length read), inside its gzip member. Never another exception."""
    from warcio.archiveiterator import ArchiveIterator
    from warcio.exceptions import ArchiveLoadFailed

    from crawler.warc import read_responses

    source = warc_crawl["warc_files"][0]
    data = source.read_bytes()
    with open(source, "rb") as stream:
        iterator = ArchiveIterator(stream)
        starts = [iterator.get_record_offset() for _ in iterator]
    whole = [response.url for response in read_responses(source)]
    # Just inside each record's gzip member and its headers, and evenly across the file.
    cuts = sorted({start + delta for start in starts[1:40] for delta in (1, 12, 30, 60)}
                  | set(range(1, len(data), max(1, len(data) // 60))))
    for cut in cuts:
        damaged = tmp_path / "cut.warc.gz"
        damaged.write_bytes(data[:cut])
        read = []
        try:
            for response in read_responses(damaged):
                read.append(response.url)
        except ArchiveLoadFailed:
            pass
        assert read == whole[:len(read)], cut
