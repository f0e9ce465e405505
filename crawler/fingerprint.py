"""Request fingerprints by canonical URL, so host aliases, fragments and ignored query strings
of one page count as one request for Scrapy's duplicate filter."""

from __future__ import annotations

from typing import TYPE_CHECKING

from scrapy import Request
from scrapy.utils.request import fingerprint

from pipelines.profiles import profile_for_url
from pipelines.urls import canonical_url

if TYPE_CHECKING:
    from scrapy.crawler import Crawler


class CanonicalUrlFingerprinter:
    def __init__(self, crawler: Crawler | None = None):
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CanonicalUrlFingerprinter:
        return cls(crawler)

    def fingerprint(self, request: Request) -> bytes:
        spider = getattr(self.crawler, "spider", None)
        profile = getattr(spider, "profile", None) or profile_for_url(request.url)
        canonical = canonical_url(request.url, profile)
        if canonical != request.url:
            request = request.replace(url=canonical)
        return fingerprint(request)
