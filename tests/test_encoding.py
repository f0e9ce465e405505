"""Bytes to text as the crawl and `extract` both do it."""

import gzip

import pytest

from pipelines.encoding import PageSkipped, decode_html

TEXT = "Guissé denunció la “desaparición” — 5 €"
LATIN1 = "Guissé denunció la desaparición de 5 niños"


def page(meta: str = "") -> str:
    return f"<html><head>{meta}</head><body><p>{{}}</p></body></html>"


def test_utf8_declared():
    body = page('<meta charset="utf-8">').format(TEXT).encode("utf-8")
    assert TEXT in decode_html(body, "text/html; charset=utf-8").text


def test_iso_8859_1_label_on_cp1252_bytes_decodes_as_cp1252():
    body = page('<meta http-equiv="Content-Type" content="text/html; charset=iso-8859-1">').format(TEXT).encode("cp1252")
    decoded = decode_html(body, "text/html; charset=ISO-8859-1")
    assert TEXT in decoded.text and decoded.encoding == "cp1252"


def test_no_declaration_at_all_latin1_and_utf8():
    assert LATIN1 in decode_html(page().format(LATIN1).encode("latin-1"), "text/html").text
    assert TEXT in decode_html(page().format(TEXT).encode("utf-8"), None).text


def test_http_charset_contradicting_the_meta_tag():
    # Server default says UTF-8, page says (and is) latin-1.
    body = page('<meta charset="iso-8859-1">').format(LATIN1).encode("latin-1")
    assert LATIN1 in decode_html(body, "text/html; charset=UTF-8").text
    # Server says latin-1, page says (and is) UTF-8.
    body = page('<meta charset="utf-8">').format(TEXT).encode("utf-8")
    assert TEXT in decode_html(body, "text/html; charset=iso-8859-1").text


@pytest.mark.parametrize("body, reason", [(b"", "empty"), (b"  \n\t ", "empty"),
                                          (gzip.compress(b"<html>x</html>" * 50), "binary"),
                                          (bytes(range(256)) * 20, "binary")])
def test_empty_and_binary_bodies_are_skipped_with_a_reason(body, reason):
    with pytest.raises(PageSkipped) as skipped:
        decode_html(body, "text/html")
    assert skipped.value.reason == reason


def test_a_utf8_page_with_a_stray_legacy_byte_stays_utf8():
    body = page('<meta charset="iso-8859-1">').format(TEXT * 5 + " caf\xe9").encode("utf-8").replace(b"caf\xc3\xa9", b"caf\xe9")
    decoded = decode_html(body, "text/html")
    assert decoded.encoding == "utf-8" and TEXT in decoded.text and decoded.replaced


def test_latin1_text_is_not_mistaken_for_broken_utf8():
    body = page().format(LATIN1 * 5).encode("latin-1")
    assert LATIN1 in decode_html(body, None).text
