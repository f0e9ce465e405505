"""Titles and dates of pages without a site profile (pipelines/generic.py ``page_title``,
``page_date``). Titles over systematic variants of the markups that put something else than the headline first: a kicker the markup names
by its class, in its own element or followed by the headline as loose text; and the site's name in an
<h1> that links to the front page, before the article's own <h1>. Dates: a date line that states no
day, beside a URL or markup that does."""

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


# --- a visible date line without its day -----------------------------------------------------------

from pipelines.generic import page_date  # noqa: E402

DAYLESS_LINES = ["Okt 2019", "Oktober 2019", "octobre 2019", "October 2019", "octubre de 2019"]
PRECISE = {
    "url": ("https://blog.example/2019/10/31/eintrag/", ""),
    "meta": ("https://blog.example/eintrag/", '<meta property="article:published_time" content="2019-10-31T08:00:00+01:00">'),
    "json-ld": ("https://blog.example/eintrag/",
                '<script type="application/ld+json">{"@type": "NewsArticle", "datePublished": "2019-10-31"}</script>'),
}


def _dated(line: str, url: str, head: str) -> str | None:
    tree = lxml.html.fromstring(f"<html><head>{head}</head><body><article><h1>{HEADLINE}</h1><p>{line}</p>"
                                f"<p>{'Der Text des Artikels. ' * 20}</p></article></body></html>")
    when = page_date(tree, url, tree.find(".//h1"), None)[0]
    return when.iso() if when else None


@pytest.mark.parametrize("line,where", list(itertools.product(DAYLESS_LINES, PRECISE)))
def test_a_dayless_date_line_takes_the_day_the_url_or_the_markup_states(line, where):
    url, head = PRECISE[where]
    assert _dated(line, url, head) == "2019-10-31"


@pytest.mark.parametrize("line", DAYLESS_LINES)
def test_a_day_that_disagrees_with_the_line_is_not_taken(line):
    assert _dated(line, "https://blog.example/2019/11/30/eintrag/", "") == "2019-10"
    assert _dated(line, "https://blog.example/2018/10/31/eintrag/", "") == "2019-10"
    assert _dated(line, "https://blog.example/eintrag/", "") == "2019-10"


# --- contact pages --------------------------------------------------------------------------------

from pipelines.encoding import PageSkipped  # noqa: E402
from pipelines.records import build_record  # noqa: E402

CONTACT_FORMS = {
    "wordpress cf7": '<form class="wpcf7-form" method="post"><p><label>{name} <input type="text" name="n"></label></p>'
                     '<p><label>{mail} <input type="email" name="e"></label></p><p><label>{message} <textarea name="m">'
                     '</textarea></label></p><p><input type="submit" value="{send}"></p></form>',
    "drupal webform": '<form class="webform-submission-form" id="webform-contact"><div class="form-item"><label for="a">{name}'
                      '</label><input id="a" type="text"></div><div class="form-item"><label for="b">{message}</label>'
                      '<textarea id="b"></textarea></div><button type="submit">{send}</button></form>',
    "hand-made": '<form action="/cgi-bin/mail.pl" method="post">{name}: <input name="n"><br>{mail}: <input name="e">'
                 '<br>{message}:<br><textarea name="m"></textarea><br><input type="submit" value="{send}"></form>',
}
WORDS = {"es": dict(name="Nombre", mail="Correo", message="Mensaje", send="Enviar", title="Contacto"),
         "en": dict(name="Name", mail="E-mail", message="Message", send="Send", title="Contact us")}
EXTRAS = ["", '<p><a href="mailto:archivo@example.org">archivo@example.org</a></p>',
          "<p>Calle Mayor 12, 28013 Madrid</p>", "<p>www.example.org</p>"]
ARTICLE = ("<p>La Corte Suprema ordenó reabrir la investigación sobre la desaparición de tres estudiantes "
           "en 1984, después de que nuevos testigos declararan ante la fiscalía.</p>"
           "<p>Las familias pidieron que el caso no vuelva a archivarse.</p>")
COMMENT_FORMS = [
    '<div id="respond" class="comment-respond"><h3>Deja un comentario</h3><form id="commentform" class="comment-form">'
    '<p><label>Comentario <textarea name="comment"></textarea></label></p><p><label>Nombre <input name="author">'
    '</label></p><input type="submit" value="Publicar"></form></div>',
    '<section class="comments"><form class="comment-form" id="comment-form"><label>Your comment</label><textarea>'
    '</textarea><button>Post</button></form></section>',
]


def _page(title: str, content: str) -> bytes:
    return (f'<html><head><title>{title} | Voces del Sur</title></head><body><header><a href="/">Voces del Sur</a>'
            f'</header><main><article><h1 class="entry-title">{title}</h1><div class="entry-content">{content}</div>'
            '</article></main><footer><p>© 2024 Voces del Sur</p></footer></body></html>').encode()


@pytest.mark.parametrize("form,language,extra", list(itertools.product(CONTACT_FORMS, WORDS, EXTRAS)))
def test_a_contact_page_gives_no_record(form, language, extra):
    words = WORDS[language]
    body = _page(words["title"], extra + CONTACT_FORMS[form].format(**words))
    with pytest.raises(PageSkipped) as skipped:
        build_record(body, "https://vocesdelsur.example.org/contacto/")
    assert skipped.value.reason == "form_page"


@pytest.mark.parametrize("comments", COMMENT_FORMS)
def test_a_short_article_with_a_comment_form_is_an_article(comments):
    record = build_record(_page("Reabren el caso de los estudiantes", ARTICLE + comments),
                          "https://vocesdelsur.example.org/noticias/reabren-caso/")
    assert record["text"].startswith("La Corte Suprema ordenó")


@pytest.mark.parametrize("form", CONTACT_FORMS)
def test_an_article_that_ends_with_a_contact_form_is_an_article(form):
    content = ARTICLE * 2 + CONTACT_FORMS[form].format(**WORDS["es"])
    record = build_record(_page("Reabren el caso de los estudiantes", content),
                          "https://vocesdelsur.example.org/noticias/reabren-caso/")
    assert "Las familias pidieron" in record["text"]
