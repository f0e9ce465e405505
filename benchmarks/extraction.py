"""Extraction: the project's record function beside bare trafilatura, on public benchmarks and on
the project's own mock archives.

    python benchmarks/extraction.py [--aeb DIR] [--trafilatura-eval DIR] [--limit N]

--aeb               ../shared/benchmarks/aeb (181 pages, 4-word-shingle P/R/F1 from summed counts)
--trafilatura-eval  ../shared/benchmarks/trafilatura-eval (990 pages, snippet P/R/F1, micro-averaged;
                    and document dates and titles beside htmldate and trafilatura's metadata)
The mock archives in fixtures/ are always measured (fields right, boilerplate leaks).

Both extractors get the page's raw bytes and URL. "archive-crawler" is `build_record` (decode, parse,
site profile, trafilatura, dates, language) and its `text`; "trafilatura" is
`trafilatura.extract(bytes, url=..., include_comments=False)` (its title, for the fields table, from
`trafilatura.extract_metadata`, not timed). Pages per second are measured in this run, one process,
one core, the extractors interleaved page by page. A page that raises or gives no record counts as an empty extraction.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import trafilatura  # noqa: E402

from pipelines.encoding import PageSkipped  # noqa: E402
from pipelines.boilerplate import BoilerplateModel  # noqa: E402
from pipelines.records import build_record, read_page  # noqa: E402

SHARED = REPO.parent / "shared" / "benchmarks"


@dataclass
class Page:
    name: str
    url: str
    body: bytes
    gold: object


@dataclass
class Outcome:
    texts: list[str] = field(default_factory=list)
    titles: list[str | None] = field(default_factory=list)
    seconds: float = 0.0


def ours(page: Page) -> tuple[str, str | None]:
    try:
        record = build_record(page.body, page.url)
    except PageSkipped:
        return "", None
    return record["text"], record["title"]


def bare_trafilatura(page: Page) -> tuple[str, str | None]:
    return trafilatura.extract(page.body, url=page.url, include_comments=False) or "", None


def trafilatura_title(page: Page) -> str | None:
    """trafilatura's own title guess, for the fields table (not part of the timed extraction)."""
    metadata = trafilatura.extract_metadata(page.body)
    return metadata.title if metadata else None


EXTRACTORS: dict[str, Callable[[Page], tuple[str, str | None]]] = {
    "archive-crawler": ours,
    "trafilatura": bare_trafilatura,
}


def run(pages: list[Page], extractors: dict | None = None) -> dict[str, Outcome]:
    """Every extractor on every page, interleaved page by page so that machine noise hits all alike."""
    extractors = extractors or EXTRACTORS
    outcomes = {name: Outcome() for name in extractors}
    for extract in extractors.values():
        extract(pages[0])  # warm-up: imports, models and caches are not per-page cost
    for page in pages:
        for name, extract in extractors.items():
            start = time.perf_counter()
            try:
                text, title = extract(page)
            except Exception:  # noqa: BLE001 - a crash counts as an empty extraction
                text, title = "", None
            outcomes[name].seconds += time.perf_counter() - start
            outcomes[name].texts.append(text)
            outcomes[name].titles.append(title)
    return outcomes


def prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def print_table(title: str, header: list[str], rows: Iterable[list[str]]) -> None:
    print(f"\n## {title}\n")
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" for _ in header) + "|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


# --- ScrapingHub article-extraction benchmark -------------------------------------------------

def _shingles(text: str) -> dict[tuple[str, ...], int]:
    words = text.split()
    counts: dict[tuple[str, ...], int] = {}
    for i in range(len(words) - 3):
        key = tuple(words[i : i + 4])
        counts[key] = counts.get(key, 0) + 1
    return counts


def aeb(folder: Path, limit: int | None) -> None:
    truth = json.loads((folder / "ground-truth.json").read_text(encoding="utf-8"))
    pages = [
        Page(name=key, url=value["url"], body=gzip.decompress((folder / "html" / f"{key}.html.gz").read_bytes()),
             gold=value["articleBody"])
        for key, value in sorted(truth.items())
    ][:limit]
    outcomes = run(pages)
    rows = []
    for name, outcome in outcomes.items():
        tp = fp = fn = 0
        for page, text in zip(pages, outcome.texts):
            gold, got = _shingles(page.gold), _shingles(text)
            shared = sum(min(n, got.get(k, 0)) for k, n in gold.items())
            tp += shared
            fp += sum(got.values()) - shared
            fn += sum(gold.values()) - shared
        precision, recall, f1 = prf(tp, fp, fn)
        rows.append([name, f"{precision:.4f}", f"{recall:.4f}", f"{f1:.4f}", f"{len(pages) / outcome.seconds:.1f}"])
    print_table(f"AEB ({len(pages)} pages, 4-word shingles)", ["extractor", "precision", "recall", "F1", "pages/s"], rows)


# --- trafilatura's evaluation set ------------------------------------------------------------

def _normalise(text: str) -> str:
    return " ".join(text.split())


def trafilatura_eval(folder: Path, limit: int | None) -> None:
    data = json.loads((folder / "evaldata.json").read_text(encoding="utf-8"))
    pages = [
        Page(name=value["file"], url=url, body=gzip.decompress((folder / "html" / f"{value['file']}.gz").read_bytes()),
             gold=value)
        for url, value in sorted(data.items())
    ][:limit]
    outcomes = run(pages)
    rows = []
    for name, outcome in outcomes.items():
        tp = fp = fn = 0
        for page, text in zip(pages, outcome.texts):
            body = _normalise(text)
            for snippet in page.gold.get("with") or []:
                found = _normalise(snippet) in body
                tp += found
                fn += not found
            for snippet in page.gold.get("without") or []:
                fp += _normalise(snippet) in body
        precision, recall, f1 = prf(tp, fp, fn)
        rows.append([name, f"{precision:.4f}", f"{recall:.4f}", f"{f1:.4f}", f"{len(pages) / outcome.seconds:.1f}"])
    print_table(f"trafilatura-eval ({len(pages)} pages, snippets)", ["extractor", "precision", "recall", "F1", "pages/s"],
                rows)


def dates_and_titles(folder: Path, limit: int | None) -> None:
    """Document dates and titles on trafilatura-eval: the project's record beside
    ``htmldate.find_date(original_date=True)`` and trafilatura's metadata (date and title)."""
    import htmldate

    data = json.loads((folder / "evaldata.json").read_text(encoding="utf-8"))
    found: dict[str, dict[str, list]] = {name: {"dates": [], "titles": []}
                                          for name in ("archive-crawler", "htmldate", "trafilatura metadata")}
    sources: dict[str, list[int]] = {}
    pages = sorted(data.items())[:limit]
    for url, gold in pages:
        body = gzip.decompress((folder / "html" / f"{gold['file']}.gz").read_bytes())
        try:
            draft = read_page(body, url, follow=False, observe=False)
            record = build_record(body, url)
            date, title, source = record["document_date"], record["title"], draft.parts.date_source
        except PageSkipped:
            date = title = source = None
        found["archive-crawler"]["dates"].append(date)
        found["archive-crawler"]["titles"].append(title)
        try:
            found["htmldate"]["dates"].append(htmldate.find_date(body, url=url, original_date=True))
        except Exception:  # noqa: BLE001 - a failure is no date
            found["htmldate"]["dates"].append(None)
        found["htmldate"]["titles"].append(None)
        metadata = trafilatura.extract_metadata(body, default_url=url)
        found["trafilatura metadata"]["dates"].append(metadata.date if metadata else None)
        found["trafilatura metadata"]["titles"].append(metadata.title if metadata else None)
        if gold.get("date") and source:
            tally = sources.setdefault(source, [0, 0])
            tally[0] += 1
            tally[1] += date == gold["date"]
    dated_gold = [i for i, (_, gold) in enumerate(pages) if gold.get("date")]
    titled_gold = [i for i, (_, gold) in enumerate(pages) if gold.get("title")]
    rows = []
    for name, got in found.items():
        dates = got["dates"]
        given = [i for i in dated_gold if dates[i]]
        right = sum(dates[i] == pages[i][1]["date"] for i in given)
        at_precision = sum(pages[i][1]["date"].startswith(dates[i]) for i in given)
        titles = sum(_normalise(got["titles"][i] or "") == _normalise(pages[i][1]["title"]) for i in titled_gold)
        rows.append([name, f"{len(given)}/{len(dated_gold)}", f"{right} ({right / len(dated_gold):.1%})",
                     f"{at_precision}", f"{right / len(given):.3f}" if given else "-",
                     f"{titles}/{len(titled_gold)} ({titles / len(titled_gold):.1%})" if name != "htmldate" else "-"])
    print_table(f"trafilatura-eval dates and titles ({len(dated_gold)} pages with a date, {len(titled_gold)} with a title)",
                ["extractor", "dated", "date right (day)", "right at the stated precision", "right when dated",
                 "title exact"], rows)
    print_table("archive-crawler's document dates by source (pages with a gold date)", ["source", "pages", "right"],
                [[source, str(n), f"{ok} ({ok / n:.1%})"] for source, (n, ok) in sorted(sources.items())])


# --- the project's own mock archives ---------------------------------------------------------

# Strings of the derechos.org template that must never reach a record's text.
DERECHOS_BOILERPLATE = [
    "Bookshop | Donate", "Tienda | Donaciones", "Derechos | Equipo Nizkor", "EQUIPO NIZKOR", "Radio Nizkor",
    "[Source:", "[Fuente:", "small logo", "This document has been published", "Este documento ha sido publicado",
    "Title 17 U.S.C.", "Título 17 U.S.C.", "Human Rights Actions", "Please Help!", "HR around the world",
]


def derechos_pages() -> list[Page]:
    site = REPO / "fixtures" / "derechos"
    pages = []
    for line in (REPO / "fixtures" / "derechos.gold.jsonl").read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        path = record["url"].split("derechos.org", 1)[1]
        pages.append(Page(name=path, url=record["url"], body=(site / path.lstrip("/")).read_bytes(), gold=record))
    return pages


def otherarchive_pages() -> tuple[list[Page], BoilerplateModel]:
    """The second mock archive (no site profile) and the model a crawl of it learns from its pages."""
    site = REPO / "fixtures" / "otherarchive"
    model = BoilerplateModel(site="memorywatch.example")
    for path in sorted(site.rglob("*.html")):
        if "admin" not in path.parts:  # robots.txt forbids it
            url = f"http://memorywatch.example/{path.relative_to(site).as_posix()}"
            model.observe(read_page(path.read_bytes(), url).line_keys)
    pages = []
    for line in (REPO / "fixtures" / "otherarchive.gold.jsonl").read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        pages.append(Page(name=record["path"], url="http://memorywatch.example" + record["path"],
                          body=(site / record["path"].lstrip("/")).read_bytes(), gold=record))
    return pages, model


def fixture_archive(title: str, pages: list[Page], boilerplate: list[str], model: BoilerplateModel | None = None) -> None:
    extractors = dict(EXTRACTORS)
    if model is not None:
        def ours_learned(page: Page) -> tuple[str, str | None]:
            try:
                record = build_record(page.body, page.url, boilerplate=model)
            except PageSkipped:
                return "", None
            return record["text"], record["title"]

        extractors = {"archive-crawler (learned boilerplate)": ours_learned, **EXTRACTORS}
    outcomes = run(pages, extractors)
    rows = []
    for name, outcome in outcomes.items():
        text_right = sum(text == page.gold["text"] for page, text in zip(pages, outcome.texts))
        titles = outcome.titles if name.startswith("archive-crawler") else [trafilatura_title(page) for page in pages]
        title_right = sum(got == page.gold["title"] for page, got in zip(pages, titles))
        leaks = sum(text.count(s) for text in outcome.texts for s in boilerplate)
        leaky_pages = sum(any(s in text for s in boilerplate) for text in outcome.texts)
        sentences = [s for page in pages for s in re.split(r"(?<=[.!?])\s+|\n", page.gold["text"]) if s.strip()]
        joined = [_normalise(text) for text in outcome.texts]
        kept = sum(_normalise(s) in joined[i] for i, page in enumerate(pages)
                   for s in re.split(r"(?<=[.!?])\s+|\n", page.gold["text"]) if s.strip())
        rows.append([name, f"{text_right}/{len(pages)}", f"{title_right}/{len(pages)}", f"{kept}/{len(sentences)}",
                     str(leaks), str(leaky_pages), f"{len(pages) / outcome.seconds:.1f}"])
    print_table(title, ["extractor", "text exact", "title exact", "gold sentences kept", "boilerplate leaks",
                        "pages with leaks", "pages/s"], rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--aeb", type=Path, default=SHARED / "aeb")
    parser.add_argument("--trafilatura-eval", type=Path, default=SHARED / "trafilatura-eval")
    parser.add_argument("--limit", type=int, default=None, help="only the first N pages of each public set")
    args = parser.parse_args(argv)
    print(f"# Extraction benchmark (trafilatura {trafilatura.__version__})")
    fixture_archive("fixtures/derechos (mock derechos.org, site profile)", derechos_pages(), DERECHOS_BOILERPLATE)
    other, model = otherarchive_pages()
    other_boilerplate = [s for s in (REPO / "fixtures" / "otherarchive.boilerplate.txt").read_text(encoding="utf-8")
                         .splitlines() if s.strip()]
    fixture_archive(f"fixtures/otherarchive (no profile; model learned from its {model.pages} crawlable pages, "
                    "learning not timed)", other, other_boilerplate, model)
    for label, folder, bench in (("AEB", args.aeb, aeb), ("trafilatura-eval", args.trafilatura_eval, trafilatura_eval),
                                 ("trafilatura-eval", args.trafilatura_eval, dates_and_titles)):
        if folder.exists():
            bench(folder, args.limit)
        else:
            print(f"\n({label}: {folder} not found, skipped)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
