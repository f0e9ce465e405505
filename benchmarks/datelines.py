"""Datelines: this project's engine beside dateparser.search_dates and python-dateutil fuzzy parsing.

    python benchmarks/datelines.py [MUC3_TSV] [--gold tests/data/datelines.gold.jsonl]

MUC3_TSV defaults to ../shared/data/muc3/dev.tsv beside the repository. Prints one table per data
set: share of lines whose date is right, share whose place is right (only this engine reports a
place), and microseconds per line, all measured in this run on the same lines. A line with no gold
date counts as right when an engine reports no date. Lines this engine gets wrong are listed.
The engine's place gazetteer (read by source lines whose name holds a comma) is loaded once before
the tables, and its load time printed: like imports, it is not part of the per-line cost.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from pipelines.dates import parse_line, place_names  # noqa: E402


@dataclass
class Case:
    text: str
    date: str | None
    place: str | None


def muc3_cases(path: Path) -> list[Case]:
    rows = [line.split("\t") for line in path.read_text(encoding="utf-8").splitlines()[1:] if line.strip()]
    return [Case(text=text, date=date or None, place=place or None) for _id, date, place, text in rows]


def gold_cases(path: Path) -> list[Case]:
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [Case(text=r["line"], date=r["date"], place=r["place"]) for r in records]


def ours(text: str) -> tuple[str | None, str | None]:
    found = parse_line(text)
    return found["date"], found["place"]


def dateparser_search(text: str) -> tuple[str | None, str | None]:
    from dateparser.search import search_dates

    found = search_dates(text, languages=["en", "es"], settings={"DATE_ORDER": "DMY"})
    return (found[0][1].date().isoformat() if found else None), None


def dateutil_fuzzy(text: str) -> tuple[str | None, str | None]:
    from dateutil import parser

    try:
        return parser.parse(text, fuzzy=True, dayfirst=True).date().isoformat(), None
    except (ValueError, OverflowError, parser.ParserError):
        return None, None


ENGINES: dict[str, Callable[[str], tuple[str | None, str | None]]] = {
    "archive-crawler": ours,
    "dateparser.search_dates": dateparser_search,
    "dateutil fuzzy": dateutil_fuzzy,
}


def run(name: str, cases: list[Case]) -> list[Case]:
    print(f"\n## {name}: {len(cases)} lines\n")
    print(f"| {'engine':<24} | {'dates right':>11} | {'places right':>12} | {'µs/line':>9} |")
    print(f"|{'-' * 26}|{'-' * 13}|{'-' * 14}|{'-' * 11}|")
    misses: list[Case] = []
    for engine, parse in ENGINES.items():
        parse(cases[0].text)  # warm-up: imports and caches are not part of the per-line cost
        start = time.perf_counter()
        answers = [parse(case.text) for case in cases]
        elapsed = time.perf_counter() - start
        dates = sum(got_date == case.date for (got_date, _), case in zip(answers, cases))
        places = sum(got_place == case.place for (_, got_place), case in zip(answers, cases))
        place_share = f"{places / len(cases):.1%}" if engine == "archive-crawler" else "n/a"
        print(f"| {engine:<24} | {dates / len(cases):>11.1%} | {place_share:>12} | {elapsed / len(cases) * 1e6:>9.1f} |")
        if engine == "archive-crawler":
            misses = [case for (d, p), case in zip(answers, cases) if (d, p) != (case.date, case.place)]
    if misses:
        print(f"\narchive-crawler misses ({len(misses)}):")
        for case in misses:
            print(f"  gold date={case.date} place={case.place}  got={ours(case.text)}  {case.text[:90]!r}")
    return misses


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("muc3", nargs="?", type=Path, default=REPO.parent / "shared" / "data" / "muc3" / "dev.tsv")
    parser.add_argument("--gold", type=Path, default=REPO / "tests" / "data" / "datelines.gold.jsonl")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")  # dateparser's deprecation chatter is not part of the table
    print("# Datelines benchmark (dateparser: languages en+es, DATE_ORDER=DMY; dateutil: fuzzy, dayfirst)")
    start = time.perf_counter()
    names = place_names()
    elapsed = time.perf_counter() - start
    print(f"\n(archive-crawler's gazetteer: {len(names):,} place names, loaded once in {elapsed:.2f} s)")
    if args.muc3.exists():
        run(f"MUC-3 dev ({args.muc3})", muc3_cases(args.muc3))
    else:
        print(f"\n(MUC-3 file {args.muc3} not found: skipped)")
    if args.gold.exists():
        run(f"own gold ({args.gold.relative_to(REPO) if args.gold.is_relative_to(REPO) else args.gold})",
            gold_cases(args.gold))
    return 0


if __name__ == "__main__":
    sys.exit(main())
