"""Boilerplate learned from a site's own pages (the second mock archive has no site profile)."""

from __future__ import annotations

import json

import pytest

from conftest import REPO, read_jsonl
from pipelines.boilerplate import BoilerplateModel, line_keys
from pipelines.records import build_record, read_page

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
            url = f"{OTHER_URL}/{path.relative_to(OTHER).as_posix()}"
            model.observe(read_page(path.read_bytes(), url).line_keys)
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
        model.observe(line_keys([f"article line number {i} of the site", "Subscribe to our newsletter today"]
                                + (["A quote cited by four different articles"] if i < 4 else [])
                                + (["A banner shown on a tenth of the pages"] if i % 10 == 0 else [])))
    assert model.is_boilerplate("Subscribe to our newsletter today")
    assert model.is_boilerplate("  subscribe to our   NEWSLETTER today ")
    assert not model.is_boilerplate("A quote cited by four different articles")  # 4 < min_pages
    assert not model.is_boilerplate("A banner shown on a tenth of the pages")  # 4 pages, 10% < 20%
    assert not model.is_boilerplate("article line number 3 of the site")


def test_model_memory_is_bounded_and_never_overcounts():
    """20,000 pages of 60 unique lines and 5 template lines: at most ``capacity`` counters, the
    template still boilerplate, and no article line ever counted above its true page count."""
    model = BoilerplateModel(site="s", capacity=512)
    template = [f"Template line number {k} of every page" for k in range(5)]
    banner = "A campaign banner on a third of the pages"
    for i in range(20_000):
        lines = template + [f"Article {i} sentence {j} says something new" for j in range(60)]
        model.observe(line_keys(lines + ([banner] if i % 3 == 0 else [])))
        assert len(model.counts) <= 512
    assert all(model.is_boilerplate(line) for line in template)
    assert model.is_boilerplate(banner)
    assert not model.is_boilerplate("Article 19999 sentence 0 says something new")
    assert max(n for key, n in model.counts.items() if key not in model.boilerplate_keys()) <= 1
    assert len(model.to_json()["counts"]) <= 512


def test_model_round_trips_through_its_file(tmp_path, learned):
    path = tmp_path / "model.json"
    learned.save(path)
    loaded = BoilerplateModel.load(path)
    assert loaded.pages == learned.pages
    assert loaded.is_boilerplate(BOILERPLATE[-3]) == learned.is_boilerplate(BOILERPLATE[-3])
    assert json.loads(path.read_text())["site"] == "memorywatch.example"


@pytest.fixture(scope="module")
def other_site():
    from fixtures.server import running_server

    with running_server(OTHER) as server:
        yield server


def crawl_archive(base_url: str, folder, *extra: str):
    import subprocess

    from conftest import BIN, LOCAL_CRAWL

    output = folder / "records.jsonl"
    command = [str(BIN / "scrapy"), "crawl", "archive", "-a", f"start_url={base_url}/", "-O", str(output),
               "-s", f"CRAWL_STATE={folder / 'state'}", *LOCAL_CRAWL, *extra]
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return read_jsonl(output), result


def test_archive_spider_crawls_a_site_without_profile_into_clean_records(other_site, other_gold, tmp_path):
    records, _ = crawl_archive(other_site.base_url, tmp_path)
    by_path = {r["url"].removeprefix(other_site.base_url): r for r in records}
    assert sorted(by_path) == sorted(g["path"] for g in other_gold), "index, listing and about pages give no record"
    for gold in other_gold:
        record = by_path[gold["path"]]
        assert not [s for s in BOILERPLATE if s in record["text"]], gold["path"]
        assert record["text"] == gold["text"], gold["path"]
        assert (record["title"], record["language"], record["document_date"], record["dateline"]) == (
            gold["title"], gold["language"], gold["document_date"], gold["dateline"]), gold["path"]
        assert record["site"] == "127.0.0.1" and record["section"] is None and record["published_date"] is None
    assert not [r for r in other_site.requests if r["path"].startswith("/admin/")], "robots.txt is obeyed"


def test_the_next_crawl_starts_from_the_saved_model(other_site, tmp_path):
    crawl_archive(other_site.base_url, tmp_path)
    [model_file] = (tmp_path / "state").glob("boilerplate-*.json")
    saved = BoilerplateModel.load(model_file)
    assert saved.ready and saved.is_boilerplate("We use cookies to improve your experience.")
    # With the model in place nothing needs holding: records leave as soon as their page is read.
    records, result = crawl_archive(other_site.base_url, tmp_path, "-s", "LOG_LEVEL=INFO")
    assert "Boilerplate model of" in result.stderr
    assert not [s for r in records for s in BOILERPLATE if s in r["text"]]


def test_extract_applies_a_saved_model(other_site, other_gold, tmp_path):
    import subprocess

    from conftest import BIN

    crawl_archive(other_site.base_url, tmp_path)
    [model_file] = (tmp_path / "state").glob("boilerplate-*.json")
    gold = next(g for g in other_gold if g["path"].startswith("/reports/"))
    command = [str(BIN / "archive-crawler"), "extract", "--url", OTHER_URL + gold["path"], str(page_file(gold["path"]))]
    plain = json.loads(subprocess.run(command, capture_output=True, text=True, check=True).stdout)
    learned = json.loads(subprocess.run(command + ["--model", str(model_file)], capture_output=True, text=True,
                                        check=True).stdout)
    assert [s for s in BOILERPLATE if s in plain["text"]]
    assert learned["text"] == gold["text"]
