"""The published record schema (schema/record-v1.json) and the item pipeline that enforces it."""

from __future__ import annotations

import copy
import hashlib
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from conftest import GOLD, REPO, read_jsonl
from pipelines.schema import RECORD_FIELDS
from pipelines.validation import SCHEMA_PATH, load_schema, load_validator, record_errors

FETCHED_AT = "2026-11-25T01:02:03Z"


def gold_records() -> list[dict]:
    return [{**record, "fetched_at": FETCHED_AT} for record in read_jsonl(GOLD)]


def with_fields(record: dict) -> dict:
    """A gold record in schema field order, as the crawl writes it."""
    return {name: record[name] for name in RECORD_FIELDS}


@pytest.fixture
def valid() -> dict:
    """A gold record with a source, a dateline, a section and a publication date."""
    for record in gold_records():
        if all(record[f] for f in ("source", "dateline", "published_date", "section")):
            return with_fields(record)
    raise AssertionError("no gold record has all of these fields")


def test_the_schema_is_a_valid_2020_12_schema_at_the_documented_path():
    assert SCHEMA_PATH == REPO / "schema" / "record-v1.json"
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)
    assert schema["required"] == list(RECORD_FIELDS)
    assert set(schema["properties"]) == set(RECORD_FIELDS)
    assert schema["additionalProperties"] is False


def test_every_gold_record_validates():
    records = gold_records()
    assert records and len({record["url"] for record in records}) == len(records)
    for record in records:
        assert record_errors(with_fields(record)) == [], record["url"]


def test_every_crawled_record_validates(warc_crawl):
    assert warc_crawl["records"]
    for record in warc_crawl["records"]:
        assert record_errors(record) == [], record["url"]


def test_partial_dates_are_valid(valid):
    for value in ("1997", "2000-07", "2017-05-18", None):
        assert record_errors({**valid, "document_date": value}) == [], value


def _drop(field):
    def change(record):
        del record[field]
    return change


def _set(path, value):
    def change(record):
        target = record
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
    return change


BREAKAGE = {
    "missing field": (_drop("language"), "language"),
    "missing nullable field": (_drop("section"), "section"),
    "extra field": (_set(["author"], "someone"), "author"),
    "wrong type (title is a number)": (_set(["title"], 42), "title"),
    "wrong type (source is a string)": (_set(["source"], "El País"), "source"),
    "month 13": (_set(["document_date"], "2017-13-01"), "document_date"),
    "date with a time": (_set(["published_date"], "2017-05-18T00:00"), "published_date"),
    "day 30 of February": (_set(["document_date"], "2017-02-30"), "document_date"),
    "two-digit year": (_set(["published_date"], "17-05-18"), "published_date"),
    "date with a trailing newline": (_set(["document_date"], "1997\n"), "document_date"),
    "empty text": (_set(["text"], ""), "text"),
    "blank text": (_set(["text"], " \n "), "text"),
    "empty title": (_set(["title"], ""), "title"),
    "hash not hex": (_set(["content_sha256"], "z" * 64), "content_sha256"),
    "hash too short": (_set(["content_sha256"], "ab12"), "content_sha256"),
    "hash upper case": (lambda r: r.update(content_sha256=r["content_sha256"].upper()), "content_sha256"),
    "hash of another text": (_set(["content_sha256"], hashlib.sha256(b"other").hexdigest()), "content_sha256"),
    "schema_version 2": (_set(["schema_version"], "2"), "schema_version"),
    "schema_version as a number": (_set(["schema_version"], 1), "schema_version"),
    "source without raw": (lambda r: r["source"].pop("raw"), "source"),
    "source with an extra key": (_set(["source", "agency"], "EFE"), "source"),
    "source date malformed": (_set(["source", "date"], "18may17"), "source"),
    "source name null": (_set(["source", "name"], None), "source"),
    "dateline without agency key": (lambda r: r["dateline"].pop("agency"), "dateline"),
    "fetched_at not UTC": (_set(["fetched_at"], "2026-11-25T01:02:03+01:00"), "fetched_at"),
    "fetched_at date only": (_set(["fetched_at"], "2026-11-25"), "fetched_at"),
    "language not ISO 639-1": (_set(["language"], "spa"), "language"),
    "url not http": (_set(["url"], "ftp://example.org/x.html"), "url"),
    "section empty string": (_set(["section"], ""), "section"),
}


@pytest.mark.parametrize("name", sorted(BREAKAGE))
def test_broken_records_are_rejected_with_the_field_named(valid, name):
    change, field = BREAKAGE[name]
    record = copy.deepcopy(valid)
    change(record)
    errors = record_errors(record)
    assert errors, name
    assert any(field in message for message in errors), errors


def test_an_invalid_record_is_a_counted_skip_where_it_is_built(valid):
    """The worker validates what it builds: a record the schema rejects comes back as the skip
    ``invalid_record`` naming the field (the crawl counts it under archive/skipped/ and logs it)."""
    import pickle
    from dataclasses import replace

    from crawler.workers import HeldDraft, finish_job
    from pipelines.dates import PartialDate
    from pipelines.records import read_page

    def held(draft) -> HeldDraft:  # as the crawl holds a page read before its boilerplate is known
        return HeldDraft(draft.url, pickle.dumps(draft))

    page = (REPO / "fixtures" / "derechos" / "nizkor" / "espana" / "doc" / "cat1233.html").read_bytes()
    draft = read_page(page, "https://www.derechos.org/nizkor/espana/doc/cat1233.html")
    assert finish_job(held(draft), frozenset()).record is not None
    broken = replace(draft, parts=replace(draft.parts, document_date=PartialDate(2017, 13, 1)))
    outcome = finish_job(held(broken), frozenset())
    assert outcome.record is None
    assert outcome.skip[0] == "invalid_record" and "document_date" in outcome.skip[1]


def test_schema_is_found_from_the_installed_package(tmp_path):
    """`pip install -e .` and runs from any folder read the schema from the repository."""
    import subprocess
    import sys

    code = "from pipelines.validation import load_schema; print(load_schema()['title'])"
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == load_schema()["title"]


# Values a field may be given when a record goes wrong: the right type with a wrong shape, the
# wrong type, booleans where numbers go (JSON Schema's integer is not a boolean), dates that the
# calendar refuses, URLs and timestamps a pattern alone would pass.
_ODD_VALUES = [None, True, False, 0, 1, -1, 1.5, 2**40, "", " ", "\n", "x", "en", "EN", "en\n", "eng",
               "2017", "2017-02", "2017-02-30", "2017-02-28", "2017-13", "1999-12-31T23:59:60Z",
               "2026-11-25T01:02:03Z", "2026-11-25 01:02:03", "http://", "https://a.example/x",
               "https://a b/", "ftp://a.example/", "a" * 64, "0" * 64, [], {}, {"name": "x"},
               {"raw": "x", "name": "x", "place": None, "date": None},
               {"raw": "[Source: x, y, 1Jan99]", "name": "x", "place": "y", "date": "1999-01-01"}]


@settings(max_examples=400, derandomize=True, deadline=None)
@given(data=st.data())
def test_the_quick_check_and_jsonschema_agree_on_every_record(data):
    """record_errors passes a record on fastjsonschema's compiled check and asks jsonschema only
    why a record fails: both must refuse exactly the same records, or an invalid record is written."""
    records = gold_records()
    record = with_fields(data.draw(st.sampled_from(records)))
    for _ in range(data.draw(st.integers(1, 3))):
        field = data.draw(st.sampled_from([*RECORD_FIELDS, "extra_field"]))
        value = data.draw(st.sampled_from(_ODD_VALUES))
        if isinstance(record.get(field), dict) and data.draw(st.booleans()):
            record[field] = {**record[field], data.draw(st.sampled_from(sorted(record[field]))): value}
        elif data.draw(st.integers(0, 9)) == 0:
            record.pop(field, None)
        else:
            record[field] = value
    full = load_validator()
    assert (record_errors(record) == []) == (full.is_valid(record) and hashlib.sha256(
        record["text"].encode()).hexdigest() == record["content_sha256"]), record
