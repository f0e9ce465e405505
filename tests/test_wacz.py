"""WACZ packages (``archive-crawler wacz``, ``WACZ_FILE``): the fixture crawl's WARC files packaged
with the contract command hold the WARC files, their CDXJ index, every gold article page with its
title and a data package; ``wacz validate`` accepts them; a real pywb on 127.0.0.1 loads one and
replays the article pages. No mocks: real crawls, a real py-wacz, a real pywb."""

from __future__ import annotations

import gzip
import hashlib
import json
import shutil
import subprocess
import sys
import time
import urllib.request
import zipfile
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from warcio.timeutils import iso_date_to_timestamp

from conftest import BIN, LOCAL_CRAWL, REPO, SITE, read_jsonl
from test_crawl import final_stats

PAGES_HEADER = {"format": "json-pages-1.0", "id": "pages", "title": "Article pages"}


def run_cli(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "archive-crawler"), *args], cwd=REPO, capture_output=True, text=True,
                          timeout=timeout)


def members(path: Path) -> dict[str, zipfile.ZipInfo]:
    with zipfile.ZipFile(path) as archive:
        return {info.filename: info for info in archive.infolist()}


def read_member(path: Path, name: str) -> bytes:
    with zipfile.ZipFile(path) as archive:
        return archive.read(name)


def pages_of(path: Path) -> tuple[dict, list[dict]]:
    lines = [json.loads(line) for line in read_member(path, "pages/pages.jsonl").decode("utf-8").splitlines()]
    return lines[0], lines[1:]


def path_of(url: str) -> str:
    return urlsplit(url).path


def response_dates(warc_files) -> dict[str, set[str]]:
    """{url: WARC-Date of each 200 response} of these WARC files."""
    from warcio.archiveiterator import ArchiveIterator

    dates: dict[str, set[str]] = {}
    for path in warc_files:
        with open(path, "rb") as stream:
            for record in ArchiveIterator(stream):
                if record.rec_type == "response" and record.http_headers.get_statuscode() == "200":
                    dates.setdefault(record.rec_headers.get_header("WARC-Target-URI"), set()).add(
                        record.rec_headers.get_header("WARC-Date"))
    return dates


@pytest.fixture(scope="module")
def packaged(warc_crawl, tmp_path_factory):
    """The contract command on the crawl's WARC folder, with the crawl's records."""
    out = tmp_path_factory.mktemp("wacz") / "crawl.wacz"
    result = run_cli("wacz", str(warc_crawl["warc_dir"]), "-o", str(out), "--records", str(warc_crawl["output"]))
    assert result.returncode == 0, result.stderr[-3000:]
    return {"path": out, "result": result}


def test_the_command_writes_a_wacz_of_the_warc_files(packaged, warc_crawl):
    path = packaged["path"]
    names = members(path)
    warcs = warc_crawl["warc_files"]
    assert {"datapackage.json", "datapackage-digest.json", "pages/pages.jsonl",
            "indexes/index.cdx.gz", "indexes/index.idx"} <= set(names)
    assert {n for n in names if n.startswith("archive/")} == {f"archive/{w.name}" for w in warcs}
    for warc in warcs:  # byte for byte, and stored: replay reads them at their offsets
        assert read_member(path, f"archive/{warc.name}") == warc.read_bytes()
        assert names[f"archive/{warc.name}"].compress_type == zipfile.ZIP_STORED
    assert names["indexes/index.cdx.gz"].compress_type == zipfile.ZIP_STORED
    # One summary line on stderr, nothing else; no temporary file left beside the output.
    lines = packaged["result"].stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"archive-crawler: {path}: {len(warcs)} WARC file(s), ")
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]


def test_pages_list_every_gold_article_with_its_title(packaged, warc_crawl, gold):
    header, pages = pages_of(packaged["path"])
    assert header == PAGES_HEADER
    by_path = {path_of(page["url"]): page for page in pages}
    assert len(by_path) == len(pages) == len(warc_crawl["records"])
    assert set(by_path) == set(gold)  # the article pages, and only they
    for path, record in gold.items():
        assert by_path[path]["title"] == record["title"], path
        assert by_path[path]["url"] == warc_crawl["base_url"] + path
    # Each page names its capture: the WARC-Date of the 200 response of its URL.
    dates = response_dates(warc_crawl["warc_files"])
    for page in pages:
        assert page["ts"] in dates[page["url"]], page
        assert set(page) == {"id", "url", "ts", "title"}
    assert len({page["id"] for page in pages}) == len(pages)


def test_the_cdxj_index_has_every_page_and_every_response(packaged, warc_crawl):
    # ZipNum: gzip blocks of CDXJ lines, one after the other (gzip reads them as one stream).
    lines = gzip.decompress(read_member(packaged["path"], "indexes/index.cdx.gz")).decode("utf-8").splitlines()
    entries = [json.loads(line.split(" ", 2)[2]) | {"ts": line.split(" ", 2)[1]} for line in lines]
    names = {w.name for w in warc_crawl["warc_files"]}
    assert {e["filename"] for e in entries} <= names
    assert sum(1 for e in entries if "status" in e) == warc_crawl["stats"]["downloader/response_count"]
    indexed = {(e["url"], e["ts"]) for e in entries if e.get("status") == "200"}
    _, pages = pages_of(packaged["path"])
    for page in pages:
        assert (page["url"], iso_date_to_timestamp(page["ts"])) in indexed, page["url"]
    assert lines == sorted(lines)


def test_the_datapackage_lists_every_member_with_its_hash(packaged):
    path = packaged["path"]
    package = json.loads(read_member(path, "datapackage.json"))
    assert package["wacz_version"] == "1.1.1"
    assert package["profile"] == "data-package"
    assert package["title"].startswith("nizkor crawl of http://127.0.0.1:")
    assert package["software"].startswith("py-wacz ")
    listed = {r["path"]: r for r in package["resources"]}
    assert set(listed) == set(members(path)) - {"datapackage.json", "datapackage-digest.json"}
    for name, resource in listed.items():
        data = read_member(path, name)
        assert resource["bytes"] == len(data)
        assert resource["hash"] == "sha256:" + hashlib.sha256(data).hexdigest()
    digest = json.loads(read_member(path, "datapackage-digest.json"))
    assert digest["hash"] == "sha256:" + hashlib.sha256(read_member(path, "datapackage.json")).hexdigest()


def test_wacz_validate_accepts_it(packaged):
    result = subprocess.run([str(BIN / "wacz"), "validate", "-f", str(packaged["path"])],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Version detected as 1.1.1" in result.stdout
    assert "Validation succeeded, the passed WACZ is valid" in result.stdout


# pywb's FrontEndApp on a real WSGI server (gevent's, as `wayback` uses), port 0, in its own process
# (pywb monkey-patches with gevent when imported). The first line it prints is its port.
PYWB_SERVER = """
import sys
from gevent.pywsgi import WSGIServer
from pywb.apps.frontendapp import FrontEndApp

app = FrontEndApp(config_file=None, custom_config={"collections_root": sys.argv[1]})
server = WSGIServer(("127.0.0.1", 0), app, log=None)
server.start()
print("PORT", server.server_port, flush=True)
server.serve_forever()
"""


@pytest.fixture(scope="module")
def pywb(packaged, tmp_path_factory):
    """A pywb collection made from the WACZ by ``wb-manager add --unpack-wacz`` (its WARC files and
    its own CDXJ index), served on 127.0.0.1."""
    root = tmp_path_factory.mktemp("pywb")
    for command in (["init", "crawl"], ["add", "--unpack-wacz", "crawl", str(packaged["path"])]):
        result = subprocess.run([str(BIN / "wb-manager"), *command], cwd=root, capture_output=True, text=True,
                                timeout=300)
        assert result.returncode == 0, result.stderr[-3000:]
    index = root / "collections" / "crawl" / "indexes" / "index.cdxj"
    assert index.is_file() and index.stat().st_size > 0
    (root / "serve.py").write_text(PYWB_SERVER)
    server = subprocess.Popen([sys.executable, str(root / "serve.py"), str(root / "collections")], cwd=root,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        port = None
        deadline = time.monotonic() + 60
        while port is None and time.monotonic() < deadline:
            line = server.stdout.readline()
            if not line:
                break
            if line.startswith("PORT "):
                port = int(line.split()[1])
        assert port, "pywb did not start"
        yield f"http://127.0.0.1:{port}/crawl"
    finally:
        server.terminate()
        server.wait(timeout=30)


def visible_text(body: bytes, content_type: str | None) -> str:
    """The text of an HTML page, decoded as the crawl decodes pages, whitespace collapsed."""
    import lxml.html

    from pipelines.encoding import decode_html

    text = lxml.html.document_fromstring(decode_html(body, content_type).text).text_content()
    return " ".join(text.split())


def test_pywb_replays_every_article_page(pywb, packaged, warc_crawl):
    records = {r["url"]: r for r in warc_crawl["records"]}
    _, pages = pages_of(packaged["path"])
    assert pages
    for page in pages:
        ts = iso_date_to_timestamp(page["ts"])
        # The archived page, rewritten for replay (mp_: without pywb's frame).
        with urllib.request.urlopen(f"{pywb}/{ts}mp_/{page['url']}", timeout=30) as answer:
            assert answer.status == 200
            assert answer.headers.get("Memento-Datetime")
            body, content_type = answer.read(), answer.headers.get("Content-Type")
        text = visible_text(body, content_type)
        record = records[page["url"]]
        opening = " ".join(record["text"].split())[:60]
        assert opening in text, page["url"]
        # The captured bytes themselves (id_): the page the server sent.
        with urllib.request.urlopen(f"{pywb}/{ts}id_/{page['url']}", timeout=30) as answer:
            assert answer.read() == (SITE / path_of(page["url"]).lstrip("/")).read_bytes(), page["url"]


def test_without_records_the_record_engine_gives_the_same_pages(packaged, warc_crawl, tmp_path):
    out = tmp_path / "engine.wacz"
    result = run_cli("wacz", *map(str, warc_crawl["warc_files"]), "-o", str(out), "--workers", "1")
    assert result.returncode == 0, result.stderr[-3000:]
    made = {(p["url"], p["ts"], p["title"], p["id"]) for p in pages_of(out)[1]}
    assert made == {(p["url"], p["ts"], p["title"], p["id"]) for p in pages_of(packaged["path"])[1]}


@pytest.mark.parametrize("case", ["missing", "not_warc", "empty_folder", "not_wacz", "output_folder",
                                  "records_not_json", "records_missing", "same_name"])
def test_bad_input_is_one_line_and_exit_status_2(case, warc_crawl, tmp_path):
    warc_dir, records = str(warc_crawl["warc_dir"]), str(warc_crawl["output"])
    out = tmp_path / "out.wacz"
    (tmp_path / "empty").mkdir()
    (tmp_path / "other").mkdir()
    shutil.copy(warc_crawl["warc_files"][0], tmp_path / "other")
    args, says = {
        "missing": ([str(tmp_path / "nosuch"), "-o", str(out)], "no such WARC file or folder"),
        "not_warc": ([records, "-o", str(out)], "not a WARC file"),
        "empty_folder": ([str(tmp_path / "empty"), "-o", str(out)], "no WARC files"),
        "not_wacz": ([warc_dir, "-o", str(tmp_path / "out.zip")], "must be a .wacz file name"),
        "output_folder": ([warc_dir, "-o", str(tmp_path / "empty")], "is a folder, not a file"),
        "records_not_json": ([warc_dir, "-o", str(out), "--records", str(warc_crawl["warc_files"][0])], "is not JSON"),
        "records_missing": ([warc_dir, "-o", str(out), "--records", str(tmp_path / "nosuch.jsonl")], "no such records file"),
        "same_name": ([warc_dir, str(tmp_path / "other"), "-o", str(out)], "two WARC files are named"),
    }[case]
    result = run_cli("wacz", *args)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("archive-crawler: ") and says in lines[0], result.stderr
    assert "Traceback" not in result.stderr and not result.stdout
    assert not out.exists() and not (tmp_path / "out.zip").exists()


def test_records_of_another_crawl_are_refused(warc_crawl, tmp_path):
    """The gold records name the real site's URLs: none is in the fixture crawl's WARC files."""
    from conftest import GOLD

    out = tmp_path / "out.wacz"
    result = run_cli("wacz", str(warc_crawl["warc_dir"]), "-o", str(out), "--records", str(GOLD))
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "none of the 93 records has its page in these WARC files" in lines[0]
    assert "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------------------- WACZ_FILE


def crawl(site, folder: Path, *settings: str, log: str = "crawl.log") -> tuple[subprocess.CompletedProcess, str]:
    log_file = folder / log
    command = [str(BIN / "scrapy"), "crawl", "nizkor", "-a", f"start_url={site.base_url}/nizkor/",
               "-O", str(folder / "records.jsonl"), *LOCAL_CRAWL, "-s", f"CRAWL_STATE={folder / 'state'}",
               "-s", f"LOG_FILE={log_file}", "-s", "LOG_LEVEL=INFO", *settings]
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
    return result, log_file.read_text(encoding="utf-8") if log_file.exists() else ""


def test_wacz_file_packages_the_crawl_when_it_closes(fixture_site, warc_crawl, gold, tmp_path):
    warc_dir = tmp_path / "warc"
    warc_dir.mkdir()
    older = warc_dir / "nizkor-20000101000000-00000.warc.gz"  # an earlier run's file: not this run's
    shutil.copy(warc_crawl["warc_files"][0], older)
    result, log = crawl(fixture_site, tmp_path, "-s", f"WARC_DIR={warc_dir}",
                        "-s", f"WACZ_FILE={tmp_path / 'out' / '%(name)s.wacz'}")
    assert result.returncode == 0, log[-3000:]
    path = tmp_path / "out" / "nizkor.wacz"
    run_files = sorted(p for p in warc_dir.glob("*.warc.gz") if p != older)
    assert run_files
    assert {n for n in members(path) if n.startswith("archive/")} == {f"archive/{p.name}" for p in run_files}
    header, pages = pages_of(path)
    assert header == PAGES_HEADER
    records = read_jsonl(tmp_path / "records.jsonl")
    assert {(p["url"], p["title"]) for p in pages} == {(r["url"], r["title"]) for r in records}
    assert {path_of(p["url"]) for p in pages} == set(gold)
    assert f"WACZ: {path} ({len(run_files)} WARC file(s), {len(pages)} pages" in log
    assert f"'wacz/pages': {len(pages)}" in log and "Traceback" not in log
    validate = subprocess.run([str(BIN / "wacz"), "validate", "-f", str(path)], capture_output=True, text=True,
                              timeout=300)
    assert validate.returncode == 0 and "Validation succeeded" in validate.stdout, validate.stdout[-2000:]

    # A re-crawl that finds nothing new: its WACZ has its own WARC file and an empty pages list.
    first_records = tmp_path / "first.jsonl"
    shutil.copy(tmp_path / "records.jsonl", first_records)
    again, log = crawl(fixture_site, tmp_path, "-s", f"WARC_DIR={warc_dir}", "-s", f"WACZ_FILE={path}", log="again.log")
    assert again.returncode == 0, log[-3000:]
    assert read_jsonl(tmp_path / "records.jsonl") == []
    assert pages_of(path) == (PAGES_HEADER, [])
    archived = {n for n in members(path) if n.startswith("archive/")}
    assert len(archived) == 1 and archived.isdisjoint({f"archive/{p.name}" for p in run_files})
    assert "WACZ: this run wrote no record: pages/pages.jsonl lists no page" in log
    # Its revisits refer to the first run's captures, which are not in it: said, and counted.
    revisits = final_stats(log).get("warc/records/revisit", 0)
    assert final_stats(log)["wacz/unresolved_revisits"] == revisits
    assert (f"WACZ: {revisits} revisit record(s) of this run refer to earlier runs' captures" in log) == (revisits > 0)
    # The whole folder (every run) is self-contained: no revisit without its capture.
    whole = run_cli("wacz", str(warc_dir), "-o", str(tmp_path / "all.wacz"), "--records", str(first_records))
    assert whole.returncode == 0, whole.stderr
    assert len(whole.stderr.splitlines()) == 1 and "revisit" not in whole.stderr
    assert {n for n in members(tmp_path / "all.wacz") if n.startswith("archive/")} == {
        f"archive/{p.name}" for p in warc_dir.glob("*.warc.gz")}


@pytest.mark.parametrize("case", ["no_warc_dir", "not_wacz", "under_a_file"])
def test_a_wacz_file_that_cannot_be_written_stops_the_crawl_at_once(case, fixture_site, tmp_path):
    (tmp_path / "afile").write_text("x")
    settings = {
        "no_warc_dir": ["-s", f"WACZ_FILE={tmp_path / 'crawl.wacz'}"],
        "not_wacz": ["-s", f"WARC_DIR={tmp_path / 'warc'}", "-s", f"WACZ_FILE={tmp_path / 'crawl.zip'}"],
        "under_a_file": ["-s", f"WARC_DIR={tmp_path / 'warc'}", "-s", f"WACZ_FILE={tmp_path / 'afile' / 'x.wacz'}"],
    }[case]
    started = len(fixture_site.requests)
    result, log = crawl(fixture_site, tmp_path, *settings)
    assert result.returncode == 1
    said = [line for line in log.splitlines() if " ERROR: " in line]
    assert len(said) == 2, said
    assert "Cannot write the WACZ file, closing the spider: WACZ_FILE=" in said[0]
    assert "Crawl failed: the output could not be written: WACZ_FILE=" in said[1]
    assert "Traceback" not in log + result.stderr
    assert len(fixture_site.requests) == started  # nothing was fetched
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["status"] == "failed" and "WACZ_FILE" in report["failure_reason"]


def test_a_packaging_failure_fails_the_crawl(fixture_site, tmp_path):
    """The WACZ file's place is taken by a folder while the crawl runs: packaging fails at the end."""
    warc_dir, path = tmp_path / "warc", tmp_path / "crawl.wacz"
    log_file = tmp_path / "crawl.log"
    command = [str(BIN / "scrapy"), "crawl", "nizkor", "-a", f"start_url={fixture_site.base_url}/nizkor/",
               "-O", str(tmp_path / "records.jsonl"), "-s", "DOWNLOAD_DELAY=0.02", "-s", "AUTOTHROTTLE_ENABLED=False",
               "-s", f"CRAWL_STATE={tmp_path / 'state'}", "-s", f"WARC_DIR={warc_dir}", "-s", f"WACZ_FILE={path}",
               "-s", f"LOG_FILE={log_file}"]
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not any(warc_dir.glob("*.warc.gz")) and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        (path / "taken").mkdir(parents=True)  # the spider is open, its checks are done
        _, stderr = process.communicate(timeout=300)
    finally:
        if process.poll() is None:
            process.kill()
    log = log_file.read_text(encoding="utf-8")
    assert process.returncode == 1, log[-3000:]
    said = [line for line in log.splitlines() if "[crawler.wacz] ERROR" in line]
    assert len(said) == 1 and f"Cannot write the WACZ file {path}: " in said[0], said
    assert "'wacz/failed_reason'" in log and "'archive/failed_reason'" in log
    assert "Traceback" not in log + stderr
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []  # no partial file
