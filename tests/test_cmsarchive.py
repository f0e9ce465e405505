"""The CMS-rendered mock archive (fixtures/cmsarchive/, issue 11): the contract command crawls it
through a real server, and every record is compared with its gold record field by field.

The fields the generic extraction does not get right yet are marked ``xfail`` (not strict) per
field and per kind of page, with the issue-11 point they wait for: remove a mark once its feature
lands (pytest reports it XPASS meanwhile). Each assertion message says how many pages agree.
"""

from __future__ import annotations

import subprocess
from collections import Counter
from urllib.parse import urlsplit

import pytest

from conftest import BIN, LOCAL_CRAWL, REPO, read_jsonl
from fixtures.cmsarchive_articles import ARTICLES, DRAFT
from pipelines.schema import RECORD_FIELDS

CMS = REPO / "fixtures" / "cmsarchive"
CMS_HEADERS = REPO / "fixtures" / "cmsarchive-headers.json"
CMS_GOLD = REPO / "fixtures" / "cmsarchive.gold.jsonl"
SPECS = {a["path"]: a for a in ARTICLES}


def crawl_cms(base_url: str, folder, *extra: str, timeout: int = 300) -> dict:
    """``scrapy crawl archive -a start_url=BASE/`` with CRAWL_STATE in ``folder``: records, stats, log."""
    from test_crawl import final_stats

    output, log_file = folder / "records.jsonl", folder / "crawl.log"
    command = [str(BIN / "scrapy"), "crawl", "archive", "-a", f"start_url={base_url}/", "-O", str(output),
               "-s", f"CRAWL_STATE={folder / 'state'}", *LOCAL_CRAWL, "-s", f"LOG_FILE={log_file}",
               "-s", "LOG_LEVEL=INFO", *extra]
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=timeout)
    log_text = log_file.read_text(encoding="utf-8") if log_file.is_file() else ""
    assert result.returncode == 0, (result.stderr + log_text)[-3000:]
    return {"records": read_jsonl(output), "stats": final_stats(log_text), "log": log_text}


@pytest.fixture(scope="module")
def cms_gold() -> dict[str, dict]:
    return {g["path"]: g for g in read_jsonl(CMS_GOLD)}


@pytest.fixture(scope="module")
def cms_crawl(tmp_path_factory):
    from fixtures.server import running_server

    folder = tmp_path_factory.mktemp("cms-crawl")
    with running_server(CMS, CMS_HEADERS) as site:
        crawl = crawl_cms(site.base_url, folder)
        crawl["requests"] = site.requests.snapshot()
        crawl["base_url"] = site.base_url
    crawl["by_path"] = {urlsplit(r["url"]).path: r for r in crawl["records"]}
    return crawl


# --- kinds of pages, from the specs -------------------------------------------------------------

def body_kinds(spec: dict) -> set[str]:
    kinds = {"tables" if block[0] == "table" else "lists" for block in spec["blocks"] if not isinstance(block, str)}
    if len(spec["blocks"]) == 3 and all(isinstance(b, str) and len(b) < 90 for b in spec["blocks"]):
        kinds.add("short")
    if spec["template"] == "drupal":
        kinds.add("drupal")
    return kinds or {"paragraphs"}


def date_kind(spec: dict) -> str:
    if spec["date"]:
        return "visible"
    if spec["meta_date"]:
        return "metadata"
    return "url" if spec["url_date"] else "none"


def title_kind(spec: dict) -> str:
    if spec["template"] == "drupal":
        return "drupal"
    if spec["kicker"]:
        return "kicker"
    return "seo_title" if spec["seo_title"] else "plain"


def agreement(crawl: dict, gold: dict, field: str, paths) -> tuple[list[tuple], int]:
    """(mismatches, pages compared) for one field over some gold pages."""
    paths = sorted(paths)
    mismatches = []
    for path in paths:
        record = crawl["by_path"].get(path)
        got = record[field] if record else "<no record>"
        if got != gold[path][field]:
            mismatches.append((path, got, gold[path][field]))
    return mismatches, len(paths)


def assert_agrees(crawl, gold, field, paths) -> None:
    mismatches, total = agreement(crawl, gold, field, paths)
    assert not mismatches, f"{field}: {total - len(mismatches)}/{total} agree\n" + "\n".join(
        f"{path}: {str(got)[:160]!r} != gold {str(want)[:160]!r}" for path, got, want in mismatches)


# --- the crawl --------------------------------------------------------------------------------------

def test_every_gold_article_gives_exactly_one_record(cms_crawl, cms_gold):
    paths = Counter(urlsplit(r["url"]).path for r in cms_crawl["records"])
    assert set(cms_gold) <= set(paths), f"no record: {sorted(set(cms_gold) - set(paths))}"
    assert max(paths.values()) == 1, "a page gave more than one record"


def test_listings_and_other_pages_give_no_record(cms_crawl, cms_gold):
    extra = sorted(set(cms_crawl["by_path"]) - set(cms_gold))
    assert not extra, f"{len(extra)} records from pages that are not articles: {extra}"


def test_records_have_the_schema_shape_and_the_site_host(cms_crawl):
    for record in cms_crawl["records"]:
        assert list(record) == list(RECORD_FIELDS)
        assert record["site"] == "127.0.0.1" and record["schema_version"] == "1"
        assert record["canonical_url"] == cms_crawl["base_url"] + urlsplit(record["url"]).path


def test_robots_txt_is_obeyed_and_read_once(cms_crawl):
    paths = [urlsplit(r["path"]).path for r in cms_crawl["requests"]]
    assert paths[0] == "/robots.txt" and paths.count("/robots.txt") == 1
    assert not [p for p in paths if p.startswith(("/wp-admin/", "/borradores/"))]
    assert DRAFT["path"] not in paths
    assert cms_crawl["stats"].get("robotstxt/forbidden", 0) >= 1


# --- field by field ---------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", [
    "plain", "kicker", "seo_title", "drupal",
])
def test_title_is_the_headline(cms_crawl, cms_gold, kind):
    """Not the site's name (an <h1> on every third page), not the kicker, not <title>/og:title."""
    assert_agrees(cms_crawl, cms_gold, "title", [p for p, s in SPECS.items() if title_kind(s) == kind])


@pytest.mark.parametrize("kind", [
    "paragraphs",
    "lists",
    "tables",
    "short",
    "drupal",
])
def test_text_is_the_body(cms_crawl, cms_gold, kind):
    assert_agrees(cms_crawl, cms_gold, "text", [p for p, s in SPECS.items() if kind in body_kinds(s)])


@pytest.mark.parametrize("kind", [
    "visible",
    "metadata",
    "url",
    "none",
])
def test_document_date(cms_crawl, cms_gold, kind):
    assert_agrees(cms_crawl, cms_gold, "document_date", [p for p, s in SPECS.items() if date_kind(s) == kind])


@pytest.mark.parametrize("field", ["language", "section", "published_date", "source", "dateline"])
def test_other_fields(cms_crawl, cms_gold, field):
    assert_agrees(cms_crawl, cms_gold, field, cms_gold)


def test_content_hash_follows_the_gold_text(cms_crawl, cms_gold):
    assert_agrees(cms_crawl, cms_gold, "content_sha256", cms_gold)


def test_the_fixture_is_what_its_specifications_say():
    result = subprocess.run([str(BIN / "python"), "-m", "fixtures.build_cmsarchive", "--check"], cwd=REPO,
                            capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr
