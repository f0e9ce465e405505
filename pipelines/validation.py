"""Records checked against the published schema, ``schema/record-v1.json`` (JSON Schema 2020-12).

The schema file is published at ``schema/record-v1.json`` so that data teams can take it as it is.
The package carries it as ``pipelines/data/record-v1.json`` (in the repository a symlink to the
published file, in a wheel or an egg a copy of it) and reads it with importlib.resources, so that an
editable install, a regular install and a zipped egg deployed to scrapyd all find it.
``ARCHIVE_CRAWLER_SCHEMA`` may point at another copy.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from functools import cache
from importlib.resources import files
from pathlib import Path

import fastjsonschema
from jsonschema import Draft202012Validator

__all__ = ["SCHEMA_PATH", "load_check", "load_schema", "load_validator", "record_errors"]

# The published file, in the repository.
SCHEMA_PATH = Path(__file__).resolve().parent.parent / "schema" / "record-v1.json"
# What the package reads: the same file (a symlink to it), or its copy inside an installed package or egg.
PACKAGED_SCHEMA = files(__package__) / "data" / "record-v1.json"


def schema_path():
    """The schema file to read: a Path, or a Traversable inside a zipped egg."""
    if os.environ.get("ARCHIVE_CRAWLER_SCHEMA"):
        return Path(os.environ["ARCHIVE_CRAWLER_SCHEMA"])
    return PACKAGED_SCHEMA


@cache
def load_schema() -> dict:
    path = schema_path()
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(
            f"the record schema {path} is missing: install archive-crawler with pip "
            "or set ARCHIVE_CRAWLER_SCHEMA"
        ) from None


def _inline_refs(node, definitions: dict):
    """The schema with every local ``#/$defs/...`` reference replaced by its definition: the same
    checks, without a reference lookup per field of every record (half of the validation cost)."""
    if isinstance(node, dict):
        inlined = {key: _inline_refs(value, definitions) for key, value in node.items() if key != "$ref"}
        ref = node.get("$ref")
        if not isinstance(ref, str):
            return inlined
        if not ref.startswith("#/$defs/"):
            return {**inlined, "$ref": ref}
        target = _inline_refs(definitions[ref.removeprefix("#/$defs/")], definitions)
        if set(target) & set(inlined):
            return {**inlined, "$ref": ref}  # keywords on both sides: leave it to the validator
        return {**target, **inlined}
    if isinstance(node, list):
        return [_inline_refs(item, definitions) for item in node]
    return node


@cache
def load_validator() -> Draft202012Validator:
    """The schema checked and compiled once per process (references inlined)."""
    published = load_schema()
    Draft202012Validator.check_schema(published)
    schema = _inline_refs(published, published.get("$defs", {}))
    # The format checker adds the calendar check of full dates ("2017-02-30" is not a date).
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


@cache
def load_check():
    """The same schema compiled to Python by fastjsonschema: a valid record passes in a tenth of
    jsonschema's walk. Only jsonschema explains a refusal; formats are judged by jsonschema's own
    format checker, so that both agree on every value. (fastjsonschema reads the inlined schema as
    draft 7: it uses no keyword whose meaning differs between the two drafts.)"""
    checker = Draft202012Validator.FORMAT_CHECKER
    schema = {**load_validator().schema, "$schema": "http://json-schema.org/draft-07/schema#"}
    formats = {name: (lambda value, name=name: checker.conforms(value, name))
               for name in ("date", "date-time", "uri")}
    return fastjsonschema.compile(schema, formats=formats)


def _where(error) -> str:
    return "/".join(str(p) for p in error.absolute_path) or "(record)"


def _describe(error) -> str:
    """The most telling message: through "X or null" alternatives down to what is wrong with X."""
    while error.validator == "anyOf" and error.context:
        useful = [e for e in error.context if not (e.validator == "type" and e.validator_value == "null")]
        branches = {e.relative_schema_path[0] for e in useful}
        if len(branches) != 1:
            break
        error = min(useful, key=lambda e: (-len(e.absolute_path), e.validator == "anyOf"))
    if error.validator == "anyOf" and isinstance(error.schema, dict) and error.schema.get("description"):
        return f"{_where(error)}: {error.instance!r} is not {error.schema['description'][0].lower()}{error.schema['description'][1:]}"
    return f"{_where(error)}: {error.message}"


def record_errors(record: Mapping) -> list[str]:
    """Why ``record`` is not a valid schema-1 record: one message per problem, empty when valid.

    Besides the schema, ``content_sha256`` must be the SHA-256 of ``text``."""
    record = dict(record)
    try:
        load_check()(record)
    except (fastjsonschema.JsonSchemaException, TypeError, ValueError):
        pass  # not valid, or not what the compiled check expects: jsonschema judges it and says why
    else:
        return _digest_errors(record)
    errors = sorted(load_validator().iter_errors(record), key=lambda e: list(map(str, e.absolute_path)))
    return [_describe(e) for e in errors] or _digest_errors(record)


def _digest_errors(record: dict) -> list[str]:
    text, digest = record.get("text"), record.get("content_sha256")
    if isinstance(text, str) and isinstance(digest, str):
        if hashlib.sha256(text.encode("utf-8")).hexdigest() != digest:
            return ["content_sha256: not the SHA-256 of text"]
    return []
