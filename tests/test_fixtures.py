"""The mock archive is what its specifications say, and its server behaves like a static web server."""

import subprocess
import sys
import urllib.error
import urllib.request

import pytest

from conftest import REPO


def test_committed_fixture_files_equal_a_rebuild_from_the_specs():
    result = subprocess.run([sys.executable, "-m", "fixtures.build_derechos", "--check"], cwd=REPO,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def fetch(url: str):
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, b""


@pytest.mark.parametrize(
    "path, status, content_type",
    [
        ("/robots.txt", 200, "text/plain"),
        ("/nizkor/espana/doc/cyberthreat2.html?print=1", 200, "text/html"),
        ("/nizkor/doc/perdido.html", 404, None),
        ("/nizkor/doc/fallo.html", 500, None),
        ("/nizkor/doc/informe.pdf", 200, "application/pdf"),
    ],
)
def test_fixture_server_answers_like_a_static_site(fixture_site, path, status, content_type):
    got_status, headers, _ = fetch(fixture_site.base_url + path)
    assert got_status == status
    if content_type:
        assert headers["Content-Type"].startswith(content_type)
