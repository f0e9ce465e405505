"""Where a crawl keeps what the next run of it starts from (setting CRAWL_STATE)."""

from __future__ import annotations

import re
from pathlib import Path

from scrapy.settings import BaseSettings


def state_dir(settings: BaseSettings, spider_name: str) -> Path:
    """``CRAWL_STATE`` when set, else ``state/<spider>/`` under the working directory."""
    configured = settings.get("CRAWL_STATE")
    return Path(configured) if configured else Path("state") / spider_name


def site_slug(site: str) -> str:
    """A file-name-safe form of a site key ("127.0.0.1:8080" -> "127.0.0.1_8080")."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", site)
