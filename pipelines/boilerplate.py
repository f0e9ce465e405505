"""Boilerplate learned from the site itself: lines that repeat on many of a site's pages.

Every page a crawl reads (articles and listings alike) is observed as the set of its visible lines;
a line seen on at least ``max(min_pages, min_share * pages)`` pages of the site is boilerplate once
``warmup`` pages have been observed, and is removed from every record's text. Thresholds come from
the mock archives (README, "Learned boilerplate"): article lines repeat on at most 3 pages there,
template lines on 61% to 100% of pages.

The model is plain data (line digests and counts): it is saved per site and the next crawl, or
``archive-crawler extract --model``, starts from it.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["BoilerplateModel", "line_key"]

MODEL_VERSION = 1
# Lines shorter than this carry too little to call boilerplate ("Yes.", a lone date, a number).
MIN_LINE_CHARS = 12


def line_key(line: str) -> str:
    """A short digest of a whitespace-normalised, case-folded line."""
    normalised = " ".join(line.split()).casefold()
    return hashlib.blake2b(normalised.encode("utf-8"), digest_size=8).hexdigest()


@dataclass
class BoilerplateModel:
    site: str
    min_pages: int = 5
    min_share: float = 0.2
    warmup: int = 20
    pages: int = 0
    counts: Counter = field(default_factory=Counter)

    def observe(self, lines: Iterable[str]) -> None:
        """Count one page's visible lines (each line once per page)."""
        keys = {line_key(line) for line in lines if len(line) >= MIN_LINE_CHARS}
        self.counts.update(keys)
        self.pages += 1

    @property
    def ready(self) -> bool:
        """Enough pages seen to trust the counts (a crawl holds its first records until then)."""
        return self.pages >= self.warmup

    @property
    def threshold(self) -> float:
        return max(self.min_pages, self.min_share * self.pages)

    def is_boilerplate(self, line: str) -> bool:
        if len(line) < MIN_LINE_CHARS:
            return False
        return self.counts.get(line_key(line), 0) >= self.threshold

    def clean(self, lines: Iterable[str]) -> tuple[list[str], list[str]]:
        """Split lines into (kept, removed as boilerplate)."""
        kept, removed = [], []
        for line in lines:
            (removed if self.is_boilerplate(line) else kept).append(line)
        return kept, removed

    # Persistence: only digests that could ever matter are kept (seen on at least two pages).
    def to_json(self) -> dict:
        return {
            "version": MODEL_VERSION,
            "site": self.site,
            "pages": self.pages,
            "min_pages": self.min_pages,
            "min_share": self.min_share,
            "warmup": self.warmup,
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
            pages=data["pages"],
            counts=Counter(data["counts"]),
        )

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(path.suffix + ".tmp")
        temporary.write_text(json.dumps(self.to_json()), encoding="utf-8")
        temporary.replace(path)  # atomic: a killed crawl never leaves half a model

    @classmethod
    def load(cls, path: Path) -> BoilerplateModel:
        return cls.from_json(json.loads(path.read_text(encoding="utf-8")))
