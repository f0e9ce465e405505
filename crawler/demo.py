"""`make demo`: serve the bundled mock archive on 127.0.0.1, crawl it with the nizkor spider,
write JSON Lines and WARC files and print what the crawl did (skip reasons named as in the crawl
report, whose report.html it points to)."""

from __future__ import annotations

import argparse
import shutil
import json
import sys
from collections import Counter
from pathlib import Path

from scrapy.crawler import CrawlerProcess
from scrapy.utils.project import get_project_settings

from crawler.report import INDEX_HTML, REPORT_HTML, REPORT_JSON, REPORTS, build_report, reason_words
from crawler.spiders.nizkor import NizkorSpider
from fixtures.server import running_server
from pipelines.schema import DATE_FIELDS

REPO = Path(__file__).resolve().parent.parent
SITE = REPO / "fixtures" / "derechos"
HEADERS = REPO / "fixtures" / "derechos-headers.json"
# A local copy needs no politeness delay; everything else stays as configured.
LOCAL_OVERRIDES = {
    "DOWNLOAD_DELAY": 0,
    "AUTOTHROTTLE_ENABLED": False,
    "CONCURRENT_REQUESTS_PER_DOMAIN": 8,
    "LOG_LEVEL": "WARNING",
}


def crawl(start_url: str, output: Path, warc_dir: Path | None = None, state: Path | None = None) -> dict:
    settings = get_project_settings()
    settings.setdict(LOCAL_OVERRIDES, priority="cmdline")
    if state is not None:
        settings.set("CRAWL_STATE", str(state), priority="cmdline")
    if warc_dir is not None:
        settings.set("WARC_DIR", str(warc_dir), priority="cmdline")
    settings.set("FEEDS", {str(output): {"format": "jsonlines", "overwrite": True}}, priority="cmdline")
    process = CrawlerProcess(settings, install_root_handler=True)
    crawler = process.create_crawler(NizkorSpider)
    process.crawl(crawler, start_url=start_url)
    process.start()
    return crawler.stats.get_stats()


def crawl_report(stats: dict, output: Path) -> dict:
    """The crawl report written beside the output (crawler/report.py), else one built from the stats."""
    path = output.parent / REPORT_JSON
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return build_report(stats, spider=NizkorSpider.name, start_url=None, output=str(output))


def summary(stats: dict, output: Path, warc_files: list[Path] = ()) -> str:
    """What the crawl did, in the crawl report's own names for skip reasons (``reason_words``)."""
    records = [json.loads(line) for line in output.read_text(encoding="utf-8").splitlines() if line.strip()]
    report = crawl_report(stats, output)
    languages = Counter(r["language"] for r in records)
    sections = Counter(r["section"] or "(none)" for r in records)
    skipped = {name: n for name, n in report["skipped"].items() if name != "http_error" and n}
    skipped.update({f"http_error {code}": n for code, n in report["skipped"]["http_error"].items()})
    lines = [
        f"output:          {output}",
        f"pages fetched:   {report['pages']['fetched']} responses, {report['pages']['read']} pages read",
        f"records written: {len(records)}",
        "by language:     " + ", ".join(f"{k} {v}" for k, v in languages.most_common()),
        "by section:",
        *(f"  {v:4d}  {k}" for k, v in sections.most_common()),
        "skipped (the crawl report's names):",
        *(f"  {v:4d}  {k}: {reason_words(k)}" for k, v in skipped.items()),
        "records with each date field:",
        *(f"  {sum(1 for r in records if r[f]):4d}  {f}" for f in DATE_FIELDS),
    ]
    done = report.get("completeness") or {}
    if done.get("linked"):
        lines.append(f"completeness:    {done['linked']} pages linked from {done['index_pages']} index pages, "
                     f"{done['missing']} gave neither a record nor a skip: "
                     + ", ".join(f"{n} {reason}" for reason, n in done["missing_by_reason"].items() if n))
    if warc_files:
        lines += [
            f"WARC capture:    {stats.get('warc/records/response', 0)} responses in {len(warc_files)} file(s):",
            *(f"  {path}" for path in warc_files),
            "re-make the records from them without the network:",
            f"  .venv/bin/archive-crawler reprocess {' '.join(map(str, warc_files))} -o out/reprocessed.jsonl",
        ]
    folder = output.parent
    if (folder / REPORT_HTML).is_file():
        lines += [f"crawl report:    {folder / REPORT_HTML} (and report.json, report.md)",
                  f"every run:       {folder / REPORTS / INDEX_HTML}"]
    if stats.get("archive/failed_reason"):
        lines.append(f"CRAWL FAILED: {stats['archive/failed_reason']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("out/demo.jsonl"))
    parser.add_argument("--warc-dir", type=Path, default=Path("out/warc"), help="WARC capture folder")
    parser.add_argument("--state", type=Path, default=Path("out/demo-state"),
                        help="crawl state folder, emptied first: a demo always shows the full crawl")
    args = parser.parse_args(argv)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(args.state, ignore_errors=True)
    earlier = set(args.warc_dir.glob("*.warc.gz"))
    with running_server(SITE, headers_file=HEADERS) as server:
        start_url = f"{server.base_url}/nizkor/"
        print(f"serving {SITE.relative_to(REPO)} at {server.base_url}; crawling {start_url}", flush=True)
        stats = crawl(start_url, args.out, args.warc_dir, args.state)
    # This run's files: earlier demo runs leave theirs beside them (names carry the crawl's start time).
    warc_files = sorted(set(args.warc_dir.glob("*.warc.gz")) - earlier)
    print(summary(stats, args.out, warc_files))
    return 1 if stats.get("archive/failed_reason") else 0


if __name__ == "__main__":
    sys.exit(main())
