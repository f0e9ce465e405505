from pipelines.profiles import load_profile, profile_for_url
from pipelines.urls import canonical_url, site_key

DERECHOS = load_profile("derechos.org")
GENERIC = load_profile("generic")
CANONICAL = "https://www.derechos.org/nizkor/espana/doc/cyberthreat1.html"


def test_derechos_hosts_schemes_fragments_and_ignored_queries_fold_into_one_url():
    for url in [
        "http://derechos.org/nizkor/espana/doc/cyberthreat1.html",
        "https://mail.derechos.org/nizkor/espana/doc/cyberthreat1.html#top",
        "http://WWW.DERECHOS.ORG:80/nizkor/espana/doc/cyberthreat1.html?print=1",
        CANONICAL,
    ]:
        assert canonical_url(url, DERECHOS) == CANONICAL


def test_directory_and_its_index_file_are_one_page():
    assert canonical_url("http://derechos.org/nizkor/espana/doc/index.html", DERECHOS) == canonical_url(
        "https://www.derechos.org/nizkor/espana/doc/", DERECHOS)


def test_a_local_copy_keeps_its_host_and_port():
    assert canonical_url("http://127.0.0.1:8123/nizkor/a1.html?x=1#f", DERECHOS) == "http://127.0.0.1:8123/nizkor/a1.html"
    assert site_key("http://127.0.0.1:8123/x", DERECHOS) != site_key("http://127.0.0.1:8124/x", DERECHOS)


def test_generic_sites_keep_their_query_strings():
    assert canonical_url("http://example.org/a?id=2&b=1#x", GENERIC) == "http://example.org/a?b=1&id=2"


def test_the_url_host_picks_the_profile():
    assert profile_for_url("http://mail.derechos.org/x.html").name == "derechos.org"
    assert profile_for_url("http://www.nizkor.org/x.html").name == "generic"
    assert site_key("http://derechos.org/a", DERECHOS) == site_key("https://www.derechos.org/b", DERECHOS)


def test_tracking_parameters_are_never_part_of_a_page():
    assert canonical_url("http://example.org/a?utm_source=home&id=2&fbclid=x", GENERIC) == "http://example.org/a?id=2"
