"""robots.txt that cannot be bypassed: Scrapy's RobotsTxtMiddleware with two faults fixed.

* **Concurrent waiters.** In Scrapy 2.19 the first request to a host starts the robots.txt download
  and every other request to that host waits on one shared ``Deferred``; the first waiter's callback
  consumes its result, so every later waiter gets ``None``, "no parser", which the middleware takes
  as *allow all*. A crawl that starts with many URLs of one host (a resumed or repeated crawl) then
  fetches disallowed pages. Here each waiter has its own ``Deferred`` and reads the parser from the
  finished table, so no request to a host is sent before its robots.txt is parsed.
* **Unreachable robots.txt.** Scrapy takes a 5xx answer as a robots.txt file (usually allow all)
  and a download error (timeout, reset, refused) as no robots.txt (allow all). RFC 9309 (2.3.1.3,
  2.3.1.4): a robots.txt that is unreachable because of server or network errors means complete
  disallow; a 4xx ("unavailable") means allow all. Here: 2xx is parsed (the first
  ``ROBOTSTXT_MAX_BYTES``, at a line break, as the RFC allows); 4xx other than 429 allows all; 429,
  5xx, a redirect past the limit and any download error disallow the whole host, unless
  ``ROBOTSTXT_UNREACHABLE_ALLOW`` is set. Scrapy's RetryMiddleware retries it first (5xx, timeouts).

Refusals raise ``RobotsRefused`` (an ``IgnoreRequest``) and are counted in Scrapy's own
``robotstxt/forbidden``; a host whose robots.txt is unreachable is counted once in
``archive/robots/unreachable`` and logged on one line. The ``robots_parsed`` signal is sent for
every host, as Scrapy does (``crawler/politeness.py`` reads the Crawl-delay from it).
"""

from __future__ import annotations

import logging

from scrapy import signals
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware as ScrapyRobotsTxtMiddleware
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Request
from scrapy.http.request import NO_CALLBACK
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached
from scrapy.utils.misc import build_from_crawler
from twisted.internet.defer import Deferred

__all__ = ["RobotsRefused", "RobotsTxtMiddleware"]

logger = logging.getLogger(__name__)

DISALLOW_ALL = b"User-agent: *\nDisallow: /\n"
# RFC 9309 2.5: crawlers must read at least 500 KiB of a robots.txt; what lies beyond may be ignored.
DEFAULT_MAX_BYTES = 512 * 1024


class RobotsRefused(IgnoreRequest):
    """A request robots.txt disallows (or a host whose robots.txt is unreachable)."""


class RobotsTxtMiddleware(ScrapyRobotsTxtMiddleware):
    def __init__(self, crawler):
        super().__init__(crawler)
        settings = crawler.settings
        self._unreachable_allow = settings.getbool("ROBOTSTXT_UNREACHABLE_ALLOW", False)
        self._max_bytes = settings.getint("ROBOTSTXT_MAX_BYTES", DEFAULT_MAX_BYTES)
        self._waiters: dict[str, list[Deferred]] = {}
        self._unreachable: set[str] = set()

    def process_request_2(self, rp, request: Request) -> None:
        try:
            super().process_request_2(rp, request)
        except IgnoreRequest as exc:
            netloc = urlparse_cached(request).netloc
            why = "robots.txt unreachable" if netloc in self._unreachable else "Forbidden by robots.txt"
            logger.info("%s: %s", why, request.url)
            raise RobotsRefused(why) from exc

    async def robot_parser(self, request: Request):
        netloc = urlparse_cached(request).netloc
        if netloc in self._parsers:
            return self._parsers[netloc]
        if netloc in self._waiters:
            # Its own Deferred per waiter: nothing another waiter does can change what this one gets.
            ready: Deferred = Deferred()
            self._waiters[netloc].append(ready)
            await maybe_deferred_to_future(ready)
            return self._parsers[netloc]
        self._waiters[netloc] = []
        try:
            parser = await self._read_robots(request, netloc)
        except BaseException:  # the crawl is stopping: let the waiters go, as disallowed
            parser = build_from_crawler(self._parserimpl, self.crawler, DISALLOW_ALL)
            raise
        finally:
            self._parsers[netloc] = parser
            for ready in self._waiters.pop(netloc):
                ready.callback(None)
        return parser

    async def _read_robots(self, request: Request, netloc: str):
        scheme = urlparse_cached(request).scheme
        robots_request = Request(f"{scheme}://{netloc}/robots.txt", priority=self.DOWNLOAD_PRIORITY,
                                 meta={"dont_obey_robotstxt": True}, callback=NO_CALLBACK)
        self._stats.inc_value("robotstxt/request_count")
        try:
            response = await self.crawler.engine.download_async(robots_request)
        except Exception as exc:  # noqa: BLE001 - every way of not getting it is "unreachable"
            self._stats.inc_value(f"robotstxt/exception_count/{type(exc)}")
            body = self._unreachable_body(netloc, f"{type(exc).__name__}: {exc}".rstrip(": "))
        else:
            self._stats.inc_value("robotstxt/response_count")
            self._stats.inc_value(f"robotstxt/response_status_count/{response.status}")
            if 200 <= response.status < 300:
                body = self._bounded(response.body)
            elif 400 <= response.status < 500 and response.status != 429:
                body = b""  # unavailable: no rules, allow all
            else:
                body = self._unreachable_body(netloc, f"HTTP {response.status}")
        parser = build_from_crawler(self._parserimpl, self.crawler, body)
        await self.crawler.signals.send_catch_log_async(signal=signals.robots_parsed, robotparser=parser,
                                                        request=request)
        return parser

    def _bounded(self, body: bytes) -> bytes:
        if len(body) <= self._max_bytes:
            return body
        head = body[: self._max_bytes]
        return head[: head.rfind(b"\n") + 1] or head

    def _unreachable_body(self, netloc: str, why: str) -> bytes:
        if self._unreachable_allow:
            logger.warning("robots.txt of %s unreachable (%s): crawling it anyway (ROBOTSTXT_UNREACHABLE_ALLOW)",
                           netloc, why)
            return b""
        self._unreachable.add(netloc)
        self._stats.inc_value("archive/robots/unreachable")
        logger.warning("robots.txt of %s unreachable (%s): nothing on that host is requested (RFC 9309; "
                       "-s ROBOTSTXT_UNREACHABLE_ALLOW=True crawls it anyway)", netloc, why)
        return DISALLOW_ALL
