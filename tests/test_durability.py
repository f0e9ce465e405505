"""A crawl killed with SIGKILL leaves only complete JSON lines in its -O output."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

from conftest import BIN, REPO
from pipelines.schema import RECORD_FIELDS


def test_sigkill_mid_crawl_leaves_only_complete_lines(fixture_site, tmp_path):
    output = tmp_path / "part.jsonl"
    # Slow enough (one page every 0.2 s) that the kill lands while records are still being written.
    command = [str(BIN / "scrapy"), "crawl", "nizkor", "-a", f"start_url={fixture_site.base_url}/nizkor/",
               "-O", str(output), "-s", f"CRAWL_STATE={tmp_path / 'state'}", "-s", "DOWNLOAD_DELAY=0.2", "-s", "AUTOTHROTTLE_ENABLED=False",
               "-s", "DOWNLOAD_DELAY_JITTER=0", "-s", "LOG_LEVEL=WARNING"]
    crawl = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and crawl.poll() is None:
            if output.exists() and output.read_bytes().count(b"\n") >= 5:
                break
            time.sleep(0.05)
        assert crawl.poll() is None, "the crawl ended before it could be killed"
        os.kill(crawl.pid, signal.SIGKILL)
    finally:
        crawl.kill()
        crawl.wait()
    data = output.read_bytes()
    assert data.count(b"\n") >= 5, "records written before the kill were lost"
    assert data.endswith(b"\n"), "the last line is partial"
    for line in data.decode("utf-8").splitlines():
        record = json.loads(line)
        assert list(record) == list(RECORD_FIELDS)
        assert record["text"]
