"""Decoded HTML to the parts of an article page: title, body lines, date line, source, section, notice.

The page is read the way a browser shows it, as a list of visible lines; the site profile locates the
header and footer lines around the article, and trafilatura judges which lines inside are main text.
"""

from __future__ import annotations

import contextlib
import re
import unicodedata
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import lxml.html
import trafilatura
from lxml import etree
from trafilatura.settings import use_config
from trafilatura.utils import HTML_PARSER, load_html, remove_control_characters
from w3lib.url import safe_url_string

from .dates import PartialDate, SourceLine, parse_date, parse_source_line
from .budgets import MAX_ELEMENTS
from .encoding import PageSkipped, collapse as _collapse
from .generic import form_texts, is_furniture, page_date, page_title, teaser_texts
from .profiles import SiteProfile

__all__ = [
    "Line",
    "PageParts",
    "PageReading",
    "directory_like",
    "listing_share",
    "page_links",
    "parse_html",
    "read_page",
    "visible_lines",
]

# Elements that start a new block (a new line) in a browser's rendering.
BLOCK_TAGS = frozenset(
    "address article aside blockquote body caption center dd div dl dt fieldset figcaption figure "
    "footer form h1 h2 h3 h4 h5 h6 header hr html li main nav ol p pre section table tbody tfoot "
    "thead tr ul".split()
)
# Table cells sit side by side on one line, as a browser shows a row of links.
CELL_TAGS = frozenset(("td", "th"))
# Elements whose text is never shown as page text.
HIDDEN_TAGS = frozenset(
    "script style noscript template head title select option textarea button iframe object embed "
    "svg map area applet".split()
)
# Inline elements that mark a line as displayed emphasised (headlines on hand-made pages).
EMPHASIS_TAGS = frozenset("b strong font big h1 h2 h3 h4 h5 h6 center u".split())
HEADING_TAGS = ("h1", "h2", "h3")

# Parsed as trafilatura parses: comments and processing instructions dropped (left in, their
# tails confuse its text handling).
_PARSER = lxml.html.HTMLParser(remove_comments=True, remove_pis=True, collect_ids=False, default_doctype=False)
_XML_PROLOG = re.compile(r"^\s*<\?xml[^>]*\?>", re.IGNORECASE)
_SENTENCE_END = re.compile(r"[.!?:;,»”\"]$")
# A listing page is mostly link text.
LISTING_LINK_SHARE = 0.6
# How far (characters) before or after the last kept line a body line is looked for in trafilatura's text.
MATCH_WINDOW = 4000
# Fewer main-text lines than this are never called a listing.
LISTING_MIN_ITEMS = 3
# A listing item is a title with perhaps a date and an excerpt, not a paragraph opened by a link.
LISTING_ITEM_MAX_CHARS = 300
SECTION_MAX_CHARS = 100
# Obsolete block elements and the standard element each stands for, as trafilatura is shown them.
_TRAFILATURA_EQUIVALENTS = {"center": "div"}
# What may stand outside the links of a navigation line: a number or a bullet ("1.", "IV -", "[ ]").
_NUMBERING = re.compile(r"[\W_]*(?:\d{1,3}|[IVXLCivxlc]{1,6}|[A-Za-z])?[\W_]*")
# Header and footer lines are short; longer lines are never tested against them.
PIECE_LINE_MAX_CHARS = 200


@dataclass
class Line:
    """One visible line: text with whitespace collapsed, the block it belongs to, how it looks.

    ``text`` is what a reader reads. ``shown`` adds the alt texts of the line's images, as a text
    browser shows them: a hand-made template draws logos, link buttons and flags as images, so its
    pieces are matched against ``shown``. ``unlinked`` is the text outside links; ``anchor_chars``
    counts the characters of links into the page itself (``href="#..."``)."""

    text: str
    block: int
    emphasised: bool = False
    link_chars: int = 0
    shown: str = ""
    unlinked: str = ""
    anchor_chars: int = 0

    def __post_init__(self) -> None:
        if not self.shown:
            self.shown = self.text


@dataclass
class PageParts:
    title: str | None
    body: list[str]
    date_line: str | None = None
    document_date: PartialDate | None = None
    source: SourceLine | None = None
    section: str | None = None
    notice: str | None = None
    published_date: PartialDate | None = None
    link_share: float = 0.0
    # Texts of the page's links, when the listing test must be repeated on cleaned lines.
    link_texts: frozenset[str] | None = None
    # Where document_date came from on a page without a profile (pipelines/generic.py DATE_SOURCES).
    date_source: str | None = None
    # Texts of its teaser items (pipelines/generic.py), for the listing test on cleaned lines.
    teasers: tuple[str, ...] = ()
    # The text of each contact form on the page (pipelines/generic.py form_texts).
    form_texts: tuple[str, ...] = ()


@dataclass
class PageReading:
    """One page read once: its links (before anything is pruned), its visible lines (what boilerplate
    learning observes, and what the site profile cuts the article from) and the article's parts."""

    parts: PageParts
    lines: list[str]
    links: list[str]


# Where links are read, as Scrapy's LinkExtractor reads them by default.
LINK_TAGS = ("a", "area")
LINK_SCHEMES = ("http", "https", "file", "ftp")
# Characters safe_url_string leaves as they are (RFC 3986 unreserved, reserved and "%").
_PLAIN_HREF = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]*")


def parse_html(text: str) -> lxml.html.HtmlElement:
    """Parse decoded HTML once, as trafilatura parses it (its repairs, its parser), so that the tree
    handed to it judges as the text would; ``PageSkipped("unparsable")`` when lxml finds no
    document in it."""
    text = _XML_PROLOG.sub("", text, count=1)
    tree = load_html(text)
    if tree is not None and tree.tag == "html":
        _check_depth(HTML_PARSER)
        return tree
    # A fragment, or what trafilatura calls dubious: read as a document, as a browser would.
    try:
        tree = lxml.html.document_fromstring(text, parser=_PARSER)
    except (etree.ParserError, ValueError) as exc:
        raise PageSkipped("unparsable", str(exc)) from exc
    if tree is None:
        raise PageSkipped("unparsable")
    _check_depth(_PARSER)
    return tree


def _check_depth(parser) -> None:
    """libxml2 stops reading a page nested deeper than 256 elements and drops the rest of it
    silently: such a page is skipped, with its reason, rather than given a record of its opening."""
    for entry in parser.error_log:
        if entry.message.startswith("Excessive depth"):
            raise PageSkipped("too_deep", entry.message)


class _Linearizer:
    """Walks a tree in document order and cuts its visible text into lines."""

    def __init__(self) -> None:
        self.lines: list[Line] = []
        self.block = 0
        # (text, emphasised, link, alt): link is None, "page" or "anchor" (href="#..."); alt: an image's alt text
        self._parts: list[tuple[str, bool, str | None, bool]] = []

    def add(self, text: str | None, emphasised: bool, link: str | None = None, alt: bool = False) -> None:
        if text:
            self._parts.append((text, emphasised, link, alt))

    def break_line(self) -> None:
        shown = _collapse("".join(t for t, _, _, _ in self._parts))
        if shown:
            read = [(t, e, link) for t, e, link, alt in self._parts if not alt]
            self.lines.append(
                Line(
                    text=_collapse("".join(t for t, _, _ in read)),
                    block=self.block,
                    emphasised=all(e for t, e, _ in read if t.strip()),
                    link_chars=sum(len(_collapse(t)) for t, _, link in read if link),
                    shown=shown,
                    unlinked=_collapse("".join(t for t, _, link in read if not link)),
                    anchor_chars=sum(len(_collapse(t)) for t, _, link in read if link == "anchor"),
                )
            )
        self._parts = []

    def empty_line(self) -> None:
        """A <br> on a line of its own: an empty line, which ends a paragraph as a block does."""
        if _collapse("".join(t for t, _, _, _ in self._parts)):
            self.break_line()
        else:
            self._parts = []
            self.block += 1

    def break_block(self) -> None:
        self.break_line()
        self.block += 1

    def walk(self, element: etree._Element, emphasised: bool = False, link: str | None = None) -> None:
        tag = element.tag if isinstance(element.tag, str) else ""
        tag = tag.lower()
        if not tag or tag in HIDDEN_TAGS:
            return  # comments, processing instructions, hidden elements (their tail is handled by the parent)
        if tag == "br":
            self.empty_line()
            return
        if tag == "img":
            alt = element.get("alt")
            if alt and alt.strip():
                self.add(f" {alt} ", emphasised, link, alt=True)
            return
        if tag == "pre":
            self.break_block()
            self._pre(element.text_content(), emphasised)
            self.break_block()
            return
        is_block = tag in BLOCK_TAGS
        if is_block:
            self.break_block()
        elif tag in CELL_TAGS:
            self.add(" ", emphasised, link)
        emphasised = emphasised or tag in EMPHASIS_TAGS
        if link is None and tag == "a" and (href := element.get("href")) is not None:
            link = "anchor" if href.strip().startswith("#") else "page"
        self.add(element.text, emphasised, link)
        for child in element:
            self.walk(child, emphasised, link)
            self.add(child.tail, emphasised, link)
        if is_block:
            self.break_block()

    def _pre(self, text: str, emphasised: bool) -> None:
        # Text pasted from e-mail: hard-wrapped lines, paragraphs separated by blank lines.
        for paragraph in re.split(r"\n\s*\n", text):
            self.add(paragraph, emphasised)
            self.break_block()


def visible_lines(tree: lxml.html.HtmlElement) -> list[Line]:
    """The page's visible text as lines, in reading order (a line of images only has ``text`` "" and
    its alt texts as ``shown``)."""
    linearizer = _Linearizer()
    body = tree.find("body")
    linearizer.walk(body if body is not None else tree)
    linearizer.break_block()
    return linearizer.lines


def _html_title(tree: lxml.html.HtmlElement, profile: SiteProfile) -> str | None:
    node = tree.find(".//title")
    if node is None:
        return None
    title = _collapse(node.text_content())
    for prefix in profile.title_prefixes:
        if title.startswith(prefix):
            title = title[len(prefix):].strip()
    return title or None


def _matches(patterns, text: str) -> re.Match | None:
    for pattern in patterns:
        match = pattern.fullmatch(text)
        if match:
            return match
    return None


def _is_piece_line(pattern: re.Pattern | None, line: str) -> bool:
    return pattern is not None and len(line) <= PIECE_LINE_MAX_CHARS and pattern.fullmatch(line) is not None


def _is_header(line: str, profile: SiteProfile) -> bool:
    if _is_piece_line(profile.header_line, line):
        return True
    return bool(profile.language_links and profile.language_links.fullmatch(line))


def _is_footer(line: str, profile: SiteProfile) -> bool:
    return _is_piece_line(profile.footer_line, line)


def _is_navigation(line: Line, profile: SiteProfile) -> bool:
    """A line made only of navigation links (a number or a bullet may open it): links into the page
    itself (a table of contents, "Top") when the profile says so, or links labelled as navigation."""
    if not line.link_chars or not _NUMBERING.fullmatch(line.unlinked):
        return False
    if profile.in_page_navigation and line.anchor_chars == line.link_chars:
        return True
    return _is_piece_line(profile.navigation, line.text)


def _is_template_line(line: Line, profile: SiteProfile) -> bool:
    """A line of the footer's pieces, a navigation line, or images without text (decoration)."""
    return not line.text or _is_footer(line.shown, profile) or _is_navigation(line, profile)


def _head_date(line: Line, profile: SiteProfile) -> tuple[str, PartialDate] | None:
    """A date line: a line wholly a date, or a date after the header's pieces on the header's row
    (a cell of its own in the header table)."""
    candidates = [line.text]
    if profile.header_line is not None and (match := profile.header_line.match(line.shown)) and match.end() < len(line.shown):
        candidates.append(line.shown[match.end():].strip())
    for candidate in candidates:
        when = parse_date(candidate)
        if when is not None and when.year is not None:
            return candidate, when
    return None


def _locate_head(lines: list[Line], profile: SiteProfile) -> tuple[int, str | None, PartialDate | None]:
    """Skip the header, language links, navigation, images and date line; return where the headline starts."""
    date_line: str | None = None
    document_date: PartialDate | None = None
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.text or _is_header(line.shown, profile) or _is_navigation(line, profile):
            i += 1
            continue
        if date_line is None and (found := _head_date(line, profile)) is not None:
            date_line, document_date = found
            i += 1
            continue
        break
    return i, date_line, document_date


def _title_from(lines: list[Line], start: int) -> tuple[str | None, int]:
    """The headline at ``start``; an emphasised headline broken with <br> is joined into one."""
    if start >= len(lines):
        return None, start
    first = lines[start]
    parts, end = [first.text], start + 1
    if first.emphasised:
        while end < len(lines) and lines[end].block == first.block and lines[end].emphasised and lines[end].text:
            parts.append(lines[end].text)
            end += 1
    return " ".join(parts), end


def _heading(tree: lxml.html.HtmlElement) -> lxml.html.HtmlElement | None:
    for tag in HEADING_TAGS:
        node = tree.find(f".//body//{tag}")
        if node is not None and _collapse(node.text_content()):
            return node
    return None


def _title_heading(tree: lxml.html.HtmlElement, title: str | None) -> lxml.html.HtmlElement | None:
    """The heading element that holds the page's title (its date line is under it), else the first."""
    if title:
        for tag in HEADING_TAGS:
            for node in tree.iterfind(f".//body//{tag}"):
                if title in _collapse(node.text_content()):
                    return node
    return _heading(tree)


def _heading_text(tree: lxml.html.HtmlElement) -> str | None:
    node = _heading(tree)
    return _collapse(node.text_content()) if node is not None else None


def _is_section(candidate: Line, before: Line | None, notice_block: int | None, profile: SiteProfile) -> bool:
    """A dossier name: a short label right after the footer's link row or the source line, or
    right above the notice in the notice's own block (separated from it by a <br>)."""
    text = candidate.text
    return (
        bool(text)
        and len(text) <= SECTION_MAX_CHARS
        and not _SENTENCE_END.search(text)
        and not _is_footer(candidate.shown, profile)
        and not _is_navigation(candidate, profile)
        and parse_source_line(text) is None
        and (
            candidate.block == notice_block
            or (before is not None and (_is_footer(before.shown, profile) or parse_source_line(before.text) is not None))
        )
    )


def _locate_tail(lines: list[Line], profile: SiteProfile):
    """Walk back over notice, section, link rows, navigation and source line; return where the body ends."""
    k = len(lines) - 1
    while k >= 0 and _is_template_line(lines[k], profile):
        k -= 1
    notice_match = _matches(profile.notice, lines[k].shown) if k >= 0 else None
    notice_block: int | None = None
    if notice_match:
        notice_block = lines[k].block
        k -= 1
    section: str | None = None
    if profile.section_rule == "after_link_row" and k >= 0:
        # The line above the candidate, images without text (decoration) passed over.
        j = k - 1
        while j >= 0 and not lines[j].text and not _is_footer(lines[j].shown, profile):
            j -= 1
        if _is_section(lines[k], lines[j] if j >= 0 else None, notice_block, profile):
            section = lines[k].text
            k -= 1
    source: SourceLine | None = None
    while k >= 0:
        line = lines[k]
        if _is_template_line(line, profile):
            k -= 1
            continue
        if source is None and profile.source_line:
            parsed = parse_source_line(line.text)
            if parsed is not None and parsed.raw == line.text:
                source = parsed
                k -= 1
                continue
        break
    return k + 1, notice_match, section, source


def _without_navigation(region: list[Line], profile: SiteProfile) -> list[Line]:
    """The body's lines without images (alt text only) and in-page navigation: back-links, a table
    of contents and its heading (a navigation label right above it)."""
    kept = []
    for i, line in enumerate(region):
        if not line.text or _is_navigation(line, profile):
            continue
        following = region[i + 1] if i + 1 < len(region) else None
        if (not line.link_chars and _is_piece_line(profile.navigation, line.text)
                and following is not None and following.anchor_chars and _is_navigation(following, profile)):
            continue
        kept.append(line)
    return kept


# trafilatura's own settings; and the same with its extraction kept down to 100 characters of text,
# for a page where the default (250) sent a short article of a few paragraphs to its fallback, which
# flattens the whole page into one line, headline and sharing links included.
TRAFILATURA_CONFIG = use_config()
SHORT_TEXT_CONFIG = use_config()
SHORT_TEXT_CONFIG.set("DEFAULT", "MIN_EXTRACTED_SIZE", "100")


def _trafilatura_options(profile: SiteProfile) -> dict:
    return {"include_comments": False, "include_tables": True, "deduplicate": False, **profile.trafilatura}


def _trafilatura_text(tree: lxml.html.HtmlElement, url: str | None, profile: SiteProfile, *, fast: bool = False) -> str | None:
    # trafilatura works on a copy of the tree it is handed (trafilatura.core.bare_extraction), so the
    # page is parsed once; the profile's prune rules have already been applied to it.
    options = {**_trafilatura_options(profile), "fast": fast}
    with _ampersands_escaped(tree):
        return trafilatura.extract(tree, url=url, with_metadata=False, config=TRAFILATURA_CONFIG, **options)


@contextlib.contextmanager
def _ampersands_escaped(tree: lxml.html.HtmlElement):
    """trafilatura unescapes its text output once more (html.unescape), which would
    turn the page's literal "&lt;" into "<": every "&" of the tree is escaped for the call, and the
    tree put back afterwards."""
    escaped = []
    for element in tree.iter():
        text, tail = element.text, element.tail
        if (text and "&" in text) or (tail and "&" in tail):
            escaped.append((element, text, tail))
            if text:
                element.text = text.replace("&", "&amp;")
            if tail:
                element.tail = tail.replace("&", "&amp;")
    try:
        yield tree
    finally:
        for element, text, tail in escaped:
            element.text, element.tail = text, tail


def _trafilatura_lines(tree: lxml.html.HtmlElement, url: str | None, profile: SiteProfile) -> list[str]:
    """trafilatura's main text as lines, read from its XML output: a paragraph (its ``<lb/>`` breaks
    kept), a heading, a list item, a table row (cells joined by a space) each give lines, without the
    Markdown marks its text output adds ("- ", "| ... |")."""
    def extracted(config) -> list[str]:
        return _xml_text(trafilatura.extract(tree, url=url, with_metadata=False, output_format="xml",
                                             config=config, **_trafilatura_options(profile)))

    lines = extracted(TRAFILATURA_CONFIG)
    if len(lines) <= 1:  # nothing, or the fallback's one flat line: a short article?
        short = extracted(SHORT_TEXT_CONFIG)
        if len(short) > 1:
            return short
    return lines


def _xml_text(xml: str | None) -> list[str]:
    if not xml:
        return []
    try:
        document = etree.fromstring(xml)
    except etree.XMLSyntaxError:
        return []
    main = document.find("main")
    main = main if main is not None else document
    lines: list[str] = [_collapse(line) for line in (main.text or "").split("\n")]
    for element in main:
        _xml_lines(element, lines)
        lines.extend(_collapse(line) for line in (element.tail or "").split("\n"))  # loose text between blocks
    return [line for line in lines if line]


def _xml_lines(element, lines: list[str]) -> None:
    tag = element.tag
    if tag == "list":
        for item in element.findall("item"):
            nested = item.findall("list")
            for child in nested:
                item.remove(child)
            lines.extend(_broken_text(item))
            for child in nested:
                _xml_lines(child, lines)
                lines.extend(_collapse(line) for line in (child.tail or "").split("\n"))
    elif tag == "table":
        # trafilatura writes rows and cells, and leaves an HTML table it nests as it is (tr, td).
        for row in element.iter("row", "tr"):
            cells = (_collapse(" ".join(c.itertext())) for c in row if c.tag in ("cell", "td", "th"))
            lines.append(" ".join(cell for cell in cells if cell))
    elif tag != "graphic":
        lines.extend(_broken_text(element))


def _broken_text(element) -> list[str]:
    """An element's text cut at its ``<lb/>`` line breaks."""
    parts = [element.text or ""]
    for child in element:
        if child.tag == "lb":
            parts.append("\n")
        elif child.tag in ("list", "table"):
            sub: list[str] = []
            _xml_lines(child, sub)
            parts.append("\n" + "\n".join(sub) + "\n")
        else:
            parts.append("".join(child.itertext()))
        parts.append(child.tail or "")
    return [_collapse(line) for line in "".join(parts).split("\n") if _collapse(line)]


def _prune(tree: lxml.html.HtmlElement, profile: SiteProfile) -> lxml.html.HtmlElement:
    """Drop the elements the site profile says are never article text (their tails stay)."""
    for xpath in profile.compiled_prune_xpaths:
        for element in xpath(tree):
            if element.getparent() is not None:
                element.drop_tree()
    return tree


def _base_url(tree: lxml.html.HtmlElement, url: str) -> str:
    base = tree.find(".//head/base[@href]")
    if base is None:
        return url
    try:
        return urljoin(url, base.get("href").strip())
    except ValueError:
        return url


def page_links(
    tree: lxml.html.HtmlElement, url: str, encoding: str = "utf-8", ignored_extensions: frozenset[str] = frozenset()
) -> list[str]:
    """The absolute URLs the page links to (``<a>``/``<area>`` ``href``), first occurrence each, as
    Scrapy's ``LinkExtractor(unique=True, canonicalize=False)`` finds them: ``<base href>`` honoured,
    links to files with an ignored extension (images, PDFs, ...) left out."""
    base = _base_url(tree, url)
    seen: set[str] = set()
    links: list[str] = []
    for element in tree.iter(*LINK_TAGS):
        href = element.get("href")
        if href is None:
            continue
        href = href.strip()
        try:
            # safe_url_string (as Scrapy's LinkExtractor) only changes hrefs with non-ASCII or unsafe characters.
            link = urljoin(base, href if _PLAIN_HREF.fullmatch(href) else safe_url_string(href, encoding))
            parts = urlsplit(link)
        except ValueError:  # a malformed href ("http://[ccpa-preferences]/") links nowhere
            continue
        if parts.scheme not in LINK_SCHEMES or link in seen:
            continue
        name = parts.path.rsplit("/", 1)[-1]
        if "." in name and name.rpartition(".")[2].lower() in ignored_extensions:
            continue
        seen.add(link)
        links.append(link)
    return links


def read_page(
    html: str,
    profile: SiteProfile,
    url: str | None = None,
    *,
    encoding: str = "utf-8",
    ignored_extensions: frozenset[str] = frozenset(),
    follow: bool = True,
    observe: bool = True,
    max_elements: int = MAX_ELEMENTS,
) -> PageReading:
    """Parse a decoded page once and read everything the crawl needs from it: the links unless
    ``follow`` is false (nobody follows them: extract, reprocess), the visible lines unless
    ``observe`` is false (no boilerplate learning) and the site profile does not cut the article from them.
    ``PageSkipped("too_many_elements")`` for a tree of more than ``max_elements`` elements (0: no limit)."""
    tree = parse_html(html)
    if max_elements:
        elements = sum(1 for _ in tree.iter())
        if elements > max_elements:
            raise PageSkipped("too_many_elements", f"{elements} elements, over the budget of {max_elements}")
    links = page_links(tree, url, encoding, ignored_extensions) if url and follow else []
    _prune(tree, profile)
    templated = profile.title_rule == "first_line_after_header"
    lines = visible_lines(tree) if templated or observe else []
    if templated:
        parts = _templated_parts(tree, lines, profile, url)
    else:
        parts = _generic_parts(tree, profile, url)
    return PageReading(parts=parts, lines=[line.text for line in lines] if observe else [], links=links)


def _templated_parts(tree: lxml.html.HtmlElement, lines: list[Line], profile: SiteProfile, url: str | None) -> PageParts:
    """A site whose template the profile describes: the profile bounds the article, trafilatura
    judges the lines inside."""
    # The footer first: a page with no article must not offer its link row as a headline.
    body_end, notice_match, section, source = _locate_tail(lines, profile)
    lines = lines[:body_end]
    start, date_line, document_date = _locate_head(lines, profile)
    title, body_start = _title_from(lines, start)
    region = _without_navigation(lines[body_start:body_end], profile)

    chars = sum(len(line.text) for line in region) or 1
    link_share = sum(line.link_chars for line in region) / chars

    # A page of links gives no record (pipelines/records.py): no need to ask trafilatura about it.
    body = [line.text for line in region] if link_share >= LISTING_LINK_SHARE else _keep_main_text(
        region, tree, url, profile)
    published = None
    notice = None
    if notice_match is not None:
        notice = notice_match.group(0)
        published = parse_date(notice_match.group("date")) if "date" in notice_match.re.groupindex else None
    return PageParts(
        title=title,
        body=body,
        date_line=date_line,
        document_date=document_date,
        source=source,
        section=section,
        notice=notice,
        published_date=published,
        link_share=link_share,
    )


def _generic_parts(tree: lxml.html.HtmlElement, profile: SiteProfile, url: str | None) -> PageParts:
    """Any other site: trafilatura's main text, with the headline, a date line under it and a
    closing source line taken out."""
    title = page_title(tree) or _html_title(tree, profile)
    lines = [line for line in _trafilatura_lines(tree, url, profile) if not is_furniture(line)]
    # The headline is the record's title, not text: as chosen, or with the kicker the title left out.
    heading = _heading_text(tree)
    if lines and title and (lines[0] == title or (lines[0] == heading and title in heading)):
        lines = lines[1:]
    document_date, date_line, date_source = page_date(tree, url, _title_heading(tree, title), lines[0] if lines else None)
    if date_line is not None and lines and lines[0] == date_line:
        lines.pop(0)
    source = None
    if profile.source_line and lines and (parsed := parse_source_line(lines[-1])) is not None and parsed.raw == lines[-1]:
        source = parsed
        lines.pop()
    # Only a directory-like page (dir/, index.html, a query) of a site without a profile can be a
    # listing; the link texts are gathered for those alone (they cost a URL join per link).
    link_texts = _internal_link_texts(tree, url) if url is None or directory_like(url) else frozenset()
    return PageParts(title=title, body=lines, date_line=date_line, document_date=document_date, source=source,
                     link_share=listing_share(lines, link_texts), link_texts=link_texts, date_source=date_source,
                     teasers=teaser_texts(tree, url), form_texts=form_texts(tree))


def directory_like(url: str) -> bool:
    parts = urlsplit(url)
    last = parts.path.rsplit("/", 1)[-1]
    return not last or last.startswith(("index.", "default.")) or bool(parts.query)


def _internal_link_texts(tree: lxml.html.HtmlElement, url: str | None) -> frozenset[str]:
    """Texts of the links to the page's own host: what a listing's items open with (a post that
    lists links to other sites is still an article)."""
    host = urlsplit(url).hostname if url else None
    texts = set()
    for anchor in tree.iter("a"):
        href = anchor.get("href")
        if not href:
            continue
        if url:
            try:
                if urlsplit(urljoin(url, href.strip())).hostname != host:
                    continue
            except ValueError:  # a malformed href ("http://[ccpa-preferences]/") links nowhere
                continue
        text = _collapse(anchor.text_content())
        if len(text) >= 4:
            texts.add(text)
    return frozenset(texts)


def listing_share(lines: list[str], link_texts: frozenset[str]) -> float:
    """Share of main-text lines that open with the text of a link: a listing's items start with
    the titles of the pages they list ("- Title 3 June 2019 excerpt..."). A body too short to count
    lines in (an index flattened into one line) is judged on the share of its characters that are
    link texts."""
    if not link_texts or not lines:
        return 0.0
    if len(lines) < LISTING_MIN_ITEMS:
        total = sum(len(line) for line in lines)
        covered = sum(min(len(line), sum(len(text) for text in link_texts if text in line)) for line in lines)
        return covered / total if total >= LISTING_ITEM_MAX_CHARS // 3 else 0.0
    starts: dict[str, list[str]] = {}
    for text in link_texts:
        starts.setdefault(text[:4], []).append(text)
    opening = 0
    for line in lines:
        item = line.lstrip("-*•· ")
        if len(item) <= LISTING_ITEM_MAX_CHARS and any(item.startswith(t) for t in starts.get(item[:4], ())):
            opening += 1
    return opening / len(lines)


def _keep_main_text(region: list[Line], tree: lxml.html.HtmlElement, url: str | None, profile: SiteProfile) -> list[str]:
    """Keep the region's lines that trafilatura also judges to be main text.

    trafilatura's own extractor is asked first (``fast``); its comparison with readability and
    justext, which exists to rescue what that extractor missed, runs only when it left some of the
    located region out: when it kept every line there is nothing inside the article to rescue.
    When trafilatura finds nothing (very short pages) the located region stands on its own.
    """
    if not region:
        return []
    # Obsolete block elements are shown to trafilatura as the standard element they stand for (it
    # loses the loose text that follows a <center>), then put back.
    renamed = [(element, element.tag) for element in tree.iter(*_TRAFILATURA_EQUIVALENTS)]
    for element, tag in renamed:
        element.tag = _TRAFILATURA_EQUIVALENTS[tag]
    try:
        kept = _lines_found(region, _trafilatura_text(tree, url, profile, fast=True))
        if kept is None or len(kept) < len(region):
            kept = _lines_found(region, _trafilatura_text(tree, url, profile))
    finally:
        for element, tag in renamed:
            element.tag = tag
    return [line.text for line in region] if kept is None else kept


def _lines_found(region: list[Line], main: str | None) -> list[str] | None:
    """The region's lines found in trafilatura's text ``main`` (None: it found no text at all)."""
    if not main:
        return None
    # Each line is looked for near where the last one was found, never in the whole text: the
    # lines come in trafilatura's order, and a bounded window keeps this linear in the page size.
    main_text = _comparable(main)
    kept, position = [], 0
    for line in region:
        key = _comparable(line.text)
        start = max(0, position - MATCH_WINDOW)
        found = main_text.find(key, start, position + len(key) + MATCH_WINDOW) if key else -1
        if found >= 0:
            kept.append(line.text)
            position = max(position, found + len(key))
    return kept


def _comparable(text: str) -> str:
    """A line as trafilatura writes it: without the characters it drops (soft hyphens, zero-width
    and bidi marks, private use), table cells' pipes unescaped; so that a line is found in its text."""
    return _collapse(unicodedata.normalize("NFC", remove_control_characters(text))).replace("\\|", "|")
