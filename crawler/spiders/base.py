"""The archive spider: follow a site's links and turn every article page into a record; pages are read
and records built in worker processes (crawler/chain.py, crawler/workers.py), never in the callback."""

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
from scrapy.linkextractors import IGNORED_EXTENSIONS
from scrapy.settings import SETTINGS_PRIORITIES

from crawler.chain import Built, PageReader, log_skip
from crawler.discovery import Discovery
from crawler.faults import REFUSALS, fault_detail, fault_reason
from crawler.frontier import Frontier, url_shape
from crawler.scope import INTERNAL, Scope
from crawler.state import (
    STATE_FILE,
    CrawlState,
    previous_records,
    requires_contact,
    site_origin,
    site_slug,
    state_dir,
)
from crawler.workers import PageJob, RecordPool, configure, default_workers
from pipelines.boilerplate import BoilerplateModel
from pipelines.profiles import SiteProfile, load_profile
from pipelines.urls import canonical_or_itself, canonical_url, site_key

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
        # Every request is checked against it, here for links and in crawler.scope.ScopeMiddleware
        # for whatever reaches the downloader (redirects, retries).
        self.scope = Scope(self.start_url, self.profile)
        self.frontier: Frontier | None = None
        self.model_path: Path | None = None
        self.reader: PageReader | None = None
        self.state: CrawlState | None = None
        self.discovery: Discovery | None = None

    @classmethod
    def from_crawler(cls, crawler, *args: Any, **kwargs: Any):
        spider = super().from_crawler(crawler, *args, **kwargs)
        settings = crawler.settings
        if requires_contact(settings, spider.start_url):
            raise ValueError(
                "CONTACT_URL is required to crawl a real site: name the operator, e.g. "
                "-s CONTACT_URL=https://example.org/contact (it goes in the User-Agent)"
            )
        spider.origin = site_origin(spider.start_url, spider.profile)
        folder = state_dir(settings, spider.name, spider.origin)
        spider.state = CrawlState(folder / STATE_FILE, site=spider.origin)
        spider._begin_run(settings)
        spider.frontier = Frontier.from_settings(settings, spider._not_followed,
                                                 queued=spider.state.queued_count())
        crawler.signals.connect(spider._end_run, signal=signals.spider_closed)
        spider.reader = PageReader(record_pool(settings, spider.profile.name))
        # Pages beyond links: the site's sitemaps and the feeds of its start page (crawler/discovery.py).
        spider.discovery = Discovery.from_crawler(crawler, spider)
        if settings.getbool("BOILERPLATE_LEARNING", True):
            spider.model_path = folder / f"boilerplate-{site_slug(spider.site)}.json"
            spider.reader.model = spider._load_model(settings)
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
            min_pages=settings.getint("BOILERPLATE_MIN_PAGES"),
            min_share=settings.getfloat("BOILERPLATE_MIN_SHARE"),
            warmup=settings.getint("BOILERPLATE_WARMUP"),
        )

    def _save_model(self, spider, reason: str) -> None:
        model = self.reader.model if self.reader is not None else None
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

    def _end_run(self, spider, reason: str) -> None:
        if self.reader is not None:
            pool = self.reader.pool
            for key, value in pool.stats.items():
                self.crawler.stats.set_value(f"archive/pool/{key}", value)
            self.crawler.stats.set_value("archive/pool/workers", pool.workers)
            self.crawler.stats.set_value("archive/pool/capacity", pool.capacity)
            pool.close()
        if self.state is not None:
            self.state.end_run(finished_crawl=reason == "finished")
            self.state.close()

    async def start(self) -> AsyncIterator[scrapy.Request]:
        """The start page; then what a resumed crawl still has to do, or every page a new crawl re-checks."""
        self.reader.pool.start()  # the workers load the record engine while the first requests go out
        # In full when its feeds are to be read (crawler/discovery.py): a 304 has no <head>.
        request = self._request(self.start_url, conditional=not self.discovery.feeds)
        if request is not None:
            yield request
        for request in self.discovery.start_requests():
            yield request
        urls = list(self.state.pending() if self.state.resumed else self.state.known())
        if urls and not self.state.resumed:
            # A re-crawl re-checks what it knows once the sitemaps are read: a page whose lastmod is
            # older than its last fetch is not asked for again.
            await self.discovery.settled()
        for url in urls:
            request = self._request(url, resuming=self.state.resumed)
            if request is not None:
                yield request

    def _request(self, url: str, resuming: bool = False, meta: dict | None = None,
                 conditional: bool = True) -> scrapy.Request | None:
        """A request for a page of the site not yet queued in this crawl (within the page budget),
        conditional when a record came from it (unless ``conditional`` is False)."""
        refusal = self.scope.refusal(url)
        if refusal is not None:
            self._count(f"links/out_of_scope/{refusal}")
            self.state.outcome(canonical_or_itself(url, self.profile), f"refused/out_of_scope/{refusal}")
            return None
        canonical = canonical_url(url, self.profile)
        if not resuming and self.frontier.page_budget and self.frontier.queued >= self.frontier.page_budget:
            if not self.state.is_queued(canonical):
                self.frontier.admit(canonical)  # refused and counted
                self.state.outcome(canonical, "not_followed/budget")
            return None
        if not self.state.queue(canonical, url) and not resuming:
            return None
        if not resuming:
            self.frontier.admit(canonical)
        headers = {}
        known = self.state.page(canonical)
        # With WARC capture, a page whose capture is missing is asked for in full: the gap is filled.
        if conditional and known is not None and known.revision and not self.state.capture_missing(canonical):
            if known.etag:
                headers["If-None-Match"] = known.etag
            if known.last_modified:
                headers["If-Modified-Since"] = known.last_modified
            if headers:
                self._count("requests/conditional")
        # The canonical form is fetched: no fragment, no tracking or ignored query, one host spelling.
        return scrapy.Request(canonical, callback=self.parse, errback=self._failed, headers=headers,
                              meta={**(meta or {}), "canonical_url": canonical})

    def _failed(self, failure) -> None:
        """A request that gave no page for good (after Scrapy's retries): one line and a counted
        reason (crawler/faults.py); the page needs nothing more in this crawl."""
        request = failure.request
        reason = fault_reason(failure.value)
        if reason.startswith("http_"):
            # What Scrapy's HttpErrorMiddleware counts when no errback takes the error.
            self.crawler.stats.inc_value("httperror/response_ignored_count")
            self.crawler.stats.inc_value(f"httperror/response_ignored_status_count/{reason[5:]}")
        if reason not in REFUSALS:  # refusals are counted and logged where they are decided
            self._count(f"faults/{reason}")
            self.logger.warning("Failed (%s): %s: %s", reason, request.url, fault_detail(failure.value))
        canonical = request.meta.get("canonical_url") or canonical_url(request.url, self.profile)
        # What the crawl report lists (crawler/report.py), with the page that linked to it.
        self.state.outcome(canonical, f"refused/{reason}" if reason in REFUSALS else f"failed/{reason}",
                           fault_detail(failure.value), _referer(request))
        self.state.finish(canonical)

    def _count(self, key: str) -> None:
        self.crawler.stats.inc_value(f"archive/{key}")

    def _not_followed(self, reason: str) -> None:
        """The frontier refused a link (counted); ``_follow`` notes the URL's outcome with the reason."""
        self._count(f"frontier/{reason}")
        self.refusal = reason

    def parse_discovery(self, response: Response, **kwargs: Any):
        """A robots.txt, sitemap or feed the crawl asked for: the requests it leads to."""
        return self.discovery.parse(response)

    def _discovery_failed(self, failure) -> None:
        self.discovery.failed(failure.request)
        self._failed(failure)

    async def parse(self, response: Response, **kwargs: Any):
        requested = response.meta.get("canonical_url") or canonical_url(response.url, self.profile)
        canonical = canonical_url(response.url, self.profile)
        status = response.status
        headers = response.headers
        etag = (headers.get(b"ETag") or b"").decode("latin-1") or None
        modified = (headers.get(b"Last-Modified") or b"").decode("latin-1") or None
        settled = status in (304, 404, 410)
        for key in {requested, canonical}:
            self.state.fetched(key, response.url, status, etag, modified, done=settled)
        if requested != canonical:
            self.state.outcome(requested, "redirected", canonical)
        if status == 304:
            self._count("pages/unchanged")
            self.state.outcome(canonical, "unchanged", "304")
            return
        if status in (404, 410):
            self._count("pages/gone")
            self.state.outcome(canonical, "gone", str(status), _referer(response.request))
            self.crawler.stats.inc_value(f"httperror/response_ignored_status_count/{status}")
            self.logger.info("Gone (%d): %s", status, response.url)
            return
        self._count("pages/fetched")
        content_type = (headers.get(b"Content-Type") or b"").decode("latin-1") or None
        job = PageJob(response.body, response.url, content_type, self.profile.name, datetime.now(timezone.utc))
        # Read in a worker process; the engine goes on fetching meanwhile (crawler/chain.py).
        links, outcomes = await self.reader.read(job)
        own = next((b for b in outcomes if canonical_url(b.url, self.profile) == canonical), None)
        start = canonical_url(self.start_url, self.profile)
        if links and (own is None or own.reason == "listing_page" or start in (requested, canonical)):
            # An index page (or a page held for learning, which may be one): the crawl report
            # compares the links it lists with what the crawl made of them (crawler/report.py).
            self.state.index_links(canonical, (canonical_or_itself(link, self.profile) for link in links))
        # Links first: a page is only finished once what it links to is queued.
        for request in self._follow(links, response):
            yield request
        for request in self.discovery.from_start_page(response):
            yield request
        for item in self._emit(outcomes):
            yield item
        self.crawler.stats.set_value("archive/boilerplate/held", len(self.reader.held))
        model = self.reader.model
        if model is not None and model.ready and model.pages % MODEL_SAVE_EVERY == 0:
            self._save_model(self, "checkpoint")  # a killed crawl resumes with what it learned

    def _emit(self, outcomes: Iterable[Built]):
        for built in outcomes:
            key = canonical_url(built.url, self.profile)
            if built.record is None:
                self._count(f"skipped/{built.reason}")
                self.state.outcome(key, f"skipped/{built.reason}", (built.detail or "")[:300] or None)
                log_skip(built, self.logger)
                self.state.finish(key)
                continue
            self._count("pages/article")
            # Revision and de-duplication: crawler/pipelines.py; finished once its line is written.
            yield built.record

    def _release_held(self, spider) -> None:
        """Nothing left to fetch but pages still held for learning: give them a callback to leave by."""
        if self.reader is not None and self.reader.held:
            request = scrapy.Request(RELEASE_URL, callback=self._released, dont_filter=True,
                                     meta={INTERNAL: True})
            self.crawler.engine.crawl(request)
            raise DontCloseSpider

    async def _released(self, response: Response, **kwargs: Any):
        for item in self._emit(await self.reader.flush()):
            yield item
        self.crawler.stats.set_value("archive/boilerplate/held", len(self.reader.held))

    def _follow(self, links: Iterable[str], response: Response):
        new = []
        for link in links:
            if self.scope.refusal(link) is not None:
                self._count("links/offsite")
                self.state.outcome(canonical_or_itself(link, self.profile), "off_host", None, response.url)
            elif not self.state.is_queued(canonical_url(link, self.profile)):
                new.append(link)  # a link met before is not a new hop, whatever its depth here
        # A page that finds nothing new but more of its own kind may be a generated one (a trap).
        shape = url_shape(response.url)
        barren = all(url_shape(link) == shape for link in new)
        for link in new:
            meta = self.frontier.follow(link, response.url, response.meta, barren)
            if meta is None:
                self.state.outcome(canonical_url(link, self.profile), f"not_followed/{self.refusal}", None, response.url)
                continue
            request = self._request(link, meta=meta)
            if request is not None:
                yield request


def _referer(request) -> str | None:
    """The page that linked to a request (Scrapy's RefererMiddleware sets the header)."""
    value = request.headers.get(b"Referer") if request is not None else None
    return value.decode("latin-1") if value else None


def record_pool(settings, profile: str) -> RecordPool:
    """The worker pool of a crawl: ``RECORD_WORKERS`` processes (empty: one per core beyond the
    first, at least one; 0: in the crawl's own process), at most ``RECORD_POOL_CAPACITY`` pages in
    it (0: four per worker), each page within ``PAGE_MAX_BYTES``, ``PAGE_MAX_ELEMENTS`` and
    ``RECORD_TIMEOUT``."""
    configured = settings.get("RECORD_WORKERS")
    workers = default_workers() if configured in (None, "") else settings.getint("RECORD_WORKERS")
    capacity = settings.getint("RECORD_POOL_CAPACITY") or None
    budgets = (settings.getint("PAGE_MAX_BYTES"), settings.getint("PAGE_MAX_ELEMENTS"))
    return RecordPool(workers, capacity, initializer=configure, initargs=(frozenset(IGNORED_EXTENSIONS), *budgets),
                      profiles=(profile,), timeout=settings.getfloat("RECORD_TIMEOUT"))
