""" "Télécharger mon dossier": one PDF with summary pages, then every uploaded piece (ecandidat-features §1.9).

The summary is drawn with fpdf2; each piece follows, a PDF piece with a header line stamped on its first page, an
image piece as one page with its header line. Pieces are read one at a time from storage into temporary files and
the result is written to a temporary file that the view streams, so the request never holds the PDF as one bytes
object.

Memory budget: an image piece is downsampled to ``IMAGE_MAX_SIDE`` pixels on its long side (150 dpi on the A4 page
it fills) before fpdf2 sees it. A JPEG is decoded already reduced (``Image.draft``: the decoder scales by 1/2, 1/4
or 1/8), so even a 40 Mpx JPEG costs a few MB; any other image above the upload pixel budget (possible only for a
piece stored before that budget) is not decoded at all and replaced by a notice. pypdf keeps the copied page
objects until ``write`` (peak memory grows with the total size of the PDF pieces, at most 2 MB each) and leaves
reference cycles behind: a ``gc.collect()`` after each build keeps a worker's RSS flat. Figures:
``bench/bench_dossier_pdf.py``.

Text is written in DejaVu Sans, embedded (``ecandidat.pdf``), so that a name prints as typed in any Latin, Greek or
Cyrillic script. Reading a font file and subsetting it costs some 50 ms per style and document: the header lines
and image pages of all the pieces are drawn as one document (``stamps``), not one per piece.
"""

from __future__ import annotations

import contextlib
import datetime
import gc
import io
import logging
import re
import shutil
import tempfile
import unicodedata
from typing import IO, BinaryIO, cast

from django.core.exceptions import ObjectDoesNotExist
from django.core.files.storage import default_storage
from django.http import Http404
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.text import Truncator, capfirst
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from PIL import Image
from pypdf import PdfReader, PdfWriter

from applications.countries import country_name
from applications.dates import confirmation_date, effective_return_deadline
from applications.departments import department_label
from applications.enums import PieceStatus
from applications.forms_tab import form_rows
from applications.models import Application
from applications.pieces import piece_rows
from applications.questions import question_rows
from applications.validators import format_phone
from documents.enums import OPENABLE_SCANS, ScanStatus
from documents.pdf_forms import flatten_widgets
from documents.storage import stored_name
from documents.validation import MAX_IMAGE_PIXELS, PDF, to_eight_bits
from ecandidat.downloads import storage_errors
from ecandidat.pdf import FONT, UnicodePDF

logger = logging.getLogger(__name__)

A4 = (595.28, 841.89)  # points
# Long side of an image piece in the dossier: 2000 px over the 555 x 802 pt frame of an A4 page is about 180 dpi,
# enough to read a scanned page, and at most 4 Mpx (12 MB RGB) decoded.
IMAGE_MAX_SIDE = 2000
HEADER_SIZE = 9
LABEL_WIDTH = 60  # mm, the summary's label column
# The modes of an image that fpdf2 draws as they are: an image piece in any other (a 16-bit grey scan) is written
# again before it is laid in the dossier.
AS_IS_MODES = frozenset({"1", "L", "LA", "P", "RGB", "RGBA", "CMYK"})


def dossier_stem(application) -> str:
    """``<numéro>_<nom>_<prénom>-<code formation>``, ASCII only: whose dossier a file belongs to."""
    candidate = application.candidate
    parts = [
        candidate.user.username,
        candidate.usual_name or candidate.birth_name,
        candidate.first_name,
    ]
    return f"{'_'.join(ascii_name(p) for p in parts)}-{ascii_name(application.formation.code)}"


def dossier_filename(application) -> str:
    """``dossier-<numéro>_<nom>_<prénom>-<code formation>.pdf``."""
    return f"dossier-{dossier_stem(application)}.pdf"


# Latin letters of their own, that no accent stripping brings to ASCII (« Łukasz » was « ukasz » in a file name).
LATIN_LETTERS = str.maketrans(
    {
        "Ł": "L",
        "ł": "l",
        "Đ": "D",
        "đ": "d",
        "ı": "i",
        "Ø": "O",
        "ø": "o",
        "Æ": "AE",
        "æ": "ae",
        "Œ": "OE",
        "œ": "oe",
        "ß": "ss",
        "Þ": "Th",
        "þ": "th",
        "Ħ": "H",
        "ħ": "h",
    }
)


def ascii_name(value: str) -> str:
    """A part of a file name: ASCII letters and digits, anything else a single hyphen ("x" when nothing is left)."""
    value = unicodedata.normalize("NFKD", value.translate(LATIN_LETTERS)).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^A-Za-z0-9]+", "-", value).strip("-") or "x"


def build_dossier_pdf(application, *, for_candidate: bool = False) -> IO[bytes]:
    """Return an open temporary file holding the dossier PDF, positioned at its start (close it when done).
    ``for_candidate``: the candidate's own « Télécharger mon dossier », whose notices speak to them (a piece gone
    from the storage is theirs to send again), not to the staff.

    What is drawn over the pieces (each one's header line, an image piece's page) is drawn as one document, one
    page per piece, then laid on the pieces' pages: reading the embedded font's files and subsetting them is the
    dearest part of drawing, done once per dossier rather than once per piece."""
    rows = piece_rows(application)
    writer = PdfWriter()
    writer.append(PdfReader(io.BytesIO(bytes(_summary(application, rows).output()))))
    stamps = UnicodePDF(unit="pt", format=A4)
    stamps.set_auto_page_break(False)
    # Where each page of ``stamps`` goes: the writer's page, the lower-left corner of its visible area, and the
    # piece's header line (for the notice that replaces a piece whose page refuses its stamp).
    stamped: list[tuple[int, float, float, str]] = []
    with contextlib.ExitStack() as spools:
        for row in rows:
            document = row.document
            if document is None:
                continue
            header = f"{Truncator(row.piece_type.shown_label.text).chars(90)} - {document.original_name}"
            if document.scan_status not in OPENABLE_SCANS:
                # Listed on the summary pages with its status; a page says why its content is not there (one
                # infected stays out, as the single-piece download refuses it).
                notice = _unscanned_notice(document.scan_status)
                if notice:
                    _notice_page(writer, stamps, header, notice)
                    stamped.append((len(writer.pages) - 1, 0, 0, header))
                continue
            spool = spools.enter_context(tempfile.TemporaryFile())
            page_number = len(writer.pages)
            try:
                # The storage failing otherwise (an I/O error, the bucket down) is StorageUnavailable: the 503 page
                # for a download, a failed job for a commission's pack (``applications.packs.build_pack``).
                with storage_errors(), default_storage.open(stored_name(document), "rb") as source:
                    shutil.copyfileobj(source, spool)
            except Http404:
                # The row outlived its file (database and storage restored from backups of different moments,
                # ``applications.stored_files``): a page says so, as the single-piece download answers 404, and
                # the rest of the dossier (or of the commission's pack of hundreds) is built.
                logger.warning("Dossier PDF: file of document %s missing from the storage", document.pk)
                _notice_page(writer, stamps, header, missing_file_notice(for_candidate=for_candidate))
                stamped.append((page_number, 0, 0, header))
                continue
            spool.seek(0)
            if document.content_type == PDF:
                left, bottom = _append_pdf(writer, stamps, spool, header)
            else:
                _append_image(writer, stamps, spool, header)
                left, bottom = 0, 0
            stamped.append((page_number, left, bottom, header))
        if stamped:
            _lay_stamps(writer, stamps, stamped)
        del stamps
        output = tempfile.TemporaryFile()  # noqa: SIM115 - returned open: the response streams then closes it.
        writer.write(output)
    del writer
    gc.collect()  # pypdf's object graph is full of cycles: free it now, not at some later collection
    output.seek(0)
    return output


def _lay_stamps(writer: PdfWriter, stamps: UnicodePDF, stamped: list[tuple[int, float, float, str]]) -> None:
    """Lay each page of ``stamps`` on its page of the dossier.

    Laying a stamp decodes the page's content stream and merges the stamp's resources (its font) into the page's:
    a PDF piece whose content cannot be decoded (an unknown filter, broken ASCII85 data, a Flate predictor of 0
    columns) or whose resources are not dictionaries (/Font 7) makes pypdf raise anything there, though it was
    copied whole. Such a piece (stored before the upload checks decoded the pages) has its pages replaced by a
    notice, as one pypdf cannot copy: it made the dossier PDF a 500 and failed the commission's packs."""
    drawn = PdfReader(io.BytesIO(bytes(stamps.output())))
    # Each piece's pages run from its first page to the next piece's (the last one's to the end of the dossier).
    ends = [page_number for page_number, *_ in stamped[1:]] + [len(writer.pages)]
    refused: list[tuple[int, int, str]] = []
    for (page_number, left, bottom, header), end, stamp in zip(stamped, ends, drawn.pages, strict=True):
        try:
            writer.pages[page_number].merge_translated_page(stamp, left, bottom)
        except Exception as error:  # a hostile file can make pypdf raise anything
            logger.warning("Dossier PDF: PDF piece not stamped (%s: %s)", type(error).__name__, error)
            refused.append((page_number, end, header))
    del drawn
    if not refused:
        return
    notices = UnicodePDF(unit="pt", format=A4)
    notices.set_auto_page_break(False)
    for _first, _end, header in refused:
        _draw_notice(notices, header, _pdf_notice())
    drawn = PdfReader(io.BytesIO(bytes(notices.output())))
    # From the last piece back: replacing a piece's pages moves only the pages after them.
    for (first, end, _header), notice in reversed(list(zip(refused, drawn.pages, strict=True))):
        for _page in range(first, end):
            writer.remove_page(first)
        writer.insert_blank_page(*A4, index=first)
        writer.pages[first].merge_page(notice)  # the page the writer holds (``insert_blank_page`` returns another)


def _unscanned_notice(scan_status: str) -> str:
    """What stands in place of a piece the antivirus has not cleared: still waiting for it, or its scan failed (it
    is tried again every night); empty for an infected one."""
    if scan_status == ScanStatus.PENDING:
        return _("This file has not been checked by the antivirus yet: it is not included.")
    if scan_status == ScanStatus.ERROR:
        return _("The antivirus scan of this file failed (it is tried again every night): it is not included.")
    return ""


def missing_file_notice(*, for_candidate: bool = False) -> str:
    """What stands in place of a piece whose file is gone from the storage (the dossier PDF, the piece pack): the
    staff ask the candidate for it again; the candidate, reading their own dossier, sends it again."""
    if for_candidate:
        return _(
            "This file is missing from the storage: upload it again or, if you cannot, write to the contact address"
            " of your application."
        )
    return _("This file is missing from the storage: ask the candidate for it again.")


def _append_pdf(writer: PdfWriter, stamps: UnicodePDF, spool: BinaryIO, header: str) -> tuple[float, float]:
    """The PDF piece's pages; its header line, on a white band across the top of its first page, in ``stamps``.
    Returns where the stamp goes on that page: the lower-left corner of its visible area (its /CropBox).

    The band is drawn the size of what a reader shows, upright: a page turned by /Rotate has its rotation moved
    into its content first (the band would otherwise run down a side), and one cropped is stamped on its
    /CropBox (sized from the /MediaBox at its origin, the band was cut off or fell outside what is shown).

    A file pypdf cannot copy (stored before an upload rule refused it: a page without a readable /MediaBox made
    every build of the dossier a 500, for the candidate, the staff and the commission's packs) gets a page saying
    so instead, as an image over the budget does; the rest of the dossier is built."""
    first = len(writer.pages)
    try:
        reader = PdfReader(spool)
        for source_page in reader.pages:
            source_page.mediabox.width  # noqa: B018 - raises before anything is copied when a page has no usable size
        writer.append(reader)
        for copied in writer.pages[first:]:
            # A filled PDF form's values drawn into its pages (before the rotation moves into the content, which
            # leaves annotations where they were): the commission's pack, which copies these pages without the
            # piece's form, and viewers that draw no form layer showed the fields empty.
            flatten_widgets(copied, writer)
        page = writer.pages[first]
        if page.rotation:
            page.transfer_rotation_to_content()
        # Any two opposite corners make a box (``[200 300 0 0]`` is legal): pypdf's width was then negative, and
        # the header line naming the piece was cut down to « … ».
        x1, y1, x2, y2 = (float(value) for value in page.cropbox)
        left, bottom = min(x1, x2), min(y1, y2)
        width, height = abs(x2 - x1), abs(y2 - y1)
    except Exception as error:  # a hostile file can make pypdf raise anything
        logger.warning("Dossier PDF: PDF piece not included (%s: %s)", type(error).__name__, error)
        while len(writer.pages) > first:
            writer.remove_page(first)
        _notice_page(writer, stamps, header, _pdf_notice())
        return 0, 0
    stamps.add_page(format=(width, height))
    stamps.set_font(FONT, "B", HEADER_SIZE)
    stamps.set_fill_color(255, 255, 255)
    stamps.set_xy(0, 0)
    stamps.cell(width, HEADER_SIZE + 6, stamps.fit(header, width - 10), fill=True, align="C")
    return left, bottom


def _pdf_notice() -> str:
    """What stands in place of a PDF piece that cannot be laid in the dossier."""
    return _("This PDF cannot be included in the dossier: open it from the pieces list.")


def _append_image(writer: PdfWriter, stamps: UnicodePDF, spool: BinaryIO, header: str) -> None:
    """A blank A4 page for the image piece; its header line and the image (or a notice), in ``stamps``."""
    with tempfile.TemporaryFile() as small:
        if not _downsample(spool, small):
            _notice_page(writer, stamps, header, _image_notice())
            return
        _blank_page(writer, stamps, header)
        try:
            stamps.image(small, x=20, y=40, w=A4[0] - 40, h=A4[1] - 60, keep_aspect_ratio=True)
        except Exception as error:  # fpdf2 decodes the image here: a damaged file can make it raise anything
            # Nothing of the image is drawn when it fails: the page, its header line already there, gets the notice.
            logger.warning("Dossier PDF: image not drawn (%s: %s)", type(error).__name__, error)
            _draw_notice_text(stamps, _image_notice())


def _image_notice() -> str:
    """What stands in place of an image piece that cannot be laid in the dossier."""
    return _("This image cannot be included in the dossier: open it from the pieces list.")


def _blank_page(writer: PdfWriter, stamps: UnicodePDF, header: str) -> None:
    """A blank A4 page in the dossier, with the piece's header line in ``stamps``."""
    writer.add_blank_page(*A4)
    _draw_header(stamps, header)


def _draw_header(stamps: UnicodePDF, header: str) -> None:
    """An A4 page in ``stamps`` with the piece's header line."""
    stamps.add_page(format=A4)
    stamps.set_font(FONT, "B", HEADER_SIZE)
    stamps.set_xy(20, 12)
    stamps.cell(A4[0] - 40, HEADER_SIZE + 6, stamps.fit(header, A4[0] - 40), align="C")


def _notice_page(writer: PdfWriter, stamps: UnicodePDF, header: str, notice: str) -> None:
    """The page of a piece whose content cannot be included: its header line and ``notice``."""
    writer.add_blank_page(*A4)
    _draw_notice(stamps, header, notice)


def _draw_notice(stamps: UnicodePDF, header: str, notice: str) -> None:
    """An A4 page in ``stamps`` with the piece's header line and ``notice``."""
    _draw_header(stamps, header)
    _draw_notice_text(stamps, notice)


def _draw_notice_text(stamps: UnicodePDF, notice: str) -> None:
    """``notice`` under the header line of the current page of ``stamps``."""
    stamps.set_font(FONT, "", 10)
    stamps.set_xy(20, 60)
    stamps.multi_cell(A4[0] - 40, 14, notice)


def _downsample(spool: BinaryIO, output: BinaryIO) -> bool:
    """Write the image of ``spool`` to ``output`` at most ``IMAGE_MAX_SIDE`` px on its long side: as it is when it
    is already that small, else as JPEG (photos) or PNG (images with transparency). False when it cannot be
    decoded within the budget.

    A small image is decoded too, though it is passed on as it is: a damaged file (truncated on disk) fails here,
    where it gives the notice page, not in fpdf2. Only an image in a mode fpdf2 draws right is passed on as it is;
    one of a high bit depth (a 16-bit grey scan, which fpdf2 and ``convert("RGB")`` made white) is scaled to 8-bit
    grey first, then written again."""
    try:
        with Image.open(spool) as opened:
            if max(opened.size) <= IMAGE_MAX_SIDE:
                opened.load()
                if opened.mode in AS_IS_MODES:
                    spool.seek(0)
                    shutil.copyfileobj(spool, output)
                    output.seek(0)
                    return True
            if opened.format == "JPEG" or opened.format == "MPO":
                opened.draft("RGB", (IMAGE_MAX_SIDE, IMAGE_MAX_SIDE))  # the decoder scales down: never full size
            elif opened.width * opened.height > MAX_IMAGE_PIXELS:
                logger.warning("Dossier PDF: image of %sx%s px not decoded", opened.width, opened.height)
                return False
            image = to_eight_bits(opened)
            has_alpha = image.mode in {"RGBA", "LA", "PA"} or "transparency" in image.info
            converted = image.convert("RGBA" if has_alpha else "RGB")
            converted.thumbnail((IMAGE_MAX_SIDE, IMAGE_MAX_SIDE), Image.Resampling.BICUBIC)
            if has_alpha or image is not opened:
                converted.save(output, format="PNG", compress_level=6)
            else:
                converted.save(output, format="JPEG", quality=85)
    except (Image.DecompressionBombError, OSError, SyntaxError, ValueError, EOFError) as error:
        logger.warning("Dossier PDF: image not decoded (%s)", error)
        return False
    output.seek(0)
    return True


class _Summary(UnicodePDF):
    def __init__(self, title: str):
        super().__init__(unit="mm", format="A4")
        self.title_text = title
        self.set_margins(18, 18, 18)
        self.set_auto_page_break(True, 18)

    def header(self):
        self.set_font(FONT, "I", 8)
        self.cell(0, 5, self.title_text, align="R", new_x="LMARGIN", new_y="NEXT")

    def footer(self):
        self.set_y(-12)
        self.set_font(FONT, "I", 8)
        self.cell(0, 5, f"{self.page_no()}", align="C")

    def section(self, title: str):
        self.ln(3)
        self.set_font(FONT, "B", 12)
        self.cell(0, 8, str(title), new_x="LMARGIN", new_y="NEXT", border="B")
        self.set_font(FONT, "", 10)

    def line_item(self, label, value):
        """The label in a column of its own, wrapped when longer than it (« Spécialité de première abandonnée »
        would otherwise run into the value), the value beside it; both on the same page."""
        if value in (None, ""):
            return
        label, value = str(label), str(value)
        value_width = self.epw - LABEL_WIDTH
        height = max(self._height(LABEL_WIDTH, label, "B"), self._height(value_width, value, ""))
        if self.will_page_break(height) and height < self.eph:
            self.add_page()
        page, top = self.page, self.get_y()
        self.set_font(FONT, "B", 10)
        self.multi_cell(LABEL_WIDTH, 6, label, new_x="RIGHT", new_y="TOP")
        self.set_font(FONT, "", 10)
        self.multi_cell(value_width, 6, value, new_x="LMARGIN", new_y="NEXT")
        if self.page == page:  # a value longer than a page has broken it: its end is where the next line goes
            self.set_y(max(self.get_y(), top + height))

    def _height(self, width: float, text: str, style: str) -> float:
        self.set_font(FONT, style, 10)
        return cast(float, self.multi_cell(width, 6, text, dry_run=True, output="HEIGHT"))

    def paragraph(self, text):
        self.multi_cell(0, 6, str(text), new_x="LMARGIN", new_y="NEXT")


def _label(model, field: str) -> str:
    # capfirst, not str.capitalize: "INE and key" must not print as "Ine and key".
    return capfirst(str(model._meta.get_field(field).verbose_name))


def _none_if_empty(pdf: _Summary, rows: list) -> None:
    if not rows:
        pdf.paragraph(pgettext("dossier summary, a section without rows", "None."))


def _date(value: datetime.date | datetime.datetime | None) -> str:
    """The day of ``value``; a moment (created, transmitted) on the site's calendar: the database gives it in UTC,
    and an application transmitted at 00:30 in Paris printed the day before, against the pages and the history."""
    if not value:
        return ""
    if isinstance(value, datetime.datetime):
        value = timezone.localdate(value)
    return date_format(value, "SHORT_DATE_FORMAT")


def _confirmation_date(application: Application) -> datetime.date | None:
    """The read model's date de confirmation (``applications.dates.confirmation_date``); an application read
    without ``with_current_decision()`` (the views read it with) is read again with it."""
    if not hasattr(application, "validated_decision_at"):
        application = (
            Application.objects.with_current_decision().select_related("formation", "campaign").get(pk=application.pk)
        )
    return confirmation_date(application)


def _summary(application, rows) -> UnicodePDF:
    candidate = application.candidate
    formation = application.formation
    pdf = _Summary(dossier_filename(application))
    pdf.add_page()
    pdf.set_font(FONT, "B", 16)
    pdf.multi_cell(0, 9, _("Application dossier"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, "", 10)
    pdf.paragraph(_("Generated on %(date)s") % {"date": _date(timezone.localdate())})

    pdf.section(_("Personal details"))
    Candidate = type(candidate)
    pdf.line_item(_("Dossier number"), candidate.user.username)
    pdf.line_item(_label(Candidate, "civility"), candidate.get_civility_display())
    for field in ("birth_name", "usual_name", "first_name", "other_first_name"):
        pdf.line_item(_label(Candidate, field), getattr(candidate, field))
    pdf.line_item(_label(Candidate, "birth_date"), _date(candidate.birth_date))
    pdf.line_item(_label(Candidate, "birth_city"), candidate.birth_city)
    # Countries are stored as ISO codes and départements as numbers: the PDF names them, as the forms do.
    pdf.line_item(_label(Candidate, "birth_department"), department_label(candidate.birth_department))
    pdf.line_item(_label(Candidate, "birth_country"), country_name(candidate.birth_country))
    pdf.line_item(_label(Candidate, "nationality"), country_name(candidate.nationality))
    pdf.line_item(_label(Candidate, "ine"), candidate.ine)
    for field in ("phone", "mobile"):
        pdf.line_item(_label(Candidate, field), format_phone(getattr(candidate, field)))
    pdf.line_item(_("E-mail"), candidate.user.email)

    pdf.section(_("Address"))
    try:
        address = candidate.address
    except ObjectDoesNotExist:
        pdf.paragraph(_("Not given."))
    else:
        for field in ("line1", "line2", "line3", "postal_code", "city", "cedex", "foreign_city"):
            pdf.line_item(_label(type(address), field), getattr(address, field))
        pdf.line_item(_label(type(address), "country"), country_name(address.country))

    pdf.section(_("Baccalaureate or equivalent"))
    try:
        bac = candidate.baccalaureate
    except ObjectDoesNotExist:
        pdf.paragraph(_("Not given."))
    else:
        Bac = type(bac)
        if not bac.has_bac:
            pdf.paragraph(_("No baccalaureate."))
        pdf.line_item(_label(Bac, "series"), bac.series_label)
        pdf.line_item(_label(Bac, "year"), bac.year)
        pdf.line_item(_label(Bac, "mention"), bac.get_mention_display())
        pdf.line_item(_label(Bac, "school"), bac.school)
        pdf.line_item(_label(Bac, "city"), bac.city)
        pdf.line_item(_label(Bac, "department"), department_label(bac.department))
        pdf.line_item(_label(Bac, "country"), country_name(bac.country))
        pdf.line_item(_label(Bac, "speciality_1"), bac.speciality_1_label)
        pdf.line_item(_label(Bac, "speciality_2"), bac.speciality_2_label)
        pdf.line_item(_label(Bac, "dropped_speciality"), bac.dropped_speciality_label)
        pdf.line_item(_("Options of the baccalaureate"), ", ".join(bac.options))

    # A section without rows says so ("Néant", as on paper forms): a bare heading reads as a page that failed.
    pdf.section(_("Internal cursus"))
    internal_rows = list(candidate.internal_cursus.all())
    for row in internal_rows:
        grade = _("grade %(grade)s") % {"grade": row.grade_label} if row.grade is not None else ""
        results = " ".join(part for part in (row.result, row.mention, grade) if part)
        # The year as the candidate's page and the review page write it ("2021/2022"), not its first half.
        pdf.paragraph(f"{row.academic_year_label} - {row.code} {row.label} {results}".strip())
    _none_if_empty(pdf, internal_rows)
    pdf.section(_("External cursus"))
    external_rows = list(candidate.external_cursus.all())
    for row in external_rows:
        place = ", ".join(part for part in (row.school, row.place_label) if part)
        diploma = f" ({row.shown_diploma_label})" if row.diploma else ""  # the reader's language, as the pieces
        pdf.paragraph(
            f"{row.year} - {row.label}{diploma} - {place} ({country_name(row.country)}) - {row.get_obtained_display()}"
        )
    _none_if_empty(pdf, external_rows)
    pdf.section(_("Internships"))
    internships = list(candidate.internships.all())
    for row in internships:
        pdf.paragraph(f"{row.year} - {row.organisation} - {row.duration}")
    _none_if_empty(pdf, internships)
    pdf.section(_("Work experience"))
    experiences = list(candidate.work_experiences.all())
    for row in experiences:
        pdf.paragraph(f"{row.year} - {row.title} - {row.organisation} - {row.duration}")
    _none_if_empty(pdf, experiences)

    pdf.section(_("Formation"))
    pdf.line_item(
        _("Formation"), f"{formation.code} - {formation.shown_title}"
    )  # the reader's language, as the labels
    pdf.line_item(_("Dossier status"), application.get_dossier_status_display())
    if application.cancelled_at:
        pdf.paragraph(_("Application cancelled on %(date)s") % {"date": _date(application.cancelled_at)})
    pdf.section(_("Useful dates"))
    pdf.line_item(_("Return deadline"), _date(effective_return_deadline(application)))
    pdf.line_item(_("Confirmation date"), _date(_confirmation_date(application)))
    pdf.line_item(_("Applied on"), _date(application.created_at))
    pdf.line_item(_("Transmitted on"), _date(application.transmitted_at))

    pdf.section(_("Supporting documents"))
    colon = pgettext("between a name and what is said of it", ": ")  # " : " in French, ": " in English
    for row in rows:
        name = row.document.original_name if row.document is not None else ""
        comment = f" - {row.comment}" if row.comment else ""
        # Cut with an ellipsis: cut bare, "… dont le français n'est pas : Non concerné" says something else. The
        # label in the reader's language, as on the pages.
        said = f"{row.status.label} {name}{comment}".strip()
        pdf.paragraph(f"{Truncator(row.piece_type.shown_label.text).chars(120)}{colon}{said}")

    questions = question_rows(application)
    if questions:
        pdf.section(_("Complementary questions"))
        for question in questions:
            answer = question.shown_answer if question.status == PieceStatus.SUBMITTED else question.status_label
            pdf.paragraph(f"{question.label}{colon}{answer}")

    # The rows of the staff reading page and of the candidate's tab (``forms_tab.form_rows``: two queries whatever
    # the number of forms and answers, one when no form applies nor was answered), so the three say the same: each
    # form's label and status in the reader's language, then its answers as imported from LimeSurvey (question code,
    # answer). As on the staff page, the answers to forms retired or taken off the formation since follow
    # (``unlisted``): the commission still reads them.
    forms = form_rows(application, unlisted=True)
    if forms:
        pdf.section(_("Complementary forms"))
        for form in forms:
            pdf.set_font(FONT, "B", 10)
            pdf.paragraph(f"{form.label}{colon}{form.status_label}")
            pdf.set_font(FONT, "", 10)
            for asked, answer in form.answer_items:
                pdf.line_item(asked, answer)
    return pdf
