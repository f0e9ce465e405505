"""Record schema version 1: the field names and their order in every output line."""

SCHEMA_VERSION = "1"
RECORD_FIELDS = (
    "schema_version",
    "url",
    "canonical_url",
    "site",
    "title",
    "text",
    "language",
    "section",
    "document_date",
    "published_date",
    "source",
    "dateline",
    "fetched_at",
    "content_sha256",
    "revision",
)
DATE_FIELDS = ("document_date", "published_date", "source", "dateline")
