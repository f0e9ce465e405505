"""Titles of pages without a site profile (pipelines/generic.py ``page_title``), over systematic
variants of the markups that put something else than the headline first: a kicker the markup names
by its class, in its own element or followed by the headline as loose text; and the site's name in an
<h1> that links to the front page, before the article's own <h1>."""

from __future__ import annotations

import itertools

import lxml.html
import pytest

from pipelines.generic import page_title

HEADLINE = "Daten von Rheinmetall gehackt"
KICKER = "Interne Unterlagen im Netz"
SITE = "Tagesschau Nachrichten"

KICKER_MARKUPS = {
    "two spans": '<span class="{cls}">{kicker}</span>{sep}<span class="headline">{headline}</span>',
    "span and loose text": '<span class="{cls}">{kicker}</span>{sep}{headline}',
    "div and loose text": '<div class="{cls}">{kicker}</div>{sep}{headline}',
    "glued": '<span class="{cls}">{kicker}</span>{headline}',
}
KICKER_CLASSES = ["dachzeile", "kicker", "article-overline", "c-eyebrow"]
SEPARATORS = [" ", ": ", " \n  "]
TITLES = [f"{KICKER}: {HEADLINE} | {SITE}", f"{HEADLINE} | {SITE}", SITE, ""]
SOCIAL = [None, f"{HEADLINE} - {KICKER}", f"{KICKER}: {HEADLINE}"]


def page(h1: str, title: str, social: str | None, before: str = "") -> lxml.html.HtmlElement:
    meta = f'<meta property="og:title" content="{social}">' if social else ""
    return lxml.html.fromstring(f"<html><head><title>{title}</title>{meta}</head><body>{before}"
                                f"<article><h1>{h1}</h1><p>{'Der Text des Artikels. ' * 20}</p></article>"
                                "</body></html>")


@pytest.mark.parametrize("markup,cls,sep,title,social", list(itertools.product(
    KICKER_MARKUPS, KICKER_CLASSES, SEPARATORS, TITLES, SOCIAL)))
def test_a_kicker_named_by_its_class_is_left_out(markup, cls, sep, title, social):
    h1 = KICKER_MARKUPS[markup].format(cls=cls, kicker=KICKER, sep=sep, headline=HEADLINE)
    assert page_title(page(h1, title, social)) == HEADLINE


SITE_HEADINGS = {
    "root link": '<h1><a href="/">{site}</a></h1>',
    "absolute root link": '<h1 class="logo"><a href="https://www.example.org/" title="{site}">{site}</a></h1>',
    "index link": '<h1><a href="/index.html"><img src="/logo.png" alt="">{site}</a></h1>',
}
ARTICLE_HEADINGS = ['{headline}', '<span class="entry-title">{headline}</span>']


@pytest.mark.parametrize("site_heading,article_heading,title", list(itertools.product(
    SITE_HEADINGS, ARTICLE_HEADINGS, [f"{HEADLINE} | {SITE}", f"{HEADLINE} : {SITE}", f"{SITE} » {HEADLINE}"])))
def test_an_h1_that_links_to_the_front_page_is_the_sites_name(site_heading, article_heading, title):
    before = f"<header>{SITE_HEADINGS[site_heading].format(site=SITE)}</header>"
    h1 = article_heading.format(headline=HEADLINE)
    assert page_title(page(h1, title, None, before)) == HEADLINE


def test_a_headline_that_links_to_its_own_article_is_still_the_headline():
    """Only a link to the front page makes an <h1> the site's name."""
    h1 = f'<a href="/2020/05/rheinmetall.html">{HEADLINE}</a>'
    assert page_title(page(h1, f"{HEADLINE} | {SITE}", None)) == HEADLINE
