"""WARC/1.1 capture files, written and read with warcio, without Scrapy.

Writing (``WarcWriter``, used by ``crawler.capture.WarcCaptureMiddleware``):

* One file is a series of gzip members, one per WARC record (``.warc.gz``). The ``warcinfo``
  record opening each file names the software, the crawl (spider), its site profile and start URL.
* Every HTTP exchange is a ``response`` record followed by its ``request`` record
  (``WARC-Concurrent-To`` links them), both rendered in memory and written to the file in one
  unbuffered write: a killed crawl leaves only complete records behind (at most the exchange in
  flight is lost). ``FEED_FSYNC`` also fsyncs after each exchange.
* An exchange whose page was captured before (``previous``, the page's last whole 200 response
  record, kept in the crawl state) is a ``revisit`` record instead (WARC/1.1 6.7): profile
  ``server-not-modified`` for a 304, ``identical-payload-digest`` for a 200 whose payload digest is the
  earlier capture's. Other answers (errors, redirects, retries) are always response records.
  Both carry ``WARC-Refers-To`` (the earlier record's ID), ``WARC-Refers-To-Target-URI``,
  ``WARC-Refers-To-Date`` and ``WARC-Payload-Digest`` (the earlier payload's), and no payload. The block
  of an identical-payload revisit is the answer's status line and headers (``WARC-Truncated:
  length``); the block of a server-not-modified revisit is the earlier capture's status line and
  headers updated with the 304's (as a cache updates a stored response, RFC 9111 4.3.4), so that a
  replay tool shows the page the 304 confirmed (pywb replays a revisit's own status line: a 304 in the
  block would replay as an empty 304).
* A file is closed and the next one (next serial number, new ``warcinfo``) opened once it reaches
  ``max_size`` bytes. Names: ``{crawl}-{YYYYMMDDhhmmss}-{serial:05d}.warc.gz``, the time being when
  the crawl started (UTC).

What a response record holds (Scrapy does not hand over the bytes on the wire):

* the status line rebuilt from the status code, with the protocol Scrapy reports (``HTTP/1.0`` or
  ``HTTP/1.1``; anything else is written as ``HTTP/1.1``) and the standard reason phrase;
* the response headers as Scrapy received them, in order, names in Scrapy's capitalisation
  (``Content-Type``), repeated headers repeated; non-ASCII bytes are percent-encoded (RFC 8187) by warcio;
* the body as Scrapy's downloader received it: transfer coding removed (chunks joined), content
  coding kept (a gzip-encoded page stays gzip bytes, with its ``Content-Encoding`` header), so the
  payload digest is the digest of the entity the server sent. Twisted de-chunks and drops
  ``Transfer-Encoding`` itself; should one be present it is renamed
  ``X-Archive-Orig-Transfer-Encoding``. A ``Content-Length`` is set to the stored body's length (a
  differing original value is kept as ``X-Archive-Orig-Content-Length``; one is added when a
  ``Transfer-Encoding`` was renamed);
* ``WARC-Date``: when the response reached the capture (UTC, microseconds); ``WARC-IP-Address``
  when known; ``WARC-Truncated: disconnect`` when Scrapy flagged the body as incomplete.

The request record holds the request line and headers Scrapy's downloader sent (``Host`` added when
Scrapy leaves it to the HTTP client) and the request body.

Reading (``read_responses``): the response records of one file, each with the ``site-profile`` of
the ``warcinfo`` record before it; ``CapturedResponse.decoded_body()`` undoes the content coding
as Scrapy's HttpCompressionMiddleware does.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import logging
import os
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http import HTTPStatus
from pathlib import Path
from urllib.parse import urlsplit

from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed
from warcio.statusandheaders import StatusAndHeaders
from warcio.timeutils import datetime_to_iso_date, iso_date_to_datetime
from warcio.warcwriter import WARCWriter

from crawler.output import DurableFile

__all__ = [
    "IDENTICAL_PAYLOAD",
    "RESPONSE",
    "SERVER_NOT_MODIFIED",
    "Capture",
    "CaptureRef",
    "CapturedResponse",
    "HttpExchange",
    "WarcWriter",
    "archival_response_headers",
    "freshened_headers",
    "payload_digest",
    "read_responses",
    "warc_software",
]

logger = logging.getLogger(__name__)

WARC_VERSION = "1.1"
WARC_SUFFIX = ".warc.gz"
CONFORMS_TO = "https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/"
HTTP_VERSIONS = ("HTTP/1.0", "HTTP/1.1")
ORIG = "X-Archive-Orig-"
# What the files say about themselves (the warcinfo "description").
CAPTURE_DESCRIPTION = (
    "HTTP responses as received by Scrapy's downloader: status line rebuilt, headers as received, "
    "body with transfer coding removed and content coding kept; any Transfer-Encoding renamed "
    "X-Archive-Orig-Transfer-Encoding, any Content-Length set to the stored body length"
)

Headers = Sequence[tuple[str, str]]


def warc_software() -> str:
    from importlib.metadata import PackageNotFoundError, version

    def _version(name: str) -> str:
        try:
            return version(name)
        except PackageNotFoundError:
            return "unknown"

    return f"archive-crawler/{_version('archive-crawler')} (warcio/{_version('warcio')})"


@dataclass
class HttpExchange:
    """One request and the response to it, as the crawler saw them."""

    url: str
    status: int
    response_headers: Headers
    body: bytes
    method: str = "GET"
    request_headers: Headers = ()
    request_body: bytes = b""
    protocol: str | None = "HTTP/1.1"
    date: datetime | None = None
    ip_address: str | None = None
    truncated: bool = False


# What an exchange became in the file (``Capture.kind``): a response record, or a revisit record of
# one of the two WARC/1.1 profiles.
RESPONSE = "response"
SERVER_NOT_MODIFIED = "http://netpreserve.org/warc/1.1/revisit/server-not-modified"
IDENTICAL_PAYLOAD = "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest"
# Their counts (``warc/revisits/...`` in a crawl's stats).
REVISIT_COUNTS = {SERVER_NOT_MODIFIED: "revisits/server_not_modified", IDENTICAL_PAYLOAD: "revisits/identical_payload"}
# Fields a 304 does not update in the stored response (RFC 9111 3.2: Content-Length; what the stored
# payload depends on, its content coding; and hop-by-hop fields).
NOT_FRESHENED = frozenset({
    "content-length", "content-encoding", "content-range", "transfer-encoding", "connection", "keep-alive",
    "proxy-connection", "te", "trailer", "upgrade",
})


def payload_digest(body: bytes) -> str:
    """The WARC-Payload-Digest of a stored body, as warcio writes it (SHA-1, base32)."""
    return "sha1:" + base64.b32encode(hashlib.sha1(body).digest()).decode("ascii")


@dataclass(frozen=True)
class CaptureRef:
    """A response record that a later revisit of the same page can refer to: its target URI, WARC-Date,
    record ID and payload digest, and its HTTP status line and headers as stored."""

    target_uri: str
    date: str
    record_id: str
    payload_digest: str
    status_line: str = "200 OK"
    protocol: str = "HTTP/1.1"
    headers: tuple[tuple[str, str], ...] = ()

    def http_json(self) -> str:
        """The status line, protocol and headers as JSON (``from_fields`` reads them back)."""
        return json.dumps({"status": self.status_line, "protocol": self.protocol,
                           "headers": [list(pair) for pair in self.headers]}, ensure_ascii=False)

    @classmethod
    def from_fields(cls, target_uri: str, date: str, record_id: str, digest: str, http: str | None) -> CaptureRef:
        data = json.loads(http) if http else {}
        return cls(target_uri, date, record_id, digest, data.get("status") or "200 OK",
                   data.get("protocol") or "HTTP/1.1", tuple((k, v) for k, v in data.get("headers") or ()))


@dataclass(frozen=True)
class Capture:
    """What ``WarcWriter.write_exchange`` wrote: ``kind`` (``RESPONSE``, ``SERVER_NOT_MODIFIED`` or
    ``IDENTICAL_PAYLOAD``), the record's ID, and the capture later revisits of the page refer to: this
    response record for a whole 200, the one a revisit referred to, else None (an error answer, a body
    cut short); the answer's status, and whether its body was cut short."""

    kind: str
    record_id: str
    ref: CaptureRef | None
    status: int = 200
    truncated: bool = False

    @property
    def revisit(self) -> bool:
        return self.kind != RESPONSE


def freshened_headers(stored: Headers, not_modified: Headers) -> list[tuple[str, str]]:
    """The headers of a stored response updated with those of a 304 that confirms it (RFC 9111 3.2):
    each field the 304 sends replaces the stored field of that name, in its place (new ones at the
    end), except the length, the content coding and hop-by-hop fields."""
    sent: dict[str, list[tuple[str, str]]] = {}
    for name, value in not_modified:
        if name.lower() not in NOT_FRESHENED:
            sent.setdefault(name.lower(), []).append((name, value))
    result: list[tuple[str, str]] = []
    placed: set[str] = set()
    for name, value in stored:
        lower = name.lower()
        if lower not in sent:
            result.append((name, value))
        elif lower not in placed:
            result.extend(sent[lower])
            placed.add(lower)
    for lower, pairs in sent.items():
        if lower not in placed:
            result.extend(pairs)
    return result


def _header(headers: Headers, name: str) -> str | None:
    name = name.lower()
    value = None
    for key, item in headers:
        if key.lower() == name:
            value = item
    return value


def archival_response_headers(headers: Headers, body_length: int) -> list[tuple[str, str]]:
    """The response headers made consistent with a stored body whose transfer coding is undone."""
    result: list[tuple[str, str]] = []
    length = str(body_length)
    has_length = dechunked = False
    for name, value in headers:
        lower = name.lower()
        if lower == "transfer-encoding":
            result.append((ORIG + name, value))
            dechunked = True
        elif lower == "content-length":
            if value.strip() != length:
                result.append((ORIG + name, value))
            if not has_length:  # in the original's place
                result.append((name, length))
                has_length = True
        else:
            result.append((name, value))
    if dechunked and not has_length:
        result.append(("Content-Length", length))
    return result


def _status_line(status: int) -> str:
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return str(status)


def _warc_date(moment: datetime | None) -> str:
    moment = (moment or datetime.now(timezone.utc)).astimezone(timezone.utc).replace(tzinfo=None)
    return datetime_to_iso_date(moment, use_micros=True)


class WarcWriter:
    """Writes HTTP exchanges into rotating ``.warc.gz`` files in ``directory``.

    ``info`` goes into the ``warcinfo`` record opening every file (``software``, ``format`` and
    ``conformsTo`` are added). ``counts`` tallies what was written: ``files``, ``bytes``,
    ``records/<type>``, ``captured`` (exchanges) and ``revisits/server_not_modified`` /
    ``revisits/identical_payload``; ``on_count(key, n)``, when given, is told of every addition.
    """

    def __init__(
        self,
        directory: str | os.PathLike,
        prefix: str,
        info: dict[str, str] | None = None,
        *,
        max_size: int = 1_000_000_000,
        fsync: bool = False,
        started: datetime | None = None,
        on_count: Callable[[str, int], None] | None = None,
    ):
        if max_size <= 0:
            raise ValueError(f"the WARC file size limit must be positive, got {max_size}")
        self.directory = Path(directory)
        self.prefix = prefix
        self.max_size = max_size
        self.fsync = fsync
        self.started = (started or datetime.now(timezone.utc)).astimezone(timezone.utc)
        self.info = {
            "software": warc_software(),
            "format": f"WARC File Format {WARC_VERSION}",
            "conformsTo": CONFORMS_TO,
            **(info or {}),
        }
        self.files: list[Path] = []
        self.counts: dict[str, int] = {}
        self.on_count = on_count
        self._serial = 0
        self._file: DurableFile | None = None
        self._builder = WARCWriter(io.BytesIO(), gzip=True, warc_version=WARC_VERSION)

    def _count(self, key: str, n: int = 1) -> None:
        self.counts[key] = self.counts.get(key, 0) + n
        if self.on_count is not None:
            self.on_count(key, n)

    def _render(self, *records) -> bytes:
        buffer = io.BytesIO()
        self._builder.out = buffer
        for record in records:
            self._builder.write_record(record)
        return buffer.getvalue()

    def _write(self, data: bytes) -> None:
        assert self._file is not None
        start = self._file.tell()
        try:
            self._file.write(data)
        except OSError:
            # A write cut short (a full disk) leaves no partial record: the file stays readable.
            try:
                os.ftruncate(self._file.fileno(), start)
            except OSError:
                pass
            raise
        self._count("bytes", len(data))

    def _open_next(self) -> None:
        self.close()
        self.directory.mkdir(parents=True, exist_ok=True)
        stamp = self.started.strftime("%Y%m%d%H%M%S")
        while True:
            name = f"{self.prefix}-{stamp}-{self._serial:05d}{WARC_SUFFIX}"
            path = self.directory / name
            self._serial += 1
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                continue
            os.close(fd)
            break
        self._file = DurableFile(path, "ab", fsync=self.fsync)
        self.files.append(path)
        self._count("files")
        logger.info("Writing WARC file %s", path)
        warcinfo = self._builder.create_warcinfo_record(name, self.info)
        self._write(self._render(warcinfo))
        self._count("records/warcinfo")

    def open(self) -> Path:
        """Start the first file now (it is otherwise opened by the first exchange)."""
        if self._file is None:
            self._open_next()
        return self.files[-1]

    def write_exchange(self, exchange: HttpExchange, previous: CaptureRef | None = None) -> Capture:
        """Write one exchange: a ``response`` record, or a ``revisit`` of ``previous`` (the page's
        last response record) when the answer is a 304 or its payload digest is ``previous``'s;
        then its ``request`` record. What was written is returned."""
        if self._file is None:
            self._open_next()
        builder = self._builder
        date = _warc_date(exchange.date)
        protocol = exchange.protocol if exchange.protocol in HTTP_VERSIONS else "HTTP/1.1"
        headers = archival_response_headers(exchange.response_headers, len(exchange.body))
        comparable = previous is not None and exchange.status == 200 and not exchange.truncated
        digest = payload_digest(exchange.body) if comparable else None

        warc_headers = {"WARC-Date": date}
        if exchange.ip_address:
            warc_headers["WARC-IP-Address"] = exchange.ip_address
        if previous is not None and exchange.status == 304:
            kind = SERVER_NOT_MODIFIED
        elif previous is not None and digest == previous.payload_digest:
            kind = IDENTICAL_PAYLOAD
        else:
            kind = RESPONSE
        if kind == RESPONSE:
            if exchange.truncated:
                warc_headers["WARC-Truncated"] = "disconnect"
            record = builder.create_warc_record(
                exchange.url,
                "response",
                payload=io.BytesIO(exchange.body),
                length=len(exchange.body),
                warc_headers_dict=warc_headers,
                http_headers=StatusAndHeaders(_status_line(exchange.status), headers, protocol=protocol),
            )
            record_id = record.rec_headers.get_header("WARC-Record-ID")
            # What later revisits refer to: a page's whole 200 (not an error answer, nor a body cut short).
            ref = None if exchange.status != 200 or exchange.truncated else CaptureRef(
                exchange.url, date, record_id, record.rec_headers.get_header("WARC-Payload-Digest"),
                _status_line(exchange.status), protocol, tuple(headers))
        else:
            assert previous is not None
            warc_headers["WARC-Refers-To"] = previous.record_id
            if kind == SERVER_NOT_MODIFIED:
                # The response the 304 confirms: the earlier capture's status line and headers, updated
                # with the 304's as a cache updates a stored response (RFC 9111 4.3.4); no payload.
                status_line, block_protocol = previous.status_line, previous.protocol
                block_headers = freshened_headers(previous.headers, exchange.response_headers)
            else:
                # This answer's own status line and headers; its payload, identical, left out.
                status_line, block_protocol, block_headers = _status_line(exchange.status), protocol, headers
                warc_headers["WARC-Truncated"] = "length"
            record = builder.create_revisit_record(
                exchange.url,
                previous.payload_digest,
                previous.target_uri,
                previous.date,
                http_headers=StatusAndHeaders(status_line, block_headers, protocol=block_protocol),
                warc_headers_dict=warc_headers,
            )
            # warcio names the identical-payload-digest profile of the WARC version.
            record.rec_headers.replace_header("WARC-Profile", kind)
            record_id = record.rec_headers.get_header("WARC-Record-ID")
            ref = previous

        parts = urlsplit(exchange.url)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        request_headers = list(exchange.request_headers)
        if _header(request_headers, "Host") is None:
            request_headers.insert(0, ("Host", parts.netloc))
        request = builder.create_warc_record(
            exchange.url,
            "request",
            payload=io.BytesIO(exchange.request_body),
            length=len(exchange.request_body),
            warc_headers_dict={"WARC-Date": date, "WARC-Concurrent-To": record_id},
            http_headers=StatusAndHeaders(
                f"{exchange.method} {target} {protocol}", request_headers, is_http_request=True
            ),
        )
        self._write(self._render(record, request))
        self._count("captured")
        self._count("records/response" if kind == RESPONSE else "records/revisit")
        if kind != RESPONSE:
            self._count(REVISIT_COUNTS[kind])
        self._count("records/request")
        assert self._file is not None
        if self._file.tell() >= self.max_size:
            self.close()
        return Capture(kind, record_id, ref, exchange.status, exchange.truncated)

    def close(self) -> None:
        if self._file is not None:
            if not self.fsync:
                os.fsync(self._file.fileno())
            self._file.close()
            self._file = None


# Content codings undone when a body is read back, as Scrapy's HttpCompressionMiddleware does.
SUPPORTED_CODINGS = ("gzip", "x-gzip", "deflate", "br", "zstd")


def _gunzip(data: bytes) -> bytes:
    out, rest = [], data
    while rest:  # several members, as gzip -d reads them
        decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
        out.append(decompressor.decompress(rest))
        out.append(decompressor.flush())
        if not decompressor.eof:
            raise zlib.error("truncated gzip data")
        rest = decompressor.unused_data
    return b"".join(out)


def _decode(data: bytes, coding: str) -> bytes:
    if coding in ("gzip", "x-gzip"):
        return _gunzip(data)
    if coding == "deflate":
        try:
            return zlib.decompress(data)
        except zlib.error:  # raw deflate, as some servers send it
            return zlib.decompress(data, -15)
    if coding == "br":
        import brotli

        return brotli.decompress(data)
    if coding == "zstd":
        try:
            from compression import zstd  # Python 3.14+
        except ImportError:
            from backports import zstd
        return zstd.decompress(data)
    raise ValueError(f"unsupported content coding {coding!r}")


def decode_content(body: bytes, content_encodings: Sequence[str]) -> bytes:
    """Undo the content codings of a stored body, last applied first, stopping at one that is not
    supported (as Scrapy does). Raises ``ValueError``/``zlib.error``/... for a body that does not
    decode: the crawl got no page from it either."""
    codings = [c.strip().lower() for value in content_encodings for c in value.split(",") if c.strip()]
    while codings and codings[-1] in SUPPORTED_CODINGS:
        body = _decode(body, codings.pop())
    return body


@dataclass
class CapturedResponse:
    """A response record read back from a WARC file; ``body`` is stored entity (content coding kept)."""

    url: str
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    date: datetime
    profile: str | None = None
    warcinfo: dict[str, str] = field(default_factory=dict)

    def header(self, name: str) -> str | None:
        """The last value of a header, as Scrapy's ``Headers.get`` gives it."""
        return _header(self.headers, name)

    def decoded_body(self) -> bytes:
        """The body with its content coding undone, as the spider got it."""
        name = "content-encoding"
        return decode_content(self.body, [value for key, value in self.headers if key.lower() == name])


def _warcinfo_fields(payload: bytes) -> dict[str, str]:
    fields: dict[str, str] = {}
    for line in payload.decode("utf-8", "replace").splitlines():
        name, sep, value = line.partition(":")
        if sep:
            fields[name.strip()] = value.strip()
    return fields


class _GzipMemberWatch:
    """Passes a ``.warc.gz`` file's bytes to warcio and follows its gzip members on the side.

    warcio ends quietly at a member cut short (a file copied while written, a full disk); this
    tells whether the file ended on a member boundary."""

    def __init__(self, raw):
        self.raw = raw
        self._member = None
        self.broken = False

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size)
        pending = data
        while pending and not self.broken:
            if self._member is None:
                self._member = zlib.decompressobj(16 + zlib.MAX_WBITS)
            try:
                self._member.decompress(pending)
            except zlib.error:
                self.broken = True
                break
            if self._member.eof:
                pending = self._member.unused_data
                self._member = None
            else:
                pending = b""
        return data

    def tell(self) -> int:
        return self.raw.tell()

    def __getattr__(self, name):
        return getattr(self.raw, name)

    @property
    def complete(self) -> bool:
        return not self.broken and self._member is None


def _parsed(records: Iterator, read: Callable[[], object] | None = None):
    """The next record (or ``read()``), any failure of warcio's parser as ``ArchiveLoadFailed``: a
    record cut short inside its header lines makes warcio fail in other ways."""
    try:
        return read() if read is not None else next(records)
    except (StopIteration, ArchiveLoadFailed, OSError):
        raise
    except Exception as exc:
        raise ArchiveLoadFailed(f"unreadable record ({type(exc).__name__}: {exc})") from exc


GZIP_MAGIC = b"\x1f\x8b"


class _Window:
    """The bytes ``[start, end)`` of an open file (``end`` None: to its end), as a stream."""

    def __init__(self, raw, start: int, end: int | None):
        raw.seek(start)
        self.raw = raw
        self.left = None if end is None else max(0, end - start)

    def read(self, size: int = -1) -> bytes:
        if self.left is None:
            return self.raw.read(size)
        if size is None or size < 0 or size > self.left:
            size = self.left
        data = self.raw.read(size)
        self.left -= len(data)
        return data

    def tell(self) -> int:
        return self.raw.tell()


def read_responses(path: str | os.PathLike, start: int = 0, end: int | None = None,
                   info: dict[str, str] | None = None) -> Iterator[CapturedResponse]:
    """The HTTP response records of a WARC file, in file order; or of its bytes ``[start, end)``
    (record boundaries; ``end`` None: to the end of the file), ``info`` being the warcinfo fields in
    force at ``start`` (a slice of a file for one Dask task: crawler/cluster.py).

    Raises warcio's ``ArchiveLoadFailed`` when the file is damaged (the responses before the damage
    have been yielded by then)."""
    info = dict(info or {})
    with open(path, "rb") as raw:
        gzipped = raw.read(2) == GZIP_MAGIC
        window = _Window(raw, start, end)
        stream = _GzipMemberWatch(window) if gzipped else window
        records = iter(ArchiveIterator(stream))
        while True:
            try:
                record = _parsed(records)
            except StopIteration:
                break
            block = _parsed(records, record.raw_stream.read)
            # warcio stops quietly at the end of a cut-off gzip member: check the declared length.
            if record.length is None:  # cut inside its WARC headers: no Content-Length was read
                raise ArchiveLoadFailed(f"record {record.rec_headers.get_header('WARC-Record-ID')} is cut short "
                                        "in its headers")
            expected = record.length - (record.http_headers.total_len if record.http_headers else 0)
            if len(block) != expected:
                raise ArchiveLoadFailed(
                    f"record {record.rec_headers.get_header('WARC-Record-ID')} is truncated "
                    f"({len(block)} of {expected} bytes)"
                )
            if record.rec_type == "warcinfo":
                info = _warcinfo_fields(block)
                continue
            if record.rec_type != "response" or not record.http_headers:
                continue
            if not (record.http_headers.protocol or "").startswith("HTTP/"):
                continue
            yield CapturedResponse(
                url=record.rec_headers.get_header("WARC-Target-URI"),
                status=int(record.http_headers.get_statuscode()),
                headers=list(record.http_headers.headers),
                body=block,
                date=iso_date_to_datetime(record.rec_headers.get_header("WARC-Date")).replace(tzinfo=timezone.utc),
                profile=info.get("site-profile") or None,
                warcinfo=info,
            )
        if gzipped:
            stream.read()  # what warcio left unread
            if not stream.complete:
                raise ArchiveLoadFailed("the file ends inside a gzip member (cut short?)")
