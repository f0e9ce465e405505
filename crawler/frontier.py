"""How far a crawl goes into a site: a depth limit, a page budget, and generated paths (traps).

A hand-made archive is a few links deep and has a bounded number of pages; a calendar that links
"next month" forever, a relative link that repeats a path segment (``x/`` giving ``/x/x/x/...``) or a
session id in every link is not. ``Frontier.refusal`` is asked before the spider queues a link it
found on a page; it says why the link is not followed (None: follow it):

``depth``
    the link would be deeper than ``DEPTH_LIMIT`` (Scrapy's own setting; our default is not 0)
    links from the start page.
``budget``
    the crawl has queued ``SITE_PAGE_BUDGET`` pages of the site already (a resumed run counts what
    its crawl queued before).
``trap_repeating``
    the path repeats a run of segments three times in a row (``/a/b/a/b/a/b/``, ``/x/x/x/``) or has
    more than ``TRAP_MAX_SEGMENTS`` segments.
``trap_counting``
    the link has the same shape as the page it was found on (numbers aside: ``/calendar/7/`` and
    ``/calendar/8/``, ``?page=7`` and ``?page=8``), and more than ``TRAP_RUN_LIMIT`` pages in a row
    of that shape led to it without finding any new page of another shape. A paginated listing
    finds new articles on every page, so its run never grows; a generated calendar finds only more
    of itself. The run is carried in ``request.meta``.

Each refusal is counted as ``archive/frontier/<reason>``; the first of each kind is logged.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from urllib.parse import urlsplit

__all__ = ["DEPTH", "SHAPE_RUN", "Frontier", "path_repeats", "url_shape"]

logger = logging.getLogger(__name__)

# request.meta keys: Scrapy's own depth, and how many same-shape links in a row led to the page.
DEPTH = "depth"
SHAPE_RUN = "archive_shape_run"
REPEATS = 3
_NUMBER = re.compile(r"\d+")


def url_shape(url: str) -> str:
    """The URL with every run of digits replaced: the pages a counter generates share it."""
    parts = urlsplit(url)
    return _NUMBER.sub("#", f"{parts.path}?{parts.query}")


def path_repeats(path: str, max_segments: int) -> bool:
    """True for a path with too many segments, or a run of segments repeated ``REPEATS`` times in a row."""
    segments = [segment for segment in path.split("/") if segment]
    if len(segments) > max_segments:
        return True
    for period in range(1, len(segments) // REPEATS + 1):
        # A block of ``period`` segments said REPEATS times: (REPEATS - 1) * period segments in a
        # row equal to the one ``period`` places further on.
        streak = 0
        for index in range(len(segments) - period):
            streak = streak + 1 if segments[index] == segments[index + period] else 0
            if streak >= (REPEATS - 1) * period:
                return True
    return False


class Frontier:
    """Which found links a crawl follows (see the module)."""

    def __init__(self, depth_limit: int, page_budget: int, run_limit: int, max_segments: int,
                 count: Callable[[str], None], queued: int = 0):
        self.depth_limit = depth_limit
        self.page_budget = page_budget
        self.run_limit = run_limit
        self.max_segments = max_segments
        self.count = count  # called with a refusal's reason
        self.queued = queued
        self._logged: set[str] = set()

    @classmethod
    def from_settings(cls, settings, count: Callable[[str], None], queued: int = 0) -> Frontier:
        return cls(settings.getint("DEPTH_LIMIT"), settings.getint("SITE_PAGE_BUDGET"),
                   settings.getint("TRAP_RUN_LIMIT"), settings.getint("TRAP_MAX_SEGMENTS"), count, queued)

    def follow(self, url: str, found_on: str, found_meta: dict, barren: bool = True) -> dict | None:
        """The meta a request for ``url`` (a new link found on ``found_on``; ``barren``: that page
        found no new page of another shape than its own) carries, or None when the link is not
        followed (counted)."""
        depth = found_meta.get(DEPTH, 0) + 1
        same_shape = url_shape(url) == url_shape(found_on)
        run = found_meta.get(SHAPE_RUN, 0) + 1 if same_shape and barren else 0
        reason = None
        if self.depth_limit and depth > self.depth_limit:
            reason = "depth"
        elif path_repeats(urlsplit(url).path, self.max_segments):
            reason = "trap_repeating"
        elif self.run_limit and run > self.run_limit:
            reason = "trap_counting"
        if reason is not None:
            self._refused(reason, url)
            return None
        return {DEPTH: depth, SHAPE_RUN: run}

    def admit(self, url: str) -> bool:
        """A new page is queued: False (counted) once the budget is spent."""
        if self.page_budget and self.queued >= self.page_budget:
            self._refused("budget", url)
            return False
        self.queued += 1
        return True

    def _refused(self, reason: str, url: str) -> None:
        self.count(reason)
        if reason not in self._logged:
            self._logged.add(reason)
            logger.info("Not followed (%s; further ones are only counted): %s", reason, url)
