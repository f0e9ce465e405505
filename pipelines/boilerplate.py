"""Boilerplate learned from the site itself: lines that repeat on many of a site's pages.

Every page a crawl reads (articles and listings alike) is observed as the set of its visible lines;
a line seen on at least ``max(min_pages, min_share * pages)`` pages of the site is boilerplate once
``warmup`` pages have been observed, and is removed from every record's text. Thresholds come from
the mock archives (README, "Learned boilerplate"): article lines repeat on at most 3 pages there,
template lines on 61% to 100% of pages. They are defined here and nowhere else; the crawl's
settings (``BOILERPLATE_*``) default to them.

Memory and checkpoints cost the same at any crawl size: the model keeps at most ``capacity`` line
counters (Misra-Gries frequent items). When more distinct lines are counted, every counter is
lowered by one and the empty ones go; a count therefore never exceeds the true number of pages a
line is on, and falls short of it by at most the number of such rounds, which is below
``lines seen / capacity`` (about 2% of pages at 70 lines a page). So a line is never called
boilerplate more readily than an exact count would call it; a template line (on most pages) stays
far above the threshold.

The model is plain data (line digests and counts): it is saved per site and the next crawl, or
``archive-crawler extract --model``, starts from it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "BoilerplateModel",
    "CAPACITY",
    "MIN_LINE_CHARS",
    "MIN_PAGES",
    "MIN_SHARE",
    "WARMUP_PAGES",
    "line_key",
    "line_keys",
]

MODEL_VERSION = 1
# The thresholds (README, "Learned boilerplate").
WARMUP_PAGES = 20
MIN_PAGES = 5
MIN_SHARE = 0.2
# Line counters kept (Misra-Gries); see the module docstring for the error this allows.
CAPACITY = 4096
# Lines shorter than this carry too little to call boilerplate ("Yes.", a lone date, a number).
MIN_LINE_CHARS = 12


def line_key(line: str) -> str:
    """A short digest of a whitespace-normalised, case-folded line."""
    normalised = " ".join(line.split()).casefold()
    return hashlib.blake2b(normalised.encode("utf-8"), digest_size=8).hexdigest()


def line_keys(lines: Iterable[str]) -> list[str | None]:
    """The key of each line, ``None`` for lines too short to ever be boilerplate."""
    return [line_key(line) if len(line) >= MIN_LINE_CHARS else None for line in lines]


@dataclass
class BoilerplateModel:
    site: str
    min_pages: int = MIN_PAGES
    min_share: float = MIN_SHARE
    warmup: int = WARMUP_PAGES
    capacity: int = CAPACITY
    pages: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    _boilerplate: set[str] = field(default_factory=set, repr=False, compare=False)
    _frozen: frozenset[str] | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.capacity < 1:
            raise ValueError(f"the model needs at least one line counter, got capacity={self.capacity}")
        self._trim()
        threshold = self.threshold
        self._boilerplate = {key for key, n in self.counts.items() if n >= threshold}

    def observe(self, keys: Iterable[str | None]) -> None:
        """Count one page's line keys (see ``line_keys``; each line once per page)."""
        page = {key for key in keys if key is not None}
        counts = self.counts
        for key in page:
            counts[key] = counts.get(key, 0) + 1
        self.pages += 1
        self._trim()
        # Only the lines counted now can join; the threshold never falls, so members are re-checked.
        threshold = self.threshold
        members = {key for key in self._boilerplate if counts.get(key, 0) >= threshold}
        members.update(key for key in page if counts.get(key, 0) >= threshold)
        if members != self._boilerplate:
            self._boilerplate = members
            self._frozen = None

    def _trim(self) -> None:
        while len(self.counts) > self.capacity:
            self.counts = {key: n - 1 for key, n in self.counts.items() if n > 1}

    @property
    def ready(self) -> bool:
        """Enough pages seen to trust the counts (a crawl holds its first records until then)."""
        return self.pages >= self.warmup

    @property
    def threshold(self) -> float:
        return max(self.min_pages, self.min_share * self.pages)

    def boilerplate_keys(self) -> frozenset[str]:
        """The keys of the lines that are boilerplate now (what a worker needs to clean a page)."""
        if self._frozen is None:
            self._frozen = frozenset(self._boilerplate)
        return self._frozen

    def is_boilerplate(self, line: str) -> bool:
        return len(line) >= MIN_LINE_CHARS and line_key(line) in self._boilerplate

    def clean(self, lines: Iterable[str]) -> tuple[list[str], list[str]]:
        """Split lines into (kept, removed as boilerplate)."""
        kept, removed = [], []
        for line in lines:
            (removed if self.is_boilerplate(line) else kept).append(line)
        return kept, removed

    # Persistence: at most ``capacity`` counters, so a checkpoint costs the same at any crawl size.
    def to_json(self) -> dict:
        return {
            "version": MODEL_VERSION,
            "site": self.site,
            "pages": self.pages,
            "min_pages": self.min_pages,
            "min_share": self.min_share,
            "warmup": self.warmup,
            "capacity": self.capacity,
            "counts": {key: n for key, n in self.counts.items() if n >= 2},
        }

    @classmethod
    def from_json(cls, data: dict) -> BoilerplateModel:
        if data.get("version") != MODEL_VERSION:
            raise ValueError(f"unsupported boilerplate model version {data.get('version')!r}")
        return cls(
            site=data["site"],
            min_pages=data["min_pages"],
            min_share=data["min_share"],
            warmup=data["warmup"],
            capacity=data.get("capacity", CAPACITY),
            pages=data["pages"],
            counts={str(key): int(n) for key, n in data["counts"].items()},
        )

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(path.suffix + ".tmp")
        temporary.write_text(json.dumps(self.to_json()), encoding="utf-8")
        temporary.replace(path)  # atomic: a killed crawl never leaves half a model

    @classmethod
    def load(cls, path: Path) -> BoilerplateModel:
        return cls.from_json(json.loads(path.read_text(encoding="utf-8")))
