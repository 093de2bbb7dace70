"""Tabular exports (XLSX and CSV) for the back office, and what their views share: a streamed file's rows made in the
request's language (``in_language``), the list to go back to when an export is refused (``list_url``).

Every text cell that a spreadsheet would read as a formula (it starts with ``=``, ``+``, ``-`` or ``@``, possibly
after a tab or carriage return) is prefixed with an apostrophe, so that a candidate who types ``=HYPERLINK(…)`` as
their name cannot run anything on a manager's computer (OWASP "CSV injection").
"""

import contextlib
import csv
import datetime
import decimal
import io
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from typing import IO, TYPE_CHECKING, Any

from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.worksheet.worksheet import Worksheet

if TYPE_CHECKING:
    from django.contrib.admin.views.main import ChangeList

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")

XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_CONTENT_TYPE = "text/csv; charset=utf-8"


def neutralise(value):
    """The cell value, with formula-looking text made inert; dates and numbers are kept as they are."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, (int, float, decimal.Decimal, datetime.date)):
        return value
    text = str(value)
    if text.startswith(FORMULA_PREFIXES):
        return "'" + text
    return text


def _as_text(value) -> str:
    value = neutralise(value)
    if isinstance(value, datetime.datetime):
        return value.strftime("%d/%m/%Y %H:%M")
    if isinstance(value, datetime.date):
        return value.strftime("%d/%m/%Y")
    if isinstance(value, decimal.Decimal):
        return f"{value:.2f}".replace(".", ",")  # French spreadsheets read 170,50 as a number
    return str(value)


def to_csv(headers: Sequence[str], rows: Iterable[Sequence]) -> bytes:
    """CSV for French spreadsheets: UTF-8 with a BOM, ``;`` separated."""
    return "".join(stream_csv(headers, rows)).encode("utf-8")


class _Echo:
    """A file for ``csv.writer`` that hands each written line back instead of keeping it."""

    def write(self, value: str) -> str:
        return value


def stream_csv(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[str]:
    """The same CSV as :func:`to_csv`, one line at a time (for a ``StreamingHttpResponse``: the rows are never all in
    memory)."""
    writer = csv.writer(_Echo(), delimiter=";", lineterminator="\r\n")
    yield "\ufeff" + writer.writerow([_as_text(value) for value in header])
    for row in rows:
        yield writer.writerow([_as_text(value) for value in row])


# What French staff read in a date cell (openpyxl's default is ISO, "2026-12-01 14:52:31").
XLSX_DATE_FORMAT = "DD/MM/YYYY"
XLSX_DATETIME_FORMAT = "DD/MM/YYYY HH:MM"


# The most characters an XLSX cell holds (Excel's limit): openpyxl cuts a longer text there, silently, losing its end
# (the newest notes). It is cut here with a marker saying so (``xlsx_text``).
XLSX_CELL_MAX_CHARS = 32_767


def xlsx_text(value: str) -> str:
    """``value`` cut to ``XLSX_CELL_MAX_CHARS`` with a visible marker in the current language (the requester's)
    when it is longer: the notes of a much-discussed dossier, the answers to the forms… the reader knows the rest is
    on the application's page."""
    if len(value) <= XLSX_CELL_MAX_CHARS:
        return value
    marker = gettext("… (truncated: see the application)")
    return value[: XLSX_CELL_MAX_CHARS - len(marker)] + marker


def xlsx_cells(sheet, row: Iterable) -> list:
    """One row for ``sheet.append`` (normal or write-only worksheet): dates and times as date cells shown the French
    way, text as text.

    Only text starting with ``=`` is made inert (with the apostrophe of :func:`neutralise`): openpyxl writes it as
    a formula. A text cell of an XLSX is never evaluated, so a telephone number ``+33…`` or a text ``- néant``
    stays as typed (the apostrophe would show in the cell: ``'+33612345670``); CSV keeps every prefix neutralised,
    a spreadsheet reading a CSV evaluates them.

    The control characters an XLSX cannot hold (U+0000 to U+001F but the tab and line ends: a vertical tab or an
    escape pasted into a name, an answer, a note) are left out: openpyxl refused the whole file for one of them (a
    500 on the export), and they show nothing. They are left out before the formula check, so that
    ``"\x0b=HYPERLINK(…)"`` stays inert. A text longer than an XLSX cell holds is cut with a marker
    (:func:`xlsx_text`)."""
    cells: list = []
    for value in row:
        if value is None:
            cells.append("")
        elif isinstance(value, str):
            value = ILLEGAL_CHARACTERS_RE.sub("", value)
            cells.append(xlsx_text("'" + value if value.startswith("=") else value))
        elif isinstance(value, datetime.datetime):
            # Excel has no time zones; callers pass local times.
            cell = WriteOnlyCell(sheet, value=value.replace(tzinfo=None))
            cell.number_format = XLSX_DATETIME_FORMAT
            cells.append(cell)
        elif isinstance(value, datetime.date):
            cell = WriteOnlyCell(sheet, value=datetime.datetime.combine(value, datetime.time()))
            cell.number_format = XLSX_DATE_FORMAT
            cells.append(cell)
        else:
            value = neutralise(value)
            cells.append(
                xlsx_text(neutralise(ILLEGAL_CHARACTERS_RE.sub("", value))) if isinstance(value, str) else value
            )
    return cells


def to_xlsx(headers: Sequence[str], rows: Iterable[Sequence], *, title: str = "Export") -> bytes:
    workbook = Workbook(write_only=False)
    sheet = workbook.active
    assert isinstance(sheet, Worksheet)  # a new workbook has one worksheet, active
    sheet.title = title[:31]
    sheet.append(xlsx_cells(sheet, headers))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append(xlsx_cells(sheet, row))
    sheet.freeze_panes = "A2"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _discard(sheet) -> None:
    """End a write-only sheet's writing and remove its temporary file after a failure while its rows were read (a
    background export taken over, the database gone): left to the garbage collector, lxml complains and the file
    stays until the process exits (a Celery worker: days)."""
    with contextlib.suppress(Exception):
        sheet.close()
        sheet._writer.cleanup()


def write_xlsx(header: Sequence[str], rows: Iterable[Sequence[Any]], *, title: str) -> IO[bytes]:
    """An XLSX in a temporary file (open, at its start), written row by row with openpyxl's write-only mode: the
    rows are never all in memory; the response streams the file, then closes it."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title[:31])
    sheet.freeze_panes = "A2"
    sheet.append(xlsx_cells(sheet, header))
    try:
        for row in rows:
            sheet.append(xlsx_cells(sheet, row))
    except BaseException:
        _discard(sheet)
        raise
    output = tempfile.TemporaryFile()  # noqa: SIM115 - returned open: the response streams then closes it
    workbook.save(output)
    output.seek(0)
    return output


def in_language[Row](language: str | None, rows: Iterable[Row]) -> Iterator[Row]:
    """The rows, made in ``language`` (the request's): a streamed response is read after the view has returned, when
    the server may have handed the thread's language to another request, so its values would otherwise follow that
    request's language while its headers, made in the view, follow this one's."""
    with translation.override(language):
        yield from rows


def list_url(changelist: "ChangeList") -> str:
    """The admin list an export was asked from, with its filters, search and order (the query string its own links
    carry): where an export refused goes back, so that the user narrows their list rather than start again."""
    opts = changelist.opts
    url = reverse(
        f"admin:{opts.app_label}_{opts.model_name}_changelist", current_app=changelist.model_admin.admin_site.name
    )
    query = changelist.get_query_string()
    return url if query == "?" else url + query
