"""Columnar forms of the record: Arrow types from the JSON Schema, and Parquet made from JSON Lines.

    archive-crawler export IN.jsonl[.gz] [IN ...] -o OUT.parquet [--skip-invalid]
    python -m crawler.export [--check]      # (re)write or check schema/record-v1.arrow.json

One source: the column types are derived from the published JSON Schema (``schema/record-v1.json``,
read as the package reads it), never inferred from the data. ``schema/record-v1.arrow.json`` is
generated from it; the DuckDB column list and the Spark DDL in the README come from the same
derivation (``duckdb_columns()``, ``spark_ddl()``; ``python -m crawler.export --duckdb`` / ``--spark``
print them).

Mapping: ``type: string`` -> ``string``; ``format: date-time`` -> ``timestamp[us, tz=UTC]``;
``integer`` -> ``int64``; an ``object`` -> a ``struct`` of its properties in ``required`` order; an
``anyOf`` with ``{"type": "null"}`` -> nullable. A top-level field is non-nullable when the schema
allows no null; fields inside a struct are nullable (pyarrow's JSON reader refuses a non-nullable
child of a struct that is null). Dates (``$defs/isoDate``) stay strings at their stated precision;
the Parquet export adds, for each of them, ``<path>_start`` (``date32``, the first day: "1998" ->
1998-01-01, "1998-07" -> 1998-07-01) and ``<path>_precision`` ("year", "month" or "day"), with
``<path>`` the field's path joined by "_" (``document_date``, ``source_date``, ...).
"""

from __future__ import annotations

import argparse
import glob
import gzip
import json
import os
import re
import sys
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

__all__ = [
    "ARROW_SCHEMA_PATH", "ExportError", "ExportResult", "arrow_schema_from_json", "arrow_schema_json",
    "date_paths", "duckdb_columns", "export", "load_arrow_schema", "parquet_arrow_schema",
    "record_arrow_schema", "spark_ddl",
]

ARROW_SCHEMA_PATH = Path(__file__).resolve().parent.parent / "schema" / "record-v1.arrow.json"
GENERATOR = "python -m crawler.export"
ROWS_PER_GROUP = 10_000
BYTES_PER_GROUP = 64 << 20  # of JSON: a row group of at most about this much text


class SchemaMappingError(ValueError):
    """The JSON Schema uses a construct that has no column type here."""


# -- JSON Schema -> Arrow --------------------------------------------------------------------------


def _resolve(node: dict, defs: dict) -> tuple[dict, tuple[str, ...]]:
    """``node`` with its ``$ref`` chain followed, and the names of the definitions passed through."""
    names: tuple[str, ...] = ()
    while isinstance(node.get("$ref"), str):
        ref = node["$ref"]
        if not ref.startswith("#/$defs/"):
            raise SchemaMappingError(f"only local references are supported, not {ref!r}")
        name = ref.removeprefix("#/$defs/")
        names += (name,)
        node = {**defs[name], **{k: v for k, v in node.items() if k != "$ref"}}
    return node, names


def _is_null(node: dict, defs: dict) -> bool:
    return _resolve(node, defs)[0].get("type") == "null"


def _property_names(node: dict) -> list[str]:
    properties = node.get("properties", {})
    required = list(node.get("required", []))
    return required + [name for name in properties if name not in required]


def _arrow_type(node: dict, defs: dict, where: str):
    """(Arrow type, nullable, is an ISO date) of one JSON Schema node."""
    import pyarrow as pa

    node, names = _resolve(node, defs)
    is_date = "isoDate" in names
    if "type" not in node and "const" not in node and "anyOf" in node:
        branches = [b for b in node["anyOf"] if not _is_null(b, defs)]
        nullable = len(branches) < len(node["anyOf"])
        mapped = [_arrow_type(b, defs, where) for b in branches]
        types = {m[0] for m in mapped}
        if len(types) != 1:
            raise SchemaMappingError(f"{where}: alternatives of different column types: {sorted(map(str, types))}")
        return types.pop(), nullable or any(m[1] for m in mapped), is_date or any(m[2] for m in mapped)
    kind = node.get("type")
    if kind is None and "const" in node:
        kind = {str: "string", bool: "boolean", int: "integer", float: "number"}.get(type(node["const"]))
    if isinstance(kind, list):
        raise SchemaMappingError(f"{where}: a list of types ({kind}); use anyOf")
    if kind == "string":
        if node.get("format") == "date-time":
            return pa.timestamp("us", tz="UTC"), False, False
        return pa.string(), False, is_date
    if kind == "integer":
        return pa.int64(), False, False
    if kind == "number":
        return pa.float64(), False, False
    if kind == "boolean":
        return pa.bool_(), False, False
    if kind == "object":
        children = []
        for name in _property_names(node):
            child_type, _nullable, _date = _arrow_type(node["properties"][name], defs, f"{where}/{name}")
            children.append(pa.field(name, child_type, nullable=True))
        return pa.struct(children), False, False
    if kind == "array":
        item_type, _nullable, _date = _arrow_type(node.get("items", {}), defs, f"{where}/items")
        return pa.list_(pa.field("item", item_type, nullable=True)), False, False
    raise SchemaMappingError(f"{where}: no column type for {node!r}")


def _json_schema() -> dict:
    from pipelines.validation import load_schema

    return load_schema()


@cache
def record_arrow_schema():
    """The Arrow schema of a schema-1 record, fields in record order (``pyarrow.Schema``)."""
    import pyarrow as pa

    schema = _json_schema()
    defs = schema.get("$defs", {})
    fields = []
    for name in _property_names(schema):
        arrow_type, nullable, _date = _arrow_type(schema["properties"][name], defs, name)
        fields.append(pa.field(name, arrow_type, nullable=nullable))
    metadata = {"schema_version": schema["properties"]["schema_version"]["const"]}
    if "$id" in schema:
        metadata["json_schema"] = schema["$id"]
    return pa.schema(fields, metadata=metadata)


@cache
def date_paths() -> tuple[tuple[str, ...], ...]:
    """Where the ISO dates are: ("document_date",), ("source", "date"), ..., in record order."""
    schema = _json_schema()
    defs = schema.get("$defs", {})
    found: list[tuple[str, ...]] = []

    def walk(node: dict, path: tuple[str, ...]) -> None:
        node, _names = _resolve(node, defs)
        if node.get("type") == "null":
            return
        if _arrow_type(node, defs, "/".join(path))[2]:
            found.append(path)
            return
        for branch in node.get("anyOf", []):
            walk(branch, path)
        for name in _property_names(node):
            walk(node["properties"][name], (*path, name))

    for name in _property_names(schema):
        walk(schema["properties"][name], (name,))
    return tuple(found)


def companion_names(path: tuple[str, ...]) -> tuple[str, str]:
    stem = "_".join(path)
    return f"{stem}_start", f"{stem}_precision"


@cache
def parquet_arrow_schema():
    """The export's columns: the record's, then ``<date>_start`` and ``<date>_precision`` per date."""
    import pyarrow as pa

    record = record_arrow_schema()
    extra = []
    for path in date_paths():
        start, precision = companion_names(path)
        extra += [pa.field(start, pa.date32()), pa.field(precision, pa.string())]
    return pa.schema([*record, *extra], metadata=record.metadata)


# -- The published file: Arrow's JSON form of a schema ----------------------------------------------
# The layout of Arrow's integration-test JSON format (https://arrow.apache.org/docs/format/Integration.html):
# {"fields": [{"name", "nullable", "type": {"name": "utf8" | "int" | ...}, "children": [...]}], "metadata": [...]}

_UNITS = {"s": "SECOND", "ms": "MILLISECOND", "us": "MICROSECOND", "ns": "NANOSECOND"}


def _type_json(arrow_type) -> tuple[dict, list]:
    import pyarrow as pa
    import pyarrow.types as t

    if t.is_string(arrow_type):
        return {"name": "utf8"}, []
    if t.is_integer(arrow_type):
        return {"name": "int", "bitWidth": arrow_type.bit_width, "isSigned": t.is_signed_integer(arrow_type)}, []
    if t.is_floating(arrow_type):
        return {"name": "floatingpoint", "precision": {16: "HALF", 32: "SINGLE", 64: "DOUBLE"}[arrow_type.bit_width]}, []
    if t.is_boolean(arrow_type):
        return {"name": "bool"}, []
    if t.is_timestamp(arrow_type):
        out = {"name": "timestamp", "unit": _UNITS[arrow_type.unit]}
        if arrow_type.tz is not None:
            out["timezone"] = arrow_type.tz
        return out, []
    if arrow_type == pa.date32():
        return {"name": "date", "unit": "DAY"}, []
    if t.is_struct(arrow_type):
        return {"name": "struct"}, [_field_json(arrow_type.field(i)) for i in range(arrow_type.num_fields)]
    if t.is_list(arrow_type):
        return {"name": "list"}, [_field_json(arrow_type.value_field)]
    raise SchemaMappingError(f"no JSON form for {arrow_type}")


def _field_json(arrow_field) -> dict:
    type_json, children = _type_json(arrow_field.type)
    return {"name": arrow_field.name, "nullable": arrow_field.nullable, "type": type_json, "children": children}


def arrow_schema_json(schema=None) -> str:
    """The published text of ``schema/record-v1.arrow.json`` (the record's Arrow schema)."""
    schema = record_arrow_schema() if schema is None else schema
    metadata = {k.decode(): v.decode() for k, v in (schema.metadata or {}).items()}
    metadata["generated_by"] = f"{GENERATOR} from record-v1.json; do not edit"
    def one(value) -> str:
        return json.dumps(value, ensure_ascii=False)

    def block(item: dict, indent: str) -> str:
        """A field on one line; a struct's children one per line below it."""
        if not item["children"]:
            return indent + one(item)
        head = one({key: value for key, value in item.items() if key != "children"})[:-1]
        children = ",\n".join(block(child, indent + "  ") for child in item["children"])
        return f'{indent}{head}, "children": [\n{children}\n{indent}]}}'

    fields = ",\n".join(block(_field_json(arrow_field), "    ") for arrow_field in schema)
    items = ",\n".join(f"    {one({'key': key, 'value': value})}" for key, value in metadata.items())
    return f'{{\n  "fields": [\n{fields}\n  ],\n  "metadata": [\n{items}\n  ]\n}}\n'


def _type_from_json(type_json: dict, children: list):
    import pyarrow as pa

    name = type_json["name"]
    if name == "utf8":
        return pa.string()
    if name == "int":
        width, signed = type_json["bitWidth"], type_json["isSigned"]
        return getattr(pa, f"{'' if signed else 'u'}int{width}")()
    if name == "floatingpoint":
        return {"HALF": pa.float16(), "SINGLE": pa.float32(), "DOUBLE": pa.float64()}[type_json["precision"]]
    if name == "bool":
        return pa.bool_()
    if name == "timestamp":
        unit = {v: k for k, v in _UNITS.items()}[type_json["unit"]]
        return pa.timestamp(unit, tz=type_json.get("timezone"))
    if name == "date" and type_json.get("unit") == "DAY":
        return pa.date32()
    if name == "struct":
        return pa.struct([_field_from_json(child) for child in children])
    if name == "list":
        return pa.list_(_field_from_json(children[0]))
    raise SchemaMappingError(f"unsupported Arrow type in JSON form: {type_json}")


def _field_from_json(field_json: dict):
    import pyarrow as pa

    return pa.field(field_json["name"], _type_from_json(field_json["type"], field_json.get("children", [])),
                    nullable=field_json.get("nullable", True))


def arrow_schema_from_json(text: str):
    """A ``pyarrow.Schema`` from the JSON form (``schema/record-v1.arrow.json``)."""
    import pyarrow as pa

    document = json.loads(text)
    metadata = {item["key"]: item["value"] for item in document.get("metadata", [])}
    metadata.pop("generated_by", None)
    return pa.schema([_field_from_json(f) for f in document["fields"]], metadata=metadata or None)


def load_arrow_schema(path: str | os.PathLike = ARROW_SCHEMA_PATH):
    """The published Arrow schema of a record, e.g. for ``pyarrow.json.ParseOptions(explicit_schema=...)``."""
    return arrow_schema_from_json(Path(path).read_text(encoding="utf-8"))


# -- DuckDB and Spark spellings of the same types --------------------------------------------------


def _duckdb_type(arrow_type) -> str:
    import pyarrow as pa
    import pyarrow.types as t

    if t.is_string(arrow_type):
        return "VARCHAR"
    if arrow_type == pa.int64():
        return "BIGINT"
    if arrow_type == pa.float64():
        return "DOUBLE"
    if t.is_boolean(arrow_type):
        return "BOOLEAN"
    if t.is_timestamp(arrow_type):
        return "TIMESTAMPTZ" if arrow_type.tz else "TIMESTAMP"
    if arrow_type == pa.date32():
        return "DATE"
    if t.is_struct(arrow_type):
        inner = ", ".join(f"{f.name} {_duckdb_type(f.type)}" for f in arrow_type)
        return f"STRUCT({inner})"
    if t.is_list(arrow_type):
        return f"{_duckdb_type(arrow_type.value_type)}[]"
    raise SchemaMappingError(f"no DuckDB type for {arrow_type}")


def duckdb_columns(schema=None) -> dict[str, str]:
    """``read_json(..., columns = {...})`` for a record: every field, in record order."""
    schema = record_arrow_schema() if schema is None else schema
    return {f.name: _duckdb_type(f.type) for f in schema}


def duckdb_columns_text(width: int = 104) -> str:
    """The ``columns = {...}`` argument as the README writes it (structs on lines of their own)."""
    lines, line = [], "    "
    for name, sql_type in duckdb_columns().items():
        item = f"{name}: '{sql_type}',"
        if sql_type.startswith("STRUCT"):
            if line.strip():
                lines.append(line.rstrip())
            lines.append(f"    {item}")
            line = "    "
        elif len(line) + len(item) + 1 > width:
            lines.append(line.rstrip())
            line = f"    {item} "
        else:
            line += item + " "
    if line.strip():
        lines.append(line.rstrip())
    lines[-1] = lines[-1].rstrip(",")
    return "columns = {\n" + "\n".join(lines) + "}"


def _spark_type(arrow_type) -> str:
    import pyarrow as pa
    import pyarrow.types as t

    if t.is_string(arrow_type):
        return "STRING"
    if arrow_type == pa.int64():
        return "BIGINT"
    if arrow_type == pa.float64():
        return "DOUBLE"
    if t.is_boolean(arrow_type):
        return "BOOLEAN"
    if t.is_timestamp(arrow_type):
        return "TIMESTAMP"
    if arrow_type == pa.date32():
        return "DATE"
    if t.is_struct(arrow_type):
        return "STRUCT<" + ", ".join(f"{f.name}: {_spark_type(f.type)}" for f in arrow_type) + ">"
    if t.is_list(arrow_type):
        return f"ARRAY<{_spark_type(arrow_type.value_type)}>"
    raise SchemaMappingError(f"no Spark type for {arrow_type}")


def spark_ddl(schema=None) -> str:
    """The record as a Spark DDL schema string (``spark.read.schema(ddl).json(...)``)."""
    schema = record_arrow_schema() if schema is None else schema
    return ", ".join(f"{f.name} {_spark_type(f.type)}" for f in schema)


# -- Export ------------------------------------------------------------------------------------------


class ExportError(Exception):
    """Bad input or output for ``export``: the message is the one line the user sees."""


@dataclass
class ExportResult:
    output: Path
    files: list[Path]
    records: int = 0
    skipped: int = 0
    first_skip: str | None = None


_BATCH_NAMES = ("*.jsonl", "*.jsonl.gz", "*.jl", "*.jl.gz")


def _natural(path: Path) -> list:
    """Sort key: records-2 before records-10 (batch ids without zero padding)."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", str(path))]


def expand_inputs(inputs: Iterable[str]) -> list[Path]:
    """Files named, a folder's JSON Lines files (``*.jsonl``, ``*.jsonl.gz``, ``*.jl[.gz]``), or a glob
    (quoted, so that the shell leaves it); folders and globs in natural order (records-2 before -10)."""
    files: list[Path] = []
    for given in inputs:
        path = Path(given)
        if path.is_dir():
            found = sorted({p for pattern in _BATCH_NAMES for p in path.glob(pattern) if p.is_file()}, key=_natural)
            if not found:
                raise ExportError(f"no JSON Lines file (*.jsonl, *.jsonl.gz) in the folder {given}")
            files += found
        elif path.exists():
            files.append(path)
        elif glob.has_magic(given):
            found = sorted((Path(p) for p in glob.glob(given) if Path(p).is_file()), key=_natural)
            if not found:
                raise ExportError(f"no file matches {given}")
            files += found
        else:
            raise ExportError(f"no such file: {given}")
    return files


def _open_lines(path: Path):
    with open(path, "rb") as probe:
        magic = probe.read(2)
    if magic == b"\x1f\x8b":
        return gzip.open(path, "rb")
    return open(path, "rb")


def read_lines(path: Path) -> Iterator[tuple[int, bytes]]:
    """(line number, bytes) of a plain or gzip JSON Lines file (gzip known by its bytes, not its name)."""
    try:
        with _open_lines(path) as stream:
            for number, line in enumerate(stream, 1):
                yield number, line
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise ExportError(f"{path}: not a readable gzip file ({exc or 'cut short'})") from None
    except OSError as exc:
        raise ExportError(f"cannot read {path}: {exc.strerror or exc}") from None


def _date_column(table, path: tuple[str, ...]):
    """The ISO date strings at ``path`` (null where the date, or the struct holding it, is null)."""
    import pyarrow.compute as pc

    column = table[path[0]]
    for key in path[1:]:
        column = pc.if_else(pc.is_valid(column), pc.struct_field(column, key), None)
    return column


def with_companions(table):
    """``table`` (record columns) with ``<date>_start`` and ``<date>_precision`` after them."""
    import pyarrow as pa
    import pyarrow.compute as pc

    for path in date_paths():
        dates = _date_column(table, path)
        length = pc.utf8_length(dates)
        year, month = pc.equal(length, 4), pc.equal(length, 7)
        first_day = pc.if_else(year, pc.binary_join_element_wise(dates, "-01-01", ""),
                               pc.if_else(month, pc.binary_join_element_wise(dates, "-01", ""), dates))
        start = pc.cast(pc.strptime(first_day, format="%Y-%m-%d", unit="s"), pa.date32())
        precision = pc.if_else(year, "year", pc.if_else(month, "month", "day"))
        start_name, precision_name = companion_names(path)
        table = table.append_column(start_name, start).append_column(precision_name, precision)
    return table.cast(parquet_arrow_schema())


def lines_to_table(lines: list[bytes]):
    """Valid record lines -> an Arrow table of the export's columns, parsed with the declared schema."""
    import io

    import pyarrow as pa
    import pyarrow.json as pj

    data = b"".join(line if line.endswith(b"\n") else line + b"\n" for line in lines)
    try:
        table = pj.read_json(
            io.BytesIO(data),
            read_options=pj.ReadOptions(block_size=max(len(data), 1 << 16), use_threads=False),
            parse_options=pj.ParseOptions(explicit_schema=record_arrow_schema(), unexpected_field_behavior="error"),
        )
        return with_companions(table)
    except pa.ArrowException as exc:  # valid records that the declared column types cannot hold
        raise ExportError(f"records that do not fit the columns: {exc}") from None


def record_lines(files: list[Path], result: ExportResult, skip_invalid: bool) -> Iterator[bytes]:
    """The lines of ``files`` that are valid records, in order; a bad line ends the export (ExportError),
    or with ``skip_invalid`` is counted and skipped."""
    from pipelines.validation import record_errors

    for path in files:
        for number, line in read_lines(path):
            if not line.strip():
                continue
            problem = None
            try:
                record = json.loads(line.decode("utf-8"))
            except UnicodeDecodeError as exc:
                problem = f"not UTF-8 ({exc.reason} at byte {exc.start})"
            except json.JSONDecodeError as exc:
                problem = f"not JSON ({exc.msg}, column {exc.colno})"
            else:
                if not isinstance(record, dict):
                    problem = f"not a JSON object but {type(record).__name__}"
                else:
                    errors = record_errors(record)
                    if errors:
                        problem = "not a valid schema-1 record: " + "; ".join(errors)
            if problem is None:
                yield line
                continue
            where = f"{path}:{number}: {problem}"
            if not skip_invalid:
                raise ExportError(where + " (nothing written; --skip-invalid skips such lines)")
            result.skipped += 1
            result.first_skip = result.first_skip or where


def export(inputs: Iterable[str], output: str | os.PathLike, *, skip_invalid: bool = False,
           rows_per_group: int = ROWS_PER_GROUP) -> ExportResult:
    """Write the records of ``inputs`` (JSON Lines, plain or gzip) to the Parquet file ``output``.

    Written to a temporary file beside ``output``, fsynced, then renamed over it: a reader (or a kill)
    never sees half a file, and on any error the previous ``output`` is left as it was."""
    import pyarrow.parquet as pq

    files = expand_inputs(inputs)
    output = Path(output)
    if output.is_dir():
        raise ExportError(f"the output {output} is a folder; give a file name, e.g. {output / 'records.parquet'}")
    for path in files:
        if path.resolve() == output.resolve():
            raise ExportError(f"the output {output} is also an input")
    result = ExportResult(output=output, files=files)
    schema = parquet_arrow_schema()
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ExportError(f"cannot create the folder {output.parent}: {exc.strerror or exc}") from None
    temporary = output.with_name(f".{output.name}.{os.getpid()}.tmp")
    try:
        writer = pq.ParquetWriter(temporary, schema, compression="zstd", version="2.6")
        try:
            lines: list[bytes] = []
            size = 0
            for line in record_lines(files, result, skip_invalid):
                lines.append(line)
                size += len(line)
                if len(lines) >= rows_per_group or size >= BYTES_PER_GROUP:
                    writer.write_table(lines_to_table(lines))
                    result.records += len(lines)
                    lines, size = [], 0
            if lines:
                writer.write_table(lines_to_table(lines))
                result.records += len(lines)
        finally:
            writer.close()
        with open(temporary, "rb") as written:
            os.fsync(written.fileno())
        os.replace(temporary, output)
        try:
            folder = os.open(output.parent, os.O_RDONLY)
        except OSError:
            pass
        else:
            try:
                os.fsync(folder)
            finally:
                os.close(folder)
    except OSError as exc:
        raise ExportError(f"cannot write {output}: {exc.strerror or exc}") from None
    finally:
        temporary.unlink(missing_ok=True)
    return result


# -- The generator --------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=GENERATOR,
        description="Write schema/record-v1.arrow.json from schema/record-v1.json (or check that it is up to date).",
    )
    what = parser.add_mutually_exclusive_group()
    what.add_argument("--check", action="store_true", help="exit 1 when the published file differs from the generated one")
    what.add_argument("--duckdb", action="store_true", help="print the DuckDB columns = {...} of the README")
    what.add_argument("--spark", action="store_true", help="print the Spark DDL schema of the README")
    args = parser.parse_args(argv)
    if args.duckdb:
        print(duckdb_columns_text())
        return 0
    if args.spark:
        print(spark_ddl())
        return 0
    generated = arrow_schema_json()
    if args.check:
        published = ARROW_SCHEMA_PATH.read_text(encoding="utf-8") if ARROW_SCHEMA_PATH.exists() else None
        if published != generated:
            print(f"{ARROW_SCHEMA_PATH} is not what {GENERATOR} generates from record-v1.json: "
                  f"run {GENERATOR}", file=sys.stderr)
            return 1
        return 0
    ARROW_SCHEMA_PATH.write_text(generated, encoding="utf-8")
    print(f"wrote {ARROW_SCHEMA_PATH}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
