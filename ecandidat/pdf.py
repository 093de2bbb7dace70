"""fpdf2 with an embedded Unicode font, for every PDF the project draws (dossier, letters, commission pack).

fpdf2's core fonts (Helvetica…) know Latin-1 only: « Łukasz », « Nguyễn », « Σωκράτης » or « Пётр » cannot be
written with them. ``UnicodePDF`` writes with DejaVu Sans (``ecandidat/fonts/``, with its licence), reduced to
Latin, IPA, Greek, Cyrillic, Armenian, Hebrew, Georgian, punctuation and common symbols (fpdf2 parses and cuts the
whole file for every PDF: the reduced files halve that cost, see ``ecandidat/fonts/LICENSE``); fpdf2 embeds only
the glyphs a document uses (a few tens of KB per style). A style's file is read on its first ``set_font``, not
before: an overlay that writes one bold line pays for one font, not four.

A character the font lacks (Chinese, Japanese, Korean, Arabic, Indic scripts…) prints as « � » (U+FFFD, the
replacement character) rather than as an empty box or nothing: the reader sees that the PDF could not show it (the
web pages do). Arabic would print unjoined anyway: fpdf2 joins its letters only with uharfbuzz, not installed.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import TextEmphasis
from fpdf.fonts import TTFFont

FONT = "dejavu"
FONT_DIR = Path(__file__).resolve().parent / "fonts"
FONT_FILES = {
    "": "DejaVuSans.ttf",
    "B": "DejaVuSans-Bold.ttf",
    "I": "DejaVuSans-Oblique.ttf",
    "BI": "DejaVuSans-BoldOblique.ttf",
}
MISSING = "\ufffd"
# What a line may hold that no font draws: fpdf2 breaks lines on them.
_CONTROL = frozenset("\n\r\t")


class UnicodePDF(FPDF):
    """An ``FPDF`` whose font is ``FONT`` (DejaVu Sans), embedded: ``set_font(FONT, "B", 12)``."""

    def set_font(self, family: str | None = None, style: str | TextEmphasis = "", size: float = 0) -> None:
        if (family or self.font_family).lower() == FONT:
            emphasis = style.style if isinstance(style, TextEmphasis) else style.upper()
            key = "".join(sorted(letter for letter in emphasis if letter in "BI"))
            if f"{FONT}{key}" not in self.fonts:
                self.add_font(FONT, key, FONT_DIR / FONT_FILES[key])
        super().set_font(family, style, size)

    def normalize_text(self, text: str) -> str:
        """Composed accents (a name typed « e » + U+0301 prints as « é »), and « � » for a character the current
        font lacks."""
        text = unicodedata.normalize("NFC", super().normalize_text(text))
        if not isinstance(self.current_font, TTFFont):
            return text
        cmap = self.current_font.cmap
        if all(ord(char) in cmap or char in _CONTROL for char in text):
            return text
        return "".join(char if ord(char) in cmap or char in _CONTROL else MISSING for char in text)

    def fit(self, text: str, width: float) -> str:
        """``text`` cut with « … » so that it fits ``width`` (in the document's unit) in the current font: a cell
        does not clip, a long name would run over the next column. Margins inside the cell (``c_margin``) count."""
        room = width - 2 * self.c_margin
        if self.get_string_width(text) <= room:
            return text
        while text and self.get_string_width(f"{text}…") > room:
            text = text[:-1]
        return f"{text.rstrip()}…"
