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
