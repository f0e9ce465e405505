"""A record's revision: how many different texts its page has had, counted against the crawl state."""

from __future__ import annotations

__all__ = ["revise"]


def revise(record: dict, revision: int | None, content_sha256: str | None) -> dict | None:
    """The record with its revision, given the page's last written ``revision`` and that record's
    text hash (``None`` for a page that never gave a record): ``None`` when the text is the one
    already written, so there is nothing new to write."""
    if revision and content_sha256 == record["content_sha256"]:
        return None
    return {**record, "revision": (revision or 0) + 1}
