"""What a page of a site without a profile says about itself: its headline and its date.

**Title** (``page_title``): the headline of the article, not the site's name. The candidates are the
page's ``<h1>`` elements (without a kicker whose class says kicker/overline/Dachzeile, and also tried
without a short first part the page's other titles leave out; never an ``<h1>`` that is a link to
the front page: the site's name or logo), and the references
``og:title``/``twitter:title``, JSON-LD ``headline``, ``<title>`` and the parts of ``<title>``
between separators (" | ", " - ", " – ", ...). In order:

1. an ``<h1>`` that equals a reference (case and punctuation aside), and is not the site's name
   (``og:site_name``, or the name at one end of a ``<title>`` of several parts that no other
   reference repeats);
2. an ``<h1>`` of 8 characters or more that a reference contains and that is at least 40% of it
   (the reference adds the site's name or a kicker);
3. an ``<h2>`` that equals a reference (sites that keep ``<h1>`` for their logo);
4. ``og:title`` without a trailing site name; 5. the longest part of ``<title>`` that is not the
   site's name; 6. the only ``<h1>``.

**Document date** (``page_date``), in this order of trust, the first that gives one:

1. (a site profile's own date line: ``pipelines/extraction.py``, templated pages);
2. ``visible``: a line that is wholly a date (a label, a time, a byline around it allowed: see
   ``pipelines.dates.find_labelled_date``) among the first lines under the headline, or the first
   line of the main text; a line without its day ("Okt 2019") takes the day of a date in the URL,
   else in the markup, that agrees with what the line shows;
3. ``metadata``: the page's publication date in its markup: ``<meta>`` publication tags
   (``article:published_time``, ``datePublished``, Dublin Core ``date``/``date.issued``, ...),
   JSON-LD ``datePublished``, ``<time datetime>`` marked as the publication time or inside the
   article; at the precision written (``2009-03`` stays a month);
4. ``htmldate``: ``htmldate.find_date(original_date=True)``, the library's judgement of the whole
   page, as a last resort (day precision), except its guess from a copyright year (1 January).

A markup date within a day of a full date in the URL gives way to the URL's (markup often writes
the moment in UTC, the URL the site's own calendar day).

A footer's copyright range, a counter or a teaser's date is never one of these: lines are read only
under the headline, and numbers alone are not dates (``pipelines/dates.py``).

**Contact pages** (``form_texts``): a page with a contact form (a ``<textarea>``, not a comment
form) that shows less than ``FORM_PAGE_MAX_CHARS`` of text besides the form and addresses gives no
record (``pipelines/records.py``: ``form_page``).
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from urllib.parse import urlsplit

import lxml.html

from .dates import PartialDate, find_labelled_date
from .encoding import collapse as _collapse

__all__ = ["DATE_SOURCES", "is_furniture", "metadata_date", "page_date", "page_title", "teaser_share", "teaser_texts", "url_date"]

DATE_SOURCES = ("visible", "metadata", "htmldate")
# Lines under the headline where a visible date line is looked for (a byline or kicker may come first).
DATE_LINE_WINDOW = 4
TITLE_SEPARATORS = re.compile(r"\s+(?:\||–|—|-|::|:|·|•|»|«|/|//|\\|│)\s+|\s*[|│]\s*")
KICKER_CLASS = re.compile(r"kicker|overline|dachzeile|topline|roofline|eyebrow|supertitle|antetitulo|volanta",
                          re.IGNORECASE)
# <meta> names and properties that state when the article was published, most specific first.
PUBLISHED_META = (
    "article:published_time", "og:published_time", "datepublished", "publication_date", "publish-date",
    "pubdate", "parsely-pub-date", "sailthru.date", "dc.date.issued", "dcterms.issued", "dc.date",
    "dcterms.date", "date", "citation_publication_date", "citation_date",
)
# Parts of a page that hold other articles' dates (htmldate is not shown them).
_OTHER = ("related",)
ELSEWHERE = "//aside | " + " | ".join(
    f"//*[contains(@class, '{word}') or contains(@id, '{word}')]" for word in _OTHER)
_ISO_DATE = re.compile(r"\s*(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?(?:$|[T\s]|[+-]\d{2}|Z)")
_JSON_LD_DATE = re.compile(r'"datePublished"\s*:\s*"([^"]{4,40})"')


def _fold(text: str | None) -> str:
    return re.sub(r"\W+", " ", _collapse(text).casefold()).strip()


# --------------------------------------------------------------------------- title


def _meta(tree: lxml.html.HtmlElement, *keys: str) -> str:
    for node in tree.iter("meta"):
        key = (node.get("property") or node.get("name") or node.get("itemprop") or "").strip().lower()
        if key in keys and _collapse(node.get("content")):
            return _collapse(node.get("content"))
    return ""


def _json_ld(tree: lxml.html.HtmlElement) -> Iterator[dict]:
    for script in tree.xpath('//script[@type="application/ld+json"]'):
        try:
            data = json.loads(script.text or "")
        except ValueError:
            continue
        stack = [data]
        while stack:
            item = stack.pop()
            if isinstance(item, list):
                stack.extend(item)
            elif isinstance(item, dict):
                yield item
                stack.extend(value for key, value in item.items() if key == "@graph" or isinstance(value, dict))


def _headline_variants(node: lxml.html.HtmlElement) -> list[str]:
    """An <h1>'s text, and the same without a kicker (a first child element with text of its own,
    followed by the headline in further elements or as loose text). A kicker its class names is left
    out for good; a short first part is only tried as one."""
    full = _collapse(node.text_content())
    variants = [full]
    children = [child for child in node if isinstance(child.tag, str)]
    if children and not _collapse(node.text) and (kicker := _collapse(children[0].text_content())):
        rest = _collapse(" ".join([children[0].tail or ""] + [
            f"{child.text_content()} {child.tail or ''}" for child in children[1:]])).lstrip(" :|-–—·•")
        if rest:
            if KICKER_CLASS.search(children[0].get("class") or ""):
                return [rest]
            if len(kicker.split()) <= 5:
                variants.append(rest)
    return [variant for variant in variants if variant]


_FRONT_PAGE_PATHS = ("", "/", "/index.html", "/index.htm", "/index.php")


def _links_home(node: lxml.html.HtmlElement) -> bool:
    """A heading whose whole text is a link to the site's front page: the site's name or logo."""
    links = [a for a in node.iter("a") if _collapse(a.text_content())]
    if not links or _collapse(" ".join(a.text_content() for a in links)) != _collapse(node.text_content()):
        return False
    targets = [urlsplit((a.get("href") or "").strip()) for a in links]
    return all(target.path in _FRONT_PAGE_PATHS and not target.query for target in targets)


def page_title(tree: lxml.html.HtmlElement) -> str | None:
    """The article's headline (see the module)."""
    title_node = tree.find(".//title")
    html_title = _collapse(title_node.text_content()) if title_node is not None else ""
    parts = [part for part in TITLE_SEPARATORS.split(html_title) if part.strip()] if html_title else []
    social = _meta(tree, "og:title", "twitter:title")
    site = _fold(_meta(tree, "og:site_name", "application-name"))
    headlines = [_collapse(item["headline"]) for item in _json_ld(tree)
                 if isinstance(item.get("headline"), str) and _collapse(item["headline"])]
    whole = [text for text in (social, *headlines, html_title) if text]
    references = whole + parts
    longest_part = _fold(max(parts, key=len)) if parts else ""

    def site_name(text: str) -> bool:
        folded = _fold(text)
        if site and folded == site:
            return True
        if any(_fold(reference) == folded for reference in whole):
            return False
        # The name at the end of a title of several parts ("Headline | Site"), or at its start when
        # that is the shorter end ("Site » Headline").
        if len(parts) < 2 or folded == longest_part:
            return False
        return folded == _fold(parts[-1]) or (folded == _fold(parts[0]) and len(parts[0]) < len(parts[-1]))

    candidates = []
    for node in tree.xpath("//body//h1"):
        if _links_home(node):
            continue
        candidates += [text for text in _headline_variants(node) if len(text) < 300 and not site_name(text)]
    for candidate in candidates:
        if any(_fold(reference) == _fold(candidate) for reference in references):
            return candidate
    for candidate in candidates:
        folded = _fold(candidate)
        if len(folded) >= 8 and any(folded in _fold(r) and len(folded) > 0.4 * len(_fold(r)) for r in references):
            return candidate
        # A kicker glued to the headline ("Tunesien Große Aufgaben ..."): the page's own title is the rest.
        for reference in whole:
            rest = _fold(reference)
            if len(rest) >= 12 and folded.endswith(" " + rest) and len(rest) >= 0.6 * len(folded):
                return reference
    if len(candidates) == 1 or (candidates and len({_fold(c) for c in candidates}) == 1):
        return candidates[0]  # the page's one headline, whatever its <title> says (often the site's name)
    for node in tree.xpath("//body//h2")[:3]:
        text = _collapse(node.text_content())
        if len(text) > 10 and any(_fold(reference) == _fold(text) for reference in references):
            return text
    if not candidates:  # no <h1>: a site that keeps it for nothing, or for its logo
        for node in tree.xpath("//body//h2")[:1]:
            text = _collapse(node.text_content())
            if len(text.split()) >= 3 and not site_name(text) and find_labelled_date(text) is None:
                return text
    if social and _fold(social) != site:
        pieces = [piece for piece in TITLE_SEPARATORS.split(social) if piece.strip()]
        last = pieces[-1] if len(pieces) > 1 else None
        if last is not None and (_fold(last) == site or (parts and _fold(last) == _fold(parts[-1])
                                                           and len(last) < len(pieces[0]))):
            return social[: social.rfind(last)].rstrip(" |-–—:·•»│")
        return social
    if parts:
        if len(parts) == 1:
            return _collapse(parts[0])
        named = [part for part in parts if _fold(part) != site] or parts
        return _collapse(max(named, key=len))
    return candidates[0] if candidates else None


# --------------------------------------------------------------------------- date


def _iso_date(text: str | None) -> PartialDate | None:
    """A machine-readable date (ISO 8601, as markup writes it) at the precision it is written."""
    match = _ISO_DATE.match(text or "")
    if not match:
        return None
    year, month, day = (int(group) if group else None for group in match.groups())
    # A year alone in markup is as often a copyright or a volume as a publication.
    if not 1900 <= year <= 2100 or month is None or not 1 <= month <= 12:
        return None
    if day is not None:
        try:
            from datetime import date

            date(year, month, day)
        except ValueError:
            return None
    return PartialDate(year, month, day)


_URL_DATE = re.compile(r"/((?:19|20)\d\d)[/-](0?[1-9]|1[0-2])(?:[/-](0?[1-9]|[12]\d|3[01]))?(?=/|$|[-_.])")


def url_date(url: str | None) -> PartialDate | None:
    """A date written in the URL's path (``/2009/03/14/slug``, ``/2009/03/``), at that precision."""
    if not url:
        return None
    from urllib.parse import urlsplit

    match = _URL_DATE.search(urlsplit(url).path)
    if not match:
        return None
    return _iso_date("-".join(group for group in match.groups() if group))


def _ordinal(when: PartialDate) -> int:
    from datetime import date

    return date(when.year, when.month, when.day).toordinal()


def metadata_date(tree: lxml.html.HtmlElement) -> PartialDate | None:
    """The publication date the page's markup states (see the module), or None."""
    found: dict[str, PartialDate] = {}
    for node in tree.iter("meta"):
        key = (node.get("property") or node.get("name") or node.get("itemprop") or "").strip().lower()
        if key in PUBLISHED_META and key not in found and (when := _iso_date(node.get("content"))) is not None:
            found[key] = when
    for key in PUBLISHED_META:
        if key in found:
            return found[key]
    for item in _json_ld(tree):
        if isinstance(item.get("datePublished"), str) and (when := _iso_date(item["datePublished"])) is not None:
            return when
    for node in tree.xpath('//*[@itemprop="datePublished"][@datetime or @content]'):
        if (when := _iso_date(node.get("datetime") or node.get("content"))) is not None:
            return when
    for node in tree.xpath('//time[@datetime][contains(@class, "publish") or contains(@class, "entry-date") '
                           'or @pubdate or ancestor::article or ancestor::header]'):
        if (when := _iso_date(node.get("datetime"))) is not None:
            return when
    return None


def _visible_date(tree: lxml.html.HtmlElement, heading: lxml.html.HtmlElement | None,
                  first_line: str | None) -> tuple[str, PartialDate] | None:
    if heading is not None:
        for text in heading.xpath(f"following::text()[normalize-space()][position() <= {DATE_LINE_WINDOW}]"):
            line = _collapse(text)
            when = find_labelled_date(line)
            if when is not None and when.year is not None:
                return line, when
    if first_line and (when := find_labelled_date(first_line)) is not None and when.year is not None:
        return first_line, when
    return None


def _htmldate(tree: lxml.html.HtmlElement, url: str | None) -> PartialDate | None:
    import htmldate  # a few ms of import, only for pages that state no date otherwise

    # Not from other articles: related posts, sidebars, comments and footers are left out.
    tree = copy.deepcopy(tree)
    for node in tree.xpath(ELSEWHERE):
        if node.getparent() is not None:
            node.drop_tree()
    try:
        found = htmldate.find_date(tree, url=url, original_date=True)
    except Exception:  # noqa: BLE001 - the library's failure is "no date", never a failed page
        return None
    when = _iso_date(found)
    # htmldate's last resort is a copyright year, given as 1 January ("© 2024" -> 2024-01-01): a day
    # the page does not state, unless its URL says so.
    if when is not None and (when.month, when.day) == (1, 1) and url_date(url) != when:
        return None
    return when


def _refined(shown: PartialDate, tree: lxml.html.HtmlElement, url: str | None) -> PartialDate:
    """A visible date without its day ("Okt 2019") takes the day the URL, else the markup, states,
    when that date agrees with every part the line shows; otherwise it stays as the line states it."""
    if shown.day is not None:
        return shown
    for precise in (url_date(url), metadata_date(tree)):
        if (precise is not None and precise.day is not None and precise.year == shown.year
                and shown.month in (None, precise.month)):
            return precise
    return shown


def page_date(tree: lxml.html.HtmlElement, url: str | None, heading: lxml.html.HtmlElement | None,
              first_line: str | None) -> tuple[PartialDate | None, str | None, str | None]:
    """(date, the visible line it was read from or None, its source: one of ``DATE_SOURCES``)."""
    visible = _visible_date(tree, heading, first_line)
    if visible is not None:
        return _refined(visible[1], tree, url), visible[0], "visible"
    if (when := metadata_date(tree)) is not None:
        # Markup often writes the moment in UTC; a date in the URL is the site's own calendar day.
        in_url = url_date(url)
        if in_url is not None and in_url.day is not None and when.day is not None and abs(
                _ordinal(in_url) - _ordinal(when)) <= 1:
            return in_url, None, "metadata"
        return when, None, "metadata"
    if (when := _htmldate(tree, url)) is not None:
        return when, None, "htmldate"
    return None, None, None


# --------------------------------------------------------------------------- furniture

# Lines of a page's furniture that trafilatura takes for text: counters and closed-comment notes
# ("389 reads", "1537 visitas", "Comments are closed."). Whole lines only.
FURNITURE = re.compile(
    r"\d[\d.,]*\s+(?:reads?|views?|visits?|visitas|lecturas|lectures|Aufrufe|Zugriffe|comments?|comentarios)"
    r"|(?:comments are closed|los comentarios están cerrados|comentarios cerrados|kommentare geschlossen)\.?",
    re.IGNORECASE)


def is_furniture(line: str) -> bool:
    return FURNITURE.fullmatch(line.strip()) is not None


# A form with a message field is a contact form, unless it is where readers comment on the article.
_COMMENT_FORM = re.compile(r"comment|respond|reply|kommentar|comentario", re.IGNORECASE)
# A line that is only an e-mail address or a web address: how to reach someone, not text.
ADDRESS_LINE = re.compile(r"\s*(?:mailto:)?[\w.+-]+@[\w-]+(?:\.[\w-]+)+\s*|\s*(?:https?://|www\.)\S+\s*")
# What a contact page may show besides its form and addresses (a line or two of explanation, an
# address) and still be one; an article, even a short one, says more.
FORM_PAGE_MAX_CHARS = 120


def form_texts(tree: lxml.html.HtmlElement) -> tuple[str, ...]:
    """The whole text (folded) of each of the page's contact forms (a form with a <textarea>, not a
    comment form): labels, buttons, loose text between the fields."""
    texts: list[str] = []
    for form in tree.iter("form"):
        if form.find(".//textarea") is None:
            continue
        names = " ".join(f"{node.get('id') or ''} {node.get('class') or ''}"
                         for node in (form, *form.iterancestors()))
        if _COMMENT_FORM.search(names):
            continue
        values = " ".join(node.get("value") or "" for node in form.iter("input"))
        texts.append(_fold(f"{' '.join(form.itertext())} {values}"))
    return tuple(text for text in texts if text)


def text_beside_forms(lines: list[str], forms: tuple[str, ...]) -> int:
    """Characters of ``lines`` that are neither the text of one of these forms (``form_texts``)
    nor an e-mail or web address."""
    return sum(len(line) for line in lines
               if not ADDRESS_LINE.fullmatch(line) and not any(_fold(line) in form for form in forms))


# --------------------------------------------------------------------------- listings

# Blocks a teaser item is made of, and how many of one kind make a list of teasers.
TEASER_TAGS = frozenset({"article", "li", "div", "section", "tr", "dd"})
TEASER_MIN_ITEMS = 3
# A teaser is a headline, a date and the first words of an article: a longer block is not one.
TEASER_MAX_CHARS = 600
# Characters of teaser text compared with the body at most (the check stays linear in the page).
TEASER_TEXT_LIMIT = 200_000


def teaser_texts(tree: lxml.html.HtmlElement, url: str | None) -> tuple[str, ...]:
    """The texts of the page's teaser items: blocks of one kind (the same tag under one parent),
    at least ``TEASER_MIN_ITEMS`` of them, each holding a headline link (three words or
    more, or inside a heading) to another page of the same host. Section fronts, tag and archive
    pages and paginated lists are made of these; an article has at most a few (related posts)."""
    from urllib.parse import urljoin, urlsplit

    host = urlsplit(url).hostname if url else None
    # Keyed by the elements themselves: lxml keeps one proxy per node while it is referenced (an
    # ``id()`` of a proxy let go could be reused by another node's).
    groups: dict[tuple, dict[lxml.html.HtmlElement, None]] = {}
    for anchor in tree.iter("a"):
        href = (anchor.get("href") or "").strip()
        if not href or href.startswith(("#", "javascript:", "mailto:")):
            continue
        text = _collapse(anchor.text_content())
        parent = anchor.getparent()
        in_heading = parent is not None and parent.tag in ("h2", "h3", "h4", "h5")
        if len(text.split()) < 3 and not (in_heading and text):
            continue
        try:
            if url and urlsplit(urljoin(url, href)).hostname != host:
                continue
        except ValueError:
            continue
        item = anchor.getparent()
        depth = 0
        while item is not None and item.tag not in TEASER_TAGS and depth < 4:
            item, depth = item.getparent(), depth + 1
        if item is None or item.tag not in TEASER_TAGS or item.getparent() is None:
            continue
        # One kind: same tag under one parent (a CMS gives each post classes of its own: "post-352").
        key = (item.getparent(), item.tag)
        groups.setdefault(key, {})[item] = None
    texts, size = [], 0
    for items in groups.values():
        short = [text for text in (_collapse(item.text_content()) for item in items) if len(text) <= TEASER_MAX_CHARS]
        if len(short) < TEASER_MIN_ITEMS:
            continue
        for text in short:
            size += len(text)
            if size > TEASER_TEXT_LIMIT:
                return tuple(texts)
            texts.append(text)
    return tuple(texts)


def teaser_share(lines: list[str], teasers: tuple[str, ...]) -> float:
    """Share of the body's characters in lines that belong to teaser items, when the body opens
    with one and holds at least ``TEASER_MIN_ITEMS`` of them (a listing starts with its items; an
    article with its own text, whatever follows; a post shown inside a list of one is an article)."""
    if not teasers or len(lines) < TEASER_MIN_ITEMS:
        return 0.0

    def item_of(line: str) -> int | None:
        line = line.lstrip("-*•· ")
        return next((index for index, teaser in enumerate(teasers) if line in teaser), None)

    items = [item_of(line) for line in lines]
    if all(item is None for item in items[:2]):  # a listing may open with a line of its own
        return 0.0
    if len({item for item in items if item is not None}) < TEASER_MIN_ITEMS:
        return 0.0
    total = sum(len(line) for line in lines) or 1
    return sum(len(line) for line, item in zip(lines, items) if item is not None) / total
