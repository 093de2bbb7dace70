"""An XLSX cell holds at most 32,767 characters: openpyxl cut a longer text there silently, losing its end (the
newest of a dossier's notes). It is cut explicitly, with a marker in the reader's language saying so
(``ecandidat.exports.xlsx_text``)."""

import datetime
import io

import pytest
from django.utils import translation
from openpyxl import Workbook, load_workbook

from ecandidat.exports import XLSX_CELL_MAX_CHARS, to_xlsx, write_xlsx, xlsx_cells, xlsx_text

MARKER = "… (truncated: see the application)"


@pytest.fixture
def sheet():
    return Workbook(write_only=True).create_sheet("x")


def test_a_longer_text_is_cut_with_a_marker(sheet):
    fits = "n" * XLSX_CELL_MAX_CHARS
    text = "old note\n" + "n" * 40_000 + "\nnewest note"

    with translation.override("en"):
        assert xlsx_cells(sheet, [fits]) == [fits]  # kept whole
        (cell,) = xlsx_cells(sheet, [text])

    assert len(cell) == XLSX_CELL_MAX_CHARS
    assert cell.endswith(MARKER)
    assert cell.startswith("old note\n")


def test_a_formula_looking_text_stays_inert_and_within_the_cell(sheet):
    with translation.override("en"):
        (cell,) = xlsx_cells(sheet, ["=" + "x" * 40_000])

    assert cell.startswith("'=")
    assert len(cell) == XLSX_CELL_MAX_CHARS
    assert cell.endswith(MARKER)


def test_other_values_made_text_are_cut_too(sheet):
    class Long:
        def __str__(self):
            return "y" * 40_000

    with translation.override("en"):
        (cell,) = xlsx_cells(sheet, [Long()])

    assert len(cell) == XLSX_CELL_MAX_CHARS
    assert cell.endswith(MARKER)


def test_the_marker_follows_the_language(monkeypatch):
    monkeypatch.setattr(
        "ecandidat.exports.gettext",
        lambda message: "… (tronqué : voir la candidature)" if translation.get_language() == "fr" else message,
    )
    with translation.override("fr"):
        assert xlsx_text("z" * 40_000).endswith("… (tronqué : voir la candidature)")
    with translation.override("en"):
        assert xlsx_text("z" * 40_000).endswith(MARKER)


@pytest.mark.parametrize("writer", ["write_xlsx", "to_xlsx"])
def test_the_file_holds_the_marker_where_excel_would_have_cut(writer):
    rows = [["z" * 50_000, datetime.date(2026, 12, 5), 3]]
    with translation.override("en"):
        if writer == "write_xlsx":
            content = write_xlsx(["Notes", "Date", "Rank"], rows, title="Export").read()
        else:
            content = to_xlsx(["Notes", "Date", "Rank"], rows)

    sheet = load_workbook(io.BytesIO(content)).active
    value = sheet["A2"].value
    assert len(value) == XLSX_CELL_MAX_CHARS
    assert value.endswith(MARKER)
    assert sheet["C2"].value == 3
