"""The fault-injection site (fixtures/faults.py) behaves as documented: plain HTTP clients only."""

from __future__ import annotations

import hashlib
import http.client
import re
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.robotparser
import zlib
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import pytest

from conftest import REPO, SITE, SITE_HEADERS
from fixtures import faults
from fixtures.faults import FAULTS, ROBOTS_MODES, running_fault_site, running_robots_site
from fixtures.server import running_server

MB = 1024 * 1024
CONTROL = re.compile("[\x00\x01\x0b\x1b]")


def fetch(base_url: str, path: str, method: str = "GET", headers: dict | None = None,
          timeout: float = 10.0) -> tuple[int, http.client.HTTPMessage, bytes]:
    """One request, no redirect following: (status, headers, body)."""
    parts = urlsplit(base_url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        conn.request(method, path, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.headers, response.read()
    finally:
        conn.close()


def read_counting(base_url: str, path: str) -> tuple[http.client.HTTPResponse, int, bytes, bytes]:
    """Read a large body in 1 MB pieces: (response, total bytes, first piece, last 64 bytes)."""
    parts = urlsplit(base_url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    conn.request("GET", path)
    response = conn.getresponse()
    total, first, last = 0, b"", b""
    while piece := response.read(MB):
        first = first or piece
        total += len(piece)
        last = (last + piece)[-64:]
    conn.close()
    return response, total, first, last


def wait_for(condition, seconds: float = 3.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


class Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.title = ""
        self._in_title = False

    def handle_starttag(self, tag, attrs):
        if tag == "a" and dict(attrs).get("href"):
            self.hrefs.append(dict(attrs)["href"])
        self._in_title = tag == "title"

    def handle_endtag(self, tag):
        self._in_title = False

    def handle_data(self, data):
        if self._in_title:
            self.title += data


def links(body: bytes, encoding: str = "utf-8") -> Links:
    parser = Links()
    parser.feed(body.decode(encoding))
    return parser


@pytest.fixture
def site():
    with running_fault_site(slow_seconds=1.5) as running:
        yield running


# -- the archive, as fixtures/server.py serves it ------------------------------------------------

ARCHIVE_PATHS = ["/nizkor/doc/priv2en.html", "/nizkor/doc/fallo.html", "/nizkor/doc/perdido.html",
                 "/nizkor/chile/doc", "/nizkor/colombia/doc/uraba2.html", "/nizkor/doc/datos.html",
                 "/index.html", "/nizkor/espana/doc/cyberthreat2.html?print=1"]


def test_the_archive_is_served_exactly_as_fixtures_server_serves_it(site):
    with running_server(SITE, SITE_HEADERS) as plain:
        for path in ARCHIVE_PATHS:
            status, headers, body = fetch(site.base_url, path)
            want_status, want_headers, want_body = fetch(plain.base_url, path)
            assert (status, body) == (want_status, want_body), path
            for name in ("Content-Type", "Content-Length", "ETag", "Last-Modified", "Location"):
                assert headers.get(name) == want_headers.get(name), (path, name)
        etag = fetch(site.base_url, "/nizkor/doc/priv2en.html")[1]["ETag"]
        assert fetch(site.base_url, "/nizkor/doc/priv2en.html", headers={"If-None-Match": etag})[0] == 304


def test_the_start_page_links_the_fault_index_on_this_site_only(site):
    committed = (SITE / "nizkor" / "index.html").read_bytes()
    assert b"/faults/" not in committed
    for path in ("/nizkor/index.html", "/nizkor/", "/nizkor/index.html?x=1"):
        status, headers, body = fetch(site.base_url, path)
        assert status == 200
        assert body == committed.replace(b"</body>", faults.FAULT_LINK + b"\n</body>")
        assert headers["ETag"] == f'"{hashlib.sha256(body).hexdigest()}"'
    assert fetch(site.base_url, "/nizkor/index.html", headers={"If-None-Match": headers["ETag"]})[0] == 304


def test_robots_txt_is_the_fixtures_plus_the_private_fault_folder(site):
    status, headers, body = fetch(site.base_url, "/robots.txt")
    assert status == 200 and headers["Content-Type"].startswith("text/plain")
    assert body == (SITE / "robots.txt").read_bytes() + b"Disallow: /faults/private/\n"
    parser = urllib.robotparser.RobotFileParser()
    parser.parse(body.decode().splitlines())
    assert not parser.can_fetch("archive-crawler", site.base_url + "/faults/private/secret.html")
    assert not parser.can_fetch("archive-crawler", site.base_url + "/nizkor/privado/secreto1.html")
    assert parser.can_fetch("archive-crawler", site.base_url + "/faults/index.html")
    assert site.faults["/faults/private/secret.html"] == "robots-disallowed"


def test_the_fault_index_links_every_fault_relatively(site):
    status, _, body = fetch(site.base_url, "/faults/index.html")
    assert status == 200
    hrefs = links(body).hrefs
    assert all(not urlsplit(h).scheme and not h.startswith("/") for h in hrefs)
    linked = {urlsplit(urljoin(site.base_url + "/faults/index.html", h)).path for h in hrefs}
    assert set(site.faults) <= linked
    assert site.faults == {f.path: f.name for f in FAULTS} and len(site.faults) == len(FAULTS)
    assert set(site.good_entry_points.values()) <= set(site.faults)
    assert set(site.good_pages) == set(site.good_entry_points)


def test_the_readme_section_documents_every_fault_and_robots_mode():
    section = faults.readme_section()
    assert section.startswith(faults.README_HEADING + "\n")
    for fault in FAULTS:
        assert f"| `{fault.path}` | {fault.name} |" in section, fault.path
    for mode in ROBOTS_MODES:
        assert f"| `{mode}` |" in section, mode
    # fixtures/README.md is written by fixtures/build_derechos.py; once it carries the section, it
    # must be this one.
    readme = (REPO / "fixtures" / "README.md").read_text(encoding="utf-8")
    if faults.README_HEADING in readme:
        assert section in readme


def test_good_pages_are_distinct_articles_with_their_titles(site):
    bodies = {}
    for good, title in site.good_pages.items():
        body = b""
        for _ in range(2):  # the first request of a "-once" fault fails on purpose
            try:
                status, _, body = fetch(site.base_url, good)
            except ConnectionError:
                continue
            if status == 200:
                break
        assert status == 200, good
        encoding = "latin-1" if "bogus" in good else "utf-8"
        parsed = links(body, encoding)
        assert CONTROL.sub("", parsed.title.strip()) == title, good
        assert b"This document has been published on" in body or b"Este documento ha sido publicado" in body
        bodies[good] = body
    texts = [set(re.findall(rb'<p align="?justify"?>([^<]{60,})', b)) for b in bodies.values()]
    assert all(texts) and all(not (a & b) for i, a in enumerate(texts) for b in texts[i + 1:])
    assert len(set(site.good_pages.values())) == len(site.good_pages)


# -- slow, reset, truncated, statuses ------------------------------------------------------------

def test_slow_pages_send_headers_at_once_and_dribble_the_body(site):
    results = {}

    def timed(path):
        parts = urlsplit(site.base_url)
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
        started = time.monotonic()
        conn.request("GET", path)
        response = conn.getresponse()
        headers_at = time.monotonic() - started
        body = response.read()
        results[path] = (headers_at, time.monotonic() - started, body)
        conn.close()

    threads = [threading.Thread(target=timed, args=(p,)) for p in ("/faults/slow.html", "/faults/slow-ok.html")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    headers_at, total, body = results["/faults/slow.html"]
    assert headers_at < 0.5 and 1.4 <= total < 3.0 and body.endswith(b"</html>\n")
    headers_at, total, body = results["/faults/slow-ok.html"]
    assert headers_at < 0.5 and 0.9 <= total < 2.0
    assert site.good_pages["/faults/slow-ok.html"].encode() in body


def test_reset_always_and_reset_once(site):
    for _ in range(2):
        with pytest.raises(ConnectionResetError):
            fetch(site.base_url, "/faults/reset.html")
    with pytest.raises(ConnectionResetError):
        fetch(site.base_url, "/faults/reset-once.html")
    status, _, body = fetch(site.base_url, "/faults/reset-once.html")
    assert status == 200 and site.good_pages["/faults/reset-once.html"].encode() in body
    log = [(r["path"], r["status"]) for r in site.requests.snapshot()]
    assert log == [("/faults/reset.html", None)] * 2 + [("/faults/reset-once.html", None),
                                                        ("/faults/reset-once.html", 200)]


def test_truncated_body_is_shorter_than_announced(site):
    with pytest.raises(http.client.IncompleteRead):
        fetch(site.base_url, "/faults/truncated.html")


def test_status_faults(site):
    assert [fetch(site.base_url, "/faults/http/500.html")[0] for _ in range(3)] == [500, 500, 500]
    for path, first in (("/faults/http/503-once.html", 503), ("/faults/http/429-once.html", 429)):
        status, headers, _ = fetch(site.base_url, path)
        assert (status, headers["Retry-After"]) == (first, "1")
        status, headers, body = fetch(site.base_url, path)
        assert status == 200 and "Retry-After" not in headers
        assert site.good_pages[path].encode() in body


# -- redirects -----------------------------------------------------------------------------------

def location(site, path: str) -> tuple[int, str | None]:
    status, headers, _ = fetch(site.base_url, path)
    return status, headers.get("Location")


def test_redirect_loop_and_chains(site):
    assert location(site, "/faults/redirect/loop-a.html") == (302, "/faults/redirect/loop-b.html")
    assert location(site, "/faults/redirect/loop-b.html") == (302, "/faults/redirect/loop-a.html")
    path, hops = "/faults/redirect/hop/0.html", 0
    while (answer := location(site, path))[0] == 302:
        path, hops = answer[1], hops + 1
    assert (answer[0], hops, path) == (200, 30, "/faults/redirect/hop/30.html")
    assert location(site, "/faults/redirect/hop/31.html")[0] == 404
    path, hops = "/faults/redirect/three/1.html", 0
    while (answer := location(site, path))[0] == 302:
        path, hops = answer[1], hops + 1
    assert (hops, path) == (3, "/faults/articles/redirected.html")
    assert site.good_entry_points[path] == "/faults/redirect/three/1.html" and path in site.good_pages


def test_redirects_off_the_site_and_to_other_schemes(site):
    other_port = urlsplit(site.other_base_url).port
    assert other_port != urlsplit(site.base_url).port and site.other_base_url.startswith("http://127.0.0.1:")
    assert location(site, "/faults/redirect/other-port.html") == (302, site.other_base_url + "/from-redirect.html")
    assert location(site, "/faults/redirect/other-host.html") == (302, f"http://localhost:{other_port}/x.html")
    assert location(site, "/faults/redirect/file.html") == (302, "file:///etc/passwd")
    assert location(site, "/faults/redirect/data.html") == (302, "data:text/html,<h1>x</h1>")
    assert location(site, "/faults/redirect/ftp.html") == (302, "ftp://127.0.0.1/x.html")
    assert location(site, "/faults/redirect/retry-then-redirect.html") == (500, None)
    assert location(site, "/faults/redirect/retry-then-redirect.html") == (302, site.other_base_url + "/retried.html")
    assert site.other_requests.snapshot() == []
    assert fetch(site.other_base_url, "/page.html")[0] == 200  # it does answer, when asked
    assert site.other_requests.paths() == ["/page.html"] and site.other_requests[0]["port"] == other_port


def test_offsite_links(site):
    port, other = urlsplit(site.base_url).port, urlsplit(site.other_base_url).port
    hrefs = links(fetch(site.base_url, "/faults/offsite.html")[2]).hrefs
    assert hrefs[:3] == [f"ftp://127.0.0.1:{port}/faults/ftp.html", f"http://127.0.0.1:{other}/page.html",
                         f"http://localhost:{port}/nizkor/index.html"]
    assert hrefs[3].startswith("mailto:") and hrefs[4].startswith("javascript:") and len(hrefs) == 5


# -- bodies --------------------------------------------------------------------------------------

def test_decompression_bombs_are_small_and_inflate_to_200_mb(site):
    status, headers, body = fetch(site.base_url, "/faults/bomb/gzip.html")
    assert status == 200 and headers["Content-Encoding"] == "gzip"
    assert headers["Content-Type"].startswith("text/html") and len(body) < MB
    assert struct.unpack("<I", body[-4:])[0] == (200 * MB) & 0xFFFFFFFF  # gzip ISIZE
    inflater, total = zlib.decompressobj(16 + zlib.MAX_WBITS), 0
    data = body
    first = b""
    while data or not inflater.eof:
        out = inflater.decompress(data, 4 * MB)
        first = first or out
        total += len(out)
        data = inflater.unconsumed_tail
        if not out and not data:
            break
    assert inflater.eof and total == 200 * MB
    assert first.startswith(b"<html>") and first[-1000:] == b" " * 1000
    status, headers, body = fetch(site.base_url, "/faults/bomb/deflate.html")
    assert headers["Content-Encoding"] == "deflate" and len(body) < MB
    out = zlib.decompressobj().decompress(body, MB)
    assert len(out) == MB and out.startswith(b"<html>")


def test_huge_pages_are_60_mb_with_and_without_content_length(site):
    response, total, first, last = read_counting(site.base_url, "/faults/huge/content-length.html")
    assert response.headers["Content-Length"] == str(60 * MB) and total == 60 * MB
    assert first.startswith(b"<html>") and last.endswith(b"</body></html>\n")
    response, total, first, last = read_counting(site.base_url, "/faults/huge/chunked.html")
    assert response.headers.get("Content-Length") is None
    assert response.headers["Transfer-Encoding"] == "chunked" and total == 60 * MB
    assert last.endswith(b"</body></html>\n")


def test_clients_that_hang_up_mid_answer_leave_no_trace(site, capfd):
    port = urlsplit(site.base_url).port
    for path in ("/faults/huge/content-length.html", "/faults/huge/chunked.html", "/faults/many-links.html",
                 "/faults/slow.html"):
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        sock.recv(1000)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
    time.sleep(0.3)
    assert fetch(site.base_url, "/faults/index.html")[0] == 200
    assert capfd.readouterr().err == ""


def test_binary_bodies_served_as_html(site):
    status, headers, body = fetch(site.base_url, "/faults/binary/random.html")
    assert status == 200 and headers["Content-Type"] == "text/html" and len(body) == 64 * 1024
    assert body == fetch(site.base_url, "/faults/binary/random.html")[2] and b"\x00" in body
    status, headers, body = fetch(site.base_url, "/faults/binary/png.html")
    assert headers["Content-Type"] == "text/html; charset=utf-8" and body.startswith(b"\x89PNG\r\n\x1a\n")
    assert body.endswith(b"IEND\xaeB`\x82")


def test_nul_byte_article(site):
    status, headers, body = fetch(site.base_url, "/faults/articles/nul.html")
    assert status == 200 and headers["Content-Type"] == "text/html; charset=utf-8"
    assert all(c in body for c in (b"\x00", b"\x01", b"\x0b", b"\x1b"))
    text = body.decode("utf-8")
    title = re.search(r"<title>(.*)</title>", text, re.S).group(1)
    assert CONTROL.search(title) and CONTROL.sub("", title) == site.good_pages["/faults/articles/nul.html"]
    paragraphs = re.findall(r'<p align="justify">(.*?)</p>', text, re.S)
    assert sum(bool(CONTROL.search(p)) for p in paragraphs) == 2
    assert [CONTROL.sub("", p) for p in paragraphs] == site.nul_expected_lines
    assert not any(CONTROL.search(line) for line in site.nul_expected_lines)


def test_bogus_charset_article(site):
    status, headers, body = fetch(site.base_url, "/faults/articles/bogus-charset.html")
    assert headers["Content-Type"] == "text/html; charset=x-bogus-42"
    assert b'<meta charset="also-bogus">' in body
    with pytest.raises(UnicodeDecodeError):
        body.decode("utf-8")
    text = body.decode("latin-1")
    assert "Comisión" in text and "años" in text
    assert site.good_pages["/faults/articles/bogus-charset.html"] in text


def test_tag_soup_article(site):
    body = fetch(site.base_url, "/faults/articles/tag-soup.html")[2].decode()
    assert "<b><i>at least six reporters</b></i>" in body and "</div>" in body
    assert "<p align=justify>" in body and "</p>" not in body and "<td align=right valign=top>" in body
    assert links(body.encode()).title.strip() == site.good_pages["/faults/articles/tag-soup.html"]


def test_deep_nesting_and_many_links(site):
    body = fetch(site.base_url, "/faults/deep.html")[2]
    assert body.count(b"<div>") == 50_000 and body.count(b"</div>") == 50_000
    status, headers, body = fetch(site.base_url, "/faults/many-links.html")
    hrefs = re.findall(rb'<a href="([^"]+)">', body)
    assert int(headers["Content-Length"]) == len(body) and len(set(hrefs)) == 100_000
    assert hrefs[7] == b"many/7.html"
    assert fetch(site.base_url, "/faults/many/99999.html")[0] == 404


def test_endless_url_spaces(site):
    status, _, body = fetch(site.base_url, "/faults/calendar/41/")
    assert status == 200 and links(body).hrefs == ["../42/", "../71/"]
    assert fetch(site.base_url, "/faults/calendar/123456789/")[0] == 200
    assert fetch(site.base_url, "/faults/calendar/abc/")[0] == 404
    deep = "/faults/loop/" + "x/" * 40
    status, _, body = fetch(site.base_url, deep)
    assert status == 200 and links(body).hrefs == ["x/"]
    assert fetch(site.base_url, "/faults/loop/y/")[0] == 404


def test_every_request_is_logged_with_query_status_and_port(site):
    fetch(site.base_url, "/faults/calendar/3/?view=month")
    fetch(site.base_url, "/faults/http/500.html", method="HEAD")
    with pytest.raises(ConnectionError):
        fetch(site.base_url, "/faults/reset.html")
    port = urlsplit(site.base_url).port
    entries = site.requests.snapshot()
    assert [(e["method"], e["path"], e["status"], e["port"]) for e in entries] == [
        ("GET", "/faults/calendar/3/?view=month", 200, port),
        ("HEAD", "/faults/http/500.html", 500, port),
        ("GET", "/faults/reset.html", None, port)]
    assert all(isinstance(e["time"], float) and e["headers"] for e in entries)


def test_shutdown_is_fast_with_held_connections():
    with running_fault_site(slow_seconds=60) as running:
        port = urlsplit(running.base_url).port
        held = socket.create_connection(("127.0.0.1", port), timeout=5)
        held.sendall(b"GET /faults/slow.html HTTP/1.1\r\nHost: x\r\n\r\n")
        held.recv(100)
        wait_for(lambda: len(running.requests) == 1)
        idle = socket.create_connection(("127.0.0.1", port), timeout=5)  # keep-alive, no request
        started = time.monotonic()
    assert time.monotonic() - started < 1.5
    held.close()
    idle.close()


# -- robots.txt sites ----------------------------------------------------------------------------

def test_robots_site_pages():
    with running_robots_site("not-found-404") as rsite:
        status, _, body = fetch(rsite.base_url, "/index.html")
        hrefs = [urljoin(rsite.base_url + "/index.html", h) for h in links(body).hrefs]
        assert [urlsplit(h).path for h in hrefs] == list(rsite.pages)
        for path, title in rsite.pages.items():
            status, _, body = fetch(rsite.base_url, path)
            assert status == 200 and links(body).title == title
            assert body.count(b"<h1>") == 1 and body.count(b"<p>") == 2
        assert fetch(rsite.base_url, "/robots.txt")[0] == 404
        assert rsite.pages_allowed and rsite.requests[0]["path"] == "/index.html"


@pytest.mark.parametrize("mode", ["error-500", "not-found-404", "huge", "binary", "redirect-loop"])
def test_robots_modes_that_answer(mode):
    with running_robots_site(mode) as rsite:
        status, headers, body = fetch(rsite.base_url, "/robots.txt")
        if mode == "error-500":
            assert status == 500 and fetch(rsite.base_url, "/robots.txt")[0] == 500
        elif mode == "not-found-404":
            assert status == 404
        elif mode == "huge":
            assert status == 200 and len(body) == 5 * MB == int(headers["Content-Length"])
            assert body.endswith(b"User-agent: *\nDisallow: /\n") and b"Disallow" not in body[:-30]
        elif mode == "binary":
            assert status == 200 and len(body) == 16 * 1024
            with pytest.raises(UnicodeDecodeError):
                body.decode("utf-8")
        else:
            assert (status, headers["Location"]) == (302, "/robots2.txt")
            assert fetch(rsite.base_url, "/robots2.txt")[1]["Location"] == "/robots.txt"
        assert rsite.pages_allowed == ROBOTS_MODES[mode][1]


def test_robots_reset_and_timeout_and_a_fast_shutdown():
    with running_robots_site("unreachable-reset") as rsite:
        with pytest.raises(ConnectionResetError):
            fetch(rsite.base_url, "/robots.txt")
        assert rsite.requests.snapshot()[0]["status"] is None and not rsite.pages_allowed
    with running_robots_site("timeout") as rsite:
        with pytest.raises(TimeoutError):
            fetch(rsite.base_url, "/robots.txt", timeout=0.5)
        held = socket.create_connection(("127.0.0.1", urlsplit(rsite.base_url).port), timeout=5)
        held.sendall(b"GET /robots.txt HTTP/1.1\r\nHost: x\r\n\r\n")
        wait_for(lambda: len(rsite.requests) == 2)  # both held by now
        started = time.monotonic()
    assert time.monotonic() - started < 1.5
    assert held.recv(100) == b""  # closed without an answer
    held.close()
    assert [r["status"] for r in rsite.requests.snapshot()] == [None, None]


def test_unknown_robots_mode_is_refused():
    with pytest.raises(ValueError):
        with running_robots_site("teapot"):
            pass


def test_main_prints_the_base_url_and_serves():
    process = subprocess.Popen([sys.executable, "-m", "fixtures.faults", "--port", "0"], cwd=REPO,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        base_url = process.stdout.readline().strip()
        other_url = process.stdout.readline().strip()
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", base_url) and other_url != base_url
        assert fetch(base_url, "/faults/index.html")[0] == 200
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=5)
        assert process.returncode == 0 and err == ""
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
