"""From (bytes, url, headers, site profile) to a schema-1 record, in two pure steps.

``read_page`` decodes and parses the page once and reads everything from that one tree: the links
it holds, the visible lines boilerplate learning observes (with their keys), and the article's
parts. ``finish_record`` cleans the body with the site's learned boilerplate and makes the record.
``build_record`` is both, for one page (``archive-crawler extract``); the crawl and ``reprocess`` run
the two steps in worker processes (``crawler/workers.py``), learning between them
(``crawler/chain.py``); ``pipelines/revision.py`` then gives the record its revision. Nothing here
keeps state between calls.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from urllib.parse import urlsplit

from .boilerplate import BoilerplateModel, line_keys
from .dates import parse_dateline
from .encoding import PageSkipped, decode_html
from .budgets import MAX_BYTES, MAX_ELEMENTS
from .extraction import LISTING_LINK_SHARE, LISTING_MIN_ITEMS, PageParts, listing_share, read_page as read_tree
from .generic import FORM_PAGE_MAX_CHARS, teaser_share, text_beside_forms
from .language import detect_language
from .profiles import SiteProfile, load_profile, profile_for_url
from .schema import RECORD_FIELDS, SCHEMA_VERSION
from .urls import canonical_url

__all__ = [
    "SCHEMA_VERSION",
    "RECORD_FIELDS",
    "PageDraft",
    "PageSkipped",
    "build_record",
    "content_type",
    "finish_record",
    "read_page",
    "utc_timestamp",
]


def utc_timestamp(moment: datetime | None = None) -> str:
    moment = (moment or datetime.now(timezone.utc)).astimezone(timezone.utc)
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def content_type(headers: Mapping[str, str] | None) -> str | None:
    for key, value in (headers or {}).items():
        if key.lower() == "content-type":
            return value
    return None


@dataclass(frozen=True)
class PageDraft:
    """A page read once, before the site's learned boilerplate is known: small, picklable data."""

    url: str
    profile: str
    parts: PageParts
    # Keys of the page's visible lines (what learning observes), and of the body lines.
    line_keys: tuple[str | None, ...]
    body_keys: tuple[str | None, ...]
    links: tuple[str, ...]
    fetched_at: datetime | None = None


def read_page(
    body: bytes,
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    profile: SiteProfile | None = None,
    fetched_at: datetime | None = None,
    ignored_extensions: frozenset[str] = frozenset(),
    follow: bool = True,
    observe: bool = True,
    max_bytes: int = MAX_BYTES,
    max_elements: int = MAX_ELEMENTS,
) -> PageDraft:
    """Decode and parse a page once; ``PageSkipped`` when it cannot be read as HTML, or is over the
    budget of ``max_bytes`` (its decoded text) or ``max_elements`` (its tree; 0: no limit). ``follow``:
    read its links; ``observe``: give its line keys for boilerplate learning."""
    profile = profile or profile_for_url(url)
    page = decode_html(body, content_type(headers))
    if max_bytes and len(page.text) > max_bytes:
        raise PageSkipped("too_large", f"{len(page.text)} characters, over the budget of {max_bytes}")
    # Links' query strings are percent-encoded as a browser does: in the page's encoding, UTF-8 for UTF-16/32.
    link_encoding = "utf-8" if page.encoding.lower().replace("_", "-").startswith(("utf-16", "utf-32")) else page.encoding
    reading = read_tree(page.text, profile, url, encoding=link_encoding, ignored_extensions=ignored_extensions,
                        follow=follow, observe=observe, max_elements=max_elements)
    return PageDraft(
        url=url,
        profile=profile.name,
        parts=reading.parts,
        line_keys=tuple(line_keys(reading.lines)),
        body_keys=tuple(line_keys(reading.parts.body)),
        links=tuple(reading.links),
        fetched_at=fetched_at,
    )


def finish_record(draft: PageDraft, boilerplate: frozenset[str] = frozenset(), profile: SiteProfile | None = None) -> dict:
    """The record of a read page, its body lines that are ``boilerplate`` (line keys) removed;
    ``PageSkipped`` with the reason when the page gives none."""
    profile = profile or load_profile(draft.profile)
    url, parts = draft.url, draft.parts
    if profile.is_listing_path(urlsplit(url).path):
        raise PageSkipped("listing_page")
    body_lines = [line for line, key in zip(parts.body, draft.body_keys) if key is None or key not in boilerplate]
    if parts.link_texts is None:
        link_share = parts.link_share  # the site profile located the article: its own link share
    else:
        # No profile: judged on the lines left once boilerplate is gone: a directory-like page whose
        # lines open with link texts, or any page whose body is made of teaser items.
        # When boilerplate removal leaves too few lines to judge (the headlines of a listing's items
        # are on many pages: learned), the lines before it are judged. Teasers are structure: judged on
        # every line the page shows.
        judged = body_lines if len(body_lines) >= LISTING_MIN_ITEMS else parts.body
        link_share = max(listing_share(judged, parts.link_texts), teaser_share(parts.body, parts.teasers))
    if link_share >= LISTING_LINK_SHARE:
        raise PageSkipped("listing_page", f"{link_share:.0%} of the text is links or teaser items")
    if parts.form_texts:
        # A contact page: its form, an address, and the lines a site's template repeats.
        beside = text_beside_forms(body_lines, parts.form_texts)
        if beside < FORM_PAGE_MAX_CHARS:
            raise PageSkipped("form_page", f"a contact form and {beside} characters of text")
    text = "\n".join(body_lines)
    if not text.strip():
        raise PageSkipped("no_text")
    if not parts.title:
        raise PageSkipped("no_title")

    # A year-less wire dateline takes its year from the page's own source line, else its date line.
    reference = (parts.source.date if parts.source else None) or parts.document_date
    dateline = parse_dateline(body_lines[0], reference)
    return {
        "schema_version": SCHEMA_VERSION,
        "url": url,
        "canonical_url": canonical_url(url, profile),
        "site": profile.name if profile.hosts else (urlsplit(url).hostname or ""),
        "title": parts.title,
        "text": text,
        "language": detect_language(text, profile.languages),
        "section": parts.section,
        "document_date": parts.document_date.iso() if parts.document_date else None,
        "published_date": parts.published_date.iso() if parts.published_date else None,
        "source": parts.source.as_record() if parts.source else None,
        "dateline": dateline.as_record() if dateline else None,
        "fetched_at": utc_timestamp(draft.fetched_at),
        "content_sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
        # A page's first record; pipelines/revision.py counts its changes against the crawl state.
        "revision": 1,
    }


def build_record(
    body: bytes,
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    profile: SiteProfile | None = None,
    fetched_at: datetime | None = None,
    boilerplate: BoilerplateModel | None = None,
) -> dict:
    """Turn a fetched page into a record, or raise ``PageSkipped`` saying why it gives none.

    ``boilerplate`` (read only) removes the lines a site's learned model knows as boilerplate.
    """
    profile = profile or profile_for_url(url)
    # One page, nobody follows its links or learns from it.
    draft = read_page(body, url, headers=headers, profile=profile, fetched_at=fetched_at, follow=False, observe=False)
    known = boilerplate.boilerplate_keys() if boilerplate is not None else frozenset()
    return finish_record(draft, known, profile)
