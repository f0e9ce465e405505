"""Records re-made from WARC captures, without the network and without Scrapy.

The decisions are the crawl's own (``pipelines/pages.py``): only responses the spider would have
been handed (2xx; not robots.txt, which Scrapy reads for itself), the HTML check, ``build_record``
with the site profile named in the file's ``warcinfo`` record (else the one the URL's host picks),
schema validation, then de-duplication by canonical URL and text hash. ``fetched_at`` is the
capture's ``WARC-Date``. So the records equal the crawl's apart from ``fetched_at``.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from warcio.exceptions import ArchiveLoadFailed

from .encoding import PageSkipped
from .output import RecordWriter
from .boilerplate import BoilerplateModel
from .pages import Deduplicator, FetchedPage, PageRecords, reaches_spider
from .profiles import SiteProfile, load_profile, profile_for_url
from .validation import record_errors
from .warc import CapturedResponse, read_responses

__all__ = ["ReprocessResult", "records_from_warcs", "reprocess"]

logger = logging.getLogger(__name__)


@dataclass
class ReprocessResult:
    """What a run did: ``counts`` uses the crawl's stat names (``pages/fetched``, ``records``,
    ``skipped/<reason>``); ``errors`` lists files that could not be read to the end."""

    counts: Counter = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)


def _profile(response: CapturedResponse) -> SiteProfile:
    if response.profile:
        try:
            return load_profile(response.profile)
        except ValueError:
            logger.warning("Unknown site profile %r in %s's warcinfo; using the URL's", response.profile, response.url)
    return profile_for_url(response.url)


def records_from_warcs(
    paths: Iterable[str | os.PathLike],
    result: ReprocessResult | None = None,
    *,
    learning: bool = True,
    model: BoilerplateModel | None = None,
) -> Iterator[dict]:
    """The records the crawl would have written from these captures, in capture order.

    With ``learning`` (the crawl's default) boilerplate is learned from the captured pages in
    capture order, as the crawl learned it, starting from ``model`` when given (the model the
    crawl started from, if it had one).
    """
    result = result if result is not None else ReprocessResult()
    counts = result.counts
    seen = Deduplicator()
    sites: dict[str, PageRecords] = {}

    def emit(outcomes) -> Iterator[dict]:
        for page, outcome in outcomes:
            if isinstance(outcome, PageSkipped):
                counts[f"skipped/{outcome.reason}"] += 1
                continue
            errors = record_errors(outcome)
            if errors:
                counts["skipped/invalid_record"] += 1
                logger.warning("Invalid record for %s not written: %s", page.url, "; ".join(errors))
                continue
            duplicate = seen.duplicate(outcome)
            if duplicate:
                counts[f"skipped/{duplicate}"] += 1
                continue
            counts["records"] += 1
            yield outcome

    for path in paths:
        try:
            for response in read_responses(path):
                counts["responses"] += 1
                if not reaches_spider(response.status):
                    counts[f"skipped/http_{response.status}"] += 1
                    continue
                if urlsplit(response.url).path == "/robots.txt":
                    counts["skipped/robots_txt"] += 1
                    continue
                counts["pages/fetched"] += 1
                try:
                    body = response.decoded_body()
                except Exception as exc:  # the crawl's HttpCompressionMiddleware fails on it too
                    counts["skipped/undecodable"] += 1
                    logger.debug("Cannot undo the content coding of %s: %s", response.url, exc)
                    continue
                profile = _profile(response)
                if profile.name not in sites:
                    site_model = (model or BoilerplateModel(site=profile.name)) if learning else None
                    sites[profile.name] = PageRecords(profile, site_model)
                page = FetchedPage(body, response.url, response.header("Content-Type"), response.date)
                yield from emit(sites[profile.name].add(page))
        except (ArchiveLoadFailed, OSError) as exc:
            message = f"{path}: {str(exc).strip()}"
            result.errors.append(message)
            logger.error("Cannot read %s", message)
    for pages in sites.values():
        yield from emit(pages.flush())


def reprocess(
    paths: Iterable[str | os.PathLike],
    output: str | os.PathLike,
    *,
    batch_size: int = 0,
    fsync: bool = False,
    learning: bool = True,
    model: BoilerplateModel | None = None,
) -> ReprocessResult:
    """Write the records of these WARC files to ``output`` (JSON Lines; ``.gz`` for gzip; with
    ``batch_size``, numbered files: ``%(batch_id)d`` in ``output``)."""
    result = ReprocessResult()
    with RecordWriter(output, batch_size=batch_size, fsync=fsync) as writer:
        for record in records_from_warcs(paths, result, learning=learning, model=model):
            writer.write(record)
    result.outputs = [str(p) for p in writer.paths]
    return result
