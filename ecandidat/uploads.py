"""Multipart bodies with part headers that are not UTF-8: Django's parser drops them, we read them.

Django reads each part's headers with ``bytes.decode()`` and skips a header line that is not UTF-8 (a name such as
``relevé.pdf`` sent in Latin-1 or Windows-1252 by an old script or a forged request). Without its
``Content-Disposition`` line the part is no longer a file: under about 64 KB it vanished and the candidate read
« Choisissez un fichier » as if nothing had been sent; above, the parser lost its way and the answer was a 400.
Django also skips a file whose name is empty once sanitised (``..``, control characters only), the same way.

``RepairedMultiPartParser``, set on every request by ``RepairedMultipartMiddleware``, keeps such a file:

- the header lines of each part that are not UTF-8 are re-encoded as UTF-8, read as Windows-1252 (a line with one
  of the five bytes Windows-1252 leaves undefined is read as Latin-1, whose control characters the name then
  loses). Only those lines change; the
  parts' contents are passed on untouched, and the body is read as it streams in (at most one header's length,
  1 KB plus the boundary, is held back);
- a file name that sanitises to nothing becomes ``document``; the upload pipeline then refuses it with its usual
  French message beside the piece (no extension: « format non accepté »), instead of silence.

The pipeline gives the stored file its anonymous name and keeps the sanitised original name as metadata only
(``documents.validation.sanitize_filename``). A browser's empty file field (``filename=""``) is still "no file".
"""

from collections import deque

from django.http.multipartparser import MultiPartParser

UNNAMED_UPLOAD = "document"
_READ_SIZE = 64 * 1024
_HEADER_END = b"\r\n\r\n"
MAX_HEADER_SIZE = 1024  # django.http.multipartparser.MAX_TOTAL_HEADER_SIZE: longer part headers are refused (400)


def as_utf8(line: bytes) -> bytes:
    """A header line as UTF-8: unchanged when it already is, otherwise read as Windows-1252 (or Latin-1)."""
    try:
        line.decode()
    except UnicodeDecodeError:
        try:
            text = line.decode("cp1252")
        except UnicodeDecodeError:
            text = line.decode("latin-1")
        return text.encode()
    return line


class RepairedHeaders:
    """A multipart body read through ``read(size)``, each part's header lines re-encoded with ``as_utf8``."""

    def __init__(self, stream, boundary: bytes):
        self._stream = stream
        self._delimiter = b"--" + boundary
        # How far after a delimiter its headers may end: Django refuses longer headers anyway.
        self._window = len(self._delimiter) + MAX_HEADER_SIZE + len(_HEADER_END)
        self._pending = b""  # read, not yet examined
        # Examined, to hand out, in pieces: a read that holds no delimiter (most of a file) is handed on as it came,
        # without a copy; the rest is copied twice (joined to the held-back tail, then cut from it). Handing every
        # byte through one buffer cost +0.9 ms on a 1.4 MB upload whose parse takes 1.0 ms; now +0.5 ms, most of it
        # the search for the delimiter, which Django's parser then repeats.
        self._ready: deque[bytes] = deque()
        self._eof = False

    def read(self, size: int = -1) -> bytes:
        """At most ``size`` bytes (everything left when ``size`` is negative); ``b""`` only at the end."""
        if size < 0:
            return b"".join(iter(lambda: self.read(_READ_SIZE), b""))
        while not self._ready and not self._eof:
            chunk = self._stream.read(_READ_SIZE)
            self._eof = not chunk
            if chunk and self._plain(chunk):  # most of a file: handed on as it came
                if self._pending:
                    self._ready.append(self._pending)
                    self._pending = b""
                self._ready.append(chunk)
                continue
            self._pending += chunk
            self._examine()
        if not self._ready or size == 0:
            return b""
        piece = self._ready.popleft()
        if len(piece) > size:
            self._ready.appendleft(piece[size:])
            piece = piece[:size]
        return piece

    def _plain(self, chunk: bytes) -> bool:
        """No delimiter in what is held back followed by ``chunk``, nor the beginning of one at the end of ``chunk``
        (every delimiter starts with ``--``)."""
        length = len(self._delimiter)
        return (
            self._delimiter not in chunk
            and b"-" not in chunk[1 - length :]
            and (not self._pending or self._delimiter not in self._pending + chunk[:length])
        )

    def _pass(self, length: int) -> None:
        if length:
            self._ready.append(self._pending[:length])
            self._pending = self._pending[length:]

    def _examine(self) -> None:
        while True:
            start = self._pending.find(self._delimiter)
            if start == -1:
                # Keep what may be the beginning of a delimiter split between two reads.
                self._pass(len(self._pending) if self._eof else max(len(self._pending) - len(self._delimiter), 0))
                return
            end = self._pending.find(_HEADER_END, start, start + self._window)
            if end == -1 and not self._eof and len(self._pending) < start + self._window:
                self._pass(start)  # the headers are not all there yet
                return
            if end == -1:
                self._pass(start + len(self._delimiter))  # the closing delimiter, or headers Django refuses
                continue
            self._pass(start)
            self._ready.append(b"\r\n".join(as_utf8(line) for line in self._pending[: end - start].split(b"\r\n")))
            self._pending = self._pending[end - start :]


class RepairedMultiPartParser(MultiPartParser):
    """Django's parser over ``RepairedHeaders``; a file name that sanitises to nothing becomes ``document``."""

    def __init__(self, META, input_data, upload_handlers, encoding=None):
        super().__init__(META, input_data, upload_handlers, encoding)
        # The boundary Django read from the Content-Type (a private attribute django-stubs does not declare).
        boundary: bytes = self._boundary  # type: ignore[attr-defined]
        self._input_data = RepairedHeaders(input_data, boundary)

    def sanitize_file_name(self, file_name):
        return super().sanitize_file_name(file_name) or UNNAMED_UPLOAD


class RepairedMultipartMiddleware:
    """Every request's multipart body is read by ``RepairedMultiPartParser`` (before CSRF reads ``request.POST``)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.multipart_parser_class = RepairedMultiPartParser
        return self.get_response(request)
