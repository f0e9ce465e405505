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
