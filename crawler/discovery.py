"""Pages a crawl finds beyond links: the site's sitemaps and the feeds its start page links.

Sitemaps (``DISCOVER_SITEMAPS``): the ``Sitemap:`` lines of the site's robots.txt, else
``/sitemap.xml``. The robots.txt is the answer the robots.txt middleware (crawler/robots.py) already
downloaded, read when its ``robots_parsed`` signal comes: nothing is fetched twice (with
``ROBOTSTXT_OBEY`` off the crawl asks for robots.txt itself). Sitemap indexes lead to more sitemaps,
gzip sitemaps are inflated within ``DOWNLOAD_MAXSIZE``; everything is read with Scrapy's own sitemap
machinery (``scrapy.utils.sitemap``, ``scrapy.utils.gz.gunzip``), as ``SitemapSpider`` reads it.

Feeds (``DISCOVER_FEEDS``): the RSS, Atom and JSON feeds the start page links in its ``<head>``
(``trafilatura.feeds.determine_feed``, which leaves comment feeds out), their entries read by
``trafilatura.feeds.find_links`` from the body the crawl fetched (trafilatura never fetches here), or
with Scrapy's selectors when trafilatura finds nothing in it.

Every sitemap and feed is an ordinary request of the crawl, so scope, robots.txt, politeness, retries
and WARC capture apply to it; they go before pages (``PRIORITY``) and at most
``DISCOVERY_MAX_DOCUMENTS`` of them are fetched in a run. Their locations and links may be relative
(resolved against the document). Every page URL found takes the way a link takes: scope, the frontier
(depth, traps), then the spider's ``_request`` (page budget, crawl state, conditional request).

Re-crawls: a page that gave a record in an earlier crawl and whose sitemap ``<lastmod>`` is older
than its last fetch in the crawl state is not fetched again: it is unchanged (a date-only lastmod
counts as the end of that day anywhere on Earth). The spider re-checks the pages it knows only once
the sitemaps are read (``settled``), so that those are spared.

Stats: ``archive/discovery/sitemaps`` and ``archive/discovery/feeds`` (documents read),
``archive/discovery/sitemap_urls`` and ``archive/discovery/feed_urls`` (page URLs read from them),
``archive/discovery/queued`` (requests made for them), ``archive/discovery/skipped_lastmod`` (also
counted in ``archive/pages/unchanged``), ``archive/discovery/out_of_scope``, ``archive/discovery/invalid``
(a document that is no sitemap or feed), ``archive/discovery/unavailable`` (answered 404, 410 ...),
``archive/discovery/limit`` (documents not fetched: ``DISCOVERY_MAX_DOCUMENTS``).
"""

from __future__ import annotations

import calendar
import logging
import re
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

import lxml.etree
import scrapy
from scrapy import signals
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
from scrapy.http import Response, TextResponse, XmlResponse
from scrapy.selector import Selector
from scrapy.utils.conf import build_component_list
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.gz import gunzip, gzip_magic_number
from scrapy.utils.misc import load_object
from scrapy.utils.sitemap import Sitemap, sitemap_urls_from_robots
from twisted.internet.defer import Deferred

from crawler.state import CrawlState
from pipelines.urls import canonical_url

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

__all__ = ["Discovery", "feed_links", "lastmod_bound", "read_sitemap", "sitemap_body"]

logger = logging.getLogger(__name__)

# request.meta key of a discovery document: what it is.
KIND = "archive_discovery"
ROBOTS, SITEMAP, FEED = "robots", "sitemap", "feed"
# Tried when robots.txt names no sitemap (or there is no robots.txt).
SITEMAP_FALLBACK = "/sitemap.xml"
# Documents go before pages (Scrapy's robots.txt requests have 1000): their lastmods spare re-fetches.
PRIORITY = 100
# Seconds between looks at the engine while ``settled`` waits: with nothing in flight, a document
# some middleware dropped without a word cannot come back.
IDLE_CHECK = 1.0
# A page that gave a record and was answered so: a lastmod may spare its next fetch.
SETTLED_STATUSES = (200, 304)
# Feed entries when trafilatura finds none: RSS 2.0/1.0 items, Atom entries (namespaces removed).
FEED_LINKS_XPATH = ("//item/link/text() | //item[not(link)]/guid[not(@isPermaLink='false')]/text()"
                    " | //entry/link[not(@rel) or @rel='alternate']/@href")
_DAY = re.compile(r"(\d{4})(?:-(\d\d)(?:-(\d\d))?)?")


# --- reading documents ---------------------------------------------------------------------------

def sitemap_body(response: Response, max_size: int, warn_size: int) -> bytes | None:
    """The XML of a sitemap answer, inflated when gzip; None when it is no sitemap (or inflates
    past ``max_size``). Scrapy's ``SitemapSpider._get_sitemap_body``, gzip bytes recognised first
    (whatever their Content-Type says)."""
    if gzip_magic_number(response):
        try:
            body = gunzip(response.body, max_size=max_size)
        except (ValueError, OSError, EOFError):  # over max_size (a ValueError), or not gzip after all
            return None
        if len(response.body) < warn_size <= len(body):
            logger.warning("%s: %d bytes once inflated, over DOWNLOAD_WARNSIZE (%d)", response.url, len(body),
                           warn_size)
        return body
    if isinstance(response, XmlResponse):
        return response.body
    # An .xml.gz the HTTP compression middleware already inflated (Content-Encoding: gzip).
    if response.url.endswith((".xml", ".xml.gz")):
        return response.body
    return None


def read_sitemap(body: bytes) -> Sitemap | None:
    """Scrapy's parser of a sitemap or sitemap index; None when the body is not XML."""
    try:
        return Sitemap(body)
    except (lxml.etree.LxmlError, StopIteration):
        return None


def sitemap_entries(sitemap: Sitemap) -> Iterator[tuple[str, str | None]]:
    """(loc, lastmod) of each ``<url>`` or ``<sitemap>``, up to where a damaged file stops making sense."""
    try:
        for entry in sitemap:
            if entry.get("loc"):
                yield entry["loc"], entry.get("lastmod") or None
    except lxml.etree.LxmlError as exc:
        logger.info("Sitemap read up to an error: %s", exc)


def feed_links(text: str, url: str) -> list[str]:
    """The absolute links of a feed's entries (RSS, Atom or JSON Feed; its own link to the site too)."""
    from trafilatura.feeds import FeedParameters, find_links  # only for a site that has feeds (see feeds_of_page)

    text = text.lstrip("\ufeff \t\r\n")
    params = FeedParameters(url, urlsplit(url).hostname or "", url)
    links = find_links(text, params)
    if not links and not text.startswith("{"):
        try:
            selector = Selector(text=text, type="xml")
        except ValueError:
            selector = None
        if selector is not None:
            selector.remove_namespaces()
            links = selector.xpath(FEED_LINKS_XPATH).getall()
    return [urljoin(url, link.strip()) for link in dict.fromkeys(links) if link and link.strip()]


def feeds_of_page(html: str, url: str) -> list[str]:
    """The feeds a page links (trafilatura: ``<link rel="alternate">`` of feed types, comment feeds left out).

    The crawl's own process does no parsing and loads no record engine (crawler/workers.py):
    trafilatura is imported only when the page names a feed type at all."""
    if not FEED_TYPE_HINT.search(html):
        return []
    from trafilatura.feeds import FeedParameters, determine_feed

    return determine_feed(html, FeedParameters(url, urlsplit(url).hostname or "", url))


# The media types of feeds, as a page's <link rel="alternate" type="..."> names them.
FEED_TYPE_HINT = re.compile(r"application/(?:rss|atom|feed)\+(?:xml|json)|application/json", re.IGNORECASE)


def lastmod_bound(value: str) -> datetime | None:
    """The latest moment a W3C-datetime ``<lastmod>`` can mean (UTC); None when unreadable. A date
    without time is the end of that day (or month, or year) anywhere on Earth; a time without zone, UTC-12."""
    value = value.strip()
    if match := _DAY.fullmatch(value):
        year, month = int(match[1]), int(match[2] or 12)
        try:
            day = date(year, month, int(match[3]) if match[3] else calendar.monthrange(year, month)[1])
        except ValueError:
            return None
        return datetime(day.year, day.month, day.day, tzinfo=timezone.utc) + timedelta(days=1, hours=12)
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc) + timedelta(hours=12)
    return moment


def last_fetch(state: CrawlState, canonical: str) -> datetime | None:
    """When the crawl state last fetched a page (``pages.last_fetch``, which ``PageState`` does not carry)."""
    row = state.db.execute("SELECT last_fetch FROM pages WHERE canonical_url = ?", (canonical,)).fetchone()
    if not row or not row[0]:
        return None
    try:
        return datetime.fromisoformat(row[0].replace("Z", "+00:00"))
    except ValueError:
        return None


def reads_robots(settings) -> bool:
    """A robots.txt middleware is on: it downloads robots.txt and sends ``robots_parsed``."""
    if not settings.getbool("ROBOTSTXT_OBEY"):
        return False
    for component in build_component_list(settings.getwithbase("DOWNLOADER_MIDDLEWARES")):
        loaded = load_object(component)
        if isinstance(loaded, type) and issubclass(loaded, RobotsTxtMiddleware):
            return True
    return False


# --- the crawl's discovery -----------------------------------------------------------------------

class Discovery:
    """Sitemaps and feeds of one ``ArchiveSpider`` crawl (see the module)."""

    def __init__(self, spider, *, sitemaps: bool, feeds: bool, max_documents: int, max_size: int,
                 warn_size: int, robots_middleware: bool):
        self.spider = spider
        self.sitemaps = sitemaps
        self.feeds = feeds
        self.max_documents = max_documents
        self.max_size = max_size
        self.warn_size = warn_size
        self.robots_middleware = robots_middleware
        self.crawler: Crawler | None = None
        self._start = canonical_url(spider.start_url, spider.profile)
        self._documents: set[str] = set()
        self._robots_answers: dict[str, tuple[int, bytes, str]] = {}
        self._robots_hosts: set[str] = set()
        self._robots_read = not sitemaps
        self._feeds_read = not feeds
        # robots.txt and sitemaps not read yet; ``settled`` waits for none to be left.
        self._open = 0 if self._robots_read else 1
        self._waiters: list[Deferred] = []
        self._limit_logged = False

    @classmethod
    def from_crawler(cls, crawler: Crawler, spider) -> Discovery:
        settings = crawler.settings
        discovery = cls(spider, sitemaps=settings.getbool("DISCOVER_SITEMAPS", True),
                        feeds=settings.getbool("DISCOVER_FEEDS", True),
                        max_documents=settings.getint("DISCOVERY_MAX_DOCUMENTS", 1000),
                        max_size=settings.getint("DOWNLOAD_MAXSIZE"), warn_size=settings.getint("DOWNLOAD_WARNSIZE"),
                        robots_middleware=reads_robots(settings))
        discovery.crawler = crawler
        if discovery.sitemaps:
            crawler.signals.connect(discovery._response_received, signal=signals.response_received)
            crawler.signals.connect(discovery._robots_parsed, signal=signals.robots_parsed)
        crawler.signals.connect(discovery._request_dropped, signal=signals.request_dropped)
        return discovery

    def _count(self, key: str, n: int = 1) -> None:
        self.crawler.stats.inc_value(f"archive/discovery/{key}", n)

    # --- what the spider calls -------------------------------------------------------------------

    def start_requests(self) -> Iterator[scrapy.Request]:
        """robots.txt, when no robots.txt middleware reads it for the crawl (``ROBOTSTXT_OBEY`` off)."""
        if self.sitemaps and not self.robots_middleware:
            request = self._document(urljoin(self._start, "/robots.txt"), ROBOTS)
            if request is None:
                self._robots_done()
            else:
                yield request

    async def settled(self) -> None:
        """Wait until robots.txt and every sitemap asked for so far are read (or failed), or until
        nothing is left in flight in the engine."""
        from twisted.internet import reactor  # the installed one (a module-level import could install one)

        while self._open > 0 and not self._engine_idle():
            waiter: Deferred = Deferred()
            self._waiters.append(waiter)
            timer = reactor.callLater(IDLE_CHECK, lambda: waiter.called or waiter.callback(None))
            await maybe_deferred_to_future(waiter)
            if timer.active():
                timer.cancel()
        if self._open > 0:
            logger.info("Not waiting for %d more sitemap(s): nothing is in flight (dropped by a middleware?)",
                        self._open)

    def _engine_idle(self) -> bool:
        engine = self.crawler.engine
        scheduler, slot = engine.scheduler, engine.scraper.slot
        return (not engine.downloader.active and (scheduler is None or not scheduler.has_pending_requests())
                and (slot is None or slot.is_idle()))

    def from_start_page(self, response: Response) -> Iterator[scrapy.Request]:
        """The feeds the start page links, the first time it is read."""
        if self._feeds_read or response.meta.get("canonical_url") != self._start:
            return
        self._feeds_read = True
        if not isinstance(response, TextResponse):
            return
        for url in feeds_of_page(response.text, response.url):
            request = self._document(url, FEED)
            if request is not None:
                yield request

    def parse(self, response: Response) -> Iterator[scrapy.Request]:
        """What a robots.txt, sitemap or feed the crawl fetched leads to: more documents, and pages."""
        kind = response.meta.get(KIND)
        try:
            if kind == ROBOTS:
                yield from self._sitemaps_of_robots(response.status, response.body, response.url)
            elif not 200 <= response.status < 300:
                self._count("unavailable")
                logger.info("%s not available (%d): %s", kind.capitalize(), response.status, response.url)
            elif kind == SITEMAP:
                yield from self._read_sitemap(response)
            else:
                yield from self._read_feed(response)
        finally:
            self._done(kind)

    def failed(self, request: scrapy.Request) -> None:
        """A document that gave nothing (the spider's errback counts the reason)."""
        self._done(request.meta.get(KIND))

    # --- robots.txt ------------------------------------------------------------------------------

    def _response_received(self, response: Response, request: scrapy.Request, spider=None) -> None:
        """Keep the robots.txt answers of the site the robots.txt middleware downloads."""
        if not request.meta.get("dont_obey_robotstxt") or request.meta.get(KIND):
            return
        asked = (request.meta.get("redirect_urls") or [request.url])[0]
        netloc = urlsplit(asked).netloc
        if (urlsplit(asked).path == "/robots.txt" and netloc not in self._robots_hosts
                and self.spider.scope.refusal(asked) is None):
            self._robots_answers[netloc] = (response.status, response.body, response.url)

    def _robots_parsed(self, robotparser=None, request: scrapy.Request | None = None, **kwargs: Any) -> None:
        """A robots.txt of the site is read: its sitemaps (from the answer kept above) go to the crawl.
        The crawl's first host of the site ends the wait for robots.txt; each of its hosts is read once."""
        if request is None or self.spider.scope.refusal(request.url) is not None:
            return
        netloc = urlsplit(request.url).netloc
        if netloc in self._robots_hosts:
            return
        self._robots_hosts.add(netloc)
        unanswered = (None, b"", f"{urlsplit(request.url).scheme}://{netloc}/")
        status, body, url = self._robots_answers.pop(netloc, unanswered)
        try:
            for sitemap in self._sitemaps_of_robots(status, body, url):
                self.crawler.engine.crawl(sitemap)
        finally:
            self._robots_done()

    def _sitemaps_of_robots(self, status: int | None, body: bytes, url: str) -> Iterator[scrapy.Request]:
        """The sitemaps a robots.txt answer names; ``/sitemap.xml`` when there is no file or it names
        none; nothing when robots.txt was unreachable (the host is disallowed then)."""
        if status is None or status == 429 or status >= 500:
            return
        urls = list(sitemap_urls_from_robots(body, base_url=url)) if 200 <= status < 300 else []
        for sitemap_url in urls or [urljoin(url, SITEMAP_FALLBACK)]:
            request = self._document(sitemap_url, SITEMAP)
            if request is not None:
                yield request

    def _robots_done(self) -> None:
        if not self._robots_read:
            self._robots_read = True
            self._closed()

    def _done(self, kind: str | None) -> None:
        """A robots.txt or sitemap request ended (answer, failure or drop)."""
        if kind == ROBOTS:
            self._robots_done()
        elif kind == SITEMAP:
            self._closed()

    # --- sitemaps and feeds ----------------------------------------------------------------------

    def _read_sitemap(self, response: Response) -> Iterator[scrapy.Request]:
        body = sitemap_body(response, response.meta.get("download_maxsize", self.max_size), self.warn_size)
        sitemap = read_sitemap(body) if body else None
        if sitemap is None or sitemap.type not in ("sitemapindex", "urlset"):
            self._count("invalid")
            logger.warning("Not a sitemap: %s", response.url)
            return
        self._count("sitemaps")
        logger.info("Reading sitemap%s %s", " index" if sitemap.type == "sitemapindex" else "", response.url)
        for loc, lastmod in sitemap_entries(sitemap):
            url = urljoin(response.url, loc)
            if sitemap.type == "sitemapindex":
                request = self._document(url, SITEMAP)
                if request is not None:
                    yield request
            else:
                self._count("sitemap_urls")
                yield from self._page(url, lastmod, response)

    def _read_feed(self, response: Response) -> Iterator[scrapy.Request]:
        text = response.text if isinstance(response, TextResponse) else response.body.decode("utf-8", "replace")
        links = feed_links(text, response.url)
        if not links:
            self._count("invalid")
            logger.warning("No entries in feed: %s", response.url)
            return
        self._count("feeds")
        logger.info("Reading feed %s (%d links)", response.url, len(links))
        self._count("feed_urls", len(links))
        for url in links:
            yield from self._page(url, None, response)

    def _document(self, url: str, kind: str) -> scrapy.Request | None:
        """A request for a robots.txt, sitemap or feed of the site not asked for yet in this run."""
        if self.spider.scope.refusal(url) is not None:
            self._count("out_of_scope")
            logger.info("Not fetched, out of scope: %s %s", kind, url)
            return None
        if url in self._documents:
            return None
        if self.max_documents and len(self._documents) >= self.max_documents:
            self._count("limit")
            if not self._limit_logged:
                self._limit_logged = True
                logger.info("DISCOVERY_MAX_DOCUMENTS (%d) reached; further ones are only counted: %s",
                            self.max_documents, url)
            return None
        self._documents.add(url)
        if kind == SITEMAP:
            self._open += 1
        spider = self.spider
        # dont_filter: every document asked for comes back here (callback, errback), so ``settled`` ends;
        # depth_reset: a document is no hop (what it lists is one hop from the site, as from the start page).
        return scrapy.Request(url, callback=spider.parse_discovery, errback=spider._discovery_failed,
                              priority=PRIORITY, dont_filter=True, meta={KIND: kind, "depth_reset": True})

    def _page(self, url: str, lastmod: str | None, response: Response) -> Iterator[scrapy.Request]:
        """A page URL from a sitemap or feed, the way a link goes (scope, frontier, ``_request``)."""
        spider = self.spider
        if spider.scope.refusal(url) is not None:
            self._count("out_of_scope")
            return
        canonical = canonical_url(url, spider.profile)
        if spider.state.is_queued(canonical):
            return
        meta = spider.frontier.follow(url, response.url, response.meta, barren=False)
        if meta is None:
            return
        # Unchanged since its last fetch, and captured then (a gap in the WARC capture is fetched).
        if lastmod and self._unchanged(canonical, lastmod) and not spider.state.capture_missing(canonical):
            if spider.state.queue(canonical, url):  # settled for this crawl without a request
                spider.frontier.admit(canonical)
                spider.state.finish(canonical)
                self._count("skipped_lastmod")
                spider._count("pages/unchanged")
            return
        request = spider._request(url, meta=meta)
        if request is not None:
            self._count("queued")
            yield request

    def _unchanged(self, canonical: str, lastmod: str) -> bool:
        """The page gave a record when last fetched, and its lastmod is older than that fetch."""
        modified = lastmod_bound(lastmod)
        if modified is None:
            return False
        known = self.spider.state.page(canonical)
        if known is None or not known.revision or known.status not in SETTLED_STATUSES:
            return False
        fetched = last_fetch(self.spider.state, canonical)
        return fetched is not None and modified < fetched

    # --- waiting -----------------------------------------------------------------------------------

    def _request_dropped(self, request: scrapy.Request, spider=None) -> None:
        self._done(request.meta.get(KIND))

    def _closed(self) -> None:
        self._open -= 1
        if self._open <= 0:
            waiters, self._waiters = self._waiters, []
            for waiter in waiters:
                if not waiter.called:
                    waiter.callback(None)

