"""The archive spider: follow a site's links, turn every article page into a record."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import scrapy
from scrapy import signals
from scrapy.exceptions import DontCloseSpider
from scrapy.http import Response
from scrapy.linkextractors import LinkExtractor
from scrapy.settings import SETTINGS_PRIORITIES

from crawler.state import site_slug, state_dir
from pipelines.boilerplate import BoilerplateModel
from pipelines.encoding import PageSkipped
from pipelines.pages import FetchedPage, PageRecords, is_html
from pipelines.profiles import SiteProfile, load_profile
from pipelines.urls import site_key

# A request that needs no network: it only gives held pages a callback to be released from.
RELEASE_URL = "data:,"


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
        self.model_path: Path | None = None
        self.pages = PageRecords(self.profile)

    @classmethod
    def from_crawler(cls, crawler, *args: Any, **kwargs: Any):
        spider = super().from_crawler(crawler, *args, **kwargs)
        settings = crawler.settings
        if settings.getbool("BOILERPLATE_LEARNING", True):
            spider.model_path = state_dir(settings, spider.name) / f"boilerplate-{site_slug(spider.site)}.json"
            spider.pages.model = spider._load_model(settings)
            crawler.signals.connect(spider._save_model, signal=signals.spider_closed)
        crawler.signals.connect(spider._release_held, signal=signals.spider_idle)
        return spider

    def _load_model(self, settings) -> BoilerplateModel:
        """The model the last crawl of this site saved, else a new one (see pipelines/boilerplate.py)."""
        if self.model_path is not None and self.model_path.is_file():
            try:
                model = BoilerplateModel.load(self.model_path)
                self.logger.info("Boilerplate model of %s: %d pages from %s", self.site, model.pages, self.model_path)
                return model
            except (ValueError, KeyError, OSError) as exc:
                self.logger.warning("Ignoring unreadable boilerplate model %s: %s", self.model_path, exc)
        return BoilerplateModel(
            site=self.site,
            min_pages=settings.getint("BOILERPLATE_MIN_PAGES", 5),
            min_share=settings.getfloat("BOILERPLATE_MIN_SHARE", 0.2),
            warmup=settings.getint("BOILERPLATE_WARMUP", 20),
        )

    def _save_model(self, spider, reason: str) -> None:
        model = self.pages.model
        if model is not None and self.model_path is not None and model.pages:
            model.save(self.model_path)

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
        content_type = response.headers.get(b"Content-Type")
        page = FetchedPage(response.body, response.url, content_type, datetime.now(timezone.utc))
        # The same decisions as `archive-crawler reprocess` (pipelines/pages.py).
        yield from self._emit(self.pages.add(page))
        if self.pages.held:
            self.crawler.stats.set_value("archive/boilerplate/held", len(self.pages.held))
        if is_html(content_type):
            yield from self._follow(response)

    def _emit(self, outcomes: Iterable[tuple[FetchedPage, dict | PageSkipped]]):
        for page, outcome in outcomes:
            if isinstance(outcome, PageSkipped):
                self._count(f"skipped/{outcome.reason}")
                self.logger.debug("No record from %s: %s", page.url, outcome)
            else:
                self._count("pages/article")
                yield outcome

    def _release_held(self, spider) -> None:
        """Nothing left to fetch but pages still held for learning: give them a callback to leave by."""
        if self.pages.held:
            request = scrapy.Request(RELEASE_URL, callback=self._released, dont_filter=True,
                                     meta={"allow_offsite": True})
            self.crawler.engine.crawl(request)
            raise DontCloseSpider

    def _released(self, response: Response, **kwargs: Any):
        self.crawler.stats.set_value("archive/boilerplate/held", 0)
        yield from self._emit(self.pages.flush())

    def _follow(self, response: Response):
        if not hasattr(response, "text"):
            return
        for link in self.link_extractor.extract_links(response):
            if site_key(link.url, self.profile) != self.site:
                self._count("links/offsite")
                continue
            yield response.follow(link.url, callback=self.parse)
