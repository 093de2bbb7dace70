"""fpdf2 with an embedded Unicode font, for every PDF the project draws (dossier, letters, commission pack).

fpdf2's core fonts (Helvetica…) know Latin-1 only: « Łukasz », « Nguyễn », « Σωκράτης » or « Пётр » cannot be
written with them. ``UnicodePDF`` writes with DejaVu Sans (``ecandidat/fonts/``, with its licence), reduced to
Latin, IPA, Greek, Cyrillic, Armenian, Hebrew, Georgian, punctuation and common symbols (fpdf2 parses and cuts the
whole file for every PDF: the reduced files halve that cost, see ``ecandidat/fonts/LICENSE``); fpdf2 embeds only
the glyphs a document uses (a few tens of KB per style). A style's file is read on its first ``set_font``, not
before: an overlay that writes one bold line pays for one font, not four.

Chinese, Japanese, Korean… are drawn by the fallback fonts of ``settings.PDF_FALLBACK_FONTS`` (fpdf2's
``set_fallback_fonts``), if the institution installed one (e.g. Debian's fonts-noto-cjk). Such a file is 10-20 MB
and fpdf2 parses it whole, then cuts it (about 0.3 s and 50 MB per PDF with Noto Sans CJK): a document reads the
fallback fonts on the first text holding a character DejaVu Sans lacks, once, and a document that has none never
reads them. One file per font, whatever the style: bold or italic text uses its regular glyphs
(``exact_match=False``); CJK fonts have no italic, and a bold file would cost a second parse for one bold line.

Arabic (and Hebrew, Syriac, Thaana…) is written right to left, and Arabic letters join their neighbours: fpdf2 orders
and joins them only with text shaping (uharfbuzz), several times slower than its plain path (about 1 ms more a line).
So a text is shaped only if it holds such a character (``SHAPED``: the right-to-left scripts, and the Indic scripts,
whose letters combine) that a font draws: ``normalize_text``, through which every ``cell``, ``multi_cell``, ``write``
and ``get_string_width`` passes, turns shaping on or off for the text it returns, and fpdf2 keeps that state in the
text's fragments (do not call ``set_text_shaping``). Arabic needs a fallback font (e.g. Debian's fonts-noto-core
NotoNaskhArabic-Regular.ttf, 180 KB); Hebrew is in DejaVu Sans. The fallback fonts are read together: a PDF holding
Arabic also parses a CJK file listed in the setting. Known limit of fpdf2 2.8.9's bidirectional algorithm: in a line
that starts in Latin script, digits right after Arabic or Hebrew words (« Rabat, شارع محمد 5 ») print after those
words instead of before them.

A character no font has (Chinese or Arabic without a fallback font, Indic scripts…) prints as « � » (U+FFFD, the
replacement character) rather than as an empty box or nothing: the reader sees that the PDF could not show it (the
web pages do).
"""

from __future__ import annotations

import logging
import re
import unicodedata
from pathlib import Path

from django.conf import settings
from fontTools.ttLib import TTLibError
from fpdf import FPDF
from fpdf.enums import TextEmphasis
from fpdf.fonts import TTFFont

logger = logging.getLogger(__name__)

FONT = "dejavu"
FONT_DIR = Path(__file__).resolve().parent / "fonts"
FONT_FILES = {
    "": "DejaVuSans.ttf",
    "B": "DejaVuSans-Bold.ttf",
    "I": "DejaVuSans-Oblique.ttf",
    "BI": "DejaVuSans-BoldOblique.ttf",
}
# The families of settings.PDF_FALLBACK_FONTS' files, in their order: fallback0, fallback1…
FALLBACK = "fallback"
MISSING = "\ufffd"
# What a line may hold that no font draws: fpdf2 breaks lines on them.
_CONTROL = frozenset("\n\r\t")
# What ``normalize_text`` changes before drawing: line separators, tab, other control characters, byte-order mark.
_INVISIBLE = {
    **{code: None for code in (*range(0x20), *range(0x7F, 0xA0), 0xFEFF) if chr(code) not in _CONTROL},
    **dict.fromkeys(map(ord, "\u2028\u2029\x0b\x0c\x85"), "\n"),
    ord("\t"): " ",
}
# The characters of a text that fpdf2 must shape: right-to-left scripts (Hebrew, Arabic, Syriac, Thaana, N'Ko,
# Samaritan…, their presentation forms, and the historic ones of plane 1), and the Indic scripts (Devanagari to
# Sinhala), whose vowel signs and conjuncts combine.
SHAPED = re.compile("[\u0590-\u08ff\u0900-\u0dff\ufb1d-\ufdff\ufe70-\ufefc\U00010800-\U00010fff\U0001e800-\U0001efff]")


class UnicodePDF(FPDF):
    """An ``FPDF`` whose font is ``FONT`` (DejaVu Sans), embedded: ``set_font(FONT, "B", 12)``."""

    # The fallback fonts' character maps once their files are read (on the first character DejaVu Sans lacks).
    _fallback_cmaps: list[dict[int, str]] | None = None

    def set_font(self, family: str | None = None, style: str | TextEmphasis = "", size: float = 0) -> None:
        if (family or self.font_family).lower() == FONT:
            emphasis = style.style if isinstance(style, TextEmphasis) else style.upper()
            key = "".join(sorted(letter for letter in emphasis if letter in "BI"))
            if f"{FONT}{key}" not in self.fonts:
                self.add_font(FONT, key, FONT_DIR / FONT_FILES[key])
        super().set_font(family, style, size)

    def normalize_text(self, text: str) -> str:
        """Composed accents (a name typed « e » + U+0301 prints as « é »), and « � » for a character neither the
        current font nor a fallback font has. Shaping is on for the text returned if it holds a character of
        ``SHAPED`` that a font draws, off otherwise: fpdf2 reads this state right after (a fragment keeps it)."""
        # A tab (an answer pasted from a table: « Licence 3⇥Master 1 ») is a space: fpdf2 drew nothing for it. The
        # other ways a pasted text breaks its lines (U+2028, U+2029, vertical tab, form feed, NEL) break the line;
        # the other control characters and the byte-order mark are invisible, as on the web pages: they printed « � ».
        text = super().normalize_text(text).translate(_INVISIBLE)
        text = self._drawable(unicodedata.normalize("NFC", text), fallback=True)
        shaped = SHAPED.search(text) is not None
        if shaped != bool(self.text_shaping):
            self.set_text_shaping(shaped)
        return text

    def text(self, x: float, y: float, text: str = "") -> None:
        """fpdf2's ``text()`` writes in the current font only, without fallback: what it lacks prints « � »."""
        super().text(x, y, self._drawable(unicodedata.normalize("NFC", text), fallback=False))

    def _drawable(self, text: str, *, fallback: bool) -> str:
        if not isinstance(self.current_font, TTFFont):
            return text
        cmap = self.current_font.cmap
        if all(ord(char) in cmap or char in _CONTROL for char in text):
            return text
        cmaps = [cmap, *self._fallback_fonts()] if fallback else [cmap]
        return "".join(
            char if char in _CONTROL or any(ord(char) in font_cmap for font_cmap in cmaps) else MISSING
            for char in text
        )

    def _fallback_fonts(self) -> list[dict[int, str]]:
        """The fallback fonts' character maps; their files are read on the document's first call (a file that cannot
        be read is logged and left out: its characters print « � », the PDF is still drawn)."""
        if self._fallback_cmaps is None:
            keys = []
            for number, (path, face) in enumerate(settings.PDF_FALLBACK_FONTS):
                try:
                    self.add_font(f"{FALLBACK}{number}", "", path, collection_font_number=face)
                except (OSError, TTLibError):
                    logger.exception("PDF_FALLBACK_FONTS: cannot read the font %s (face %s)", path, face)
                    continue
                keys.append(f"{FALLBACK}{number}")
            self.set_fallback_fonts(keys, exact_match=False)
            self._fallback_cmaps = [font.cmap for key in keys if isinstance(font := self.fonts[key], TTFFont)]
        return self._fallback_cmaps

    def fit(self, text: str, width: float) -> str:
        """``text`` cut with « … » so that it fits ``width`` (in the document's unit) in the current font: a cell
        does not clip, a long name would run over the next column. Margins inside the cell (``c_margin``) count."""
        room = width - 2 * self.c_margin
        if self.get_string_width(text) <= room:
            return text
        while text and self.get_string_width(f"{text}…") > room:
            text = text[:-1]
        return f"{text.rstrip()}…"
