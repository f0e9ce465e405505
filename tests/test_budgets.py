"""Bounded work per page (pipelines/budgets.py): a page over a budget is skipped with its reason
before extraction; a page within them still gives its record."""

from __future__ import annotations

import pytest

from pipelines.encoding import PageSkipped
from pipelines.profiles import load_profile
from pipelines.records import build_record, read_page

GENERIC = load_profile("generic")
PARAGRAPH = "<p>El tribunal oyó a los testigos de la causa durante toda la mañana del martes.</p>"


def page(body: str) -> bytes:
    return f"<html><head><title>Causa</title></head><body><h1>Causa</h1>{body}</body></html>".encode()


def test_a_page_of_a_hundred_thousand_links_is_skipped_before_extraction():
    links = "".join(f'<a href="/many/{i}.html">link {i}</a><br>' for i in range(100_000))
    with pytest.raises(PageSkipped) as skipped:
        read_page(page(PARAGRAPH * 3 + links), "http://127.0.0.1:1/many.html", profile=GENERIC)
    assert skipped.value.reason == "too_many_elements"


def test_budgets_are_arguments_and_a_page_within_them_gives_its_record():
    body = page(PARAGRAPH * 20)
    assert build_record(body, "http://127.0.0.1:1/a.html", profile=GENERIC)["title"] == "Causa"
    with pytest.raises(PageSkipped) as skipped:
        read_page(body, "http://127.0.0.1:1/a.html", profile=GENERIC, max_elements=20)
    assert skipped.value.reason == "too_many_elements"
    with pytest.raises(PageSkipped) as skipped:
        read_page(body, "http://127.0.0.1:1/a.html", profile=GENERIC, max_bytes=1000)
    assert skipped.value.reason == "too_large"
    assert read_page(body, "http://127.0.0.1:1/a.html", profile=GENERIC, max_bytes=0, max_elements=0).parts.title


def test_fifty_thousand_nested_elements_give_a_counted_skip_or_a_record_never_an_error():
    body = page("<div>" * 50_000 + PARAGRAPH * 3 + "</div>" * 50_000)
    try:
        record = build_record(body, "http://127.0.0.1:1/deep.html", profile=GENERIC)
    except PageSkipped as skipped:
        assert skipped.reason in ("too_deep", "too_many_elements")
    else:
        assert "testigos" in record["text"]
