"""Bytes to text, with the encoding chosen once and reported.

Legacy archives label pages badly: servers send a default charset that contradicts the page's meta
tag, iso-8859-1 labels sit on cp1252 bytes, many pages declare nothing. The rule here:
a byte-order mark wins; bytes that are valid UTF-8 and use multi-byte sequences are UTF-8 whatever
the labels say (single-byte text essentially never forms valid UTF-8 by accident), also when a few
stray bytes break it; otherwise the
first declared encoding (HTTP header, then meta tag) that decodes the bytes cleanly, with w3lib
mapping iso-8859-1 to cp1252 as browsers do; otherwise cp1252.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from w3lib.encoding import html_body_declared_encoding, http_content_type_encoding, read_bom, resolve_encoding

__all__ = ["DecodedPage", "PageSkipped", "decode_html"]

FALLBACK_ENCODING = "cp1252"
_SNIFF_BYTES = 4096
# Control characters that never occur in text pages (tab, LF, FF, CR and ESC excluded).
_BINARY_BYTES = bytes(b for b in range(32) if b not in (9, 10, 12, 13, 27))
# Valid multi-byte characters per undecodable byte above which bytes are taken for UTF-8.
MOSTLY_UTF8_RATIO = 10
_MULTIBYTE = re.compile("[^\x00-\x7f\ufffd]")
_BINARY_MAGIC = (b"\x1f\x8b", b"%PDF", b"PK\x03\x04", b"GIF8", b"\x89PNG", b"\xff\xd8\xff")


class PageSkipped(Exception):
    """A page that yields no record; ``reason`` is a short stats key ("empty", "binary", ...)."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class DecodedPage:
    text: str
    encoding: str
    replaced: bool = False  # True when no encoding decoded cleanly and bad bytes became U+FFFD


def _looks_binary(body: bytes) -> bool:
    head = body[:_SNIFF_BYTES]
    if head.startswith(_BINARY_MAGIC):
        return True
    controls = sum(head.count(bytes([b])) for b in _BINARY_BYTES)
    return controls > max(2, len(head) // 100)


def _decodes(body: bytes, encoding: str) -> str | None:
    try:
        return body.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        return None


def decode_html(body: bytes, content_type: str | None = None) -> DecodedPage:
    """Decode an HTML page's bytes; raise ``PageSkipped`` for empty or binary bodies."""
    if not body.strip():
        raise PageSkipped("empty")
    if _looks_binary(body):
        raise PageSkipped("binary")

    bom_encoding, bom = read_bom(body)
    if bom_encoding:
        text = _decodes(body[len(bom):], bom_encoding)
        if text is not None:
            return DecodedPage(text, resolve_encoding(bom_encoding) or bom_encoding)

    if not body.isascii():
        text = _decodes(body, "utf-8")
        if text is not None:
            return DecodedPage(text, "utf-8")
        # A UTF-8 page with a few stray bytes (a pasted legacy character) is still a UTF-8 page.
        text = body.decode("utf-8", errors="replace")
        broken = text.count("\ufffd")
        if len(_MULTIBYTE.findall(text)) >= MOSTLY_UTF8_RATIO * broken:
            return DecodedPage(text, "utf-8", replaced=True)

    declared = [
        http_content_type_encoding(content_type) if content_type else None,
        html_body_declared_encoding(body[:_SNIFF_BYTES]),
    ]
    candidates = [enc for enc in declared if enc] + [FALLBACK_ENCODING]
    for encoding in candidates:
        text = _decodes(body, encoding)
        if text is not None:
            return DecodedPage(text, encoding)
    return DecodedPage(body.decode(candidates[0], errors="replace"), candidates[0], replaced=True)
