"""What a crawl may request, decided in one place for every request: links, redirects, retries,
resumed and known URLs alike.

``Scope`` is the rule: the same scheme family (http and https), the same site (the profile's host
aliases folded into one, the port kept: ``pipelines.urls.site_key``), and never a private, loopback,
link-local or reserved address unless the start URL is one. The spider asks it before it queues a
link (so that an off-site link never enters the crawl state); ``ScopeMiddleware``, the first
downloader middleware, asks it again for every request that reaches the downloader, whatever made
it. That second check is what covers redirects (Scrapy's RedirectMiddleware builds a new request,
which comes back through the middlewares) and retried requests (``dont_filter``, which Scrapy's own
OffsiteMiddleware lets through, and which a redirect inherits). The address an answer actually came
from is checked too (``Response.ip_address``): a public host name that resolves to a private address
is refused before the spider sees it.

Each refusal is counted as ``archive/scope/refused/<reason>`` (reasons: ``scheme``, ``offsite``,
``private_address``) and logged on one line; the request's errback gets ``OutOfScope``.
"""

from __future__ import annotations

import ipaddress
import logging
from functools import lru_cache
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from scrapy.exceptions import IgnoreRequest
from scrapy.http import Request, Response

from pipelines.profiles import SiteProfile
from pipelines.urls import site_key

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

__all__ = ["INTERNAL", "OutOfScope", "Scope", "ScopeMiddleware", "special_address"]

logger = logging.getLogger(__name__)

SCHEMES = frozenset({"http", "https"})
# request.meta key of a request the crawl makes to itself (the release of held pages): no network.
INTERNAL = "archive_internal"


class OutOfScope(IgnoreRequest):
    """A request the crawl's scope refuses; ``reason`` is the stats key."""

    def __init__(self, reason: str, url: str):
        super().__init__(f"out of scope ({reason}): {url}")
        self.reason = reason


def special_address(host: str) -> bool:
    """A loopback, private, link-local, reserved or unspecified address, or a localhost name."""
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return (address.is_private or address.is_loopback or address.is_link_local or address.is_reserved
            or address.is_unspecified or address.is_multicast)


class Scope:
    """The pages of one site: ``refusal(url)`` says why a URL is not one of them (None: it is)."""

    def __init__(self, start_url: str, profile: SiteProfile):
        self.profile = profile
        self.site = site_key(start_url, profile)
        # A crawl started on a private address (a mirror on the local network, a test server) may
        # stay there; one started on a public site may never reach one.
        self.private_allowed = special_address(urlsplit(start_url).hostname or "")
        # Every page repeats the site's header and footer links: those are judged once (a small LRU).
        self.refusal = lru_cache(maxsize=1024)(self._refusal)

    def _refusal(self, url: str) -> str | None:
        """Why ``url`` is not a page of the site (None: it is); ``refusal`` is its cached form."""
        try:
            parts = urlsplit(url)
            host = parts.hostname or ""
            parts.port  # noqa: B018 - raises ValueError on a port that is not a number
        except ValueError:
            return "offsite"
        if parts.scheme.lower() not in SCHEMES:
            return "scheme"
        if not host or site_key(url, self.profile) != self.site:
            return "offsite"
        if not self.private_allowed and special_address(host):
            return "private_address"
        return None

    def address_refusal(self, ip_address) -> str | None:
        """Why the answer from ``ip_address`` (an ``ipaddress`` object, or None) cannot be used."""
        if ip_address is None or self.private_allowed:
            return None
        return "private_address" if special_address(str(ip_address)) else None


class ScopeMiddleware:
    """Downloader middleware: every request, and the address of every answer, inside the spider's
    ``scope`` (a ``Scope``); spiders without one are not restricted here."""

    def __init__(self, crawler: Crawler):
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ScopeMiddleware:
        return cls(crawler)

    def _scope(self) -> Scope | None:
        return getattr(self.crawler.spider, "scope", None)

    def _refuse(self, reason: str, request: Request) -> OutOfScope:
        self.crawler.stats.inc_value(f"archive/scope/refused/{reason}")
        redirected_from = (request.meta.get("redirect_urls") or [None])[0]
        how = f" (redirected from {redirected_from})" if redirected_from else ""
        logger.info("Refused, out of scope (%s): %s%s", reason, request.url, how)
        return OutOfScope(reason, request.url)

    def process_request(self, request: Request, spider=None) -> None:
        scope = self._scope()
        if scope is None or request.meta.get(INTERNAL):
            return
        reason = scope.refusal(request.url)
        if reason is not None:
            raise self._refuse(reason, request)

    def process_response(self, request: Request, response: Response, spider=None) -> Response:
        scope = self._scope()
        if scope is None or request.meta.get(INTERNAL):
            return response
        reason = scope.address_refusal(response.ip_address)
        if reason is not None:
            raise self._refuse(reason, request)
        return response
