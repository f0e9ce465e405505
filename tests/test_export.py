"""Columnar forms of the record (issue 13, point 3): `archive-crawler export` to Parquet, and the Arrow
schema published beside the JSON Schema, generated from it.

The sample log (``sample_records``) has pages with several revisions and dates at every precision; the
question asked of every reader is "the latest revision of each page, documents of 1998", whose answer
``latest_of_1998`` computes in plain Python. ``tests/test_loading.py`` uses the same log."""

from __future__ import annotations

import gzip
import hashlib
import json
import subprocess

import pytest

from conftest import BIN, REPO
from crawler.cli import main as cli
from crawler.export import (
    ARROW_SCHEMA_PATH,
    arrow_schema_from_json,
    arrow_schema_json,
    date_paths,
    duckdb_columns,
    load_arrow_schema,
    parquet_arrow_schema,
    record_arrow_schema,
    spark_ddl,
)
from crawler.export import main as generator
from pipelines.schema import DATE_FIELDS, RECORD_FIELDS
from pipelines.validation import SCHEMA_PATH, record_errors

pa = pytest.importorskip("pyarrow", reason="pyarrow is a dependency of archive-crawler: pip install -e '.[test]'")
import pyarrow.parquet as pq  # noqa: E402

SCHEMA_ID = "https://github.com/archive-crawler/archive-crawler/schema/record-v1.json"

# -- The sample log -------------------------------------------------------------------------------


def make_record(page: str, revision: int, document_date: str | None, *, language: str = "en",
                with_dateline: bool = False) -> dict:
    """A valid schema-1 record of ``page``; its other dates follow ``document_date``."""
    text = f"Text of page {page}, revision {revision}.\nSecond paragraph."
    source = {"name": "EFE", "place": "Madrid", "date": document_date, "raw": f"[Source: EFE, Madrid, {document_date}]"}
    dateline = {"place": "Madrid", "date": None, "agency": "EFE", "raw": "MADRID (EFE)"}
    record = {
        "schema_version": "1",
        "url": f"https://www.example.org/news/{page}.html",
        "canonical_url": f"https://www.example.org/news/{page}.html",
        "site": "example.org",
        "title": f"Page {page}",
        "text": text,
        "language": language,
        "section": "Argentina" if revision % 2 else None,
        "document_date": document_date,
        "published_date": document_date[:7] if document_date and len(document_date) == 10 else None,
        "source": source if revision != 2 else None,
        "dateline": dateline if with_dateline or page.startswith("f") else None,
        "fetched_at": f"2026-11-{10 + revision:02d}T01:02:03Z",
        "content_sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
        "revision": revision,
    }
    assert record_errors(record) == [], record_errors(record)
    return record


# Pages whose revisions test the question: (page, [(revision, document_date), ...]).
EARLY = [  # full dates only, as in the first batch files of a crawl
    ("a", [(1, "1998-07-14")]),
    ("b", [(1, "1998-03-02")]),           # 1998 in revision 1 only: revision 3 is 1999
    ("c", [(1, "1997-12-31")]),           # revision 2 is 1998-07
    ("h", [(1, "1999-01-01")]),
    ("i", [(1, "1998-12-31")]),
    ("j", [(1, "1997-12-31")]),
    ("k", [(1, "1998-01-01")]),
]
LATE = [  # the later file: partial dates, null, later revisions
    ("a", [(2, "1998-07-14")]),
    ("b", [(2, "1999-02-01"), (3, "1999-02-01")]),
    ("c", [(2, "1998-07")]),
    ("d", [(1, "1998")]),
    ("e", [(1, "1998-07")]),
    ("f", [(1, None)]),
    ("g", [(1, "2000-07")]),
    ("l", [(1, "1998"), (2, "1999")]),    # year precision, then another year
    ("m", [(1, "1998-07"), (2, "1998")]),
]


def sample_log() -> tuple[list[dict], list[dict]]:
    """(early records, late records): early ones with full dates only, filler pages included."""
    early = []
    for n in range(180):  # filler: single-revision pages, full dates in 1996-1999
        early.append(make_record(f"n{n:03d}", 1, f"{1996 + n % 4}-{1 + n % 12:02d}-{1 + n % 28:02d}",
                                 language="es" if n % 3 else "en", with_dateline=n % 4 == 0))
    early += [make_record(page, rev, day) for page, revisions in EARLY for rev, day in revisions]
    late = [make_record(page, rev, day) for page, revisions in LATE for rev, day in revisions]
    return early, late


def sample_records() -> list[dict]:
    early, late = sample_log()
    return early + late


def latest_of_1998(records: list[dict]) -> list[tuple[str, int, str]]:
    """(canonical_url, revision, document_date) of each page's latest record dated in 1998, by URL."""
    latest: dict[str, dict] = {}
    for record in records:
        if record["canonical_url"] not in latest or record["revision"] > latest[record["canonical_url"]]["revision"]:
            latest[record["canonical_url"]] = record
    return sorted((r["canonical_url"], r["revision"], r["document_date"]) for r in latest.values()
                  if (r["document_date"] or "").startswith("1998"))


def write_jsonl(path, records: list[dict]) -> None:
    data = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode("utf-8")
    path.write_bytes(gzip.compress(data) if path.name.endswith(".gz") else data)


def test_the_sample_question_has_traps():
    rows = latest_of_1998(sample_records())
    pages = {url.rsplit("/", 1)[1].removesuffix(".html"): (revision, day) for url, revision, day in rows}
    assert {p: pages[p] for p in "acdeikm"} == {
        "a": (2, "1998-07-14"), "c": (2, "1998-07"), "d": (1, "1998"), "e": (1, "1998-07"),
        "i": (1, "1998-12-31"), "k": (1, "1998-01-01"), "m": (2, "1998")}
    assert not set("bfghjl") & set(pages)  # b and l were 1998 in an older revision only


# -- The published Arrow schema -------------------------------------------------------------------


def test_the_schema_has_a_stable_id_that_the_readme_names():
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    assert schema["$id"] == SCHEMA_ID
    assert SCHEMA_ID in (REPO / "README.md").read_text(encoding="utf-8")
    assert record_arrow_schema().metadata[b"json_schema"] == SCHEMA_ID.encode()


def test_the_published_arrow_schema_is_the_generated_one():
    assert ARROW_SCHEMA_PATH == REPO / "schema" / "record-v1.arrow.json"
    assert ARROW_SCHEMA_PATH.read_text(encoding="utf-8") == arrow_schema_json(), (
        "schema/record-v1.arrow.json is stale: run .venv/bin/python -m crawler.export")
    result = subprocess.run([str(BIN / "python"), "-m", "crawler.export", "--check"], cwd=REPO,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_check_fails_on_a_stale_copy(tmp_path, monkeypatch, capsys):
    stale = tmp_path / "record-v1.arrow.json"
    stale.write_text(arrow_schema_json().replace('"revision", "nullable": false', '"revision", "nullable": true'))
    monkeypatch.setattr("crawler.export.ARROW_SCHEMA_PATH", stale)
    assert generator(["--check"]) == 1
    assert "run python -m crawler.export" in capsys.readouterr().err
    assert generator([]) == 0 and generator(["--check"]) == 0
    assert stale.read_text() == arrow_schema_json()


def test_the_published_file_reads_back_as_the_schema():
    loaded = load_arrow_schema()
    assert loaded.equals(record_arrow_schema(), check_metadata=True)
    assert arrow_schema_from_json(arrow_schema_json(parquet_arrow_schema())).equals(parquet_arrow_schema())


def test_the_arrow_schema_follows_the_json_schema():
    json_schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    schema = record_arrow_schema()
    assert schema.names == list(RECORD_FIELDS) == json_schema["required"]
    assert schema.field("revision").type == pa.int64()
    assert schema.field("fetched_at").type == pa.timestamp("us", tz="UTC")
    assert schema.field("document_date").type == pa.string()
    for name in ("source", "dateline"):
        struct = schema.field(name).type
        assert [struct.field(i).name for i in range(struct.num_fields)] == json_schema["properties"][name]["anyOf"][0]["required"]
        assert all(struct.field(i).type == pa.string() for i in range(struct.num_fields))
    assert tuple(dict.fromkeys(path[0] for path in date_paths())) == DATE_FIELDS
    assert date_paths() == (("document_date",), ("published_date",), ("source", "date"), ("dateline", "date"))
    # Non-nullable exactly where the JSON Schema refuses null.
    valid = make_record("a", 1, "1998")
    for arrow_field in schema:
        refuses_null = bool(record_errors({**valid, arrow_field.name: None}))
        assert arrow_field.nullable is not refuses_null, arrow_field.name


def test_duckdb_and_spark_spellings_name_every_field():
    assert list(duckdb_columns()) == list(RECORD_FIELDS)
    assert duckdb_columns()["revision"] == "BIGINT"
    assert duckdb_columns()["source"] == "STRUCT(name VARCHAR, place VARCHAR, date VARCHAR, raw VARCHAR)"
    top_level, depth, part = [], 0, ""
    for char in spark_ddl() + ",":
        depth += {"<": 1, ">": -1}.get(char, 0)
        if char == "," and depth == 0:
            top_level.append(part.strip())
            part = ""
        else:
            part += char
    assert [item.split(" ", 1)[0] for item in top_level] == list(RECORD_FIELDS)
    assert "source STRUCT<name: STRING, place: STRING, date: STRING, raw: STRING>" in top_level
    assert top_level[-3:] == ["fetched_at TIMESTAMP", "content_sha256 STRING", "revision BIGINT"]


# -- The export -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """The sample log as a plain file and a gzip batch file, exported by the real command."""
    folder = tmp_path_factory.mktemp("export")
    early, late = sample_log()
    write_jsonl(folder / "records-1.jsonl", early)
    write_jsonl(folder / "records-2.jsonl.gz", late)
    output = folder / "out" / "records.parquet"
    result = subprocess.run(
        [str(BIN / "archive-crawler"), "export", str(folder / "records-1.jsonl"), str(folder / "records-2.jsonl.gz"),
         "-o", str(output)], cwd=REPO, capture_output=True, text=True, timeout=120)
    return {"result": result, "output": output, "folder": folder, "records": early + late}


def test_export_writes_parquet_with_the_declared_schema(exported):
    result = exported["result"]
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == [
        f"archive-crawler: {len(exported['records'])} records from 2 file(s) written to {exported['output']}"]
    schema = pq.read_schema(exported["output"])
    assert schema.equals(parquet_arrow_schema(), check_metadata=True)
    assert schema.metadata[b"json_schema"] == SCHEMA_ID.encode()
    assert [p.name for p in exported["output"].parent.iterdir()] == ["records.parquet"]  # no temporary file left


def test_the_parquet_rows_are_the_records_with_their_companions(exported):
    rows = pq.read_table(exported["output"]).to_pylist()
    assert len(rows) == len(exported["records"])
    for row, record in zip(rows, exported["records"]):
        assert row["fetched_at"].strftime("%Y-%m-%dT%H:%M:%SZ") == record["fetched_at"]
        assert {k: row[k] for k in RECORD_FIELDS if k != "fetched_at"} == {k: record[k] for k in RECORD_FIELDS if k != "fetched_at"}
        for path, start, precision in ((("document_date",), "document_date_start", "document_date_precision"),
                                       (("source", "date"), "source_date_start", "source_date_precision"),
                                       (("dateline", "date"), "dateline_date_start", "dateline_date_precision")):
            value = record[path[0]] if len(path) == 1 else (record[path[0]] or {}).get(path[1])
            expected_start = None if value is None else {4: f"{value}-01-01", 7: f"{value}-01", 10: value}[len(value)]
            assert (row[start].isoformat() if row[start] else None) == expected_start
            assert row[precision] == (None if value is None else {4: "year", 7: "month", 10: "day"}[len(value)])
    assert {r["document_date_precision"] for r in rows} == {"year", "month", "day", None}


def readme_export_sql() -> str:
    section = (REPO / "README.md").read_text(encoding="utf-8").split("### Columnar output: Parquet", 1)[1]
    return section.split("```sql\n", 1)[1].split("```", 1)[0]


def test_duckdb_reads_the_parquet_with_no_hints(exported):
    import duckdb

    path = str(exported["output"])
    types = {row[0]: row[1] for row in duckdb.sql(f"DESCRIBE SELECT * FROM '{path}'").fetchall()}
    assert list(types) == parquet_arrow_schema().names
    assert (types["document_date"], types["document_date_start"], types["document_date_precision"]) == ("VARCHAR", "DATE", "VARCHAR")
    assert (types["revision"], types["fetched_at"]) == ("BIGINT", "TIMESTAMP WITH TIME ZONE")
    assert types["source"] == 'STRUCT("name" VARCHAR, place VARCHAR, date VARCHAR, raw VARCHAR)'
    assert types["dateline"] == "STRUCT(place VARCHAR, date VARCHAR, agency VARCHAR, raw VARCHAR)"
    # The README's query, as a reader would copy it.
    rows = duckdb.sql(readme_export_sql().replace("out/records.parquet", path)).fetchall()
    assert [(url, revision, day) for url, revision, day, _precision, _title in rows] == latest_of_1998(exported["records"])
    assert {precision for *_, precision, _title in rows} == {"year", "month", "day"}


def test_pandas_reads_the_parquet_with_no_hints(exported):
    import pandas as pd

    df = pd.read_parquet(exported["output"])
    assert list(df.columns) == parquet_arrow_schema().names
    assert str(df["revision"].dtype) == "int64"
    assert str(df["fetched_at"].dtype).startswith("datetime64[") and str(df["fetched_at"].dt.tz) == "UTC"
    assert set(df["document_date"].dropna()) >= {"1998", "1998-07", "1998-07-14", "2000-07"}
    assert isinstance(df["source"].dropna().iloc[0], dict)
    latest = df.sort_values("revision").drop_duplicates("canonical_url", keep="last")
    starts = pd.to_datetime(latest["document_date_start"])
    of_1998 = latest[starts.dt.year == 1998].sort_values("canonical_url")
    assert list(zip(of_1998["canonical_url"], of_1998["revision"], of_1998["document_date"])) == latest_of_1998(exported["records"])


def test_polars_reads_the_parquet_with_no_hints(exported):
    import polars as pl

    df = pl.read_parquet(exported["output"])
    assert df.columns == parquet_arrow_schema().names
    assert df.schema["revision"] == pl.Int64
    assert df.schema["document_date"] == pl.String and df.schema["document_date_start"] == pl.Date
    assert df.schema["fetched_at"] == pl.Datetime("us", "UTC")
    assert isinstance(df.schema["source"], pl.Struct)
    of_1998 = (df.sort("revision").group_by("canonical_url").last()
               .filter(pl.col("document_date_start").dt.year() == 1998).sort("canonical_url"))
    assert list(of_1998.select("canonical_url", "revision", "document_date").iter_rows()) == latest_of_1998(exported["records"])


def test_a_folder_or_a_glob_stands_for_batch_files(tmp_path, capsys):
    records = sample_records()
    for n, start in enumerate(range(0, len(records), 20), 1):  # records-1 ... records-10: natural order
        write_jsonl(tmp_path / f"records-{n}.jsonl{'.gz' if n % 2 else ''}", records[start:start + 20])
    (tmp_path / "report.json").write_text("{}")  # not a batch file
    for given in ([str(tmp_path)], [str(tmp_path / "records-*.jsonl*")]):
        output = tmp_path / "out.parquet"
        assert cli(["export", *given, "-o", str(output)]) == 0, capsys.readouterr().err
        assert f"{len(records)} records from 10 file(s)" in capsys.readouterr().err
        assert pq.read_table(output).column("url").to_pylist() == [r["url"] for r in records]


def test_an_empty_input_gives_an_empty_file_with_the_columns(tmp_path, capsys):
    (tmp_path / "empty.jsonl").write_bytes(b"")
    assert cli(["export", str(tmp_path / "empty.jsonl"), "-o", str(tmp_path / "out.parquet")]) == 0
    table = pq.read_table(tmp_path / "out.parquet")
    assert table.num_rows == 0 and table.schema.equals(parquet_arrow_schema())


def _bad_inputs(tmp_path) -> dict:
    good = json.dumps(make_record("a", 1, "1998")) + "\n"
    bad_date = json.dumps(make_record("b", 1, "1998")).replace('"document_date": "1998"', '"document_date": "1998-13"')
    gz = gzip.compress((good * 50).encode())
    return {
        "not JSON": ("x.jsonl", (good + '{"url": "https://a.org/", "title": \n').encode(), "x.jsonl:2: not JSON ("),
        "not a record": ("x.jsonl", (good + bad_date + "\n").encode(),
                         "x.jsonl:2: not a valid schema-1 record: document_date: '1998-13' is not"),
        "not an object": ("x.jsonl", (good + "[1, 2]\n").encode(), "x.jsonl:2: not a JSON object but list"),
        "not UTF-8": ("x.jsonl", good.encode() + "é\n".encode("latin-1"), "x.jsonl:2: not UTF-8"),
        "cut gzip": ("x.jsonl.gz", gz[: len(gz) // 2], "x.jsonl.gz: not a readable gzip file"),
        "missing": (None, None, "no such file: "),
    }


@pytest.mark.parametrize("case", ["not JSON", "not a record", "not an object", "not UTF-8", "cut gzip", "missing"])
def test_bad_input_is_one_line_exit_2_and_nothing_written(tmp_path, capsys, case):
    name, data, message = _bad_inputs(tmp_path)[case]
    path = tmp_path / (name or "absent.jsonl")
    if data is not None:
        path.write_bytes(data)
    output = tmp_path / "out.parquet"
    output.write_bytes(b"the previous export")
    assert cli(["export", str(path), "-o", str(output)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith("archive-crawler: ") and message in err[0], err
    assert output.read_bytes() == b"the previous export"
    left = {"out.parquet"} | ({path.name} if data is not None else set())
    assert {p.name for p in tmp_path.iterdir()} == left  # no temporary file


def test_bad_input_through_the_real_command_has_no_traceback(tmp_path):
    (tmp_path / "x.jsonl").write_text("not json\n")
    result = subprocess.run([str(BIN / "archive-crawler"), "export", str(tmp_path / "x.jsonl"), "-o",
                             str(tmp_path / "out.parquet")], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"archive-crawler: {tmp_path / 'x.jsonl'}:1: not JSON (Expecting value, column 1) "
        "(nothing written; --skip-invalid skips such lines)"]
    assert not (tmp_path / "out.parquet").exists()


def test_skip_invalid_counts_the_skipped_lines_on_one_line(tmp_path, capsys):
    good = [make_record(f"p{n}", 1, "1998-07") for n in range(3)]
    lines = [json.dumps(good[0]), "{oops", json.dumps(good[1]), "", json.dumps({**good[2], "revision": 0}), json.dumps(good[2])]
    (tmp_path / "x.jsonl").write_text("\n".join(lines) + "\n")
    assert cli(["export", str(tmp_path / "x.jsonl"), "-o", str(tmp_path / "out.parquet"), "--skip-invalid"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert err == [f"archive-crawler: 3 records from 1 file(s) written to {tmp_path / 'out.parquet'}; skipped 2 "
                   f"invalid line(s), the first {tmp_path / 'x.jsonl'}:2: not JSON (Expecting property name enclosed "
                   "in double quotes, column 2)"]
    assert pq.read_table(tmp_path / "out.parquet").column("url").to_pylist() == [r["url"] for r in good]


@pytest.mark.parametrize("case", ["glob", "folder", "output folder", "output is input"])
def test_usage_errors(tmp_path, capsys, case):
    (tmp_path / "in.jsonl").write_text(json.dumps(make_record("a", 1, None)) + "\n")
    (tmp_path / "empty").mkdir()
    args, message = {
        "glob": ([str(tmp_path / "records-*.jsonl.gz")], "no file matches "),
        "folder": ([str(tmp_path / "empty")], "no JSON Lines file (*.jsonl, *.jsonl.gz) in the folder "),
        "output folder": ([str(tmp_path / "in.jsonl"), "-o", str(tmp_path / "empty")], "is a folder"),
        "output is input": ([str(tmp_path / "in.jsonl"), "-o", str(tmp_path / "in.jsonl")], "is also an input"),
    }[case]
    if "-o" not in args:
        args += ["-o", str(tmp_path / "out.parquet")]
    assert cli(["export", *args]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and message in err[0], err


@pytest.mark.parametrize("signal_name", ["SIGINT", "SIGKILL"])
def test_an_interrupted_export_leaves_the_previous_file(tmp_path, signal_name):
    import signal
    import time

    line = json.dumps(make_record("a", 1, "1998-07")) + "\n"
    (tmp_path / "big.jsonl").write_text(line * 30_000)
    output = tmp_path / "out.parquet"
    output.write_bytes(b"the previous export")
    process = subprocess.Popen([str(BIN / "archive-crawler"), "export", str(tmp_path / "big.jsonl"), "-o", str(output)],
                               stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not list(tmp_path.glob(".out.parquet.*.tmp")) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert process.poll() is None, "the export ended before it could be interrupted"
    process.send_signal(getattr(signal, signal_name))
    _out, err = process.communicate(timeout=60)
    assert output.read_bytes() == b"the previous export"
    if signal_name == "SIGINT":  # Ctrl-C: the temporary file is removed
        assert process.returncode == 130 and err.splitlines() == ["archive-crawler: interrupted"]
        assert sorted(p.name for p in tmp_path.iterdir()) == ["big.jsonl", "out.parquet"]
    else:
        assert process.returncode == -signal.SIGKILL
