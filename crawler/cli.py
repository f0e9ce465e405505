"""`archive-crawler`: the record chain on saved pages, WARC captures and lines of text, without Scrapy.

    archive-crawler extract --url URL FILE.html [--url URL FILE.html ...] [--model FILE]
    archive-crawler datelines < lines.txt
    archive-crawler reprocess WARC [WARC ...] -o OUT.jsonl[.gz] [--batch-size N] [--state DIR]
                              [--workers N | --scheduler tcp://HOST:PORT [--scheduler-timeout S] [--slice-size N]]
    archive-crawler wacz WARC [WARC ...] -o OUT.wacz [--records FILE ...] [--title T] [--description D] [--workers N]
    archive-crawler export IN.jsonl[.gz] [IN ...] -o OUT.parquet [--skip-invalid]
    archive-crawler schedule run [--config crawls.toml] [--now ISO-DATETIME] [-v]
    archive-crawler schedule list [--config crawls.toml] [--now ISO-DATETIME] [--json]
    archive-crawler schedule check [--config crawls.toml]
    archive-crawler schedule cancel NAME [--config crawls.toml]

Bad input gets one line on stderr (``archive-crawler: ...``) and a non-zero exit status, never a
traceback. JSON goes to stdout as UTF-8 whatever the locale.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

__all__ = ["main"]


def _print_json(obj: dict) -> None:
    """One JSON line on stdout, in UTF-8 whatever the locale's encoding (records are UTF-8)."""
    line = json.dumps(obj, ensure_ascii=False) + "\n"
    buffer = getattr(sys.stdout, "buffer", None)
    if buffer is None:  # a text stream without bytes underneath (tests, redirect_stdout)
        sys.stdout.write(line)
        sys.stdout.flush()
        return
    sys.stdout.flush()
    buffer.write(line.encode("utf-8", errors="surrogatepass"))
    buffer.flush()


def _error(message: str) -> None:
    print(f"archive-crawler: {message}", file=sys.stderr, flush=True)


def page_url_problem(url: str) -> str | None:
    """Why ``url`` cannot be a record's URL (the schema wants an http(s) URL with a host), else None."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        host, _port = parts.hostname, parts.port
    except ValueError as exc:
        return f"not a URL: {url!r} ({exc})"
    if parts.scheme not in ("http", "https") or not host:
        return f"not an http(s) URL with a host: {url!r} (e.g. https://www.derechos.org/nizkor/doc/page.html)"
    if not url.startswith(("http://", "https://")):
        return f"write the scheme in lower case (http:// or https://): {url!r}"
    if any(char.isspace() for char in url):
        return f"a URL may not contain spaces: {url!r}"
    return None


def cmd_extract(args: argparse.Namespace) -> int:
    import asyncio
    from collections import Counter

    from pipelines.profiles import profile_for_url

    from .chain import RecordRun
    from .workers import PageJob, RecordPool

    bad = [problem for problem in (page_url_problem(url) for url, _path in args.url) if problem]
    if bad:
        for problem in bad:
            _error(f"--url {problem}")
        return 2
    model = None
    if args.model:
        from pipelines.boilerplate import BoilerplateModel

        try:
            model = BoilerplateModel.load(Path(args.model))
        except (OSError, ValueError, KeyError) as exc:
            print(f"archive-crawler: cannot read the boilerplate model {args.model}: {exc}", file=sys.stderr)
            return 2

    import logging

    from pipelines.validation import record_errors

    # A page without a record is said once, below, with its reason (not also by the chain's logger).
    logging.getLogger("crawler.chain").setLevel(logging.ERROR)

    async def extract_all() -> int:
        # The crawl's chain, in this process (one page needs no worker): a model is applied, not trained.
        pool = RecordPool(0)
        run = RecordRun(pool, Counter(), learning=model is not None, model=model, observe=False)
        status = 0
        try:
            for url, path in args.url:
                try:
                    body = Path(path).read_bytes()
                except OSError as exc:
                    print(f"archive-crawler: cannot read {path}: {exc.strerror}", file=sys.stderr)
                    status = 1
                    continue
                profile = profile_for_url(url)
                for built in await run.page(PageJob(body, url, None, profile.name, follow=False), profile):
                    errors = record_errors(built.record) if built.record is not None else []
                    if built.record is None or errors:
                        reason, detail = (built.reason, built.detail) if not errors else ("invalid_record", "; ".join(errors))
                        why = f"{reason}: {detail}" if detail else reason
                        print(f"archive-crawler: no record for {path} ({url}): {why}", file=sys.stderr)
                        status = 1
                        continue
                    _print_json(built.record)
                    run.written(built.record)
        finally:
            run.close()
            pool.close()
        return status

    return asyncio.run(extract_all())


# Bytes of a line that are no text: C0 controls but tab, LF and CR (FF and VT: spaces), and DEL.
_CONTROL_BYTES = bytes([*range(0, 9), 14, *range(15, 32), 127])
_SPACE_BYTES = bytes.maketrans(b"\x0b\x0c", b"  ")


def decode_line(raw: bytes) -> str:
    """One line of bytes as text, read as the crawl reads pages (``pipelines/encoding.py``): UTF-8
    when the bytes are UTF-8, else the cp1252 (Latin-1) a legacy archive's text is in; normalised."""
    from pipelines.encoding import PageSkipped, decode_html, normalise_text

    raw = raw.translate(_SPACE_BYTES, _CONTROL_BYTES)  # as normalisation would; not "binary" then
    try:
        return normalise_text(decode_html(raw).text)
    except PageSkipped:  # nothing but spaces
        return ""


def _stdin_lines():
    """The lines of stdin as text: a UTF-16/32 byte-order mark decides the encoding of the whole
    input; otherwise each line is decoded on its own (``decode_line``), so mixed files read right."""
    import codecs
    import io

    if sys.stdin is None:  # no stdin at all (closed): no lines
        return
    stream = getattr(sys.stdin, "buffer", None)
    if stream is None:  # already text (tests)
        yield from sys.stdin
        return
    head = stream.peek(4)[:4] if hasattr(stream, "peek") else b""
    for bom, encoding in ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
                          (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")):
        if head.startswith(bom):
            for line in io.TextIOWrapper(stream, encoding=encoding, errors="replace", newline=""):
                yield decode_line(line.encode("utf-8", errors="replace"))
            return
    for raw in stream:
        yield decode_line(raw)


def cmd_datelines(args: argparse.Namespace) -> int:
    from pipelines.dates import parse_line

    for line in _stdin_lines():
        _print_json(parse_line(line.rstrip("\r\n")))
    return 0


def cmd_reprocess(args: argparse.Namespace) -> int:
    import logging

    from .cluster import ClusterError
    from .reprocess import reprocess, state_file, warc_problem

    logging.basicConfig(level=logging.WARNING, format="archive-crawler: %(message)s")
    if args.scheduler is not None and args.workers is not None:
        _error("--workers is for a local run; with --scheduler the dask workers do the work")
        return 2
    missing = [path for path in args.warc if not Path(path).exists()]
    if missing:
        print(f"archive-crawler: no such WARC file: {', '.join(missing)}", file=sys.stderr)
        return 2
    # Every file is looked at before the output is replaced: one line per file that is no WARC file.
    problems = [problem for problem in map(warc_problem, args.warc) if problem]
    if problems:
        for problem in problems:
            _error(problem)
        return 2
    try:
        model = None
        if args.model:
            from pipelines.boilerplate import BoilerplateModel

            model = BoilerplateModel.load(Path(args.model))
        if args.state is not None and not state_file(args.state).is_file():
            print(f"archive-crawler: no crawl state in {args.state} (a CRAWL_STATE folder holds state.sqlite3)",
                  file=sys.stderr)
            return 2
        result = reprocess(args.warc, args.output, batch_size=args.batch_size, fsync=args.fsync,
                           learning=not args.no_learning, model=model, state=args.state, workers=args.workers,
                           scheduler=args.scheduler, scheduler_timeout=args.scheduler_timeout,
                           slice_size=args.slice_size)
    except ClusterError as exc:
        _error(str(exc))
        return exc.status
    except (ValueError, KeyError, OSError) as exc:
        print(f"archive-crawler: {exc}", file=sys.stderr)
        return 2
    counts = result.counts
    skipped = ", ".join(f"{k.split('/', 1)[1]} {v}" for k, v in sorted(counts.items()) if k.startswith("skipped/"))
    print(
        f"archive-crawler: {counts['responses']} responses, {counts['pages/fetched']} pages read, "
        f"{counts['records']} records written to {', '.join(result.outputs)}"
        + (f"; skipped: {skipped}" if skipped else ""),
        file=sys.stderr,
    )
    if not counts["responses"] and not result.errors:
        _error(f"no HTTP response in {', '.join(map(str, args.warc))}: nothing to reprocess")
        return 1
    return 1 if result.errors else 0


def cmd_wacz(args: argparse.Namespace) -> int:
    import logging

    from .reprocess import cpu_count
    from .wacz import WaczError, package, read_records, wacz_output, warc_inputs

    logging.basicConfig(level=logging.WARNING, format="archive-crawler: %(message)s")
    # A file the record engine cannot read is said once, below, by the error it raises.
    logging.getLogger("crawler.reprocess").addFilter(lambda record: record.levelno < logging.ERROR)
    # Every input and the output are checked before anything is read or written (exit status 2).
    problems: list[str] = []
    warcs = output = None
    try:
        warcs = warc_inputs(args.warc)
    except WaczError as exc:
        problems += exc.problems
    try:
        output = wacz_output(args.output)
    except WaczError as exc:
        problems += exc.problems
    records = None
    if not problems and args.records:
        try:
            records = list(read_records(args.records))
        except WaczError as exc:
            problems += exc.problems
    if problems:
        for problem in problems:
            _error(problem)
        return 2
    try:
        result = package(warcs, output, records, title=args.title, description=args.description,
                         workers=cpu_count() if args.workers is None else args.workers)
    except WaczError as exc:
        for problem in exc.problems:
            _error(problem)
        return 1
    except OSError as exc:
        _error(f"cannot write {args.output}: {exc.strerror or exc}")
        return 1
    if result.missing:
        _error(f"{len(result.missing)} of {result.records} records have no page in these WARC files, "
               f"left out of pages/pages.jsonl (e.g. {result.missing[0]})")
    if result.unresolved:
        _error(f"{result.unresolved} revisit record(s) refer to captures that are not in these WARC files "
               "(an earlier crawl's): give those files too, or those pages will not replay")
    print(f"archive-crawler: {result.output}: {len(result.warcs)} WARC file(s), {len(result.pages)} pages, "
          f"{result.bytes} bytes", file=sys.stderr)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from .export import ExportError, export

    try:
        result = export(args.input, args.output, skip_invalid=args.skip_invalid)
    except ExportError as exc:
        _error(str(exc))
        return 2
    skipped = f"; skipped {result.skipped} invalid line(s), the first {result.first_skip}" if result.skipped else ""
    print(f"archive-crawler: {result.records} records from {len(result.files)} file(s) written to "
          f"{result.output}{skipped}", file=sys.stderr)
    return 0


def _say(message: str) -> None:
    print(message, flush=True)


def _load_schedule(config: str):
    """The crawls and Scrapyd nodes of the config, or None when it has problems (each said in one line)."""
    from .schedule import ConfigError, load_schedule

    try:
        return load_schedule(config)
    except ConfigError as exc:
        for problem in exc.problems:
            _error(problem)
        return None


def cmd_schedule_check(args: argparse.Namespace) -> int:
    schedule = _load_schedule(args.config)
    if schedule is None:
        return 2
    nodes = f", {len(schedule.cluster.nodes)} Scrapyd node(s)" if schedule.cluster is not None else ""
    print(f"archive-crawler: {args.config}: {len(schedule.crawls)} crawl(s){nodes}, no problems found", file=sys.stderr)
    return 0


def cmd_schedule_run(args: argparse.Namespace) -> int:
    from .schedule import Clock, run_due

    schedule = _load_schedule(args.config)
    if schedule is None:
        return 2
    if schedule.cluster is not None:
        from . import nodes

        return 1 if nodes.run_due(schedule, Clock(args.now), say=_say, verbose=args.verbose).failed else 0
    outcomes = run_due(schedule.crawls, Clock(args.now), say=_say, verbose=args.verbose)
    return 1 if any(outcome.failed for outcome in outcomes) else 0


def cmd_schedule_list(args: argparse.Namespace) -> int:
    from .schedule import Clock, status

    schedule = _load_schedule(args.config)
    if schedule is None:
        return 2
    now = Clock(args.now)()
    on_nodes = schedule.cluster is not None
    if on_nodes:
        from . import nodes

        rows, down = nodes.list_rows(schedule, now)
        for line in down:
            _error(line)
    else:
        rows = [status(crawl, now) for crawl in schedule.crawls]
    if args.json:
        for row in rows:
            _print_json(row)
        return 0

    def last_run(row: dict) -> str:
        run = row["last_run"]
        if run is None:
            return "never"
        if run.get("cancelled"):
            return f"{run['started']} cancelled"
        if run.get("ended") is not None:
            return f"{run['started']} exit {run.get('exit_status')}"
        if on_nodes:
            return f"{run['started']} on node"
        return f"{run['started']} {'running' if row['running'] else 'interrupted'}"

    header = ("CRAWL", "SCHEDULE", "NEXT SLOT (UTC)", "LAST RUN", "DUE")
    table = [(*header, "NODE", "JOB", "STATUS", "WHY") if on_nodes else (*header, "WHY")]
    for row in rows:
        due = "running" if row["running"] else "yes" if row["due"] else "no"
        cells = (row["name"], row["schedule"], row["next_slot"], last_run(row), due)
        if on_nodes:
            cells += (row["node"] or "-", row["job"] or "-", row["job_status"] or "-")
        table.append((*cells, row["reason"]))
    widths = [max(len(line[i]) for line in table) for i in range(len(table[0]) - 1)]
    for line in table:
        print("  ".join(cell.ljust(width) for cell, width in zip(line, widths)) + "  " + line[-1])
    return 0


def cmd_schedule_cancel(args: argparse.Namespace) -> int:
    from .schedule import Clock, ConfigError

    schedule = _load_schedule(args.config)
    if schedule is None:
        return 2
    if schedule.cluster is None:
        _error(f"{args.config} names no Scrapyd node: a crawl run here stops with SIGTERM to its schedule run")
        return 2
    from . import nodes

    try:
        return nodes.cancel(schedule, args.name, Clock(), say=_say)
    except ConfigError as exc:
        _error(str(exc))
        return 2


def _moment(value: str):
    from .schedule import parse_time

    try:
        return parse_time(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO date-time: {value!r} (e.g. 2026-11-23T03:00:00Z)") from None


def _batch_size(value: str) -> int:
    size = int(value)
    if size <= 0:
        raise argparse.ArgumentTypeError("must be a positive number of records")
    return size


def _positive(kind: type, unit: str):
    def parse(value: str):
        try:
            number = kind(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number of {unit}: {value!r}") from None
        if not number > 0:
            raise argparse.ArgumentTypeError(f"must be a positive number of {unit}")
        return number

    return parse


def _workers(value: str) -> int:
    try:
        workers = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of processes: {value!r}") from None
    if workers < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return workers


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="archive-crawler", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    extract = commands.add_parser(
        "extract",
        help="print the record of each saved page as a JSON line",
        description="Run the crawl's extraction on saved pages (raw bytes, no HTTP headers). "
        "The URL's host picks the site profile.",
    )
    extract.add_argument(
        "--url",
        nargs=2,
        action="append",
        required=True,
        metavar=("URL", "FILE"),
        help="the page's URL and the file holding its bytes; repeat for more pages",
    )
    extract.add_argument(
        "--model",
        metavar="FILE",
        help="a site's learned boilerplate model (boilerplate-SITE.json in a crawl's CRAWL_STATE folder)",
    )
    extract.set_defaults(func=cmd_extract)

    datelines = commands.add_parser(
        "datelines",
        help="parse the dateline or source line opening each stdin line",
        description='Prints {"place", "date", "agency", "raw"} per input line; all null when the line has none.',
    )
    datelines.set_defaults(func=cmd_datelines)

    reprocess = commands.add_parser(
        "reprocess",
        help="re-make the records of a crawl from its WARC files, without the network",
        description="Runs the crawl's record chain (HTML check, extraction with the site profile named "
        "in each file's warcinfo record, schema validation, revision, de-duplication by canonical URL and "
        "text hash) over the 2xx responses captured in WARC files, on every core. Records equal the crawl's "
        "except fetched_at, which is the capture's WARC-Date, and their order. "
        "Exit status 1 when a file could not be read to the end.",
    )
    reprocess.add_argument("warc", nargs="+", metavar="WARC", help="WARC files (.warc.gz or .warc), in crawl order")
    reprocess.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="OUT",
        help="JSON Lines file to write (replaced if it exists); a name ending in .gz is gzip-compressed; "
        "with --batch-size it must contain %%(batch_id)d, e.g. out/records-%%(batch_id)05d.jsonl.gz",
    )
    reprocess.add_argument(
        "--batch-size", type=_batch_size, default=0, metavar="N", help="start a new numbered file every N records"
    )
    reprocess.add_argument("--fsync", action="store_true", help="fsync after every record (as FEED_FSYNC)")
    reprocess.add_argument(
        "--no-learning", action="store_true", help="do not learn boilerplate (as the crawl's BOILERPLATE_LEARNING=False)"
    )
    reprocess.add_argument(
        "--model", metavar="FILE", help="start learning from this boilerplate model (the one the crawl started from)"
    )
    reprocess.add_argument(
        "--state", metavar="DIR",
        help="the crawl's CRAWL_STATE folder (only read): records get the revisions the crawl gave them",
    )
    reprocess.add_argument(
        "--workers", type=_workers, metavar="N", help="worker processes (default: one per core; 0: this process)"
    )
    reprocess.add_argument(
        "--scheduler", metavar="tcp://HOST:PORT",
        help="run on this dask.distributed scheduler's workers instead (the same records; the WARC files at the "
        "same paths on every worker); the output is then numbered parts: OUT with %%(batch_id)d, else "
        "OUT-00001.jsonl... (README, 'Re-extraction on a Dask cluster')",
    )
    reprocess.add_argument(
        "--scheduler-timeout", type=_positive(float, "seconds"), metavar="S",
        help="seconds to wait for the scheduler to answer, for a first worker, and without any worker "
        "mid-run (default 30)",
    )
    reprocess.add_argument(
        "--slice-size", type=_positive(int, "responses"), metavar="N",
        help="with --scheduler: response records per dask task (default 100)",
    )
    reprocess.set_defaults(func=cmd_reprocess)

    wacz = commands.add_parser(
        "wacz",
        help="package a crawl's WARC files as a WACZ file (index, article pages, datapackage)",
        description="Writes a WACZ 1.1.1 file (https://specs.webrecorder.net/wacz/1.1.1/) with the wacz "
        "package: the WARC files (archive/), their CDXJ index (indexes/), pages/pages.jsonl listing the "
        "crawl's article pages (its records) with their titles, and datapackage.json. Replay it with pywb "
        "or ReplayWeb.page; check it with `wacz validate -f OUT.wacz`. Exit status 2 for bad input, 1 when "
        "the package could not be made.",
    )
    wacz.add_argument("warc", nargs="+", metavar="WARC",
                      help="WARC files (.warc.gz or .warc), or folders standing for the WARC files in them")
    wacz.add_argument("-o", "--output", required=True, metavar="OUT.wacz",
                      help="the WACZ file to write (replaced if it exists)")
    wacz.add_argument(
        "--records", action="append", metavar="FILE",
        help="the crawl's records (its -O output, JSON Lines, .gz allowed; repeat for batch files): the pages "
        "to list; without it the records are made again from the WARC files, as reprocess makes them",
    )
    wacz.add_argument("--title", help="the package's title (default: SPIDER crawl of START-URL, from the warcinfo)")
    wacz.add_argument("--description", help="the package's description")
    wacz.add_argument(
        "--workers", type=_workers, metavar="N",
        help="without --records: worker processes making the records (default: one per core; 0: this process)",
    )
    wacz.set_defaults(func=cmd_wacz)

    export = commands.add_parser(
        "export",
        help="write records from JSON Lines files to one Parquet file, with declared column types",
        description="Reads JSON Lines records (plain or gzip, e.g. a crawl's batch files), checks each against "
        "the record schema and writes them, in order, to a Parquet file whose column types come from "
        "schema/record-v1.json: dates as text at their precision plus <date>_start (DATE) and "
        "<date>_precision (year, month, day), source and dateline as structs, revision as an integer. "
        "Written to a temporary file and renamed: on any error OUT is left as it was. Exit status 2 for "
        "bad input (a missing file, a line that is not JSON or not a valid record: one line naming FILE:LINE).",
    )
    export.add_argument(
        "input", nargs="+", metavar="IN",
        help="JSON Lines files (.jsonl, .jsonl.gz); a folder stands for its *.jsonl[.gz] files, a quoted glob "
        "for the files it matches (both in natural order: records-2 before records-10)",
    )
    export.add_argument("-o", "--output", required=True, metavar="OUT", help="the Parquet file to write (replaced)")
    export.add_argument(
        "--skip-invalid", action="store_true",
        help="skip lines that are not valid records (counted, the first named) instead of failing",
    )
    export.set_defaults(func=cmd_export)

    schedule = commands.add_parser(
        "schedule",
        help="run the recurring crawls of crawls.toml that are due; list them",
        description="Recurring crawls named in crawls.toml (cron schedules, UTC). See the README, "
        "'Scheduled crawls and scrapyd'.",
    )
    schedule_commands = schedule.add_subparsers(dest="schedule_command", required=True)
    run = schedule_commands.add_parser(
        "run",
        help="start the crawls that are due, one after another (call it every minute from cron or a systemd timer)",
        description="Starts each crawl whose latest cron slot at or before now is later than the start of its "
        "last run (a crawl never run is due at once; missed slots give one run). A crawl whose lock is held by "
        "another run is skipped. With [[node]] tables in crawls.toml the crawls go to Scrapyd nodes instead, one "
        "node per site, without waiting: the egg is deployed where it is missing, jobs that ended are copied back, "
        "a node that is down is said in one line and its crawls wait. Exit status: 0, 1 when a crawl that ran "
        "exited non-zero (or a node is down, or a job could not be sent), 2 for a bad config "
        "(checked whole first, as schedule check does: nothing runs then).",
    )
    listing = schedule_commands.add_parser(
        "list", help="each crawl, its next slot, its last run and whether it is due now (with nodes: node, job, status)"
    )
    check = schedule_commands.add_parser(
        "check",
        help="check crawls.toml as run would, without running anything",
        description="Checks every crawl of crawls.toml: its keys, cron schedule and settings, and what would keep "
        "it from starting at its slot (a spider the project does not have, a start_url the spider refuses, a real "
        "site without CONTACT_URL). One line per problem; exit status 0 when there is none, else 2. "
        "schedule run and schedule list make the same checks first.",
    )
    cancel = schedule_commands.add_parser(
        "cancel",
        help="stop a crawl's job on its Scrapyd node (cancel.json); it is not resumed",
        description="Cancels the job of the crawl on its Scrapyd node: a pending job is taken off the node's queue, "
        "a running one stopped gracefully (SIGINT); the next schedule run copies what it wrote. The crawl waits for "
        "its next slot. Exit status 0; 1 when it has no job to stop or the node does not answer; 2 for a bad config.",
    )
    cancel.add_argument("name", metavar="NAME", help="the crawl's name in crawls.toml")
    cancel.set_defaults(func=cmd_schedule_cancel)
    for sub in (run, listing, check, cancel):
        sub.add_argument("--config", default="crawls.toml", metavar="FILE",
                         help="the crawls file (default: crawls.toml); relative output folders are relative to its folder")
    check.set_defaults(func=cmd_schedule_check)
    for sub in (run, listing):
        sub.add_argument("--now", type=_moment, metavar="ISO-DATETIME",
                         help="act as if the clock read this time, UTC unless an offset is given (for tests and catch-up)")
    run.add_argument("-v", "--verbose", action="store_true", help="also say which crawls are not due and why")
    run.set_defaults(func=cmd_schedule_run)
    listing.add_argument("--json", action="store_true", help="one JSON object per crawl instead of a table")
    listing.set_defaults(func=cmd_schedule_list)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:
        print("archive-crawler: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
