"""The child process that runs PDFium for the staff preview (``documents.preview``), under limits of its own.

A candidate's PDF can pass every upload check (``documents.validation``) and still ask PDFium for minutes of CPU:
two kilobytes of compressed content that fill the page twenty thousand times over take more than 30 s to draw. Run
inside a gunicorn worker, such a page held that worker until gunicorn's timeout killed it, with the request it
served, and a reading page asks for up to ten pages at once. Here each count or drawing is a short-lived process that
the kernel stops at its CPU and address-space limits, and that the parent kills at its wall-clock limit: a costly
file costs one child, never a worker, and the parent answers "no preview" in words.

Run by ``documents.preview`` as ``python -I pdf_raster.py --cpu-seconds N --memory-mb M ACTION``, the PDF on
standard input: ``count SIZE...`` (several documents end to end, one child for a whole reading page) or
``render PAGE SIDE``. It imports neither Django nor the project (isolated mode, nothing from the environment): it
starts in about 0.1 s and sees nothing but the bytes it is given.

Filled form fields are drawn: PDFium's form layer is set up on each document before any page is loaded, and pages
are drawn with it, so a field shows the value saved in its appearance (without it a filled « dossier de candidature
complémentaire » showed empty fields). That layer runs no script: the PDFium of pypdfium2's wheels is built without
V8 (JavaScript) and XFA, and the form environment is given no JavaScript platform.

Output on standard output: ``count`` writes one line per document, its number of pages or ``x`` if PDFium cannot
read it; ``render`` writes the PNG of page ``PAGE`` (1-based), at most ``SIDE`` pixels on its long side. Exit
status: 0 done, ``UNREADABLE`` the file or page cannot be read, ``TOO_COSTLY`` out of memory; a child killed by the
kernel (``SIGXCPU``, ``SIGKILL``) also means too costly.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import resource
import sys

UNREADABLE = 3
TOO_COSTLY = 4


def _limit(cpu_seconds: int, memory_mb: int) -> None:
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))  # SIGXCPU, then SIGKILL one second on
    memory = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _render(pdf, page: int, side: int) -> bytes:  # noqa: ANN001 - pypdfium2 is untyped
    pdf_page = pdf[page - 1]
    try:
        width, height = pdf_page.get_size()
        scale = min(side / max(width, height, 1.0), 3.0)
        # Form fields are drawn by the form layer (``init_forms``), the other annotations with the page.
        bitmap = pdf_page.render(scale=scale, may_draw_forms=True, draw_annots=True)
        image = bitmap.to_pil()
    finally:
        pdf_page.close()
    if image.mode not in ("RGB", "RGBA", "L", "LA"):
        image = image.convert("RGB")
    output = io.BytesIO()
    # Level 1: a noisy A4 scan at 1600 px is encoded in 0.35 s instead of 1.4 s at level 6, for the same size.
    image.save(output, format="PNG", compress_level=1)
    return output.getvalue()


def _count(pdfium, content: bytes, sizes: list[int]) -> str:  # noqa: ANN001 - pypdfium2 is untyped
    """One line per document (``content`` holds them end to end): its number of pages, or ``x`` if unreadable."""
    lines, offset = [], 0
    for size in sizes:
        try:
            pdf = pdfium.PdfDocument(content[offset : offset + size])
        except pdfium.PdfiumError:
            lines.append("x")
        else:
            try:
                lines.append(str(len(pdf)))
            finally:
                pdf.close()
        offset += size
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="pdf_raster")
    parser.add_argument("--cpu-seconds", type=int, required=True)
    parser.add_argument("--memory-mb", type=int, required=True)
    actions = parser.add_subparsers(dest="action", required=True)
    count = actions.add_parser("count", help="count the pages of the documents given end to end on stdin")
    count.add_argument("sizes", type=int, nargs="+", help="the size in bytes of each document, in order")
    render = actions.add_parser("render", help="draw one page of the document on stdin as a PNG")
    render.add_argument("page", type=int)
    render.add_argument("side", type=int)
    arguments = parser.parse_args(argv)
    _limit(arguments.cpu_seconds, arguments.memory_mb)
    try:
        content = sys.stdin.buffer.read()
        import pypdfium2 as pdfium  # noqa: PLC0415 - imported under the limits

        if arguments.action == "count":
            sys.stdout.write(_count(pdfium, content, arguments.sizes))
            return 0
        try:
            pdf = pdfium.PdfDocument(content)
        except pdfium.PdfiumError:
            return UNREADABLE
        try:
            # Before any page is loaded (a page loaded earlier has no form fields drawn). Without the form layer
            # (PDFium cannot set it up), the page is still drawn, its fields empty.
            with contextlib.suppress(pdfium.PdfiumError):
                pdf.init_forms()
            if not 1 <= arguments.page <= len(pdf):
                return UNREADABLE
            try:
                png = _render(pdf, arguments.page, arguments.side)
            except pdfium.PdfiumError:
                return UNREADABLE
            sys.stdout.buffer.write(png)
            return 0
        finally:
            pdf.close()
    except MemoryError:
        return TOO_COSTLY


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
