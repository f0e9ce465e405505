"""What the crawl and ``archive-crawler reprocess`` decide about a fetched page, in one place.

The spider (``crawler/spiders/base.py``), the item pipelines (``pipelines/scrapy_pipelines.py``) and
re-extraction from WARC files (``pipelines/reprocess.py``) all call these functions, so a record
re-made from a capture is the record the crawl wrote.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from .boilerplate import BoilerplateModel
from .encoding import PageSkipped
from .profiles import SiteProfile
from .records import build_record, page_lines

__all__ = [
    "HTML_TYPES",
    "Deduplicator",
    "FetchedPage",
    "PageRecords",
    "is_html",
    "reaches_spider",
    "page_record",
]

logger = logging.getLogger(__name__)

# Media types read as HTML pages. A response without a Content-Type is tried as HTML too.
HTML_TYPES = ("text/html", "application/xhtml+xml")


def reaches_spider(status: int) -> bool:
    """Scrapy's HttpErrorMiddleware hands the spider only 2xx responses; redirects are followed
    by the RedirectMiddleware and never reach it either."""
    return 200 <= status < 300


def is_html(content_type: str | bytes | None) -> bool:
    if isinstance(content_type, bytes):
        content_type = content_type.decode("latin-1")
    if not content_type:
        return True
    return content_type.split(";")[0].strip().lower().startswith(HTML_TYPES)


def page_record(
    body: bytes,
    url: str,
    content_type: str | bytes | None,
    profile: SiteProfile,
    fetched_at: datetime | None = None,
    boilerplate: BoilerplateModel | None = None,
) -> dict:
    """The record of a page that reached the spider, or ``PageSkipped`` with the reason."""
    if isinstance(content_type, bytes):
        content_type = content_type.decode("latin-1")
    if not is_html(content_type):
        raise PageSkipped("not_html", content_type or "")
    return build_record(
        body,
        url,
        headers={"Content-Type": content_type} if content_type else None,
        profile=profile,
        fetched_at=fetched_at,
        boilerplate=boilerplate,
    )


@dataclass(frozen=True)
class FetchedPage:
    body: bytes
    url: str
    content_type: str | bytes | None
    fetched_at: datetime | None = None


class PageRecords:
    """Fetched pages of one site to records, in order, with boilerplate learned from the site.

    Every HTML page is observed by the site's model. Until the model has seen ``warmup`` pages the
    pages are held, so that the first records are cleaned with what the whole warm-up taught;
    afterwards each page becomes its record at once. ``flush`` releases what is still held (the
    end of a crawl of a small site). Without a model, pages become records at once.
    """

    def __init__(self, profile: SiteProfile, model: BoilerplateModel | None = None):
        self.profile = profile
        self.model = model
        self.held: list[FetchedPage] = []

    def _outcome(self, page: FetchedPage) -> dict | PageSkipped:
        try:
            return page_record(page.body, page.url, page.content_type, self.profile, page.fetched_at, self.model)
        except PageSkipped as skipped:
            return skipped
        except Exception as exc:  # noqa: BLE001 - a page the code cannot handle is a counted skip, not a crash
            logger.exception("Extraction failed on %s", page.url)
            return PageSkipped("extraction_error", f"{type(exc).__name__}: {exc}")

    def add(self, page: FetchedPage) -> list[tuple[FetchedPage, dict | PageSkipped]]:
        """Outcomes ready now (a record or the reason for none), oldest first."""
        if self.model is None or not is_html(page.content_type):
            return [(page, self._outcome(page))]
        self.model.observe(page_lines(page.body, {"Content-Type": _text(page.content_type) or ""}))
        self.held.append(page)
        if not self.model.ready:
            return []
        return self.flush()

    def flush(self) -> list[tuple[FetchedPage, dict | PageSkipped]]:
        released, self.held = self.held, []
        return [(page, self._outcome(page)) for page in released]


def _text(content_type: str | bytes | None) -> str | None:
    return content_type.decode("latin-1") if isinstance(content_type, bytes) else content_type


class Deduplicator:
    """One record per page: the first record of a canonical URL and of a text hash wins."""

    def __init__(self) -> None:
        self.urls: set[str] = set()
        self.hashes: set[str] = set()

    def duplicate(self, record) -> str | None:
        """``"duplicate_url"`` / ``"duplicate_content"`` for a record already seen, else ``None``
        (and the record is remembered)."""
        url, digest = record["canonical_url"], record["content_sha256"]
        if url in self.urls:
            return "duplicate_url"
        if digest in self.hashes:
            return "duplicate_content"
        self.urls.add(url)
        self.hashes.add(digest)
        return None
