"""``UnicodePDF``: the PDFs' embedded font (DejaVu Sans) writes names in Latin, Greek and Cyrillic script as typed;
what it lacks is marked, not dropped."""

import io

from pypdf import PdfReader

from ecandidat.pdf import FONT, FONT_DIR, FONT_FILES, UnicodePDF


def text_of(*lines: str, style: str = "") -> str:
    pdf = UnicodePDF()
    pdf.add_page()
    pdf.set_font(FONT, style, 11)
    for line in lines:
        pdf.multi_cell(0, 6, line, new_x="LMARGIN", new_y="NEXT")
    return PdfReader(io.BytesIO(bytes(pdf.output()))).pages[0].extract_text()


def test_names_print_as_typed_in_every_style():
    names = ("Ştefănescu", "Łukasz", "Nguyễn", "Σωκράτης", "Пётр", "Œdipe – « l’été »")
    for style in ("", "B", "I", "BI"):
        assert text_of(*names, style=style).splitlines() == list(names)


def test_a_decomposed_accent_prints_composed():
    assert text_of("Ame\u0301lie") == "Amélie"


def test_a_character_the_font_lacks_is_the_replacement_character():
    assert text_of("王小明 Ahmed") == "\ufffd\ufffd\ufffd Ahmed"
    assert text_of("أحمد Ahmed") == "\ufffd\ufffd\ufffd\ufffd Ahmed"  # Arabic: left out of the reduced files


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
