"""WACZ 1.1.1 packages of a crawl: ``archive-crawler wacz`` and, with ``WACZ_FILE``, at the end of a crawl.

A WACZ file (https://specs.webrecorder.net/wacz/1.1.1/) is a ZIP holding the crawl's WARC files
(``archive/``, stored as they are), their CDXJ index (``indexes/index.cdx.gz`` with its
``indexes/index.idx``), the list of the crawl's pages (``pages/pages.jsonl``) and
``datapackage.json`` (every file with its size and SHA-256; ``datapackage-digest.json`` holds the
hash of that). Replay tools (pywb, ReplayWeb.page) open it as an archive, with the pages as its
table of contents. The package is made by the ``wacz`` package (py-wacz, its ``wacz create`` run
in this process): the index, the ZIP and the data package are its own.

The pages are the crawl's **article pages**, i.e. its records, with their titles: the records of
``--records FILE`` (the crawl's output, JSON Lines, gzip or not), or, without it, the records the
crawl's own chain makes from the WARC files (as ``archive-crawler reprocess`` does). Each page is
tied to the capture it was read from: the 2xx response of the record's URL in the WARC files
(the one nearest the record's ``fetched_at`` if the URL was fetched more than once), whose
``WARC-Date`` is the page's ``ts``. A record whose page is not in the WARC files is left out (one
warning line says how many); a package without any page is refused, unless the pages come from a
crawl run that wrote no record (``WACZ_FILE`` on a re-crawl that found nothing new).

``pages/pages.jsonl``: a header line ``{"format": "json-pages-1.0", "id": "pages", "title":
"Article pages"}``, then one line per page: ``{"id", "url", "ts", "title"}`` (``id``: 32 hex digits
of the SHA-256 of ``ts`` and ``url``, so the same capture always gets the same id).

Bad input (a path that does not exist, a file that is not a WARC file, a folder without WARC
files, two WARC files of the same name, a records file that is not JSON Lines records, an output
that is no ``.wacz`` file name) raises ``WaczError`` with one line per problem; nothing is written.
The WACZ is written to a temporary file beside the output and renamed into place when complete.

``WaczPackager`` (extension, ``WACZ_FILE``) packages the WARC files the crawl run wrote (with
``WARC_DIR``) with the records it wrote when the spider closes.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import json
import logging
import os
import tempfile
import warnings
import zipfile
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from warcio.exceptions import ArchiveLoadFailed
from warcio.timeutils import datetime_to_iso_date

from crawler.warc import GZIP_MAGIC

__all__ = [
    "PAGES_HEADER",
    "WaczError",
    "WaczPackager",
    "WaczResult",
    "capture_dates",
    "package",
    "page_entries",
    "read_records",
    "wacz_output",
    "warc_inputs",
]

logger = logging.getLogger(__name__)

WACZ_SUFFIX = ".wacz"
WARC_SUFFIXES = (".warc.gz", ".warc")
PAGES_HEADER = {"format": "json-pages-1.0", "id": "pages", "title": "Article pages"}


class WaczError(Exception):
    """Why the package cannot be made: one line per problem (``problems``)."""

    def __init__(self, *problems: str):
        self.problems = [p for p in problems if p] or ["the WACZ file could not be made"]
        super().__init__("; ".join(self.problems))


@dataclass
class WaczResult:
    """What went into the package: its WARC files, its pages, the records whose page is not in the
    WARC files (``missing``, their URLs), and the revisit records whose earlier capture is not in
    them (``unresolved``: an earlier crawl's files hold it)."""

    output: Path
    warcs: list[Path]
    pages: list[dict]
    records: int = 0
    missing: list[str] = field(default_factory=list)
    bytes: int = 0
    unresolved: int = 0


# ---------------------------------------------------------------------------------------- inputs


def warc_inputs(paths: Iterable[str | os.PathLike]) -> list[Path]:
    """The WARC files named by ``paths``, in order; a folder stands for its ``*.warc.gz`` and
    ``*.warc`` files (not its sub-folders), sorted by name (a crawl's files sort in crawl order).
    Every path is checked first; ``WaczError`` lists every problem."""
    from crawler.reprocess import warc_problem

    problems: list[str] = []
    files: list[Path] = []
    for given in paths:
        path = Path(given)
        if not path.exists():
            problems.append(f"no such WARC file or folder: {given}")
        elif path.is_dir():
            found = sorted(p for p in path.iterdir() if p.is_file() and p.name.endswith(WARC_SUFFIXES))
            if not found:
                problems.append(f"no WARC files (*.warc.gz, *.warc) in the folder {given}")
            files += found
        else:
            files.append(path)
    seen: set[Path] = set()
    unique: list[Path] = []
    for path in files:
        if path.resolve() not in seen:
            seen.add(path.resolve())
            unique.append(path)
    for path in unique:
        problem = warc_problem(path)
        if problem and "(it holds JSON" in problem:
            problem = (f"not a WARC file: {path} (it holds JSON: give the WARC files the crawl wrote with "
                       "-s WARC_DIR=DIR, and its records with --records)")
        if problem:
            problems.append(problem)
    by_name: dict[str, Path] = {}
    for path in unique:
        if path.name in by_name:
            problems.append(f"two WARC files are named {path.name} ({by_name[path.name]}, {path}): "
                            "a WACZ keeps its WARC files by name")
        by_name.setdefault(path.name, path)
    if problems:
        raise WaczError(*problems)
    return unique


def wacz_output(path: str | os.PathLike) -> Path:
    """The output as a path, once it is known to be a ``.wacz`` file name in a folder that can be
    written (the folder is created); else ``WaczError``."""
    from crawler.extensions import unwritable_reason

    output = Path(path)
    if str(path).endswith(("/", os.sep)) or output.is_dir():
        raise WaczError(f"the output {path} is a folder, not a file: give a file name, e.g. -o {output / 'crawl.wacz'}")
    if not output.name.lower().endswith(WACZ_SUFFIX) or output.name.lower() == WACZ_SUFFIX:
        raise WaczError(f"the output must be a .wacz file name (replay tools go by it): {path}")
    problem = unwritable_reason(output)
    if problem:
        raise WaczError(problem)
    return output


def _open_text(path: Path):
    with open(path, "rb") as raw:
        gzipped = raw.read(2) == GZIP_MAGIC
    return gzip.open(path, "rt", encoding="utf-8") if gzipped else open(path, encoding="utf-8")


def _slim(record: Mapping) -> dict:
    """What a page needs of a record (a crawl's records hold their whole text)."""
    return {"url": record["url"], "title": record.get("title"), "fetched_at": record.get("fetched_at")}


def read_records(paths: Iterable[str | os.PathLike]) -> Iterator[dict]:
    """The records of JSON Lines files (the crawl's output; gzip or not), in order, each reduced to
    its ``url``, ``title`` and ``fetched_at``. A line that is not a JSON object with a ``url``
    raises ``WaczError`` naming the file and line."""
    for given in paths:
        path = Path(given)
        if not path.is_file():
            raise WaczError(f"no such records file: {given}" if not path.exists() else f"the records file {given} is a folder")
        try:
            with _open_text(path) as lines:
                for number, line in enumerate(lines, 1):
                    if not line.strip():
                        continue
                    try:
                        record = json.loads(line)
                    except ValueError:
                        raise WaczError(f"{given} line {number} is not JSON: --records takes the crawl's "
                                        "JSON Lines output (-O FILE.jsonl)") from None
                    if not isinstance(record, dict) or not isinstance(record.get("url"), str):
                        raise WaczError(f"{given} line {number} is not a crawl record (no \"url\")")
                    yield _slim(record)
        except (OSError, EOFError, zlib.error, UnicodeDecodeError) as exc:
            raise WaczError(f"cannot read the records file {given}: {getattr(exc, 'strerror', None) or exc}") from None


# ---------------------------------------------------------------------------------------- pages


def _moment(value) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def capture_dates(warcs: Sequence[Path], urls: set[str] | None = None) -> tuple[dict[str, list[datetime]], dict[str, str]]:
    """``{url: [WARC-Date of each 2xx response]}`` (only ``urls`` when given) and the first
    ``warcinfo`` fields of the files. A damaged file raises ``WaczError``."""
    from crawler.warc import read_responses

    dates: dict[str, list[datetime]] = {}
    info: dict[str, str] = {}
    for path in warcs:
        try:
            for response in read_responses(path):
                if not info and response.warcinfo:
                    info = dict(response.warcinfo)
                if 200 <= response.status < 300 and (urls is None or response.url in urls):
                    dates.setdefault(response.url, []).append(response.date)
        except (ArchiveLoadFailed, OSError, EOFError, zlib.error) as exc:
            raise WaczError(f"cannot read {path}: {str(exc).strip() or type(exc).__name__}") from None
    return dates, info


def unresolved_revisits(warcs: Sequence[Path]) -> int:
    """How many ``revisit`` records of these files refer (``WARC-Refers-To``) to a record that is not
    in them: a re-crawl's revisits of pages captured by an earlier run, whose payload is in that
    run's files. Replay shows those pages only with the earlier files in the package too."""
    from warcio.archiveiterator import ArchiveIterator

    ids: set[str] = set()
    refers: list[str] = []
    for path in warcs:
        try:
            with open(path, "rb") as stream:
                for record in ArchiveIterator(stream):
                    ids.add(record.rec_headers.get_header("WARC-Record-ID") or "")
                    if record.rec_type == "revisit":
                        refers.append(record.rec_headers.get_header("WARC-Refers-To") or "")
        except (ArchiveLoadFailed, OSError, EOFError, zlib.error) as exc:
            raise WaczError(f"cannot read {path}: {str(exc).strip() or type(exc).__name__}") from None
    return sum(1 for target in refers if target not in ids)


def page_id(url: str, ts: str) -> str:
    return hashlib.sha256(f"{ts} {url}".encode("utf-8", "surrogatepass")).hexdigest()[:32]


def page_entries(records: Iterable[Mapping], dates: Mapping[str, list[datetime]]) -> tuple[list[dict], list[str]]:
    """The pages.jsonl lines of ``records`` (one per URL, the last record of a URL wins) and the
    URLs of the records whose page has no 2xx capture in ``dates``."""
    latest: dict[str, Mapping] = {}
    for record in records:
        latest[record["url"]] = record
    pages, missing = [], []
    for url, record in latest.items():
        captured = dates.get(url)
        if not captured:
            missing.append(url)
            continue
        fetched = _moment(record.get("fetched_at"))
        when = min(captured, key=lambda d: abs((d - fetched).total_seconds())) if fetched else captured[-1]
        ts = datetime_to_iso_date(when.astimezone(timezone.utc).replace(tzinfo=None), use_micros=True)
        title = record.get("title") if isinstance(record.get("title"), str) and record.get("title") else url
        pages.append({"id": page_id(url, ts), "url": url, "ts": ts, "title": title})
    return pages, missing


def write_pages(path: Path, pages: Iterable[dict]) -> None:
    with open(path, "w", encoding="utf-8", newline="\n") as out:
        out.write(json.dumps(PAGES_HEADER, ensure_ascii=False) + "\n")
        for page in pages:
            out.write(json.dumps(page, ensure_ascii=False) + "\n")


# ---------------------------------------------------------------------------------------- package


def _default_title(info: Mapping[str, str]) -> str:
    crawl = info.get("isPartOf") or info.get("spider") or "archive-crawler"
    start = info.get("start-url")
    return f"{crawl} crawl of {start}" if start else f"{crawl} crawl"


def _default_description(info: Mapping[str, str]) -> str:
    software = info.get("software") or "archive-crawler"
    return (f"WARC captures made by {software}; pages/pages.jsonl lists the crawl's article pages "
            "(its records) with their titles")


def _run_wacz_create(arguments: list[str]) -> tuple[int, str]:
    """``wacz create ARGUMENTS`` in this process: its exit status and what it printed."""
    warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)
    from wacz.main import main as wacz_main

    said = io.StringIO()
    with contextlib.redirect_stdout(said):
        try:
            status = wacz_main(["create", *arguments])
        except SystemExit as exc:  # its argument parser
            status = exc.code if isinstance(exc.code, int) else 1
    return int(status or 0), said.getvalue()


def _check_package(path: Path, warcs: Sequence[Path], pages: int) -> None:
    """What replay needs is in the file wacz wrote: every WARC file, the index, the pages, the package."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            listed = sum(1 for line in archive.read("pages/pages.jsonl").splitlines() if line.strip()) - 1 \
                if "pages/pages.jsonl" in names else -1
    except (OSError, zipfile.BadZipFile, KeyError) as exc:
        raise WaczError(f"wacz wrote no readable package: {exc}") from None
    wanted = {"datapackage.json", "datapackage-digest.json", "pages/pages.jsonl", "indexes/index.cdx.gz"}
    wanted |= {f"archive/{w.name}" for w in warcs}
    absent = sorted(wanted - names)
    if absent:
        raise WaczError(f"the package wacz wrote lacks {', '.join(absent)}")
    if listed != pages:
        raise WaczError(f"the package lists {listed} pages instead of {pages}")


def _records_from_warcs(warcs: Sequence[Path], workers: int) -> list[dict]:
    """The records ``reprocess`` makes of these WARC files (through a temporary file: a crawl's
    records are large), reduced to what the pages need."""
    from crawler.reprocess import reprocess

    with tempfile.TemporaryDirectory(prefix="wacz-records-") as scratch:
        made = Path(scratch) / "records.jsonl.gz"
        result = reprocess(warcs, made, workers=workers)
        if result.errors:
            raise WaczError(*result.errors)
        return list(read_records([made]))


def package(
    warcs: Sequence[str | os.PathLike],
    output: str | os.PathLike,
    records: Iterable[Mapping] | None = None,
    *,
    title: str | None = None,
    description: str | None = None,
    workers: int = 0,
    allow_no_pages: bool = False,
) -> WaczResult:
    """Write the WACZ of these WARC files (checked with ``warc_inputs``) to ``output``, listing the
    pages of ``records`` (default: the records the crawl's chain makes from the WARC files, on
    ``workers`` processes, as ``reprocess`` makes them). ``WaczError`` when it cannot."""
    warc_paths = [Path(w) for w in warcs]
    output = Path(output)
    if records is None:
        records = _records_from_warcs(warc_paths, workers)
    records = [_slim(record) for record in records]
    dates, info = capture_dates(warc_paths, {r["url"] for r in records})
    unresolved = unresolved_revisits(warc_paths)
    pages, missing = page_entries(records, dates)
    if not pages and not allow_no_pages:
        if records:
            raise WaczError(f"none of the {len(records)} records has its page in these WARC files "
                            f"(e.g. {records[0]['url']}): give the WARC files of the crawl that wrote them")
        raise WaczError("no record to list as a page: the WARC files hold no article page")
    with tempfile.TemporaryDirectory(prefix="wacz-") as scratch:
        pages_file = Path(scratch) / "pages.jsonl"
        write_pages(pages_file, pages)
        partial = output.with_name(f".{output.name}.{os.getpid()}.partial")
        arguments = [
            "-o", str(partial),
            "--pages", str(pages_file), "--copy-pages",  # our pages, as they are (each checked above)
            "--hash-type", "sha256",
            "--title", title or _default_title(info),
            "--desc", description or _default_description(info),
            *map(str, warc_paths),
        ]
        try:
            try:
                status, said = _run_wacz_create(arguments)
            except WaczError:
                raise
            except Exception as exc:  # wacz failed on something it read or wrote
                raise WaczError(f"wacz could not package the WARC files: {type(exc).__name__}: {exc}") from None
            if status != 0:
                last = [line for line in said.splitlines() if line.strip()]
                raise WaczError(f"wacz could not package the WARC files: {last[-1] if last else f'exit status {status}'}")
            logger.debug("wacz create said:\n%s", said)
            _check_package(partial, warc_paths, len(pages))
            try:
                os.replace(partial, output)
            except OSError as exc:
                raise WaczError(f"cannot write {output}: {exc.strerror or exc}") from None
        finally:
            with contextlib.suppress(FileNotFoundError):
                partial.unlink()
    return WaczResult(output=output, warcs=warc_paths, pages=pages, records=len(records), missing=missing,
                      bytes=output.stat().st_size, unresolved=unresolved)


# ---------------------------------------------------------------------------------------- extension


def _feed_time(moment: datetime) -> str:
    """``%(time)s`` as Scrapy's feed URIs spell it."""
    return moment.replace(microsecond=0, tzinfo=None).isoformat().replace(":", "-")


class WaczPackager:
    """``WACZ_FILE``: when the spider closes, package the WARC files this run wrote (``WARC_DIR``)
    with this run's records into that file (``%(name)s``: the spider's name, ``%(time)s``: when the
    crawl started, as in ``FEEDS``).

    Set without ``WARC_DIR``, or naming a file that cannot be written (not ``.wacz``, a folder, a
    folder that cannot be written), it is an output that cannot be written: when the spider opens,
    one line (``Cannot write the WACZ file, closing the spider: ...``) and the crawl stops at once
    and fails as ``CrawlOutcome`` fails a crawl whose feed cannot be written (finish reason
    ``output_unwritable``, ``Crawl failed: the output could not be written: ...``, exit status 1).

    The packaging runs in a thread once every ``spider_closed`` handler has been called (so the WARC
    capture has closed its files). Stats: ``wacz/file``, ``wacz/pages``, ``wacz/warc_files``,
    ``wacz/bytes``, ``wacz/unresolved_revisits`` (revisits of earlier runs' captures, said in a
    warning: the package holds only this run's files); on failure ``wacz/failed_reason``: the failure is logged in one line (``Cannot
    write the WACZ file PATH: ...``) and, unless the crawl failed already, becomes its
    ``archive/failed_reason``, so that ``scrapy crawl`` exits 1. The crawl's outcome (and its report)
    may be decided before the packaging ends: the report does not say how the packaging went."""

    def __init__(self, crawler, path: Path | None, problem: str | None = None):
        self.crawler = crawler
        self.stats = crawler.stats
        self.path = path
        self.problem = problem
        self.records = tempfile.TemporaryFile("w+", encoding="utf-8")
        self.count = 0

    @classmethod
    def from_crawler(cls, crawler) -> WaczPackager:
        from scrapy import signals
        from scrapy.exceptions import NotConfigured

        settings = crawler.settings
        template = (settings.get("WACZ_FILE") or "").strip()
        if not template:
            raise NotConfigured("WACZ_FILE is empty: no WACZ at the end of the crawl")
        path = problem = None
        name = getattr(crawler.spidercls, "name", None) or "crawl"
        try:
            path = wacz_output(template % {"name": name, "time": _feed_time(datetime.now(timezone.utc))})
        except (KeyError, ValueError, TypeError) as exc:
            problem = f"WACZ_FILE={template}: only %(name)s and %(time)s may be filled in ({exc})"
        except WaczError as exc:
            problem = f"WACZ_FILE={template}: {exc}"
        if not problem and not (settings.get("WARC_DIR") or "").strip():
            problem = f"WACZ_FILE={template} needs WARC capture: set WARC_DIR too (e.g. -s WARC_DIR=out/warc)"
        extension = cls(crawler, path, problem)
        crawler.signals.connect(extension.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(extension.item_scraped, signal=signals.item_scraped)
        crawler.signals.connect(extension.spider_closed, signal=signals.spider_closed)
        return extension

    def spider_opened(self, spider) -> None:
        if not self.problem:
            return
        from scrapy.exceptions import CloseSpider

        from crawler.extensions import OUTPUT_UNWRITABLE, CrawlOutcome

        # As CrawlOutcome does for a feed it cannot write: the crawl fails with this reason.
        outcome = next((e for e in self.crawler.extensions.middlewares if isinstance(e, CrawlOutcome)), None)
        if outcome is not None:
            outcome.unwritable[f"WACZ_FILE={self.crawler.settings.get('WACZ_FILE')}"] = self.problem
        self.stats.set_value("wacz/failed_reason", self.problem)
        logger.error("Cannot write the WACZ file, closing the spider: %s", self.problem)
        raise CloseSpider(OUTPUT_UNWRITABLE)

    def item_scraped(self, item, spider) -> None:
        from itemadapter import ItemAdapter

        record = ItemAdapter(item)
        url = record.get("url")
        if isinstance(url, str):
            line = {"url": url, "title": record.get("title"), "fetched_at": record.get("fetched_at")}
            self.records.write(json.dumps(line, ensure_ascii=False, default=str) + "\n")
            self.count += 1

    def _warc_files(self) -> list[Path]:
        from crawler.capture import WarcCaptureMiddleware

        engine = getattr(self.crawler, "engine", None)
        manager = getattr(getattr(engine, "downloader", None), "middleware", None)
        for middleware in getattr(manager, "middlewares", ()):
            if isinstance(middleware, WarcCaptureMiddleware) and middleware.writer is not None:
                return [Path(p) for p in middleware.writer.files if Path(p).is_file()]
        return []

    def _records(self) -> Iterator[dict]:
        self.records.flush()
        self.records.seek(0)
        for line in self.records:
            yield json.loads(line)

    def _package(self, warcs: list[Path]) -> WaczResult:
        return package(warcs, self.path, self._records(), allow_no_pages=True)

    async def spider_closed(self, spider, reason: str) -> None:
        from scrapy.utils.defer import maybe_deferred_to_future
        from twisted.internet import reactor
        from twisted.internet.task import deferLater
        from twisted.internet.threads import deferToThread

        from crawler.extensions import FAILED_KEY

        if self.problem:  # said when the spider opened
            self.records.close()
            return
        # Every spider_closed handler is called before this goes on: the WARC files are closed.
        await maybe_deferred_to_future(deferLater(reactor, 0, lambda: None))
        try:
            warcs = self._warc_files()
            if not warcs:
                raise WaczError("the crawl wrote no WARC file (is the WARC capture on?)")
            result = await maybe_deferred_to_future(deferToThread(self._package, warcs))
        except Exception as exc:  # noqa: BLE001 - said in one line; the crawl exits 1
            why = str(exc) if isinstance(exc, WaczError) else f"{type(exc).__name__}: {exc}"
            logger.error("Cannot write the WACZ file %s: %s", self.path, why)
            logger.debug("Where the packaging stopped:", exc_info=True)
            self.stats.set_value("wacz/failed_reason", why)
            if not self.stats.get_value(FAILED_KEY):
                self.stats.set_value(FAILED_KEY, f"the WACZ file {self.path} could not be written: {why}")
            return
        finally:
            self.records.close()
        self.stats.set_value("wacz/file", str(result.output))
        self.stats.set_value("wacz/pages", len(result.pages))
        self.stats.set_value("wacz/warc_files", len(result.warcs))
        self.stats.set_value("wacz/bytes", result.bytes)
        if result.missing:
            logger.warning("WACZ: %d record(s) have no page in this run's WARC files (e.g. %s): not listed",
                           len(result.missing), result.missing[0])
        if not result.pages:
            logger.warning("WACZ: this run wrote no record: pages/pages.jsonl lists no page")
        self.stats.set_value("wacz/unresolved_revisits", result.unresolved)
        if result.unresolved:
            logger.warning("WACZ: %d revisit record(s) of this run refer to earlier runs' captures, not in the "
                           "package: those pages replay with the earlier WARC files only "
                           "(archive-crawler wacz WARC_DIR packages every run)", result.unresolved)
        logger.info("WACZ: %s (%d WARC file(s), %d pages, %d bytes)", result.output, len(result.warcs),
                    len(result.pages), result.bytes)
