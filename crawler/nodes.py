"""Recurring crawls on Scrapyd nodes: ``crawls.toml`` names the nodes, ``schedule run`` sends them the crawls.

    [scrapyd]                          # optional
    project = "archive-crawler"        # the Scrapyd project (default: scrapy.cfg's)
    timeout = 30                       # seconds per API call (an upload or schedule.json: at least 120)
    egg = "dist/archive-crawler.egg"   # optional: a built egg, instead of building one from the source tree

    [[node]]
    name = "a"                          # unique: letters, digits, ".", "_", "-"
    url = "http://10.0.0.5:6800/"
    username = "crawler"                # optional HTTP basic auth (scrapyd.conf username/password)
    password_env = "SCRAPYD_A_PASSWORD" # the password from this environment variable (or password = "...")

The rules (README, "Crawls on Scrapyd nodes"):

- **One site, one node.** Each site (``crawler.state.site_origin`` of the crawl's start URL) is given a
  node once and keeps it: the assignment is recorded in ``<config stem>.sites.json`` beside crawls.toml
  (``crawls.sites.json``). A new site goes to the node with the fewest sites among those that answer,
  ties broken by rendezvous hashing (the highest hash of node and site). ``node = NAME`` in a crawl
  pins its site there. The crawl state, per site, lives on the node (``state/<spider>/<site>/`` in
  its working directory): it never has to move, and one polite process per site stays the rule.
- **A node that is down** (no answer to ``daemonstatus.json``, an HTTP error, refused credentials) is
  said in one line, and its crawls **wait** until it is back: they do not move, because their crawl
  state is on that node, and a crawl started elsewhere would start over without it (every page
  fetched again, every record a first revision again) and could run beside the node's own run once
  it returns. To move a site for good: copy its state folder and pin it (README).
- **Deploy.** The project's egg carries a version ``<unix time>_<digest of the sources>``; a node
  without a version of that digest (``listversions.json``) gets one (``addversion.json``); the egg is
  built once per call (``python setup.py bdist_egg`` in a copy of the source tree, as scrapyd-deploy
  builds it) and only when some node lacks it. Every job names its version (``_version``).
- **Jobs.** A run is ``schedule.json`` with ``jobid = <crawl>@<UTC start>``, spider arguments and
  ``setting=NAME=VALUE``; it is recorded in the crawl's ``runs.json`` (node, job, version) before it is
  sent. ``listjobs.json`` of every node is read once per call: a crawl with a job pending or running on
  any node is not sent again, nor one of the same site. A finished job is collected by the next call:
  its log and records are copied from the node (``/logs/...``, ``/items/...``) to ``OUTPUT/<UTC
  start>.log`` and ``.jsonl``, and its exit status read from the log (``Spider closed (finished)``: 0;
  ``Crawl failed``: 1; ``shutdown``: 130, resumed; no end at all: the process died, resumed).
- ``schedule cancel NAME`` stops the crawl's job (``cancel.json``): a cancelled run is not resumed.

Only the standard library talks to the nodes (urllib, direct connections, no proxy).
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from urllib.error import HTTPError, URLError
from urllib.parse import quote, urlencode, urlsplit
from urllib.request import ProxyHandler, Request, build_opener

from crawler.schedule import (
    NAME,
    ConfigError,
    Crawl,
    Outcome,
    RunLogError,
    Schedule,
    _new_files,
    _record,
    begin_run,
    decide,
    iso,
    next_slot,
    read_runs,
    status,
    try_lock,
    write_runs,
)

__all__ = [
    "Cluster",
    "Node",
    "NodeDown",
    "Refused",
    "cancel",
    "check_pins",
    "list_rows",
    "parse_cluster",
    "run_due",
    "sites_file",
]

DEFAULT_PROJECT = "archive-crawler"  # scrapy.cfg, [deploy] project
DEFAULT_TIMEOUT = 30.0
# addversion.json and schedule.json answer after the node has listed the egg's spiders (`scrapy list`).
SLOW_CALL_TIMEOUT = 120.0
BUILD_TIMEOUT = 300
NODE_KEYS = {"name", "url", "username", "password", "password_env"}
SCRAPYD_KEYS = {"project", "timeout", "egg"}
PROJECT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*\Z")
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
JOB_SEPARATOR = "@"  # never in a crawl name
SITES_SUFFIX = ".sites.json"
# What the egg is built from (a copy, so the build never writes into the source tree), and what its
# version digest is taken from (README.md and schema/ change nothing the egg runs: schema/ is read
# through pipelines/data).
SOURCES = ("crawler", "pipelines", "schema", "pyproject.toml", "setup.py", "scrapy.cfg", "README.md")
DIGESTED = ("crawler", "pipelines", "pyproject.toml", "setup.py")
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo", "*.egg-info", "build", "dist")
# A job that is still going, as listjobs.json puts it.
ACTIVE = ("pending", "running")


class EggError(RuntimeError):
    """The project's egg cannot be had (no source tree, the build failed, the egg file is unreadable)."""


class NodeDown(Exception):
    """The node did not answer usefully: no connection, a timeout, an HTTP error, refused credentials."""


class Refused(Exception):
    """The node answered, with ``"status": "error"``: it would not do what it was asked."""


@dataclass(frozen=True)
class Node:
    name: str
    url: str  # base URL, no trailing slash
    username: str | None = None
    password: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Cluster:
    nodes: tuple[Node, ...]
    project: str
    timeout: float
    sites: Path  # the assignment file: which node each site is on
    egg: Path | None = None  # a built egg given in crawls.toml

    def node(self, name: str) -> Node | None:
        return next((node for node in self.nodes if node.name == name), None)


def sites_file(config: Path) -> Path:
    """``crawls.toml`` -> ``crawls.sites.json`` beside it."""
    config = Path(config).resolve()
    return config.parent / f"{config.stem}{SITES_SUFFIX}"


# Configuration ---------------------------------------------------------------------------------


def parse_cluster(data: dict, config: Path, problems: list[str]) -> Cluster | None:
    """The ``[scrapyd]`` table and ``[[node]]`` tables of a crawls.toml, or None when it names no node;
    each problem found is added to ``problems``."""
    entries, options = data.get("node"), data.get("scrapyd")
    if entries is None:
        if options is not None:
            problems.append(f"{config}: [scrapyd] is set but no [[node]] table names a Scrapyd node")
        return None
    if not isinstance(entries, list) or not entries or not all(isinstance(e, dict) for e in entries):
        problems.append(f"{config}: each Scrapyd node is a [[node]] table with a name and a url")
        return None
    found: list[str] = []
    if options is None:
        options = {}
    if not isinstance(options, dict):
        found.append(f"{config}: scrapyd must be a table: [scrapyd]")
        options = {}
    unknown = sorted(set(options) - SCRAPYD_KEYS)
    if unknown:
        found.append(f"{config}: [scrapyd]: unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(SCRAPYD_KEYS))})")
    project = options.get("project", DEFAULT_PROJECT)
    if not isinstance(project, str) or not PROJECT_NAME.match(project):
        found.append(f"{config}: [scrapyd]: project must be a name of letters, digits, '.', '_' and '-'")
    timeout = options.get("timeout", DEFAULT_TIMEOUT)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
        found.append(f"{config}: [scrapyd]: timeout must be a number of seconds above 0")
    egg = options.get("egg")
    if egg is not None and (not isinstance(egg, str) or not egg.strip()):
        found.append(f"{config}: [scrapyd]: egg must be the path of an egg file")
        egg = None
    nodes: list[Node] = []
    for number, entry in enumerate(entries, 1):
        node = _node(entry, number, config, found)
        if node is not None:
            nodes.append(node)
    for key, what in (("name", "named"), ("url", "at")):
        seen = Counter(getattr(node, key) for node in nodes)
        for value, count in seen.items():
            if count > 1:
                found.append(f"{config}: {count} nodes are {what} {value!r}")
    problems += found
    if found:
        return None
    folder = config.resolve().parent
    egg_path = None
    if egg is not None:
        egg_path = Path(egg).expanduser()
        egg_path = egg_path if egg_path.is_absolute() else folder / egg_path
        if not egg_path.is_file():
            problems.append(f"{config}: [scrapyd]: egg {egg_path} is not a file (build it with "
                            "scrapyd-deploy --build-egg FILE, or leave egg out to build it from the source tree)")
            return None
    return Cluster(nodes=tuple(nodes), project=project, timeout=float(timeout), sites=sites_file(config), egg=egg_path)


def _node(entry: dict, number: int, config: Path, found: list[str]) -> Node | None:
    where = f"{config}: [[node]] #{number}"
    name = entry.get("name")
    if isinstance(name, str) and name:
        where = f"{config}: node {name!r}"
    before = len(found)
    unknown = sorted(set(entry) - NODE_KEYS)
    if unknown:
        found.append(f"{where}: unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(NODE_KEYS))})")
    for key in ("name", "url"):
        if key not in entry:
            found.append(f"{where}: {key} is missing")
    for key in NODE_KEYS:
        if key in entry and (not isinstance(entry[key], str) or not entry[key].strip()):
            found.append(f"{where}: {key} must be a non-empty string")
    if len(found) > before:
        return None
    if not NAME.match(name):
        found.append(f"{where}: name may hold only letters, digits, '.', '_' and '-'")
    url = entry["url"].strip()
    try:
        parts = urlsplit(url)
        bad = parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        bad = True
    if bad:
        found.append(f"{where}: url must be the http(s) URL of a Scrapyd node, e.g. http://10.0.0.5:6800/, got {url!r}")
    elif parts.username or parts.password:
        found.append(f"{where}: give the credentials as username and password_env (or password), not in the url")
    username, password, variable = entry.get("username"), entry.get("password"), entry.get("password_env")
    if password is not None and variable is not None:
        found.append(f"{where}: give password or password_env, not both")
    elif variable is not None:
        if not ENV_NAME.match(variable):
            found.append(f"{where}: password_env must be the name of an environment variable")
        elif not os.environ.get(variable):
            found.append(f"{where}: password_env names {variable}, which is not set in the environment")
        password = os.environ.get(variable)
    if username is not None and ":" in username:
        found.append(f"{where}: username may not hold ':' (HTTP basic auth)")
    if (username is None) != (entry.get("password") is None and variable is None):
        found.append(f"{where}: HTTP basic auth needs both username and password (or password_env)")
    if len(found) > before:
        return None
    return Node(name=name, url=url.rstrip("/"), username=username, password=password)


def check_pins(crawls: list[Crawl], cluster: Cluster | None, config: Path) -> list[str]:
    """Problems with the crawls' ``node`` keys: a node crawls.toml does not name, none at all, one site
    pinned to two nodes."""
    problems = []
    pins: dict[str, tuple[str, str]] = {}
    for crawl in crawls:
        if crawl.node is None:
            continue
        where = f"{config}: crawl {crawl.name!r}"
        if cluster is None:
            problems.append(f"{where}: node {crawl.node!r}: there are no [[node]] tables (Scrapyd nodes)")
            continue
        if cluster.node(crawl.node) is None:
            names = ", ".join(node.name for node in cluster.nodes)
            problems.append(f"{where}: node {crawl.node!r} is not a [[node]] of {config} (nodes: {names})")
            continue
        site = site_of(crawl)
        if site in pins and pins[site][1] != crawl.node:
            other, node = pins[site]
            problems.append(f"{where}: pinned to node {crawl.node!r}, but crawl {other!r} of the same site "
                            f"({site}) is pinned to {node!r}: a site's crawls share its crawl state, on one node")
        pins.setdefault(site, (crawl.name, crawl.node))
    return problems


def site_of(crawl: Crawl) -> str:
    """The key a crawl's node assignment is recorded under: its site."""
    return crawl.site or f"{crawl.spider}:default"


# Talking to a node -----------------------------------------------------------------------------


def multipart(fields: list[tuple[str, str]], files: dict[str, tuple[str, bytes]]) -> tuple[bytes, str]:
    """A multipart/form-data body (addversion.json takes the egg as a file field)."""
    boundary = uuid.uuid4().hex
    parts = []
    for name, value in fields:
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    for name, (filename, data) in files.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                     "Content-Type: application/octet-stream\r\n\r\n".encode() + data + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def _reason(exc: BaseException) -> str:
    """A short reason for a failed connection: "connection refused", "timed out after 30 s"..."""
    reason = getattr(exc, "reason", exc)
    if isinstance(reason, TimeoutError) or "timed out" in str(reason):
        return "no answer (timed out)"
    text = getattr(reason, "strerror", None) or str(reason) or type(reason).__name__
    return text[:1].lower() + text[1:]


class Client:
    """Scrapyd's JSON API on one node: direct connections (no proxy), a timeout on every call, HTTP basic
    auth when the node has credentials."""

    def __init__(self, node: Node, timeout: float):
        self.node = node
        self.timeout = timeout
        self.opener = build_opener(ProxyHandler({}))
        self.headers = {}
        if node.username is not None:
            token = base64.b64encode(f"{node.username}:{node.password}".encode()).decode("ascii")
            self.headers["Authorization"] = f"Basic {token}"

    def _open(self, path: str, body: bytes | None, content_type: str | None, timeout: float | None):
        headers = dict(self.headers)
        if content_type:
            headers["Content-Type"] = content_type
        request = Request(self.node.url + path, data=body, headers=headers)
        return self.opener.open(request, timeout=timeout or self.timeout)

    def call(self, endpoint: str, *, query: dict | None = None, form: list[tuple[str, str]] | None = None,
             files: dict[str, tuple[str, bytes]] | None = None, timeout: float | None = None) -> dict:
        """The JSON answer of ``endpoint``; :class:`NodeDown` when there is none, :class:`Refused` for
        ``"status": "error"``."""
        path = f"/{endpoint}" + (f"?{urlencode(query)}" if query else "")
        body = content_type = None
        if files:
            body, content_type = multipart(form or [], files)
        elif form is not None:
            body, content_type = urlencode(form).encode(), "application/x-www-form-urlencoded"
        try:
            with self._open(path, body, content_type, timeout) as response:
                raw = response.read()
        except HTTPError as exc:
            try:
                raw = exc.read()
            except OSError:
                raw = b""
            exc.close()
            if exc.code == 401:
                raise NodeDown("HTTP 401: the node refused the credentials (username, password)") from None
            message = _error_message(raw)
            if message is not None:
                raise Refused(message) from None
            raise NodeDown(f"HTTP {exc.code} {exc.reason} for {endpoint}") from None
        except (URLError, OSError, http.client.HTTPException) as exc:
            raise NodeDown(_reason(exc)) from None
        try:
            answer = json.loads(raw)
        except ValueError:
            raise NodeDown(f"{endpoint} did not answer JSON: is {self.node.url} a Scrapyd node?") from None
        if not isinstance(answer, dict):
            raise NodeDown(f"{endpoint} did not answer a JSON object: is {self.node.url} a Scrapyd node?")
        if answer.get("status") != "ok":
            raise Refused(str(answer.get("message") or answer))
        return answer

    def download(self, path: str, target: Path) -> bool:
        """Copy the file at ``path`` on the node to ``target`` (atomically); False when the node has none."""
        partial = target.with_name(f".{target.name}.{os.getpid()}.part")
        try:
            with self._open(path, None, None, None) as response, open(partial, "wb") as stream:
                shutil.copyfileobj(response, stream, 1 << 20)
                stream.flush()
                os.fsync(stream.fileno())
        except HTTPError as exc:
            exc.close()
            partial.unlink(missing_ok=True)
            if exc.code == 404:
                return False
            raise NodeDown(f"HTTP {exc.code} {exc.reason} for {path}") from None
        except (URLError, http.client.HTTPException, TimeoutError, ConnectionError) as exc:
            partial.unlink(missing_ok=True)
            raise NodeDown(_reason(exc)) from None
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        os.replace(partial, target)
        return True


def _error_message(raw: bytes) -> str | None:
    try:
        answer = json.loads(raw)
    except ValueError:
        return None
    if isinstance(answer, dict) and answer.get("status") == "error":
        return str(answer.get("message") or answer)
    return None


@dataclass
class NodeView:
    """One node as this call sees it: up or down (and why), and the project's jobs on it."""

    node: Node
    client: Client
    error: str | None = None
    jobs: dict[str, tuple[str, dict]] = field(default_factory=dict)  # job id -> (state, listjobs entry)
    version: str | None = None  # the project's egg of the current sources on it

    @property
    def up(self) -> bool:
        return self.error is None

    def state(self, job: str) -> str | None:
        return self.jobs.get(job, (None, None))[0]

    def active(self) -> list[str]:
        return [job for job, (state, _) in self.jobs.items() if state in ACTIVE]


def each_node(function: Callable, items: list) -> list:
    """``function`` of each item, the nodes asked at the same time (a slow node does not hold up the others)."""
    if len(items) <= 1:
        return [function(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(len(items), 16), thread_name_prefix="scrapyd") as pool:
        return list(pool.map(function, items))


def probe(cluster: Cluster) -> dict[str, NodeView]:
    """Each node's answer to ``daemonstatus.json`` and ``listjobs.json`` (all nodes at once)."""

    def look(node: Node) -> NodeView:
        view = NodeView(node, Client(node, cluster.timeout))
        try:
            view.client.call("daemonstatus.json")
            listed = view.client.call("listjobs.json")  # every project's: ours may not be deployed yet
        except (NodeDown, Refused) as exc:
            view.error = str(exc)
            return view
        for state in ("finished", "pending", "running"):  # a later state wins
            for job in listed.get(state) or []:
                if isinstance(job, dict) and job.get("project") == cluster.project and isinstance(job.get("id"), str):
                    view.jobs[job["id"]] = (state, job)
        return view

    return {view.node.name: view for view in each_node(look, list(cluster.nodes))}


# The egg ---------------------------------------------------------------------------------------


def source_tree() -> Path:
    """The project's source tree (the folder of pyproject.toml above this package)."""
    tree = Path(__file__).resolve().parent.parent
    missing = [name for name in ("pyproject.toml", "setup.py", "crawler", "pipelines") if not (tree / name).exists()]
    if missing:
        raise EggError(f"no source tree to build the project's egg from at {tree} (no {', '.join(missing)}): "
                       "build it with scrapyd-deploy --build-egg FILE and give it as [scrapyd] egg = \"FILE\"")
    return tree


def _files(root: Path, name: str):
    path = root / name
    if path.is_file():
        yield name, path
        return
    for folder, subfolders, files in os.walk(path):
        subfolders[:] = sorted(d for d in subfolders if d != "__pycache__" and not d.endswith(".egg-info"))
        for file in sorted(files):
            if not file.endswith((".pyc", ".pyo")):
                full = Path(folder) / file
                yield full.relative_to(root).as_posix(), full


def digest(cluster: Cluster) -> str:
    """What the egg's version names: a digest of the sources it is built from (or of the given egg)."""
    hasher = hashlib.sha256()
    try:
        if cluster.egg is not None:
            hasher.update(cluster.egg.read_bytes())
        else:
            tree = source_tree()
            for name in DIGESTED:
                for relative, path in _files(tree, name):
                    hasher.update(relative.encode() + b"\0" + path.read_bytes() + b"\0")
    except OSError as exc:
        raise EggError(f"cannot read {exc.filename}: {exc.strerror or exc}") from None
    return hasher.hexdigest()[:12]


def build_egg(cluster: Cluster) -> bytes:
    """The project's egg: the given one, or ``python setup.py bdist_egg`` (what scrapyd-deploy runs) in a
    copy of the source tree."""
    if cluster.egg is not None:
        try:
            data = cluster.egg.read_bytes()
        except OSError as exc:
            raise EggError(f"cannot read the egg {cluster.egg}: {exc.strerror or exc}") from None
        return data
    tree = source_tree()
    with tempfile.TemporaryDirectory(prefix="archive-crawler-egg-") as folder:
        source, dist = Path(folder) / "src", Path(folder) / "dist"
        source.mkdir()
        for name in SOURCES:
            if (tree / name).is_dir():
                shutil.copytree(tree / name, source / name, symlinks=True, ignore=IGNORED)
            elif (tree / name).is_file():
                shutil.copy2(tree / name, source / name)
        env = {key: value for key, value in os.environ.items() if key != "SCRAPY_SETTINGS_MODULE"}
        try:
            result = subprocess.run([sys.executable, "setup.py", "-q", "bdist_egg", "-d", str(dist)], cwd=source,
                                    env=env, capture_output=True, text=True, timeout=BUILD_TIMEOUT)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise EggError(f"cannot build the project's egg: {exc}") from None
        eggs = sorted(dist.glob("*.egg"))
        if result.returncode != 0 or len(eggs) != 1:
            last = (result.stderr.strip() or result.stdout.strip() or "no egg made").splitlines()[-1]
            raise EggError(f"cannot build the project's egg (python setup.py bdist_egg, which needs "
                           f"setuptools >= 77): {last}")
        return eggs[0].read_bytes()


def deploy(cluster: Cluster, views: dict[str, NodeView], say: Callable[[str], None]) -> bool:
    """Give every node that is up the egg of the current sources where it is missing; set each view's
    ``version``. False when the egg could not be had or a node refused it (said in one line each)."""
    up = [view for view in views.values() if view.up]
    if not up:
        return True
    try:
        mark = digest(cluster)
    except EggError as exc:
        say(f"scrapyd: {exc}")
        return False

    def versions(view: NodeView) -> bool:
        """Whether the node lacks the egg (setting ``version`` when it has it)."""
        try:
            listed = view.client.call("listversions.json", query={"project": cluster.project}).get("versions") or []
        except NodeDown as exc:
            view.error = str(exc)
            return False
        except Refused:
            listed = []
        mine = [version for version in listed if isinstance(version, str) and version.endswith(f"_{mark}")]
        if mine:
            view.version = mine[-1]
        return not mine

    missing = [view for view, lacks in zip(up, each_node(versions, up)) if lacks]
    if not missing:
        return True
    try:
        egg = build_egg(cluster)
    except EggError as exc:
        say(f"scrapyd: {exc}")
        return False
    # Sorts after earlier versions (and after scrapyd-deploy's timestamps), so it is also the node's default.
    version = f"{int(time.time())}_{mark}"

    def upload(view: NodeView) -> str | None:
        """addversion.json (the node lists the egg's spiders before it answers); the line to say."""
        try:
            answer = view.client.call("addversion.json", form=[("project", cluster.project), ("version", version)],
                                      files={"egg": (f"{cluster.project}.egg", egg)},
                                      timeout=max(cluster.timeout, SLOW_CALL_TIMEOUT))
        except NodeDown as exc:
            view.error = f"no answer to addversion.json: {exc}"
            return None
        except Refused as exc:
            return f"node {view.node.name}: refused the egg of {cluster.project} version {version}: {exc}"
        view.version = version
        return f"node {view.node.name}: deployed {cluster.project} version {version} ({answer.get('spiders')} spiders)"

    fine = True
    for view, line in zip(missing, each_node(upload, missing)):
        if line is not None:
            say(line)
            fine = fine and view.version is not None
    return fine


# Which node each site is on --------------------------------------------------------------------


def read_sites(path: Path) -> dict[str, dict]:
    """The recorded assignments, site -> {"node", "since", "crawls"}; none when there is no file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise RunLogError(f"cannot read the node assignments {path}: {exc}") from None
    sites = data.get("sites") if isinstance(data, dict) else None
    if not isinstance(sites, dict) or not all(isinstance(v, dict) and isinstance(v.get("node"), str)
                                              for v in sites.values()):
        raise RunLogError(f"{path} is not a file of node assignments")
    return sites


def _write_sites(path: Path, sites: dict[str, dict]) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    text = json.dumps({"sites": sites}, ensure_ascii=False, indent=1, sort_keys=True) + "\n"
    with open(temporary, "w", encoding="utf-8") as stream:
        stream.write(text)
        stream.flush()
        os.fsync(stream.fileno())
    os.replace(temporary, path)


def weight(node: str, site: str) -> int:
    """Rendezvous hashing: the node with the highest weight for a site wins a tie."""
    return int.from_bytes(hashlib.sha256(f"{node}\0{site}".encode()).digest()[:8], "big")


def assign(crawls: list[Crawl], cluster: Cluster, views: dict[str, NodeView], say: Callable[[str], None],
           now: datetime) -> dict[str, str | None]:
    """The node of each crawl (None: no node answers to take a new site), recorded in the assignment
    file under its lock. A site keeps its node; a new one goes to the answering node with the fewest
    sites; a pin (``node = NAME``) moves a site, and a node removed from crawls.toml loses its sites."""
    sites: dict[str, list[Crawl]] = {}
    for crawl in crawls:
        sites.setdefault(site_of(crawl), []).append(crawl)
    names = [node.name for node in cluster.nodes]
    cluster.sites.parent.mkdir(parents=True, exist_ok=True)
    with open(cluster.sites.with_suffix(".lock"), "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # held for a moment: read, assign, write
        record = read_sites(cluster.sites)
        counts = Counter(record[site]["node"] for site in sites if site in record and record[site]["node"] in names)
        changed = False
        for site, members in sites.items():
            pinned = next((crawl.node for crawl in members if crawl.node), None)
            entry = record.get(site)
            current = entry["node"] if entry else None
            crawl_names = [crawl.name for crawl in members]
            if entry is not None and entry.get("crawls") != crawl_names:
                entry["crawls"] = crawl_names
                changed = True
            if pinned is not None and pinned == current:
                continue
            if pinned is None and current in names:
                continue
            if pinned is not None:
                chosen = pinned
            else:
                up = [name for name in names if views[name].up]
                if not up:
                    continue  # waits for a node to answer
                chosen = min(up, key=lambda name: (counts[name], -weight(name, site)))
            if current is not None:
                why = "pinned there by crawls.toml" if pinned else f"{current} is no longer a [[node]] of crawls.toml"
                say(f"site {site}: moved from node {current} to node {chosen} ({why}); its crawl state stays on "
                    f"{current} (state/<spider>/<site>/ in its working directory): copy it to {chosen} to keep it")
                if current in names:
                    counts[current] -= 1
            record[site] = {"node": chosen, "since": iso(now), "crawls": crawl_names}
            counts[chosen] += 1
            changed = True
        if changed:
            _write_sites(cluster.sites, record)
    return {crawl.name: record.get(site_of(crawl), {}).get("node") for crawl in crawls}


def recorded_nodes(crawls: list[Crawl], cluster: Cluster) -> dict[str, str | None]:
    """The recorded node of each crawl (or its pin), without assigning anything."""
    try:
        record = read_sites(cluster.sites)
    except RunLogError:
        record = {}
    return {crawl.name: crawl.node or record.get(site_of(crawl), {}).get("node") for crawl in crawls}


# Runs ------------------------------------------------------------------------------------------


def job_id(crawl: Crawl, output: Path) -> str:
    return f"{crawl.name}{JOB_SEPARATOR}{output.stem}"


def jobs_of(crawl: Crawl, views: dict[str, NodeView]) -> list[tuple[str, str, str]]:
    """(node, job, state) of the crawl's jobs pending or running on the nodes that answer."""
    prefix = f"{crawl.name}{JOB_SEPARATOR}"
    return [(name, job, view.state(job)) for name, view in views.items() if view.up
            for job in view.active() if job.startswith(prefix)]


_CLOSED = re.compile(r"Spider closed \((\w+)\)")
_FAILED = re.compile(r"Crawl failed: (.*)")


def outcome_of_log(text: str) -> dict:
    """What a job's log says of its end: exit status as ``scrapy crawl`` would give it, finish reason."""
    closed = _CLOSED.findall(text)
    failed = _FAILED.findall(text)
    if not closed:
        return {"exit_status": None, "interrupted": True,
                "error": "the crawl's log ends before 'Spider closed': its process died (resumed)"}
    reason = closed[-1]
    if failed:
        return {"exit_status": 1, "finish_reason": reason, "error": failed[-1].strip()}
    if reason == "finished":
        return {"exit_status": 0, "finish_reason": reason}
    if reason == "shutdown":
        return {"exit_status": 130, "finish_reason": reason}
    return {"exit_status": 1, "finish_reason": reason}


def _log_tail(path: Path, size: int = 1 << 20) -> str:
    """The end of a log, where Scrapy says how the crawl closed (after it only the stats dump)."""
    with open(path, "rb") as stream:
        stream.seek(max(0, stream.seek(0, os.SEEK_END) - size))
        return stream.read().decode("utf-8", errors="replace")


def _file_path(cluster: Cluster, kind: str, spider: str, job: str, extension: str) -> str:
    return f"/{kind}/{quote(cluster.project)}/{quote(spider)}/{quote(job)}.{extension}"


def collect(crawl: Crawl, run: dict, view: NodeView, cluster: Cluster, clock: Callable[[], datetime]) -> None:
    """Record the end of a job the node no longer runs: its log and records copied to the crawl's
    folder, its exit status read from the log. :class:`NodeDown` when the copy breaks off."""
    job, spider = run["job"], run.get("spider") or crawl.spider
    state, info = view.jobs.get(job, (None, {}))
    log = crawl.output / run["log"]
    got_log = view.client.download(_file_path(cluster, "logs", spider, job, "log"), log)
    if not got_log:
        run["log"] = None
    got_items = view.client.download(_file_path(cluster, "items", spider, job, "jl"), crawl.output / run["output"])
    if not got_items:
        run["output"] = None
    run["ended"] = iso(clock())
    if state == "finished":
        run["job_start_time"], run["job_end_time"] = info.get("start_time"), info.get("end_time")
    if got_items:
        with open(crawl.output / run["output"], "rb") as stream:
            run["records"] = sum(1 for line in stream if line.strip())
    if got_log:
        run.update(outcome_of_log(_log_tail(log)))
        if not got_items:
            run["note"] = (f"no records file on node {view.node.name}: none written, or its scrapyd.conf "
                           "has no local items_dir")
    elif run.get("cancelled"):
        run.update(exit_status=None, note="cancelled before it started")
    elif state == "finished":
        run.update(exit_status=None, error=f"node {view.node.name} has no log of job {job} any more "
                   "(scrapyd's jobs_to_keep removed it?)")
    else:
        run.update(exit_status=None, interrupted=True,
                   error=f"job {job} is not known to node {view.node.name} and left no log (the node restarted "
                         "before it ran?): resumed")


def _finished_message(crawl: Crawl, run: dict) -> str:
    where = [f"records {crawl.output / run['output']} ({run.get('records', 0)})" if run.get("output") else "no records file",
             f"log {crawl.output / run['log']}" if run.get("log") else "no log"]
    status = "cancelled" if run.get("cancelled") else f"exit status {run.get('exit_status')}"
    extra = run.get("error") or run.get("note")
    return (f"{crawl.name}: finished on node {run['node']} (job {run['job']}), {status}; {', '.join(where)}"
            + (f"; {extra}" if extra else ""))


@dataclass
class Call:
    """What one ``schedule run`` saw and did with the nodes."""

    views: dict[str, NodeView]
    nodes: dict[str, str | None]  # crawl -> node
    outcomes: list[Outcome] = field(default_factory=list)
    deployed: bool = True

    @property
    def down(self) -> list[NodeView]:
        return [view for view in self.views.values() if not view.up]

    @property
    def failed(self) -> bool:
        return bool(self.down) or not self.deployed or any(outcome.failed for outcome in self.outcomes)


def run_due(schedule: Schedule, clock: Callable[[], datetime], say: Callable[[str], None] = print,
            verbose: bool = False) -> Call:
    """Collect the jobs that ended, then send each due crawl to its node (without waiting for it)."""
    cluster = schedule.cluster
    views = probe(cluster)
    deployed = deploy(cluster, views, say)
    try:
        nodes = assign(schedule.crawls, cluster, views, say, clock())
    except (OSError, RunLogError) as exc:
        say(f"scrapyd: cannot assign the sites to nodes: {exc}")
        return Call(views, {}, [Outcome(crawl, "error", str(exc)) for crawl in schedule.crawls], deployed)
    call = Call(views, nodes, deployed=deployed)
    for view in call.down:
        waiting = [crawl.name for crawl in schedule.crawls if nodes.get(crawl.name) == view.node.name]
        say(f"node {view.node.name} ({view.node.url}): down: {view.error}; "
            + (f"its crawls wait: {', '.join(waiting)}" if waiting else "no crawl is on it"))
    new = [crawl.name for crawl in schedule.crawls if nodes.get(crawl.name) is None]
    if new:
        say(f"scrapyd: no node answers to take a new site: these crawls wait: {', '.join(new)}")
    for crawl in schedule.crawls:
        call.outcomes += _crawl_on_node(crawl, schedule, call, clock, say, verbose)
    return call


def _crawl_on_node(crawl: Crawl, schedule: Schedule, call: Call, clock: Callable[[], datetime],
                   say: Callable[[str], None], verbose: bool) -> list[Outcome]:
    cluster, views = schedule.cluster, call.views
    try:
        fd = try_lock(crawl.output)
    except OSError as exc:
        message = f"{crawl.name}: not run: cannot use the output folder {crawl.output}: {exc.strerror or exc}"
        say(message)
        return [Outcome(crawl, "error", message)]
    if fd is None:
        message = f"{crawl.name}: skipped: another schedule call holds its lock"
        say(message)
        return [Outcome(crawl, "locked", message)]
    outcomes: list[Outcome] = []

    def waiting(message: str) -> list[Outcome]:
        if verbose:
            say(message)
        return outcomes + [Outcome(crawl, "waiting", message)]

    try:
        try:
            runs = read_runs(crawl.output)
        except RunLogError as exc:
            message = f"{crawl.name}: not run: {exc}"
            say(message)
            return [Outcome(crawl, "error", message)]
        last = runs[-1] if runs else None
        if last is not None and last.get("job") and last.get("ended") is None:
            view = views.get(last.get("node"))
            if view is None:
                last.update(ended=iso(clock()), exit_status=None, interrupted=True,
                            error=f"node {last.get('node')} is no longer a [[node]] of crawls.toml")
                _record(crawl, runs, say)
            elif not view.up:
                return waiting(f"{crawl.name}: waiting: its job {last['job']} is on node {view.node.name}, which is down")
            elif view.state(last["job"]) in ACTIVE:
                message = (f"{crawl.name}: skipped: {view.state(last['job'])} on node {view.node.name} "
                           f"(job {last['job']})")
                say(message)
                return [Outcome(crawl, "running", message, run=last)]
            else:
                try:
                    collect(crawl, last, view, cluster, clock)
                except (NodeDown, OSError) as exc:
                    message = f"{crawl.name}: cannot copy job {last['job']} from node {view.node.name}: {exc}"
                    say(message)
                    return [Outcome(crawl, "error", message, run=last)]
                _record(crawl, runs, say)
                message = _finished_message(crawl, last)
                say(message)
                outcomes.append(Outcome(crawl, "finished", message, run=last))
        elsewhere = jobs_of(crawl, views)
        if elsewhere:
            node, job, state = elsewhere[0]
            message = f"{crawl.name}: skipped: {state} on node {node} (job {job})"
            say(message)
            return outcomes + [Outcome(crawl, "running", message)]
        now = clock()
        decision = decide(crawl.schedule, runs, now)
        if not decision.due:
            message = f"{crawl.name}: not due: {decision.reason}; next slot {iso(next_slot(crawl.schedule, now))}"
            if verbose:
                say(message)
            return outcomes + [Outcome(crawl, "not_due", message, decision)]
        for sibling in schedule.crawls:
            if sibling is not crawl and site_of(sibling) == site_of(crawl) and jobs_of(sibling, views):
                node, job, state = jobs_of(sibling, views)[0]
                message = (f"{crawl.name}: waiting: crawl {sibling.name} of the same site is {state} on node {node} "
                           f"(job {job}); one crawl per site at a time")
                say(message)
                return outcomes + [Outcome(crawl, "waiting", message, decision)]
        name = call.nodes.get(crawl.name)
        if name is None:
            return waiting(f"{crawl.name}: waiting: no node answers to take its site {site_of(crawl)}")
        view = views[name]
        if not view.up:
            return waiting(f"{crawl.name}: waiting: its node {name} is down")
        if view.version is None:
            message = f"{crawl.name}: not run: node {name} has no egg of the current sources (see above)"
            say(message)
            return outcomes + [Outcome(crawl, "error", message, decision)]
        output, log = _new_files(crawl.output, now, runs)
        job = job_id(crawl, output)
        run, problem = begin_run(crawl, runs, decision, now, output, log, node=name, job=job,
                                 version=view.version, spider=crawl.spider, site=site_of(crawl))
        if problem is not None:
            say(problem)
            return outcomes + [Outcome(crawl, "error", problem, decision)]
        form = [("project", cluster.project), ("spider", crawl.spider), ("_version", view.version), ("jobid", job)]
        if crawl.start_url:
            form.append(("start_url", crawl.start_url))
        form += [("setting", f"{key}={value}") for key, value in crawl.settings]
        try:
            view.client.call("schedule.json", form=form, timeout=max(cluster.timeout, SLOW_CALL_TIMEOUT))
        except Refused as exc:
            run.update(ended=iso(clock()), exit_status=127, error=f"node {name} refused the job: {exc}")
            _record(crawl, runs, say)
            message = f"{crawl.name}: failed to start on node {name}: {exc}"
            say(message)
            return outcomes + [Outcome(crawl, "error", message, decision, run)]
        except NodeDown as exc:
            # Sent or not: the next call finds the job in listjobs.json, or its absence resumes the run.
            run["error"] = f"no answer to schedule.json: {exc}"
            _record(crawl, runs, say)
            message = f"{crawl.name}: node {name} did not answer schedule.json ({exc}); the next call looks for job {job}"
            say(message)
            return outcomes + [Outcome(crawl, "error", message, decision, run)]
        view.jobs[job] = ("pending", {"id": job, "spider": crawl.spider})
        say(f"{crawl.name}: started {run['started']} on node {name} as job {job} ({decision.reason}); "
            f"its records and log come to {output} and {log} when it ends")
        return outcomes + [Outcome(crawl, "submitted", f"{crawl.name}: sent to node {name} as job {job}", decision, run)]
    finally:
        os.close(fd)


# schedule list and schedule cancel -------------------------------------------------------------


def list_rows(schedule: Schedule, now: datetime) -> tuple[list[dict], list[str]]:
    """``status()`` of each crawl with its node, its last job and that job's state on the node
    (read-only: nothing is assigned, deployed or collected); and one line per node that is down."""
    cluster = schedule.cluster
    views = probe(cluster)
    nodes = recorded_nodes(schedule.crawls, cluster)
    rows = []
    for crawl in schedule.crawls:
        row = status(crawl, now)
        name = nodes.get(crawl.name)
        row.update(node=name, site=site_of(crawl), job=None, job_status=None)
        last = row["last_run"]
        if last is not None and last.get("job"):
            row["job"] = last["job"]
            view = views.get(last.get("node"))
            if last.get("ended") is not None:
                row["job_status"] = "cancelled" if last.get("cancelled") else "collected"
            elif view is None or not view.up:
                row.update(job_status="unreachable", running=False, due=False,
                           reason=f"its job is on node {last.get('node')}, which is down: it waits")
            elif view.state(last["job"]) in ACTIVE:
                row.update(job_status=view.state(last["job"]), running=True, due=False,
                           reason=f"{view.state(last['job'])} on node {view.node.name}")
            elif view.state(last["job"]) == "finished":
                row.update(job_status="finished", running=False, due=False,
                           reason=f"finished on node {view.node.name}: the next schedule run copies its records and log")
            else:
                row.update(job_status="unlisted", running=False, due=False,
                           reason=f"node {view.node.name} no longer lists the job (restarted?): "
                                  "the next schedule run reads its log")
        elif jobs_of(crawl, views):
            node, job, state = jobs_of(crawl, views)[0]
            row.update(job=job, job_status=state, running=True, due=False, reason=f"{state} on node {node}")
        if row["due"] and name is not None and not views[name].up:
            row.update(due=False, reason=f"due ({row['reason']}), but node {name} is down: it waits")
        rows.append(row)
    down = [f"node {view.node.name} ({view.node.url}): down: {view.error}" for view in views.values() if not view.up]
    return rows, down


def cancel(schedule: Schedule, name: str, clock: Callable[[], datetime], say: Callable[[str], None]) -> int:
    """Stop the crawl's job on its node (``cancel.json``); exit status 0, 1 when there is none to stop."""
    crawl = next((crawl for crawl in schedule.crawls if crawl.name == name), None)
    if crawl is None:
        raise ConfigError(f"{schedule.config}: no crawl is named {name!r}")
    cluster = schedule.cluster
    fd = None
    for _ in range(100):  # a schedule run holds the lock for a moment only
        fd = try_lock(crawl.output)
        if fd is not None:
            break
        time.sleep(0.1)
    if fd is None:
        say(f"{name}: not cancelled: another schedule call keeps its lock")
        return 1
    try:
        runs = read_runs(crawl.output)
        last = runs[-1] if runs else None
        if last is None or not last.get("job") or last.get("ended") is not None:
            say(f"{name}: not cancelled: it has no job on a node now")
            return 1
        node = cluster.node(last.get("node"))
        if node is None:
            say(f"{name}: not cancelled: its node {last.get('node')} is no longer a [[node]] of {schedule.config}")
            return 1
        client = Client(node, cluster.timeout)
        try:
            answer = client.call("cancel.json", form=[("project", cluster.project), ("job", last["job"])])
        except (NodeDown, Refused) as exc:
            say(f"{name}: not cancelled: node {node.name}: {exc}")
            return 1
        before = answer.get("prevstate")
        if before is None:
            say(f"{name}: not cancelled: node {node.name} no longer runs job {last['job']} (the next schedule run "
                "copies its records and log)")
            return 1
        last["cancelled"] = True
        if before == "pending":  # never started: no log, no records
            last.update(ended=iso(clock()), exit_status=None, output=None, log=None, note="cancelled before it started")
        write_runs(crawl.output, crawl.name, runs)
        say(f"{name}: cancelled job {last['job']} on node {node.name} (it was {before})"
            + ("; the next schedule run copies what it wrote" if before == "running" else "")
            + "; it is not resumed: the crawl waits for its next slot")
        return 0
    finally:
        os.close(fd)
