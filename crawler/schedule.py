"""Recurring crawls named in ``crawls.toml``: which are due, and running one under a lock.

Plain Python, no Scrapy: a crawl runs as a ``scrapy crawl`` subprocess. ``archive-crawler schedule
run`` and ``archive-crawler schedule list`` (crawler/cli.py) are thin wrappers around these functions.

    [[crawl]]
    name = "nizkor-weekly"                           # unique: letters, digits, ".", "_", "-"
    spider = "nizkor"
    start_url = "https://www.derechos.org/nizkor/"   # optional: the spider's own default
    schedule = "0 3 * * 1"                           # cron expression (5 fields or @daily...), UTC
    output = "crawls/nizkor-weekly"                  # folder; relative to the folder of crawls.toml
    settings = { CONTACT_URL = "https://example.org/contact" }   # optional Scrapy settings (-s)

The rules (README, "Scheduled crawls and scrapyd"):

- **Due**: the latest cron slot at or before now is later than the start of the crawl's last recorded
  run. A crawl never run is due at once (its latest slot has not been run), then follows its schedule.
  Only the latest slot counts, so slots missed while the machine was off give one run, not one per slot.
- A run that was **interrupted** (it recorded its start but not its end, and nobody holds the lock any
  more: the machine went down, the runner was killed) makes the crawl due again, up to
  ``MAX_ATTEMPTS`` runs per slot; the next run resumes from the crawl state (``CRAWL_STATE``).
  A run that ended, whatever its exit status, waits for the next slot.
- **Lock**: ``fcntl.flock`` on ``OUTPUT/schedule.lock``, non-blocking. The caller that gets it decides
  (under the lock) whether the crawl is due and runs it; a caller that finds it held skips the crawl.
  The crawl process inherits the lock, so it stays held as long as the crawl runs, even if the runner
  is killed.
- **Run log**: ``OUTPUT/runs.json`` (written atomically: temporary file, fsync, rename) keeps the last
  ``KEEP_RUNS`` runs: slot, why it was due, start, end, exit status, output and log file names, pid.
- Each run writes ``OUTPUT/<UTC start, YYYYmmddTHHMMSSZ>.jsonl`` (records) and ``.log`` (the crawl's
  stdout and stderr), with the crawl state in ``OUTPUT/state``.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import signal
import subprocess
import sys
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlsplit

from croniter import croniter

__all__ = [
    "ConfigError",
    "Crawl",
    "Decision",
    "Outcome",
    "RunLogError",
    "crawl_command",
    "decide",
    "latest_slot",
    "load_config",
    "lock_holder",
    "next_slot",
    "read_runs",
    "run_crawl",
    "status",
]

DEFAULT_CONFIG = "crawls.toml"
RUN_LOG = "runs.json"
LOCK_FILE = "schedule.lock"
STATE_FOLDER = "state"
MAX_ATTEMPTS = 3
KEEP_RUNS = 100
STAMP = "%Y%m%dT%H%M%SZ"

KEYS = {"name", "spider", "start_url", "schedule", "output", "settings"}
REQUIRED = ("name", "spider", "schedule", "output")
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*\Z")
SETTING_NAME = re.compile(r"[A-Z][A-Z0-9_]*\Z")
# Set by the schedule for every run; not to be set in crawls.toml.
MANAGED_SETTINGS = {"CRAWL_STATE": f"the crawl state is always OUTPUT/{STATE_FOLDER}"}


class ConfigError(ValueError):
    """crawls.toml cannot be used; the message says where and why."""


class RunLogError(ValueError):
    """A crawl's run log (runs.json) cannot be read."""


@dataclass(frozen=True)
class Crawl:
    name: str
    spider: str
    schedule: str
    output: Path  # absolute
    workdir: Path  # the folder of crawls.toml: the crawl's working directory
    start_url: str | None = None
    settings: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Decision:
    due: bool
    reason: str
    slot: datetime  # the latest slot at or before now


@dataclass
class Outcome:
    crawl: Crawl
    action: str  # "ran", "not_due", "locked", "error"
    message: str
    decision: Decision | None = None
    run: dict | None = None

    @property
    def exit_status(self) -> int | None:
        return None if self.run is None else self.run.get("exit_status")

    @property
    def failed(self) -> bool:
        return self.action == "error" or (self.action == "ran" and self.exit_status != 0)


# Time ------------------------------------------------------------------------------------------


def utc(moment: datetime) -> datetime:
    """An aware UTC datetime; a naive one is taken to be UTC."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def iso(moment: datetime) -> str:
    return utc(moment).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str) -> datetime:
    """An ISO 8601 date-time (``Z`` or an offset; none: UTC) as an aware UTC datetime."""
    return utc(datetime.fromisoformat(text.strip()))


class Clock:
    """Now, UTC, to the second. With ``start`` (``--now``), time runs on from that moment."""

    def __init__(self, start: datetime | None = None):
        self.start = None if start is None else utc(start)
        self._origin = time.monotonic()

    def __call__(self) -> datetime:
        if self.start is None:
            moment = datetime.now(timezone.utc)
        else:
            moment = self.start + timedelta(seconds=time.monotonic() - self._origin)
        return moment.replace(microsecond=0)


def latest_slot(schedule: str, now: datetime) -> datetime:
    """The latest cron slot at or before ``now`` (cron has minute precision)."""
    minute = utc(now).replace(second=0, microsecond=0)
    return croniter(schedule, minute + timedelta(seconds=1)).get_prev(datetime)


def next_slot(schedule: str, now: datetime) -> datetime:
    """The first cron slot after ``now``'s minute."""
    return croniter(schedule, utc(now).replace(second=0, microsecond=0)).get_next(datetime)


# Configuration ---------------------------------------------------------------------------------


def valid_schedule(expression: str) -> bool:
    expression = expression.strip()
    if not expression.startswith("@") and len(expression.split()) != 5:
        return False  # minute hour day-of-month month day-of-week; no seconds, no years
    try:
        return croniter.is_valid(expression)
    except Exception:  # noqa: BLE001 - any failure means "not a cron expression we can use"
        return False


def _setting_value(value) -> str | None:
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, (str, int, float)):
        return str(value)
    return None


def _crawl(entry: dict, number: int, config: Path) -> Crawl:
    where = f"{config}: [[crawl]] #{number}"
    name = entry.get("name")
    if isinstance(name, str) and name:
        where = f"{config}: crawl {name!r}"
    unknown = sorted(set(entry) - KEYS)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(KEYS))})")
    for key in REQUIRED:
        if key not in entry:
            raise ConfigError(f"{where}: {key} is missing")
    for key in ("name", "spider", "schedule", "output", "start_url"):
        if key in entry and (not isinstance(entry[key], str) or not entry[key].strip()):
            raise ConfigError(f"{where}: {key} must be a non-empty string")
    if not NAME.match(name):
        raise ConfigError(f"{where}: name may hold only letters, digits, '.', '_' and '-'")
    schedule = entry["schedule"].strip()
    if not valid_schedule(schedule):
        raise ConfigError(
            f"{where}: schedule {schedule!r} is not a cron expression "
            "(five fields: minute hour day-of-month month day-of-week, UTC; or @hourly, @daily, @weekly...)"
        )
    start_url = entry.get("start_url")
    if start_url is not None:
        parts = urlsplit(start_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"{where}: start_url must be an http(s) URL with a host, got {start_url!r}")
    settings = entry.get("settings", {})
    if not isinstance(settings, dict):
        raise ConfigError(f"{where}: settings must be a table, e.g. settings = {{ CONTACT_URL = \"...\" }}")
    pairs = []
    for key, value in settings.items():
        if not SETTING_NAME.match(key):
            raise ConfigError(f"{where}: setting {key!r} is not a Scrapy setting name (UPPER_CASE)")
        if key in MANAGED_SETTINGS:
            raise ConfigError(f"{where}: setting {key} is set by the schedule ({MANAGED_SETTINGS[key]})")
        text = _setting_value(value)
        if text is None:
            raise ConfigError(f"{where}: setting {key} must be a string, a number or a boolean")
        pairs.append((key, text))
    output = Path(entry["output"]).expanduser()
    workdir = config.resolve().parent
    return Crawl(
        name=name,
        spider=entry["spider"].strip(),
        schedule=schedule,
        output=output if output.is_absolute() else workdir / output,
        workdir=workdir,
        start_url=start_url,
        settings=tuple(pairs),
    )


def load_config(path: str | os.PathLike) -> list[Crawl]:
    """The crawls of a crawls.toml, checked; :class:`ConfigError` says what is wrong."""
    config = Path(path)
    try:
        data = tomllib.loads(config.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{config}: no such file") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{config}: not UTF-8 text") from None
    except OSError as exc:
        raise ConfigError(f"{config}: cannot read it: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{config}: not valid TOML: {exc}") from None
    unknown = sorted(set(data) - {"crawl"})
    if unknown:
        raise ConfigError(f"{config}: unknown top-level key(s) {', '.join(unknown)}; each crawl is a [[crawl]] table")
    entries = data.get("crawl")
    if not isinstance(entries, list) or not entries or not all(isinstance(e, dict) for e in entries):
        raise ConfigError(f"{config}: no crawls: add [[crawl]] tables (see the crawls.toml in the repository)")
    crawls = [_crawl(entry, number, config) for number, entry in enumerate(entries, 1)]
    names, outputs = set(), {}
    for crawl in crawls:
        if crawl.name in names:
            raise ConfigError(f"{config}: two crawls are named {crawl.name!r}")
        names.add(crawl.name)
        folder = os.path.normpath(crawl.output)
        if folder in outputs:
            raise ConfigError(
                f"{config}: crawls {outputs[folder]!r} and {crawl.name!r} have the same output folder {crawl.output}"
            )
        outputs[folder] = crawl.name
    return crawls


# Run log and lock --------------------------------------------------------------------------------


def read_runs(folder: Path) -> list[dict]:
    """The runs recorded in ``folder/runs.json``, oldest first; none when there is no run log."""
    path = Path(folder) / RUN_LOG
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    except (OSError, ValueError) as exc:
        raise RunLogError(f"cannot read the run log {path}: {exc}") from None
    runs = data.get("runs") if isinstance(data, dict) else None
    if not isinstance(runs, list) or not all(isinstance(r, dict) and isinstance(r.get("started"), str) for r in runs):
        raise RunLogError(f"the run log {path} is not a run log")
    return runs


def write_runs(folder: Path, name: str, runs: list[dict]) -> None:
    """Replace ``folder/runs.json`` atomically: a reader sees the old log or the new one, never half."""
    folder = Path(folder)
    path = folder / RUN_LOG
    temporary = folder / f".{RUN_LOG}.{os.getpid()}.tmp"
    text = json.dumps({"crawl": name, "runs": runs[-KEEP_RUNS:]}, ensure_ascii=False, indent=1) + "\n"
    with open(temporary, "w", encoding="utf-8") as stream:
        stream.write(text)
        stream.flush()
        os.fsync(stream.fileno())
    os.replace(temporary, path)
    directory = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def try_lock(folder: Path) -> int | None:
    """The crawl's lock (an open file descriptor holding the flock), or None when another process holds it."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    except BaseException:
        os.close(fd)
        raise
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)  # for messages only; the flock is the lock
    return fd


def is_locked(folder: Path) -> bool:
    """Whether a run of the crawl holds its lock now (creates nothing)."""
    try:
        fd = os.open(Path(folder) / LOCK_FILE, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing releases the probe's shared lock
    return False


def lock_holder(folder: Path) -> str:
    """The pid written in the lock file by the process that took it, or "" when unknown."""
    try:
        return (Path(folder) / LOCK_FILE).read_text(encoding="ascii").strip()
    except (OSError, ValueError):
        return ""


# Decisions -------------------------------------------------------------------------------------


def decide(schedule: str, runs: list[dict], now: datetime, max_attempts: int = MAX_ATTEMPTS) -> Decision:
    """Whether a crawl whose lock nobody holds is due at ``now``, given its recorded runs."""
    slot = latest_slot(schedule, now)
    if not runs:
        return Decision(True, "never run", slot)
    last = runs[-1]
    if parse_time(last["started"]) < slot:
        return Decision(True, f"slot {iso(slot)} not run yet", slot)
    if last.get("ended") is None:
        attempts = 0
        for run in reversed(runs):
            if run.get("ended") is not None or parse_time(run["started"]) < slot:
                break
            attempts += 1
        if attempts < max_attempts:
            return Decision(True, f"resuming the run interrupted since {last['started']}", slot)
        return Decision(False, f"slot {iso(slot)}: {attempts} runs interrupted, waiting for the next slot", slot)
    return Decision(False, f"ran at {last['started']} for slot {iso(slot)} (exit status {last.get('exit_status')})", slot)


def status(crawl: Crawl, now: datetime) -> dict:
    """What ``schedule list`` shows about a crawl: next slot, last run, due now."""
    info = {
        "name": crawl.name,
        "spider": crawl.spider,
        "schedule": crawl.schedule,
        "output": str(crawl.output),
        "latest_slot": iso(latest_slot(crawl.schedule, now)),
        "next_slot": iso(next_slot(crawl.schedule, now)),
        "last_run": None,
        "running": False,
        "due": False,
        "reason": "",
    }
    try:
        runs = read_runs(crawl.output)
    except RunLogError as exc:
        info["reason"] = str(exc)
        return info
    info["last_run"] = runs[-1] if runs else None
    if is_locked(crawl.output):
        info["running"] = True
        info["reason"] = f"running (lock held by pid {lock_holder(crawl.output) or '?'})"
        return info
    decision = decide(crawl.schedule, runs, now)
    info["due"], info["reason"] = decision.due, decision.reason
    return info


# Running ---------------------------------------------------------------------------------------


def crawl_command(crawl: Crawl, output: Path, python: str = sys.executable) -> list[str]:
    """``scrapy crawl SPIDER [-a start_url=URL] -O OUTPUT -s CRAWL_STATE=OUTPUT/state -s KEY=VALUE...``."""
    command = [python, "-m", "scrapy", "crawl", crawl.spider]
    if crawl.start_url:
        command += ["-a", f"start_url={crawl.start_url}"]
    command += ["-O", str(output), "-s", f"CRAWL_STATE={crawl.output / STATE_FOLDER}"]
    for key, value in crawl.settings:
        command += ["-s", f"{key}={value}"]
    return command


def _new_files(folder: Path, moment: datetime) -> tuple[Path, Path]:
    stamp = utc(moment).strftime(STAMP)
    name, serial = stamp, 1
    while (folder / f"{name}.jsonl").exists() or (folder / f"{name}.log").exists():
        serial += 1
        name = f"{stamp}-{serial}"
    return folder / f"{name}.jsonl", folder / f"{name}.log"


def _wait(process: subprocess.Popen) -> int:
    """Wait for the crawl; SIGTERM, SIGINT and SIGHUP sent to the runner are passed on to it once.

    The crawl runs in its own session, so a signal to the runner's process group (Ctrl-C) reaches it
    only this way: Scrapy takes a second SIGINT/SIGTERM as "stop now", so it must not get two."""

    def forward(signum, frame):
        try:
            process.send_signal(signum)
        except OSError:
            pass

    handled = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
    previous = {}
    try:
        for signum in handled:
            previous[signum] = signal.signal(signum, forward)
    except ValueError:  # not the main thread: no signal handling
        pass
    try:
        while True:
            try:
                return process.wait()
            except InterruptedError:
                continue
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _record(crawl: Crawl, runs: list[dict], say: Callable[[str], None]) -> None:
    """Update the run log once the crawl is under way: a failure to write is reported, the crawl goes on."""
    try:
        write_runs(crawl.output, crawl.name, runs)
    except OSError as exc:
        say(f"{crawl.name}: warning: cannot update the run log in {crawl.output}: {exc.strerror or exc}")


def run_crawl(crawl: Crawl, clock: Callable[[], datetime], say: Callable[[str], None] = print) -> Outcome:
    """Run ``crawl`` if it is due and nobody else is running it; wait for it to end."""
    try:
        fd = try_lock(crawl.output)
    except OSError as exc:
        message = f"{crawl.name}: not run: cannot use the output folder {crawl.output}: {exc.strerror or exc}"
        say(message)
        return Outcome(crawl, "error", message)
    if fd is None:
        holder = lock_holder(crawl.output)
        message = (f"{crawl.name}: skipped: already running "
                   f"(lock {crawl.output / LOCK_FILE} held{' by pid ' + holder if holder else ''})")
        say(message)
        return Outcome(crawl, "locked", message)
    try:
        try:
            runs = read_runs(crawl.output)
        except RunLogError as exc:
            message = f"{crawl.name}: not run: {exc}"
            say(message)
            return Outcome(crawl, "error", message)
        now = clock()
        decision = decide(crawl.schedule, runs, now)
        if not decision.due:
            message = f"{crawl.name}: not due: {decision.reason}; next slot {iso(next_slot(crawl.schedule, now))}"
            return Outcome(crawl, "not_due", message, decision)
        output, log = _new_files(crawl.output, now)
        command = crawl_command(crawl, output)
        run = {
            "slot": iso(decision.slot),
            "reason": decision.reason,
            "started": iso(now),
            "ended": None,
            "exit_status": None,
            "output": output.name,
            "log": log.name,
            "pid": None,
            "command": command,
        }
        runs.append(run)
        try:
            write_runs(crawl.output, crawl.name, runs)
        except OSError as exc:
            message = f"{crawl.name}: not run: cannot write the run log in {crawl.output}: {exc.strerror or exc}"
            say(message)
            return Outcome(crawl, "error", message, decision)
        say(f"{crawl.name}: started {run['started']} ({decision.reason}): {output}")
        env = dict(os.environ)
        env.setdefault("SCRAPY_SETTINGS_MODULE", "crawler.settings")
        began = time.monotonic()
        try:
            with open(log, "ab") as log_stream:
                process = subprocess.Popen(
                    command, cwd=crawl.workdir, env=env, stdin=subprocess.DEVNULL, stdout=log_stream,
                    stderr=subprocess.STDOUT, pass_fds=(fd,), start_new_session=True,
                )
        except OSError as exc:
            run.update(ended=iso(clock()), exit_status=127, error=f"cannot start the crawl: {exc}")
            _record(crawl, runs, say)
            message = f"{crawl.name}: failed to start: {exc}"
            say(message)
            return Outcome(crawl, "ran", message, decision, run)
        run["pid"] = process.pid
        _record(crawl, runs, say)
        returncode = _wait(process)
        # A crawl killed by a signal: the shell's convention, 128 + the signal number.
        run.update(ended=iso(clock()), exit_status=returncode if returncode >= 0 else 128 - returncode)
        if returncode < 0:
            run["signal"] = -returncode
        _record(crawl, runs, say)
        message = (f"{crawl.name}: finished {run['ended']}, exit status {run['exit_status']} "
                   f"after {time.monotonic() - began:.0f} s; records {output}, log {log}")
        say(message)
        return Outcome(crawl, "ran", message, decision, run)
    finally:
        os.close(fd)


def run_due(crawls: list[Crawl], clock: Callable[[], datetime], say: Callable[[str], None] = print,
            verbose: bool = False) -> list[Outcome]:
    """Run each due crawl in turn (one after another), deciding for each when its turn comes."""
    outcomes = []
    for crawl in crawls:
        outcome = run_crawl(crawl, clock, say)
        if outcome.action == "not_due" and verbose:
            say(outcome.message)
        outcomes.append(outcome)
    return outcomes
