"""Objects in honest and hostile PDF pieces, and what they cost to check and to lay in a dossier PDF.

Usage: ``.venv/bin/python -m bench.bench_pdf_objects [FILE.pdf ...]``. Builds honest documents (a 300-page text
thesis and a 20-page scan written by fpdf2, a tagged (accessible) PDF printed by Chromium when Playwright and
/usr/bin/chromium are there), takes the PDFs of the Debian documentation when installed and any FILE given, then
hostile ones made of many small objects. For each: size, pages, indirect objects counted from the cross-reference
data (``documents.validation.pdf_object_count``), the upload check's time and verdict, and for an accepted file
the time of the dossier PDF's copy of it (``PdfWriter.append`` and write, as ``applications.dossier_pdf`` does).
The ``MAX_PDF_OBJECTS`` comment in ``documents/validation.py`` quotes these figures.
"""

import io
import logging
import os
import sys
import time
from pathlib import Path

from django.core.exceptions import ValidationError  # noqa: E402
from django.core.files.uploadedfile import SimpleUploadedFile  # noqa: E402
from fpdf import FPDF  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402 - a development requirement
from pypdf import PdfReader, PdfWriter  # noqa: E402

from bench import _harness  # noqa: F401 - sets Django up
from documents.tests import hostile_files as hostile  # noqa: E402
from documents.validation import pdf_object_count, validate_upload  # noqa: E402

SYSTEM_PDFS = [
    "/usr/share/doc/libtasn1-doc/libtasn1.pdf",  # pdfTeX: a LaTeX manual
    "/usr/share/doc/shared-mime-info/shared-mime-info-spec.pdf",
]
PARAGRAPH = (
    "La présente thèse étudie les dynamiques sédimentaires du littoral roussillonnais à partir de relevés "
    "effectués entre 2019 et 2024, comparés aux séries historiques de l'observatoire. "
) * 3


def fpdf_thesis(pages: int = 300) -> bytes:
    pdf = FPDF()
    pdf.set_auto_page_break(True, 20)
    for number in range(pages):
        pdf.add_page()
        pdf.start_section(f"Section {number}")
        pdf.set_font("helvetica", "B", 14)
        pdf.cell(0, 10, f"Section {number}", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("helvetica", "", 10)
        for _ in range(4):
            pdf.multi_cell(0, 5, PARAGRAPH, new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def fpdf_scan(pages: int = 20) -> bytes:
    pdf = FPDF()
    for number in range(pages):
        image = Image.new("L", (620, 877), 245)
        ImageDraw.Draw(image).text((40, 40 + number), f"Relevé de notes, page {number + 1}", fill=20)
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=60)
        pdf.add_page()
        pdf.image(io.BytesIO(buffer.getvalue()), x=0, y=0, w=210, h=297, alt_text=f"Page {number + 1}")
    return bytes(pdf.output())


def chromium_tagged(paragraphs: int) -> bytes | None:
    """A thesis-like HTML page (headings, paragraphs, lists, tables) printed to a tagged PDF with an outline."""
    if not Path("/usr/bin/chromium").exists():
        return None
    parts = ["<html lang=fr><head><meta charset=utf-8><title>Thèse</title></head><body>"]
    for number in range(paragraphs):
        parts.append(f"<h2>Section {number}</h2><p>{PARAGRAPH}<a href='#s0'>voir</a></p>")
        parts.append("<ul>" + "".join(f"<li>Point {i} : granulométrie</li>" for i in range(4)) + "</ul>")
        rows = "".join(f"<tr><td>Site {i}</td><td>{i * 1.5:.1f}</td></tr>" for i in range(4))
        parts.append(f"<table><tr><th>Site</th><th>2024</th></tr>{rows}</table>")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium")
        page = browser.new_page()
        page.set_content("".join(parts) + "</body></html>")
        content = page.pdf(format="A4", tagged=True, outline=True)
        browser.close()
    return content


def nested_dictionary(depth: int) -> bytes:
    return hostile.pdf_with_nested_dictionaries(depth)


def measure(label: str, content: bytes) -> None:
    reader = PdfReader(io.BytesIO(content), strict=False)
    objects = pdf_object_count(reader)
    try:
        pages = str(len(reader.pages))
    except Exception as error:  # a hostile file can make pypdf raise anything
        pages = type(error).__name__[:4]
    start = time.perf_counter()
    try:
        validate_upload(SimpleUploadedFile("piece.pdf", content))
        verdict = "accepted"
    except ValidationError as error:
        verdict = error.code
    check = time.perf_counter() - start
    build = ""
    if verdict == "accepted":
        start = time.perf_counter()
        try:
            writer = PdfWriter()
            writer.append(PdfReader(io.BytesIO(content)))
            writer.write(io.BytesIO())
            outcome = ""
        except Exception as error:  # the dossier PDF puts a notice page instead
            outcome = f" ({type(error).__name__}: notice page)"
        build = f" | dossier copy {time.perf_counter() - start:5.2f} s{outcome}"
    print(
        f"{label:42} | {len(content) / 1e6:5.2f} MB | {pages:>4} p | {objects:7} objects | "
        f"{objects / (len(content) / 1e6):7.0f} /MB | check {check:5.2f} s {verdict}{build}"
    )


def main(paths: list[str]) -> None:
    logging.getLogger("pypdf").setLevel(logging.CRITICAL)  # as in production (ecandidat/settings/base.py)
    honest: list[tuple[str, bytes | None]] = [
        ("fpdf2 thesis, 300 pages of text", fpdf_thesis()),
        ("fpdf2 scan, 20 JPEG pages", fpdf_scan()),
        ("Chromium tagged PDF, thesis-like", chromium_tagged(120)),
    ]
    honest += [
        (os.path.basename(path), Path(path).read_bytes()) for path in SYSTEM_PDFS + paths if Path(path).exists()
    ]
    for label, content in honest:
        if content is not None:
            measure(label, content)
    for label, content in [
        ("hostile: 30,000 plain objects", hostile.pdf_with_object_chain(30_000)),
        ("hostile: 49,995 compressed objects (the cap)", hostile.pdf_with_compressed_objects(49_995)),
        ("hostile: 60,000 compressed objects", hostile.pdf_with_compressed_objects(60_000)),
        ("hostile: 65,000 compressed objects", hostile.pdf_with_compressed_objects(65_000)),
        ("hostile: 20,000 objects missing from xref", hostile.pdf_with_unlisted_objects(20_000)),
        ("hostile: dictionary nested 100,000 deep", nested_dictionary(100_000)),
        ("hostile: dictionary nested 280,000 deep", nested_dictionary(280_000)),
    ]:
        measure(label, content)


if __name__ == "__main__":
    main(sys.argv[1:])
