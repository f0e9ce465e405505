"""JSON Lines that load without hints (issue 13, point 4): the README's recipes for DuckDB, pandas,
pyarrow and Spark, run as written over gzip batch files whose first files hold only full dates and
whose last one holds "2000-07", "1998" and "1998-07" (the case where type-guessing readers fail).

The batch files are written as the crawl writes them (``crawler.output``: one gzip member per record,
an empty member first). Spark runs in local mode, one session for the module (its start-up is most of
the module's time)."""

from __future__ import annotations

import glob
import re
import shutil
import time

import pytest

from conftest import REPO
from crawler.export import duckdb_columns, export, record_arrow_schema, spark_ddl
from crawler.output import GzipMemberFile, record_line
from pipelines.schema import RECORD_FIELDS
from test_export import latest_of_1998, sample_log

BATCHES = 40
# pyspark 4 warns once that it does not yet fully support pandas 3; nothing here goes through pandas.
pytestmark = pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning")


def readme_block(language: str, needle: str) -> str:
    """The README's fenced ``language`` block, in "Record schema, and loading the records", holding ``needle``."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("### Record schema, and loading the records", 1)[1].split("\n## ", 1)[0]
    blocks = [b for b in re.findall(rf"```{language}\n(.*?)```", section, flags=re.S) if needle in b]
    assert len(blocks) == 1, f"{len(blocks)} {language} blocks with {needle!r} in the README"
    return blocks[0]


@pytest.fixture(scope="module")
def batches(tmp_path_factory):
    folder = tmp_path_factory.mktemp("batches")
    early, late = sample_log()
    cuts = [len(early) * n // (BATCHES - 1) for n in range(BATCHES)]
    parts = [early[start:end] for start, end in zip(cuts, cuts[1:])] + [late]
    assert len(parts) == BATCHES
    for batch_id, records in enumerate(parts, 1):
        with GzipMemberFile(folder / f"records-{batch_id:05d}.jsonl.gz") as out:
            for record in records:
                out.write(record_line(record))
    assert all(len(r["document_date"] or "") in (0, 10) for part in parts[:-1] for r in part)
    assert {r["document_date"] for r in late} >= {"2000-07", "1998", "1998-07"}
    return {"folder": folder, "glob": str(folder / "records-*.jsonl.gz"), "records": early + late}


def with_paths(code: str, batches: dict, parquet: str | None = None) -> str:
    code = code.replace("out/records-*.jsonl.gz", batches["glob"])
    return code.replace("out/records.parquet", parquet) if parquet else code


def test_these_batches_defeat_type_guessing(batches):
    """The premise: a reader that infers types from the first file fails on the last one."""
    import pyarrow as pa
    import pyarrow.dataset as ds

    with pytest.raises(pa.ArrowInvalid, match="1998|2000-07"):
        ds.dataset(sorted(glob.glob(batches["glob"])), format="json").to_table()


# -- DuckDB ---------------------------------------------------------------------------------------


def test_the_readme_duckdb_columns_are_every_schema_field():
    sql = readme_block("sql", "CREATE VIEW records")
    columns = dict(re.findall(r"(\w+): '([^']*)'", sql.split("columns = {", 1)[1].split("})", 1)[0]))
    assert list(columns) == list(RECORD_FIELDS)  # revision included
    assert columns == duckdb_columns()


def test_the_readme_duckdb_recipe_over_mixed_batches(batches):
    import duckdb

    statements = [s.strip() for s in with_paths(readme_block("sql", "CREATE VIEW records"), batches).split(";\n")]
    view, summary, latest = [s for s in statements if s]
    con = duckdb.connect()
    con.execute(view)
    records = batches["records"]
    assert con.sql(summary).fetchall() == [
        (language, sum(r["language"] == language for r in records),
         sum(r["language"] == language and bool(r["source"] and r["source"]["date"]) for r in records))
        for language in ("en", "es")]
    rows = con.sql(latest).fetchall()
    assert [row[:3] for row in rows] == latest_of_1998(records)
    types = dict(con.sql("SELECT column_name, column_type FROM (DESCRIBE records)").fetchall())
    assert (types["document_date"], types["revision"], types["fetched_at"]) == ("VARCHAR", "BIGINT", "TIMESTAMP WITH TIME ZONE")
    assert con.sql("SELECT count(*) FROM records WHERE document_date IN ('1998', '2000-07')").fetchall() == [
        (sum(r["document_date"] in ("1998", "2000-07") for r in records),)]


# -- pandas and pyarrow ---------------------------------------------------------------------------


def test_the_readme_pandas_recipe_over_mixed_batches(batches):
    import pandas as pd

    namespace: dict = {}
    exec(with_paths(readme_block("python", "import pandas as pd"), batches), namespace)
    df, latest, of_1998 = namespace["df"], namespace["latest"], namespace["of_1998"]
    records = batches["records"]
    assert list(df.columns) == list(RECORD_FIELDS) and len(df) == len(records)
    assert str(df["revision"].dtype) == "int64"
    assert str(df["fetched_at"].dt.tz) == "UTC"
    dates = [None if pd.isna(value) else value for value in df["document_date"]]
    assert dates == [r["document_date"] for r in records]  # "1998" stays text
    assert df["schema_version"].tolist() == ["1"] * len(records)
    assert len(namespace["sources"]) == sum(r["source"] is not None for r in records)
    assert sorted(zip(of_1998["canonical_url"], of_1998["revision"], of_1998["document_date"])) == latest_of_1998(records)
    assert len(latest) == len({r["canonical_url"] for r in records})


def test_the_readme_pyarrow_recipe_over_mixed_batches(batches):
    import polars as pl

    namespace: dict = {}
    exec(with_paths(readme_block("python", "pyarrow.dataset"), batches), namespace)
    table = namespace["table"]
    assert table.schema.equals(record_arrow_schema())
    assert table.num_rows == len(batches["records"])
    assert sorted(table.column("document_date").to_pylist(), key=str) == sorted(
        (r["document_date"] for r in batches["records"]), key=str)
    # Polars takes the Arrow table as it is.
    df = pl.from_arrow(table)
    assert df.schema["revision"] == pl.Int64 and isinstance(df.schema["source"], pl.Struct)


# -- Spark (local mode, no network) ---------------------------------------------------------------


@pytest.fixture(scope="module")
def spark():
    pyspark = pytest.importorskip("pyspark", reason="pyspark is not installed: pip install -e '.[test]' brings it")
    if shutil.which("java") is None:
        pytest.skip("no java on PATH: pyspark's local mode needs a Java runtime (17 or later)")
    from pyspark.sql import SparkSession

    started = time.monotonic()
    session = (
        SparkSession.builder.master("local[1]")
        .appName("archive-crawler-tests")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "1")
        # Start-up is most of the time: the JIT's first tier only and the serial GC start the JVM 2-3x
        # faster for jobs this small; 40 paths would otherwise be listed by a Spark job of their own.
        .config("spark.driver.extraJavaOptions", "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC")
        .config("spark.sql.sources.parallelPartitionDiscovery.threshold", "10000")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    print(f"Spark {pyspark.__version__} session started in {time.monotonic() - started:.1f} s")
    yield session
    session.catalog.clearCache()
    session.stop()


def test_the_readme_spark_ddl_is_the_generated_one():
    namespace: dict = {}
    code = readme_block("python", "RECORD_DDL")
    exec(code.split("RECORD_DDL = ", 1)[1].split("\n)\n", 1)[0].join(["RECORD_DDL = ", "\n)\n"]), namespace)
    assert namespace["RECORD_DDL"] == spark_ddl()


def test_the_readme_spark_recipe_over_mixed_batches(spark, batches):
    namespace: dict = {}
    exec(with_paths(readme_block("python", "RECORD_DDL"), batches), namespace)
    records, latest, of_1998 = namespace["records"], namespace["latest"], namespace["of_1998"]
    assert namespace["spark"] is spark
    records.cache()  # read the 40 files once for the checks below (latest and of_1998 use the cache too)
    assert records.columns == list(RECORD_FIELDS)
    types = dict(records.dtypes)
    assert (types["revision"], types["document_date"], types["fetched_at"]) == ("bigint", "string", "timestamp")
    assert types["source"] == "struct<name:string,place:string,date:string,raw:string>"
    rows = records.select("document_date", "fetched_at").collect()
    assert sorted((r.document_date or "") for r in rows) == sorted((r["document_date"] or "") for r in batches["records"])
    assert {r.fetched_at.strftime("%Y-%m-%dT%H:%M:%SZ") for r in rows} == {r["fetched_at"] for r in batches["records"]}
    assert latest.count() == len({r["canonical_url"] for r in batches["records"]})
    got = sorted((r.canonical_url, r.revision, r.document_date) for r in of_1998.collect())
    assert got == latest_of_1998(batches["records"])


def test_spark_reads_the_parquet_export_with_no_hints(spark, batches, tmp_path):
    from pyspark.sql import functions as F
    from pyspark.sql import Window

    output = tmp_path / "records.parquet"
    export([batches["glob"]], output)
    df = spark.read.parquet(str(output))
    types = dict(df.dtypes)
    assert (types["revision"], types["document_date"], types["document_date_start"]) == ("bigint", "string", "date")
    assert types["fetched_at"] == "timestamp" and types["dateline"].startswith("struct<place:string")
    newest_first = Window.partitionBy("canonical_url").orderBy(F.desc("revision"))
    latest = df.withColumn("n", F.row_number().over(newest_first)).filter("n = 1")
    of_1998 = latest.filter(F.year("document_date_start") == 1998)
    got = sorted((r.canonical_url, r.revision, r.document_date) for r in of_1998.collect())
    assert got == latest_of_1998(batches["records"])
