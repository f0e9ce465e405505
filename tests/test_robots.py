"""robots.txt cannot be bypassed (crawler/robots.py), through real servers on 127.0.0.1."""

from __future__ import annotations

import json
import subprocess

import pytest

from conftest import BIN, REPO, SITE, SITE_HEADERS

SPIDER = REPO / "tests" / "data" / "many_at_once.py"
ALLOWED = [f"/nizkor/espana/doc/{name}" for name in ("index.html",)] + ["/nizkor/index.html", "/index.html"]
DISALLOWED = ["/nizkor/privado/secreto1.html", "/nizkor/privado/", "/nizkor/privado/otro.html"]
QUIET = ["-s", "ITEM_PIPELINES={}", "-s", "REPORT_ENABLED=False", "-s", "DOWNLOAD_DELAY=0",
         "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=8", "-s", "RETRY_TIMES=1",
         "-s", "CRAWL_STATE="]


def many_at_once(base_url: str, paths: list[str], tmp_path, *settings: str, middleware: str | None = None):
    """Every path requested at once, before robots.txt is read; returns the finished process."""
    extra = []
    if middleware is not None:  # another robots.txt middleware in place of the project's
        extra = ["-s", "DOWNLOADER_MIDDLEWARES=" + json.dumps({"crawler.robots.RobotsTxtMiddleware": None,
                                                              middleware: 100})]
    command = [str(BIN / "scrapy"), "runspider", str(SPIDER), "-a", f"base={base_url}", "-a",
               f"paths={','.join(paths)}", *QUIET, *extra, *settings]
    return subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=120,
                          env={"PATH": str(BIN), "SCRAPY_SETTINGS_MODULE": "crawler.settings", "PYTHONPATH": str(REPO)})


def served(site) -> list[str]:
    return [entry["path"] for entry in site.requests]


def test_no_request_before_robots_txt_whatever_the_number_of_waiters(tmp_path):
    from fixtures.server import running_server

    with running_server(SITE, SITE_HEADERS) as site:
        result = many_at_once(site.base_url, ALLOWED + DISALLOWED + ALLOWED * 3, tmp_path)
        paths = served(site)
    assert result.returncode == 0, result.stderr[-2000:]
    assert paths[0] == "/robots.txt" and paths.count("/robots.txt") == 1
    assert not [p for p in paths if p.startswith("/nizkor/privado/")], paths
    assert set(ALLOWED) <= set(paths)
    assert "Traceback" not in result.stderr


def test_the_upstream_middleware_lets_waiters_through(tmp_path):
    """The reproduction of the upstream bug the project works around (README, known issues):
    when it no longer reproduces, Scrapy has fixed it and crawler/robots.py can shrink."""
    from fixtures.server import running_server

    with running_server(SITE, SITE_HEADERS) as site:
        many_at_once(site.base_url, ALLOWED + DISALLOWED, tmp_path,
                     middleware="scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware")
        paths = served(site)
    assert [p for p in paths if p.startswith("/nizkor/privado/")], paths


@pytest.mark.parametrize(("status", "requested"), [(500, False), (503, False), (429, False), (404, True),
                                                    (403, True)])
def test_robots_txt_status_rfc_9309(tmp_path, status, requested):
    """5xx and 429: unreachable, the whole host is disallowed; other 4xx: no rules, allow all."""
    from fixtures.server import running_server

    headers = json.loads(SITE_HEADERS.read_text())
    headers["/robots.txt"] = {"status": status}
    headers_file = tmp_path / "headers.json"
    headers_file.write_text(json.dumps(headers))
    with running_server(SITE, headers_file) as site:
        result = many_at_once(site.base_url, ALLOWED, tmp_path)
        pages = [p for p in served(site) if p != "/robots.txt"]
    assert result.returncode in (0, 1), result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    if requested:
        assert set(ALLOWED) <= set(pages)
    else:
        assert pages == []
        assert "unreachable" in result.stderr
        relaxed = many_at_once(site.base_url, ALLOWED, tmp_path, "-s", "ROBOTSTXT_UNREACHABLE_ALLOW=True")
        assert "crawling it anyway" in relaxed.stderr


def test_robots_txt_that_does_not_answer_disallows_the_host(tmp_path):
    """A robots.txt that times out is unreachable too: nothing else on the host is requested."""
    import socket
    import threading

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    port = listener.getsockname()[1]
    seen: list[bytes] = []
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            connection.settimeout(5)
            try:
                seen.append(connection.recv(4096).split(b"\r\n", 1)[0])
            except OSError:
                pass
            held.append(connection)  # never answered

    threading.Thread(target=accept, daemon=True).start()
    try:
        result = many_at_once(f"http://127.0.0.1:{port}", ALLOWED, tmp_path, "-s", "DOWNLOAD_TIMEOUT=2",
                              "-s", "RETRY_TIMES=0")
    finally:
        listener.close()
        for connection in held:
            connection.close()
    assert seen and all(line.startswith(b"GET /robots.txt ") for line in seen), seen
    assert "unreachable" in result.stderr and "Traceback" not in result.stderr
