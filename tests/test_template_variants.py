"""derechos.org template variants: every element of the template (header, date line, language links,
headline, body, in-page navigation, source line, link row, section, notice) in each markup a hand-made
site uses, combined systematically (fixtures/build_derechos.py, "Template variants"). The profile and
the templated extraction must give each page its gold record, computed from the page's spec, with no
template text leaking into ``text``; pages from held-out seeds, never committed, check that the rules
hold on combinations they were not tuned on."""

from __future__ import annotations

import pytest

from conftest import SITE, read_jsonl, GOLD
from fixtures.build_derechos import (
    LINK_ROWS,
    NOTICE,
    VARIANT_DIMENSIONS,
    VARIANTS,
    render_variant,
    source_raw,
    uncovered_pairs,
    variant_allowed,
    variant_gold,
    variant_specs,
)
from fixtures.derechos_articles import VARIANT_TEXT
from pipelines.extraction import parse_html, visible_lines
from pipelines.records import build_record
from pipelines.schema import RECORD_FIELDS

COMPARED = [f for f in RECORD_FIELDS if f != "fetched_at"]
# Seeds of random combinations that are rendered here only (never committed, never tuned on).
HELD_OUT = [(4099, 30), (31337, 30)]


def held_out_specs() -> list[dict]:
    specs = []
    for number, (seed, count) in enumerate(HELD_OUT):
        specs += variant_specs(seed, count=count, first_index=500 + 100 * number)
    return specs


def template_strings(spec: dict) -> list[str]:
    """Every piece of template text the page shows outside its body."""
    words = VARIANT_TEXT[spec["lang"]]
    strings = [t for _, t in LINK_ROWS[spec["linkrow"]]]
    strings += [label for label, _ in words["back_links"]] + words["toc_headings"]
    strings += ["EQUIPO NIZKOR", "DERECHOS", "Bookshop", "Donate", "Tienda", "Radio Nizkor", "small logo",
                "Derechos | Equipo Nizkor"]
    if spec["lang_links"]:
        strings += [name for name, _ in spec["lang_links"]]
    if spec["section"]:
        strings.append(spec["section"][0])
    if spec["source"]:
        strings.append(source_raw(spec["source"]))
    if spec["notice"]:
        strings.append(NOTICE[spec["notice"][2]].format(date=spec["notice"][0])[:40])
    if spec["date_line"]:
        strings.append(spec["date_line"][0])
    strings += [heading for heading, _ in spec["parts"] if heading]  # a table of contents repeats them
    return strings


def leaks(record: dict, spec: dict) -> list[str]:
    """Template strings found as a line of the record's text, or in the part of a line not in the gold."""
    gold_lines = set(variant_gold(spec)["text"].split("\n"))
    extra = [line for line in record["text"].split("\n") if line not in gold_lines]
    return [s for s in template_strings(spec) if any(s in line for line in extra)]


def mismatches(record: dict, gold: dict) -> list[tuple]:
    return [(field, record[field], gold[field]) for field in COMPARED if record[field] != gold[field]]


def test_the_committed_variants_cover_every_pair_of_element_markups():
    rows = [v["row"] for v in VARIANTS]
    assert uncovered_pairs(rows, VARIANT_DIMENSIONS, variant_allowed) == []
    assert all(variant_allowed(row) for row in rows)
    for name, values in VARIANT_DIMENSIONS.items():
        assert {row[name] for row in rows} == set(values), name


def test_the_variant_pages_are_in_the_gold_file():
    gold_urls = {record["url"] for record in read_jsonl(GOLD)}
    assert {variant_gold(v)["url"] for v in VARIANTS} <= gold_urls
    assert [variant_gold(v) for v in VARIANTS] == [r for r in read_jsonl(GOLD) if "/nizkor/variantes/" in r["url"]]


@pytest.fixture(scope="module")
def held_out() -> list[tuple[dict, dict]]:
    """(spec, record) of every held-out page."""
    return [(spec, build_record(render_variant(spec), variant_gold(spec)["url"])) for spec in held_out_specs()]


@pytest.mark.parametrize("spec", VARIANTS, ids=[v["path"].rsplit("/", 1)[1] for v in VARIANTS])
def test_each_committed_variant_page_gives_its_gold_record(spec):
    gold = variant_gold(spec)
    record = build_record((SITE / spec["path"].lstrip("/")).read_bytes(), gold["url"])
    assert not leaks(record, spec)
    assert not mismatches(record, gold), spec["row"]


def test_held_out_combinations_give_their_gold_records(held_out):
    failures = [(spec["path"], spec["row"], leaks(record, spec), mismatches(record, variant_gold(spec)))
                for spec, record in held_out
                if mismatches(record, variant_gold(spec)) or leaks(record, spec)]
    assert not failures, "\n".join(map(repr, failures))


def test_held_out_pages_render_every_markup(held_out):
    """The held-out seeds are not a narrow sample: each markup of each element is among them."""
    for name, values in VARIANT_DIMENSIONS.items():
        assert {spec["row"][name] for spec, _ in held_out} == set(values), name


@pytest.mark.parametrize("element", ["header", "date", "lang_links", "title", "body", "nav", "source", "link_row",
                                     "section", "notice"])
def test_every_markup_of_an_element_is_read(held_out, element):
    """Held-out pages grouped by the markup of one element, so that a failure names the markup a rule misses."""
    wrong: dict[str, list[str]] = {}
    for spec, record in held_out:
        if mismatches(record, variant_gold(spec)):
            wrong.setdefault(spec["row"][element], []).append(spec["path"])
    assert wrong == {}


# --- what the rules rely on: the page cut into visible lines ---


def lines_of(body: str):
    return visible_lines(parse_html(f"<html><body>{body}</body></html>"))


def test_image_alt_texts_are_shown_but_not_read():
    [line] = lines_of('<p><img alt="small logo">This document has been published on 25May11</p>')
    assert line.text == "This document has been published on 25May11"
    assert line.shown == "small logo This document has been published on 25May11"
    [row] = lines_of('<table><tr><td><a href="/d"><img alt="Donaciones"></a></td>'
                     '<td><a href="/r"><img alt="Radio Nizkor"></a></td></tr></table>')
    assert (row.text, row.shown) == ("", "Donaciones Radio Nizkor")


def test_an_empty_line_ends_a_paragraph_a_single_br_does_not():
    title, first, second = lines_of("<font><b>Headline</b></font><br><br><font>One.<br>Two.</font>")
    assert title.block != first.block and first.block == second.block


def test_links_into_the_page_are_told_from_other_links():
    toc, back, prose = lines_of('<p>1. <a href="#s1">Antecedentes</a><br><a href="index.html">Volver</a><br>'
                                'See <a href="#n1">note 1</a>.</p>')
    assert (toc.unlinked, toc.anchor_chars, toc.link_chars) == ("1.", len("Antecedentes"), len("Antecedentes"))
    assert (back.anchor_chars, back.link_chars) == (0, len("Volver"))
    assert prose.unlinked == "See ."
