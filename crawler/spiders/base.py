"""The archive spider: follow a site's links, turn every article page into a record."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import scrapy
from scrapy.http import Response
from scrapy.linkextractors import LinkExtractor
from scrapy.settings import SETTINGS_PRIORITIES

from pipelines.encoding import PageSkipped
from pipelines.pages import UNREADABLE, page_record
from pipelines.profiles import SiteProfile, load_profile
from pipelines.urls import site_key


class ArchiveSpider(scrapy.Spider):
    """Crawls the site rooted at ``start_url`` (same host only) with one site profile."""

    name = "archive"
    profile_name = "generic"

    def __init__(self, start_url: str | None = None, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.profile: SiteProfile = load_profile(self.profile_name)
        self.start_url = start_url or self.profile.default_start_url
        if not self.start_url:
            raise ValueError(f"spider {self.name!r} needs -a start_url=URL")
        parts = urlsplit(self.start_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"start_url must be an http(s) URL with a host, got {self.start_url!r}")
        self.site = site_key(self.start_url, self.profile)
        # Scrapy's offsite filter also guards redirects; our own check below adds the port.
        host = parts.hostname.lower()
        self.allowed_domains = [self.profile.name] if self.profile.serves(host) else [host]
        self.link_extractor = LinkExtractor(unique=True, canonicalize=False)

    @classmethod
    def update_settings(cls, settings) -> None:
        super().update_settings(settings)
        # Unless USER_AGENT is set explicitly, name the project and the operator's contact URL.
        if (settings.getpriority("USER_AGENT") or 0) <= SETTINGS_PRIORITIES["default"]:
            contact = settings.get("CONTACT_URL") or ""
            agent = f"{settings.get('BOT_NAME')}/{settings.get('PROJECT_VERSION')}"
            settings.set("USER_AGENT", f"{agent} (+{contact})" if contact else agent, priority="spider")

    async def start(self) -> AsyncIterator[scrapy.Request]:
        # Filtered like every other request, so the start page is not fetched again as dir/index.html.
        yield scrapy.Request(self.start_url, callback=self.parse)

    def _count(self, key: str) -> None:
        self.crawler.stats.inc_value(f"archive/{key}")

    def parse(self, response: Response, **kwargs: Any):
        self._count("pages/fetched")
        reason = None
        try:
            # The same decisions as `archive-crawler reprocess` (pipelines/pages.py).
            record = page_record(response.body, response.url, response.headers.get(b"Content-Type"), self.profile)
        except PageSkipped as skipped:
            reason = skipped.reason
            self._count(f"skipped/{reason}")
            self.logger.debug("No record from %s: %s", response.url, skipped)
        else:
            self._count("pages/article")
            yield record
        if reason != "not_html" and reason not in UNREADABLE:
            yield from self._follow(response)

    def _follow(self, response: Response):
        if not hasattr(response, "text"):
            return
        for link in self.link_extractor.extract_links(response):
            if site_key(link.url, self.profile) != self.site:
                self._count("links/offsite")
                continue
            yield response.follow(link.url, callback=self.parse)
