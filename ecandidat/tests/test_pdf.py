"""``UnicodePDF``: the PDFs' embedded font (DejaVu Sans) writes names in Latin, Greek and Cyrillic script as typed;
a fallback font (``PDF_FALLBACK_FONTS``), read only by a PDF that needs it, writes Chinese, Japanese, Korean and
Arabic; right-to-left text is shaped (joined, in reading order), and only such text; what no font has is marked, not
dropped."""

import io
import logging

import pytest
from fontTools.ttLib import TTFont
from pypdf import PdfReader

from ecandidat.pdf import FALLBACK, FONT, FONT_DIR, FONT_FILES, UnicodePDF
from ecandidat.tests.cjk import TEST_ARABIC_FONT, TEST_CJK_FONT


def text_of(*lines: str, style: str = "") -> str:
    return extracted(drawn(*lines, style=style))


def drawn(*lines: str, style: str = "") -> UnicodePDF:
    pdf = UnicodePDF()
    pdf.add_page()
    pdf.set_font(FONT, style, 11)
    for line in lines:
        pdf.multi_cell(0, 6, line, new_x="LMARGIN", new_y="NEXT")
    return pdf


def extracted(pdf: UnicodePDF) -> str:
    # pypdf reads the encoding fpdf2 writes for a CID-keyed CFF font one byte at a time: a NUL before each of its
    # characters (poppler's pdftotext, and a viewer's copy, read them right).
    return PdfReader(io.BytesIO(bytes(pdf.output()))).pages[0].extract_text().replace("\x00", "")


def embedded_glyph_names(pdf: UnicodePDF, font_name: str) -> set[str]:
    """The named glyphs of the subset of ``font_name`` the PDF embeds (fpdf2 keeps the names of the glyphs the
    character map reaches, the isolated letters; it numbers the others, such as joined forms)."""
    (font,) = (
        font.get_object()
        for font in PdfReader(io.BytesIO(bytes(pdf.output()))).pages[0]["/Resources"]["/Font"].values()
        if font.get_object()["/BaseFont"].endswith(font_name)
    )
    descriptor = font["/DescendantFonts"][0].get_object()["/FontDescriptor"]
    subset = TTFont(io.BytesIO(descriptor["/FontFile2"].get_object().get_data()))
    return {name for name in subset.getGlyphOrder() if name.startswith("uni")}


@pytest.fixture
def cjk_fallback(settings):
    settings.PDF_FALLBACK_FONTS = [(str(TEST_CJK_FONT), 0)]


@pytest.fixture
def arabic_fallback(settings):
    settings.PDF_FALLBACK_FONTS = [(str(TEST_CJK_FONT), 0), (str(TEST_ARABIC_FONT), 0)]


def test_names_print_as_typed_in_every_style():
    names = ("Ştefănescu", "Łukasz", "Nguyễn", "Σωκράτης", "Пётр", "Œdipe – « l’été »")
    for style in ("", "B", "I", "BI"):
        assert text_of(*names, style=style).splitlines() == list(names)


def test_a_decomposed_accent_prints_composed():
    assert text_of("Ame\u0301lie") == "Amélie"


def test_a_character_the_font_lacks_is_the_replacement_character():
    assert text_of("王小明 Ahmed") == "\ufffd\ufffd\ufffd Ahmed"
    assert text_of("أحمد Ahmed") == "\ufffd\ufffd\ufffd\ufffd Ahmed"  # Arabic: left out of the reduced files


def test_a_pasted_line_separator_breaks_the_line_and_other_control_characters_print_nothing():
    # A motivation pasted from a word processor or a PDF: its line breaks are U+2028, U+2029, a vertical tab, a form
    # feed or NEL; a byte-order mark or a stray control character came along. None printed « � ».
    assert (
        text_of("Licence\u2028Master\u2029Doctorat\x0bDU\x0cBUT\x85CPGE") == "Licence\nMaster\nDoctorat\nDU\nBUT\nCPGE"
    )
    assert text_of("\ufeffAmélie\x01\x1b Martin\x7f\x9b") == "Amélie Martin"
    assert text_of("Licence 3\tMaster 1") == "Licence 3 Master 1"


def test_the_reduced_files_keep_the_scripts_of_names_and_the_symbols_of_letters():
    lines = ("Հայկ Ծատուրյան", "ნინო", "Ⅳ № 12 € ≥ ✓ → ■", "x² • ‰")
    assert text_of(*lines).splitlines() == list(lines)


def test_a_style_is_read_on_its_first_use_only():
    pdf = UnicodePDF()
    pdf.add_page()
    pdf.set_font(FONT, "B", 9)
    pdf.set_font(FONT, "B", 12)

    assert set(pdf.fonts) == {"dejavuB"}


def test_fit_cuts_with_an_ellipsis_what_a_width_cannot_hold():
    pdf = UnicodePDF()
    pdf.add_page()
    pdf.set_font(FONT, "", 10)

    assert pdf.fit("Пётр", 100) == "Пётр"
    cut = pdf.fit("Σωκράτης " * 20, 100)
    assert cut.endswith("…")
    assert cut.startswith("Σωκράτης")
    assert pdf.get_string_width(cut) <= 100 - 2 * pdf.c_margin


def test_the_fonts_and_their_licence_are_in_the_repository():
    assert all((FONT_DIR / name).is_file() for name in FONT_FILES.values())
    assert "Bitstream Vera" in (FONT_DIR / "LICENSE").read_text()


def test_chinese_korean_and_japanese_print_with_the_fallback_font_in_every_style(cjk_fallback):
    lines = ("王小明 Ahmed", "北京大学 – « Łukasz »", "김 の")
    for style in ("", "B", "I", "BI"):
        pdf = drawn(*lines, style=style)

        assert extracted(pdf).splitlines() == list(lines)
        assert set(pdf.fonts) == {f"{FONT}{style}", f"{FALLBACK}0"}  # read once for the three lines


def test_a_pdf_dejavu_covers_does_not_read_the_fallback_font(cjk_fallback, mocker):
    add_font = mocker.spy(UnicodePDF, "add_font")

    pdf = drawn("Łukasz Σωκράτης Пётр", "Nguyễn ✓")
    output = bytes(pdf.output())

    assert [call.args[1] for call in add_font.call_args_list] == [FONT]
    assert b"ecandidatTestCJK" not in output


def test_a_character_no_font_has_is_still_the_replacement_character(cjk_fallback):
    assert text_of("王小明 龍 أحمد") == "王小明 \ufffd \ufffd\ufffd\ufffd\ufffd"


def test_text_writes_in_the_current_font_only(cjk_fallback):
    pdf = UnicodePDF()
    pdf.add_page()
    pdf.set_font(FONT, "", 11)
    pdf.text(20, 20, "王 Wang")

    assert extracted(pdf) == "\ufffd Wang"
    assert set(pdf.fonts) == {FONT}


def test_a_fallback_font_that_cannot_be_read_is_logged_and_the_pdf_still_drawn(settings, caplog, tmp_path):
    broken = tmp_path / "broken.ttf"
    broken.write_bytes(b"not a font")
    settings.PDF_FALLBACK_FONTS = [(str(tmp_path / "missing.ttc"), 2), (str(broken), 0), (str(TEST_CJK_FONT), 0)]

    with caplog.at_level(logging.ERROR, logger="ecandidat.pdf"):
        text = text_of("王 Wang 龍")

    assert text == "王 Wang \ufffd"
    assert [record.getMessage() for record in caplog.records] == [
        f"PDF_FALLBACK_FONTS: cannot read the font {tmp_path / 'missing.ttc'} (face 2)",
        f"PDF_FALLBACK_FONTS: cannot read the font {broken} (face 0)",
    ]


def test_arabic_prints_with_its_fallback_font_joined_and_right_to_left(arabic_fallback):
    for style in ("", "B"):
        pdf = drawn("Rue 12, الرباط", style=style)

        # Unshaped, the letters would be written left to right: a reader would copy « طابرلا ».
        assert extracted(pdf) == "Rue 12, الرباط"
        # Lam, reh and beh take their joined forms: only the alef and the tah, which join nothing on their outer
        # side, keep their isolated glyphs (unshaped: uni0644, uni0631 and uni0628 as well).
        assert embedded_glyph_names(pdf, "ecandidatTestArabic") == {"uni0627", "uni0637"}


def test_hebrew_in_dejavu_prints_right_to_left():
    assert text_of("הרצל", "Tel Aviv, רחוב הרצל") == "הרצל\nTel Aviv, רחוב הרצל"  # unshaped: « לצרה »


def test_only_a_text_holding_a_right_to_left_script_is_shaped(arabic_fallback, mocker):
    set_text_shaping = mocker.spy(UnicodePDF, "set_text_shaping")
    pdf = drawn("Łukasz Σωκράτης Пётр", "王小明 Ahmed")
    assert set_text_shaping.call_count == 0  # fpdf2's plain path, as without the Arabic font

    pdf.multi_cell(0, 6, "Rue 12, الرباط", new_x="LMARGIN", new_y="NEXT")
    assert pdf.text_shaping
    pdf.multi_cell(0, 6, "Rabat, Maroc", new_x="LMARGIN", new_y="NEXT")
    assert pdf.text_shaping is None

    assert [call.args[1] for call in set_text_shaping.call_args_list] == [True, False]
    assert extracted(pdf).splitlines() == ["Łukasz Σωκράτης Пётр", "王小明 Ahmed", "Rue 12, الرباط", "Rabat, Maroc"]


def test_arabic_no_font_draws_is_not_shaped(cjk_fallback):
    pdf = drawn("أحمد Ahmed")

    assert extracted(pdf) == "\ufffd\ufffd\ufffd\ufffd Ahmed"
    assert pdf.text_shaping is None


def test_fit_cuts_a_right_to_left_text_at_its_end(arabic_fallback):
    pdf = UnicodePDF()
    pdf.add_page()
    pdf.set_font(FONT, "", 10)

    cut = pdf.fit("الرباط " * 20, 40)

    assert cut.startswith("الرباط الرباط")
    assert cut.endswith("…")
    assert pdf.get_string_width(cut) <= 40 - 2 * pdf.c_margin


def test_the_test_fonts_and_their_licence_are_in_the_repository():
    assert TEST_CJK_FONT.is_file()
    assert TEST_ARABIC_FONT.is_file()
    assert "SIL OPEN FONT LICENSE Version 1.1" in (TEST_CJK_FONT.parent / "LICENSE").read_text()
