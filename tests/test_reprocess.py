"""`archive-crawler reprocess`: the crawl's records re-made from its WARC files, without the network."""

from __future__ import annotations

import gzip
import json
import re
import subprocess
from datetime import datetime, timedelta

import pytest

from conftest import BIN, GOLD, REPO, read_jsonl
from pipelines.schema import RECORD_FIELDS


def reprocess(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "archive-crawler"), "reprocess", *map(str, args)],
                          cwd=REPO, capture_output=True, text=True, timeout=timeout)


def without_fetched_at(line: str) -> str:
    return re.sub(r'"fetched_at": "[^"]*"', '"fetched_at": null', line)


@pytest.fixture(scope="module")
def reprocessed(warc_crawl, fixture_site, tmp_path_factory):
    output = tmp_path_factory.mktemp("reprocess") / "records.jsonl"
    served_before = len(fixture_site.requests)
    result = reprocess(*warc_crawl["warc_files"], "-o", output)
    return {"result": result, "output": output, "records": read_jsonl(output) if output.exists() else [],
            "requests_while_reprocessing": len(fixture_site.requests) - served_before}


def test_reprocess_does_not_fetch_anything(reprocessed):
    # The captured URLs point at the fixture server, which is still up: nothing asked it for a page.
    assert reprocessed["requests_while_reprocessing"] == 0


def test_reprocess_exits_cleanly_and_reports(reprocessed, warc_crawl):
    result = reprocessed["result"]
    assert result.returncode == 0, result.stderr
    assert f"{len(warc_crawl['records'])} records written" in result.stderr


def by_url(records: list[dict]) -> list[dict]:
    """Records come out of the worker pool in any order: compared page by page."""
    return sorted(records, key=lambda r: r["canonical_url"])


def test_reprocess_reproduces_the_crawl_records_except_fetched_at(reprocessed, warc_crawl):
    crawled, remade = by_url(warc_crawl["records"]), by_url(reprocessed["records"])
    assert len(crawled) == len(read_jsonl(GOLD))
    assert [r["canonical_url"] for r in remade] == [r["canonical_url"] for r in crawled]
    for old, new in zip(crawled, remade):
        assert list(new) == list(RECORD_FIELDS)
        for field in RECORD_FIELDS:
            if field != "fetched_at":
                assert new[field] == old[field], (old["url"], field)
    # Byte for byte, once fetched_at is set aside: same JSON serialisation as the crawl's feed.
    crawled_lines = warc_crawl["output"].read_text(encoding="utf-8").splitlines()
    remade_lines = reprocessed["output"].read_text(encoding="utf-8").splitlines()
    assert sorted(map(without_fetched_at, remade_lines)) == sorted(map(without_fetched_at, crawled_lines))


def test_fetched_at_is_the_capture_date(reprocessed, warc_crawl):
    for old, new in zip(by_url(warc_crawl["records"]), by_url(reprocessed["records"])):
        crawled_at = datetime.fromisoformat(old["fetched_at"].replace("Z", "+00:00"))
        captured_at = datetime.fromisoformat(new["fetched_at"].replace("Z", "+00:00"))
        assert new["fetched_at"].endswith("Z")
        assert abs(crawled_at - captured_at) < timedelta(seconds=5)


def test_reprocess_counts_what_the_crawl_counted(reprocessed, warc_crawl):
    stats = warc_crawl["stats"]
    line = reprocessed["result"].stderr
    assert f"{stats['archive/pages/fetched']} pages read" in line
    for reason in ("listing_page", "empty", "binary", "no_text"):
        assert f"{reason} {stats[f'archive/skipped/{reason}']}" in line, reason


def test_gzip_and_batches(warc_crawl, tmp_path):
    template = tmp_path / "out" / "records-%(batch_id)03d.jsonl.gz"
    result = reprocess(*warc_crawl["warc_files"], "-o", template, "--batch-size", "20")
    assert result.returncode == 0, result.stderr
    files = sorted((tmp_path / "out").iterdir())
    total = len(warc_crawl["records"])
    expected = [20] * (total // 20) + ([total % 20] if total % 20 else [])
    assert [f.name for f in files] == [f"records-{n:03d}.jsonl.gz" for n in range(1, len(expected) + 1)]
    batches = [[json.loads(line) for line in gzip.decompress(f.read_bytes()).decode().splitlines()] for f in files]
    assert [len(b) for b in batches] == expected
    joined = [r["content_sha256"] for batch in batches for r in batch]
    assert sorted(joined) == sorted(r["content_sha256"] for r in warc_crawl["records"])


def test_plain_gzip_output(warc_crawl, tmp_path):
    output = tmp_path / "records.jsonl.gz"
    result = reprocess(*warc_crawl["warc_files"], "-o", output)
    assert result.returncode == 0, result.stderr
    with gzip.open(output, "rt", encoding="utf-8") as lines:
        assert sum(1 for _ in lines) == len(warc_crawl["records"])
    assert subprocess.run(["gzip", "-t", str(output)]).returncode == 0


def test_batch_size_needs_a_batch_placeholder(warc_crawl, tmp_path):
    result = reprocess(*warc_crawl["warc_files"], "-o", tmp_path / "records.jsonl", "--batch-size", "10")
    assert result.returncode == 2
    assert "%(batch_id)d" in result.stderr
    assert not (tmp_path / "records.jsonl").exists()


def test_site_profile_comes_from_warcinfo_not_the_host(warc_crawl, gold):
    """The fixture host 127.0.0.1 would pick the generic profile; warcinfo names derechos.org."""
    from crawler.reprocess import records_from_warcs

    records = list(records_from_warcs(warc_crawl["warc_files"]))
    assert {r["site"] for r in records} == {"derechos.org"}
    assert len(records) == len(gold)


def test_a_damaged_file_gives_exit_1_and_keeps_what_could_be_read(warc_crawl, tmp_path):
    """A file cut inside a record (a copy gone wrong, a full disk) is reported, not silently shortened."""
    from warcio.archiveiterator import ArchiveIterator

    first = warc_crawl["warc_files"][0]
    with open(first, "rb") as stream:
        iterator = ArchiveIterator(stream)
        starts = [iterator.get_record_offset() for record in iterator if record.rec_type == "response"]
    damaged = tmp_path / "damaged.warc.gz"
    damaged.write_bytes(first.read_bytes()[: starts[4] + 200])  # cut 200 bytes into the fifth response
    output = tmp_path / "records.jsonl"
    result = reprocess(damaged, *warc_crawl["warc_files"][1:], "-o", output)
    assert result.returncode == 1
    assert "damaged.warc.gz" in result.stderr
    assert 0 < len(read_jsonl(output)) < len(warc_crawl["records"])


def test_missing_file_is_a_usage_error(tmp_path):
    result = reprocess(tmp_path / "nope.warc.gz", "-o", tmp_path / "x.jsonl")
    assert result.returncode == 2
    assert "no such WARC file" in result.stderr
