"""Bytes to text as the crawl and `extract` both do it, the text normalised once."""

import gzip
import unicodedata
from datetime import datetime, timezone

import pytest

from conftest import SITE
from pipelines.encoding import DecodedPage, PageSkipped, decode_html, normalise_html, normalise_text
from pipelines.records import build_record

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


# --- Issue 10, point 5: the text is normalised once, when it is decoded ----------------------------

ARTICLE = "nizkor/chile/doc/efe11.html"  # UTF-8
LEGACY_ARTICLE = "nizkor/doc/wapo3.html"  # cp1252
ARTICLE_URL = "https://www.derechos.org/" + ARTICLE
FETCHED = datetime(2024, 1, 2, tzinfo=timezone.utc)


def decoded(body: bytes, content_type: str | None = None) -> str:
    return decode_html(body, content_type).text


@pytest.mark.parametrize("raw, normal", [
    ("a\x00b\x01c\x08d\x0ee\x1ff\x7fg", "abcdefg"),  # C0 controls and DEL go
    ("tab\tlf\ncr\r", "tab\tlf\ncr\r"),  # tab, LF and CR stay
    ("form\x0cfeed\x0bvt", "form feed vt"),  # FF and VT are the whitespace they stand for
    ("c1\x80\x85\x9f.", "c1."),  # C1 controls go
    ("lone\ud800 \udfff.", "lone .", ),  # lone surrogates go
    ("pair \ud83d\ude00", "pair \U0001f600"),  # a high-low pair is its character
    ("non\ufdd0\ufdef\ufffe\uffff\U0001fffe\U0010ffff.", "non."),  # noncharacters go
    ("bom\ufeffinside", "bominside"),
    ("cafe\u0301 A\u030a", "café Å"),  # NFC
    ("\ufffd stays: the text says it", "\ufffd stays: the text says it"),
    ("“desaparición” — 5 € \u00a0\u200b\u00ad", "“desaparición” — 5 € \u00a0\u200b\u00ad"),  # text stays
])
def test_normalise_text(raw, normal):
    assert normalise_text(raw) == normal
    assert normalise_text(normal) == normal


def test_decoded_text_carries_no_control_characters():
    body = page('<meta charset="utf-8">').format("a\x00b\x01c\x7fd\x0ce\x1bf").encode("utf-8")
    assert "<p>abcd ef</p>" in decoded(body, "text/html")
    # C1 controls written in UTF-8 go; cp1252 bytes 0x80..0x9f are the characters cp1252 gives them
    # (the five it leaves undefined are controls, and go).
    assert "<p>ab é</p>" in decoded(page().format("a\x85\x9fb é").encode("utf-8"))
    legacy = page().format("“…” — 5 € ‰").encode("cp1252").replace(b"\x89", b"\x89\x81x")
    assert "<p>“…” — 5 € ‰x</p>" in decoded(legacy)


def test_character_references_to_what_text_never_carries_are_dropped():
    text = decoded(page().format("a&#0;b&#1;c&#x7F;d&#x81;e&#xD800;f&#x110000;g&#99999999999;h&#xFDD0;i&#1114111;j"
                                 "&#12;k&#x0b;l").encode())
    assert "<p>abcdefghij k l</p>" in text
    # An ampersand that opens no reference stays text, also where a removal joins it to what would be one.
    assert "<p>a&amp;#1;b &amp;#xFFFD &amp; c</p>" in decoded(page().format("a&&#0;#1;b &#x\x1fFFFD & c").encode())
    # Kept references are ended, so that no removal extends them.
    assert "<p>&#65;1 &nbsp &amp;lt</p>" in decoded(page().format("&#65\x001 &nbsp &amp;lt").encode())


def test_character_references_to_text_characters_are_the_characters():
    # Non-ASCII: written out, so that NFC composes them (a&#769; is á); &#x80;..&#x9F; as cp1252.
    assert "<p>á é € … &#65533;</p>" in decoded(page().format("a&#769; &#233; &#x80; &#133; &#65533;").encode())
    # ASCII stays a reference: it may be markup.
    assert "<p>&#60;b&#62; &#x26;amp; &#65;</p>" in decoded(page().format("&#60;b&#62; &#x26;amp; &#65;").encode())


def test_nfc_never_breaks_markup():
    # ">" + U+0338 would compose into "≯" and swallow the tag.
    body = page().format("\u0338x =\u0338 y").encode("utf-8")
    text = decoded(body)
    assert "<p>&#x338;x =&#x338; y</p>" in text
    assert unicodedata.is_normalized("NFC", text)
    assert "<p>\u00e9</p>" in decoded(page().format("e\u0301").encode("utf-8"))


@pytest.mark.parametrize("content_type, meta", [
    ("text/html; charset=x-bogus-42", '<meta charset="also-bogus">'),
    (None, '<meta charset="also-bogus">'),
    ("text/html; charset=undefined", ""),  # Python knows it: a codec that always fails
    ("text/html; charset=punycode", '<meta charset="idna">'),  # codecs that rewrite ASCII
    ("text/html; charset=unicode_escape", '<meta charset="raw_unicode_escape">'),
    ("text/html; charset=utf-16", '<meta charset="utf-32">'),  # no byte-order mark: not UTF-16
    ("text/html; charset=base64", '<meta charset="rot13">'),  # not text encodings
    ("text/html; charset=utf-7", '<meta charset="cp500">'),  # not ASCII-compatible
    ("text/html; charset=", "<meta charset=>"),
])
def test_bogus_charset_labels_fall_back_to_detection(content_type, meta):
    ascii_page = page(meta).format("plain a+b-c \\u00e9 xn--bcher-kva ~{").encode("ascii")
    assert "plain a+b-c \\u00e9 xn--bcher-kva ~{" in decoded(ascii_page, content_type)
    assert TEXT in decoded(page(meta).format(TEXT).encode("utf-8"), content_type)
    latin1 = decode_html(page(meta).format(LATIN1).encode("latin-1"), content_type)
    assert LATIN1 in latin1.text and latin1.encoding == "cp1252"


def test_u_fffd_only_where_the_bytes_hold_it():
    # A stray legacy byte in a UTF-8 page is read as cp1252, not replaced.
    body = page().format(TEXT * 5 + " caf\xe9 ").encode("utf-8").replace(b"caf\xc3\xa9 ", b"caf\xe9 ")
    page_ = decode_html(body)
    assert page_.encoding == "utf-8" and page_.replaced and "café" in page_.text and "\ufffd" not in page_.text
    # A U+FFFD the page holds stays.
    assert "x\ufffdy" in decoded(page().format(TEXT + " x\ufffdy").encode("utf-8"))
    # cp1252's undefined bytes (0x81, 0x8d, ...) decode as controls, which go: the page stays cp1252.
    undefined = page().format(LATIN1).encode("cp1252") + b"\x81\x8d\x8f\x90\x9d"
    cp1252 = decode_html(undefined, "text/html; charset=windows-1252")
    assert cp1252.encoding == "cp1252" and LATIN1 in cp1252.text and "\ufffd" not in cp1252.text
    # Mostly UTF-8 with many broken sequences, and latin-1 bytes no encoding reads: cp1252, never U+FFFD.
    for body in (bytes(range(0x20, 0x100)) * 3, page().format(TEXT).encode("utf-8")[::-1] + b"\xff\xfe\xc3"):
        assert "\ufffd" not in decoded(body, "text/html; charset=utf-8")


def test_a_declared_multibyte_encoding_with_a_stray_byte_stays_that_encoding():
    japanese = "東京地方裁判所は本日、原告の請求を棄却した。" * 3
    body = page('<meta charset="shift_jis">').format(japanese).encode("shift_jis") + b"\x85@"
    page_ = decode_html(body, "text/html")
    assert page_.encoding == "cp932" and japanese in page_.text and page_.replaced  # Shift_JIS as browsers read it


def test_utf16_with_a_byte_order_mark_is_read():
    for encoding, bom in (("utf-16-le", b"\xff\xfe"), ("utf-16-be", b"\xfe\xff")):
        page_ = decode_html(bom + page().format(TEXT).encode(encoding))
        assert TEXT in page_.text and page_.encoding.startswith("utf-16")


def test_a_page_of_nothing_but_controls_is_empty():
    with pytest.raises(PageSkipped) as skipped:
        decode_html(b" \x00 \x01 \n")
    assert skipped.value.reason == "empty"


def test_decoded_page_keeps_its_fields():
    assert decode_html(page().format(TEXT).encode("utf-8")) == DecodedPage(page().format(TEXT), "utf-8", False)


def test_normalise_html_is_normalise_text_on_markup_without_references():
    text = "a\x00b\x0cc \u0301 \ud800 é"
    assert normalise_html(text) == normalise_text(text)


@pytest.mark.parametrize("inserted", [b"\x00", b"\x01\x02", b"\x7f", b"&#0;", b"&#1;", b"&#xD800;"])
def test_control_characters_in_a_page_change_no_record(inserted):
    """NUL and control characters in the bytes gave a title with U+FFFD and dropped a paragraph."""
    body = (SITE / ARTICLE).read_bytes()
    expected = build_record(body, ARTICLE_URL, fetched_at=FETCHED)
    title, first = expected["title"].split()[0].encode(), expected["text"].split()[0].encode()
    broken = body.replace(title, title[:2] + inserted + title[2:]).replace(first, first[:2] + inserted + first[2:])
    assert broken != body
    assert build_record(broken, ARTICLE_URL, fetched_at=FETCHED) == expected


@pytest.mark.parametrize("path", [ARTICLE, LEGACY_ARTICLE])
def test_a_page_in_another_normal_form_gives_the_same_record(path):
    body = (SITE / path).read_bytes()
    text = decode_html(body).text
    url = "https://www.derechos.org/" + path
    expected = build_record(text.encode("utf-8"), url, fetched_at=FETCHED)
    decomposed = unicodedata.normalize("NFD", text)
    assert decomposed != text
    assert build_record(decomposed.encode("utf-8"), url, fetched_at=FETCHED) == expected
    # Characters written as references are composed as well.
    referenced = decomposed.encode("ascii", errors="xmlcharrefreplace")
    assert build_record(referenced, url, fetched_at=FETCHED) == expected
