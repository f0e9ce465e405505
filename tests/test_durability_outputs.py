"""A crawl killed with SIGKILL leaves a gzip output that is valid gzip with only complete lines, and
WARC files whose every record is complete and validates."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import time
import zlib

from conftest import BIN, REPO
from pipelines.schema import RECORD_FIELDS
from crawler.warc import read_responses


def complete_lines(data: bytes) -> int:
    """Lines in the complete gzip members of ``data`` (a member being written may be cut)."""
    count = 0
    while data:
        member = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            count += member.decompress(data).count(b"\n")
        except zlib.error:
            break
        if not member.eof:
            break
        data = member.unused_data
    return count


def test_sigkill_mid_crawl_leaves_valid_gzip_and_complete_warc_records(fixture_site, tmp_path):
    output, warc_dir = tmp_path / "part.jsonl.gz", tmp_path / "warc"
    # Slow enough (one page every 0.2 s) that the kill lands while records are still being written.
    command = [str(BIN / "scrapy"), "crawl", "nizkor", "-a", f"start_url={fixture_site.base_url}/nizkor/",
               "-O", str(output), "-s", f"WARC_DIR={warc_dir}", "-s", f"CRAWL_STATE={output.parent / 'state'}", "-s", "DOWNLOAD_DELAY=0.2",
               "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "DOWNLOAD_DELAY_JITTER=0", "-s", "LOG_LEVEL=WARNING"]
    crawl = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and crawl.poll() is None:
            if output.exists() and complete_lines(output.read_bytes()) >= 5:
                break
            time.sleep(0.05)
        assert crawl.poll() is None, "the crawl ended before it could be killed"
        os.kill(crawl.pid, signal.SIGKILL)
    finally:
        crawl.kill()
        crawl.wait()

    assert subprocess.run(["gzip", "-t", str(output)]).returncode == 0, "the gzip output is not valid gzip"
    data = gzip.decompress(output.read_bytes())
    assert data.count(b"\n") >= 5, "records written before the kill were lost"
    assert data.endswith(b"\n"), "the last line is partial"
    for line in data.decode("utf-8").splitlines():
        record = json.loads(line)
        assert list(record) == list(RECORD_FIELDS)
        assert record["text"]

    files = sorted(warc_dir.glob("*.warc.gz"))
    assert files
    responses = [response for path in files for response in read_responses(path)]  # raises on a cut record
    assert len(responses) >= 5
    check = subprocess.run([str(BIN / "warcio"), "check", *map(str, files)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
