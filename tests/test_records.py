"""The record function on every page of the mock archive, as `archive-crawler extract` runs it,
and on each kind of bad input."""

from __future__ import annotations

import json
import subprocess

import pytest

from conftest import BIN, REAL_SITE, SITE, read_jsonl
from pipelines.encoding import PageSkipped
from pipelines.records import build_record
from pipelines.schema import RECORD_FIELDS

URL = "https://www.derechos.org/nizkor/espana/doc/test1.html"
HEADER_C = "<p>Equipo Nizkor<p><a href=/l>Bookshop</a> | <a href=/d>Donate</a><p><a href=/>Derechos</a> | <a href=/n>Equipo Nizkor</a>"
FOOTER_C = ("<p><a href=/l>Bookshop</a> <a href=/d>Donate</a> <a href=/r>Radio Nizkor</a><p>Libya War"
            "<p><img alt='small logo'>This document has been published on 25May11 by the Equipo Nizkor and Derechos "
            "Human Rights. In accordance with Title 17 U.S.C. Section 107, this material is distributed without profit.")


def test_extract_command_matches_the_gold_record_of_every_page(gold):
    """`archive-crawler extract` on the saved pages: no HTTP headers, same records as the crawl's gold."""
    arguments = []
    for path in sorted(gold):
        arguments += ["--url", REAL_SITE + path, str(SITE / path.lstrip("/"))]
    result = subprocess.run([str(BIN / "archive-crawler"), "extract", *arguments], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(records) == len(gold)
    mismatches = []
    for record in records:
        expected = gold[record["url"].removeprefix(REAL_SITE)]
        for field in RECORD_FIELDS:
            if field != "fetched_at" and record[field] != expected[field]:
                mismatches.append((record["url"], field, record[field], expected[field]))
    assert not mismatches, "\n".join(map(repr, mismatches))


def test_extract_reports_pages_without_a_record_on_stderr(tmp_path):
    empty = tmp_path / "empty.html"
    empty.write_bytes(b"")
    result = subprocess.run([str(BIN / "archive-crawler"), "extract", "--url", URL, str(empty)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stdout == ""
    assert "empty" in result.stderr


def test_datelines_command_prints_one_object_per_line():
    lines = "[Fuente: La Jornada, México, D.F., 12mar09]\nSantiago de Chile, 11 sep (EFE).- La\nIn 2014 the website\n"
    result = subprocess.run([str(BIN / "archive-crawler"), "datelines"], input=lines, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0
    assert [json.loads(line) for line in result.stdout.splitlines()] == [
        {"place": "México, D.F.", "date": "2009-03-12", "agency": "La Jornada",
         "raw": "[Fuente: La Jornada, México, D.F., 12mar09]"},
        {"place": "Santiago de Chile", "date": None, "agency": "EFE", "raw": "Santiago de Chile, 11 sep (EFE).-"},
        {"place": None, "date": None, "agency": None, "raw": None},
    ]


@pytest.mark.parametrize(
    "body, reason",
    [
        (b"", "empty"),
        (b"\x1f\x8b\x08\x00" + bytes(range(256)) * 4, "binary"),
        (b"<!-- nothing but a comment -->", "unparsable"),
        (f"<html><body>{HEADER_C}{FOOTER_C}</body></html>".encode(), "no_text"),
    ],
)
def test_bad_input_gives_no_record_but_a_reason(body, reason):
    with pytest.raises(PageSkipped) as skipped:
        build_record(body, URL)
    assert skipped.value.reason == reason


def test_listing_pages_give_no_record():
    links = "".join(f"<li><a href='doc{i}.html'>Documento número {i} sobre la impunidad</a>" for i in range(30))
    page = f"<html><body>{HEADER_C}<h2>Índice</h2><ul>{links}</ul>{FOOTER_C}</body></html>".encode()
    with pytest.raises(PageSkipped) as skipped:
        build_record(page, "https://www.derechos.org/nizkor/espana/doc/lista1.html")
    assert skipped.value.reason == "listing_page"
    with pytest.raises(PageSkipped):
        build_record(page, "https://www.derechos.org/nizkor/espana/doc/index.html")


def test_a_minimal_layout_c_page():
    page = (f"<html><body>{HEADER_C}<p>25May11<p><a href=a>Español</a> | <a href=b>Français</a>"
            "<h3>Gaddafi forces shell Misrata port</h3><p>MOSCOW, May 23. /TASS/. Shelling continued on Monday."
            "<p>Aid groups said the port was closed.<p>[Source: Deutsche Presse-Agentur, Moscow, 25May11]"
            f"{FOOTER_C}</body></html>").encode()
    record = build_record(page, URL)
    assert record["title"] == "Gaddafi forces shell Misrata port"
    assert record["text"] == "MOSCOW, May 23. /TASS/. Shelling continued on Monday.\nAid groups said the port was closed."
    assert record["document_date"] == "2011-05-25"
    assert record["published_date"] == "2011-05-25"
    assert record["section"] == "Libya War"
    assert record["source"]["place"] == "Moscow"
    assert record["dateline"] == {"place": "MOSCOW", "date": "2011-05-23", "agency": "TASS",
                                  "raw": "MOSCOW, May 23. /TASS/."}


def test_a_malformed_link_does_not_break_a_page_of_a_site_without_profile():
    paragraphs = "".join(f"<p>Paragraph {i} of an article about the archive, long enough to be text.</p>" for i in range(8))
    page = (f"<html><body><h1>A headline</h1>{paragraphs}<a href='http://[ccpa-preferences]/x'>Privacy</a>"
            "</body></html>").encode()
    record = build_record(page, "https://example.org/news/")
    assert record["title"] == "A headline" and "Paragraph 7" in record["text"]
