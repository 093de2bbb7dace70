"""Several photos of one document, merged into one PDF before it is stored (issue 13).

A candidate on a phone photographs each page of a document; the upload form accepts several JPEG or PNG files at
once (with or without JavaScript) and ``merge_photos`` makes them the pages of one PDF, in the order given. Each
photo goes through ``validate_upload`` first (size, extension, magic bytes, pixel budget, re-encoding that drops
EXIF and any appended payload), so a hostile image is refused exactly as when it is sent alone. The PDF that comes
out is then stored through the normal path (``documents.services.store_upload``): its size limit, the PDF checks
and the antivirus apply to it unchanged.

Limits: at most ``MAX_PAGES`` photos, and ``MAX_TOTAL_PIXELS`` over all of them (the pages are held decoded while
the PDF is written: 40 Mpx in RGB is 120 MB at most); each photo ``MAX_SIDE`` pixels wide and high at most, what
Pillow writes into a PDF page (as a JPEG). Pillow failing to write the PDF all the same is a refusal (``corrupt``),
not a 500.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import IO, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils.formats import number_format
from django.utils.translation import gettext_lazy
from PIL import Image

from documents.validation import (
    ALLOWED_EXTENSIONS,
    MAX_IMAGE_PIXELS,
    PDF,
    format_size_lazy,
    sanitize_filename,
    to_eight_bits,
    validate_upload,
)
from documents.validation import MESSAGES as FILE_MESSAGES

MAX_PAGES = 10
MAX_TOTAL_PIXELS = 40_000_000
# Pillow writes each page of the PDF as a JPEG, whose sides are 65,500 pixels at most. A 1 x 65,536 strip is within
# validate_upload's pixel budget (and stored as it is when sent alone); merged, Pillow's writer raised OSError, a 500.
MAX_SIDE = 65_500
# A4 width in inches: the widest photo is laid out at that width (at 72 dpi at least: a small photo is not blown up),
# the others at the same resolution.
A4_WIDTH_INCHES = 8.27
PDF_JPEG_QUALITY = 85

MESSAGES = {
    "not_photos": gettext_lazy(
        "To send several files, choose only photos (JPEG or PNG): they will be put together in one PDF. "
        "Nothing was saved."
    ),
    "too_many_pages": gettext_lazy(
        "At most %(max)s photos can be put together in one PDF. Nothing was saved: choose fewer photos, or send a "
        "PDF of the document."
    ),
    "too_many_pixels": gettext_lazy(
        "Together, the photos are too large (%(pixels)s million pixels at most): reduce their resolution. Nothing "
        "was saved."
    ),
    "too_large": gettext_lazy(
        "Put together, the photos make a PDF larger than %(max)s. Nothing was saved: send fewer photos, or photos "
        "of a lower resolution."
    ),
    "page": gettext_lazy("Photo %(number)s: %(message)s"),
    "too_long": gettext_lazy(
        "The image is too long or too wide to be put in a PDF (%(max)s pixels on a side at most): crop it, or send "
        "it on its own."
    ),
}


def merge_photos(files: Sequence[IO[bytes]], *, max_bytes: int | None = None) -> SimpleUploadedFile:
    """Return one PDF, one page per photo in the order given, named after the first photo; or raise
    ``ValidationError`` (``not_photos``, ``too_many_pages``, ``too_many_pixels``, ``too_large`` for a PDF over
    ``max_bytes`` (default ``settings.UPLOAD_MAX_BYTES``), ``corrupt`` when Pillow cannot write the PDF, or a
    photo's own refusal, prefixed with its number: ``validate_upload``'s, or ``too_long`` for a side over
    ``MAX_SIDE``).
    Nothing is read before the names and the count are checked."""
    if not files:
        raise _error("not_photos")
    if len(files) > MAX_PAGES:
        raise _error("too_many_pages", max=MAX_PAGES)
    names = [sanitize_filename(getattr(file, "name", "") or "") for file in files]
    if any(_content_type(name) in {None, PDF} for name in names):
        raise _error("not_photos")
    pages: list[bytes] = []
    total_pixels = 0
    for number, file in enumerate(files, start=1):
        try:
            validated = validate_upload(file, max_bytes=max_bytes)
        except ValidationError as error:
            raise _photo_error(number, error) from error
        if validated.content_type == PDF:  # The extension said image; the checks above refuse a mismatch anyway.
            raise _error("not_photos")
        with Image.open(io.BytesIO(validated.content)) as probe:
            width, height = probe.size
        if max(width, height) > MAX_SIDE:
            raise _photo_error(number, _error("too_long", max=number_format(MAX_SIDE, 0, force_grouping=True)))
        total_pixels += width * height
        if total_pixels > MAX_TOTAL_PIXELS:
            raise _error("too_many_pixels", pixels=number_format(MAX_TOTAL_PIXELS / 1_000_000, 0))
        pages.append(validated.content)
    try:
        pdf = _write_pdf(pages)
    except (OSError, ValueError) as error:  # a limit of Pillow's writer that the checks above do not know
        raise ValidationError(FILE_MESSAGES["corrupt"], code="corrupt") from error
    limit = settings.UPLOAD_MAX_BYTES if max_bytes is None else max_bytes
    if len(pdf) > limit:  # validate_upload would refuse it too, with a message about one file
        raise _error("too_large", max=format_size_lazy(limit))
    stem = names[0].rpartition(".")[0] or "document"
    return SimpleUploadedFile(stem + ".pdf", pdf, content_type=PDF)


def _content_type(name: str) -> str | None:
    _, dot, ext = name.rpartition(".")
    allowed = ALLOWED_EXTENSIONS.get("." + ext.lower()) if dot else None
    return allowed[0] if allowed else None


def _write_pdf(pages: Sequence[bytes]) -> bytes:
    """The pages (validated, re-encoded images within ``MAX_IMAGE_PIXELS`` each) as one PDF written by Pillow."""
    images = [_page(content) for content in pages]
    widest = max(image.width for image in images)
    output = io.BytesIO()
    first, *rest = images
    try:
        first.save(
            output,
            "PDF",
            save_all=True,
            append_images=rest,
            resolution=max(72.0, widest / A4_WIDTH_INCHES),
            quality=PDF_JPEG_QUALITY,
        )
    finally:
        for image in images:
            image.close()
    return output.getvalue()


def _page(content: bytes) -> Image.Image:
    """One decoded page in a mode Pillow writes as a plain PDF image: RGB, L or CMYK (transparency on white)."""
    with Image.open(io.BytesIO(content)) as opened:
        opened.load()
        # A 16-bit grey scan is scaled to 8 bits first: ``convert("RGB")`` clips it at 255, the page came out white.
        eight_bits = to_eight_bits(opened)
        image: Image.Image = opened.copy() if eight_bits is opened else eight_bits
    assert image.width * image.height <= MAX_IMAGE_PIXELS  # validate_upload checked it
    if image.mode in {"RGB", "L", "CMYK"}:
        return image
    if image.mode in {"RGBA", "LA"} or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, "white")
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")


def _error(code: str, **params: Any) -> ValidationError:
    return ValidationError(MESSAGES[code], code=code, params=params or None)


def _photo_error(number: int, error: ValidationError) -> ValidationError:
    """A photo's refusal, after its number in the set (« Photo 2 : … »), with its code."""
    message = " ".join(error.messages)
    return ValidationError(
        MESSAGES["page"], code=error.error_list[0].code, params={"number": number, "message": message}
    )
