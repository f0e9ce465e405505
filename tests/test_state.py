"""Crawl state (issue 5): re-crawls fetch only what changed, and a killed crawl resumes with every
record written exactly once across its outputs."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from conftest import BIN, LOCAL_CRAWL, REPO, SITE, SITE_HEADERS, read_jsonl


def crawl_command(base_url: str, output: Path, state: Path, *extra: str) -> list[str]:
    return [str(BIN / "scrapy"), "crawl", "nizkor", "-a", f"start_url={base_url}/nizkor/", "-O", str(output),
            "-s", f"CRAWL_STATE={state}", "-s", "LOG_LEVEL=INFO", *extra]


def crawl(base_url: str, output: Path, state: Path, *extra: str) -> tuple[list[dict], str]:
    result = subprocess.run(crawl_command(base_url, output, state, *LOCAL_CRAWL, *extra), cwd=REPO,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return read_jsonl(output), result.stderr


@pytest.fixture
def own_site(tmp_path):
    """A copy of the mock archive that a test may change, served on its own port."""
    from fixtures.server import running_server

    root = tmp_path / "site"
    shutil.copytree(SITE, root)
    with running_server(root, headers_file=SITE_HEADERS) as server:
        server.root = root
        yield server


def test_killed_crawls_resume_with_every_record_exactly_once(fixture_site, gold, tmp_path):
    """SIGKILL at several moments; the same command again each time; the parts hold the whole crawl."""
    state, output = tmp_path / "state", tmp_path / "part.jsonl"
    # Slow enough that each kill lands mid-crawl; kills after 3, 12 and 25 more lines.
    command = crawl_command(fixture_site.base_url, output, state, "-s", "DOWNLOAD_DELAY=0.15",
                            "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "DOWNLOAD_DELAY_JITTER=0")
    parts = []
    # Kill once the server has answered this many more requests: during the learning warm-up (no
    # record out yet), then twice while records stream out.
    for kill_after in (8, 30, 30, None):
        started = len(fixture_site.requests)
        process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            if kill_after is None:
                assert process.wait(timeout=300) == 0
            else:
                deadline = time.monotonic() + 120
                while time.monotonic() < deadline and process.poll() is None:
                    if len(fixture_site.requests) - started >= kill_after:
                        break
                    time.sleep(0.01)
                assert process.poll() is None, "the crawl ended before it could be killed"
                os.kill(process.pid, signal.SIGKILL)
        finally:
            process.kill()
            process.wait()
        kept = tmp_path / f"part{len(parts)}.jsonl"
        kept.write_bytes(output.read_bytes() if output.exists() else b"")
        parts.append(kept)
    data = b"".join(p.read_bytes() for p in parts)
    assert data.endswith(b"\n")
    records = [json.loads(line) for line in data.decode("utf-8").splitlines()]
    paths = Counter(urlsplit(r["url"]).path for r in records)
    assert sorted(paths) == sorted(gold), "a record was lost"
    assert set(paths.values()) == {1}, f"written twice: {[p for p, n in paths.items() if n > 1]}"
    assert {r["revision"] for r in records} == {1}
    assert sum(1 for p in parts[:-1] if read_jsonl(p)) >= 2, "kills landed while records were being written"


def _conditional(request: dict) -> bool:
    headers = {k.lower() for k in request["headers"]}
    return "if-none-match" in headers or "if-modified-since" in headers


def test_a_second_crawl_of_an_unchanged_site_emits_nothing_and_asks_conditionally(own_site, tmp_path, gold):
    state = tmp_path / "state"
    first, _ = crawl(own_site.base_url, tmp_path / "first.jsonl", state)
    assert len(first) == len(gold)
    started = len(own_site.requests)
    second, _ = crawl(own_site.base_url, tmp_path / "second.jsonl", state)
    assert second == []
    requests = list(own_site.requests)[started:]
    article_requests = [r for r in requests if urlsplit(r["path"]).path in gold]
    assert len({urlsplit(r["path"]).path for r in article_requests}) == len(gold), "every known page re-checked"
    assert all(_conditional(r) for r in article_requests)
    assert {r["status"] for r in article_requests} == {304}


def _change_body(path: Path, old: str, new: str) -> None:
    data = path.read_bytes()
    assert old.encode() in data, path
    path.write_bytes(data.replace(old.encode(), new.encode(), 1))


def test_three_changed_pages_come_back_with_revision_2(own_site, tmp_path, gold):
    state = tmp_path / "state"
    crawl(own_site.base_url, tmp_path / "first.jsonl", state)
    changed = ["/nizkor/espana/doc/cyberthreat2.html", "/peace/libya/doc/lby518.html", "/nizkor/doc/hrw4.html"]
    for path in changed:
        first_line = gold[path]["text"].split("\n")[-1]
        word = next(w for w in first_line.split() if w.isascii() and w.isalpha() and len(w) > 5)
        _change_body(own_site.root / path.lstrip("/"), word, word + " (corrected)")
    second, _ = crawl(own_site.base_url, tmp_path / "second.jsonl", state)
    assert sorted(urlsplit(r["url"]).path for r in second) == sorted(changed)
    assert {r["revision"] for r in second} == {2}
    assert all("(corrected)" in r["text"] for r in second)
    third, _ = crawl(own_site.base_url, tmp_path / "third.jsonl", state)
    assert third == []


def test_a_page_gone_is_reported(own_site, tmp_path, gold):
    state = tmp_path / "state"
    crawl(own_site.base_url, tmp_path / "first.jsonl", state)
    (own_site.root / "nizkor/doc/hrw4.html").unlink()
    second, log = crawl(own_site.base_url, tmp_path / "second.jsonl", state)
    assert second == []
    assert "Gone (404): " in log and "/nizkor/doc/hrw4.html" in log
    report = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert report["skipped"]["http_error"].get("404", 0) >= 2  # the page gone and the fixture's broken link
    assert report["pages"]["gone"] >= 2


def _reprocess(warc_dir: Path, output: Path, *extra: str) -> list[dict]:
    files = sorted(warc_dir.glob("*.warc.gz"))
    assert files, warc_dir
    result = subprocess.run([str(BIN / "archive-crawler"), "reprocess", *map(str, files), "-o", str(output), *extra],
                            cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return read_jsonl(output)


def _revisions(records: list[dict]) -> dict[str, tuple[int, str]]:
    return {r["canonical_url"]: (r["revision"], r["content_sha256"]) for r in records}


def test_reprocess_with_the_crawl_state_gives_the_crawls_revisions(own_site, tmp_path, gold):
    """The same chain in reprocess: a re-crawl's captures re-made against the crawl state give that
    crawl's records and revisions, the first crawl's give its own; the state is only read."""
    state = tmp_path / "state"
    first, _ = crawl(own_site.base_url, tmp_path / "first.jsonl", state, "-s", f"WARC_DIR={tmp_path / 'warc1'}")
    changed = ["/nizkor/espana/doc/cyberthreat2.html", "/nizkor/doc/hrw4.html"]
    for path in changed:
        last_line = gold[path]["text"].split("\n")[-1]
        word = next(w for w in last_line.split() if w.isascii() and w.isalpha() and len(w) > 5)
        _change_body(own_site.root / path.lstrip("/"), word, word + " (revised)")
    second, _ = crawl(own_site.base_url, tmp_path / "second.jsonl", state, "-s", f"WARC_DIR={tmp_path / 'warc2'}")
    assert sorted(urlsplit(r["url"]).path for r in second) == sorted(changed)
    database = state / "state.sqlite3"
    before = database.read_bytes()

    remade_second = _reprocess(tmp_path / "warc2", tmp_path / "re2.jsonl", "--state", str(state))
    assert _revisions(remade_second) == _revisions(second)
    assert {r["revision"] for r in remade_second} == {2}
    remade_first = _reprocess(tmp_path / "warc1", tmp_path / "re1.jsonl", "--state", str(state))
    assert _revisions(remade_first) == _revisions(first)
    assert database.read_bytes() == before, "reprocess changed the crawl state"
    # Without the state every page is new: a first crawl's view of the same captures.
    alone = _reprocess(tmp_path / "warc2", tmp_path / "alone.jsonl")
    assert {r["revision"] for r in alone} == {1} and len(alone) == len(changed)
