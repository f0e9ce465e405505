"""The one way a fetched page becomes a written record, for the crawl, ``extract`` and ``reprocess``.

    page --read (worker)--> draft + links + line keys --learn--> finish (worker): record, validated
         --revise--> --de-duplicate--> write --written--> crawl state

* ``PageReader`` sends pages to the worker pool (``crawler/workers.py``) and does what depends on
  the order pages arrive in: the site's boilerplate model observes every page's line keys; until it
  has seen ``warmup`` pages the drafts are held, then finished with what the warm-up taught; later
  pages are read and finished in one job with the model's boilerplate keys at that moment. Records
  may come back in any order.
* ``RecordAdmission`` takes a built record through revision (``pipelines.revision.revise`` against
  what the crawl state knew of the page before this crawl), then de-duplication (one record per
  canonical URL per crawl; a text another page's latest record holds is a duplicate), and marks it
  written once its line is out. It keeps in memory only the records between admission and write.

The crawl runs the reader in the spider callback and the admission in an item pipeline
(``crawler/pipelines.py``); ``reprocess`` and ``extract`` run the same two through ``RecordRun``.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from crawler.state import STATE_FILE, CrawlState
from crawler.workers import JobOutcome, JobTimedOut, PageJob, RecordPool, WorkerDied, finish_job, read_job
from pipelines.boilerplate import BoilerplateModel
from pipelines.profiles import SiteProfile
from pipelines.revision import revise
from pipelines.urls import site_key

__all__ = ["HTML_TYPES", "Built", "PageReader", "RecordAdmission", "RecordRun", "is_html", "log_skip", "reaches_spider"]

logger = logging.getLogger(__name__)

# Media types read as HTML pages. A response without a Content-Type is tried as HTML too.
HTML_TYPES = ("text/html", "application/xhtml+xml")
UNCHANGED = "unchanged"


def reaches_spider(status: int) -> bool:
    """Scrapy's HttpErrorMiddleware hands the spider only 2xx responses; redirects are followed
    by the RedirectMiddleware and never reach it either."""
    return 200 <= status < 300


def is_html(content_type: str | bytes | None) -> bool:
    if isinstance(content_type, bytes):
        content_type = content_type.decode("latin-1")
    if not content_type:
        return True
    return content_type.split(";")[0].strip().lower().startswith(HTML_TYPES)


@dataclass(frozen=True)
class Built:
    """A page's outcome: its record, or the reason (a stats key) and detail of no record."""

    url: str
    record: dict | None = None
    reason: str | None = None
    detail: str = ""


def log_skip(built: Built, log: logging.Logger | logging.LoggerAdapter) -> None:
    """A page that gave no record: an invalid record is a warning (the schema or the code is
    wrong), any other reason a debug line."""
    if built.reason == "invalid_record":
        log.warning("Invalid record for %s not written: %s", built.url, built.detail)
    else:
        log.debug("No record from %s: %s: %s", built.url, built.reason, built.detail)


def _built(url: str, outcome: JobOutcome) -> Built:
    if outcome.record is not None:
        return Built(url, record=outcome.record)
    reason, detail = outcome.skip or ("extraction_error", "no outcome")
    return Built(url, reason=reason, detail=detail)


class PageReader:
    """Pages of one site to built records through the pool, learning the site's boilerplate."""

    def __init__(self, pool: RecordPool, model: BoilerplateModel | None = None, *, learning: bool = True):
        self.pool = pool
        self.model = model
        # False: the model is only applied, as trained (``extract --model``).
        self.learning = learning
        self.held: list = []  # drafts waiting for the model's warm-up

    async def read(self, job: PageJob) -> tuple[tuple[str, ...], list[Built]]:
        """The page's links and the outcomes ready now (the page's own, or none while it is held;
        the held pages' as well once the warm-up ends)."""
        model = self.model
        if not is_html(job.content_type):
            return (), [Built(job.url, reason="not_html", detail=job.content_type or "")]
        if model is None:
            boilerplate: frozenset[str] | None = frozenset()
        elif not self.learning or model.ready:
            boilerplate = model.boilerplate_keys()
        else:
            boilerplate = None
        try:
            outcome = await self.pool.run(read_job, job, boilerplate, model is not None and self.learning)
        except WorkerDied as exc:
            return (), [Built(job.url, reason="worker_died", detail=str(exc))]
        except JobTimedOut as exc:
            return (), [Built(job.url, reason="record_timeout", detail=str(exc))]
        if outcome.skip is not None and outcome.draft is None and not outcome.line_keys:
            return (), [_built(job.url, outcome)]  # unreadable: nothing to learn from
        if model is None or not self.learning:
            return outcome.links, [_built(job.url, outcome)]
        model.observe(outcome.line_keys)
        if outcome.draft is None:
            return outcome.links, [_built(job.url, outcome)]
        self.held.append(outcome.draft)
        if not model.ready:
            return outcome.links, []
        return outcome.links, await self.flush()

    async def flush(self) -> list[Built]:
        """Finish every held draft with what the model knows now."""
        held, self.held = self.held, []
        if not held:
            return []
        boilerplate = self.model.boilerplate_keys() if self.model is not None else frozenset()

        async def finish(draft) -> Built:
            try:
                return _built(draft.url, await self.pool.run(finish_job, draft, boilerplate))
            except WorkerDied as exc:
                return Built(draft.url, reason="worker_died", detail=str(exc))
            except JobTimedOut as exc:
                return Built(draft.url, reason="record_timeout", detail=str(exc))

        return list(await asyncio.gather(*(finish(draft) for draft in held)))


class RecordAdmission:
    """Revision and de-duplication of built records against a crawl state.

    ``history`` is what revisions are decided against (the crawl's own state; or, for ``reprocess
    --state``, the state of the crawl that made the captures, only read); ``ledger`` records what
    this run wrote (the same state in a crawl; a scratch state otherwise)."""

    def __init__(self, history: CrawlState, ledger: CrawlState | None = None):
        self.history = history
        self.ledger = ledger or history
        self._pending_urls: set[str] = set()
        self._pending_texts: dict[str, str] = {}

    def admit(self, record: dict, crawl_id: int | None = None) -> tuple[dict | None, str | None]:
        """(the record with its revision, None), or (None, why it is not written: ``unchanged``,
        ``duplicate_url``, ``duplicate_content``)."""
        url, digest = record["canonical_url"], record["content_sha256"]
        previous = self.history.previous_revision(url, crawl_id)
        revised = revise(record, *(previous or (None, None)))
        if revised is None:
            return None, UNCHANGED
        if url in self._pending_urls or self.ledger.written_in_crawl(url):
            return None, "duplicate_url"
        holder = self._pending_texts.get(digest)
        if (holder is not None and holder != url) or self._text_held(digest, url, crawl_id):
            return None, "duplicate_content"
        self._pending_urls.add(url)
        self._pending_texts[digest] = url
        return revised, None

    def _text_held(self, digest: str, url: str, crawl_id: int | None) -> bool:
        if self.history.text_held_by_other(digest, url, crawl_id):
            return True
        return self.ledger is not self.history and self.ledger.text_held_by_other(digest, url)

    def written(self, record: dict) -> None:
        """The record's line is in the output: the page is finished for this crawl."""
        url, digest = record["canonical_url"], record["content_sha256"]
        self.ledger.record_written(url, digest, record["revision"])
        self._pending_urls.discard(url)
        if self._pending_texts.get(digest) == url:
            del self._pending_texts[digest]


class RecordRun:
    """Pages of any sites through the record chain, outside a crawl: a ``PageReader`` per site,
    one ``RecordAdmission`` over a scratch state (and the crawl's, when given, for revisions)."""

    def __init__(
        self,
        pool: RecordPool,
        counts: Counter,
        *,
        history: CrawlState | None = None,
        learning: bool = True,
        model: BoilerplateModel | None = None,
        observe: bool = True,
    ):
        self.pool = pool
        self.counts = counts
        self.learning = learning
        self.model = model
        self.observe = observe
        self._scratch = tempfile.TemporaryDirectory(prefix="archive-crawler-run-")
        self.ledger = CrawlState(Path(self._scratch.name) / STATE_FILE)
        self.ledger.begin_run(None)
        self.history = history
        self.admission = RecordAdmission(history or self.ledger, self.ledger)
        self.readers: dict[str, PageReader] = {}
        self._crawl_of: dict[str, int | None] = {}  # held pages only: which crawl captured them

    def _reader(self, url: str, profile: SiteProfile) -> PageReader:
        site = site_key(url, profile)
        if site not in self.readers:
            model = None
            if self.learning:
                model = self.model if self.model is not None else BoilerplateModel(site=site)
            self.readers[site] = PageReader(self.pool, model, learning=self.observe)
        return self.readers[site]

    async def page(self, job: PageJob, profile: SiteProfile, crawl_id: int | None = None) -> list[Built]:
        """The outcomes this page lets out now (its own, or held pages' at the end of a warm-up):
        records with their revision, or why there is none."""
        reader = self._reader(job.url, profile)
        self._crawl_of[job.url] = crawl_id
        _links, outcomes = await reader.read(job)
        return self._admit(outcomes)

    async def flush(self) -> list[Built]:
        outcomes = []
        for reader in self.readers.values():
            outcomes += self._admit(await reader.flush())
        return outcomes

    def _admit(self, outcomes: Iterable[Built]) -> list[Built]:
        admitted = []
        for built in outcomes:
            crawl_id = self._crawl_of.pop(built.url, None)
            if built.record is None:
                self.counts[f"skipped/{built.reason}"] += 1
                log_skip(built, logger)
                admitted.append(built)
                continue
            revised, reason = self.admission.admit(built.record, crawl_id if self.history is not None else None)
            if revised is None:
                self.counts["pages/unchanged" if reason == UNCHANGED else f"skipped/{reason}"] += 1
                admitted.append(Built(built.url, reason=reason, detail=built.record["canonical_url"]))
                continue
            admitted.append(Built(built.url, record=revised))
        return admitted

    def written(self, record: dict) -> None:
        self.admission.written(record)
        self.counts["records"] += 1

    def close(self) -> None:
        self.ledger.close()
        if self.history is not None:
            self.history.close()
        self._scratch.cleanup()
