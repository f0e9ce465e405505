"""Crawls across Scrapyd nodes (crawls.toml [[node]] tables, crawler/nodes.py).

The cluster tests (marker ``cluster``; ``pytest -m cluster`` runs only them, ``-m "not cluster"`` leaves
them out) start two real scrapyd processes on 127.0.0.1 (node b with HTTP basic auth) and four copies of
the fixture archive on four ports, and drive them with real `archive-crawler schedule run|list|cancel`
processes: the egg is deployed to both nodes, the four sites spread over them, every record comes back
once, a second call does not start a running crawl again, and a node that is down is said in one line
while its crawls wait for it (and its crawl state). What happened is read from the run logs, the
assignment file, the nodes' listjobs.json and folders and the fixture servers' request logs.

The other tests check the configuration and the assignment rules without any node."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from conftest import GOLD, REAL_SITE, REPO, SITE, SITE_HEADERS, read_jsonl
from crawler.nodes import IGNORED, SOURCES, Cluster, Node, NodeView, assign, outcome_of_log, read_sites, sites_file, weight
from crawler.schedule import ConfigError, Crawl, decide, load_schedule

WEEKLY = "0 3 * * 1"  # Mondays 03:00 UTC; 2026-11-23 and 2026-11-30 are Mondays
FIRST, SECOND = "2026-11-23T03:00:30Z", "2026-11-30T03:00:30Z"
PASSWORD_ENV = "ARCHIVE_CRAWLER_TEST_NODE_B_PASSWORD"
PASSWORD = "not-a-secret"
# As fast as the fixture site allows. Each node runs one job at a time (max_proc = 1), so a node's second
# crawl is pending at least as long as its first one runs (a few seconds): the next call sees it going.
SETTINGS = {"DOWNLOAD_DELAY": 0, "AUTOTHROTTLE_ENABLED": False, "CONCURRENT_REQUESTS_PER_DOMAIN": 8,
            "RECORD_WORKERS": 0, "CONTACT_URL": "https://example.org/contact"}


# Configuration and assignment, without nodes ----------------------------------------------------

CRAWL = '[[crawl]]\nname = "a"\nspider = "nizkor"\nstart_url = "http://127.0.0.1:8001/nizkor/"\n' \
        'schedule = "0 3 * * 1"\noutput = "out/a"\n'
NODE = '[[node]]\nname = "n1"\nurl = "http://127.0.0.1:6800/"\n'


def test_nodes_in_crawls_toml(tmp_path, monkeypatch):
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    config = tmp_path / "crawls.toml"
    config.write_text(
        '[scrapyd]\nproject = "archive-crawler"\ntimeout = 5\n' + NODE
        + f'[[node]]\nname = "n2"\nurl = "https://scrapyd.example.org/n2/"\nusername = "u"\npassword_env = "{PASSWORD_ENV}"\n'
        + CRAWL + 'node = "n2"\n', encoding="utf-8")
    schedule = load_schedule(config, check_project=False)
    cluster = schedule.cluster
    assert [node.name for node in cluster.nodes] == ["n1", "n2"]
    assert cluster.nodes[0].url == "http://127.0.0.1:6800" and cluster.nodes[1].url == "https://scrapyd.example.org/n2"
    assert cluster.nodes[1].username == "u" and cluster.nodes[1].password == PASSWORD
    assert cluster.timeout == 5 and cluster.project == "archive-crawler"
    assert cluster.sites == tmp_path / "crawls.sites.json"
    [crawl] = schedule.crawls
    assert crawl.node == "n2" and crawl.site == "http://127.0.0.1:8001"
    # Without [[node]] tables: the crawls run here, as before.
    config.write_text(CRAWL, encoding="utf-8")
    assert load_schedule(config, check_project=False).cluster is None


BAD_NODES = [
    (NODE.replace('url = "http://127.0.0.1:6800/"\n', ""), "url is missing"),
    (NODE.replace("http://127.0.0.1:6800/", "ftp://127.0.0.1/"), "url must be the http(s) URL of a Scrapyd node"),
    (NODE.replace("http://127.0.0.1:6800/", "http://u:p@127.0.0.1:6800/"), "not in the url"),
    (NODE + 'weight = 2\n', "unknown key(s) weight"),
    (NODE + NODE, "2 nodes are named 'n1'"),
    (NODE + 'username = "u"\n', "needs both username and password"),
    (NODE + 'username = "u"\npassword_env = "ARCHIVE_CRAWLER_TEST_UNSET"\n', "which is not set in the environment"),
    (NODE + 'username = "u"\npassword = "p"\npassword_env = "X"\n', "not both"),
    ('[scrapyd]\ntimeout = 0\n' + NODE, "timeout must be a number of seconds above 0"),
    ('[scrapyd]\nproject = "a b"\n' + NODE, "project must be a name"),
    ('[scrapyd]\ntimeout = 5\n', "no [[node]] table"),
    ('node = "n1"\n', "each Scrapyd node is a [[node]] table"),
    ('[scrapyd]\negg = "missing.egg"\n' + NODE, "is not a file"),
]


@pytest.mark.parametrize(("text", "message"), BAD_NODES, ids=[message for _, message in BAD_NODES])
def test_a_bad_node_is_a_config_problem(tmp_path, text, message):
    config = tmp_path / "crawls.toml"
    config.write_text(text + CRAWL, encoding="utf-8")
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_schedule(config, check_project=False)


def test_a_pin_must_name_a_node_and_one_site_one_node(tmp_path):
    config = tmp_path / "crawls.toml"
    config.write_text(CRAWL + 'node = "n9"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="there are no \\[\\[node\\]\\] tables"):
        load_schedule(config, check_project=False)
    config.write_text(NODE + CRAWL + 'node = "n9"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="node 'n9' is not a \\[\\[node\\]\\]"):
        load_schedule(config, check_project=False)
    second = CRAWL.replace('name = "a"', 'name = "b"').replace("out/a", "out/b")
    config.write_text(NODE + NODE.replace("n1", "n2").replace("6800", "6801") + CRAWL + 'node = "n1"\n'
                      + second + 'node = "n2"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="of the same site"):
        load_schedule(config, check_project=False)


def fake_cluster(tmp_path: Path, *names: str) -> Cluster:
    nodes = tuple(Node(name, f"http://127.0.0.1:{6800 + i}") for i, name in enumerate(names))
    return Cluster(nodes=nodes, project="archive-crawler", timeout=1, sites=sites_file(tmp_path / "crawls.toml"))


def views_of(cluster: Cluster, down: tuple[str, ...] = ()) -> dict[str, NodeView]:
    return {node.name: NodeView(node, None, error="down" if node.name in down else None) for node in cluster.nodes}


def crawls_of(tmp_path: Path, count: int, **extra) -> list[Crawl]:
    return [Crawl(name=f"s{i}", spider="nizkor", schedule=WEEKLY, output=tmp_path / f"s{i}", workdir=tmp_path,
                  start_url=f"http://127.0.0.1:{9000 + i}/", site=f"http://127.0.0.1:{9000 + i}", **extra)
            for i in range(count)]


NOW = datetime(2026, 11, 23, 3, tzinfo=timezone.utc)


def test_sites_spread_evenly_and_keep_their_node(tmp_path):
    cluster = fake_cluster(tmp_path, "a", "b", "c")
    crawls = crawls_of(tmp_path, 7)
    said = []
    first = assign(crawls, cluster, views_of(cluster), said.append, NOW)
    counts = sorted(list(first.values()).count(name) for name in "abc")
    assert counts == [2, 2, 3] and said == []
    # Sticky: the same answer again, and with a node added the sites stay where they are.
    assert assign(crawls, cluster, views_of(cluster), said.append, NOW) == first
    bigger = fake_cluster(tmp_path, "a", "b", "c", "d")
    again = assign(crawls, bigger, views_of(bigger), said.append, NOW)
    assert again == first
    # A new site goes to the node with the fewest sites: the new, empty one.
    more = crawls_of(tmp_path, 8)
    assert assign(more, bigger, views_of(bigger), said.append, NOW)["s7"] == "d"
    record = read_sites(cluster.sites)
    assert record["http://127.0.0.1:9000"]["node"] == first["s0"] and record["http://127.0.0.1:9000"]["crawls"] == ["s0"]


def test_ties_go_by_rendezvous_hashing(tmp_path):
    cluster = fake_cluster(tmp_path, "a", "b")
    [crawl] = crawls_of(tmp_path, 1)
    chosen = assign([crawl], cluster, views_of(cluster), print, NOW)["s0"]
    assert chosen == max("ab", key=lambda name: weight(name, crawl.site))


def test_a_new_site_avoids_a_node_that_is_down_and_an_old_one_waits_for_it(tmp_path):
    cluster = fake_cluster(tmp_path, "a", "b")
    crawls = crawls_of(tmp_path, 2)
    first = assign(crawls, cluster, views_of(cluster), print, NOW)
    assert sorted(first.values()) == ["a", "b"]
    down = first["s0"]
    more = crawls_of(tmp_path, 4)
    later = assign(more, cluster, views_of(cluster, down=(down,)), print, NOW)
    assert later["s0"] == down  # kept: its crawl state is there
    assert later["s2"] != down and later["s3"] != down
    # Nothing answers: a new site is not assigned at all.
    nothing = assign(crawls_of(tmp_path, 5), cluster, views_of(cluster, down=("a", "b")), print, NOW)
    assert nothing["s4"] is None


def test_a_pin_or_a_removed_node_moves_a_site_and_says_so(tmp_path):
    cluster = fake_cluster(tmp_path, "a", "b")
    [crawl] = crawls_of(tmp_path, 1)
    first = assign([crawl], cluster, views_of(cluster), print, NOW)["s0"]
    other = "b" if first == "a" else "a"
    said = []
    [pinned] = crawls_of(tmp_path, 1, node=other)
    assert assign([pinned], cluster, views_of(cluster), said.append, NOW)["s0"] == other
    assert len(said) == 1 and f"moved from node {first} to node {other}" in said[0] and "copy it" in said[0]
    said.clear()
    alone = fake_cluster(tmp_path, first)
    assert assign([crawl], alone, views_of(alone), said.append, NOW)["s0"] == first
    assert len(said) == 1 and "no longer a [[node]]" in said[0]


def test_the_exit_status_of_a_job_comes_from_its_log():
    assert outcome_of_log("... [scrapy.core.engine] INFO: Spider closed (finished)\n")["exit_status"] == 0
    failed = outcome_of_log("ERROR: Crawl failed: no page was fetched\nINFO: Spider closed (finished)\n")
    assert failed["exit_status"] == 1 and failed["error"] == "no page was fetched"
    assert outcome_of_log("INFO: Spider closed (shutdown)\n")["exit_status"] == 130
    died = outcome_of_log("INFO: Spider opened\n")
    assert died["exit_status"] is None and died["interrupted"] is True
    # A run whose process died is resumed; a cancelled one is not.
    slot_run = {"started": "2026-11-23T03:00:05Z", "ended": "2026-11-23T03:10:00Z", "exit_status": None}
    assert decide(WEEKLY, [{**slot_run, "interrupted": True}], NOW.replace(hour=4)).due
    assert not decide(WEEKLY, [{**slot_run, "exit_status": 130, "cancelled": True}], NOW.replace(hour=4)).due


def test_no_node_answers_one_line_each_and_the_crawls_wait(tmp_path):
    """Without any scrapyd: every node down (nobody listens on its port), nothing is assigned or sent."""
    import socket

    ports = []
    for _ in range(2):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            ports.append(sock.getsockname()[1])
    config = tmp_path / "crawls.toml"
    config.write_text(
        f'[scrapyd]\ntimeout = 5\n[[node]]\nname = "n1"\nurl = "http://127.0.0.1:{ports[0]}/"\n'
        f'[[node]]\nname = "n2"\nurl = "http://127.0.0.1:{ports[1]}/"\n' + CRAWL, encoding="utf-8")
    run = subprocess.run([sys.executable, "-m", "crawler.cli", "schedule", "run", "--config", str(config)],
                         cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert run.returncode == 1, run.stdout + run.stderr
    assert run.stdout.splitlines() == [
        f"node n1 (http://127.0.0.1:{ports[0]}): down: connection refused; no crawl is on it",
        f"node n2 (http://127.0.0.1:{ports[1]}): down: connection refused; no crawl is on it",
        "scrapyd: no node answers to take a new site: these crawls wait: a",
    ]
    assert not (tmp_path / "out" / "a" / "runs.json").exists()
    assert read_sites(sites_file(config)) == {}
    listed = subprocess.run([sys.executable, "-m", "crawler.cli", "schedule", "list", "--json", "--config", str(config)],
                            cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert listed.returncode == 0 and listed.stderr.count("down: connection refused") == 2
    row = json.loads(listed.stdout)
    assert row["node"] is None and row["job"] is None and row["due"] is True


# Two real scrapyd nodes ----------------------------------------------------------------------


PROJECT = "archive-crawler"  # scrapy.cfg, [deploy] project


def scrapyd_tests():
    """tests/test_scrapyd.py, whose helpers start scrapyd and call its API (skips without scrapyd)."""
    import test_scrapyd

    return test_scrapyd


def toml_value(value) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else json.dumps(value)


class Nodes:
    """Two scrapyd processes, a (no auth) and b (basic auth); b can be stopped and started again."""

    def __init__(self, root: Path):
        self.root = root
        self.stack = contextlib.ExitStack()
        self.b_stack: contextlib.ExitStack | None = None
        self.a = self.stack.enter_context(scrapyd_tests().scrapyd_node(root / "node-a"))
        self.b_port = scrapyd_tests().free_port()
        self.b = None
        self.start_b()

    def start_b(self):
        self.b_stack = contextlib.ExitStack()
        self.b = self.b_stack.enter_context(
            scrapyd_tests().scrapyd_node(self.root / "node-b", self.b_port, auth=("crawler", PASSWORD)))

    def stop_b(self):
        self.b_stack.close()
        self.b_stack = None

    def node(self, name: str) -> dict:
        return self.a if name == "a" else self.b

    def jobs(self, name: str) -> dict:
        node = self.node(name)
        return scrapyd_tests().api(node["base"], "listjobs.json", query={"project": PROJECT}, headers=node["headers"])

    def close(self):
        if self.b_stack is not None:
            self.b_stack.close()
        self.stack.close()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    from fixtures.server import running_server

    root = tmp_path_factory.mktemp("cluster")
    # The CLI runs from a copy of the sources taken now, so the egg it builds and deploys (named by a
    # digest of the sources) stays the same during the test, whatever is edited in the work tree meanwhile.
    sources = root / "src"
    sources.mkdir()
    for name in SOURCES:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, sources / name, symlinks=True, ignore=IGNORED)
        else:
            shutil.copy2(REPO / name, sources / name)
    with contextlib.ExitStack() as stack:
        sites = [stack.enter_context(running_server(SITE, headers_file=SITE_HEADERS)) for _ in range(4)]
        nodes = Nodes(root)
        stack.callback(nodes.close)
        settings = ", ".join(f"{key} = {toml_value(value)}" for key, value in SETTINGS.items())
        text = (f'[scrapyd]\nproject = "{PROJECT}"\ntimeout = 20\n\n'
                f'[[node]]\nname = "a"\nurl = "{nodes.a["base"]}/"\n\n'
                f'[[node]]\nname = "b"\nurl = "http://127.0.0.1:{nodes.b_port}/"\nusername = "crawler"\n'
                f'password_env = "{PASSWORD_ENV}"\n')
        for number, site in enumerate(sites, 1):
            text += (f'\n[[crawl]]\nname = "site-{number}"\nspider = "nizkor"\nstart_url = "{site.base_url}/nizkor/"\n'
                     f'schedule = "{WEEKLY}"\noutput = "crawls/site-{number}"\nsettings = {{ {settings} }}\n')
        config = root / "crawls.toml"
        config.write_text(text, encoding="utf-8")
        yield {"root": root, "config": config, "sites": sites, "nodes": nodes, "sources": sources,
               "names": [f"site-{number}" for number in range(1, 5)]}


def schedule(cluster, *args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    """`archive-crawler schedule ARGS --config crawls.toml`, from the copy of the sources."""
    env = {key: value for key, value in os.environ.items() if key != "SCRAPY_SETTINGS_MODULE"}
    env[PASSWORD_ENV] = PASSWORD
    env["PYTHONPATH"] = str(cluster["sources"])
    return subprocess.run([sys.executable, "-m", "crawler.cli", "schedule", *args, "--config", str(cluster["config"])],
                          cwd=cluster["root"], env=env, capture_output=True, text=True, timeout=timeout)


def runs_of(cluster, name: str) -> list[dict]:
    path = cluster["root"] / "crawls" / name / "runs.json"
    return json.loads(path.read_text(encoding="utf-8"))["runs"] if path.exists() else []


def wait_until_idle(cluster, *names: str, limit: float = 240.0) -> dict[str, dict]:
    """Poll the nodes' listjobs.json until none of them has a job pending or running."""
    deadline = time.monotonic() + limit
    while True:
        jobs = {name: cluster["nodes"].jobs(name) for name in names}
        if not any(listed["pending"] or listed["running"] for listed in jobs.values()):
            return jobs
        assert time.monotonic() < deadline, f"jobs still going after {limit} s: {jobs}"
        time.sleep(0.5)


def gold_paths() -> list[str]:
    return sorted(record["url"].removeprefix(REAL_SITE) for record in read_jsonl(GOLD))


@pytest.fixture(scope="module")
def first_round(cluster):
    """`schedule run` sends the four crawls; a second call at once sends nothing; once the nodes are idle
    a third call copies the four jobs' records and logs back."""
    began = time.monotonic()
    timings = {}

    def timed(what, function, *args):
        start = time.monotonic()
        value = function(*args)
        timings[what] = round(time.monotonic() - start, 1)
        return value

    sent = timed("run (deploy, send 4)", schedule, cluster, "run", "--now", FIRST)
    again = timed("run again", schedule, cluster, "run", "--now", FIRST, "-v")
    during = {name: cluster["nodes"].jobs(name) for name in "ab"}
    finished = timed("wait for the jobs", wait_until_idle, cluster, "a", "b")
    listed = timed("list --json", schedule, cluster, "list", "--json", "--now", FIRST)
    collected = timed("run (collect 4)", schedule, cluster, "run", "--now", FIRST)
    table = schedule(cluster, "list", "--now", FIRST)
    print("first round:", timings)
    for what, result in (("run", sent), ("run again", again), ("list --json", listed), ("run", collected),
                         ("list", table)):
        print(f"$ archive-crawler schedule {what}\n{result.stdout}{result.stderr}")
    return {"sent": sent, "again": again, "during": during, "finished": finished, "listed": listed,
            "collected": collected, "table": table, "seconds": time.monotonic() - began}


@pytest.mark.cluster
def test_four_sites_spread_over_two_nodes_every_record_once(cluster, first_round, gold):
    sent, names = first_round["sent"], cluster["names"]
    assert sent.returncode == 0, sent.stdout + sent.stderr
    # The egg went to both nodes (b through its basic auth), built once.
    assert re.search(r"^node a: deployed archive-crawler version \d+_[0-9a-f]{12} \(2 spiders\)$", sent.stdout, re.M), sent.stdout
    assert re.search(r"^node b: deployed archive-crawler version \d+_[0-9a-f]{12} \(2 spiders\)$", sent.stdout, re.M)
    assert len(re.findall(r"^site-\d: started 2026-11-23T03:00:\d\dZ on node [ab] as job site-\d@20261123T0300\d\dZ ",
                          sent.stdout, re.M)) == 4, sent.stdout

    assignment = read_sites(sites_file(cluster["config"]))
    nodes = {name: runs_of(cluster, name)[0]["node"] for name in names}
    assert sorted(nodes.values()) == ["a", "a", "b", "b"], nodes  # two sites on each node
    for number, site in enumerate(cluster["sites"], 1):
        assert assignment[site.base_url]["node"] == nodes[f"site-{number}"]
        assert assignment[site.base_url]["crawls"] == [f"site-{number}"]

    # The second call, while the jobs were pending or running: nothing sent twice.
    again = first_round["again"]
    assert again.returncode == 0, again.stdout + again.stderr
    assert "started" not in again.stdout and "deployed" not in again.stdout
    for name in names:
        assert re.search(rf"^{name}: skipped: (pending|running) on node {nodes[name]} \(job {name}@", again.stdout, re.M), again.stdout
    during = first_round["during"]
    going = [job["id"] for listed in during.values() for job in listed["pending"] + listed["running"]]
    assert len(going) == len(set(going)) and len(going) >= 2

    # Each node ran exactly its two crawls, once each.
    for node in "ab":
        ids = sorted(job["id"] for job in first_round["finished"][node]["finished"])
        assert ids == sorted(runs_of(cluster, name)[0]["job"] for name in names if nodes[name] == node)

    listed = [json.loads(line) for line in first_round["listed"].stdout.splitlines()]
    assert [row["job_status"] for row in listed] == ["finished"] * 4, listed
    assert [row["node"] for row in listed] == [nodes[name] for name in names]
    assert [row["job"] for row in listed] == [runs_of(cluster, name)[0]["job"] for name in names]

    collected = first_round["collected"]
    assert collected.returncode == 0, collected.stdout + collected.stderr
    assert "started" not in collected.stdout
    expected = gold_paths()
    for number, site in enumerate(cluster["sites"], 1):
        name = f"site-{number}"
        [run] = runs_of(cluster, name)
        folder = cluster["root"] / "crawls" / name
        assert f"{name}: finished on node {run['node']} (job {run['job']}), exit status 0" in collected.stdout
        assert run["exit_status"] == 0 and run["ended"] and run["version"] and run["finish_reason"] == "finished"
        # The run's records and log, where a run here would write them: OUTPUT/<UTC start>.jsonl and .log.
        stamp = run["job"].removeprefix(f"{name}@")
        assert re.fullmatch(r"20261123T0300\d\dZ", stamp) and run["started"] == f"2026-11-23T03:00:{stamp[-3:-1]}Z"
        assert run["output"] == f"{stamp}.jsonl" and run["log"] == f"{stamp}.log"
        records = read_jsonl(folder / run["output"])
        assert sorted(urlsplit(record["url"]).path for record in records) == expected  # every record once
        assert run["records"] == len(records) == len(gold)
        assert all(record["canonical_url"].startswith(site.base_url) for record in records)
        log = (folder / run["log"]).read_text(encoding="utf-8")
        assert "Spider closed (finished)" in log and "Traceback" not in log
        # One process crawled each site: robots.txt and the start page were asked for once.
        assert sum(1 for r in site.requests if r["path"] == "/robots.txt") == 1
        assert sum(1 for r in site.requests if r["path"] == "/nizkor/") == 1
        # Its crawl state is on its node, per site, and on no other node.
        slug = f"http_127.0.0.1_{urlsplit(site.base_url).port}"
        for node in "ab":
            state = cluster["root"] / f"node-{node}" / "state" / "nizkor" / slug / "state.sqlite3"
            assert state.is_file() is (node == run["node"]), (node, state)

    table = first_round["table"].stdout.splitlines()
    assert table[0].split()[:10] == ["CRAWL", "SCHEDULE", "NEXT", "SLOT", "(UTC)", "LAST", "RUN", "DUE", "NODE", "JOB"]
    for name in names:
        [line] = [line for line in table if line.startswith(name + " ")]
        assert f" {nodes[name]} " in line and f" {runs_of(cluster, name)[0]['job']} " in line and " collected " in line
    assert first_round["seconds"] < 240


@pytest.mark.cluster
def test_a_node_that_is_down_is_said_once_and_its_crawls_wait(cluster, first_round):
    names, nodes = cluster["names"], cluster["nodes"]
    on = {name: runs_of(cluster, name)[0]["node"] for name in names}
    on_a = [name for name in names if on[name] == "a"]
    on_b = [name for name in names if on[name] == "b"]
    assignment = read_sites(sites_file(cluster["config"]))
    began = time.monotonic()
    nodes.stop_b()
    try:
        # The next slot: node a's crawls go, node b's wait for b (their state is there).
        sent = schedule(cluster, "run", "--now", SECOND)
        assert sent.returncode == 1, sent.stdout + sent.stderr
        # At once, cancel the second of node a's crawls (pending behind the first): it is not resumed.
        cancelled = schedule(cluster, "cancel", on_a[1])
        down = [line for line in sent.stdout.splitlines() if "node b" in line]
        assert len(down) == 1, sent.stdout
        assert down[0].startswith(f"node b (http://127.0.0.1:{nodes.b_port}): down: connection refused; "
                                  f"its crawls wait: {', '.join(on_b)}"), down
        for name in on_a:
            assert re.search(rf"^{name}: started 2026-11-30T03:00:\d\dZ on node a ", sent.stdout, re.M), sent.stdout
        for name in on_b:
            assert name + ":" not in sent.stdout
            assert len(runs_of(cluster, name)) == 1
        assert read_sites(sites_file(cluster["config"])) == assignment  # nothing moved
        assert cancelled.returncode == 0, cancelled.stdout + cancelled.stderr
        assert re.search(rf"^{on_a[1]}: cancelled job {on_a[1]}@20261130T0300\d\dZ on node a \(it was (pending|running)\)",
                         cancelled.stdout, re.M), cancelled.stdout

        listed = schedule(cluster, "list", "--json", "--now", SECOND)
        assert listed.returncode == 0 and listed.stderr.count("node b") == 1, listed.stderr
        rows = {row["name"]: row for row in map(json.loads, listed.stdout.splitlines())}
        for name in on_b:
            assert rows[name]["node"] == "b" and rows[name]["due"] is False
            assert "node b is down: it waits" in rows[name]["reason"]

        wait_until_idle(cluster, "a")
    finally:
        nodes.start_b()

    # b is back: its crawls go to b (the egg is still there); a's cancelled crawl waits for its next slot.
    back = schedule(cluster, "run", "--now", SECOND)
    assert back.returncode == 0, back.stdout + back.stderr
    assert "deployed" not in back.stdout
    assert f"{on_a[0]}: finished on node a" in back.stdout and "exit status 0" in back.stdout
    assert runs_of(cluster, on_a[1])[-1]["ended"] is not None  # copied back, or never started
    for name in on_b:
        assert re.search(rf"^{name}: started 2026-11-30T03:0\d:\d\dZ on node b ", back.stdout, re.M), back.stdout
    assert f"{on_a[1]}: started" not in back.stdout
    assert runs_of(cluster, on_a[1])[-1]["cancelled"] is True
    wait_until_idle(cluster, "b")
    done = schedule(cluster, "run", "--now", SECOND)
    for what, result in (("run (b down)", sent), ("cancel", cancelled), ("list --json (b down)", listed),
                         ("run (b back)", back), ("run", done)):
        print(f"$ archive-crawler schedule {what}\n{result.stdout}{result.stderr}")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "started" not in done.stdout
    expected = gold_paths()
    for number, site in enumerate(cluster["sites"], 1):
        name = f"site-{number}"
        runs = runs_of(cluster, name)
        assert {run["node"] for run in runs} == {on[name]}  # a site never left its node
        if name == on_a[1]:
            continue
        assert len(runs) == 2 and runs[1]["exit_status"] == 0, runs
        # The re-crawl ran with the site's state on its node: nothing new, so no record again.
        folder = cluster["root"] / "crawls" / name
        paths = [urlsplit(record["url"]).path for run in runs for record in read_jsonl(folder / run["output"])]
        assert sorted(paths) == expected, name
        assert runs[1]["records"] == 0
    print(f"node down, cancel, node back: {time.monotonic() - began:.1f} s")
