"""The mock archive is what its specifications say, and its server behaves like a static web server."""

import email.utils
import hashlib
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from conftest import REPO
from fixtures.server import running_server


def test_committed_fixture_files_equal_a_rebuild_from_the_specs():
    result = subprocess.run([sys.executable, "-m", "fixtures.build_derechos", "--check"], cwd=REPO,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def fetch(url: str):
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, b""


@pytest.mark.parametrize(
    "path, status, content_type",
    [
        ("/robots.txt", 200, "text/plain"),
        ("/nizkor/espana/doc/cyberthreat2.html?print=1", 200, "text/html"),
        ("/nizkor/doc/perdido.html", 404, None),
        ("/nizkor/doc/fallo.html", 500, None),
        ("/nizkor/doc/informe.pdf", 200, "application/pdf"),
    ],
)
def test_fixture_server_answers_like_a_static_site(fixture_site, path, status, content_type):
    got_status, headers, _ = fetch(fixture_site.base_url + path)
    assert got_status == status
    if content_type:
        assert headers["Content-Type"].startswith(content_type)


# --- validators, conditional requests, scripted answers and the request log (fixtures/server.py) ---


def request(url: str, method: str = "GET", **headers: str):
    """(status, headers, body) of one request; error statuses (304 included) are answers too."""
    req = urllib.request.Request(url, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


@pytest.fixture()
def tiny_site(tmp_path):
    """A three-page site with a headers file exercising every per-path key; yields (server, root)."""
    root = tmp_path / "site"
    root.mkdir()
    (root / "a.html").write_bytes(b"<html><body><p>Page A</p></body></html>\n")
    (root / "b.html").write_bytes(b"<html><body><p>Page B</p></body></html>\n")
    (root / "c.html").write_bytes(b"<html><body><p>Page C</p></body></html>\n")
    (root / "d.html").write_bytes(b"<html><body><p>Page D</p></body></html>\n")
    (root / "e.html").write_bytes(b"<html><body><p>Page E</p></body></html>\n")
    old = time.time() - 3600
    for page in root.iterdir():
        os.utime(page, (old, old))
    headers_file = tmp_path / "headers.json"
    headers_file.write_text(json.dumps({
        "/b.html": {"conditional": False},
        "/c.html": {"headers": {"Cache-Control": "max-age=60", "X-Fixture": "c"},
                    "responses": [{"status": 503, "headers": {"Retry-After": "2"}},
                                  {"status": 429, "headers": {"Retry-After": "1", "X-Fixture": "throttled"}}]},
        "/d.html": {"headers": {"ETag": '"pinned"'}},
        "/e.html": {"status": 500},
    }), encoding="utf-8")
    with running_server(root, headers_file) as server:
        yield server, root


def test_a_file_answer_carries_last_modified_and_a_strong_etag(tiny_site):
    server, root = tiny_site
    status, headers, body = request(server.base_url + "/a.html")
    assert status == 200
    assert headers["ETag"] == '"' + hashlib.sha256(body).hexdigest() + '"'
    assert headers["Last-Modified"] == email.utils.formatdate((root / "a.html").stat().st_mtime, usegmt=True)


def test_if_none_match_gets_304_without_a_body(tiny_site):
    server, _ = tiny_site
    _, headers, _ = request(server.base_url + "/a.html")
    etag = headers["ETag"]
    for given in (etag, f'"other", {etag}', f"W/{etag}", "*"):
        status, answer, body = request(server.base_url + "/a.html", **{"If-None-Match": given})
        assert (status, body) == (304, b""), given
        assert answer["ETag"] == etag and "Content-Length" not in answer
    status, _, body = request(server.base_url + "/a.html", method="HEAD", **{"If-None-Match": etag})
    assert (status, body) == (304, b"")
    # A different tag is a changed page, whatever If-Modified-Since says (If-None-Match wins).
    status, _, body = request(server.base_url + "/a.html", **{"If-None-Match": '"other"',
                                                              "If-Modified-Since": headers["Last-Modified"]})
    assert status == 200 and body


def test_if_modified_since_gets_304_unless_the_file_is_newer(tiny_site):
    server, root = tiny_site
    _, headers, _ = request(server.base_url + "/a.html")
    modified = headers["Last-Modified"]
    assert request(server.base_url + "/a.html", **{"If-Modified-Since": modified})[0] == 304
    later = email.utils.formatdate(time.time(), usegmt=True)
    assert request(server.base_url + "/a.html", **{"If-Modified-Since": later})[0] == 304
    earlier = email.utils.formatdate((root / "a.html").stat().st_mtime - 60, usegmt=True)
    assert request(server.base_url + "/a.html", **{"If-Modified-Since": earlier})[0] == 200
    assert request(server.base_url + "/a.html", **{"If-Modified-Since": "not a date"})[0] == 200
    # The page changes: both validators change and the old ones get the new page.
    (root / "a.html").write_bytes(b"<html><body><p>Page A, revised</p></body></html>\n")
    status, new_headers, body = request(server.base_url + "/a.html", **{"If-None-Match": headers["ETag"]})
    assert status == 200 and b"revised" in body
    assert new_headers["ETag"] != headers["ETag"] and new_headers["Last-Modified"] != modified
    assert request(server.base_url + "/a.html", **{"If-Modified-Since": modified})[0] == 200


def test_conditional_false_sends_no_validators_and_never_304(tiny_site):
    server, _ = tiny_site
    status, headers, _ = request(server.base_url + "/b.html", **{"If-None-Match": "*"})
    assert status == 200
    assert "ETag" not in headers and "Last-Modified" not in headers
    later = email.utils.formatdate(time.time(), usegmt=True)
    assert request(server.base_url + "/b.html", **{"If-Modified-Since": later})[0] == 200


def test_error_answers_carry_no_validators(tiny_site):
    server, _ = tiny_site
    status, headers, _ = request(server.base_url + "/missing.html", **{"If-None-Match": "*"})
    assert status == 404 and "ETag" not in headers
    status, headers, _ = request(server.base_url + "/e.html", **{"If-None-Match": "*"})
    assert status == 500 and "ETag" not in headers and "Last-Modified" not in headers


def test_headers_file_headers_and_a_pinned_etag(tiny_site):
    server, _ = tiny_site
    status, headers, _ = request(server.base_url + "/d.html")
    assert status == 200 and headers.get_all("ETag") == ['"pinned"']
    assert request(server.base_url + "/d.html", **{"If-None-Match": '"pinned"'})[0] == 304


def test_a_sequence_of_answers_then_the_normal_one(tiny_site):
    server, _ = tiny_site
    url = server.base_url + "/c.html"
    status, headers, body = request(url)
    assert (status, headers["Retry-After"], headers["X-Fixture"], headers["Cache-Control"]) == (503, "2", "c", "max-age=60")
    assert b"503" in body and "ETag" not in headers
    status, headers, _ = request(url + "?again=1")  # the query string does not make it another path
    assert (status, headers["Retry-After"], headers["X-Fixture"]) == (429, "1", "throttled")
    for _ in range(2):
        status, headers, body = request(url)
        assert status == 200 and body == b"<html><body><p>Page C</p></body></html>\n"
        assert "Retry-After" not in headers and headers["X-Fixture"] == "c" and headers["ETag"]


def test_the_request_log_has_arrival_time_and_status(tiny_site):
    server, _ = tiny_site
    before = time.monotonic()
    request(server.base_url + "/c.html")
    request(server.base_url + "/c.html")
    request(server.base_url + "/c.html")
    request(server.base_url + "/nowhere.html")
    _, headers, _ = request(server.base_url + "/a.html")
    request(server.base_url + "/a.html", **{"If-None-Match": headers["ETag"]})
    request(server.base_url + "/a.html", method="HEAD")
    after = time.monotonic()
    log = server.requests.snapshot()
    assert [(r["method"], r["path"], r["status"]) for r in log] == [
        ("GET", "/c.html", 503), ("GET", "/c.html", 429), ("GET", "/c.html", 200), ("GET", "/nowhere.html", 404),
        ("GET", "/a.html", 200), ("GET", "/a.html", 304), ("HEAD", "/a.html", 200)]
    times = [r["time"] for r in log]
    assert before <= times[0] and times == sorted(times) and times[-1] <= after
    assert log[5]["headers"]["If-None-Match"] == headers["ETag"]
