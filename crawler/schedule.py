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
  more: the machine went down, the runner was killed; or it ended with exit status 130, the crawl
  stopped by Ctrl-C or SIGTERM) makes the crawl due again, up to ``MAX_ATTEMPTS`` runs per slot; the
  next run resumes from the crawl state (``CRAWL_STATE``).
  A run that ended with any other exit status waits for the next slot.
- The whole config is checked before any crawl runs (``load_config``, ``ProjectCheck``): a crawl
  that could not start at its slot (unknown spider, bad or missing ``start_url``, a real site
  without ``CONTACT_URL``) is a config problem, one line each.
- **Lock**: ``fcntl.flock`` on ``OUTPUT/schedule.lock``, non-blocking. The caller that gets it decides
  (under the lock) whether the crawl is due and runs it; a caller that finds it held skips the crawl.
  The crawl process inherits the lock, so it stays held as long as the crawl runs, even if the runner
  is killed.
- **Run log**: ``OUTPUT/runs.json`` (written atomically: temporary file, fsync, rename) keeps the last
  ``KEEP_RUNS`` runs: slot, why it was due, start, end, exit status, output and log file names, pid.
- Each run writes ``OUTPUT/<UTC start, YYYYmmddTHHMMSSZ>.jsonl`` (records) and ``.log`` (the crawl's
  stdout and stderr), with the crawl state in ``OUTPUT/state``.
- With ``[[node]]`` tables the crawls run on Scrapyd nodes instead (``crawler/nodes.py``): the same
  decisions, lock and run log; each site stays on one node, where its crawl state is.
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
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlsplit

from croniter import croniter

__all__ = [
    "ConfigError",
    "Crawl",
    "Schedule",
    "Decision",
    "Outcome",
    "ProjectCheck",
    "RunLogError",
    "begin_run",
    "crawl_command",
    "decide",
    "latest_slot",
    "load_config",
    "load_schedule",
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
# `scrapy crawl`'s exit status for a crawl stopped by Ctrl-C or SIGTERM (crawler/extensions.py), and
# the shell's for a process killed by SIGINT: the run is resumed, as one whose end was not recorded.
INTERRUPTED_EXIT = 130

KEYS = {"name", "spider", "start_url", "schedule", "output", "settings", "node"}
TOP_LEVEL = {"crawl", "node", "scrapyd"}
REQUIRED = ("name", "spider", "schedule", "output")
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*\Z")
SETTING_NAME = re.compile(r"[A-Z][A-Z0-9_]*\Z")
# Set by the schedule for every run; not to be set in crawls.toml.
MANAGED_SETTINGS = {"CRAWL_STATE": f"the crawl state is always OUTPUT/{STATE_FOLDER}, or on a Scrapyd node "
                                   "state/<spider>/<site>/ in the node's working directory"}


class ConfigError(ValueError):
    """crawls.toml cannot be used; ``problems`` says where and why, one line per problem (the
    message is those lines)."""

    def __init__(self, problems: str | list[str]):
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))


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
    node: str | None = None  # the Scrapyd node it is pinned to (crawls.toml ``node``)
    site: str | None = None  # the site it crawls (scheme, host, port; crawler.state.site_origin)


@dataclass(frozen=True)
class Schedule:
    """A crawls.toml: its crawls and, with ``[[node]]`` tables, the Scrapyd nodes they run on."""

    config: Path
    crawls: list[Crawl]
    cluster: object | None = None  # crawler.nodes.Cluster


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
        """An error, or a run that ended (here, or on a node: "finished") with a non-zero exit status;
        a run stopped by ``schedule cancel`` did not fail."""
        if self.action == "error":
            return True
        if self.action not in ("ran", "finished") or (self.run or {}).get("cancelled"):
            return False
        return self.exit_status != 0


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


def _crawl(entry: dict, number: int, config: Path, problems: list[str]) -> Crawl | None:
    """The crawl of one [[crawl]] table, or None; each problem found is added to ``problems``."""
    where = f"{config}: [[crawl]] #{number}"
    name = entry.get("name")
    if isinstance(name, str) and name:
        where = f"{config}: crawl {name!r}"
    found: list[str] = []

    def usable(key: str) -> bool:
        return isinstance(entry.get(key), str) and bool(entry[key].strip())

    unknown = sorted(set(entry) - KEYS)
    if unknown:
        found.append(f"{where}: unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(KEYS))})")
    for key in REQUIRED:
        if key not in entry:
            found.append(f"{where}: {key} is missing")
    for key in ("name", "spider", "schedule", "output", "start_url", "node"):
        if key in entry and (not isinstance(entry[key], str) or not entry[key].strip()):
            found.append(f"{where}: {key} must be a non-empty string")
    if usable("name") and not NAME.match(name):
        found.append(f"{where}: name may hold only letters, digits, '.', '_' and '-'")
    schedule = entry["schedule"].strip() if usable("schedule") else None
    if schedule is not None and not valid_schedule(schedule):
        found.append(
            f"{where}: schedule {schedule!r} is not a cron expression "
            "(five fields: minute hour day-of-month month day-of-week, UTC; or @hourly, @daily, @weekly...)"
        )
    start_url = entry.get("start_url")
    if usable("start_url"):
        try:
            parts = urlsplit(start_url)
            bad = parts.scheme not in ("http", "https") or not parts.hostname
        except ValueError:
            bad = True
        if bad:
            found.append(f"{where}: start_url must be an http(s) URL with a host, got {start_url!r}")
    settings = entry.get("settings", {})
    pairs = []
    if not isinstance(settings, dict):
        found.append(f"{where}: settings must be a table, e.g. settings = {{ CONTACT_URL = \"...\" }}")
        settings = {}
    for key, value in settings.items():
        if not SETTING_NAME.match(key):
            found.append(f"{where}: setting {key!r} is not a Scrapy setting name (UPPER_CASE)")
            continue
        if key in MANAGED_SETTINGS:
            found.append(f"{where}: setting {key} is set by the schedule ({MANAGED_SETTINGS[key]})")
            continue
        text = _setting_value(value)
        if text is None:
            found.append(f"{where}: setting {key} must be a string, a number or a boolean")
            continue
        pairs.append((key, text))
    problems += found
    if found:
        return None
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
        node=entry["node"].strip() if usable("node") else None,
        site=_plain_site(start_url) if usable("start_url") else None,
    )


def _plain_site(url: str) -> str:
    """scheme://host[:port] of a URL, lower-cased: the site of a crawl when the spider is not asked."""
    parts = urlsplit(url)
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"


def _project_settings(crawl: Crawl | None = None):
    """The Scrapy settings a crawl runs with: the settings module the crawl process loads
    (``SCRAPY_SETTINGS_MODULE``, else ``crawler.settings``) and the crawl's own, as ``-s`` gives them."""
    from scrapy.settings import Settings

    settings = Settings()
    settings.setmodule(os.environ.get("SCRAPY_SETTINGS_MODULE") or "crawler.settings", priority="project")
    for key, value in crawl.settings if crawl is not None else ():
        settings.set(key, value, priority="cmdline")
    return settings


class ProjectCheck:
    """What would keep a crawl from starting at its slot, found now, the way ``scrapy crawl`` finds
    it: a spider the project does not have, a ``start_url`` the spider refuses (or none where it has
    no default), a real site without ``CONTACT_URL``. Loads the project's spiders (Scrapy) once."""

    def __init__(self, config: Path):
        self.config = config
        self.loader = None
        self.known: list[str] = []
        self.sites: dict[str, str | None] = {}  # crawl name -> its site, as the spider sees it
        self.error: str | None = None
        from scrapy.spiderloader import get_spider_loader

        try:
            self.loader = get_spider_loader(_project_settings())
            self.known = sorted(self.loader.list())
        except Exception as exc:  # noqa: BLE001 - a settings module or spider that cannot be imported
            self.error = f"{config}: cannot load the project's spiders: {type(exc).__name__}: {exc}"

    def problems(self, crawl: Crawl) -> list[str]:
        from crawler.state import requires_contact

        if self.error is not None:
            return []  # said once, by load_config
        where = f"{self.config}: crawl {crawl.name!r}"
        if crawl.spider not in self.known:
            return [f"{where}: unknown spider {crawl.spider!r} (known: {', '.join(self.known)})"]
        try:
            # The spider's own checks of its arguments (no crawler, no state, no network).
            spider = self.loader.load(crawl.spider)(start_url=crawl.start_url)
        except ValueError as exc:
            if crawl.start_url is None:
                return [f"{where}: start_url is missing (spider {crawl.spider!r} has no default: {exc})"]
            return [f"{where}: {exc}"]
        except Exception as exc:  # noqa: BLE001 - the spider cannot be made at all
            return [f"{where}: spider {crawl.spider!r} cannot start: {type(exc).__name__}: {exc}"]
        start_url = getattr(spider, "start_url", None) or crawl.start_url
        self.sites[crawl.name] = _spider_site(spider, start_url)
        if start_url and requires_contact(_project_settings(crawl), start_url):
            return [f"{where}: {start_url} is a real site: name the operator with "
                    'settings = { CONTACT_URL = "https://example.org/your-contact" }']
        return []


def _spider_site(spider, start_url: str | None) -> str | None:
    """The site the spider's crawl state belongs to (``crawler.state.site_origin``: the profile's host
    aliases folded), else the start URL's scheme, host and port."""
    if not start_url:
        return None
    try:
        from crawler.state import site_origin

        return site_origin(start_url, spider.profile)
    except Exception:  # noqa: BLE001 - an older crawler.state, or a spider without a profile
        return _plain_site(start_url)


def load_config(path: str | os.PathLike, *, check_project: bool = True) -> list[Crawl]:
    """The crawls of a crawls.toml, checked; :class:`ConfigError` lists every problem found.

    ``check_project``: also check each crawl against the project (``ProjectCheck``), so that a
    crawl that could not start is found now rather than at its slot."""
    return load_schedule(path, check_project=check_project).crawls


def load_schedule(path: str | os.PathLike, *, check_project: bool = True) -> Schedule:
    """The crawls of a crawls.toml and its Scrapyd nodes (``[[node]]``, ``[scrapyd]``), checked together;
    :class:`ConfigError` lists every problem found."""
    from crawler.nodes import check_pins, parse_cluster

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
    problems: list[str] = []
    unknown = sorted(set(data) - TOP_LEVEL)
    if unknown:
        problems.append(f"{config}: unknown top-level key(s) {', '.join(unknown)}; each crawl is a [[crawl]] table "
                        "(and each Scrapyd node a [[node]] table)")
    entries = data.get("crawl")
    if not isinstance(entries, list) or not entries or not all(isinstance(e, dict) for e in entries):
        problems.append(f"{config}: no crawls: add [[crawl]] tables (see the crawls.toml in the repository)")
        raise ConfigError(problems)
    project = ProjectCheck(config) if check_project else None
    if project is not None and project.error is not None:
        problems.append(project.error)
    crawls = []
    for number, entry in enumerate(entries, 1):
        crawl = _crawl(entry, number, config, problems)
        if crawl is not None:
            if project is not None:
                problems += project.problems(crawl)
                if project.sites.get(crawl.name):
                    crawl = replace(crawl, site=project.sites[crawl.name])
            crawls.append(crawl)
    names, outputs = set(), {}
    for crawl in crawls:
        if crawl.name in names:
            problems.append(f"{config}: two crawls are named {crawl.name!r}")
        names.add(crawl.name)
        folder = os.path.normpath(crawl.output)
        if folder in outputs:
            problems.append(
                f"{config}: crawls {outputs[folder]!r} and {crawl.name!r} have the same output folder {crawl.output}"
            )
        outputs[folder] = crawl.name
    cluster = parse_cluster(data, config, problems)
    if cluster is not None or "node" not in data:  # (bad [[node]] tables are said already)
        problems += check_pins(crawls, cluster, config)
    if problems:
        raise ConfigError(problems)
    return Schedule(config=config, crawls=crawls, cluster=cluster)


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


def _interrupted(run: dict) -> bool:
    """A run whose end was not recorded, or that ended interrupted (exit status 130: Ctrl-C or
    SIGTERM stopped the crawl, which its crawl state lets the next run resume; on a node, a crawl
    whose process died: ``interrupted``). A run stopped by ``schedule cancel`` is not resumed."""
    if run.get("cancelled"):
        return False
    return run.get("ended") is None or run.get("exit_status") == INTERRUPTED_EXIT or run.get("interrupted") is True


def decide(schedule: str, runs: list[dict], now: datetime, max_attempts: int = MAX_ATTEMPTS) -> Decision:
    """Whether a crawl whose lock nobody holds is due at ``now``, given its recorded runs."""
    slot = latest_slot(schedule, now)
    if not runs:
        return Decision(True, "never run", slot)
    last = runs[-1]
    if parse_time(last["started"]) < slot:
        return Decision(True, f"slot {iso(slot)} not run yet", slot)
    if _interrupted(last):
        attempts = 0
        for run in reversed(runs):
            if not _interrupted(run) or parse_time(run["started"]) < slot:
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


def _new_files(folder: Path, moment: datetime, runs: list[dict] = ()) -> tuple[Path, Path]:
    """``<UTC start>.jsonl`` and ``.log`` in ``folder``, a serial added when a file or a recorded run
    has the name already (a node run's files come only when it ends)."""
    stamp = utc(moment).strftime(STAMP)
    used = {run.get(key) for run in runs for key in ("output", "log")}
    name, serial = stamp, 1
    while ((folder / f"{name}.jsonl").exists() or (folder / f"{name}.log").exists()
           or f"{name}.jsonl" in used or f"{name}.log" in used):
        serial += 1
        name = f"{stamp}-{serial}"
    return folder / f"{name}.jsonl", folder / f"{name}.log"


def begin_run(crawl: Crawl, runs: list[dict], decision: Decision, now: datetime, output: Path, log: Path,
              **where: object) -> tuple[dict, str | None]:
    """A new run entry for ``decision`` (its slot and reason, its output and log files, and ``where``
    it runs: a local ``pid`` and ``command``, or a node's job), appended to ``runs`` and written to
    the crawl's run log before the run starts. (entry, None), or (entry, the one-line error that kept
    it from being written)."""
    run = {"slot": iso(decision.slot), "reason": decision.reason, "started": iso(now), "ended": None,
           "exit_status": None, "output": output.name, "log": log.name, **where}
    runs.append(run)
    try:
        write_runs(crawl.output, crawl.name, runs)
    except OSError as exc:
        return run, f"{crawl.name}: not run: cannot write the run log in {crawl.output}: {exc.strerror or exc}"
    return run, None


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
        output, log = _new_files(crawl.output, now, runs)
        command = crawl_command(crawl, output)
        run, problem = begin_run(crawl, runs, decision, now, output, log, pid=None, command=command)
        if problem is not None:
            say(problem)
            return Outcome(crawl, "error", problem, decision)
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
