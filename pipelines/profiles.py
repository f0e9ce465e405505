"""Site profiles: declarative TOML files in ``pipelines/profiles/``, one per archive.

Adding an archive means adding a profile; the code below only loads and compiles them.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from functools import cache
from importlib.resources import files
from pathlib import Path
from urllib.parse import urlsplit

from lxml import etree

__all__ = ["SiteProfile", "load_profile", "profile_for_url", "available_profiles"]

# A folder of the package; read through importlib.resources so that a zipped egg (scrapyd) works too.
PROFILE_DIR = files(__package__) / "profiles"
GENERIC = "generic"


def _compile_all(patterns: list[str]) -> tuple[re.Pattern, ...]:
    return tuple(re.compile(p) for p in patterns)


def _compile_xpaths(expressions: list[str], path: Path) -> tuple[etree.XPath, ...]:
    """Compiled once when the profile loads; a malformed rule stops the load with its name."""
    compiled = []
    for expression in expressions:
        try:
            compiled.append(etree.XPath(expression))
        except etree.XPathSyntaxError as exc:
            raise ValueError(f"{path}: prune_xpaths: {expression!r} is not XPath 1.0 ({exc})") from None
    return tuple(compiled)


def _pieces_line(pieces: list[str]) -> re.Pattern | None:
    """A line made only of these pieces, separated by spaces or "|" (a header or a link row)."""
    if not pieces:
        return None
    piece = "|".join(f"(?:{p})" for p in pieces)
    return re.compile(rf"(?:{piece})(?:\s*\|?\s*(?:{piece}))*\s*\|?")


# Back-links are dressed up: "[Volver]", "<< Back", "^ Top", "« Inicio »", "Índice:".
_DECORATION = r"[\s\[\](){}<>«»^↑|·•*:.\-–—]*"


def _navigation_line(pieces: list[str]) -> re.Pattern | None:
    """A line made only of these navigation labels, perhaps bracketed or after an arrow."""
    line = _pieces_line(pieces)
    return re.compile(rf"{_DECORATION}(?:{line.pattern}){_DECORATION}") if line else None


@dataclass(frozen=True)
class SiteProfile:
    name: str
    hosts: tuple[str, ...] = ()
    canonical_host: str | None = None
    canonical_scheme: str | None = None
    default_start_url: str | None = None
    static_pages: bool = False
    directory_index: tuple[str, ...] = ()
    listing_paths: tuple[re.Pattern, ...] = ()
    languages: tuple[str, ...] | None = None
    title_rule: str = "heading_or_title"
    title_prefixes: tuple[str, ...] = ()
    header_line: re.Pattern | None = None
    language_links: re.Pattern | None = None
    footer_line: re.Pattern | None = None
    notice: tuple[re.Pattern, ...] = ()
    section_rule: str = "none"
    source_line: bool = True
    navigation: re.Pattern | None = None
    in_page_navigation: bool = False
    trafilatura: dict = field(default_factory=dict)
    prune_xpaths: tuple[str, ...] = ()
    compiled_prune_xpaths: tuple[etree.XPath, ...] = field(default=(), compare=False, repr=False)
    path: Path | None = field(default=None, compare=False)

    @classmethod
    def from_toml(cls, path: Path) -> SiteProfile:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        title, header, footer = data.get("title", {}), data.get("header", {}), data.get("footer", {})
        body = data.get("body", {})
        links = header.get("language_links")
        return cls(
            name=data["name"],
            hosts=tuple(h.lower() for h in data.get("hosts", [])),
            canonical_host=data.get("canonical_host"),
            canonical_scheme=data.get("canonical_scheme"),
            default_start_url=data.get("default_start_url"),
            static_pages=bool(data.get("static_pages", False)),
            directory_index=tuple(data.get("directory_index", [])),
            listing_paths=_compile_all(data.get("listing_paths", [])),
            languages=tuple(data["languages"]) if data.get("languages") else None,
            title_rule=title.get("rule", "heading_or_title"),
            title_prefixes=tuple(title.get("strip_prefixes", [])),
            header_line=_pieces_line(header.get("lines", [])),
            language_links=re.compile(links) if links else None,
            footer_line=_pieces_line(footer.get("lines", [])),
            notice=_compile_all(footer.get("notice", [])),
            section_rule=footer.get("section", "none"),
            source_line=bool(footer.get("source_line", True)),
            navigation=_navigation_line(body.get("navigation", [])),
            in_page_navigation=bool(body.get("in_page_navigation", False)),
            trafilatura=dict(data.get("trafilatura", {})),
            prune_xpaths=tuple(data.get("prune_xpaths", [])),
            compiled_prune_xpaths=_compile_xpaths(data.get("prune_xpaths", []), path),
            path=path,
        )

    def serves(self, host: str) -> bool:
        return host.lower() in self.hosts

    def is_listing_path(self, path: str) -> bool:
        return any(p.search(path) for p in self.listing_paths)


def available_profiles() -> list[str]:
    return sorted(p.name.removesuffix(".toml") for p in PROFILE_DIR.iterdir() if p.name.endswith(".toml"))


@cache
def load_profile(name: str) -> SiteProfile:
    path = PROFILE_DIR / f"{name}.toml"
    if not path.is_file():
        raise ValueError(f"no site profile named {name!r}; known: {', '.join(available_profiles())}")
    return SiteProfile.from_toml(path)


def profile_for_url(url: str) -> SiteProfile:
    """The profile whose hosts include the URL's host, else the generic profile."""
    host = (urlsplit(url).hostname or "").lower()
    for name in available_profiles():
        profile = load_profile(name)
        if profile.serves(host):
            return profile
    return load_profile(GENERIC)
