"""Bad input (issue 10, point 7): every mistake a new user can make gets one clear line naming the
problem and a non-zero exit status where it failed, never a traceback.

Each test runs the real command (``scrapy crawl``, ``archive-crawler ...``) as a subprocess, against
the fixture archive on 127.0.0.1 where it needs a site."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from conftest import BIN, LOCAL_CRAWL, REPO, SITE, read_jsonl

SCRAPY = str(BIN / "scrapy")
CLI = str(BIN / "archive-crawler")
PAGE = SITE / "nizkor" / "espana" / "doc" / "cat1233.html"
PAGE_URL = "https://www.derechos.org/nizkor/espana/doc/cat1233.html"


def run(command: list[str], *, timeout: int = 120, env: dict | None = None, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=REPO, capture_output=True, timeout=timeout,
                          env={**os.environ, **(env or {})}, **kwargs)


def text(result: subprocess.CompletedProcess) -> tuple[str, str]:
    out, err = result.stdout, result.stderr
    if isinstance(out, bytes):
        out, err = out.decode("utf-8", "replace"), err.decode("utf-8", "replace")
    return out, err


def no_traceback(result: subprocess.CompletedProcess) -> None:
    out, err = text(result)
    assert "Traceback" not in out + err, err[-4000:]


def lines_with(stream: str, needle: str) -> list[str]:
    return [line for line in stream.splitlines() if needle in line]


def crawl(spider: str, *args: str, timeout: int = 120) -> subprocess.CompletedProcess:
    return run([SCRAPY, "crawl", spider, *args], timeout=timeout, text=True)


# 1, 2: a spider that refuses its arguments -------------------------------------------------------


@pytest.mark.parametrize(
    ("spider", "start_url", "message"),
    [
        ("nizkor", "notaurl", "start_url must be an http(s) URL with a host, got 'notaurl'"),
        ("nizkor", "ftp://x", "start_url must be an http(s) URL with a host, got 'ftp://x'"),
        ("archive", None, "spider 'archive' needs -a start_url=URL"),
        # A real site and no CONTACT_URL: refused before any network.
        ("nizkor", "https://example.org/", "CONTACT_URL is required to crawl a real site"),
    ],
    ids=["notaurl", "ftp", "archive-without-start-url", "real-site-without-contact"],
)
def test_a_spider_that_refuses_its_arguments_says_why_in_one_line(tmp_path, spider, start_url, message):
    output = tmp_path / "out" / "records.jsonl"
    args = ["-a", f"start_url={start_url}"] if start_url is not None else []
    result = crawl(spider, *args, "-O", str(output), "-s", f"CRAWL_STATE={tmp_path / 'state'}")
    assert result.returncode == 1
    no_traceback(result)
    [line] = lines_with(result.stderr, "ERROR")
    assert "Crawl failed: the spider could not start: ValueError: " + message in line
    # The report is written as before, with the same reason.
    report = json.loads((output.parent / "report.json").read_text(encoding="utf-8"))
    assert report["status"] == "failed" and report["exit_status"] == 1
    assert report["finish_reason"] == "could_not_start" and message in report["failure_reason"]


# 3: an unknown spider ----------------------------------------------------------------------------


def test_an_unknown_spider_is_a_usage_error_naming_the_known_ones(tmp_path):
    result = crawl("nosuch", "-O", str(tmp_path / "out.jsonl"))
    assert result.returncode == 2
    no_traceback(result)
    [line] = lines_with(result.stderr, "nosuch")
    assert line.endswith("unknown spider 'nosuch' (known: archive, nizkor)")
    assert "KeyError" not in result.stderr


# 4, 5: outputs that cannot be files --------------------------------------------------------------


def test_an_output_under_a_regular_file_stops_the_crawl_in_one_line(fixture_site, tmp_path):
    (tmp_path / "afile").write_text("a file, not a folder\n", encoding="utf-8")
    state = tmp_path / "state"
    started = len(fixture_site.requests)
    result = crawl("nizkor", "-a", f"start_url={fixture_site.base_url}/nizkor/", "-O",
                   str(tmp_path / "afile" / "out.jsonl"), *LOCAL_CRAWL, "-s", f"CRAWL_STATE={state}")
    assert result.returncode == 1
    no_traceback(result)
    assert "Task exception was never retrieved" not in result.stderr
    [line] = lines_with(result.stderr, "Cannot write the output")
    assert f"{tmp_path / 'afile'} is a file, not a folder" in line
    assert len(fixture_site.requests) == started
    report = json.loads((state / "report.json").read_text(encoding="utf-8"))
    assert report["finish_reason"] == "output_unwritable" and report["status"] == "failed"


def test_a_batch_file_that_cannot_be_opened_stops_the_crawl_in_one_line(fixture_site, tmp_path):
    # The batch's folder is only known at the first record, and is then a file.
    (tmp_path / "batch1").write_text("a file where the first batch's folder should be\n", encoding="utf-8")
    state = tmp_path / "state"
    result = crawl("nizkor", "-a", f"start_url={fixture_site.base_url}/nizkor/", "-O",
                   str(tmp_path / "batch%(batch_id)d" / "records.jsonl"), *LOCAL_CRAWL, "-s", f"CRAWL_STATE={state}")
    assert result.returncode == 1
    no_traceback(result)
    assert "Error caught on signal handler" not in result.stderr
    [line] = lines_with(result.stderr, "Cannot write the output")
    assert f"cannot open {tmp_path / 'batch1' / 'records.jsonl'}: {tmp_path / 'batch1'} is a file" in line
    report = json.loads((state / "report.json").read_text(encoding="utf-8"))
    assert report["finish_reason"] == "output_unwritable" and report["status"] == "failed"


@pytest.mark.parametrize(("option", "exists"), [("-O", True), ("-o", True), ("-O", False)],
                         ids=["-O-existing", "-o-existing", "-O-trailing-slash"])
def test_an_output_that_is_a_folder_is_a_usage_error(tmp_path, option, exists):
    folder = tmp_path / "existing"
    if exists:
        folder.mkdir()
    result = crawl("nizkor", "-a", "start_url=http://127.0.0.1:9/nizkor/", option,
                   str(folder) if exists else f"{folder}/")
    assert result.returncode == 2
    no_traceback(result)
    [line] = lines_with(result.stderr, "error:")
    assert f"the output {folder} is a folder, not a file: give a file name, e.g. {option} {folder}/records.jsonl" in line
    assert "Unrecognized output format" not in result.stderr
    assert not exists or list(folder.iterdir()) == []


# 6: datelines on bytes that are not UTF-8 ---------------------------------------------------------

LATIN1_LINES = "BOGOTÁ, 12 mar 1990 (EFE) -- El ejército colombiano\nSAN SALVADOR, 3 de mayo de 1995 (AFP) - Algo\n"


@pytest.mark.parametrize("locale", [None, "strict-utf-8"])
@pytest.mark.parametrize("encoding", ["latin-1", "utf-8"])
def test_datelines_decodes_its_input_and_never_crashes(locale, encoding):
    env = {"LC_ALL": "C.UTF-8", "PYTHONIOENCODING": "utf-8:strict"} if locale else {}
    result = run([CLI, "datelines"], input=LATIN1_LINES.encode(encoding), env=env)
    assert result.returncode == 0, result.stderr.decode("utf-8", "replace")
    no_traceback(result)
    answers = [json.loads(line) for line in result.stdout.decode("utf-8").splitlines()]
    assert answers == [
        {"place": "BOGOTÁ", "date": "1990-03-12", "agency": "EFE", "raw": "BOGOTÁ, 12 mar 1990 (EFE) --"},
        {"place": "SAN SALVADOR", "date": "1995-05-03", "agency": "AFP", "raw": "SAN SALVADOR, 3 de mayo de 1995 (AFP) -"},
    ]


def test_datelines_writes_utf_8_whatever_the_locale():
    result = run([CLI, "datelines"], input=LATIN1_LINES.encode("latin-1"),
                 env={"LC_ALL": "C", "PYTHONIOENCODING": "ascii:strict"})
    assert result.returncode == 0
    no_traceback(result)
    assert json.loads(result.stdout.decode("utf-8").splitlines()[0])["place"] == "BOGOTÁ"


# 7: extract refuses what cannot be a record's URL --------------------------------------------------


@pytest.mark.parametrize("url", ["notaurl", "ftp://www.derechos.org/x.html", "http://", "https://www.derechos.org/a b.html",
                                 "HTTP://WWW.DERECHOS.ORG/x.html", "https://www.derechos.org:99999/x", "https://[::1/x"])
def test_extract_refuses_a_url_that_cannot_be_a_record_url(url):
    result = run([CLI, "extract", "--url", url, str(PAGE)], text=True)
    assert result.returncode == 2
    no_traceback(result)
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith("archive-crawler: --url ") and repr(url) in line


def test_extract_prints_only_records_that_match_the_schema():
    from pipelines.validation import record_errors

    result = run([CLI, "extract", "--url", PAGE_URL, str(PAGE), "--url", PAGE_URL.replace("cat1233", "other"),
                  str(SITE / "nizkor" / "index.html")], text=True)
    no_traceback(result)
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert records and all(record_errors(record) == [] for record in records)


# 8: reprocess of files that are not WARC files -------------------------------------------------


def _warcinfo_only(path: Path) -> None:
    from warcio.warcwriter import WARCWriter

    with open(path, "wb") as stream:
        writer = WARCWriter(stream, gzip=True)
        writer.write_record(writer.create_warcinfo_record(path.name, {"software": "test"}))


@pytest.mark.parametrize("kind", ["jsonl", "empty", "empty-gzip", "folder"])
def test_reprocess_refuses_a_file_that_is_not_a_warc_file(tmp_path, kind):
    path = tmp_path / {"jsonl": "records.jsonl", "empty": "empty.warc", "empty-gzip": "empty.warc.gz",
                       "folder": "warc"}[kind]
    if kind == "jsonl":
        path.write_bytes((REPO / "fixtures" / "derechos.gold.jsonl").read_bytes())
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "empty-gzip":
        path.write_bytes(gzip.compress(b""))
    else:
        path.mkdir()
    output = tmp_path / "out.jsonl"
    result = run([CLI, "reprocess", str(path), "-o", str(output)], text=True)
    assert result.returncode == 2
    no_traceback(result)
    [line] = result.stderr.splitlines()  # no warcio warnings
    assert line.startswith(f"archive-crawler: not a WARC file: {path}")
    if kind.startswith("empty"):
        assert "empty" in line
    assert not output.exists()


def test_reprocess_of_a_warc_file_without_responses_says_so(tmp_path):
    path = tmp_path / "info-only.warc.gz"
    _warcinfo_only(path)
    result = run([CLI, "reprocess", str(path), "-o", str(tmp_path / "out.jsonl"), "--workers", "0"], text=True)
    assert result.returncode == 1
    no_traceback(result)
    assert lines_with(result.stderr, f"no HTTP response in {path}: nothing to reprocess")


# 9: Ctrl-C during a crawl -------------------------------------------------------------------------


def test_ctrl_c_interrupts_the_crawl_and_the_same_command_finishes_it(fixture_site, gold, tmp_path):
    state, output = tmp_path / "state", tmp_path / "records.jsonl"
    # Slow enough that the signal lands mid-crawl (one page every 0.15 s).
    command = [SCRAPY, "crawl", "nizkor", "-a", f"start_url={fixture_site.base_url}/nizkor/", "-O", str(output),
               "-s", f"CRAWL_STATE={state}", "-s", "DOWNLOAD_DELAY=0.15", "-s", "AUTOTHROTTLE_ENABLED=False",
               "-s", "DOWNLOAD_DELAY_JITTER=0"]
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None:
            if output.exists() and output.read_bytes().count(b"\n") >= 3:
                break
            time.sleep(0.05)
        assert process.poll() is None, "the crawl ended before it could be interrupted"
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 130, stderr[-3000:]
    assert "Traceback" not in stdout + stderr
    assert lines_with(stderr, "Crawl interrupted: run the same command again")
    report = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert report["status"] == "interrupted" and report["exit_status"] == 130
    assert report["finish_reason"] == "shutdown" and report["failure_reason"] is None
    markdown = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "| status | **INTERRUPTED**" in markdown and "| exit status | 130 |" in markdown
    first = output.read_bytes()
    assert first.count(b"\n") < len(gold), "the crawl was not interrupted"

    resumed = run(command[:-6] + LOCAL_CRAWL, timeout=300, text=True)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    no_traceback(resumed)
    assert "Resuming crawl" in resumed.stderr
    records = [json.loads(line) for line in (first + output.read_bytes()).decode("utf-8").splitlines()]
    paths = Counter(urlsplit(record["url"]).path for record in records)
    assert sorted(paths) == sorted(gold), "a record was lost"
    assert set(paths.values()) == {1}, f"written twice: {[p for p, n in paths.items() if n > 1]}"
    assert json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))["status"] == "ok"


def test_an_interrupted_scheduled_run_is_resumed():
    from datetime import datetime, timezone

    from crawler.schedule import decide

    runs = [{"started": "2026-11-23T03:00:10Z", "ended": "2026-11-23T03:05:00Z", "exit_status": 130}]
    decision = decide("0 3 * * 1", runs, datetime(2026, 11, 23, 3, 6, tzinfo=timezone.utc))
    assert decision.due and "interrupted" in decision.reason
    runs[0]["exit_status"] = 1
    assert not decide("0 3 * * 1", runs, datetime(2026, 11, 23, 3, 6, tzinfo=timezone.utc)).due


# 10: crawls.toml entries that could not start at their slot ---------------------------------------


def test_the_schedule_checks_the_whole_config_before_any_slot_runs(fixture_site, tmp_path):
    good = f"{fixture_site.base_url}/nizkor/"
    config = tmp_path / "crawls.toml"
    config.write_text(
        f'[[crawl]]\nname = "good"\nspider = "nizkor"\nstart_url = "{good}"\nschedule = "@daily"\noutput = "out/good"\n'
        '\n[[crawl]]\nname = "typo"\nspider = "nizkr"\nstart_url = "https://www.derechos.org/nizkor/"\n'
        'schedule = "@daily"\noutput = "out/typo"\nsettings = { CONTACT_URL = "https://example.org/contact" }\n'
        '\n[[crawl]]\nname = "anonymous"\nspider = "archive"\nstart_url = "https://archive.example.net/"\n'
        'schedule = "@daily"\noutput = "out/anonymous"\n'
        '\n[[crawl]]\nname = "nowhere"\nspider = "archive"\nschedule = "@daily"\noutput = "out/nowhere"\n',
        encoding="utf-8",
    )
    started = len(fixture_site.requests)
    for command in ("check", "run", "list"):
        result = subprocess.run([CLI, "schedule", command, "--config", str(config)], cwd=tmp_path,
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 2, (command, result.stdout, result.stderr)
        no_traceback(result)
        problems = result.stderr.splitlines()
        assert len(problems) == 3, problems
        typo, anonymous, nowhere = problems
        assert "crawl 'typo': unknown spider 'nizkr' (known: archive, nizkor)" in typo
        assert "crawl 'anonymous': https://archive.example.net/ is a real site" in anonymous
        assert "CONTACT_URL" in anonymous
        assert "crawl 'nowhere': start_url is missing" in nowhere
        assert all(line.startswith(f"archive-crawler: {config}: ") for line in problems)
    assert not (tmp_path / "out").exists(), "a crawl ran"
    assert len(fixture_site.requests) == started

    config.write_text(config.read_text(encoding="utf-8").split("\n\n")[0] + "\n", encoding="utf-8")
    result = subprocess.run([CLI, "schedule", "check", "--config", str(config)], cwd=tmp_path,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and "no problems" in result.stderr


# 11: a resumed run with little left to do ---------------------------------------------------------


def test_a_resumed_run_whose_last_requests_were_refused_or_gone_succeeds(fixture_site, tmp_path):
    """The last run did everything but a page robots.txt refuses and a page now gone; the resumed
    run fetches only those two: neither is a failed request."""
    from crawler.state import STATE_FILE, CrawlState
    from pipelines.profiles import load_profile
    from pipelines.urls import canonical_url

    profile = load_profile("derechos.org")
    start = f"{fixture_site.base_url}/nizkor/"
    refused = f"{fixture_site.base_url}/nizkor/privado/nota.html"  # robots.txt: Disallow: /nizkor/privado/
    gone = f"{fixture_site.base_url}/nizkor/doc/no-such-page.html"
    state = CrawlState(tmp_path / "state" / STATE_FILE)
    state.begin_run(None)
    for url in (start, refused, gone):
        state.queue(canonical_url(url, profile), url)
    state.fetched(canonical_url(start, profile), start, 200, None, None, done=True)
    state.close()  # the run's end never recorded: the next run resumes the crawl

    output = tmp_path / "records.jsonl"
    since = len(fixture_site.requests)
    result = crawl("nizkor", "-a", f"start_url={start}", "-O", str(output), *LOCAL_CRAWL,
                   "-s", f"CRAWL_STATE={tmp_path / 'state'}")
    assert result.returncode == 0, result.stderr[-3000:]
    no_traceback(result)
    assert "Resuming crawl" in result.stderr and "Crawl failed" not in result.stderr
    paths = [urlsplit(request["path"]).path for request in list(fixture_site.requests)[since:]]
    assert "/nizkor/doc/no-such-page.html" in paths and "/nizkor/privado/nota.html" not in paths
    report = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert report["status"] == "ok" and report["exit_status"] == 0
    assert report["skipped"]["robots"] == 1 and report["pages"]["gone"] == 1
    assert read_jsonl(output) == []
