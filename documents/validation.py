"""Validation of uploaded supporting documents (security reference A.3, house style §8).

``validate_upload`` runs the checks in a fixed order so that cheap rejections happen first:

1. size (``empty``, ``too_large``), reading at most ``max_bytes + 1`` bytes;
2. extension allow-list (``extension``);
3. magic bytes against the extension's type (``content_mismatch``);
4. full parse: pypdf for PDF (``corrupt``, ``trailing_data``, ``encrypted``, ``too_many_objects``, ``too_many_pages``;
   each page's size, resources and content, decoded within a budget, as the dossier PDF needs them; then one code per
   kind of active content: ``pdf_javascript``, ``pdf_launch``, ``pdf_external_action``, ``pdf_embedded_file``,
   ``pdf_rich_media``, ``pdf_xfa``, and ``active_content`` for a script token the object walk cannot see); Pillow
   for images (``too_many_pixels`` from the header, before any pixel is decoded; ``corrupt``, a JPEG of more than
   ``MAX_JPEG_SCANS`` scans included, refused before decoding too). Images are decoded and
   re-encoded, which strips EXIF (GPS) and any payload appended after the image data (polyglots).

A PDF encrypted with an empty user password (it opens without a password anywhere: its author only restricted
printing, copying or editing, as many attestations and transcripts are) is accepted, read with that empty password
(``open_pdf``; pypdf's ``PdfReader`` tries it by itself, which the dossier PDF relies on); one that needs a password
is refused (``encrypted``).

PDFs are refused, never rewritten: what is stored is byte for byte what the candidate sent (a signed attestation
stays verifiable, the SHA-256 is the candidate's file), and nothing depends on a rewrite having found every path
to an action. The refusal says what was found and how to get a clean file (print it again to PDF).

The antivirus scan is not part of this module: it runs asynchronously after commit (see ``documents.antivirus``).
Every failure raises ``django.core.exceptions.ValidationError`` with a distinct ``code`` and a user-facing message.
"""

from __future__ import annotations

import hashlib
import io
import re
import unicodedata
import zlib
from dataclasses import dataclass
from typing import IO, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.formats import number_format
from django.utils.functional import lazy
from django.utils.translation import gettext, gettext_lazy
from PIL import Image, ImageOps
from pypdf import PasswordType, PdfReader, apply_configuration, get_configuration
from pypdf.errors import LimitReachedError
from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject, NameObject, StreamObject

PDF = "application/pdf"
JPEG = "image/jpeg"
PNG = "image/png"

# Extension (lower case) -> (content type, canonical extension).
ALLOWED_EXTENSIONS: dict[str, tuple[str, str]] = {
    ".pdf": (PDF, ".pdf"),
    ".jpg": (JPEG, ".jpg"),
    ".jpeg": (JPEG, ".jpg"),
    ".png": (PNG, ".png"),
}

# Pixel budget of an image piece (ASVS 5.0 5.2.6, pixel flood), checked from the header before any pixel is
# decoded. 16 Mpx holds every image that honestly fits the 2 MB limit: an A4 scan at 300 dpi is 8.7 Mpx (2480 x
# 3508), at 400 dpi 15.6 Mpx, a 16 MP phone photo 4608 x 3456 = 15.9 Mpx (and already weighs more than 2 MB as a
# JPEG). Decoding at most 16 Mpx costs at most 64 MB (RGBA) and a fraction of a second; the former 40 Mpx cap let
# a 657-byte JPEG or a 130 KB PNG cost 160 MB each. Pillow's own, larger guard (MAX_IMAGE_PIXELS, ~89.5 Mpx) is
# left alone: ours comes first.
MAX_IMAGE_PIXELS = 16_000_000

# A progressive JPEG is decoded scan by scan, each going over every block of the image: a few bytes of scan cost a
# pass over 16 Mpx (about 33 ms). Encoders write 1 scan (baseline) to about 10 (libjpeg's progressive script; a
# phone's multi-picture JPEG twice that, plus one per thumbnail); 5,000 repeated scans in a 249 KB JPEG of 16 Mpx
# held an upload for 128 s. Above this many start-of-scan markers (counted on the raw bytes, metadata included: an
# overcount can only refuse), the image is refused as damaged before any decoding; at the cap, a 16 Mpx JPEG costs
# about 1.7 s (0.5 s with its 10 scans).
MAX_JPEG_SCANS = 50
JPEG_START_OF_SCAN = b"\xff\xda"

# Indirect objects of a PDF piece, counted from its cross-reference data (the xref table or streams, and the objects
# they put in object streams) right after it is opened, before any page or object is parsed. Each object costs the
# upload check about 20-30 us and each dossier PDF holding the piece about 40 us: 65,000 tiny objects compressed in
# 600 KB took 1.1 s to check and 1.9 s in every dossier PDF, and a 2 MB file holds 200,000 of them. Honest files
# hold far fewer (bench/bench_pdf_objects.py): a 300-page thesis written by fpdf2 1,206 objects, a 20-page tagged
# scan 106, a 36-page LaTeX manual 440; the densest found, a tagged (accessible) PDF printed by Chromium, 6,300 to
# 6,700 per MB, so about 14,000 in the 2 MB an upload may weigh. 50,000 leaves more than three times that; the
# dearest file accepted costs about 1-1.5 s to check and 2 s in a dossier PDF. Above it: ``too_many_objects``.
MAX_PDF_OBJECTS = 50_000
# An object the cross-reference data does not list is looked for by pypdf in the whole file (a search of up to 2 MB
# each): a damaged but honest file may miss a few, a file missing thousands is refused as damaged.
MAX_UNLISTED_PDF_OBJECTS = 100
# Items (objects, and the dictionaries, arrays and values inside them) the walk visits at most (refused as damaged).
MAX_PDF_WALK_ITEMS = 500_000
# Page content (each page's drawing operators) is decoded at upload, as the dossier PDF decodes a page to lay its
# header line on it; pypdf's decoders are not written for hostile input, so what decoding may cost is bounded first.
# Decoded bytes, all pages: honest files decode to a few times their weight (text and vector drawing compress 3 to 6
# times: a 2 MB upload, about 10 MB), scans to almost nothing; 32 MiB is 16 times the 2 MB an upload may weigh.
# pypdf's caps on one stream's output (75 MB) are lowered to it while pages are decoded, so the check holds at most
# about twice this much (what earlier pages left in pypdf's cache, then one more page): 30 Flate bombs of 30 MB in
# 880 KB are refused in 0.25 s, 93 MB at the peak; one of 200 MB in 190 KB in 0.15 s.
MAX_PDF_CONTENT_BYTES = 32 * 1024 * 1024
# pypdf decodes ASCII85 (about 1 us a byte), LZW (2.4 us) and RunLength data in Python: 1.9 MB of LZW took 4.5 s. At
# most this many bytes go through them (an old file whose pages are LZW-encoded: some 200 pages of text): 0.85 s for
# 500 KB of LZW codes of one byte each, the dearest kind.
MAX_PDF_SLOW_DECODING_BYTES = 512 * 1024
SLOW_FILTERS = frozenset({"/ASCII85Decode", "/A85", "/LZWDecode", "/LZW", "/RunLengthDecode", "/RL"})
# The filters whose output is bounded by their input (ASCII85's "z" is 4 bytes): only these may come before another
# filter. Writers put at most an ASCII encoding before the compression; a decompression feeding another decoder would
# give it up to MAX_PDF_CONTENT_BYTES of input to chew on.
BOUNDED_FILTERS = {"/ASCIIHexDecode": 1, "/AHx": 1, "/ASCII85Decode": 4, "/A85": 4}
# A page's resources that pypdf merges another page's into (the dossier's header line, its font): each must be a
# dictionary (/ProcSet an array) for the merge not to raise. A reader cannot use them otherwise either.
RESOURCE_DICTIONARIES = ("/ExtGState", "/ColorSpace", "/Pattern", "/Shading", "/XObject", "/Font", "/Properties")

MAX_NAME_LENGTH = 100
# What a file name keeps of what it was sent with: no control, format, surrogate, private-use or line-separator
# character (NUL, U+202E "ABC\u202eFDP.EXE" reading "ABCEXE.PDF"), except the zero-width non-joiner and joiner that
# a Persian or an Indic name needs to be spelt right. The name of a file sent with nothing before its extension.
DROPPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Zl", "Zp"})
KEPT_FORMAT_CHARACTERS = frozenset({"\u200c", "\u200d"})
UNNAMED = "document"
READ_CHUNK = 64 * 1024

# What the object walk refuses, by refusal code: action types (/S), keys whose mere presence is enough, and
# /Type or /Subtype values. Every action that runs something or leaves the document is here, wherever it hangs
# (catalog /OpenAction and /AA, page /AA, annotations and their /A, form fields and their kids, outline items,
# /Names trees, /Next chains): the walk visits every object reachable from the trailer.
EXTERNAL_ACTIONS = frozenset({"/URI", "/SubmitForm", "/ImportData", "/GoToR", "/GoToE"})
ACTION_CODES = {
    "/JavaScript": "pdf_javascript",
    "/Launch": "pdf_launch",
    "/RichMediaExecute": "pdf_rich_media",
    **dict.fromkeys(EXTERNAL_ACTIONS, "pdf_external_action"),
}
KEY_CODES = {
    "/JS": "pdf_javascript",
    "/JavaScript": "pdf_javascript",  # the /Names tree of document-level scripts
    "/EmbeddedFiles": "pdf_embedded_file",
    "/EmbeddedFile": "pdf_embedded_file",
    "/EF": "pdf_embedded_file",  # a file specification carrying the file itself, wherever it hangs
    "/RichMedia": "pdf_rich_media",
    "/RichMediaContent": "pdf_rich_media",
    "/XFA": "pdf_xfa",
}
TYPE_CODES = {"/EmbeddedFile": "pdf_embedded_file"}
SUBTYPE_CODES = {"/FileAttachment": "pdf_embedded_file", "/RichMedia": "pdf_rich_media"}
# Bytes tolerated after the last %%EOF: line ends, spaces and NUL padding that some writers leave, nothing else.
EOF_TOLERANCE = 1024
EOF_PADDING = b"\r\n\t\f \x00"
# A ZIP archive ends with this record, then its comment: a PDF+ZIP polyglot may end its comment with %%EOF.
ZIP_END_RECORD = b"PK\x05\x06"
# Defence in depth on the raw bytes: a PDF name ends at a delimiter or white space. Misses names hidden in
# compressed object streams or written with #xx escapes; the object walk sees those.
RAW_ACTIVE_TOKENS = re.compile(rb"/(?:JavaScript|JS|Launch|EmbeddedFiles?|RichMedia)(?=[\s/<>\[\]()%{}]|\Z)")

MESSAGES = {
    "empty": gettext_lazy("The file is empty."),
    # How to get under the limit, as the upload script says (its photo reduction needs JavaScript, and the server's
    # refusal is all a candidate without it reads).
    "too_large": gettext_lazy(
        "The file exceeds the maximum allowed size (%(max)s): reduce it (for a PDF, print it again to PDF or scan "
        "it at a lower resolution; for a photo, take it again at a lower resolution), then send it again."
    ),
    "extension": gettext_lazy("File format not accepted: upload a PDF, JPEG or PNG file."),
    "content_mismatch": gettext_lazy("The file content does not match its extension."),
    "corrupt": gettext_lazy("The file is unreadable or damaged."),
    "encrypted": gettext_lazy("The PDF file is password-protected: upload an unencrypted version."),
    "too_many_objects": gettext_lazy(
        "The PDF file is too complex to be checked (it is made of too many parts): print it again as a new PDF "
        "file (Print, then Save as PDF), or split it, and upload that one."
    ),
    "too_many_pages": gettext_lazy(
        "The PDF file has too many pages (%(pages)s at most): upload only the pages asked for, or split the document."
    ),
    "active_content": gettext_lazy(
        "The PDF file contains active content (JavaScript, actions or attached files) and cannot be accepted."
    ),
    "trailing_data": gettext_lazy(
        "The PDF file carries other data after its end (another file may be hidden in it): save or print it again "
        "as a new PDF file and upload that one."
    ),
    "pdf_javascript": gettext_lazy(
        "The PDF file contains JavaScript and cannot be accepted: print it again as a new PDF file "
        "(Print, then Save as PDF) and upload that one."
    ),
    "pdf_launch": gettext_lazy(
        "The PDF file contains an action that launches a program and cannot be accepted: print it again as a new "
        "PDF file (Print, then Save as PDF) and upload that one."
    ),
    "pdf_external_action": gettext_lazy(
        "The PDF file contains links or actions that open a web address or another file, or send a form: print it "
        "again as a new PDF file (Print, then Save as PDF) and upload that one."
    ),
    "pdf_embedded_file": gettext_lazy(
        "The PDF file contains attached files and cannot be accepted: upload each document as its own file."
    ),
    "pdf_rich_media": gettext_lazy(
        "The PDF file contains multimedia content (video, sound or Flash) and cannot be accepted: print it again "
        "as a new PDF file (Print, then Save as PDF) and upload that one."
    ),
    "pdf_xfa": gettext_lazy(
        "The PDF file is a dynamic (XFA) form and cannot be accepted: fill it in, then print it as a new PDF file "
        "(Print, then Save as PDF) and upload that one."
    ),
    "too_many_pixels": gettext_lazy(
        "The image is too large (%(pixels)s million pixels at most): reduce its resolution, for example to 300 dpi "
        "for a scanned page."
    ),
}


@dataclass(frozen=True)
class ValidatedUpload:
    """A file that passed every check, ready to be stored under a generated name.

    ``content`` is what must be stored: the uploaded bytes for a PDF, the re-encoded bytes for an image.
    ``size`` and ``sha256`` describe ``content``.
    """

    content: bytes
    content_type: str
    extension: str
    size: int
    sha256: str
    original_name: str


def format_size(num_bytes: int) -> str:
    """Return a short human size in the active language: "2 MB" / "2 Mo", "512 KB" / "512 Ko"."""
    if num_bytes >= 1024 * 1024:
        value, unit = num_bytes / (1024 * 1024), gettext("%(size)s MB")
    elif num_bytes >= 1024:
        value, unit = num_bytes / 1024, gettext("%(size)s KB")
    else:
        return gettext("%(size)s bytes") % {"size": num_bytes}
    rounded = round(value, 1)
    decimals = 0 if rounded == int(rounded) else 1
    return unit % {"size": number_format(rounded, decimals)}


format_size_lazy = lazy(format_size, str)


def describe_constraints(max_bytes: int | None = None) -> str:
    """Return the accepted formats and size limit for a help text, e.g. "PDF, JPEG or PNG, 2 MB maximum"."""
    limit = _max_bytes(max_bytes)
    return gettext("PDF, JPEG or PNG, %(max)s maximum") % {"max": format_size(limit)}


def sanitize_filename(name: str) -> str:
    """Return ``name`` reduced to a safe display name, kept only as metadata.

    Keeps the base name (after the last ``/`` or ``\\``), removes control and format characters (NUL, bidi
    overrides such as U+202E; not the zero-width joiners that Persian or Indic names need), normalises to NFC,
    strips leading dots and surrounding spaces from the name before its extension, and truncates to
    ``MAX_NAME_LENGTH`` characters while keeping the extension. A name with nothing before its extension (``.pdf``,
    ``...pdf``: a hidden file, or a forged name) becomes ``document.pdf``, so that the extension is still read.
    """
    name = unicodedata.normalize("NFC", name or "")
    name = re.split(r"[/\\]", name)[-1]
    name = "".join(
        ch for ch in name if ch in KEPT_FORMAT_CHARACTERS or unicodedata.category(ch) not in DROPPED_CATEGORIES
    )
    name = name.strip()
    stem, dot, ext = name.rpartition(".")
    if not dot or len(ext) > 10 or not ext.strip():
        stem, ext_with_dot = name, ""
    else:
        ext_with_dot = "." + ext.strip()
    stem = stem.strip().lstrip(".").strip()
    if not stem and ext_with_dot:
        stem = UNNAMED
    stem = stem[: MAX_NAME_LENGTH - len(ext_with_dot)].rstrip()
    return stem + ext_with_dot if stem else ""


def validate_upload(
    uploaded_file: IO[bytes], *, max_bytes: int | None = None, max_pages: int | None = None
) -> ValidatedUpload:
    """Check an uploaded file and return what to store, or raise ``ValidationError`` (codes in ``MESSAGES``).

    ``uploaded_file`` is a Django ``UploadedFile`` (or any binary file object with a ``name``). ``max_bytes``
    defaults to ``settings.UPLOAD_MAX_BYTES``: a file of exactly ``max_bytes`` is accepted, one byte more is not.
    The stream is read from its start and never beyond ``max_bytes + 1`` bytes. ``max_pages`` (a PDF's pages)
    defaults to ``settings.UPLOAD_MAX_PDF_PAGES``, inclusive as well.
    """
    limit = _max_bytes(max_bytes)
    declared = getattr(uploaded_file, "size", None)
    if isinstance(declared, int) and declared > limit:
        # Django's UploadedFile knows its size: refuse without reading anything.
        raise _error("too_large", max=format_size_lazy(limit))
    content = _read_bounded(uploaded_file, limit)
    if not content:
        raise _error("empty")
    if len(content) > limit:
        raise _error("too_large", max=format_size_lazy(limit))

    original_name = sanitize_filename(getattr(uploaded_file, "name", "") or "")
    _, dot, ext = original_name.rpartition(".")
    allowed = ALLOWED_EXTENSIONS.get("." + ext.lower()) if dot else None
    if allowed is None:
        raise _error("extension")
    content_type, extension = allowed

    if _sniff(content) != content_type:
        raise _error("content_mismatch")

    if content_type == PDF:
        _check_pdf(content, settings.UPLOAD_MAX_PDF_PAGES if max_pages is None else max_pages)
    else:
        content = _reencode_image(content, content_type)

    return ValidatedUpload(
        content=content,
        content_type=content_type,
        extension=extension,
        size=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        original_name=original_name,
    )


def _max_bytes(max_bytes: int | None) -> int:
    return settings.UPLOAD_MAX_BYTES if max_bytes is None else max_bytes


def _error(code: str, **params: Any) -> ValidationError:
    return ValidationError(MESSAGES[code], code=code, params=params or None)


def _read_bounded(uploaded_file: IO[bytes], limit: int) -> bytes:
    """Read at most ``limit + 1`` bytes: enough to tell "too large" without reading a huge stream."""
    if hasattr(uploaded_file, "seek"):
        uploaded_file.seek(0)
    buffer = bytearray()
    while len(buffer) <= limit:
        chunk = uploaded_file.read(min(READ_CHUNK, limit + 1 - len(buffer)))
        if not chunk:
            break
        buffer += chunk
    return bytes(buffer)


def _sniff(content: bytes) -> str | None:
    """Return the content type given by the leading bytes (strict: PDF header at offset 0)."""
    if content.startswith(b"%PDF-"):
        return PDF
    if content.startswith(b"\xff\xd8\xff"):
        return JPEG
    if content.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    return None


class PasswordRequired(Exception):
    """The PDF is encrypted and does not open with the empty user password."""


def open_pdf(stream: IO[bytes]) -> PdfReader:
    """A ``PdfReader`` on ``stream``; an encrypted file is decrypted with the empty user password, which is how any
    PDF reader opens a file whose author only set restrictions (printing, copying, editing). Raises
    ``PasswordRequired`` when that is not enough, and whatever pypdf raises on a damaged file."""
    reader = PdfReader(stream, strict=False)
    if reader.is_encrypted and reader.decrypt("") == PasswordType.NOT_DECRYPTED:
        reader.close()
        raise PasswordRequired
    return reader


def _check_pdf(content: bytes, max_pages: int) -> None:
    """Parse the PDF with pypdf and refuse truncated, padded, password-protected, too long or active documents."""
    _check_pdf_end(content)
    # Both closed on the way out, refused or not: pypdf's parsed objects point back at their reader, and that cycle
    # kept the file (its buffer and its streams' data, megabytes for a scan) alive until the next full collection,
    # which a busy web worker runs seldom: +25 MiB per worker after ~45 uploads each (bench/rush, issue 14).
    with io.BytesIO(content) as stream:
        try:
            reader = open_pdf(stream)
        except PasswordRequired as exc:
            raise _error("encrypted") from exc
        except Exception as exc:  # A hostile file can make any parser raise anything.
            raise _error("corrupt") from exc
        with reader:
            code = _inspect_pdf(reader, max_pages)
    if code:
        raise _error(code)
    if RAW_ACTIVE_TOKENS.search(content):
        raise _error("active_content")


def _inspect_pdf(reader: PdfReader, max_pages: int) -> str | None:
    """The checks that need the parsed file: object and page counts, pages; the active content's code, if any."""
    try:
        _check_object_count(reader)
        _check_page_count(reader, max_pages)
        _check_pages(reader)
        return _active_content(reader)
    except ValidationError:
        raise
    except Exception as exc:
        raise _error("corrupt") from exc


def _check_pages(reader: PdfReader) -> None:
    """Refuse a page the dossier PDF cannot lay its header line on (``corrupt``): one without a readable size (no
    /MediaBox, or not four numbers), one whose content does not decode (a filter no reader knows, broken ASCII85
    data, a Flate predictor of 0 columns) or whose resources are not dictionaries (/Font 7). The object walk decodes
    no stream: such files passed it, then made every dossier PDF of their application a 500 and failed the
    commission's packs (found by review).

    What decoding costs is bounded before pypdf decodes (``_decoding_cost``), and while it does: content decoding to
    more than ``MAX_PDF_CONTENT_BYTES`` in all, or feeding more than ``MAX_PDF_SLOW_DECODING_BYTES`` to the decoders
    written in Python, is refused as too complex (``too_many_objects``); Flate data pypdf would have to recover byte
    by byte (52 s for 1.9 MB) as damaged. A content stream shared by several pages is decoded once.
    """
    decoded = slow = 0
    costed: set[int] = set()
    shared: set[tuple[int, int]] = set()
    with apply_configuration(
        zlib_maximum_output_length=MAX_PDF_CONTENT_BYTES,
        lzw_maximum_output_length=MAX_PDF_CONTENT_BYTES,
        run_length_maximum_output_length=MAX_PDF_CONTENT_BYTES,
        brotli_maximum_output_length=MAX_PDF_CONTENT_BYTES,
        array_based_stream_maximum_output_length=MAX_PDF_CONTENT_BYTES,
        zlib_maximum_recovery_input_length=0,
    ):
        for page in reader.pages:
            page.mediabox.width  # noqa: B018 - pypdf raises here
            _check_resources(page)
            reference = page.raw_get("/Contents") if "/Contents" in page else None
            if isinstance(reference, IndirectObject):
                if (reference.idnum, reference.generation) in shared:
                    continue
                shared.add((reference.idnum, reference.generation))
            for stream in _content_streams(page):
                if id(stream) not in costed:
                    costed.add(id(stream))
                    slow += _decoding_cost(stream)
            if slow > MAX_PDF_SLOW_DECODING_BYTES:
                raise _error("too_many_objects")
            try:
                contents = page.get_contents()  # decodes every stream of the page's /Contents, as a merge does
                decoded += len(contents.get_data()) if contents is not None else 0
            except LimitReachedError as exc:
                # Over an output cap: too complex. Damaged Flate data pypdf was not let recover: damaged.
                raise _error("corrupt" if isinstance(exc.__cause__, zlib.error) else "too_many_objects") from exc
            if decoded > MAX_PDF_CONTENT_BYTES:
                raise _error("too_many_objects")


def _content_streams(page: Any) -> list[StreamObject]:
    """The streams of the page's /Contents (one, or an array of them), as pypdf concatenates them."""
    contents = page.get("/Contents")
    contents = contents.get_object() if contents is not None else None
    items = [item.get_object() for item in contents] if isinstance(contents, ArrayObject) else [contents]
    return [item for item in items if isinstance(item, StreamObject)]


def _decoding_cost(stream: StreamObject) -> int:
    """The bytes ``stream`` feeds to pypdf's decoders written in Python; raises (damaged) on a chain of filters whose
    later decoders would get more than a few times the stream's bytes (only an ASCII encoding may come before another
    filter), and on a Flate predictor (an image's row filter, undone byte by byte in Python: no writer puts one on a
    page's drawing operators)."""
    filters = stream.get("/Filter")
    filters = filters.get_object() if filters is not None else None
    names = list(filters) if isinstance(filters, ArrayObject) else [filters] if filters is not None else []
    parameters = stream.get("/DecodeParms")
    parameters = parameters.get_object() if parameters is not None else None
    for parameter in parameters if isinstance(parameters, ArrayObject) else [parameters]:
        parameter = parameter.get_object() if parameter is not None else None
        if isinstance(parameter, DictionaryObject) and parameter.get("/Predictor", 1) != 1:
            raise _error("corrupt")
    size: int | None = len(stream._data)  # the stream's bytes as stored (pypdf keeps no public name for them)
    cost = 0
    for name in names:
        if size is None:  # after a filter whose output is not bounded by its input
            raise _error("corrupt")
        if str(name) in SLOW_FILTERS:
            cost += size
        factor = BOUNDED_FILTERS.get(str(name))
        size = size * factor if factor is not None else None
    return cost


def _check_resources(page: Any) -> None:
    """Raise (refused as damaged) when one of the page's resources is not what pypdf merges into."""
    resources = page.get("/Resources")
    if resources is None:
        return
    resources = resources.get_object()
    if not isinstance(resources, DictionaryObject):
        raise _error("corrupt")
    for key in RESOURCE_DICTIONARIES:
        if key in resources and not isinstance(resources[key], DictionaryObject):
            raise _error("corrupt")
    if "/ProcSet" in resources and not isinstance(resources["/ProcSet"], ArrayObject):
        raise _error("corrupt")


def pdf_object_count(reader: PdfReader) -> int:
    """The indirect objects the PDF's cross-reference data lists: in use, plain or in object streams.

    Read from what ``PdfReader`` parsed when it opened the file (the xref tables or streams of every revision,
    already merged by object number), so counting parses nothing more. A file whose cross-reference data is lost is
    rebuilt by pypdf from the objects it finds in the file, which are then counted.
    """
    free = reader.xref_free_entry
    plain = sum(
        1
        for generation, numbers in reader.xref.items()
        for number in numbers
        if not free.get(generation, {}).get(number, False)
    )
    return plain + len(reader.xref_objStm)


def _check_object_count(reader: PdfReader) -> None:
    if pdf_object_count(reader) > MAX_PDF_OBJECTS:
        raise _error("too_many_objects")


def _check_page_count(reader: PdfReader, max_pages: int) -> None:
    """Refuse a PDF of more than ``max_pages`` pages (``too_many_pages``) or of none (``corrupt``).

    The page tree's root says how many pages it holds (/Count): reading it parses the catalog and the root node,
    not the pages, so a 15,000-page file is refused in a tenth of the time its pages take to parse. /Count may lie;
    the page tree is then walked with pypdf's entry limit lowered to twice ``max_pages`` (room for the intermediate
    nodes of any tree that branches), so a lying file costs at most that many parsed nodes before it is refused as
    damaged, and the pages actually found are counted against ``max_pages`` again.
    """
    declared = reader.root_object.get("/Pages")
    declared = declared.get_object() if isinstance(declared, IndirectObject) else declared
    count = declared.get("/Count") if isinstance(declared, DictionaryObject) else None
    if isinstance(count, int) and count > max_pages:
        raise _too_many_pages(max_pages)
    entries = min(2 * max_pages, get_configuration().page_tree_maximum_entries)
    with apply_configuration(page_tree_maximum_entries=entries):
        found = len(reader.pages)  # a limit reached raises: damaged, as a cyclic or too deep tree
    if found < 1:
        raise _error("corrupt")
    if found > max_pages:
        raise _too_many_pages(max_pages)


def _too_many_pages(max_pages: int) -> ValidationError:
    # Lazy, as the size in "too_large": the number is grouped in the language the message is shown in (1 000, 1,000).
    return _error("too_many_pages", pages=lazy(number_format, str)(max_pages, 0, force_grouping=True))


def _check_pdf_end(content: bytes) -> None:
    """Refuse a truncated PDF (``corrupt``) and one followed by other data (``trailing_data``).

    pypdf's non-strict mode silently rebuilds a truncated file, so a complete PDF must end with %%EOF. After the
    last one, only ``EOF_TOLERANCE`` bytes of padding are accepted. A PDF+ZIP polyglot whose archive comment ends
    with %%EOF passes that test, so the end of a ZIP archive at the very end of the file is refused too.
    """
    end = content.rfind(b"%%EOF")
    if end < 0:
        raise _error("corrupt")
    tail = content[end + len(b"%%EOF") :]
    if len(tail) > EOF_TOLERANCE or tail.strip(EOF_PADDING):
        raise _error("trailing_data")
    search_from = max(0, len(content) - 22 - 0xFFFF)  # the record is 22 bytes, its comment at most 65535
    record = content.rfind(ZIP_END_RECORD, search_from)
    while record >= 0:
        comment_length = int.from_bytes(content[record + 20 : record + 22], "little")
        if record + 22 + comment_length == len(content):
            raise _error("trailing_data")
        record = content.rfind(ZIP_END_RECORD, search_from, record)


def _active_content(reader: PdfReader) -> str | None:
    """Walk every object reachable from the trailer; return the refusal code of the first active thing found.

    This covers the catalog's /Names tree (/JavaScript, /EmbeddedFiles), /OpenAction and /AA, page and annotation
    /AA, annotations and their /A (Link, /FileAttachment, /RichMedia), /AcroForm fields and their kids (and /XFA),
    outline items, whether the objects sit in plain text or in compressed object streams. Stream data (page
    contents, images) is not decoded: only dictionaries matter.
    """
    stack: list[Any] = [reader.trailer]
    seen: set[tuple[int, int]] = set()
    visited = unlisted = 0
    while stack:
        obj = stack.pop()
        if isinstance(obj, IndirectObject):
            key = (obj.idnum, obj.generation)
            if key in seen:
                continue
            seen.add(key)
            if not _listed(reader, obj):
                unlisted += 1
                if unlisted > MAX_UNLISTED_PDF_OBJECTS:
                    raise _error("corrupt")
            obj = obj.get_object()
        visited += 1
        if visited > MAX_PDF_WALK_ITEMS:
            raise _error("corrupt")
        if isinstance(obj, DictionaryObject | StreamObject):
            code = _dangerous_dict(obj)
            if code:
                return code
            stack.extend(obj.values())
        elif isinstance(obj, ArrayObject):
            stack.extend(obj)
    return None


def _listed(reader: PdfReader, reference: IndirectObject) -> bool:
    """Whether the cross-reference data gives where ``reference`` is (else pypdf searches the whole file for it)."""
    if reference.generation == 0 and reference.idnum in reader.xref_objStm:
        return True
    return reference.idnum in reader.xref.get(reference.generation, {})


def _dangerous_dict(obj: DictionaryObject) -> str | None:
    """The refusal code for one dictionary: its action type, then its keys, then its /Type and /Subtype."""
    action = _name(obj, "/S")
    if action in ACTION_CODES:
        return ACTION_CODES[action]
    for key in obj:
        if str(key) in KEY_CODES:
            return KEY_CODES[str(key)]
    kind, subtype = _name(obj, "/Type"), _name(obj, "/Subtype")
    if kind in TYPE_CODES:
        return TYPE_CODES[kind]
    if subtype in SUBTYPE_CODES:
        return SUBTYPE_CODES[subtype]
    return None


def _name(obj: DictionaryObject, key: str) -> str | None:
    """Return the name stored under ``key`` (following an indirect reference), or None."""
    value = obj.get(key)
    if isinstance(value, IndirectObject):
        value = value.get_object()
    return str(value) if isinstance(value, NameObject) else None


def _reencode_image(content: bytes, content_type: str) -> bytes:
    """Decode the image within the pixel cap and return freshly encoded bytes (no metadata, no trailing data)."""
    expected_formats = {"JPEG", "MPO"} if content_type == JPEG else {"PNG"}  # Phones write multi-picture JPEGs.
    if content_type == JPEG and content.count(JPEG_START_OF_SCAN) > MAX_JPEG_SCANS:
        raise _error("corrupt")
    try:
        with Image.open(io.BytesIO(content)) as probe:
            if probe.format not in expected_formats:
                raise _error("content_mismatch")
            width, height = probe.size
            if width * height > MAX_IMAGE_PIXELS:
                raise _too_many_pixels()
            probe.verify()
        with Image.open(io.BytesIO(content)) as image:
            image.load()
            icc_profile = image.info.get("icc_profile")
            transparency = image.info.get("transparency")
            # The EXIF orientation is about to be dropped: apply it to the pixels so photos stay upright. In place:
            # without an orientation, no copy of the decoded pixels (up to 64 MB at the budget) is made.
            ImageOps.exif_transpose(image, in_place=True)
            return _encode(image, content_type, icc_profile=icc_profile, transparency=transparency)
    except ValidationError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise _too_many_pixels() from exc
    except Exception as exc:  # noqa: BLE001 - a hostile file can make Pillow raise anything (IndexError for a PNG
        # without image data, struct.error, KeyError…), as pypdf above: the candidate is told the file is damaged.
        raise _error("corrupt") from exc


def _too_many_pixels() -> ValidationError:
    return _error("too_many_pixels", pixels=number_format(MAX_IMAGE_PIXELS / 1_000_000, 0))


def _encode(image: Image.Image, content_type: str, *, icc_profile: bytes | None, transparency: Any) -> bytes:
    output = io.BytesIO()
    options: dict[str, Any] = {}
    if icc_profile:
        # Colour profile only: EXIF, XMP and text chunks are not passed, so they are not written.
        options["icc_profile"] = icc_profile
    if content_type == JPEG:
        if image.mode not in {"L", "RGB", "CMYK"}:
            image = image.convert("RGB")
        image.save(output, format="JPEG", quality=90, optimize=True, **options)
    else:
        if image.mode == "P" and transparency is not None:
            options["transparency"] = transparency
        elif image.mode not in {"1", "L", "LA", "P", "RGB", "RGBA", "I", "I;16"}:
            image = image.convert("RGBA")
        image.save(output, format="PNG", optimize=True, **options)
    return output.getvalue()


# Modes of more than 8 bits a channel (a 16-bit grey scan is "I;16"): Pillow's ``convert("L")`` or ``("RGB")`` clips
# their values at 255 and fpdf2 draws them as they are, so a grey of 30000 (of 65535) printed white.
HIGH_BIT_DEPTH_MODES = frozenset({"I", "I;16", "I;16B", "I;16L", "F"})


def to_eight_bits(image: Image.Image) -> Image.Image:
    """``image`` in 8-bit grey ("L") when it is of a high bit depth, its values scaled from 16 bits (30000 is 116);
    any other image as it is."""
    if image.mode not in HIGH_BIT_DEPTH_MODES:
        return image
    return image.convert("I").point(lambda value: value * (1 / 257)).convert("L")
