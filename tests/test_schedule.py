"""Recurring crawls (crawls.toml, `archive-crawler schedule run|list`): due slots, missed slots, the lock.

Crawls run for real, as `scrapy crawl` subprocesses of real `archive-crawler schedule run` processes,
against the fixture site on 127.0.0.1; what happened is read from the run log (runs.json) and from the
fixture server's request log, never from timing."""

from __future__ import annotations

import fcntl
import json
import os
import re
import signal
import subprocess
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from conftest import BIN, REPO, read_jsonl
from crawler.schedule import (
    LOCK_FILE,
    MAX_ATTEMPTS,
    RUN_LOG,
    Crawl,
    ConfigError,
    crawl_command,
    decide,
    latest_slot,
    load_config,
    next_slot,
)

CLI = str(BIN / "archive-crawler")
WEEKLY = "0 3 * * 1"  # Mondays 03:00 UTC; 2026-11-23 is a Monday
FAST = {"DOWNLOAD_DELAY": 0, "AUTOTHROTTLE_ENABLED": False, "CONCURRENT_REQUESTS_PER_DOMAIN": 8,
        "CONTACT_URL": "https://example.org/contact"}
# Slow enough that a crawl is still running when a second caller comes (about 5 s for the site).
SLOW = {"DOWNLOAD_DELAY": 0.05, "AUTOTHROTTLE_ENABLED": False, "CONTACT_URL": "https://example.org/contact"}


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


def toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value)


def write_config(folder: Path, start_url: str, settings: dict, *, name: str = "fixture",
                 schedule: str = WEEKLY, spider: str = "nizkor") -> Path:
    table = ", ".join(f"{key} = {toml_value(value)}" for key, value in settings.items())
    config = folder / "crawls.toml"
    config.write_text(
        f'[[crawl]]\nname = "{name}"\nspider = "{spider}"\nstart_url = "{start_url}"\n'
        f'schedule = "{schedule}"\noutput = "out/{name}"\nsettings = {{ {table} }}\n',
        encoding="utf-8",
    )
    return config


def schedule(*args: str, cwd: Path, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([CLI, "schedule", *args], cwd=cwd, capture_output=True, text=True, timeout=timeout)


def runs_of(folder: Path) -> list[dict]:
    path = folder / RUN_LOG
    return json.loads(path.read_text(encoding="utf-8"))["runs"] if path.exists() else []


def requested(fixture_site, since: int, path: str) -> int:
    return sum(1 for request in list(fixture_site.requests)[since:] if request["path"] == path)


def wait_for(predicate, what: str, limit: float = 60.0):
    """Poll until ``predicate()`` is true (a synchronisation point, not a timing assertion)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"gave up waiting for {what}")


# Slots and decisions (pure functions) ------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "latest", "following"),
    [
        ("2026-11-23T02:59:59", "2026-11-16T03:00:00", "2026-11-23T03:00:00"),
        ("2026-11-23T03:00:00", "2026-11-23T03:00:00", "2026-11-30T03:00:00"),  # a slot counts at its minute
        ("2026-11-23T03:00:59", "2026-11-23T03:00:00", "2026-11-30T03:00:00"),
        ("2026-11-25T12:00:00", "2026-11-23T03:00:00", "2026-11-30T03:00:00"),
    ],
)
def test_latest_and_next_slot(now, latest, following):
    assert latest_slot(WEEKLY, at(now)) == at(latest)
    assert next_slot(WEEKLY, at(now)) == at(following)


def run(started: str, ended: str | None = "+", status: int | None = 0) -> dict:
    if ended == "+":
        ended = started
    return {"started": started, "ended": ended, "exit_status": status if ended else None}


@pytest.mark.parametrize(
    ("runs", "now", "due"),
    [
        ([], "2026-11-25T12:00:00", True),  # never run: due at once
        ([run("2026-11-23T03:00:05Z")], "2026-11-23T03:01:00", False),  # the slot's run is done
        ([run("2026-11-23T03:00:05Z")], "2026-11-29T23:59:59", False),
        ([run("2026-11-23T03:00:05Z")], "2026-11-30T03:00:00", True),  # the next slot
        ([run("2026-11-23T03:00:05Z", status=1)], "2026-11-24T00:00:00", False),  # a failure waits for its next slot
        ([run("2026-11-22T10:00:00Z")], "2026-11-23T03:00:00", True),  # ran before this slot
        ([run("2026-11-23T03:00:00Z")], "2026-11-23T03:00:00", False),  # started at the slot itself
    ],
)
def test_due_and_not_due_at_several_times(runs, now, due):
    assert decide(WEEKLY, runs, at(now)).due is due


def test_missed_slots_give_one_run():
    runs = [run("2026-11-02T03:00:10Z")]
    now = at("2026-11-24T08:00:00")  # three Monday slots later (9th, 16th, 23rd): the machine was off
    decision = decide(WEEKLY, runs, now)
    assert decision.due and decision.slot == at("2026-11-23T03:00:00")
    runs.append(run("2026-11-24T08:00:00Z"))
    for later in ("2026-11-24T08:01:00", "2026-11-26T00:00:00", "2026-11-30T02:59:00"):
        assert not decide(WEEKLY, runs, at(later)).due, later
    assert decide(WEEKLY, runs, at("2026-11-30T03:00:00")).due


def test_an_interrupted_run_is_resumed_a_few_times_per_slot():
    runs = [run("2026-11-23T03:00:05Z", ended=None)]  # started, never recorded an end, lock free
    decision = decide(WEEKLY, runs, at("2026-11-23T03:10:00"))
    assert decision.due and "interrupted" in decision.reason
    runs += [run(f"2026-11-23T03:1{i}:00Z", ended=None) for i in range(MAX_ATTEMPTS - 1)]
    assert not decide(WEEKLY, runs, at("2026-11-23T04:00:00")).due
    assert decide(WEEKLY, runs, at("2026-11-30T03:00:00")).due


# Configuration ---------------------------------------------------------------------------------


def test_the_example_crawls_toml_loads():
    crawls = load_config(REPO / "crawls.toml")
    crawl = next(c for c in crawls if c.name == "nizkor-weekly")
    assert crawl.spider == "nizkor" and crawl.schedule == "0 3 * * 1"
    assert crawl.start_url == "https://www.derechos.org/nizkor/"
    assert crawl.output == REPO / "crawls" / "nizkor-weekly"
    assert dict(crawl.settings)["CONTACT_URL"].startswith("https://")


def test_the_crawl_command():
    crawl = Crawl(name="x", spider="nizkor", schedule=WEEKLY, output=Path("/data/x"), workdir=Path("/data"),
                  start_url="http://127.0.0.1:8000/nizkor/", settings=(("DOWNLOAD_DELAY", "0"), ("FEED_FSYNC", "True")))
    assert crawl_command(crawl, Path("/data/x/20261123T030000Z.jsonl"), python="python") == [
        "python", "-m", "scrapy", "crawl", "nizkor", "-a", "start_url=http://127.0.0.1:8000/nizkor/",
        "-O", "/data/x/20261123T030000Z.jsonl", "-s", "CRAWL_STATE=/data/x/state",
        "-s", "DOWNLOAD_DELAY=0", "-s", "FEED_FSYNC=True",
    ]


GOOD = '[[crawl]]\nname = "a"\nspider = "nizkor"\nschedule = "0 3 * * 1"\noutput = "out/a"\n'


BAD_CONFIGS = [
    (None, "no such file"),
    ("[[crawl]\nname = ", "not valid TOML"),
    ("", "no crawls"),
    ('name = "a"\n', "unknown top-level key"),
    (GOOD.replace('schedule = "0 3 * * 1"', 'schedule = "61 3 * * 1"'), "not a cron expression"),
    (GOOD.replace('schedule = "0 3 * * 1"', 'schedule = "0 0 3 * * 1"'), "not a cron expression"),
    (GOOD.replace('spider = "nizkor"\n', ""), "spider is missing"),
    (GOOD.replace('output = "out/a"', 'output = "out/a"\nshedule = "x"'), "unknown key(s) shedule"),
    (GOOD + 'start_url = "ftp://example.org/"\n', "start_url must be an http(s) URL"),
    (GOOD + 'settings = { CRAWL_STATE = "elsewhere" }\n', "set by the schedule"),
    (GOOD + 'settings = { DOWNLOAD_DELAY = [1] }\n', "must be a string, a number or a boolean"),
    (GOOD + 'settings = { download_delay = 1 }\n', "not a Scrapy setting name"),
    (GOOD + GOOD, "two crawls are named 'a'"),
    (GOOD + GOOD.replace('name = "a"', 'name = "b"'), "the same output folder"),
    (GOOD.replace('name = "a"', 'name = "a b"'), "name may hold only"),
]


@pytest.mark.parametrize(("text", "message"), BAD_CONFIGS, ids=[message for _, message in BAD_CONFIGS])
def test_a_bad_config_is_a_clear_error_with_exit_status_2(tmp_path, text, message):
    config = tmp_path / "crawls.toml"
    if text is not None:
        config.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_config(config)
    result = schedule("run", "--config", str(config), cwd=tmp_path, timeout=60)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert message in result.stderr and str(config) in result.stderr
    assert not (tmp_path / "out").exists()


def test_schedule_list_with_a_bad_config_exits_2(tmp_path):
    config = tmp_path / "crawls.toml"
    config.write_text(GOOD.replace("0 3 * * 1", "every monday"), encoding="utf-8")
    result = schedule("list", "--config", str(config), cwd=tmp_path, timeout=60)
    assert result.returncode == 2 and "not a cron expression" in result.stderr


def test_a_bad_now_is_a_usage_error(tmp_path):
    result = schedule("run", "--now", "next monday", cwd=tmp_path, timeout=60)
    assert result.returncode == 2 and "not an ISO date-time" in result.stderr


# Real runs ---------------------------------------------------------------------------------------


def test_due_not_due_and_a_missed_slot_run_once(fixture_site, tmp_path, gold):
    config = write_config(tmp_path, f"{fixture_site.base_url}/nizkor/", FAST)
    folder = tmp_path / "out" / "fixture"
    since = len(fixture_site.requests)

    listed = schedule("list", "--config", str(config), "--json", "--now", "2026-11-23T03:00:30Z", cwd=tmp_path)
    assert listed.returncode == 0 and json.loads(listed.stdout)["due"] is True

    # Never run: due at once.
    first = schedule("run", "--config", str(config), "--now", "2026-11-23T03:00:30Z", cwd=tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "fixture: started 2026-11-23T03:00:30Z" in first.stdout and "exit status 0" in first.stdout
    [done] = runs_of(folder)
    assert done["slot"] == "2026-11-23T03:00:00Z" and done["started"] == "2026-11-23T03:00:30Z"
    assert done["exit_status"] == 0 and done["ended"] >= done["started"]
    records = read_jsonl(folder / done["output"])
    assert len(records) == len(gold)
    assert (folder / done["log"]).is_file()
    assert requested(fixture_site, since, "/robots.txt") == 1

    # Called every minute after that: nothing to do until the next slot, and nothing is fetched.
    for now in ("2026-11-23T03:01:00Z", "2026-11-24T12:00:00Z", "2026-11-30T02:59:59Z"):
        since = len(fixture_site.requests)
        idle = schedule("run", "--config", str(config), "--now", now, "-v", cwd=tmp_path)
        assert idle.returncode == 0 and "fixture: not due" in idle.stdout, idle.stdout
        assert "started" not in idle.stdout
        assert len(fixture_site.requests) == since
    assert len(runs_of(folder)) == 1
    listed = schedule("list", "--config", str(config), "--json", "--now", "2026-11-24T12:00:00Z", cwd=tmp_path)
    row = json.loads(listed.stdout)
    assert row["due"] is False and row["next_slot"] == "2026-11-30T03:00:00Z"
    assert row["last_run"]["exit_status"] == 0

    # The machine was off for three slots (Nov 30, Dec 7, Dec 14): one run, not three.
    since = len(fixture_site.requests)
    late = schedule("run", "--config", str(config), "--now", "2026-12-15T09:00:00Z", cwd=tmp_path)
    assert late.returncode == 0 and late.stdout.count("started") == 1
    again = schedule("run", "--config", str(config), "--now", "2026-12-15T09:01:00Z", cwd=tmp_path)
    assert again.returncode == 0 and "started" not in again.stdout
    runs = runs_of(folder)
    assert len(runs) == 2 and runs[1]["slot"] == "2026-12-14T03:00:00Z" and runs[1]["exit_status"] == 0
    assert requested(fixture_site, since, "/robots.txt") == 1


def test_a_failing_crawl_gives_its_exit_status(tmp_path):
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = write_config(tmp_path, f"http://127.0.0.1:{port}/nizkor/", {**FAST, "RETRY_TIMES": 0})
    result = schedule("run", "--config", str(config), cwd=tmp_path)
    assert result.returncode == 1 and "exit status 1" in result.stdout
    [failed] = runs_of(tmp_path / "out" / "fixture")
    assert failed["exit_status"] == 1 and failed["ended"]
    # A run that ended, even badly, waits for the next slot.
    assert "started" not in schedule("run", "--config", str(config), cwd=tmp_path).stdout


def test_a_held_lock_skips_the_crawl(fixture_site, tmp_path):
    config = write_config(tmp_path, f"{fixture_site.base_url}/nizkor/", FAST)
    folder = tmp_path / "out" / "fixture"
    folder.mkdir(parents=True)
    since = len(fixture_site.requests)
    with open(folder / LOCK_FILE, "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # another run holds the crawl's lock
        result = schedule("run", "--config", str(config), cwd=tmp_path)
        listed = json.loads(schedule("list", "--config", str(config), "--json", cwd=tmp_path).stdout)
    assert result.returncode == 0
    assert "fixture: skipped: already running" in result.stdout
    assert runs_of(folder) == [] and len(fixture_site.requests) == since
    assert listed["running"] is True and listed["due"] is False
    # Lock released: the crawl runs.
    result = schedule("run", "--config", str(config), cwd=tmp_path)
    assert result.returncode == 0 and "fixture: started" in result.stdout
    assert len(runs_of(folder)) == 1


def test_two_concurrent_callers_run_the_crawl_once(fixture_site, tmp_path):
    config = write_config(tmp_path, f"{fixture_site.base_url}/nizkor/", SLOW)
    folder = tmp_path / "out" / "fixture"
    since = len(fixture_site.requests)
    command = [CLI, "schedule", "run", "--config", str(config), "-v"]
    callers = [subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for _ in range(2)]
    results = [caller.communicate(timeout=300) for caller in callers]
    assert [caller.returncode for caller in callers] == [0, 0], results
    outputs = [stdout for stdout, _ in results]
    assert sorted("fixture: started" in out for out in outputs) == [False, True], outputs
    loser = next(out for out in outputs if "fixture: started" not in out)
    assert "fixture: skipped: already running" in loser or "fixture: not due" in loser
    [only] = runs_of(folder)
    assert only["exit_status"] == 0
    # One crawl reached the site: robots.txt and the start page were fetched once.
    assert requested(fixture_site, since, "/robots.txt") == 1
    assert requested(fixture_site, since, "/nizkor/") == 1


def test_the_lock_outlives_a_killed_runner_and_the_run_is_resumed(fixture_site, tmp_path):
    config = write_config(tmp_path, f"{fixture_site.base_url}/nizkor/", SLOW)
    folder = tmp_path / "out" / "fixture"
    runner = subprocess.Popen([CLI, "schedule", "run", "--config", str(config)], cwd=tmp_path,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    crawl_pid = None
    try:
        crawl_pid = wait_for(lambda: (runs_of(folder) or [{}])[-1].get("pid"), "the crawl to start")
        runner.send_signal(signal.SIGKILL)
        runner.wait(timeout=60)
        # The crawl process goes on and still holds the lock: a second caller does not start another.
        second = schedule("run", "--config", str(config), cwd=tmp_path)
        assert second.returncode == 0 and "fixture: skipped: already running" in second.stdout, second.stdout
        assert len(runs_of(folder)) == 1
    finally:
        if crawl_pid:
            try:
                os.kill(crawl_pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if runner.poll() is None:
            runner.kill()
            runner.wait()
    # Crawl gone, its end never recorded: the next call resumes it.
    row = wait_for(lambda: (lambda r: r if not r["running"] else None)(
        json.loads(schedule("list", "--config", str(config), "--json", cwd=tmp_path).stdout)), "the lock to go")
    assert row["due"] is True and "interrupted" in row["reason"]
    assert runs_of(folder)[-1]["ended"] is None


def test_sigterm_to_the_runner_stops_the_crawl_and_records_its_end(fixture_site, tmp_path):
    config = write_config(tmp_path, f"{fixture_site.base_url}/nizkor/", SLOW)
    folder = tmp_path / "out" / "fixture"
    runner = subprocess.Popen([CLI, "schedule", "run", "--config", str(config)], cwd=tmp_path,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: (runs_of(folder) or [{}])[-1].get("pid"), "the crawl to start")
        wait_for(lambda: "Spider opened" in next(folder.glob("*.log")).read_text(errors="replace"), "Scrapy")
        runner.send_signal(signal.SIGTERM)
        stdout, _ = runner.communicate(timeout=120)
    finally:
        if runner.poll() is None:
            runner.kill()
            runner.wait()
    [stopped] = runs_of(folder)
    assert stopped["ended"] is not None and stopped["exit_status"] is not None
    assert "finished" in stdout
    log = (folder / stopped["log"]).read_text(errors="replace")
    assert "shutting down gracefully" in log
    for line in (folder / stopped["output"]).read_text(encoding="utf-8").splitlines():
        json.loads(line)  # every line whole
