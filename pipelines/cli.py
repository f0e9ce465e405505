"""`archive-crawler`: the record functions on saved pages and on lines of text, without Scrapy.

    archive-crawler extract --url URL FILE.html [--url URL FILE.html ...]
    archive-crawler datelines < lines.txt
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

__all__ = ["main"]


def _print_json(obj: dict) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def cmd_extract(args: argparse.Namespace) -> int:
    from .encoding import PageSkipped
    from .records import build_record

    status = 0
    for url, path in args.url:
        try:
            body = Path(path).read_bytes()
        except OSError as exc:
            print(f"archive-crawler: cannot read {path}: {exc.strerror}", file=sys.stderr)
            status = 1
            continue
        try:
            record = build_record(body, url)
        except PageSkipped as skipped:
            print(f"archive-crawler: no record for {path} ({url}): {skipped}", file=sys.stderr)
            status = 1
            continue
        _print_json(record)
    return status


def cmd_datelines(args: argparse.Namespace) -> int:
    from .dates import parse_line

    for line in sys.stdin:
        _print_json(parse_line(line.rstrip("\r\n")))
    return 0


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
    extract.set_defaults(func=cmd_extract)

    datelines = commands.add_parser(
        "datelines",
        help="parse the dateline or source line opening each stdin line",
        description='Prints {"place", "date", "agency", "raw"} per input line; all null when the line has none.',
    )
    datelines.set_defaults(func=cmd_datelines)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
