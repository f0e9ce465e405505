"""Canonical URLs: one spelling per page, so that a page reached several ways is one record."""

from __future__ import annotations

from functools import lru_cache
from urllib.parse import urlsplit, urlunsplit

from w3lib.url import canonicalize_url, url_query_cleaner

from .profiles import SiteProfile

__all__ = ["canonical_or_itself", "canonical_url", "site_key"]

_DEFAULT_PORTS = {"http": 80, "https": 443}
# Query parameters that only track where a visitor came from: never part of a page's identity.
TRACKING_PARAMETERS = (
    "utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content", "utm_id",
    "fbclid", "gclid", "dclid", "msclkid", "mc_cid", "mc_eid", "_ga",
)


def canonical_url(url: str, profile: SiteProfile) -> str:
    """Fold the profile's host aliases and scheme, drop the fragment, the default port, tracking
    parameters, a static page's query string and a trailing directory-index file name."""
    return _canonical_url(url, profile.hosts, profile.canonical_host, profile.canonical_scheme,
                          profile.static_pages, profile.directory_index)


def canonical_or_itself(url: str, profile: SiteProfile | None) -> str:
    """The canonical form of any URL found (another host's too), or the URL itself when it has
    none (a malformed port) or there is no profile to judge it by."""
    if profile is None:
        return url
    try:
        return canonical_url(url, profile)
    except ValueError:
        return url


# A site's pages repeat the same header and footer links: the crawl asks for the same few URLs'
# canonical forms on every page. Keyed on what the form depends on; a small LRU keeps those (a
# large one would grow with the crawl: about 400 bytes an entry).
@lru_cache(maxsize=1024)
def _canonical_url(url: str, hosts: tuple[str, ...], canonical_host: str | None, canonical_scheme: str | None,
                   static_pages: bool, directory_index: tuple[str, ...]) -> str:
    # w3lib drops tracking parameters, sorts query arguments, normalises percent-escapes and drops
    # the fragment.
    url = url_query_cleaner(url, TRACKING_PARAMETERS, remove=True, keep_fragments=False)
    parts = urlsplit(canonicalize_url(url, keep_fragments=False))
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    port = parts.port
    if host in hosts:  # SiteProfile.serves
        host = canonical_host or host
        scheme = canonical_scheme or scheme
        port = None
    netloc = host if port in (None, _DEFAULT_PORTS.get(scheme)) else f"{host}:{port}"
    path = parts.path or "/"
    head, _, last = path.rpartition("/")
    if last in directory_index:
        path = head + "/"
    query = "" if static_pages else parts.query
    return urlunsplit((scheme, netloc, path, query, ""))


def site_key(url: str, profile: SiteProfile) -> str:
    """The host a crawl stays on: aliases of a profiled site count as one host."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if profile.serves(host):
        return profile.name
    port = parts.port
    scheme = parts.scheme.lower()
    return host if port in (None, _DEFAULT_PORTS.get(scheme)) else f"{host}:{port}"
