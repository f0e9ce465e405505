"""Bytes to text, with the encoding chosen once and reported, and the text normalised once.

Legacy archives label pages badly: servers send a default charset that contradicts the page's meta
tag, iso-8859-1 labels sit on cp1252 bytes, many pages declare nothing, some declare names no
browser knows. The rule here:
a byte-order mark wins; bytes that are valid UTF-8 and use multi-byte sequences are UTF-8 whatever
the labels say (single-byte text essentially never forms valid UTF-8 by accident), also when a few
stray bytes break it; otherwise the first declared encoding (HTTP header, then meta tag) that
decodes the bytes cleanly, or nearly so, with w3lib mapping iso-8859-1 to cp1252 as browsers do; a
label that names no ASCII-compatible text encoding (``x-bogus-42``, ``utf-7``, ``base64``, a
``utf-16`` label on bytes without a byte-order mark) is ignored; otherwise cp1252. Nothing is ever
decoded to U+FFFD: a byte the chosen encoding cannot read is read as cp1252 (as Latin-1 where cp1252
leaves it undefined), so a U+FFFD in the text is one the bytes hold.

The text is then normalised once, before anything parses it or compares lines (``normalise_text``):
no NUL, C0 or C1 control characters (tab, LF and CR kept; FF and VT become spaces, as the
whitespace they are), no DEL, lone surrogates or noncharacters, no U+FEFF left inside the text,
NFC. Numeric character references the HTML parser would turn into such characters (``&#0;``,
``&#1;``, ``&#xD800;``) are treated the same way, and those to other non-ASCII characters are
written out (``a&#769;`` composes to ``á``), so the parsed tree holds normal text too
(``normalise_html``). Text that never was bytes is normalised with ``normalise_text``.
"""

from __future__ import annotations

import codecs
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from w3lib.encoding import html_body_declared_encoding, http_content_type_encoding, read_bom, resolve_encoding

__all__ = ["DecodedPage", "PageSkipped", "collapse", "decode_html", "normalise_html", "normalise_text"]

FALLBACK_ENCODING = "cp1252"
_SNIFF_BYTES = 4096
# Control characters that never occur in text pages (tab, LF, FF, CR and ESC excluded).
_BINARY_BYTES = bytes(b for b in range(32) if b not in (9, 10, 12, 13, 27))
_BINARY_CHARS = frozenset(map(chr, _BINARY_BYTES))
# Valid multi-byte characters per undecodable byte above which bytes are taken for the encoding.
MOSTLY_UTF8_RATIO = 10
_BINARY_MAGIC = (b"\x1f\x8b", b"%PDF", b"PK\x03\x04", b"GIF8", b"\x89PNG", b"\xff\xd8\xff")
# What an ASCII-compatible encoding must read as itself: the bytes HTML markup is written in.
_ASCII_PROBE = bytes([9, 10, 13, *range(32, 127)])

# Characters text never carries. C0 controls but tab, LF, CR (FF and VT are handled as spaces), DEL
# and the C1 controls, surrogates, noncharacters (U+FDD0..U+FDEF and the last two of every plane),
# and U+FEFF (a byte-order mark inside the text, left by concatenated files, is no character).
# The noncharacters beyond the Basic Multilingual Plane are looked for only in text that goes beyond
# it: a long character class makes every search slow.
_REMOVED = "\x00-\x08\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufdd0-\ufdef\ufeff\ufffe\uffff"
_PLANES = range(0x10000, 0x110000, 0x10000)
_ASTRAL_NONCHARACTERS = "".join(chr(plane + 0xFFFE) + chr(plane + 0xFFFF) for plane in _PLANES)
_SPACES = "\x0b\x0c"
_NOT_TEXT = re.compile(f"[{_REMOVED}{_SPACES}\U00010000-\U0010ffff]")  # what may need a change
_REMOVED_RE = re.compile(f"[{_REMOVED}]+")
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")
_ASTRAL_RE = re.compile(f"[{_ASTRAL_NONCHARACTERS}]+")
_SURROGATE_PAIR = re.compile("[\ud800-\udbff][\udc00-\udfff]")
_SPACES_TABLE = str.maketrans(_SPACES, " " * len(_SPACES))

# A numeric character reference as the HTML parser reads one (the semicolon may be missing), and
# an ampersand that opens no reference at all.
_NUMERIC_REFERENCE = re.compile(r"&#(?:[xX](?P<hex>[0-9a-fA-F]+)|(?P<dec>[0-9]+));?")
_BARE_AMPERSAND = re.compile(r"&(?![A-Za-z]|#[0-9]|#[xX][0-9a-fA-F])")
# The non-ASCII characters NFC turns into ASCII (GREEK QUESTION MARK, GREEK VARIA, KELVIN SIGN:
# ";", "`", "K"); their references stay as written, so that NFC cannot end another reference.
_COMPOSES_TO_ASCII = frozenset("\u037e\u1fef\u212a")
# cp1252 as browsers read it: the five bytes cp1252 leaves undefined are Latin-1 (C1 controls,
# which normalisation then removes); every byte decodes.
_CP1252 = tuple(bytes([b]).decode("cp1252", errors="ignore") or chr(b) for b in range(256))


class PageSkipped(Exception):
    """A page that yields no record; ``reason`` is a short stats key ("empty", "binary", ...)."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class DecodedPage:
    text: str  # normalised (``normalise_html``)
    encoding: str
    # True when a few bytes the encoding could not read were read as cp1252 (never as U+FFFD).
    replaced: bool = False


def _combine_surrogates(match: re.Match) -> str:
    high, low = map(ord, match.group(0))
    return chr(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))


def _remove_non_text(text: str) -> str:
    if _NOT_TEXT.search(text) is None:
        return text
    if _SURROGATE_PAIR.search(text):
        text = _SURROGATE_PAIR.sub(_combine_surrogates, text)
    if _ASTRAL.search(text):
        text = _ASTRAL_RE.sub("", text)
    return _REMOVED_RE.sub("", text).translate(_SPACES_TABLE)


def _nfc(text: str) -> str:
    return text if unicodedata.is_normalized("NFC", text) else unicodedata.normalize("NFC", text)


def collapse(text: str | None) -> str:
    """A line's text with its runs of whitespace (no-break spaces included) made one space."""
    return " ".join((text or "").replace("\xa0", " ").split())


def normalise_text(text: str) -> str:
    """Text as every record carries it: no NUL, control characters (tab, LF, CR kept; FF and VT
    become spaces), DEL, lone surrogates (a high-low pair becomes its character), noncharacters or
    U+FEFF, and in NFC. Idempotent, and cheap on text that is already normal."""
    return _nfc(_remove_non_text(text))


def _reference_replacement(match: re.Match) -> str | None:
    """What a numeric character reference becomes: nothing for what the parser would make U+FFFD
    or what ``normalise_text`` removes (a space for FF and VT), the character itself when it is not
    ASCII (so that NFC sees it: ``a&#769;`` is ``á``; ``&#x80;``..``&#x9F;`` are cp1252, as browsers
    read them), ``None`` (stays as written) for ASCII, which may be markup."""
    digits, base = (match.group("hex"), 16) if match.group("hex") is not None else (match.group("dec"), 10)
    digits = digits.lstrip("0") or "0"
    if len(digits) > 7:
        return ""  # beyond U+10FFFF: the parser would make it U+FFFD
    code = int(digits, base)
    if code == 0 or code > 0x10FFFF:
        return ""  # U+FFFD for the parser
    char = _CP1252[code] if 0x80 <= code <= 0x9F else chr(code)
    normal = normalise_text(char)
    if normal != char:
        return normal
    if code < 0x80 or char in _COMPOSES_TO_ASCII or char == "\ufffd":
        return None  # a stated U+FFFD stays a reference, so the decoded text holds only the bytes' own
    return char


@lru_cache(maxsize=4096)
def _rewritten_reference(reference: str) -> str:
    match = _NUMERIC_REFERENCE.fullmatch(reference)
    replacement = _reference_replacement(match)
    if replacement is None:  # stays, ended with its semicolon so that nothing can extend it
        return reference if reference.endswith(";") else reference + ";"
    return replacement


def _normal_references(html: str) -> str:
    """The markup with its numeric character references rewritten (``_reference_replacement``),
    each kept one ended with ";", and every "&" that opens no reference escaped: what later removals
    join can never form a reference the page does not hold ("&&#0;#1;", "&#x\x1fFFFD")."""
    if "&" not in html:
        return html
    html = _BARE_AMPERSAND.sub("&amp;", html)
    if "&#" not in html:
        return html
    return _NUMERIC_REFERENCE.sub(lambda match: _rewritten_reference(match.group(0)), html)


def _keep_markup_from_composing(html: str) -> str:
    """NFC would compose ``>`` or ``=`` with a following U+0338 into one character ("≯", "≠"),
    breaking the tag or attribute they belong to; such a U+0338 is written as a reference."""
    if "\u0338" not in html:
        return html
    chars = list(html)
    starter = ""  # the character the current combining sequence opens with
    for i, char in enumerate(chars):
        if not unicodedata.combining(char):
            starter = char
        elif char == "\u0338" and starter in ("=", ">"):
            chars[i] = "&#x338;"
    return "".join(chars)


def normalise_html(html: str) -> str:
    """``normalise_text`` for markup, so that the text parsed from it is normal too: numeric
    character references to what it removes are rewritten as it would (``&#0;``, ``&#1;`` go,
    ``&#12;`` is a space), those to other non-ASCII characters are the characters (NFC then sees
    them), a bare "&" is escaped, and markup is kept from composing with what follows it."""
    return _nfc(_keep_markup_from_composing(_remove_non_text(_normal_references(html))))


_CP1252_HANDLER = "archive-crawler-cp1252"


def _read_as_cp1252(error: UnicodeError) -> tuple[str, int]:
    """The codec error handler that reads the bytes an encoding cannot as cp1252."""
    if not isinstance(error, UnicodeDecodeError):
        raise error
    return "".join(_CP1252[b] for b in error.object[error.start:error.end]), error.end


codecs.register_error(_CP1252_HANDLER, _read_as_cp1252)

# Text encodings that read ASCII as ASCII but rewrite parts of it ("xn--", "\\u00e9"), or no encoding.
_NOT_PAGE_ENCODINGS = frozenset(("idna", "punycode", "raw-unicode-escape", "unicode-escape", "utf-7", "undefined"))


@lru_cache(maxsize=256)
def _usable(encoding: str) -> str | None:
    """The codec name of ``encoding`` when it is a text encoding that reads ASCII as ASCII
    (what an HTML page's markup needs); ``None`` for bogus, binary-to-binary and UTF-16/32 labels."""
    try:
        name = codecs.lookup(encoding).name
        if name in _NOT_PAGE_ENCODINGS or _ASCII_PROBE.decode(name) != _ASCII_PROBE.decode("ascii"):
            return None
    except (LookupError, ValueError, TypeError):  # UnicodeError is a ValueError
        return None
    return name


def _decodes(body: bytes, encoding: str) -> str | None:
    try:
        return body.decode(encoding)
    except (UnicodeError, LookupError):
        return None


def _nearly_decodes(body: bytes, encoding: str) -> str | None:
    """``body`` in ``encoding`` with its few unreadable bytes read as cp1252, if it is nearly all
    readable: at least MOSTLY_UTF8_RATIO non-ASCII characters read per run of bytes that is not."""
    try:
        replaced = body.decode(encoding, errors="replace")  # counted at C speed, used only to count
    except (UnicodeError, LookupError):
        return None
    try:  # the U+FFFD the bytes themselves hold
        held = body.count("\ufffd".encode("utf-8" if encoding.startswith("utf-8") else encoding))
    except (UnicodeError, LookupError):
        held = 0
    unreadable = replaced.count("\ufffd") - held
    non_ascii = len(replaced) - len(replaced.encode("ascii", errors="ignore"))
    if non_ascii - unreadable < MOSTLY_UTF8_RATIO * unreadable:
        return None
    return body.decode(encoding, errors=_CP1252_HANDLER)


def _looks_binary(body: bytes) -> bool:
    head = body[:_SNIFF_BYTES]
    if head.startswith(_BINARY_MAGIC):
        return True
    controls = sum(head.count(bytes([b])) for b in _BINARY_BYTES)
    return controls > max(2, len(head) // 100)


def _text_looks_binary(text: str) -> bool:
    head = text[:_SNIFF_BYTES]
    controls = sum(1 for char in head if char in _BINARY_CHARS)
    return controls > max(2, len(head) // 100)


def _declared(body: bytes, content_type: str | None) -> list[str]:
    labels = []
    if content_type:
        labels.append(http_content_type_encoding(content_type))
    labels.append(html_body_declared_encoding(body[:_SNIFF_BYTES]))
    usable = []
    for label in labels:
        name = _usable(label) if label else None
        if name and name not in usable:
            usable.append(name)
    return usable


def _choose(body: bytes, content_type: str | None) -> DecodedPage:
    bom_encoding, bom = read_bom(body)
    if bom_encoding:
        text = _decodes(body[len(bom):], bom_encoding)
        if text is not None:
            if _text_looks_binary(text):
                raise PageSkipped("binary")
            return DecodedPage(text, resolve_encoding(bom_encoding) or bom_encoding)
    if _looks_binary(body):
        raise PageSkipped("binary")

    if not body.isascii():
        text = _decodes(body, "utf-8")
        if text is not None:
            return DecodedPage(text, "utf-8")
        # A UTF-8 page with a few stray bytes (a pasted legacy character) is still a UTF-8 page.
        text = _nearly_decodes(body, "utf-8")
        if text is not None:
            return DecodedPage(text, "utf-8", replaced=True)

    declared = _declared(body, content_type)
    for encoding in declared:
        text = _decodes(body, encoding)
        if text is not None:
            return DecodedPage(text, encoding)
    for encoding in declared:
        text = _nearly_decodes(body, encoding)
        if text is not None:
            return DecodedPage(text, encoding, replaced=True)
    text = _decodes(body, FALLBACK_ENCODING)
    if text is not None:
        return DecodedPage(text, FALLBACK_ENCODING)
    return DecodedPage(body.decode(FALLBACK_ENCODING, errors=_CP1252_HANDLER), FALLBACK_ENCODING, replaced=True)


def decode_html(body: bytes, content_type: str | None = None) -> DecodedPage:
    """Decode an HTML page's bytes to normalised text (``normalise_html``); raise ``PageSkipped``
    for empty or binary bodies."""
    if not body.strip():
        raise PageSkipped("empty")
    page = _choose(body, content_type)
    text = normalise_html(page.text)
    if not text.strip():
        raise PageSkipped("empty")
    return DecodedPage(text, page.encoding, page.replaced)
