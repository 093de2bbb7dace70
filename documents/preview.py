"""Staff preview of a stored piece as PNG images rendered by the server (issue 11).

A candidate's file never reaches the browser as itself: a PDF is checked again with the upload rules
(``documents.validation``: no JavaScript, no launch or external action, no embedded file, not truncated or padded)
and its pages are rasterised by PDFium (pypdfium2) without its form environment, so no script can run even
inside the renderer; an image is decoded by Pillow within the upload pixel budget and re-encoded. What the
browser receives is a PNG we wrote.

Bounds: at most ``MAX_PAGES`` pages are offered, each rendered at most ``MAX_SIDE`` pixels on its long side
(``MAX_SIDE``² pixels, 7.7 MB of RGB at most); a stored file larger than ``MAX_BYTES`` is not previewed.
PDFium is not thread-safe: one render at a time per process.

``preview_info`` says how many pages can be shown, or why none can (a French message on the page instead of a
broken image); the answer is cached per file content (SHA-256), so the reading page opens a PDF once per
document, not per view.
"""

from __future__ import annotations

import contextlib
import io
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import pypdfium2 as pdfium
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.utils.translation import gettext_lazy as _
from PIL import Image

from documents.models import Document
from documents.storage import stored_name
from documents.validation import JPEG, MAX_IMAGE_PIXELS, PDF, PNG, validate_upload

logger = logging.getLogger(__name__)

PREVIEWABLE = frozenset({PDF, JPEG, PNG})
MAX_PAGES = 10
MAX_SIDE = 1600  # px: an A4 page at about 190 dpi, enough to read a transcript
MAX_BYTES = 20 * 1024 * 1024  # above the upload limit (files stored under an older limit), below a worker's patience
CACHE_TIMEOUT = 30 * 24 * 3600
_CACHE_VERSION = "v1"
_PDFIUM_LOCK = threading.Lock()

MESSAGES = {
    "too_large": _("No preview: the file is too large to be shown here; download it."),
    "refused": _("No preview: this PDF does not pass the upload checks any more (%(reason)s); it is not shown here."),
    "unreadable": _("No preview: this file cannot be read (damaged or not a real PDF or image)."),
    "missing": _("No preview: the file is missing from the storage."),
}


class PreviewUnavailable(Exception):  # noqa: N818 - reads as the sentence it stands for
    def __init__(self, code: str, reason: str = ""):
        super().__init__(code)
        self.code = code
        self.reason = reason

    @property
    def message(self) -> str:
        return str(MESSAGES[self.code]) % {"reason": self.reason} if self.reason else str(MESSAGES[self.code])


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
    """``{document.pk: PreviewInfo}`` for previewable documents; one cache round trip, files opened only for the
    PDFs never seen before (then cached by content)."""
    wanted = [document for document in documents if document.content_type in PREVIEWABLE]
    cached = cache.get_many([_cache_key(document) for document in wanted if document.content_type == PDF])
    infos: dict[int, PreviewInfo] = {}
    fresh: dict[str, tuple[int, str, str]] = {}
    for document in wanted:
        if document.content_type != PDF:
            infos[document.pk] = PreviewInfo(pages=1)  # decoded only when asked for
            continue
        key = _cache_key(document)
        if key in cached:
            infos[document.pk] = PreviewInfo(*cached[key])
            continue
        try:
            with _open_pdf(document) as pdf:
                info = PreviewInfo(pages=len(pdf))
        except PreviewUnavailable as error:
            info = PreviewInfo(code=error.code, reason=error.reason)
        infos[document.pk] = info
        if info.code != "missing":  # a missing file may come back (storage restored): do not remember it
            fresh[key] = (info.pages, info.code, info.reason)
    if fresh:
        cache.set_many(fresh, CACHE_TIMEOUT)
    return infos


def render_page(document: Document, page: int) -> bytes:
    """The PNG of ``page`` (1-based) of a PDF, or of the image; raise ``PreviewUnavailable``."""
    if document.content_type == PDF:
        if not 1 <= page <= MAX_PAGES:
            raise PreviewUnavailable("unreadable")
        with _open_pdf(document) as pdf:
            if page > len(pdf):
                raise PreviewUnavailable("unreadable")
            with _PDFIUM_LOCK:
                try:
                    pdf_page = pdf[page - 1]
                    width, height = pdf_page.get_size()
                    scale = min(MAX_SIDE / max(width, height, 1.0), 3.0)
                    bitmap = pdf_page.render(scale=scale, may_draw_forms=False, draw_annots=True)
                    image = bitmap.to_pil()
                    pdf_page.close()
                except pdfium.PdfiumError as error:
                    logger.info("preview of document %s page %s: %s", document.pk, page, error)
                    raise PreviewUnavailable("unreadable") from error
            return _png(image)
    if document.content_type in (JPEG, PNG) and page == 1:
        return _png(_decode_image(_read(document)))
    raise PreviewUnavailable("unreadable")


def _read(document: Document) -> bytes:
    if document.size > MAX_BYTES:
        raise PreviewUnavailable("too_large")
    try:
        with default_storage.open(stored_name(document), "rb") as handle:
            content = handle.read(MAX_BYTES + 1)
    except (FileNotFoundError, OSError) as error:
        raise PreviewUnavailable("missing") from error
    if len(content) > MAX_BYTES:
        raise PreviewUnavailable("too_large")
    return content


@contextlib.contextmanager
def _open_pdf(document: Document) -> Iterator[pdfium.PdfDocument]:
    """The stored PDF, checked again with the upload rules, opened by PDFium (closed on exit)."""
    content = _read(document)
    named = io.BytesIO(content)
    named.name = "piece.pdf"
    try:
        validate_upload(named, max_bytes=MAX_BYTES)
    except ValidationError as error:
        reason = " ".join(str(message) for message in error.messages)
        raise PreviewUnavailable("refused", reason.rstrip(".")) from error
    with _PDFIUM_LOCK:
        try:
            pdf = pdfium.PdfDocument(content)
        except pdfium.PdfiumError as error:
            raise PreviewUnavailable("unreadable") from error
    try:
        if len(pdf) < 1:
            raise PreviewUnavailable("unreadable")
        yield pdf
    finally:
        with _PDFIUM_LOCK:
            pdf.close()


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
