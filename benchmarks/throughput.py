"""Throughput: the project's crawl beside a fetch-only Scrapy spider on one local mirror, and the
project's extraction beside bare trafilatura.

    python benchmarks/throughput.py [--pages 2000] [--rounds 1] [--mirror DIR] [--keep] [--skip-reprocess]
                                    [--repo DIR] [--tcp-nodelay] [--builder-pages 500]

The mirror: N copies of fixtures/derechos/'s gold article pages (copy i: template i mod 93, "Ref. i."
after its longest body line, same encoding and Content-Type), linked from /nizkor/index.html through
section indexes of 40, served on 127.0.0.1 by fixtures/server.py. Each round runs, in order: the
fetch-only spider (the limit), `scrapy crawl nizkor`, bare trafilatura over the mirror's files,
`archive-crawler reprocess` of the crawl's WARC files, bare trafilatura over that WARC; then the
record builder (a worker's whole job: read, finish, validate) beside trafilatura in one process.
Each command runs under a wrapper process (a child subreaper, so that worker processes and their
forkserver are its to reap) whose RUSAGE_CHILDREN gives CPU time and peak RSS. --repo measures
another checkout (e.g. a clean clone).
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlsplit

REPO = Path(__file__).resolve().parent.parent
ME = [sys.executable, str(Path(__file__).resolve()), "--internal"]
BIN = Path(sys.executable).parent  # the venv's scrapy sits beside its python
REAL_SITE = "https://www.derechos.org"
SECTION_SIZE = 40  # under the 48 templates: the pages of a section all come from different templates
# The contract crawl's overrides (tests/conftest.py LOCAL_CRAWL); the limit spider gets them too, plus
# the project's values that matter for one host, and nothing else of the project's settings.
LOCAL_CRAWL = {"DOWNLOAD_DELAY": 0, "AUTOTHROTTLE_ENABLED": False, "CONCURRENT_REQUESTS_PER_DOMAIN": 8}
LIMIT_SETTINGS = {**LOCAL_CRAWL, "CONCURRENT_REQUESTS": 8, "CONCURRENT_ITEMS": 16, "ROBOTSTXT_OBEY": True, "LOG_LEVEL": "INFO",
                  "TELNETCONSOLE_ENABLED": False}
NOTE = """\
seconds: wall time of the command, interpreter start and imports included. per second: count / seconds.
ratio: project crawl records/s / limit pages/s; reprocess records/s / bare-over-WARC pages/s.
CPU ms/page: user+system CPU of the command and all its descendants (RUSAGE_CHILDREN of a wrapper that
is their subreaper and reaps them all) / count. peak RSS: ru_maxrss of that tree, i.e. its largest
single process. tree PSS: the largest sum of Pss over the command's process tree, sampled every 0.25 s
(shared pages counted once). server CPU: fixtures.server's CPU during the run. Counts: limit = 200
responses (articles, section indexes, stub listings, a few URLs also reached as dir/); project and
reprocess = records written; bare rows = pages given to trafilatura (pinned to one core)."""


def decode(body: bytes) -> tuple[str, str]:
    """The text and the first encoding that reads the bytes cleanly: right for every fixture page,
    whatever its labels say, and all three round-trip, so untouched bytes are written back as they were."""
    for encoding in ("utf-8", "cp1252"):
        with contextlib.suppress(UnicodeDecodeError):
            return body.decode(encoding), encoding
    return body.decode("latin-1"), "latin-1"


def line_pattern(line: str) -> re.Pattern:
    """A gold text line (whitespace collapsed, entities decoded) as a regex over the page's HTML."""
    space, parts = r"(?:\s|&nbsp;|&#160;|<[^>]*>)+", []
    for char in line:
        if char.isspace():
            parts += [] if parts and parts[-1] == space else [space]
        else:
            parts.append(char if char.isascii() and char.isalnum() else f"(?:{re.escape(char)}|&[#\\w]+;)")
    return re.compile("".join(parts))


@dataclass
class Template:
    path: str
    head: str  # the decoded page up to the end of its first body line
    tail: str
    encoding: str
    content_type: str | None
    links: set[str]  # same-host link targets (paths): the mirror must have them, or both crawls get 404s


def load_templates(repo: Path) -> list[Template]:
    site, templates = repo / "fixtures" / "derechos", []
    headers = json.loads((repo / "fixtures" / "derechos-headers.json").read_text(encoding="utf-8"))
    for line in (repo / "fixtures" / "derechos.gold.jsonl").read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        path = record["url"].removeprefix(REAL_SITE)
        text, encoding = decode((site / path.lstrip("/")).read_bytes())
        # After the longest body line: a paragraph, never also a headline in an in-page table of contents.
        found = line_pattern(max(record["text"].split("\n"), key=len)).search(text, text.lower().find("<body"))
        if found is None:
            sys.exit(f"throughput: the longest body line of {path} is not in its HTML")
        links = set()
        for href in re.findall(r'href\s*=\s*"([^"]*)"', text, re.I):
            target = urlsplit(urljoin("http://mirror" + path, href))
            if target.netloc == "mirror":
                links.add(target.path + ("index.html" if target.path.endswith("/") else ""))
        templates.append(Template(path, text[:found.end()], text[found.end():], encoding,
                                  headers.get(path, {}).get("content_type"), links))
    return templates


def write_listing(site: Path, path: str, title: str, links: list[str]) -> None:
    items = "\n".join(f'<li><a href="{href}">{href.rsplit("/", 1)[-1]}</a></li>' for href in links)
    (site / path.lstrip("/")).parent.mkdir(parents=True, exist_ok=True)
    (site / path.lstrip("/")).write_text(f"<html><head><title>{title}</title></head><body><h1>{title}</h1>\n"
                                         f"<ul>\n{items}\n</ul>\n</body></html>\n", encoding="ascii")


def build_mirror(repo: Path, folder: Path, pages: int) -> None:
    """folder/site (the web root), folder/headers.json (for fixtures.server), folder/pages.json."""
    site = folder / "site"
    if site.exists():
        if not (folder / "pages.json").exists():  # never delete what this script did not write
            sys.exit(f"throughput: {site} exists and is not a mirror made by this benchmark")
        shutil.rmtree(site)
    templates = load_templates(repo)
    manifest, headers = [], {}
    for number in range(pages):
        template = templates[number % len(templates)]  # neighbours differ: no line looks like boilerplate
        path = template.path  # the first copy of each keeps the template's path: links to it resolve
        if number >= len(templates):
            path = re.sub(r"(\.html?)$", rf"-{number}\1", path)
        target = site / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(f"{template.head} Ref. {number}.{template.tail}".encode(template.encoding))
        if template.content_type:
            headers[path] = {"content_type": template.content_type}
        manifest.append({"path": path, "encoding": template.encoding})
    sections = [f"/nizkor/bench/{first // SECTION_SIZE:04d}/index.html" for first in range(0, pages, SECTION_SIZE)]
    for number, section in enumerate(sections):
        chunk = manifest[number * SECTION_SIZE:(number + 1) * SECTION_SIZE]
        write_listing(site, section, f"Section {number}", [page["path"] for page in chunk])
    write_listing(site, "/nizkor/index.html", "Equipo Nizkor (benchmark mirror)", sections)
    # What the templates' header and footer rows link to (/, /human-rights/, dir/index.html...): stub
    # listings, which give no record, so that neither crawl spends requests on 404s.
    for link in sorted(set().union(*(t.links for t in templates)) | {"/index.html"}):
        if not (site / link.lstrip("/")).exists():
            write_listing(site, link, "Index", ["/nizkor/index.html"])
    (site / "robots.txt").write_text("User-agent: *\nDisallow:\n", encoding="ascii")
    (folder / "headers.json").write_text(json.dumps(headers, indent=1), encoding="utf-8")
    (folder / "pages.json").write_text(json.dumps(manifest), encoding="utf-8")


@contextlib.contextmanager
def serve(repo: Path, folder: Path, nodelay: bool) -> Iterator[tuple[str, Callable[[], float]]]:
    """(base URL, the server's CPU seconds so far), from a thread of this process: every measured run
    is a process of its own and the main thread only waits, so the server has this GIL to itself.

    fixtures.server sends headers and body separately: with Nagle's algorithm on (as the tests serve
    it, and as the issue's figures were measured), each answer on a kept-alive connection waits for
    the client's delayed ACK (~40 ms), which caps the limit at about 8 / 45 ms = 180 pages/s.
    --tcp-nodelay sets the handler's TCP_NODELAY switch: then both crawls are bound by CPU alone."""
    sys.path.insert(0, str(repo))
    from fixtures.server import FixtureRequestHandler, running_server

    FixtureRequestHandler.disable_nagle_algorithm = nodelay
    with running_server(folder / "site", headers_file=folder / "headers.json") as site:
        yield site.base_url, lambda: sum(os.times()[:2])


@dataclass
class Run:
    label: str
    count: int
    usage: dict  # what the wrapper wrote (wall, cpu, maxrss_kb, tree_pss_kb), and server_cpu


def measure(label: str, command: list[str], folder: Path, cwd: Path, server_cpu: Callable[[], float],
            env: dict[str, str] | None = None) -> dict:
    """Run the command under the wrapper; on failure, exit with one line and its stderr's last 20 lines."""
    slug = re.sub(r"\W+", "-", label).strip("-")
    usage, log = folder / f"{slug}.usage.json", folder / f"{slug}.stderr"
    env = {k: v for k, v in {**os.environ, **(env or {})}.items() if k != "SCRAPY_SETTINGS_MODULE"}
    before = server_cpu()
    with open(log, "w") as stderr:
        subprocess.run([*ME, "wrap", str(usage), *command], cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                       stderr=stderr)
    result = json.loads(usage.read_text()) if usage.exists() else {"returncode": "unknown"}
    if result["returncode"] != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:])
        sys.exit(f"throughput: {label} failed (exit {result['returncode']}); last 20 lines of its stderr:\n{tail}")
    return {**result, "server_cpu": server_cpu() - before}


def internal(mode: str, *args: str) -> int:
    """The processes that are this file: `throughput.py --internal MODE ARGS...`."""
    if mode in ("wrap", "limit"):
        return {"wrap": wrap, "limit": limit_spider}[mode](*args)
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # extraction on one core, whatever the machine
    return {"bare-files": bare_files, "bare-warc": bare_warc, "builder": builder_cost}[mode](*args)


def tree_pss_kb() -> int:
    """Sum of Pss over this process's descendants (shared pages, e.g. of forked workers, counted once)."""
    parents: dict[int, int] = {}
    for name in os.listdir("/proc"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            parents[int(name)] = int(Path(f"/proc/{name}/stat").read_text().rsplit(")", 1)[1].split()[1])
    tree, todo = set(), [os.getpid()]
    while todo:
        parent = todo.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent and pid not in tree]
        tree.update(children)
        todo += children
    total = 0
    for pid in tree:
        with contextlib.suppress(OSError):
            total += sum(int(line.split()[1]) for line in open(f"/proc/{pid}/smaps_rollup") if line.startswith("Pss:"))
    return total


def wrap(out: str, *command: str) -> int:
    """Run the command; write its wall time, and the CPU time and peak RSS of its whole process tree."""
    # PR_SET_CHILD_SUBREAPER: a descendant whose parent exits first (multiprocessing's forkserver
    # outlives the crawl) becomes ours, so that its CPU, and its workers', reach RUSAGE_CHILDREN.
    ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)
    peak = [0]

    def sample() -> None:
        while True:
            peak[0] = max(peak[0], tree_pss_kb())
            time.sleep(0.25)

    threading.Thread(target=sample, daemon=True).start()
    start = time.perf_counter()
    code = subprocess.call(command)
    wall = time.perf_counter() - start
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # reap what the command left behind
        try:
            if os.waitpid(-1, os.WNOHANG) == (0, 0):
                time.sleep(0.05)
        except ChildProcessError:
            break
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)  # every descendant reaped, at any depth
    Path(out).write_text(json.dumps({"returncode": code, "wall": wall, "cpu": usage.ru_utime + usage.ru_stime,
                                     "maxrss_kb": usage.ru_maxrss, "tree_pss_kb": peak[0]}))
    return code


def limit_spider(start_url: str, out: str) -> int:
    """Fetch every page of the start host, yield nothing. Scrapy is imported here, not at the top,
    so that the extraction children do not carry it in their RSS."""
    import scrapy
    from scrapy.crawler import CrawlerProcess
    from scrapy.http import TextResponse
    from scrapy.linkextractors import LinkExtractor

    host, fetched = urlsplit(start_url).netloc, [0]

    class FetchOnly(scrapy.Spider):
        name = "fetch-only"
        start_urls = [start_url]
        links = LinkExtractor()  # the project's spider uses the same extractor; the dupefilter drops repeats

        def parse(self, response, **kwargs):
            fetched[0] += 1
            if isinstance(response, TextResponse):
                for link in self.links.extract_links(response):
                    if urlsplit(link.url).netloc == host:
                        yield scrapy.Request(link.url, callback=self.parse)

    process = CrawlerProcess(settings=LIMIT_SETTINGS)  # a plain dict: no project settings module at all
    process.crawl(FetchOnly)
    process.start()
    Path(out).write_text(json.dumps({"pages": fetched[0]}))
    return 0


def trafilatura_text(text: str, url: str) -> str:
    import trafilatura  # here, not at the top: the limit spider's RSS must not include it

    return trafilatura.extract(text, url=url, include_tables=True, deduplicate=False) or ""


def bare_files(folder: str, out: str) -> int:
    site, pages = Path(folder) / "site", json.loads((Path(folder) / "pages.json").read_text())
    found = sum(bool(trafilatura_text((site / page["path"].lstrip("/")).read_bytes().decode(page["encoding"]),
                                      REAL_SITE + page["path"])) for page in pages)
    Path(out).write_text(json.dumps({"pages": len(pages), "non_empty": found}))
    return 0


def bare_warc(out: str, *warcs: str) -> int:
    """The WARC's 200 text/html responses (robots.txt is text/plain) through trafilatura."""
    from warcio.archiveiterator import ArchiveIterator

    pages = found = 0
    for name in warcs:
        with open(name, "rb") as stream:
            for record in ArchiveIterator(stream):
                if (record.rec_type == "response" and record.http_headers.get_statuscode() == "200"
                        and (record.http_headers.get_header("Content-Type") or "").startswith("text/html")):
                    pages += 1
                    found += bool(trafilatura_text(decode(record.content_stream().read())[0],
                                                   record.rec_headers.get_header("WARC-Target-URI")))
    Path(out).write_text(json.dumps({"pages": pages, "non_empty": found}))
    return 0


def builder_cost(folder: str, repo: str, limit: str, out: str) -> int:
    """What a worker does per page (read, finish, validate: ``crawler.workers.read_job``; in a checkout
    without it, ``build_record``) beside the bare trafilatura call on the same pages, page by page."""
    sys.path.insert(0, repo)
    try:
        from crawler.workers import PageJob, read_job

        def build(body: bytes, url: str) -> None:
            outcome = read_job(PageJob(body, url, "text/html", "derechos.org"), frozenset())
            if outcome.record is None:
                raise LookupError(outcome.skip)
    except ImportError:
        from pipelines.records import build_record as build

    site, pages = Path(folder) / "site", json.loads((Path(folder) / "pages.json").read_text())
    chosen = pages[::max(1, len(pages) // int(limit))][:int(limit)]
    # The real host, so that build_record's profile_for_url picks the derechos.org profile, as the crawl does.
    sample = [((site / p["path"].lstrip("/")).read_bytes(), REAL_SITE + p["path"]) for p in chosen]
    spent, skipped = {"build_record": 0.0, "trafilatura": 0.0}, 0
    for index, (body, url) in enumerate([sample[0], *sample]):  # pass 0 warms up imports, models, caches
        start = time.perf_counter()
        try:
            build(body, url)  # two positional arguments only: survives changes to its keywords
        except Exception as exc:  # noqa: BLE001 - PageSkipped, wherever it is defined now, is an outcome
            if type(exc).__name__ not in ("PageSkipped", "LookupError"):
                raise
            skipped += index > 0
        middle = time.perf_counter()
        trafilatura_text(decode(body)[0], url)
        if index:
            spent["build_record"] += middle - start
            spent["trafilatura"] += time.perf_counter() - middle
    Path(out).write_text(json.dumps({"pages": len(sample), "skipped": skipped, **spent}))
    return 0


def cli_command(repo: Path) -> list[str]:
    """The checkout's own `archive-crawler` entry point, from its pyproject.toml: the venv's script
    imports whatever module the tree installed last named."""
    import tomllib

    project = tomllib.loads((repo / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    module, function = project["scripts"]["archive-crawler"].split(":")
    return [sys.executable, "-c", f"import sys; sys.argv[0] = 'archive-crawler'; from {module} import {function}; "
            f"sys.exit({function}())"]


def count_lines(path: Path) -> int:
    with open(path, "rb") as fh:
        return sum(1 for line in fh if line.strip())


def one_round(number: int, args: argparse.Namespace, mirror: Path, work: Path, base: str,
              server_cpu: Callable[[], float]) -> list[Run]:
    here = work / f"round-{number}"
    here.mkdir()
    project_env = {"PYTHONPATH": str(args.repo)}  # a clone's packages must win over the venv's editable install
    runs: list[Run] = []

    def run(label: str, command: list[str], cwd: Path, env: dict | None, count: Callable[[], int]) -> None:
        usage = measure(label, command, here, cwd, server_cpu, env)
        runs.append(Run(label, count(), usage))

    def pages_in(name: str) -> Callable[[], int]:
        return lambda: json.loads((here / name).read_text())["pages"]

    run("limit (fetch-only spider)", [*ME, "limit", f"{base}/nizkor/", str(here / "limit.json")], here, None,
        pages_in("limit.json"))
    settings = {**LOCAL_CRAWL, "CRAWL_STATE": here / "state", "WARC_DIR": here / "warc", "PROGRESS_INTERVAL": 0}
    run("project crawl", [str(BIN / "scrapy"), "crawl", "nizkor", "-a", f"start_url={base}/nizkor/", "-O",
                          str(here / "records.jsonl"), *[a for k, v in settings.items() for a in ("-s", f"{k}={v}")]],
        args.repo, project_env, lambda: count_lines(here / "records.jsonl"))
    if not runs[-1].count:
        sys.exit(f"throughput: the project crawl exited 0 but wrote no records (log: {here / 'project-crawl.stderr'})")
    run("bare trafilatura (one core)", [*ME, "bare-files", str(mirror), str(here / "bare.json")], here, None,
        pages_in("bare.json"))
    if not args.skip_reprocess:
        warcs = sorted(str(path) for path in (here / "warc").glob("*.warc*"))
        if not warcs:
            sys.exit(f"throughput: the project crawl wrote no WARC file in {here / 'warc'}")
        run("reprocess (WARC)", [*cli_command(args.repo), "reprocess", *warcs, "-o", str(here / "re.jsonl")],
            args.repo, project_env, lambda: count_lines(here / "re.jsonl"))
        run("bare trafilatura over the WARC", [*ME, "bare-warc", str(here / "bare-warc.json"), *warcs], here, None,
            pages_in("bare-warc.json"))
    return runs


def report(rounds: list[list[Run]], builder: dict, pages: int) -> None:
    by_label = {run.label: sorted((r for rs in rounds for r in rs if r.label == run.label),
                                  key=lambda r: r.usage["wall"]) for run in rounds[0]}
    chosen = {label: runs[(len(runs) - 1) // 2] for label, runs in by_label.items()}  # the median round by wall time
    rate = {label: run.count / run.usage["wall"] for label, run in chosen.items()}
    ratio = {"project crawl": rate["project crawl"] / rate["limit (fetch-only spider)"]}
    if "reprocess (WARC)" in rate:
        ratio["reprocess (WARC)"] = rate["reprocess (WARC)"] / rate["bare trafilatura over the WARC"]
    header = ["run", "pages or records", "seconds", "per second", "ratio", "CPU ms/page", "peak RSS MB",
              "tree PSS MB", "server CPU s"] + (["seconds, each round"] if len(rounds) > 1 else [])
    print(f"\n## {pages} article pages, {len(rounds)} round(s){' (median round)' if len(rounds) > 1 else ''}\n")
    print("| " + " | ".join(header) + " |\n|" + "|".join("---" for _ in header) + "|")
    for label, run in chosen.items():
        use = run.usage
        row = [label, str(run.count), f"{use['wall']:.1f}", f"{rate[label]:.1f}",
               f"{ratio[label]:.2f}" if label in ratio else "", f"{use['cpu'] * 1000 / run.count:.1f}",
               f"{use['maxrss_kb'] / 1024:.0f}", f"{use['tree_pss_kb'] / 1024:.0f}", f"{use['server_cpu']:.1f}"]
        if len(rounds) > 1:  # in round order
            row.append(" / ".join(f"{r.usage['wall']:.1f}" for rs in rounds for r in rs if r.label == label))
        print("| " + " | ".join(row) + " |")
    ours, bare = (builder[key] / builder["pages"] * 1000 for key in ("build_record", "trafilatura"))
    print(f"\nRecord builder over bare trafilatura ({builder['pages']} mirror pages, one process, one core, "
          f"interleaved, {builder['skipped']} skipped): record builder (read, finish, validate) {ours:.2f} ms/page, "
          f"trafilatura.extract {bare:.2f} ms/page, ratio {ours / bare:.2f}\n\n{NOTE}")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--internal"]:
        return internal(*argv[1:])
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=2000, help="article pages in the mirror (default 2000)")
    parser.add_argument("--rounds", type=int, default=1, help="rounds of all runs, alternating (default 1)")
    parser.add_argument("--mirror", type=Path, help="build (and keep) the mirror in DIR instead of the temp folder")
    parser.add_argument("--keep", action="store_true", help="keep the temp folder (mirror, outputs, logs)")
    parser.add_argument("--skip-reprocess", action="store_true", help="no reprocess and bare-over-WARC runs")
    parser.add_argument("--repo", type=Path, default=REPO, help="checkout whose fixtures and code run")
    parser.add_argument("--tcp-nodelay", action="store_true",
                        help="turn the server's Nagle algorithm off (a CPU-bound limit, about 340 pages/s here)")
    parser.add_argument("--builder-pages", type=int, default=500, help="mirror pages for the build_record line")
    args = parser.parse_args(argv)
    if args.pages < 1 or args.rounds < 1:
        parser.error("--pages and --rounds must be at least 1")
    args.repo = args.repo.resolve()
    work = Path(tempfile.mkdtemp(prefix="throughput-"))
    mirror = args.mirror.resolve() if args.mirror else work
    try:
        mirror.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        build_mirror(args.repo, mirror, args.pages)
        print(f"# Throughput benchmark ({args.repo}, {os.cpu_count()} CPUs)\n\nMirror: {args.pages} article pages in "
              f"{mirror / 'site'}, built in {time.perf_counter() - start:.1f} s. Server: fixtures.server in a thread "
              "of this benchmark process (every measured run is a process of its own: no shared GIL), "
              + ("TCP_NODELAY." if args.tcp_nodelay else "Nagle's algorithm on (as fixtures.server is)."))
        with serve(args.repo, mirror, args.tcp_nodelay) as (base, server_cpu):
            rounds = [one_round(number, args, mirror, work, base, server_cpu) for number in range(args.rounds)]
        measure("build_record", [*ME, "builder", str(mirror), str(args.repo), str(min(args.builder_pages, args.pages)),
                                 str(work / "builder.json")], work, work, lambda: 0.0, {"PYTHONPATH": str(args.repo)})
        report(rounds, json.loads((work / "builder.json").read_text()), args.pages)
    finally:
        if args.keep:
            print(f"\nKept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
