"""Staff preview of a stored piece as PNG images rendered by the server (issue 11).

A candidate's file never reaches the browser as itself: a PDF is checked again with the upload rules
(``documents.validation``: no JavaScript, no launch or external action, no embedded file, not truncated or padded)
and its pages are rasterised by PDFium (pypdfium2) without its form environment, so no script can run even
inside the renderer; an image is decoded by Pillow within the upload pixel budget and re-encoded. What the
browser receives is a PNG we wrote.

Bounds: at most ``MAX_PAGES`` pages are offered, each rendered at most ``MAX_SIDE`` pixels on its long side
(``MAX_SIDE``² pixels, 7.7 MB of RGB at most); a stored file larger than ``MAX_BYTES`` is not previewed.

PDFium never runs in the web worker: each page count and each page drawing is a child process
(``documents/pdf_raster.py``) under a CPU limit of ``PREVIEW_TIME_LIMIT`` seconds and an address-space limit of its
own (and killed if it waits three times as long on a busy machine). A PDF of a few kilobytes that passes every
upload check can still ask PDFium for minutes of CPU (a page filled twenty thousand times over); in process it held
a gunicorn worker until gunicorn's timeout, once per page shown. Such a file now gets "too costly to show" in
words, remembered by its content, so that nobody pays for it twice. A child costs about 0.1 s to start, next to
0.1–0.7 s of drawing.

``preview_info`` says how many pages can be shown, or why none can (a French message on the page instead of a
broken image); the answer is cached per file content (SHA-256), so the reading page opens a PDF once per
document, not per view.
"""

from __future__ import annotations

import io
import logging
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.http import Http404
from django.utils.translation import gettext_lazy as _
from PIL import Image

from documents import pdf_raster
from documents.models import Document
from documents.storage import stored_name
from documents.validation import JPEG, MAX_IMAGE_PIXELS, PDF, PNG, validate_upload
from ecandidat.downloads import StorageUnavailable, storage_errors

logger = logging.getLogger(__name__)

PREVIEWABLE = frozenset({PDF, JPEG, PNG})
MAX_PAGES = 10
MAX_SIDE = 1600  # px: an A4 page at about 190 dpi, enough to read a transcript
MAX_BYTES = 20 * 1024 * 1024  # above the upload limit (files stored under an older limit), below a worker's patience
# Pages of a PDF checked again for the preview: far above the upload cap (UPLOAD_MAX_PDF_PAGES), so a file stored
# before that cap is still shown (its first MAX_PAGES pages); pypdf's own page tree limit is 100,000 entries.
MAX_PDF_PAGES = 50_000
CACHE_TIMEOUT = 30 * 24 * 3600
_CACHE_VERSION = "v1"
COUNT_BATCH_BYTES = 16 * 1024 * 1024  # PDFs held in memory at once to count their pages in one child
# The child: isolated mode (no environment variable, no user site, not the project on sys.path), same interpreter.
# The child's wall clock, per second of CPU it may use (+ 2 s to start): the CPU limit stops a costly file first; the
# wall clock only bounds a child left waiting. Tests that must see the CPU limit on a loaded machine raise it.
WALL_CLOCK_PER_CPU_SECOND = 3
CHILD = [sys.executable, "-I", str(Path(pdf_raster.__file__).resolve())]

MESSAGES = {
    "too_large": _("No preview: the file is too large to be shown here; download it."),
    "refused": _("No preview: this PDF does not pass the upload checks any more (%(reason)s); it is not shown here."),
    "unreadable": _("No preview: this file cannot be read (damaged or not a real PDF or image)."),
    "missing": _("No preview: the file is missing from the storage."),
    "too_costly": _("No preview: drawing this PDF takes too much time or memory; download it to read it."),
    "failed": _("No preview for now: the server could not draw it; try again later or download the file."),
}
# Not remembered: the file may come back (storage restored), the server may have been short of processes.
TRANSIENT = frozenset({"missing", "failed"})


class PreviewUnavailable(Exception):  # noqa: N818 - reads as the sentence it stands for
    def __init__(self, code: str, reason: str = ""):
        super().__init__(code)
        self.code = code
        self.reason = reason

    @property
    def message(self) -> str:
        return str(MESSAGES[self.code]) % {"reason": self.reason} if self.reason else str(MESSAGES[self.code])


class _StorageFailed(PreviewUnavailable):
    """The storage failing to give a file otherwise than by its absence: "failed", try again later."""

    def __init__(self) -> None:
        super().__init__("failed")


@dataclass(frozen=True)
class PreviewInfo:
    pages: int = 0  # pages of the file (0: no preview)
    code: str = ""  # why not, a key of MESSAGES
    reason: str = ""

    @property
    def shown_pages(self) -> range:
        return range(1, min(self.pages, MAX_PAGES) + 1)

    @property
    def truncated(self) -> bool:
        return self.pages > MAX_PAGES

    @property
    def message(self) -> str:
        if not self.code:
            return ""
        return PreviewUnavailable(self.code, self.reason).message


def _cache_key(document: Document) -> str:
    return f"preview:{_CACHE_VERSION}:{document.sha256}:{document.content_type}"


def preview_infos(documents: list[Document]) -> dict[int, PreviewInfo]:
    """``{document.pk: PreviewInfo}`` for previewable documents; one cache round trip, and for the PDFs never seen
    before (then cached by content) one PDFium child that counts the pages of them all. Those PDFs are read from the
    storage one after the other: once it fails (unreachable, refusing, or hanging until its time limit: ``_read``),
    the others are "failed" too without asking it again, so that a dossier's page waits for one read at most, not
    one per PDF."""
    wanted = [document for document in documents if document.content_type in PREVIEWABLE]
    cached = cache.get_many([_cache_key(document) for document in wanted if document.content_type == PDF])
    infos: dict[int, PreviewInfo] = {}
    to_count: list[tuple[Document, bytes]] = []
    refused: dict[str, tuple[int, str, str]] = {}  # refused by the upload checks: no child needed
    storage_failed = False

    def count() -> None:
        counted = {}
        for document, pages in _page_counts(to_count).items():
            info = PreviewInfo(pages=pages) if isinstance(pages, int) else PreviewInfo(code=pages)
            infos[document.pk] = info
            if info.code not in TRANSIENT:
                counted[_cache_key(document)] = (info.pages, info.code, info.reason)
        if counted:  # at once: a worker stopped later in this page does not lose what is known
            cache.set_many(counted, CACHE_TIMEOUT)
        to_count.clear()

    for document in wanted:
        if document.content_type != PDF:
            infos[document.pk] = PreviewInfo(pages=1)  # decoded only when asked for
        elif (known := cached.get(_cache_key(document))) is not None:
            infos[document.pk] = PreviewInfo(*known)
        elif storage_failed:
            infos[document.pk] = PreviewInfo(code="failed")  # not remembered (TRANSIENT): the next view tries again
        else:
            try:
                to_count.append((document, _checked_pdf(document)))
            except _StorageFailed as error:
                infos[document.pk] = PreviewInfo(code=error.code)
                storage_failed = True
            except PreviewUnavailable as error:
                infos[document.pk] = PreviewInfo(code=error.code, reason=error.reason)
                if error.code not in TRANSIENT:
                    refused[_cache_key(document)] = (0, error.code, error.reason)
            if sum(len(content) for _, content in to_count) >= COUNT_BATCH_BYTES:
                count()  # files stored under an older, larger limit: never hold more than this in the worker
    count()
    if refused:
        cache.set_many(refused, CACHE_TIMEOUT)
    return infos


def render_page(document: Document, page: int) -> bytes:
    """The PNG of ``page`` (1-based) of a PDF, or of the image; raise ``PreviewUnavailable``."""
    if document.content_type == PDF:
        if not 1 <= page <= MAX_PAGES:
            raise PreviewUnavailable("unreadable")
        key = _cache_key(document)
        known = cache.get(key)
        if known is not None and known[1]:  # already known not to be shown (too costly, refused...)
            raise PreviewUnavailable(known[1], known[2])
        try:
            return _run_child(_checked_pdf(document), "render", str(page), str(MAX_SIDE))
        except PreviewUnavailable as error:
            if error.code == "too_costly":  # every page of the file is refused from now on, in words on the page
                cache.set(key, (0, error.code, ""), CACHE_TIMEOUT)
            raise
    if document.content_type in (JPEG, PNG) and page == 1:
        return _png(_decode_image(_read(document)))
    raise PreviewUnavailable("unreadable")


def _read(document: Document) -> bytes:
    if document.size > MAX_BYTES:
        raise PreviewUnavailable("too_large")
    # A missing file is "missing"; the storage failing otherwise is "failed" (try again later), never "missing": a
    # bucket that hangs raises botocore's read or connect time-out, an OSError, and one refusing connections
    # (EndpointConnectionError) or a request (a ClientError other than 404) is neither. The classification is the
    # downloads' (``ecandidat.downloads.storage_errors``: a missing file is its Http404).
    try:
        with storage_errors(), default_storage.open(stored_name(document), "rb") as handle:
            content = handle.read(MAX_BYTES + 1)
    except Http404 as error:
        raise PreviewUnavailable("missing") from error
    except StorageUnavailable as error:
        logger.warning("preview: document %s could not be read from the storage: %s", document.pk, error)
        raise _StorageFailed from error
    if len(content) > MAX_BYTES:
        raise PreviewUnavailable("too_large")
    return content


def _checked_pdf(document: Document) -> bytes:
    """The stored PDF, checked again with the upload rules (a rule may be newer than the file)."""
    content = _read(document)
    named = io.BytesIO(content)
    named.name = "piece.pdf"
    try:
        validate_upload(named, max_bytes=MAX_BYTES, max_pages=MAX_PDF_PAGES)
    except ValidationError as error:
        reason = " ".join(str(message) for message in error.messages)
        raise PreviewUnavailable("refused", reason.rstrip(".")) from error
    return content


def _page_counts(checked: list[tuple[Document, bytes]]) -> dict[Document, int | str]:
    """The number of pages of each checked PDF, or the code saying why it has none: one child for them all; if that
    child stops at a limit or fails, one child per file, so that one costly file does not cost the others."""
    if not checked:
        return {}
    try:
        output = _run_child(b"".join(content for _, content in checked), "count", *(str(len(c)) for _, c in checked))
    except PreviewUnavailable as error:
        if len(checked) == 1:
            return {checked[0][0]: error.code}
        counts: dict[Document, int | str] = {}
        for one in checked:
            counts.update(_page_counts([one]))
        return counts
    lines = output.decode("ascii", "replace").split("\n")
    if len(lines) != len(checked):
        logger.error("preview: the PDFium child counted %s files of %s", len(lines), len(checked))
        return dict.fromkeys((document for document, _ in checked), "failed")
    return {
        document: int(line) if line.isdigit() and int(line) > 0 else "unreadable"
        for (document, _), line in zip(checked, lines, strict=True)
    }


def _run_child(content: bytes, *arguments: str) -> bytes:
    """Run PDFium on ``content`` in a child process under the preview's limits; its standard output, or
    ``PreviewUnavailable``:

    - "too_costly" (remembered by content) only when the file itself used up the child's CPU seconds (the kernel's
      SIGXCPU) or its address space (``TOO_COSTLY``): the same bytes would again;
    - "failed" (not remembered) when the child ran out of wall-clock time (a busy machine can take that long for an
      ordinary file), was killed (the kernel's out-of-memory killer), crashed, or could not start;
    - "unreadable" when PDFium says the file or page cannot be read.
    """
    limit = max(1, int(settings.PREVIEW_TIME_LIMIT))
    command = [*CHILD, f"--cpu-seconds={limit}", f"--memory-mb={settings.PREVIEW_MEMORY_LIMIT_MB}", *arguments]
    wall_clock = WALL_CLOCK_PER_CPU_SECOND * limit + 2
    try:
        # On the timeout, subprocess.run kills the child and waits for it: no process is left behind.
        finished = subprocess.run(command, input=content, capture_output=True, timeout=wall_clock, check=False)  # noqa: S603
    except subprocess.TimeoutExpired as error:
        logger.warning("preview: PDFium child still running after %s s of wall clock (%s)", wall_clock, arguments)
        raise PreviewUnavailable("failed") from error
    except OSError as error:  # the interpreter cannot be started (no memory, no process left)
        logger.error("preview: the PDFium child could not start: %s", error)
        raise PreviewUnavailable("failed") from error
    status = finished.returncode
    if status == 0:
        return finished.stdout
    if status == pdf_raster.UNREADABLE:
        raise PreviewUnavailable("unreadable")
    detail = finished.stderr[-500:].decode("utf-8", "replace")
    if status in (pdf_raster.TOO_COSTLY, -signal.SIGXCPU):
        logger.warning("preview: PDFium stopped at a limit (%s, %s): %s", status, " ".join(arguments), detail)
        raise PreviewUnavailable("too_costly")
    if status < 0:  # killed (out-of-memory killer) or crashed (SIGSEGV, SIGABRT, often an allocation refused)
        logger.warning("preview: the PDFium child died of signal %s (%s): %s", -status, " ".join(arguments), detail)
        raise PreviewUnavailable("failed")
    logger.error("preview: the PDFium child failed (%s, %s): %s", status, " ".join(arguments), detail)
    raise PreviewUnavailable("failed")


def _decode_image(content: bytes) -> Image.Image:
    try:
        image = Image.open(io.BytesIO(content))
        if image.width * image.height > MAX_IMAGE_PIXELS:
            raise PreviewUnavailable("too_large")
        image.draft("RGB", (MAX_SIDE, MAX_SIDE))  # a JPEG decodes already reduced
        image.load()
    except PreviewUnavailable:
        raise
    except Exception as error:  # a damaged image can make the decoder raise anything  # noqa: BLE001
        raise PreviewUnavailable("unreadable") from error
    image.thumbnail((MAX_SIDE, MAX_SIDE))
    return image


def _png(image: Image.Image) -> bytes:
    if image.mode not in ("RGB", "RGBA", "L", "LA"):
        image = image.convert("RGBA" if "A" in image.getbands() else "RGB")
    output = io.BytesIO()
    # Level 1: a noisy A4 scan at 1600 px is encoded in 0.35 s instead of 1.4 s at level 6, for the same size.
    image.save(output, format="PNG", compress_level=1)
    return output.getvalue()
