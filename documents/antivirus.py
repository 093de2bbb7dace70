"""A small clamd client: INSTREAM scan, PING and VERSION over TCP or a Unix socket (security reference A.3 §8).

The daemon is set by ``settings.CLAMD_ADDRESS``: ``"tcp://127.0.0.1:3310"``, ``"unix:///run/clamav/clamd.ctl"``,
or ``None`` when no antivirus is configured (``is_configured()`` is then False and scans refuse to run).

Protocol (clamd(8)): commands are sent with the ``z`` prefix and a NUL terminator, so replies end with NUL too.
``zINSTREAM\\0`` is followed by chunks, each prefixed by its length as a 4-byte big-endian unsigned integer, and a
zero-length chunk; the reply is ``stream: OK``, ``stream: <signature> FOUND`` or ``<reason> ERROR``.

Errors (daemon down, timeout, size limit, unexpected reply) are returned as ``ScanResult`` with status
``error``, never raised: the caller (a task) decides whether to retry. A file is clean only on ``stream: OK``.
"""

from __future__ import annotations

import enum
import socket
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from typing import IO
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

DEFAULT_TIMEOUT = 30.0
CHUNK_SIZE = 64 * 1024  # Well under clamd's StreamMaxLength (25 MB by default).
MAX_REPLY = 64 * 1024


class ScanStatus(enum.StrEnum):
    CLEAN = "clean"
    INFECTED = "infected"
    ERROR = "error"


@dataclass(frozen=True)
class ScanResult:
    """Outcome of one scan: ``signature`` is set when infected, ``detail`` explains an error (or is the reply)."""

    status: ScanStatus
    signature: str | None = None
    detail: str = ""

    @property
    def is_clean(self) -> bool:
        return self.status is ScanStatus.CLEAN

    @property
    def is_infected(self) -> bool:
        return self.status is ScanStatus.INFECTED


class ClamdError(Exception):
    """Talking to clamd failed (connection, timeout, malformed reply)."""


def configured_address() -> str | None:
    """Return ``settings.CLAMD_ADDRESS`` (None or empty means no antivirus)."""
    return getattr(settings, "CLAMD_ADDRESS", None) or None


def is_configured() -> bool:
    return configured_address() is not None


def scan_bytes(data: bytes, *, address: str | None = None, timeout: float = DEFAULT_TIMEOUT) -> ScanResult:
    """Scan ``data`` with clamd INSTREAM."""
    return scan_chunks((data[i : i + CHUNK_SIZE] for i in range(0, len(data), CHUNK_SIZE)), address, timeout)


def scan_file(fileobj: IO[bytes], *, address: str | None = None, timeout: float = DEFAULT_TIMEOUT) -> ScanResult:
    """Scan a binary file object from its current position to its end, streaming it in chunks."""
    return scan_chunks(iter(lambda: fileobj.read(CHUNK_SIZE), b""), address, timeout)


def scan_chunks(chunks: Iterable[bytes], address: str | None = None, timeout: float = DEFAULT_TIMEOUT) -> ScanResult:
    """Send ``chunks`` to clamd INSTREAM and parse the verdict.

    Raises ``ImproperlyConfigured`` when no address is given and ``CLAMD_ADDRESS`` is not set: scanning without
    an antivirus must be a decision of the caller, never a silent "clean".
    """
    target = _resolve(address)
    try:
        with _connect(target, timeout) as sock:
            sock.sendall(b"zINSTREAM\0")
            try:
                for chunk in chunks:
                    if chunk:
                        sock.sendall(struct.pack("!L", len(chunk)) + chunk)
                sock.sendall(struct.pack("!L", 0))
            except (BrokenPipeError, ConnectionResetError):
                # clamd closes the stream early when StreamMaxLength is exceeded; its reason is still readable.
                pass
            reply = _read_reply(sock)
    except (OSError, ClamdError) as exc:
        return ScanResult(ScanStatus.ERROR, detail=f"clamd at {target}: {exc}")
    return parse_scan_reply(reply)


def parse_scan_reply(reply: str) -> ScanResult:
    """Turn a clamd INSTREAM reply into a ``ScanResult``."""
    if reply.endswith(" ERROR") or not reply.startswith("stream:"):
        return ScanResult(ScanStatus.ERROR, detail=reply)
    verdict = reply.removeprefix("stream:").strip()
    if verdict == "OK":
        return ScanResult(ScanStatus.CLEAN, detail=reply)
    if verdict.endswith(" FOUND"):
        return ScanResult(ScanStatus.INFECTED, signature=verdict.removesuffix(" FOUND").strip(), detail=reply)
    return ScanResult(ScanStatus.ERROR, detail=reply)


def ping(*, address: str | None = None, timeout: float = 5.0) -> bool:
    """Return True when clamd answers PONG."""
    try:
        return _command(b"PING", _resolve(address), timeout) == "PONG"
    except (OSError, ClamdError):
        return False


def version(*, address: str | None = None, timeout: float = 5.0) -> str:
    """Return clamd's version and signature database version, e.g. "ClamAV 1.4.6/27500/Mon Jan 1 …".

    Worth storing beside a scan result, so that files can be re-scanned when signatures change.
    Raises ``ClamdError`` (or ``OSError``) when clamd cannot be reached.
    """
    return _command(b"VERSION", _resolve(address), timeout)


@dataclass(frozen=True)
class ClamdVersion:
    """clamd's VERSION reply and the signature database version in it (None when clamd loads no official
    database: it then answers only "ClamAV 1.4.6")."""

    reply: str
    signature_version: int | None


def parse_version(reply: str) -> ClamdVersion:
    """Split "ClamAV 1.0.7/27000/Sun Nov 24 09:37:00 2024" into the reply and 27000 (the daily database)."""
    parts = reply.strip().split("/")
    number = parts[1].strip() if len(parts) > 1 else ""
    return ClamdVersion(reply=reply.strip(), signature_version=int(number) if number.isdigit() else None)


def current_version(*, address: str | None = None, timeout: float = 5.0) -> ClamdVersion:
    """Ask clamd for its version (``ClamdError`` or ``OSError`` when it cannot be reached)."""
    return parse_version(version(address=address, timeout=timeout))


def _command(command: bytes, target: str, timeout: float) -> str:
    with _connect(target, timeout) as sock:
        sock.sendall(b"z" + command + b"\0")
        return _read_reply(sock)


def _resolve(address: str | None) -> str:
    target = address or configured_address()
    if target is None:
        raise ImproperlyConfigured("No antivirus: set CLAMD_ADDRESS (tcp://host:port or unix:///path).")
    return target


def _connect(address: str, timeout: float) -> socket.socket:
    """Open a socket to ``tcp://host:port`` or ``unix:///path`` with ``timeout`` on every operation."""
    parts = urlsplit(address)
    if parts.scheme == "tcp" and parts.hostname and parts.port:
        return socket.create_connection((parts.hostname, parts.port), timeout=timeout)
    if parts.scheme == "unix" and parts.path:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect(parts.path)
        except OSError:
            sock.close()
            raise
        return sock
    raise ImproperlyConfigured(f"Invalid CLAMD_ADDRESS {address!r}: use tcp://host:port or unix:///path.")


def _read_reply(sock: socket.socket) -> str:
    """Read a NUL-terminated reply (what the ``z`` command prefix asks for)."""
    buffer = bytearray()
    while b"\0" not in buffer:
        data = sock.recv(4096)
        if not data:
            break
        buffer += data
        if len(buffer) > MAX_REPLY:
            raise ClamdError("reply too long")
    if not buffer:
        raise ClamdError("connection closed without a reply")
    return buffer.split(b"\0", 1)[0].decode("utf-8", "replace").strip()
