"""The archive spider: follow a site's links, turn every article page into a record."""

from __future__ import annotations

import json
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

from crawler.state import previous_records, requires_contact, site_slug, state_dir
from pipelines.boilerplate import BoilerplateModel
from pipelines.crawlstate import CrawlState
from pipelines.encoding import PageSkipped
from pipelines.pages import FetchedPage, PageRecords, is_html
from pipelines.profiles import SiteProfile, load_profile
from pipelines.urls import canonical_url, site_key

# A request that needs no network: it only gives held pages a callback to be released from.
RELEASE_URL = "data:,"
# Pages between saves of the learned boilerplate model during a crawl.
MODEL_SAVE_EVERY = 25


class ArchiveSpider(scrapy.Spider):
    """Crawls the site rooted at ``start_url`` (same host only) with one site profile."""

    name = "archive"
    profile_name = "generic"
    # Answers a re-crawl must see: not modified, and gone.
    handle_httpstatus_list = [304, 404, 410]

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
        self.state: CrawlState | None = None

    @classmethod
    def from_crawler(cls, crawler, *args: Any, **kwargs: Any):
        spider = super().from_crawler(crawler, *args, **kwargs)
        settings = crawler.settings
        if requires_contact(settings, spider.start_url):
            raise ValueError(
                "CONTACT_URL is required to crawl a real site: name the operator, e.g. "
                "-s CONTACT_URL=https://example.org/contact (it goes in the User-Agent)"
            )
        spider.state = CrawlState(state_dir(settings, spider.name) / "state.sqlite3")
        spider._begin_run(settings)
        crawler.signals.connect(spider._end_run, signal=signals.spider_closed)
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

    def _begin_run(self, settings) -> None:
        from crawler.report import first_feed

        output = first_feed(settings)
        self.state.begin_run(output)
        if self.state.resumed:
            # Records the killed run wrote but had not yet marked: they are in its output, not lost.
            missing = self.state.reconcile(previous_records(self.state.previous_output()))
            self.logger.info("Resuming crawl %d of %s (%d records reconciled from the last output)",
                             self.state.crawl_id, self.site, missing)

    def record_written(self, line: bytes) -> None:
        """Called by the feed storage once a record's line is in the output."""
        record = json.loads(line)
        self.state.record_written(record["canonical_url"], record["content_sha256"], record["revision"])

    def _end_run(self, spider, reason: str) -> None:
        if self.state is not None:
            self.state.end_run(finished_crawl=reason == "finished")
            self.state.close()

    async def start(self) -> AsyncIterator[scrapy.Request]:
        """The start page; then what a resumed crawl still has to do, or every page a new crawl re-checks."""
        request = self._request(self.start_url)
        if request is not None:
            yield request
        for url in self.state.pending() if self.state.resumed else self.state.known():
            request = self._request(url, resuming=self.state.resumed)
            if request is not None:
                yield request

    def _request(self, url: str, resuming: bool = False) -> scrapy.Request | None:
        """A request for a page not yet queued in this crawl, conditional when a record came from it."""
        canonical = canonical_url(url, self.profile)
        if not self.state.queue(canonical, url) and not resuming:
            return None
        headers = {}
        known = self.state.page(canonical)
        if known is not None and known.revision:
            if known.etag:
                headers["If-None-Match"] = known.etag
            if known.last_modified:
                headers["If-Modified-Since"] = known.last_modified
            if headers:
                self._count("requests/conditional")
        # The canonical form is fetched: no fragment, no tracking or ignored query, one host spelling.
        return scrapy.Request(canonical, callback=self.parse, headers=headers, meta={"canonical_url": canonical})

    def _count(self, key: str) -> None:
        self.crawler.stats.inc_value(f"archive/{key}")

    def parse(self, response: Response, **kwargs: Any):
        requested = response.meta.get("canonical_url") or canonical_url(response.url, self.profile)
        canonical = canonical_url(response.url, self.profile)
        status = response.status
        headers = response.headers
        etag = (headers.get(b"ETag") or b"").decode("latin-1") or None
        modified = (headers.get(b"Last-Modified") or b"").decode("latin-1") or None
        settled = status in (304, 404, 410)
        for key in {requested, canonical}:
            self.state.fetched(key, response.url, status, etag, modified, done=settled)
        if status == 304:
            self._count("pages/unchanged")
            return
        if status in (404, 410):
            self._count("pages/gone")
            self.crawler.stats.inc_value(f"httperror/response_ignored_status_count/{status}")
            self.logger.info("Gone (%d): %s", status, response.url)
            return
        self._count("pages/fetched")
        content_type = headers.get(b"Content-Type")
        page = FetchedPage(response.body, response.url, content_type, datetime.now(timezone.utc))
        # Links first: a page is only finished once what it links to is queued.
        if is_html(content_type):
            yield from self._follow(response)
        # The same decisions as `archive-crawler reprocess` (pipelines/pages.py).
        yield from self._emit(self.pages.add(page))
        if self.pages.held:
            self.crawler.stats.set_value("archive/boilerplate/held", len(self.pages.held))
        model = self.pages.model
        if model is not None and model.ready and model.pages % MODEL_SAVE_EVERY == 0:
            self._save_model(self, "checkpoint")  # a killed crawl resumes with what it learned

    def _emit(self, outcomes: Iterable[tuple[FetchedPage, dict | PageSkipped]]):
        for page, outcome in outcomes:
            key = canonical_url(page.url, self.profile)
            if isinstance(outcome, PageSkipped):
                self._count(f"skipped/{outcome.reason}")
                self.logger.debug("No record from %s: %s", page.url, outcome)
                self.state.finish(key)
                continue
            self._count("pages/article")
            known = self.state.page(outcome["canonical_url"])
            if known is not None and known.revision and known.content_sha256 == outcome["content_sha256"]:
                self._count("pages/unchanged")
                self.state.finish(key)
                continue
            outcome["revision"] = (known.revision if known is not None else 0) + 1
            self._count("records/changed" if outcome["revision"] > 1 else "records/new")
            # Finished when its line is in the output (crawler/feedstorage.py calls record_written).
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
            request = self._request(response.urljoin(link.url))
            if request is not None:
                yield request
