"""Politeness that archivists expect, on top of Scrapy's own (robots.txt, per-host concurrency, AutoThrottle).

Three downloader middlewares, registered in ``crawler/settings.py``:

``CrawlDelayMiddleware``
    Scrapy's RobotsTxtMiddleware obeys ``Allow``/``Disallow`` only. This one reads the ``Crawl-delay``
    for our User-Agent from the same parsed robots.txt (the ``robots_parsed`` signal hands over
    Scrapy's parser; Protego by default) and makes it the **floor** of that host's download-slot
    delay: the delay becomes at least the Crawl-delay (capped at ``CRAWL_DELAY_MAX``), a larger
    ``DOWNLOAD_DELAY`` stays, and the slot's random jitter is narrowed so that no sampled delay is
    shorter than the floor. AutoThrottle rewrites ``slot.delay`` on every downloaded response (its
    ``response_downloaded`` handler, clamped only at ``DOWNLOAD_DELAY``); the floor is put back in
    the same signal, after AutoThrottle's handler and before the downloader picks the next request,
    and again whenever a request reaches the downloader.

``RetryAfterMiddleware``
    429 and 503 answers are retried after ``Retry-After`` (seconds or an HTTP date), or after an
    exponential backoff from ``RETRY_BACKOFF_BASE`` when the header is missing or unreadable, at most
    ``RETRY_TIMES`` times per request (``max_retry_times`` / ``dont_retry`` meta as for Scrapy's
    RetryMiddleware, which must not handle these two codes: they are left out of ``RETRY_HTTP_CODES``).
    A ``Retry-After`` longer than ``RETRY_AFTER_MAX`` gives up on the request (counted, logged), the
    answer then goes on like any HTTP error. Nothing sleeps: when the answer is downloaded, the
    host's slot delay is raised so that the slot sends nothing before the retry time, the host is
    held for the retry (below), and the retry is downloaded right away through the whole downloader
    (middlewares, WARC capture, the paused slot); its response stands for the original request.

``HostQueueMiddleware``
    The last middleware before the downloader. It lets at most the slot's concurrency of requests
    per host into the downloader (``CONCURRENT_REQUESTS_PER_DOMAIN``, 1 by default), the others wait
    here in order, so the downloader's own per-slot queue stays empty. That is what lets a retry go
    first: while a 429/503 is being answered, the host is held, and the retry enters before every
    request that was already waiting, so no other request reaches the host between the refused
    request and its retry.
"""

from __future__ import annotations

import itertools
import logging
import math
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from time import monotonic
from typing import TYPE_CHECKING, Any
from weakref import WeakKeyDictionary

from twisted.internet.defer import Deferred

from scrapy import signals
from scrapy.exceptions import NotConfigured
from scrapy.http import Request, Response
from scrapy.utils.asyncio import call_later
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached
from scrapy.utils.python import to_unicode

if TYPE_CHECKING:
    from scrapy.core.downloader import Downloader, Slot
    from scrapy.crawler import Crawler
    from scrapy.robotstxt import RobotParser

logger = logging.getLogger(__name__)

RETRY_AFTER_CODES = (429, 503)
# request.meta keys: how many Retry-After retries a request has had (a copy carries it on), and
# private ones for the decision taken when the answer was downloaded and the host's hold.
RETRY_AFTER_TIMES = "retry_after_times"
_PLAN = "_politeness_retry_plan"
_HOLD = "_politeness_hold"
# A held host that never sees its retry (another middleware dropped it) opens again after this.
HOLD_TIMEOUT = 30.0


def retry_after_seconds(value: bytes | str | None, date: bytes | str | None = None,
                        now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value: delay-seconds, or an HTTP date (counted from the
    answer's own ``Date`` header when it has one, so that clock skew does not matter). None when
    there is no value or it is unreadable; never negative."""
    if value is None:
        return None
    text = to_unicode(value, errors="replace").strip()
    if not text:
        return None
    try:
        seconds = float(text)  # delay-seconds (an integer; a decimal is taken as meant)
    except ValueError:
        pass
    else:
        return seconds if math.isfinite(seconds) and seconds >= 0 else None
    when = _http_date(text)
    if when is None:
        return None
    reference = _http_date(to_unicode(date, errors="replace")) if date else None
    reference = reference or now or datetime.now(timezone.utc)
    return max(0.0, (when - reference).total_seconds())


def _http_date(text: str) -> datetime | None:
    try:
        parsed = parsedate_to_datetime(text.strip())
    except (TypeError, ValueError, IndexError):
        return None
    if parsed is None:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


@dataclass
class _Pause:
    until: float  # monotonic time before which the slot sends nothing
    saved_delay: float  # the slot's delay before the pause, given back after it


@dataclass
class _Gate:
    inside: set[Request] = field(default_factory=set)
    waiting: deque[tuple[Request, Deferred[None]]] = field(default_factory=deque)
    hold: int | None = None  # the token of the retry the host is held for
    hold_timer: Any = None

    def idle(self) -> bool:
        return not self.inside and not self.waiting and self.hold is None


class _Politeness:
    """Per-crawler state the three middlewares share: Crawl-delay floors, Retry-After pauses and the
    per-host queues. It settles a slot's delay and jitter whenever the downloader is about to decide
    on that slot (a request reaches it; a response was downloaded), after AutoThrottle (an extension,
    whose signal handlers are connected before any middleware's)."""

    _instances: WeakKeyDictionary[Crawler, _Politeness] = WeakKeyDictionary()

    @classmethod
    def of(cls, crawler: Crawler) -> _Politeness:
        if crawler not in cls._instances:
            cls._instances[crawler] = cls(crawler)
        return cls._instances[crawler]

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.floors: dict[str, float] = {}  # netloc -> Crawl-delay
        self.slot_floors: dict[str, float] = {}  # slot key -> largest floor of the netlocs it serves
        self.pauses: dict[str, _Pause] = {}  # slot key -> Retry-After pause
        self.gates: dict[str, _Gate] = {}  # slot key -> queue of the host
        self._jitters: dict[str, tuple[Slot, float]] = {}  # slot key -> (slot, its own jitter)
        self.on_response: list[Any] = []  # RetryAfterMiddleware's hook, run before settling
        self._tokens = itertools.count(1)
        crawler.signals.connect(self._request_reached, signal=signals.request_reached_downloader)
        crawler.signals.connect(self._response_downloaded, signal=signals.response_downloaded)
        crawler.signals.connect(self._request_left, signal=signals.request_left_downloader)

    @property
    def downloader(self) -> Downloader:
        return self.crawler.engine.downloader

    # --- slot delay: Crawl-delay floor and Retry-After pause ---

    def _slot(self, request: Request) -> tuple[str | None, Slot | None]:
        key = request.meta.get("download_slot")
        if key is None:
            return None, None
        return key, self.downloader.slots.get(key)

    def _request_reached(self, request: Request, spider: Any = None) -> None:
        key, slot = self._slot(request)
        if slot is not None:
            self.settle(key, slot, request)

    def _response_downloaded(self, response: Response, request: Request, spider: Any = None) -> None:
        key, slot = self._slot(request)
        if slot is None:
            return
        for hook in self.on_response:
            hook(key, slot, request, response)
        self.settle(key, slot, request)

    def settle(self, key: str, slot: Slot, request: Request | None = None) -> None:
        """Set the slot's delay and jitter from the pause and the floor that apply to it now."""
        if request is not None:
            floor = self.floors.get(urlparse_cached(request).netloc)
            if floor and floor > self.slot_floors.get(key, 0.0):
                self.slot_floors[key] = floor
        own_jitter = self._own_jitter(key, slot)
        pause = self.pauses.get(key)
        if pause is not None:
            if monotonic() < pause.until:
                # penalty = delay - now + lastseen > 0 until pause.until; no jitter may shorten it
                slot.delay = max(slot.delay, pause.until - slot.lastseen)
                slot.jitter = 0.0
                return
            del self.pauses[key]
            slot.delay = pause.saved_delay
            if slot.latercall is not None:
                # The downloader timed its next look at the slot with the pause's long delay; drop that
                # call: it looks again right after this signal (request reached / response downloaded)
                # and times it with the delay given back.
                slot.latercall.cancel()
                slot.latercall = None
        floor = self.slot_floors.get(key, 0.0)
        if floor > 0:
            slot.delay = max(slot.delay, floor)
            # the shortest sampled delay, delay x (1 - jitter), stays at least the floor
            slot.jitter = min(own_jitter, max(0.0, 1.0 - floor / slot.delay))
        else:
            slot.jitter = own_jitter

    def _own_jitter(self, key: str, slot: Slot) -> float:
        known = self._jitters.get(key)
        if known is None or known[0] is not slot:  # a new slot (or one re-made after slot GC)
            known = self._jitters[key] = (slot, slot.jitter)
        return known[1]

    def pause(self, key: str, slot: Slot, until: float) -> None:
        """Send nothing more from the slot before ``until`` (monotonic time)."""
        current = self.pauses.get(key)
        if current is not None:
            current.until = max(current.until, until)
        else:
            self.pauses[key] = _Pause(until=until, saved_delay=slot.delay)
        self.settle(key, slot)

    # --- per-host queue ---

    def capacity(self, key: str) -> int:
        slot = self.downloader.slots.get(key)
        if slot is not None:
            return max(1, slot.concurrency)
        downloader = self.downloader
        configured = downloader.per_slot_settings.get(key, {}).get("concurrency")
        return max(1, configured or downloader.ip_concurrency or downloader.domain_concurrency)

    async def enter(self, request: Request) -> None:
        """Wait for the host's turn; a request the host is held for goes before all that wait."""
        key = self.downloader.get_slot_key(request)
        gate = self.gates.setdefault(key, _Gate())
        token = request.meta.get(_HOLD)
        first = token is not None and gate.hold == token
        if first:
            self._release_hold(gate)
        if (first or (gate.hold is None and not gate.waiting)) and len(gate.inside) < self.capacity(key):
            gate.inside.add(request)
            return
        turn: Deferred[None] = Deferred()
        entry = (request, turn)
        if first:
            gate.waiting.appendleft(entry)
        else:
            gate.waiting.append(entry)
        try:
            await maybe_deferred_to_future(turn)
        except BaseException:
            if entry in gate.waiting:
                gate.waiting.remove(entry)
            gate.inside.discard(request)
            self._wake(key, gate)
            raise

    def _request_left(self, request: Request, spider: Any = None) -> None:
        key = request.meta.get("download_slot")
        gate = self.gates.get(key) if key is not None else None
        if gate is not None and request in gate.inside:
            gate.inside.discard(request)
            self._wake(key, gate)

    def _wake(self, key: str, gate: _Gate) -> None:
        while gate.waiting and gate.hold is None and len(gate.inside) < self.capacity(key):
            request, turn = gate.waiting.popleft()
            gate.inside.add(request)
            if not turn.called:
                turn.callback(None)
        if gate.idle():
            self.gates.pop(key, None)

    def hold(self, key: str) -> int:
        """Hold the host for one retry: nothing waiting enters before the request carrying the token."""
        gate = self.gates.setdefault(key, _Gate())
        self._release_hold(gate)
        token = next(self._tokens)
        gate.hold = token
        gate.hold_timer = call_later(HOLD_TIMEOUT, self.unhold, key, token)
        return token

    def unhold(self, key: str, token: int) -> None:
        """Open the host again if it is still held for ``token`` (its retry never came)."""
        gate = self.gates.get(key)
        if gate is not None and gate.hold == token:
            self._release_hold(gate)
            self._wake(key, gate)

    @staticmethod
    def _release_hold(gate: _Gate) -> None:
        gate.hold = None
        if gate.hold_timer is not None:
            gate.hold_timer.cancel()
            gate.hold_timer = None


class CrawlDelayMiddleware:
    """Honour robots.txt ``Crawl-delay`` for our User-Agent as the floor of the host's slot delay.

    Settings: ``ROBOTSTXT_OBEY`` and ``ROBOTSTXT_CRAWL_DELAY`` (both needed), ``CRAWL_DELAY_MAX``
    (cap, seconds). Stats: ``politeness/crawl_delay`` (the largest delay applied, seconds),
    ``politeness/crawl_delay/hosts``, ``politeness/crawl_delay/capped``.
    """

    def __init__(self, crawler: Crawler) -> None:
        settings = crawler.settings
        if not settings.getbool("ROBOTSTXT_OBEY") or not settings.getbool("ROBOTSTXT_CRAWL_DELAY", True):
            raise NotConfigured
        self.crawler = crawler
        self.stats = crawler.stats
        self.max_delay = settings.getfloat("CRAWL_DELAY_MAX", 60.0)
        # The agent RobotsTxtMiddleware matches Allow/Disallow with (it runs before UserAgentMiddleware).
        self.user_agent = settings.get("ROBOTSTXT_USER_AGENT") or settings.get("USER_AGENT")
        self.state = _Politeness.of(crawler)
        crawler.signals.connect(self.robots_parsed, signal=signals.robots_parsed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CrawlDelayMiddleware:
        return cls(crawler)

    def robots_parsed(self, robotparser: RobotParser, request: Request) -> None:
        netloc = urlparse_cached(request).netloc
        try:
            delay = robotparser.crawl_delay(self.user_agent)
        except NotImplementedError:  # a parser without Crawl-delay support
            return
        if delay is None or not math.isfinite(delay) or delay <= 0:
            return
        applied = min(float(delay), self.max_delay)
        if applied < delay:
            self.stats.inc_value("politeness/crawl_delay/capped")
            logger.warning("Crawl-delay %s s of %s capped at CRAWL_DELAY_MAX=%s s", delay, netloc, self.max_delay,
                           extra={"spider": self.crawler.spider})
        self.state.floors[netloc] = applied
        self.stats.inc_value("politeness/crawl_delay/hosts")
        self.stats.max_value("politeness/crawl_delay", applied)
        logger.info("robots.txt of %s: Crawl-delay %s s, at least that long between requests", netloc, applied,
                    extra={"spider": self.crawler.spider})


class RetryAfterMiddleware:
    """Retry 429 and 503 after ``Retry-After`` (or an exponential backoff), pausing the host meanwhile.

    Settings: ``RETRY_ENABLED``, ``RETRY_TIMES``, ``RETRY_BACKOFF_BASE`` (seconds, doubled on each
    retry of a request), ``RETRY_AFTER_MAX`` (seconds; a longer Retry-After gives up on the request).
    Stats: ``politeness/retry_after/<code>`` (retries), ``politeness/retry_after/backoff`` (retries
    without a usable header), ``politeness/retry_after/waited`` (seconds, rounded up),
    ``politeness/retry_after/gave_up/too_long``, ``politeness/retry_after/gave_up/max_retries``.
    """

    def __init__(self, crawler: Crawler) -> None:
        settings = crawler.settings
        if not settings.getbool("RETRY_ENABLED"):
            raise NotConfigured
        self.crawler = crawler
        self.stats = crawler.stats
        self.max_retry_times = settings.getint("RETRY_TIMES")
        self.backoff_base = settings.getfloat("RETRY_BACKOFF_BASE", 5.0)
        self.max_wait = settings.getfloat("RETRY_AFTER_MAX", 600.0)
        both = sorted(set(RETRY_AFTER_CODES) & {int(c) for c in settings.getlist("RETRY_HTTP_CODES")})
        if both:
            logger.warning("RETRY_HTTP_CODES includes %s: Scrapy's RetryMiddleware will retry those too, "
                           "without waiting; leave them to RetryAfterMiddleware", both)
        self.state = _Politeness.of(crawler)
        self.state.on_response.append(self._downloaded)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RetryAfterMiddleware:
        return cls(crawler)

    def _plan(self, request: Request, response: Response) -> dict | None:
        """What to do with a 429/503: wait N seconds and retry, or give up (and why)."""
        if response.status not in RETRY_AFTER_CODES or request.meta.get("dont_retry", False):
            return None
        attempt = request.meta.get(RETRY_AFTER_TIMES, 0) + 1
        limit = request.meta.get("max_retry_times")
        limit = self.max_retry_times if limit is None else limit
        header = response.headers.get(b"Retry-After")
        wait = retry_after_seconds(header, response.headers.get(b"Date"))
        plan = {"status": response.status, "attempt": attempt, "wait": wait, "backoff": wait is None,
                "header": to_unicode(header, errors="replace") if header else None, "give_up": None}
        if wait is None:
            plan["wait"] = min(self.backoff_base * 2 ** (attempt - 1), self.max_wait)
        elif wait > self.max_wait:
            plan["give_up"] = "too_long"
        if plan["give_up"] is None and attempt > limit:
            plan["give_up"] = "max_retries"
        return plan

    def _downloaded(self, key: str, slot: Slot, request: Request, response: Response) -> None:
        """At the ``response_downloaded`` signal, before the downloader sends the slot's next request:
        pause the slot until the retry time and hold the host for the retry."""
        plan = self._plan(request, response)
        if plan is None:
            return
        if plan["give_up"] is None:
            plan["until"] = monotonic() + plan["wait"]
            self.state.pause(key, slot, plan["until"])
            plan["hold"] = (key, self.state.hold(key))
        request.meta[_PLAN] = plan

    async def process_response(self, request: Request, response: Response) -> Request | Response:
        plan = request.meta.pop(_PLAN, None)
        if plan is None or plan["status"] != response.status:
            plan = self._plan(request, response)  # e.g. an answer from a cache: nothing was paused
            if plan is None:
                return response
        status, spider = response.status, self.crawler.spider
        if plan["give_up"] == "too_long":
            self.stats.inc_value("politeness/retry_after/gave_up/too_long")
            logger.warning("Gave up on %(request)s (%(status)d): Retry-After %(header)s exceeds RETRY_AFTER_MAX "
                           "(%(max)s s)", {"request": request, "status": status, "header": plan["header"],
                                           "max": self.max_wait}, extra={"spider": spider})
            return response
        if plan["give_up"] == "max_retries":
            self.stats.inc_value("politeness/retry_after/gave_up/max_retries")
            logger.warning("Gave up on %(request)s (%(status)d) after %(n)d Retry-After retries",
                           {"request": request, "status": status, "n": plan["attempt"] - 1}, extra={"spider": spider})
            return response
        retry = request.copy()
        retry.dont_filter = True
        retry.meta[RETRY_AFTER_TIMES] = plan["attempt"]
        hold = plan.get("hold")
        if hold is not None:
            retry.meta[_HOLD] = hold[1]
        self.stats.inc_value(f"politeness/retry_after/{status}")
        self.stats.inc_value("politeness/retry_after/waited", math.ceil(plan["wait"]))
        if plan["backoff"]:
            self.stats.inc_value("politeness/retry_after/backoff")
        logger.info("Retrying %(request)s (%(status)d, retry %(attempt)d) in %(wait).1f s (%(why)s); nothing else "
                    "is sent to the host before then",
                    {"request": request, "status": status, "attempt": plan["attempt"], "wait": plan["wait"],
                     "why": "backoff" if plan["backoff"] else f"Retry-After: {plan['header']}"},
                    extra={"spider": spider})
        try:
            # Through the whole downloader again (middlewares, WARC capture, the paused slot), now.
            result = await maybe_deferred_to_future(self.crawler.engine.downloader.fetch(retry))
        finally:
            retry.meta.pop(_HOLD, None)
            if hold is not None:
                self.state.unhold(*hold)
        if isinstance(result, Response) and result.request is None:
            result.request = retry
        return result


class HostQueueMiddleware:
    """At most the slot's concurrency of requests per host inside the downloader; the rest wait here,
    in order, and a host held for a Retry-After retry lets that retry in first. Must be the last
    downloader middleware (nothing may act on a request between it and the downloader's slot).
    Off with ``RETRY_ENABLED=False`` (it only matters for Retry-After)."""

    def __init__(self, crawler: Crawler) -> None:
        if not crawler.settings.getbool("RETRY_ENABLED"):
            raise NotConfigured
        self.state = _Politeness.of(crawler)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> HostQueueMiddleware:
        return cls(crawler)

    async def process_request(self, request: Request) -> None:
        if urlparse_cached(request).scheme in ("http", "https"):
            await self.state.enter(request)
