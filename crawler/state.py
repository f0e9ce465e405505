"""Where a crawl keeps what the next run of it starts from (setting CRAWL_STATE)."""

from __future__ import annotations

import gzip
import ipaddress
import json
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

from scrapy.settings import BaseSettings, SETTINGS_PRIORITIES


def configured_state_dir(settings: BaseSettings, spider_name: str) -> Path | None:
    """``CRAWL_STATE`` as given (``<spider>`` or ``%(name)s`` stand for the spider), else ``None``."""
    configured = str(settings.get("CRAWL_STATE") or "").strip()
    if not configured:
        return None
    return Path(configured.replace("<spider>", spider_name).replace("%(name)s", spider_name))


def state_dir(settings: BaseSettings, spider_name: str) -> Path:
    """``CRAWL_STATE`` when set, else ``state/<spider>/`` under the working directory."""
    return configured_state_dir(settings, spider_name) or Path("state") / spider_name


def site_slug(site: str) -> str:
    """A file-name-safe form of a site key ("127.0.0.1:8080" -> "127.0.0.1_8080")."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", site)


def _is_local(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_private or address.is_link_local


def requires_contact(settings: BaseSettings, start_url: str) -> bool:
    """A crawl of a real (non-local) site must name its operator, unless USER_AGENT is set outright."""
    if settings.get("CONTACT_URL"):
        return False
    if (settings.getpriority("USER_AGENT") or 0) >= SETTINGS_PRIORITIES["cmdline"]:
        return False
    return not _is_local((urlsplit(start_url).hostname or "").lower())


def previous_records(output: str | None) -> Iterator[dict]:
    """The records of a previous run's output file, if it is still there (plain or .gz JSON Lines)."""
    if not output:
        return
    path = Path(output.removeprefix("file://")) if output.startswith(("file://", "/")) else Path(output)
    if "%(" in str(path) or not path.is_file():
        return
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8") as lines:
            for line in lines:
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a torn last line (not written by this project's storage)
                if isinstance(record, dict) and "canonical_url" in record and "content_sha256" in record:
                    yield record
    except (OSError, EOFError):
        return
