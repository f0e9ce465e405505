"""Why a request gave no page, as one short stats key: ``archive/faults/<reason>``.

The spider's errback (``crawler/spiders/base.py``) names the reason of every request that failed
for good (after Scrapy's retries): the crawl report lists them by reason, the log has one line per
page and no traceback. Refusals (scope, robots.txt) are counted where they are decided
(``crawler/scope.py``, ``crawler/robots.py``) and only named here.
"""

from __future__ import annotations

from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadCancelledError,
    DownloadConnectionRefusedError,
    DownloadFailedError,
    DownloadTimeoutError,
    IgnoreRequest,
    ResponseDataLossError,
    UnsupportedURLSchemeError,
)
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.internet import error as tx_error
from twisted.web._newclient import ResponseFailed

from crawler.robots import RobotsRefused
from crawler.scope import OutOfScope

__all__ = ["REFUSALS", "fault_detail", "fault_reason"]

# Reasons that are decisions of the crawl, not faults of the site.
REFUSALS = ("out_of_scope", "robots")

_DOWNLOAD_ERRORS = (
    ((DownloadTimeoutError, tx_error.TimeoutError, tx_error.TCPTimedOutError), "timeout"),
    ((DownloadConnectionRefusedError, tx_error.ConnectionRefusedError), "connection_refused"),
    ((CannotResolveHostError, tx_error.DNSLookupError), "dns_error"),
    ((ResponseDataLossError,), "truncated"),
    # Cancelled by the download handler: the body passed DOWNLOAD_MAXSIZE (announced or received).
    ((DownloadCancelledError,), "too_large"),
    ((UnsupportedURLSchemeError,), "unsupported_scheme"),
)


def _is_reset(exc: BaseException) -> bool:
    reasons = getattr(exc, "reasons", None) or getattr(exc.__cause__, "reasons", None) or []
    causes = [exc, exc.__cause__, *(getattr(r, "value", r) for r in reasons)]
    return any(isinstance(c, (tx_error.ConnectionLost, tx_error.ConnectionDone, tx_error.ConnectionAborted))
               for c in causes if c is not None)


def fault_reason(exc: BaseException) -> str:
    """The stats key of a request's final failure ``exc``."""
    if isinstance(exc, OutOfScope):
        return "out_of_scope"
    if isinstance(exc, RobotsRefused):
        return "robots"
    if isinstance(exc, HttpError):
        if 300 <= exc.response.status < 400:
            # Not followed by Scrapy's RedirectMiddleware: a Location outside http(s) (file:, data:,
            # ftp:) or none at all.
            return "redirect_refused"
        return f"http_{exc.response.status}"
    if isinstance(exc, IgnoreRequest):
        message = str(exc)
        if "max redirections" in message:
            return "redirect_limit"
        if "during decompression" in message:  # HttpCompressionMiddleware: DOWNLOAD_MAXSIZE, inflated
            return "decompression_bomb"
        return "ignored"
    for types, reason in _DOWNLOAD_ERRORS:
        if isinstance(exc, types):
            return reason
    if isinstance(exc, (DownloadFailedError, ResponseFailed)):
        if "_DataLoss" in str(exc) or "DataLoss" in repr(getattr(exc, "reasons", "")):
            return "truncated"
        return "connection_reset" if _is_reset(exc) else "download_failed"
    if isinstance(exc, (tx_error.ConnectionLost, tx_error.ConnectionDone)):
        return "connection_reset"
    return "download_error"


def fault_detail(exc: BaseException) -> str:
    """One short line saying what went wrong, for the log."""
    if isinstance(exc, HttpError):
        location = exc.response.headers.get(b"Location")
        where = f" to {location.decode('latin-1')[:100]}" if location else ""
        return f"HTTP {exc.response.status}{where}"
    reasons = getattr(exc, "reasons", None) or getattr(exc.__cause__, "reasons", None)
    if reasons:  # Twisted's ResponseFailed: a list of Failures
        first = reasons[0]
        return f"{type(getattr(first, 'value', first)).__name__}: {getattr(first, 'value', first)}"[:200]
    text = str(exc).splitlines()[0] if str(exc) else ""
    if text.startswith("[<"):
        text = ""
    return f"{type(exc).__name__}: {text}"[:200].rstrip(": ")
