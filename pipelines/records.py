"""One function from (bytes, url, headers, site profile) to a schema-1 record.

The crawl, ``archive-crawler extract`` and any later re-processing all call ``build_record``; it
keeps no state between calls, so it can run in a process pool.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime, timezone
from urllib.parse import urlsplit

from .encoding import PageSkipped, decode_html
from .boilerplate import BoilerplateModel
from .extraction import LISTING_LINK_SHARE, extract_parts, listing_share, parse_html, visible_lines
from .language import detect_language
from .dates import parse_dateline
from .profiles import SiteProfile, profile_for_url
from .schema import RECORD_FIELDS, SCHEMA_VERSION
from .urls import canonical_url

__all__ = ["SCHEMA_VERSION", "RECORD_FIELDS", "PageSkipped", "build_record", "page_lines", "utc_timestamp"]



def utc_timestamp(moment: datetime | None = None) -> str:
    moment = (moment or datetime.now(timezone.utc)).astimezone(timezone.utc)
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def _content_type(headers: Mapping[str, str] | None) -> str | None:
    for key, value in (headers or {}).items():
        if key.lower() == "content-type":
            return value
    return None


def page_lines(body: bytes, headers: Mapping[str, str] | None = None) -> list[str]:
    """Every visible line of a page, for learning a site's boilerplate ([] for unreadable pages)."""
    try:
        return [line.text for line in visible_lines(parse_html(decode_html(body, _content_type(headers)).text))]
    except PageSkipped:
        return []


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
    if profile.is_listing_path(urlsplit(url).path):
        raise PageSkipped("listing_page")
    page = decode_html(body, _content_type(headers))
    parts = extract_parts(page.text, profile, url)
    body_lines = parts.body
    if boilerplate is not None:
        body_lines, _removed = boilerplate.clean(body_lines)
    if parts.link_texts is None:
        link_share = parts.link_share  # the site profile located the article: its own link share
    else:
        # No profile: a directory-like page is judged on the lines left once boilerplate is gone.
        link_share = listing_share(body_lines, parts.link_texts)
    if link_share >= LISTING_LINK_SHARE:
        raise PageSkipped("listing_page", f"{link_share:.0%} of the text is links")
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
        "fetched_at": utc_timestamp(fetched_at),
        "content_sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
        # 1 for a page's first record; a crawl with state counts its changes (crawler/spiders/base.py).
        "revision": 1,
    }
