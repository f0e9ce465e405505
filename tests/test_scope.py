"""The crawl's scope (crawler/scope.py), frontier (crawler/frontier.py) and fault reasons (crawler/faults.py)."""

from __future__ import annotations

from collections import Counter

import pytest

from crawler.frontier import Frontier, path_repeats, url_shape
from crawler.scope import Scope
from pipelines.profiles import load_profile

GENERIC = load_profile("generic")
NIZKOR = load_profile("derechos.org")


@pytest.mark.parametrize(("url", "reason"), [
    ("http://127.0.0.1:8080/a.html", None),
    ("https://127.0.0.1:8080/a.html", None),  # the same scheme family
    ("http://127.0.0.1:8081/a.html", "offsite"),  # same host, another port
    ("http://localhost:8080/a.html", "offsite"),
    ("ftp://127.0.0.1:8080/a.html", "scheme"),
    ("file:///etc/passwd", "scheme"),
    ("data:text/html,<h1>x</h1>", "scheme"),
    ("mailto:someone@example.org", "scheme"),
    ("http://127.0.0.1:notaport/a.html", "offsite"),
])
def test_scope_of_a_local_site(url, reason):
    assert Scope("http://127.0.0.1:8080/index.html", GENERIC).refusal(url) == reason


@pytest.mark.parametrize(("url", "reason"), [
    ("https://www.derechos.org/nizkor/a.html", None),
    ("http://derechos.org/nizkor/a.html", None),  # a host alias of the profile
    ("https://www.example.org/", "offsite"),
    ("http://10.0.0.5/", "offsite"),
])
def test_scope_folds_the_profiles_host_aliases(url, reason):
    assert Scope("https://www.derechos.org/nizkor/", NIZKOR).refusal(url) == reason


@pytest.mark.parametrize("address", ["127.0.0.1", "10.1.2.3", "192.168.0.1", "169.254.1.1", "::1", "0.0.0.0",
                                     "::ffff:127.0.0.1", "fe80::1"])
def test_a_public_site_never_reaches_a_private_address(address):
    scope = Scope("https://example.org/", GENERIC)
    import ipaddress

    assert scope.address_refusal(ipaddress.ip_address(address)) == "private_address"
    assert scope.address_refusal(ipaddress.ip_address("93.184.216.34")) is None
    assert Scope("http://127.0.0.1:1/", GENERIC).address_refusal(ipaddress.ip_address(address)) is None


def test_repeating_and_overlong_paths_are_traps():
    assert path_repeats("/faults/loop/x/x/x/", 32)
    assert path_repeats("/a/b/c/b/c/b/c/", 32)
    assert path_repeats("/" + "/".join(f"s{i}" for i in range(40)), 32)
    assert not path_repeats("/a/b/a/b/", 32)
    assert not path_repeats("/2017/05/05/article.html", 32)
    assert not path_repeats("/nizkor/espana/doc/franco.html", 32)
    assert url_shape("http://h/calendar/17/?page=3") == url_shape("http://h/calendar/18/?page=4")


def test_a_counting_trap_is_stopped_after_its_run_limit():
    refused = Counter()
    frontier = Frontier(depth_limit=0, page_budget=0, run_limit=5, max_segments=32,
                        count=lambda reason: refused.update([reason]))
    meta, page, followed = {}, "http://h/calendar/1/", 0
    for number in range(2, 50):
        link = f"http://h/calendar/{number}/"
        meta = frontier.follow(link, page, meta)
        if meta is None:
            break
        followed, page = followed + 1, link
    assert followed == 5 and refused["trap_counting"] == 1
    # A link of another shape starts a new run: the archive's articles are still followed.
    assert frontier.follow("http://h/articles/a.html", page, {"archive_shape_run": 5}) is not None


def test_depth_limit_and_page_budget():
    refused = Counter()
    frontier = Frontier(depth_limit=3, page_budget=2, run_limit=0, max_segments=32,
                        count=lambda reason: refused.update([reason]))
    assert frontier.follow("http://h/a.html", "http://h/", {"depth": 2}) == {"depth": 3, "archive_shape_run": 0}
    assert frontier.follow("http://h/b.html", "http://h/", {"depth": 3}) is None
    assert [frontier.admit(u) for u in ("a", "b", "c")] == [True, True, False]
    assert refused == {"depth": 1, "budget": 1}


def test_fault_reasons():
    from scrapy.exceptions import DownloadCancelledError, DownloadTimeoutError, IgnoreRequest, ResponseDataLossError

    from crawler.faults import fault_reason
    from crawler.robots import RobotsRefused
    from crawler.scope import OutOfScope

    assert fault_reason(IgnoreRequest("max redirections reached")) == "redirect_limit"
    assert fault_reason(IgnoreRequest("Ignored response <200 x> because its body (1 B compressed, 2 B "
                                      "decompressed so far) exceeded DOWNLOAD_MAXSIZE (1 B) during decompression."))\
        == "decompression_bomb"
    assert fault_reason(DownloadTimeoutError("took too long")) == "timeout"
    assert fault_reason(DownloadCancelledError("max size")) == "too_large"
    assert fault_reason(ResponseDataLossError("lost")) == "truncated"
    assert fault_reason(OutOfScope("offsite", "http://x/")) == "out_of_scope"
    assert fault_reason(RobotsRefused("Forbidden by robots.txt")) == "robots"
