"""Scrapy settings for archive-crawler: polite by default, every value overridable with -s."""

from pipelines import boilerplate, budgets
from pipelines.schema import RECORD_FIELDS

BOT_NAME = "archive-crawler"
PROJECT_VERSION = "0.1.0"
SPIDER_MODULES = ["crawler.spiders"]
NEWSPIDER_MODULE = "crawler.spiders"
# Our `crawl` command: exits non-zero when the crawl failed (see crawler/commands/crawl.py).
COMMANDS_MODULE = "crawler.commands"

# Who is crawling: the User-Agent names the project and the operator's contact URL.
# Set CONTACT_URL for real crawls (e.g. -s CONTACT_URL=https://example.org/contact).
CONTACT_URL = ""
# USER_AGENT is built from BOT_NAME, PROJECT_VERSION and CONTACT_URL when left unset
# (crawler/spiders/base.py); setting it explicitly wins.

# Politeness: robots.txt, one request at a time per host, a delay that AutoThrottle adapts.
ROBOTSTXT_OBEY = True
# RFC 9309: a robots.txt answering 5xx or 429, or not answering at all, disallows the whole host;
# True crawls such a host as if it had none. Only the first ROBOTSTXT_MAX_BYTES of a file are read.
ROBOTSTXT_UNREACHABLE_ALLOW = False
ROBOTSTXT_MAX_BYTES = 512 * 1024
CONCURRENT_REQUESTS = 8
CONCURRENT_REQUESTS_PER_DOMAIN = 1
# Scrapy (2.13+) starts CONCURRENT_ITEMS asyncio tasks for the output of every callback: a page gives
# one record and a few requests, so 100 (the default) only costs the reactor's thread task switches.
CONCURRENT_ITEMS = 16
DOWNLOAD_DELAY = 2.0
DOWNLOAD_DELAY_JITTER = 0.5
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 2.0
AUTOTHROTTLE_MAX_DELAY = 60.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 1.0
DOWNLOAD_TIMEOUT = 60
DOWNLOAD_MAXSIZE = 16 * 1024 * 1024
DOWNLOAD_WARNSIZE = 4 * 1024 * 1024
RETRY_TIMES = 2
COOKIES_ENABLED = False
# More politeness (crawler/politeness.py, registered below in EXTENSIONS and DOWNLOADER_MIDDLEWARES):
# robots.txt Crawl-delay for our User-Agent is the floor of the host's delay, AutoThrottle included
# (capped at CRAWL_DELAY_MAX seconds).
ROBOTSTXT_CRAWL_DELAY = True
CRAWL_DELAY_MAX = 60.0
# 429 and 503 are retried (at most RETRY_TIMES times) after Retry-After, or after an exponential
# backoff from RETRY_BACKOFF_BASE seconds without one; nothing else goes to the host meanwhile; a
# Retry-After over RETRY_AFTER_MAX seconds gives up on the request. Scrapy's RetryMiddleware keeps
# the other codes (its default list without 429 and 503, so that nothing is retried twice).
RETRY_BACKOFF_BASE = 5.0
RETRY_AFTER_MAX = 600.0
RETRY_HTTP_CODES = [500, 502, 504, 522, 524, 408]

# How far a crawl goes (crawler/frontier.py): links at most DEPTH_LIMIT hops from the start page,
# at most SITE_PAGE_BUDGET pages queued per crawl of a site, no path repeating a run of segments or
# longer than TRAP_MAX_SEGMENTS segments, and at most TRAP_RUN_LIMIT links in a row from a page to
# one of the same shape (/calendar/7/ -> /calendar/8/) on pages that found nothing new of another
# shape (a listing that finds new articles never counts). 0 turns a limit off.
DEPTH_LIMIT = 100
SITE_PAGE_BUDGET = 500_000
TRAP_RUN_LIMIT = 10
TRAP_MAX_SEGMENTS = 32

# Bounded work per page (crawler/workers.py, pipelines/records.py): a page over PAGE_MAX_BYTES
# (decoded HTML) or PAGE_MAX_ELEMENTS (parsed elements) is skipped before extraction; a record a
# worker has not built after RECORD_TIMEOUT seconds is abandoned (its worker replaced) and counted.
PAGE_MAX_BYTES = budgets.MAX_BYTES
PAGE_MAX_ELEMENTS = budgets.MAX_ELEMENTS
RECORD_TIMEOUT = 60.0

# No remote code execution endpoints on a crawler that runs unattended.
TELNETCONSOLE_ENABLED = False
REMOTE_CONTROL_ENABLED = False

# Everything the next run of a crawl starts from (learned boilerplate for now) lives in CRAWL_STATE;
# empty means state/<spider>/<site>/ under the working directory (one folder per site).
CRAWL_STATE = ""

# Boilerplate learned from the site itself (pipelines/boilerplate.py): a line on at least
# max(BOILERPLATE_MIN_PAGES, BOILERPLATE_MIN_SHARE x pages seen) pages is removed from every record.
# The first BOILERPLATE_WARMUP pages are held until the model has seen them; the model is saved in
# CRAWL_STATE and the next crawl of the site starts from it.
BOILERPLATE_LEARNING = True
BOILERPLATE_WARMUP = boilerplate.WARMUP_PAGES
BOILERPLATE_MIN_PAGES = boilerplate.MIN_PAGES
BOILERPLATE_MIN_SHARE = boilerplate.MIN_SHARE

# Records are built in worker processes (crawler/workers.py), never on the reactor's thread:
# RECORD_WORKERS processes (empty: one per core beyond the first, at least one; 0: in the crawl's
# own process), holding at most RECORD_POOL_CAPACITY pages at a time (0: four per worker); a page
# waits in its callback meanwhile, and Scrapy's SCRAPER_SLOT_MAX_ACTIVE_SIZE bounds those.
RECORD_WORKERS = ""
RECORD_POOL_CAPACITY = 0

# The same page reached by several URLs is requested once: fingerprints use the canonical URL.
REQUEST_FINGERPRINTER_CLASS = "crawler.fingerprint.CanonicalUrlFingerprinter"

ITEM_PIPELINES = {
    # Records arrive built and validated against schema/record-v1.json (in a worker); here they get
    # their revision and are de-duplicated against the crawl state (crawler/chain.py).
    "crawler.pipelines.RecordChainPipeline": 100,
    "crawler.pipelines.RecordStatsPipeline": 900,
}

# WARC capture (crawler/capture.py, files by crawler/warc.py): every response and its request, in WARC/1.1 files in WARC_DIR
# (empty: no capture), a new file every WARC_MAX_SIZE bytes. Next to the downloader (950), so that
# robots.txt, redirects and HTTP errors are captured too, before other middlewares act on them.
WARC_DIR = ""
WARC_MAX_SIZE = 1_000_000_000
DOWNLOADER_MIDDLEWARES = {
    # Scope (crawler/scope.py) first, for every request however it was made (links, redirects,
    # retries, resumed URLs); it replaces Scrapy's OffsiteMiddleware, which lets dont_filter through.
    "scrapy.downloadermiddlewares.offsite.OffsiteMiddleware": None,
    "crawler.scope.ScopeMiddleware": 50,
    # robots.txt with every waiter served and an unreachable file taken as disallow (crawler/robots.py).
    "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
    "crawler.robots.RobotsTxtMiddleware": 100,
    "crawler.capture.WarcCaptureMiddleware": 950,
    # Politeness (crawler/politeness.py): Retry-After below Scrapy's RetryMiddleware (550) and the
    # middlewares that handle answers (WARC capture included), which see a refusal before it is retried;
    # the per-host queue last, right before the downloader's slots (the Crawl-delay is in EXTENSIONS).
    "crawler.politeness.RetryAfterMiddleware": 540,
    "crawler.politeness.HostQueueMiddleware": 990,
}

EXTENSIONS = {
    # Politeness (crawler/politeness.py): Scrapy's AutoThrottle with the robots.txt Crawl-delay and
    # Retry-After pauses in its delay policy (on even with AUTOTHROTTLE_ENABLED=False, then not adapting).
    "scrapy.extensions.throttle.AutoThrottle": None,
    "crawler.politeness.PoliteAutoThrottle": 0,
    "crawler.extensions.CrawlOutcome": 500,
    # report.json and report.md beside the output, and a progress line (crawler/report.py).
    "crawler.report.CrawlReport": 510,
    "crawler.report.CrawlProgress": 520,
    # WACZ_FILE: this run's WARC files and records packaged as a WACZ file when the crawl closes (crawler/wacz.py).
    "crawler.wacz.WaczPackager": 530,
}
# A WACZ file (%(name)s: the spider, %(time)s: the crawl's start) made of this run's WARC files (needs
# WARC_DIR), its index and its article pages when the crawl closes; empty: none. A failure fails the crawl.
WACZ_FILE = ""
# Write report.json / report.md at the end of every crawl; log a progress line every N seconds (0: off).
REPORT_ENABLED = True
PROGRESS_INTERVAL = 10.0

# Output: UTF-8 JSON Lines in schema field order, each line written whole as soon as it exists.
# A path ending in .gz is gzip-compressed, one gzip member per line (crawler/feedstorage.py);
# FEED_EXPORT_BATCH_ITEM_COUNT=N with %(batch_id)d in the path writes numbered batch files.
FEED_EXPORT_ENCODING = "utf-8"
FEED_EXPORT_FIELDS = list(RECORD_FIELDS)
FEED_STORE_EMPTY = True
# The JSON Lines exporter that tells the crawl state when a record's line is written.
FEED_EXPORTERS = {
    "jsonlines": "crawler.feedstorage.RecordLinesExporter",
    "jsonl": "crawler.feedstorage.RecordLinesExporter",
}
FEED_STORAGES = {
    "": "crawler.feedstorage.DurableFileFeedStorage",
    "file": "crawler.feedstorage.DurableFileFeedStorage",
}

LOG_LEVEL = "INFO"

# Discovery beyond links (crawler/discovery.py): page URLs from the site's sitemaps (robots.txt
# Sitemap: lines, else /sitemap.xml; indexes and gzip followed) and from the RSS/Atom/JSON feeds the
# start page links in its <head>; at most DISCOVERY_MAX_DOCUMENTS sitemaps and feeds per run. Scope,
# robots.txt, politeness and budgets apply to them and to what they list as to links; on a re-crawl a
# page whose sitemap lastmod is older than its last fetch is not fetched again (it is unchanged).
DISCOVER_SITEMAPS = True
DISCOVER_FEEDS = True
DISCOVERY_MAX_DOCUMENTS = 1000
