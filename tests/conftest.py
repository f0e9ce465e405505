from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
# ../shared beside the repository: facts and data for developers; tests using it skip without it.
SHARED = Path(os.environ.get("ARCHIVE_CRAWLER_SHARED", REPO.parent / "shared"))
BIN = Path(sys.executable).parent
SITE = REPO / "fixtures" / "derechos"
SITE_HEADERS = REPO / "fixtures" / "derechos-headers.json"
GOLD = REPO / "fixtures" / "derechos.gold.jsonl"
REAL_SITE = "https://www.derechos.org"
LOCAL_CRAWL = ["-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=8"]

if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="session")
def gold() -> dict[str, dict]:
    """Gold records of the mock archive, keyed by URL path."""
    records = read_jsonl(GOLD)
    return {record["url"].removeprefix(REAL_SITE): record for record in records}


@pytest.fixture(scope="session")
def fixture_site():
    from fixtures.server import running_server

    with running_server(SITE, headers_file=SITE_HEADERS) as server:
        yield server


def shared_path(*parts: str) -> Path:
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is not on this machine (../shared holds developer data)")
    return path


# Small enough that the fixture crawl (about 140 kB of WARC) fills several files.
WARC_TEST_SIZE = 40_000


@pytest.fixture(scope="session")
def warc_crawl(fixture_site, tmp_path_factory):
    """The fixture site crawled once with WARC capture on (small WARC_MAX_SIZE: several files)."""
    import subprocess

    from test_crawl import final_stats

    folder = tmp_path_factory.mktemp("warc-crawl")
    output, log_file, warc_dir = folder / "records.jsonl", folder / "crawl.log", folder / "warc"
    started = len(fixture_site.requests)
    command = [str(BIN / "scrapy"), "crawl", "nizkor", "-a", f"start_url={fixture_site.base_url}/nizkor/",
               "-O", str(output), *LOCAL_CRAWL, "-s", f"CRAWL_STATE={folder / 'state'}", "-s", f"WARC_DIR={warc_dir}", "-s", f"WARC_MAX_SIZE={WARC_TEST_SIZE}",
               "-s", f"LOG_FILE={log_file}", "-s", "LOG_LEVEL=INFO"]
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    log_text = log_file.read_text(encoding="utf-8")
    return {
        "folder": folder,
        "output": output,
        "records": read_jsonl(output),
        "warc_dir": warc_dir,
        "warc_files": sorted(warc_dir.glob("*.warc.gz")),
        "stats": final_stats(log_text),
        "requests": list(fixture_site.requests)[started:],
        "base_url": fixture_site.base_url,
    }

