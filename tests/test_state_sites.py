"""State per site (issue 12): the default state folder and the learned boilerplate model belong to the
site (scheme, host and port of the start URL, host aliases folded); two sites never resume, re-fetch
or learn from each other; a state folder given for the wrong site is refused."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest

from conftest import BIN, LOCAL_CRAWL, REPO, SITE, SITE_HEADERS, read_jsonl
from crawler.state import site_origin, site_slug
from pipelines.profiles import load_profile


def crawl(start: str, cwd, output, *extra: str, wait: bool = True):
    """The contract command run from ``cwd`` (so that the default state folder is under it)."""
    command = [str(BIN / "scrapy"), "crawl", "nizkor", "-a", f"start_url={start}", "-O", str(output),
               *LOCAL_CRAWL, *extra]
    env = {**os.environ, "SCRAPY_SETTINGS_MODULE": "crawler.settings", "PYTHONPATH": str(REPO)}
    if not wait:
        return subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_site_origin_folds_aliases_and_keeps_ports():
    derechos = load_profile("derechos.org")
    assert site_origin("https://www.derechos.org/nizkor/", derechos) == site_origin("http://derechos.org/", derechos)
    generic = load_profile("generic")
    assert site_origin("http://127.0.0.1:8080/a/", generic) != site_origin("http://127.0.0.1:8081/a/", generic)
    assert site_origin("http://127.0.0.1:8080/a/", generic) == "http://127.0.0.1:8080"


def test_two_sites_on_one_host_never_share_state(tmp_path, gold):
    from fixtures.server import running_server

    with running_server(SITE, SITE_HEADERS) as first, running_server(SITE, SITE_HEADERS) as second:
        a = crawl(f"{first.base_url}/nizkor/", tmp_path, tmp_path / "a.jsonl")
        assert a.returncode == 0, a.stderr[-2000:]
        started = len(second.requests)
        b = crawl(f"{second.base_url}/nizkor/", tmp_path, tmp_path / "b.jsonl")
        assert b.returncode == 0, b.stderr[-2000:]
        asked = list(second.requests)[started:]
    generic = load_profile("generic")
    folders = {p.name for p in (tmp_path / "state" / "nizkor").iterdir()}
    assert folders == {site_slug(site_origin(s.base_url + "/", generic)) for s in (first, second)}
    # The second site is crawled as new: everything fetched, nothing asked conditionally, every record.
    assert not [r for r in asked if {"if-none-match", "if-modified-since"} & {k.lower() for k in r["headers"]}]
    assert len(read_jsonl(tmp_path / "b.jsonl")) == len(gold)
    assert "Boilerplate model of" not in b.stderr  # nothing learned from the other site


def test_a_killed_crawl_of_one_site_is_not_resumed_by_another(tmp_path, gold):
    from fixtures.server import running_server

    with running_server(SITE, SITE_HEADERS) as first, running_server(SITE, SITE_HEADERS) as second:
        process = crawl(f"{first.base_url}/nizkor/", tmp_path, tmp_path / "a.jsonl", "-s", "DOWNLOAD_DELAY=0.1",
                        "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=1", wait=False)
        deadline = time.monotonic() + 120
        while len(first.requests) < 10 and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.02)
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        b = crawl(f"{second.base_url}/nizkor/", tmp_path, tmp_path / "b.jsonl")
        assert b.returncode == 0, b.stderr[-2000:]
        assert "Resuming crawl" not in b.stderr
        again = crawl(f"{first.base_url}/nizkor/", tmp_path, tmp_path / "a2.jsonl")
        assert again.returncode == 0 and "Resuming crawl" in again.stderr


def test_a_state_folder_of_another_site_is_refused(tmp_path):
    from fixtures.server import running_server

    state = tmp_path / "state-a"
    with running_server(SITE, SITE_HEADERS) as first, running_server(SITE, SITE_HEADERS) as second:
        assert crawl(f"{first.base_url}/nizkor/", tmp_path, tmp_path / "a.jsonl",
                     "-s", f"CRAWL_STATE={state}").returncode == 0
        started = len(second.requests)
        wrong = crawl(f"{second.base_url}/nizkor/", tmp_path, tmp_path / "b.jsonl", "-s", f"CRAWL_STATE={state}")
        assert len(second.requests) == started, "nothing is fetched for the wrong site"
    assert wrong.returncode == 1
    assert "belongs to the site" in wrong.stderr and "Traceback" not in wrong.stderr


@pytest.mark.parametrize("other", ["http://derechos.org/nizkor/", "https://www.derechos.org/"])
def test_host_aliases_are_one_site(tmp_path, other):
    from crawler.state import STATE_FILE, CrawlState

    derechos = load_profile("derechos.org")
    path = tmp_path / STATE_FILE
    state = CrawlState(path, site=site_origin("https://www.derechos.org/nizkor/", derechos))
    state.queue("https://www.derechos.org/a.html", "https://www.derechos.org/a.html")
    state.close()
    CrawlState(path, site=site_origin(other, derechos)).close()  # the same site: accepted
