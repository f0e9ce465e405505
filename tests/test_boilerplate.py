"""Boilerplate learned from a site's own pages (the second mock archive has no site profile)."""

from __future__ import annotations

import json

import pytest

from conftest import REPO, read_jsonl
from pipelines.boilerplate import BoilerplateModel
from pipelines.records import build_record, page_lines

OTHER = REPO / "fixtures" / "otherarchive"
OTHER_URL = "http://memorywatch.example"
BOILERPLATE = [s for s in (REPO / "fixtures" / "otherarchive.boilerplate.txt").read_text(encoding="utf-8").splitlines()
               if s.strip()]


def page_file(path: str):
    return OTHER / (path.lstrip("/") + ("index.html" if path.endswith("/") else ""))


@pytest.fixture(scope="module")
def other_gold():
    return read_jsonl(REPO / "fixtures" / "otherarchive.gold.jsonl")


@pytest.fixture(scope="module")
def learned():
    """A model observed over every page of the mock site a crawl can reach (robots forbids /admin/)."""
    model = BoilerplateModel(site="memorywatch.example")
    for path in sorted(OTHER.rglob("*.html")):
        if "admin" not in path.parts:
            model.observe(page_lines(path.read_bytes()))
    return model


def test_without_a_learned_model_template_text_leaks(other_gold):
    texts = [build_record(page_file(g["path"]).read_bytes(), OTHER_URL + g["path"])["text"] for g in other_gold]
    assert any(s in text for text in texts for s in BOILERPLATE), "the fixture no longer tests learning"


def test_learned_model_removes_every_boilerplate_string_and_keeps_every_sentence(other_gold, learned):
    for gold in other_gold:
        record = build_record(page_file(gold["path"]).read_bytes(), OTHER_URL + gold["path"], boilerplate=learned)
        assert not [s for s in BOILERPLATE if s in record["text"]], gold["path"]
        assert record["text"] == gold["text"], gold["path"]
        assert (record["title"], record["language"], record["document_date"], record["dateline"]) == (
            gold["title"], gold["language"], gold["document_date"], gold["dateline"])


def test_lines_repeated_on_a_few_pages_are_not_boilerplate(other_gold, learned):
    from collections import Counter

    repeats = Counter(line for gold in other_gold for line in set(gold["text"].split("\n")))
    repeated = [line for line, n in repeats.items() if n >= 2]
    assert repeated, "the fixture has no legitimately repeated article lines"
    assert not [line for line in repeated if learned.is_boilerplate(line)]


def test_thresholds_need_both_a_count_and_a_share():
    model = BoilerplateModel(site="s", min_pages=5, min_share=0.2, warmup=3)
    for i in range(40):
        model.observe([f"article line number {i} of the site", "Subscribe to our newsletter today"]
                      + (["A quote cited by four different articles"] if i < 4 else [])
                      + (["A banner shown on a tenth of the pages"] if i % 10 == 0 else []))
    assert model.is_boilerplate("Subscribe to our newsletter today")
    assert model.is_boilerplate("  subscribe to our   NEWSLETTER today ")
    assert not model.is_boilerplate("A quote cited by four different articles")  # 4 < min_pages
    assert not model.is_boilerplate("A banner shown on a tenth of the pages")  # 4 pages, 10% < 20%
    assert not model.is_boilerplate("article line number 3 of the site")


def test_model_round_trips_through_its_file(tmp_path, learned):
    path = tmp_path / "model.json"
    learned.save(path)
    loaded = BoilerplateModel.load(path)
    assert loaded.pages == learned.pages
    assert loaded.is_boilerplate(BOILERPLATE[-3]) == learned.is_boilerplate(BOILERPLATE[-3])
    assert json.loads(path.read_text())["site"] == "memorywatch.example"
