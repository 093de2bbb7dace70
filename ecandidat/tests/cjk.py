"""Fallback fonts for the tests of Chinese, Japanese, Korean and Arabic in the PDFs (``PDF_FALLBACK_FONTS``)."""

from pathlib import Path

# Noto Sans CJK SC cut to 王小明北京大学, 김 and の, renamed (tests/fonts/LICENSE): a real CJK font (CID-keyed CFF,
# as Debian's fonts-noto-cjk) that no machine needs to have installed.
TEST_CJK_FONT = Path(__file__).resolve().parent / "fonts" / "ecandidatTestCJK-Regular.otf"

# Noto Naskh Arabic cut to the letters of « الرباط » with their joined forms and its layout tables (GSUB, GPOS),
# renamed (tests/fonts/LICENSE): fpdf2 shapes with it as with the whole font.
TEST_ARABIC_FONT = Path(__file__).resolve().parent / "fonts" / "ecandidatTestArabic-Regular.ttf"
