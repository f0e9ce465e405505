"""The project under a real scrapyd on 127.0.0.1: build the egg with scrapyd-deploy, upload it through
addversion.json, schedule the nizkor spider against the fixture site through schedule.json, wait for
listjobs.json to report it finished, and read the records from scrapyd's items folder.

Skipped only when scrapyd (or scrapyd-client) is not installed; they are in the test extra."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import sysconfig
import time
import uuid
import zipfile
from pathlib import Path
from urllib.parse import urlencode, urlsplit
from urllib.request import ProxyHandler, Request, build_opener

import pytest

from conftest import BIN, GOLD, REPO, read_jsonl

pytest.importorskip("scrapyd", reason="scrapyd is not installed (pip install -e '.[test]')")
pytest.importorskip("scrapyd_client", reason="scrapyd-client is not installed (pip install -e '.[test]')")

from pipelines.validation import SCHEMA_PATH, record_errors  # noqa: E402

PROJECT = "archive-crawler"  # scrapy.cfg, [deploy] project
# What the egg is built from: a copy, so that the build (build/, *.egg-info) never touches the work tree.
SOURCES = ("crawler", "pipelines", "schema", "pyproject.toml", "setup.py", "scrapy.cfg", "README.md")
# Talk to 127.0.0.1 directly, whatever proxy the environment names.
HTTP = build_opener(ProxyHandler({}))


def api(base: str, endpoint: str, *, query: dict | None = None, form: list | None = None,
        body: bytes | None = None, content_type: str | None = None, headers: dict | None = None) -> dict:
    url = f"{base}/{endpoint}" + (f"?{urlencode(query)}" if query else "")
    if form is not None:
        body, content_type = urlencode(form).encode(), "application/x-www-form-urlencoded"
    headers = {**(headers or {}), **({"Content-Type": content_type} if content_type else {})}
    request = Request(url, data=body, headers=headers)
    with HTTP.open(request, timeout=120) as response:
        answer = json.loads(response.read())
    assert answer.get("status") == "ok", (endpoint, answer)
    return answer


def multipart(fields: dict[str, str], files: dict[str, tuple[str, bytes]]) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = []
    for name, value in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    for name, (filename, data) in files.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                     "Content-Type: application/octet-stream\r\n\r\n".encode() + data + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def egg(tmp_path_factory) -> Path:
    """The project's egg, as `scrapyd-deploy --build-egg` makes it (from a copy of the sources)."""
    folder = tmp_path_factory.mktemp("egg")
    source = folder / "src"
    source.mkdir()
    for name in SOURCES:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, source / name, symlinks=True,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(REPO / name, source / name)
    path = folder / "archive-crawler.egg"
    env = {key: value for key, value in os.environ.items() if key != "SCRAPY_SETTINGS_MODULE"}
    result = subprocess.run([str(BIN / "scrapyd-deploy"), "--build-egg", str(path), "--debug"], cwd=source,
                            env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0 and path.is_file(), result.stdout[-3000:] + result.stderr[-3000:]
    return path


def test_the_egg_carries_the_settings_entry_point_and_the_data_files(egg):
    with zipfile.ZipFile(egg) as archive:
        names = set(archive.namelist())
        entry_points = archive.read("EGG-INFO/entry_points.txt").decode()
        schema = archive.read("pipelines/data/record-v1.json")
    assert "[scrapy]" in entry_points and "settings = crawler.settings" in entry_points
    assert {"pipelines/profiles/derechos.org.toml", "pipelines/profiles/generic.toml"} <= names
    assert "crawler/spiders/nizkor.py" in names
    assert schema == SCHEMA_PATH.read_bytes()  # the published schema, not a second copy that could drift


def test_the_egg_runs_without_the_work_tree(egg, tmp_path):
    """From the zipped egg alone (python -S: no .pth files, so not the editable install either)."""
    code = (
        "import sys, json; sys.path[:0] = [sys.argv[1]]; sys.path.append(sys.argv[2])\n"
        "import pipelines, crawler.settings\n"
        "from crawler.spiders.nizkor import NizkorSpider\n"
        "from pipelines.profiles import available_profiles, load_profile\n"
        "from pipelines.validation import load_schema\n"
        "print(json.dumps({'pipelines': pipelines.__file__, 'crawler': crawler.settings.__file__,\n"
        "  'profiles': available_profiles(), 'hosts': list(load_profile(NizkorSpider.profile_name).hosts),\n"
        "  'schema': load_schema()}))\n"
    )
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PYTHON", "SCRAPY"))}
    result = subprocess.run([sys.executable, "-S", "-c", code, str(egg), sysconfig.get_paths()["purelib"]],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    seen = json.loads(result.stdout)
    assert seen["pipelines"].startswith(str(egg) + os.sep) and seen["crawler"].startswith(str(egg) + os.sep)
    assert seen["profiles"] == ["derechos.org", "generic"]
    assert "www.derechos.org" in seen["hosts"]
    assert seen["schema"] == json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


def test_scrapyds_runner_imports_the_project_from_the_egg(egg, tmp_path):
    """scrapyd's runner activates the egg the way scrapyd does; the egg wins over an installed copy."""
    code = ("import sys; from scrapyd.runner import activate_egg; activate_egg(sys.argv[1])\n"
            "import crawler.settings, pipelines.profiles; print(crawler.settings.__file__); "
            "print(pipelines.profiles.__file__)")
    env = {key: value for key, value in os.environ.items() if not key.startswith("SCRAPY")}
    result = subprocess.run([sys.executable, "-W", "ignore", "-c", code, str(egg)], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert all(line.startswith(str(egg) + os.sep) for line in result.stdout.splitlines()), result.stdout


@contextlib.contextmanager
def scrapyd_node(folder: Path, port: int | None = None, *, max_proc: int = 1, auth: tuple[str, str] | None = None):
    """A real scrapyd on 127.0.0.1, in ``folder`` (its working directory) with its own scrapyd.conf; stopped
    afterwards. ``auth``: HTTP basic auth (username, password). Started again on the same folder and port,
    it finds its eggs, queue and files again."""
    folder.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    (folder / "scrapyd.conf").write_text(
        "[scrapyd]\n"
        "bind_address = 127.0.0.1\n"
        f"http_port = {port}\n"
        f"eggs_dir = {folder / 'eggs'}\n"
        f"logs_dir = {folder / 'logs'}\n"
        f"items_dir = {folder / 'items'}\n"
        f"dbs_dir = {folder / 'dbs'}\n"
        "jobs_to_keep = 5\n"
        f"max_proc = {max_proc}\n"
        "poll_interval = 0.2\n"
        + (f"username = {auth[0]}\npassword = {auth[1]}\n" if auth else ""),
        encoding="utf-8",
    )
    # HOME: no ~/.scrapyd.conf or ~/.scrapy.cfg of the machine's user gets in the way.
    env = {key: value for key, value in os.environ.items() if not key.startswith("SCRAPY")}
    env["HOME"] = str(folder)
    base = f"http://127.0.0.1:{port}"
    headers = {"Authorization": "Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()} if auth else {}
    with open(folder / "scrapyd.out", "ab") as output:
        process = subprocess.Popen([str(BIN / "scrapyd"), "--pidfile", str(folder / "scrapyd.pid")], cwd=folder,
                                   env=env, stdout=output, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, (folder / "scrapyd.out").read_text(errors="replace")[-3000:]
            try:
                api(base, "daemonstatus.json", headers=headers)
                break
            except OSError:
                assert time.monotonic() < deadline, "scrapyd did not answer within 60 s"
                time.sleep(0.2)
        yield {"base": base, "folder": folder, "process": process, "port": port, "headers": headers}
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def scrapyd_server(tmp_path_factory):
    """A real scrapyd on 127.0.0.1, in its own folder with its own scrapyd.conf; stopped afterwards."""
    with scrapyd_node(tmp_path_factory.mktemp("scrapyd")) as node:
        yield node


def test_scrapyd_runs_the_nizkor_spider_from_the_deployed_egg(scrapyd_server, egg, fixture_site, gold):
    base, folder = scrapyd_server["base"], scrapyd_server["folder"]
    body, content_type = multipart({"project": PROJECT, "version": "1"}, {"egg": ("project.egg", egg.read_bytes())})
    added = api(base, "addversion.json", body=body, content_type=content_type)
    assert added["project"] == PROJECT and added["spiders"] >= 1
    spiders = api(base, "listspiders.json", query={"project": PROJECT})["spiders"]
    assert "nizkor" in spiders

    since = len(fixture_site.requests)
    job = api(base, "schedule.json", form=[
        ("project", PROJECT),
        ("spider", "nizkor"),
        ("start_url", f"{fixture_site.base_url}/nizkor/"),
        ("setting", "DOWNLOAD_DELAY=0"),
        ("setting", "AUTOTHROTTLE_ENABLED=False"),
        ("setting", "CONCURRENT_REQUESTS_PER_DOMAIN=8"),
        ("setting", "CONTACT_URL=https://example.org/contact"),
        ("setting", f"CRAWL_STATE={folder / 'state'}"),
    ])["jobid"]

    deadline = time.monotonic() + 300
    while True:
        jobs = api(base, "listjobs.json", query={"project": PROJECT})
        finished = [j for j in jobs["finished"] if j["id"] == job]
        if finished:
            break
        assert scrapyd_server["process"].poll() is None, "scrapyd died"
        assert time.monotonic() < deadline, f"job {job} did not finish within 300 s: {jobs}"
        time.sleep(0.5)

    log = (folder / "logs" / PROJECT / "nizkor" / f"{job}.log").read_text(encoding="utf-8", errors="replace")
    assert "Spider closed (finished)" in log, log[-3000:]
    assert "Traceback" not in log, log[-3000:]
    records = read_jsonl(folder / "items" / PROJECT / "nizkor" / f"{job}.jl")
    paths = sorted(urlsplit(record["url"]).path for record in records)
    assert len(records) == len(gold)
    assert paths == sorted(gold) == sorted(urlsplit(r["url"]).path for r in read_jsonl(GOLD))
    assert all(record_errors(record) == [] for record in records)
    assert all(record["canonical_url"].startswith(fixture_site.base_url) for record in records)
    # The crawl went to the fixture site, and only there.
    assert any(r["path"] == "/robots.txt" for r in list(fixture_site.requests)[since:])
