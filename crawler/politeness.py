"""Politeness that archivists expect, on top of Scrapy's own (robots.txt, per-host concurrency, AutoThrottle).

Built from Scrapy's own parts, each doing the job it has in Scrapy:

``PoliteAutoThrottle`` (an extension, in place of Scrapy's AutoThrottle: ``crawler/settings.py``)
    AutoThrottle is the component that sets download-slot delays; this subclass keeps its
    adjustment and adds two lower bounds to its delay policy (``_adjust_delay``, whose docstring
    calls it the "delay adjustment policy"), host by host:

    * the robots.txt ``Crawl-delay`` for our User-Agent (``robots_parsed`` hands over Scrapy's
      parser, Protego by default), capped at ``CRAWL_DELAY_MAX``: the slot's delay is never below
      it, a larger ``DOWNLOAD_DELAY`` stays, and the slot's jitter (``DOWNLOAD_DELAY_JITTER``) is
      narrowed so that no sampled delay is shorter than the floor;
    * a ``Retry-After`` pause: after a 429/503 that ``RetryAfterMiddleware`` will retry, the delay
      is at least the wait left until the retry time (no jitter), then it is AutoThrottle's again.

    AutoThrottle computes its own delay as if the bounds did not exist (its state is kept per host,
    so a 10-minute pause does not linger in its average); the slot gets the largest of the three.
    With ``AUTOTHROTTLE_ENABLED=False`` it does not adapt: the policy starts from the slot's own
    delay (``DOWNLOAD_DELAY`` / ``DOWNLOAD_SLOTS``) and keeps only the two bounds. The policy is
    applied whenever the downloader is about to decide on a slot: when a response was downloaded
    (AutoThrottle's own moment), when a request reaches the slot, when a robots.txt was parsed and
    when a pause ends. Nothing else writes a slot. (The hooks it overrides are AutoThrottle's
    underscored methods: if a Scrapy upgrade renames them, the crawl refuses to start rather than
    crawl without the bounds.)

    One limit, at more than one request per host at a time only: a request already in the slot
    when the host refuses another is sent at the retry time, and the downloader, which times its
    next look at a slot with the delay in force when it sends, may then wait one more pause after
    it (too polite, never too early; shortening that would mean writing the slot's timer).

``RetryAfterMiddleware`` (downloader middleware, 540, below Scrapy's RetryMiddleware)
    429 and 503 answers are retried after ``Retry-After`` (seconds or an HTTP date, counted from the
    answer's ``Date``), or after an exponential backoff from ``RETRY_BACKOFF_BASE`` without a usable
    header, at most ``RETRY_TIMES`` times per request (``max_retry_times`` / ``dont_retry`` /
    ``give_up_log_level`` meta as for Scrapy's RetryMiddleware, which must not handle these two
    codes: they are left out of ``RETRY_HTTP_CODES``; the two count their retries apart). The retry
    is Scrapy's own ``get_retry_request`` (stats under ``politeness/retry_after/``), returned from
    ``process_response`` at the retry time (an asynchronous wait, nothing sleeps) so that it goes
    back through the scheduler and the whole downloader like any retry. A ``Retry-After`` longer
    than ``RETRY_AFTER_MAX`` gives up on the request at once (counted, logged); the answer then goes
    on like any HTTP error.

``HostQueueMiddleware`` (downloader middleware, 990, the last one before the downloader)
    Lets at most the slot's concurrency of requests per host into the downloader
    (``CONCURRENT_REQUESTS_PER_DOMAIN``, 1 by default); the others wait here in order. This is what
    keeps "nothing else reaches the host between a refusal and its retry": the downloader's own
    per-slot queue is first in, first out, and a retry that comes back through the scheduler would
    queue behind every request already there. The smallest means for that: an ``async``
    ``process_request`` that waits, its own ``process_response`` / ``process_exception`` (the first
    to see what the downloader gave) to let the next one in, and, read only, the downloader's slot
    key and slot concurrency (as AutoThrottle and Scrapy's priority queue read them). When a refused
    request will be retried, the host is held: nothing waiting enters before the retry, which goes
    first when it comes (the retry's priority makes it the next request of its host the scheduler
    hands out; a hold whose retry never comes lapses ``HOLD_TIMEOUT`` after the retry time).
"""

from __future__ import annotations

import itertools
import logging
import math
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from http import HTTPStatus
from time import monotonic
from typing import TYPE_CHECKING, Any, Callable
from weakref import WeakKeyDictionary

from twisted.internet.defer import Deferred

from scrapy import signals
from scrapy.downloadermiddlewares.retry import get_retry_request
from scrapy.exceptions import NotConfigured
from scrapy.extensions.throttle import AutoThrottle
from scrapy.http import Request, Response
from scrapy.utils.asyncio import CallLaterResult, call_later, sleep
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached
from scrapy.utils.python import to_unicode

if TYPE_CHECKING:
    from scrapy.core.downloader import Downloader, Slot
    from scrapy.crawler import Crawler
    from scrapy.robotstxt import RobotParser

logger = logging.getLogger(__name__)

RETRY_AFTER_CODES = (429, 503)
# request.meta: how many Retry-After retries a request has had (its retries carry it on); private
# ones for the decision taken when the answer was downloaded and for the host's hold.
RETRY_AFTER_TIMES = "retry_after_times"
_PLAN = "_politeness_retry_plan"
_HOLD = "_politeness_hold"
STATS = "politeness/retry_after"
# A held host whose retry never comes (another middleware took the answer) opens again this long
# after the retry time.
HOLD_TIMEOUT = 30.0
# The retry must be the next request of its host that the scheduler hands out: the host is held for
# it, and the host's other requests wait at HostQueueMiddleware, where they count against
# CONCURRENT_REQUESTS; a retry behind them in the scheduler would wait for the hold to lapse.
# (Scrapy's default priority queue picks the least busy slot first, then the highest priority in it.)
RETRY_AFTER_PRIORITY_ADJUST = 1_000_000
# While waiting for a retry time, look this often whether the crawl is stopping.
_WAIT_STEP = 1.0
# A host held for a retry that will not come opens this long after the retry time, once its pause is over.
_AFTER_PAUSE = 0.01


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


# --------------------------------------------------------------------------- Retry-After decisions


@dataclass
class RetryPlan:
    """What to do with one 429/503 answer, decided once, as soon as it is downloaded."""

    status: int
    attempt: int  # which Retry-After retry of the request this would be (1: the first)
    wait: float  # seconds
    backoff: bool  # no usable Retry-After: exponential backoff
    header: str | None
    give_up: str | None  # "too_long", "max_retries", or None: retry
    until: float  # monotonic time of the retry
    hold: tuple[str, int] | None = None  # (slot key, token) HostQueueMiddleware holds the host with


class _Politeness:
    """Per-crawler state the components share: the Retry-After decisions (RetryAfterMiddleware
    turns them on, PoliteAutoThrottle pauses the host for them, HostQueueMiddleware holds it)."""

    _instances: WeakKeyDictionary[Crawler, _Politeness] = WeakKeyDictionary()

    @classmethod
    def of(cls, crawler: Crawler) -> _Politeness:
        if crawler not in cls._instances:
            cls._instances[crawler] = cls(crawler)
        return cls._instances[crawler]

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        settings = crawler.settings
        self.retrying = False  # set by RetryAfterMiddleware when it is enabled
        # HostQueueMiddleware's, when enabled: open a held host at the retry time, without its retry.
        self.unhold_at: Callable[[str, int, float], None] | None = None
        self.max_retry_times = settings.getint("RETRY_TIMES")
        self.backoff_base = settings.getfloat("RETRY_BACKOFF_BASE", 5.0)
        self.max_wait = settings.getfloat("RETRY_AFTER_MAX", 600.0)

    @property
    def downloader(self) -> Downloader:
        return self.crawler.engine.downloader

    def plan(self, request: Request, response: Response) -> RetryPlan | None:
        """The decision on a 429/503 answer (None: not one of ours), made the first time one of
        the components asks and kept in the request's meta for the others."""
        if not self.retrying or response.status not in RETRY_AFTER_CODES or request.meta.get("dont_retry", False):
            return None
        plan = request.meta.get(_PLAN)
        if isinstance(plan, RetryPlan) and plan.status == response.status:
            return plan
        attempt = request.meta.get(RETRY_AFTER_TIMES, 0) + 1
        limit = request.meta.get("max_retry_times")
        limit = self.max_retry_times if limit is None else limit
        header = response.headers.get(b"Retry-After")
        wait = retry_after_seconds(header, response.headers.get(b"Date"))
        backoff = wait is None
        give_up = None
        if wait is None:
            wait = min(self.backoff_base * 2 ** (attempt - 1), self.max_wait)
        elif wait > self.max_wait:
            give_up = "too_long"
        if give_up is None and attempt > limit:
            give_up = "max_retries"
        plan = RetryPlan(status=response.status, attempt=attempt, wait=wait, backoff=backoff,
                         header=to_unicode(header, errors="replace") if header else None, give_up=give_up,
                         until=monotonic() + wait)
        request.meta[_PLAN] = plan
        return plan


# --------------------------------------------------------------------------- the delay policy


@dataclass
class _HostDelay:
    delay: float  # AutoThrottle's own delay for the slot (or the slot's own, not adapting)
    jitter: float  # the slot's own jitter
    floor: float = 0.0  # Crawl-delay
    until: float = 0.0  # monotonic end of a Retry-After pause
    timer: CallLaterResult | None = None


class PoliteAutoThrottle(AutoThrottle):
    """AutoThrottle whose delay policy never goes below the host's robots.txt Crawl-delay nor ends
    a Retry-After pause early (see the module docstring).

    Settings: Scrapy's ``AUTOTHROTTLE_*`` (adaptation on or off), ``ROBOTSTXT_OBEY`` and
    ``ROBOTSTXT_CRAWL_DELAY`` (both needed for the floor), ``CRAWL_DELAY_MAX`` (cap, seconds).
    Stats: ``politeness/crawl_delay`` (the largest floor applied, seconds),
    ``politeness/crawl_delay/hosts``, ``politeness/crawl_delay/capped``,
    ``politeness/crawl_delay/raised`` (AutoThrottle adjustments the floor overrode),
    ``politeness/retry_after/paused`` (hosts paused until a retry time).
    """

    _OVERRIDDEN = ("_adjust_delay", "_response_downloaded", "_get_slot")

    def __init__(self, crawler: Crawler) -> None:
        missing = [name for name in self._OVERRIDDEN if not callable(getattr(AutoThrottle, name, None))]
        if missing:  # a Scrapy whose AutoThrottle no longer calls these: fail loudly, not impolitely
            raise RuntimeError(f"scrapy.extensions.throttle.AutoThrottle has no {', '.join(missing)}: "
                               f"crawler.politeness.PoliteAutoThrottle must be updated for this Scrapy")
        settings = crawler.settings
        self.crawl_delay_on = settings.getbool("ROBOTSTXT_OBEY") and settings.getbool("ROBOTSTXT_CRAWL_DELAY", True)
        retry_after_on = settings.getbool("RETRY_ENABLED")
        self.adaptive = settings.getbool("AUTOTHROTTLE_ENABLED")
        if self.adaptive:
            try:
                super().__init__(crawler)  # connects spider_opened and response_downloaded
            except NotConfigured as exc:
                if not (self.crawl_delay_on or retry_after_on):
                    raise
                logger.warning("AutoThrottle off (%s); Crawl-delay and Retry-After still hold", exc)
                self.adaptive = False
        if not self.adaptive:
            if not (self.crawl_delay_on or retry_after_on):
                raise NotConfigured
            self.crawler = crawler
            self.debug = settings.getbool("AUTOTHROTTLE_DEBUG")
            crawler.signals.connect(self._response_downloaded, signal=signals.response_downloaded)
        self.stats = crawler.stats
        self.max_crawl_delay = settings.getfloat("CRAWL_DELAY_MAX", 60.0)
        self.politeness = _Politeness.of(crawler)
        self._hosts: dict[str, _HostDelay] = {}  # slot key -> its delay state
        self._floors: dict[str, float] = {}  # netloc -> Crawl-delay
        self._adjusting: str | None = None  # the slot key _adjust_delay is called for
        crawler.signals.connect(self._request_reached, signal=signals.request_reached_downloader)
        if self.crawl_delay_on:
            crawler.signals.connect(self._robots_parsed, signal=signals.robots_parsed)

    # --- the policy ---

    def _adjust_delay(self, slot: Slot, latency: float, response: Response) -> None:
        """Define delay adjustment policy: AutoThrottle's own adjustment of the delay it would
        have without the bounds, then the Crawl-delay floor and the Retry-After pause on top."""
        key = self._adjusting if self._adjusting is not None else self._key_of(slot)
        if key is None:
            super()._adjust_delay(slot, latency, response)
            return
        host = self._host(key, slot)
        slot.delay = host.delay
        super()._adjust_delay(slot, latency, response)
        host.delay = slot.delay
        if host.floor > host.delay:
            self.stats.inc_value("politeness/crawl_delay/raised")
        self._apply(key, slot, host)
        if self.debug:
            logger.info("slot: %(slot)s | AutoThrottle delay: %(own)5d ms | Crawl-delay: %(floor)5d ms | "
                        "applied: %(delay)5d ms, jitter %(jitter).2f",
                        {"slot": key, "own": host.delay * 1000, "floor": host.floor * 1000,
                         "delay": slot.delay * 1000, "jitter": slot.jitter}, extra={"spider": self.crawler.spider})

    def _apply(self, key: str, slot: Slot, host: _HostDelay) -> None:
        """Set the slot's delay and jitter from the host's own delay and the bounds in force now."""
        if host.until:
            if monotonic() < host.until:
                # the downloader waits delay - (now - lastseen); nothing may go before host.until
                slot.delay = max(host.delay, host.floor, host.until - slot.lastseen)
                slot.jitter = 0.0
                return
            self._end_pause(host)
        slot.delay = max(host.delay, host.floor)
        if host.floor > 0:
            # the shortest sampled delay, delay x (1 - jitter), stays at least the floor
            slot.jitter = min(host.jitter, max(0.0, 1.0 - host.floor / slot.delay))
        else:
            slot.jitter = host.jitter

    def _host(self, key: str, slot: Slot) -> _HostDelay:
        host = self._hosts.get(key)
        if host is None:  # first sight of the slot, before anything of ours changed it
            host = self._hosts[key] = _HostDelay(delay=slot.delay, jitter=slot.jitter)
        return host

    def _key_of(self, slot: Slot) -> str | None:
        return next((key for key, known in self.crawler.engine.downloader.slots.items() if known is slot), None)

    # --- when it is applied ---

    def _response_downloaded(self, response: Response, request: Request, spider: Any = None) -> None:
        key, slot = self._get_slot(request, spider)
        if key is None or slot is None:
            return
        host = self._host(key, slot)
        plan = self.politeness.plan(request, response)
        if plan is not None and plan.give_up is None and plan.until > host.until:
            self._pause(key, host, plan.until)
        if self.adaptive:
            self._adjusting = key
            try:
                super()._response_downloaded(response, request, spider)  # calls _adjust_delay
            finally:
                self._adjusting = None
        self._apply(key, slot, host)  # also when AutoThrottle left this response out

    def _request_reached(self, request: Request, spider: Any = None) -> None:
        key, slot = self._get_slot(request, spider)
        if key is None or slot is None:
            return
        host = self._host(key, slot)
        floor = self._floors.get(urlparse_cached(request).netloc, 0.0)
        if floor > host.floor:  # e.g. a request given its own download_slot
            host.floor = floor
        self._apply(key, slot, host)

    def _robots_parsed(self, robotparser: RobotParser, request: Request) -> None:
        netloc = urlparse_cached(request).netloc
        settings = self.crawler.settings
        # The agent RobotsTxtMiddleware matches Allow/Disallow with.
        agent = settings.get("ROBOTSTXT_USER_AGENT") or settings.get("USER_AGENT")
        try:
            delay = robotparser.crawl_delay(agent)
        except (NotImplementedError, AttributeError):  # a parser without Crawl-delay support
            return
        if delay is None or not math.isfinite(delay) or delay <= 0:
            return
        applied = min(float(delay), self.max_crawl_delay)
        spider = self.crawler.spider
        if applied < delay:
            self.stats.inc_value("politeness/crawl_delay/capped")
            logger.warning("Crawl-delay %s s of %s capped at CRAWL_DELAY_MAX=%s s", delay, netloc,
                           self.max_crawl_delay, extra={"spider": spider})
        self._floors[netloc] = applied
        self.stats.inc_value("politeness/crawl_delay/hosts")
        self.stats.max_value("politeness/crawl_delay", applied)
        logger.info("robots.txt of %s: Crawl-delay %s s, at least that long between requests", netloc, applied,
                    extra={"spider": spider})
        # Now, before the request that waited for robots.txt reaches the slot robots.txt went through.
        key = self.crawler.engine.downloader.get_slot_key(request)
        slot = self.crawler.engine.downloader.slots.get(key)
        if slot is not None:
            host = self._host(key, slot)
            host.floor = max(host.floor, applied)
            self._apply(key, slot, host)

    # --- Retry-After pauses ---

    def _pause(self, key: str, host: _HostDelay, until: float) -> None:
        if host.timer is not None:
            host.timer.cancel()
        else:
            self.stats.inc_value(f"{STATS}/paused")
        host.until = until
        # The delay goes back to AutoThrottle's when the pause is over, not only at the next response.
        host.timer = call_later(max(0.0, until - monotonic()), self._pause_over, key)

    def _pause_over(self, key: str) -> None:
        host = self._hosts.get(key)
        if host is None or not host.until:
            return
        host.timer = None
        left = host.until - monotonic()
        if left > 0:  # a timer may fire a hair early
            host.timer = call_later(left, self._pause_over, key)
            return
        slot = self.crawler.engine.downloader.slots.get(key)
        if slot is not None:
            self._apply(key, slot, host)
        else:
            self._end_pause(host)

    @staticmethod
    def _end_pause(host: _HostDelay) -> None:
        host.until = 0.0
        if host.timer is not None:
            host.timer.cancel()
            host.timer = None


# --------------------------------------------------------------------------- Retry-After retries


class RetryAfterMiddleware:
    """Retry 429 and 503 after ``Retry-After`` (or an exponential backoff), through the scheduler.

    Settings: ``RETRY_ENABLED``, ``RETRY_TIMES``, ``RETRY_BACKOFF_BASE`` (seconds, doubled on each
    retry of a request), ``RETRY_AFTER_MAX`` (seconds; a longer Retry-After gives up on the request),
    Scrapy's ``RETRY_GIVE_UP_LOG_LEVEL``. Stats: ``politeness/retry_after/<code>`` (retries),
    ``politeness/retry_after/backoff`` (retries without a usable header),
    ``politeness/retry_after/waited`` (seconds, rounded up), ``politeness/retry_after/gave_up/too_long``,
    ``politeness/retry_after/gave_up/max_retries``, and ``get_retry_request``'s own
    ``politeness/retry_after/count``, ``.../reason_count/<reason>``, ``.../max_reached``.
    """

    def __init__(self, crawler: Crawler) -> None:
        settings = crawler.settings
        if not settings.getbool("RETRY_ENABLED"):
            raise NotConfigured
        self.crawler = crawler
        self.stats = crawler.stats
        self.give_up_log_level = settings["RETRY_GIVE_UP_LOG_LEVEL"]
        both = sorted(set(RETRY_AFTER_CODES) & {int(c) for c in settings.getlist("RETRY_HTTP_CODES")})
        if both:
            logger.warning("RETRY_HTTP_CODES includes %s: Scrapy's RetryMiddleware will retry those too, "
                           "without waiting; leave them to RetryAfterMiddleware", both)
        self.politeness = _Politeness.of(crawler)
        self.politeness.retrying = True

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RetryAfterMiddleware:
        return cls(crawler)

    async def process_response(self, request: Request, response: Response) -> Request | Response:
        plan = self.politeness.plan(request, response)  # e.g. an answer from a cache: decided now
        if plan is None:
            return response
        request.meta.pop(_PLAN, None)
        status, spider = response.status, self.crawler.spider
        if plan.give_up == "too_long":
            self.stats.inc_value(f"{STATS}/gave_up/too_long")
            logger.warning("Gave up on %(request)s (%(status)d): Retry-After %(header)s exceeds RETRY_AFTER_MAX "
                           "(%(max)s s)", {"request": request, "status": status, "header": plan.header,
                                           "max": self.politeness.max_wait}, extra={"spider": spider})
            return response
        retry = self._retry_request(request, response)
        if retry is None:  # get_retry_request counted and logged it (RETRY_GIVE_UP_LOG_LEVEL)
            self.stats.inc_value(f"{STATS}/gave_up/max_retries")
            return response
        retry.meta[RETRY_AFTER_TIMES] = plan.attempt
        if plan.hold is not None:
            retry.meta[_HOLD] = plan.hold[1]
        self.stats.inc_value(f"{STATS}/{status}")
        self.stats.inc_value(f"{STATS}/waited", math.ceil(plan.wait))
        if plan.backoff:
            self.stats.inc_value(f"{STATS}/backoff")
        logger.info("Retrying %(request)s (%(status)d, retry %(attempt)d) in %(wait).1f s (%(why)s); nothing else "
                    "is sent to the host before then",
                    {"request": request, "status": status, "attempt": plan.attempt, "wait": plan.wait,
                     "why": "backoff" if plan.backoff else f"Retry-After: {plan.header}"},
                    extra={"spider": spider})
        # Until the retry time the host's slot sends nothing (PoliteAutoThrottle) and the host is held
        # (HostQueueMiddleware); the retry itself waits here, without blocking anything else.
        if not await self._wait_until(plan.until):
            # The crawl is stopping: the retry goes to the scheduler now (kept with JOBDIR, like the
            # other scheduled requests; a stopping engine takes no more from it), and the host is not
            # held for it past the retry time: the requests waiting for the host go then, as Scrapy
            # lets the requests already in its downloader finish on a graceful stop.
            self.stats.inc_value(f"{STATS}/not_waited")
            if plan.hold is not None and self.politeness.unhold_at is not None:
                self.politeness.unhold_at(*plan.hold, plan.until)
        return retry

    def _retry_request(self, request: Request, response: Response) -> Request | None:
        """Scrapy's ``get_retry_request``, counting Retry-After retries apart from RetryMiddleware's:
        it reads ``retry_times`` from the meta, so it is handed a copy that carries our count, and the
        retry gets RetryMiddleware's count back."""
        meta = {k: v for k, v in request.meta.items() if k not in (_PLAN, _HOLD)}
        theirs = meta.get("retry_times")
        meta["retry_times"] = request.meta.get(RETRY_AFTER_TIMES, 0)
        retry = get_retry_request(
            request.replace(meta=meta),
            spider=self.crawler.spider,
            reason=f"{response.status} {HTTPStatus(response.status).phrase}",  # Twisted's table lacks 429
            priority_adjust=RETRY_AFTER_PRIORITY_ADJUST,
            logger=logger,
            give_up_log_level=request.meta.get("give_up_log_level", self.give_up_log_level),
            stats_base_key=STATS,
        )
        if retry is not None:
            if theirs is None:
                retry.meta.pop("retry_times", None)
            else:
                retry.meta["retry_times"] = theirs
        return retry

    async def _wait_until(self, until: float) -> bool:
        """Wait (asynchronously) until ``until``; False if the crawl began stopping first."""
        engine = self.crawler.engine
        while (left := until - monotonic()) > 0:
            if not engine.running:
                return False
            await sleep(min(left, _WAIT_STEP))
        return True


# --------------------------------------------------------------------------- per-host queue


@dataclass
class _Gate:
    inside: set[Request] = field(default_factory=set)
    waiting: deque[tuple[Request, Deferred[None]]] = field(default_factory=deque)
    hold: int | None = None  # the token of the retry the host is held for
    hold_timer: CallLaterResult | None = None

    def idle(self) -> bool:
        return not self.inside and not self.waiting and self.hold is None


class HostQueueMiddleware:
    """At most the slot's concurrency of requests per host inside the downloader; the rest wait here,
    in order, and a host held for a Retry-After retry lets that retry in first. Must be the last
    downloader middleware (nothing may act on a request between it and the downloader's slot).
    Off with ``RETRY_ENABLED=False`` (it only matters for Retry-After). Stats:
    ``politeness/retry_after/hold_released`` (a held host opened without its retry: it never came,
    or the crawl is stopping)."""

    def __init__(self, crawler: Crawler) -> None:
        if not crawler.settings.getbool("RETRY_ENABLED"):
            raise NotConfigured
        self.crawler = crawler
        self.politeness = _Politeness.of(crawler)
        self.gates: dict[str, _Gate] = {}  # slot key -> queue of the host
        self._tokens = itertools.count(1)
        self.politeness.unhold_at = self._unhold_at

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> HostQueueMiddleware:
        return cls(crawler)

    @property
    def downloader(self) -> Downloader:
        return self.crawler.engine.downloader

    async def process_request(self, request: Request) -> None:
        if urlparse_cached(request).scheme in ("http", "https"):
            await self._enter(request)

    def process_response(self, request: Request, response: Response) -> Response:
        key, gate = self._gate_of(request)
        if gate is not None:
            plan = self.politeness.plan(request, response)
            if plan is not None and plan.give_up is None and plan.hold is None:
                plan.hold = (key, self._hold(key, gate, plan.until))  # before the next one may enter
            self._leave(key, gate, request)
        return response

    def process_exception(self, request: Request, exception: Exception) -> None:
        key, gate = self._gate_of(request)
        if gate is not None:
            self._leave(key, gate, request)

    def _capacity(self, key: str) -> int:
        slot = self.downloader.slots.get(key)
        if slot is not None:
            return max(1, slot.concurrency)
        settings = self.crawler.settings
        configured = settings.getdict("DOWNLOAD_SLOTS").get(key, {}).get("concurrency")
        return max(1, configured or settings.getint("CONCURRENT_REQUESTS_PER_IP")
                   or settings.getint("CONCURRENT_REQUESTS_PER_DOMAIN"))

    def _gate_of(self, request: Request) -> tuple[str, _Gate | None]:
        """The host's gate if the request is inside it (not for an answer from a cache, say)."""
        key = self.downloader.get_slot_key(request)
        gate = self.gates.get(key)
        return key, gate if gate is not None and request in gate.inside else None

    async def _enter(self, request: Request) -> None:
        """Wait for the host's turn; the request the host is held for goes before all that wait."""
        key = self.downloader.get_slot_key(request)
        gate = self.gates.setdefault(key, _Gate())
        token = request.meta.pop(_HOLD, None)
        first = token is not None and gate.hold == token
        if first:
            self._release_hold(gate)
        if (first or (gate.hold is None and not gate.waiting)) and len(gate.inside) < self._capacity(key):
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

    def _leave(self, key: str, gate: _Gate, request: Request) -> None:
        gate.inside.discard(request)
        self._wake(key, gate)

    def _wake(self, key: str, gate: _Gate) -> None:
        while gate.waiting and gate.hold is None and len(gate.inside) < self._capacity(key):
            request, turn = gate.waiting.popleft()
            gate.inside.add(request)
            if not turn.called:
                turn.callback(None)
        if gate.idle():
            self.gates.pop(key, None)

    def _hold(self, key: str, gate: _Gate, until: float) -> int:
        """Hold the host for one retry: nothing waiting enters before the request carrying the token."""
        self._release_hold(gate)
        token = next(self._tokens)
        gate.hold = token
        gate.hold_timer = call_later(max(0.0, until - monotonic()) + HOLD_TIMEOUT, self._unhold, key, token)
        return token

    def _unhold_at(self, key: str, token: int, until: float) -> None:
        """Open the host at ``until`` (not before: its slot is paused till then, and a request let in
        early would be sent with the pause's delay) if it is still held for ``token``."""
        gate = self.gates.get(key)
        if gate is not None and gate.hold == token:
            if gate.hold_timer is not None:
                gate.hold_timer.cancel()
            gate.hold_timer = call_later(max(0.0, until - monotonic()) + _AFTER_PAUSE, self._unhold, key, token)

    def _unhold(self, key: str, token: int) -> None:
        """Open the host again if it is still held for ``token`` (its retry will not come)."""
        gate = self.gates.get(key)
        if gate is not None and gate.hold == token:
            self.crawler.stats.inc_value(f"{STATS}/hold_released")
            self._release_hold(gate)
            self._wake(key, gate)

    @staticmethod
    def _release_hold(gate: _Gate) -> None:
        gate.hold = None
        if gate.hold_timer is not None:
            gate.hold_timer.cancel()
            gate.hold_timer = None
