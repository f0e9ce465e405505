"""Output options of the crawl: gzip-compressed JSON Lines, numbered batch files, loading with DuckDB;
and the durable files behind them."""

from __future__ import annotations

import gzip
import json
import subprocess

import pytest

from conftest import BIN, GOLD, LOCAL_CRAWL, REPO, read_jsonl
from crawler.output import GzipMemberFile, RecordWriter
from pipelines.schema import RECORD_FIELDS


@pytest.fixture(scope="module")
def gzip_batches(fixture_site, tmp_path_factory):
    """`-O 'records-%(batch_id)02d.jsonl.gz' -s FEED_EXPORT_BATCH_ITEM_COUNT=20`: the format comes from `.jsonl`."""
    folder = tmp_path_factory.mktemp("gzip-batches")
    command = [str(BIN / "scrapy"), "crawl", "nizkor", "-a", f"start_url={fixture_site.base_url}/nizkor/",
               "-O", str(folder / "records-%(batch_id)02d.jsonl.gz"), "-s", "FEED_EXPORT_BATCH_ITEM_COUNT=20", "-s", f"CRAWL_STATE={folder / 'state'}",
               *LOCAL_CRAWL, "-s", "LOG_LEVEL=INFO"]
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
    return {"result": result, "files": sorted(folder.glob("records-*.jsonl.gz"))}


def test_crawl_writes_gzip_batches_of_the_set_size(gzip_batches):
    assert gzip_batches["result"].returncode == 0, gzip_batches["result"].stderr[-3000:]
    files = gzip_batches["files"]
    total = len(read_jsonl(GOLD))
    expected = [20] * (total // 20) + ([total % 20] if total % 20 else [])
    assert [f.name for f in files] == [f"records-{n:02d}.jsonl.gz" for n in range(1, len(expected) + 1)]
    counts = []
    for path in files:
        assert subprocess.run(["gzip", "-t", str(path)]).returncode == 0, path
        with gzip.open(path, "rt", encoding="utf-8") as lines:
            records = [json.loads(line) for line in lines]
        assert all(list(r) == list(RECORD_FIELDS) for r in records)
        counts.append(len(records))
    assert counts == expected


def test_gzip_batches_hold_the_same_records_as_a_plain_crawl(gzip_batches, warc_crawl):
    records = []
    for path in gzip_batches["files"]:
        records += [json.loads(line) for line in gzip.decompress(path.read_bytes()).decode("utf-8").splitlines()]
    assert sorted(r["content_sha256"] for r in records) == sorted(r["content_sha256"] for r in warc_crawl["records"])


def test_duckdb_loads_the_crawl_output(warc_crawl, gzip_batches):
    """The README's typed DuckDB recipe, as a reader would copy it, over the crawl's gzip batch files and
    its plain output: every schema field (revision included) with its named type; dates stay text."""
    import duckdb

    records = warc_crawl["records"]
    view, summary, latest = [s.strip() for s in readme_sql().split(";\n") if s.strip()]
    for source in (str(gzip_batches["files"][0].parent / "records-*.jsonl.gz"), str(warc_crawl["output"])):
        con = duckdb.connect()
        con.execute(view.replace("out/records-*.jsonl.gz", source))
        types = dict(con.sql("SELECT column_name, column_type FROM (DESCRIBE records)").fetchall())
        assert list(types) == list(RECORD_FIELDS)
        assert (types["revision"], types["fetched_at"]) == ("BIGINT", "TIMESTAMP WITH TIME ZONE")
        assert types["source"].startswith("STRUCT(")
        assert con.sql(summary).fetchall() == [
            (language, sum(1 for r in records if r["language"] == language),
             sum(1 for r in records if r["language"] == language and r["source"] and r["source"]["date"]))
            for language in ("en", "es")
        ]
        typed = con.sql("SELECT typeof(document_date), typeof(source.date), typeof(fetched_at), typeof(revision) FROM records")
        assert typed.fetchall()[0] == ("VARCHAR", "VARCHAR", "TIMESTAMP WITH TIME ZONE", "BIGINT")
        assert [row[:3] for row in con.sql(latest).fetchall()] == sorted(
            (r["canonical_url"], r["revision"], r["document_date"]) for r in records
            if (r["document_date"] or "").startswith("1998"))


def readme_sql() -> str:
    """The README's DuckDB recipe for JSON Lines (the block that creates the view ``records``)."""
    section = (REPO / "README.md").read_text(encoding="utf-8").split("## Archive outputs", 1)[1]
    blocks = [b.split("```", 1)[0] for b in section.split("```sql\n")[1:]]
    return next(b for b in blocks if "CREATE VIEW records" in b)


def test_gzip_member_file_is_valid_gzip_after_every_write(tmp_path):
    path = tmp_path / "x.jsonl.gz"
    with GzipMemberFile(path) as out:
        assert gzip.decompress(path.read_bytes()) == b""  # a new file is already valid gzip
        for n in range(3):
            out.write(f'{{"n": {n}}}\n'.encode())
            assert gzip.decompress(path.read_bytes()).decode().splitlines()[-1] == f'{{"n": {n}}}'
    with GzipMemberFile(path, "ab") as out:  # -o appends members to an existing file
        out.write(b'{"n": 3}\n')
    assert gzip.decompress(path.read_bytes()).count(b"\n") == 4


def test_record_writer_batches_need_a_placeholder(tmp_path):
    with pytest.raises(ValueError, match="batch_id"):
        RecordWriter(tmp_path / "x.jsonl", batch_size=5)


def test_record_writer_writes_an_empty_first_file_when_there_is_nothing(tmp_path):
    with RecordWriter(tmp_path / "x-%(batch_id)d.jsonl.gz", batch_size=5) as writer:
        pass
    assert writer.paths == [tmp_path / "x-1.jsonl.gz"]
    assert gzip.decompress(writer.paths[0].read_bytes()) == b""
