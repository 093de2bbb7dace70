"""One PDF for a commission pack (issue 11): a table of contents, then every dossier PDF, with a bookmark per
candidate, written to a file one dossier at a time.

pypdf's ``PdfWriter`` keeps every page it was given until ``write``: merging 200 dossiers of 3.5 MB that way holds
the whole 700 MB in memory. ``StreamingPdfWriter`` writes each source document's objects to the output as soon as
it has read them (renumbered, with the references rewritten), then forgets the document: what it keeps is one
offset per object written, the number of each page object and the bookmarks' titles. The page tree, the table of
contents (drawn last, placed first: its page numbers are known by then), the outline and the cross-reference table
are written at the end. The table of contents' lines are links to each dossier's first page.

Only what a page needs is copied: the page objects (with the attributes they inherit, which pypdf resolves) and
everything they reference; a source's catalog, its outline, forms and names are not (internal links by name
stop working; links to a page keep working).
"""

from __future__ import annotations

import io
from collections import deque
from dataclasses import dataclass, field
from typing import IO, Any

from pypdf import PdfReader
from pypdf.generic import (
    ArrayObject,
    DictionaryObject,
    FloatObject,
    IndirectObject,
    NameObject,
    NullObject,
    NumberObject,
    PdfObject,
    StreamObject,
    create_string_object,
)

from applications.dossier_pdf import A4
from ecandidat.pdf import FONT, UnicodePDF

HEADER = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"


@dataclass
class _Bookmark:
    title: str
    page_index: int  # among the dossiers' pages (the table of contents comes before)


@dataclass
class StreamingPdfWriter:
    """Append whole PDF documents to ``out`` one at a time; ``finish`` adds the table of contents, the outline and
    the cross-reference table."""

    out: IO[bytes]
    offsets: list[int] = field(default_factory=lambda: [0])  # object number -> byte offset; 0 is the free entry
    page_numbers: list[int] = field(default_factory=list)  # object numbers of the dossiers' pages, in order
    bookmarks: list[_Bookmark] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.out.write(HEADER)
        self.pages_root = self._reserve()

    def _reserve(self) -> int:
        self.offsets.append(0)
        return len(self.offsets) - 1

    def _write(self, number: int, obj: PdfObject) -> None:
        self.offsets[number] = self.out.tell()
        self.out.write(f"{number} 0 obj\n".encode())
        obj.write_to_stream(self.out)
        self.out.write(b"\nendobj\n")

    @staticmethod
    def _ref(number: int) -> IndirectObject:
        return IndirectObject(number, 0, None)

    def add_document(self, source: IO[bytes], *, title: str) -> int:
        """Copy every page of the PDF ``source`` (with what they reference) and bookmark its first page under
        ``title``. Returns the number of pages added."""
        numbers = self._copy(PdfReader(source))
        if numbers:
            self.bookmarks.append(_Bookmark(title=title, page_index=len(self.page_numbers)))
            self.page_numbers.extend(numbers)
        return len(numbers)

    def _copy(self, reader: PdfReader, annotations: dict[int, list[int]] | None = None) -> list[int]:
        """Write the pages of ``reader`` and every object they reach, renumbered; ``annotations``: page index ->
        object numbers to list in that page's /Annots (instead of its own). Returns the pages' new numbers."""
        renumbered: dict[tuple[int, int], int] = {}
        pending: deque[tuple[int, PdfObject]] = deque()

        def number_of(reference: IndirectObject) -> int:
            key = (reference.idnum, reference.generation)
            if key not in renumbered:
                renumbered[key] = self._reserve()
                target = reference.get_object()  # None for a reference to a free object
                pending.append((renumbered[key], NullObject() if target is None else target))
            return renumbered[key]

        def convert(obj: Any) -> Any:
            if isinstance(obj, IndirectObject):
                return self._ref(number_of(obj))
            if isinstance(obj, StreamObject):
                copy: StreamObject = type(obj)()
                copy._data = obj._data  # the encoded bytes as stored: written again as they are, never decoded
                copy.update({key: convert(value) for key, value in obj.items() if key != "/Length"})
                return copy
            if isinstance(obj, DictionaryObject):
                return DictionaryObject({key: convert(value) for key, value in obj.items()})
            if isinstance(obj, ArrayObject):
                return ArrayObject(convert(value) for value in obj)
            return obj

        # Pages first, by their own dictionaries: pypdf has resolved the attributes they inherit (resources,
        # boxes, rotation), so the source's page tree is not needed; /Parent is never followed.
        page_objects = list(reader.pages)
        numbers = []
        for page in page_objects:  # numbered before anything is converted: a link to a later page finds it here
            assert page.indirect_reference is not None  # a page read from a file is an indirect object
            key = (page.indirect_reference.idnum, page.indirect_reference.generation)
            renumbered[key] = self._reserve()
            numbers.append(renumbered[key])
        pages: list[tuple[int, DictionaryObject]] = []
        for index, (number, page) in enumerate(zip(numbers, page_objects, strict=True)):
            own_annots = bool(annotations) and index in (annotations or {})
            skip = {"/Parent", "/Annots"} if own_annots else {"/Parent"}
            copy = DictionaryObject({key: convert(value) for key, value in page.items() if key not in skip})
            copy[NameObject("/Parent")] = self._ref(self.pages_root)
            if own_annots and annotations:
                copy[NameObject("/Annots")] = ArrayObject(self._ref(a) for a in annotations[index])
            pages.append((number, copy))
        for number, copy in pages:
            self._write(number, copy)
        while pending:
            number, obj = pending.popleft()
            self._write(number, convert(obj))
        return [number for number, _copy in pages]

    def finish(self, *, toc_title: str, toc_heading: str, toc_lines: list[tuple[str, str]]) -> int:
        """Write the table of contents (first in page order, each line a link to its dossier), the page tree, the
        outline, the catalog and the cross-reference table. ``toc_lines``: (candidate, formation) per bookmark,
        in order. Returns the number of pages of the whole document."""
        toc, links = _table_of_contents(toc_title, toc_heading, toc_lines, [b.page_index for b in self.bookmarks])
        per_page: dict[int, list[int]] = {}
        for toc_page, rect, target in links:
            annotation = self._reserve()
            self._write(
                annotation,
                DictionaryObject(
                    {
                        NameObject("/Type"): NameObject("/Annot"),
                        NameObject("/Subtype"): NameObject("/Link"),
                        NameObject("/Rect"): ArrayObject(FloatObject(round(v, 2)) for v in rect),
                        NameObject("/Border"): ArrayObject([NumberObject(0)] * 3),
                        NameObject("/Dest"): self._fit(self.page_numbers[target]),
                    }
                ),
            )
            per_page.setdefault(toc_page, []).append(annotation)
        toc_numbers = self._copy(PdfReader(io.BytesIO(toc)), per_page)
        kids = ArrayObject(self._ref(number) for number in [*toc_numbers, *self.page_numbers])
        self._write(
            self.pages_root,
            DictionaryObject(
                {
                    NameObject("/Type"): NameObject("/Pages"),
                    NameObject("/Kids"): kids,
                    NameObject("/Count"): NumberObject(len(kids)),
                }
            ),
        )
        outline = self._write_outline(toc_title, toc_numbers[0])
        catalog = self._reserve()
        self._write(
            catalog,
            DictionaryObject(
                {
                    NameObject("/Type"): NameObject("/Catalog"),
                    NameObject("/Pages"): self._ref(self.pages_root),
                    NameObject("/Outlines"): self._ref(outline),
                    NameObject("/PageMode"): NameObject("/UseOutlines"),
                }
            ),
        )
        self._write_xref(catalog)
        return len(kids)

    def _fit(self, page_number: int) -> ArrayObject:
        return ArrayObject([self._ref(page_number), NameObject("/XYZ"), NullObject(), NullObject(), NullObject()])

    def _write_outline(self, toc_title: str, toc_page: int) -> int:
        root = self._reserve()
        entries = [(toc_title, toc_page)] + [
            (bookmark.title, self.page_numbers[bookmark.page_index]) for bookmark in self.bookmarks
        ]
        numbers = [self._reserve() for _ in entries]
        for index, ((title, page), number) in enumerate(zip(entries, numbers, strict=True)):
            item = DictionaryObject(
                {
                    NameObject("/Title"): create_string_object(title),
                    NameObject("/Parent"): self._ref(root),
                    NameObject("/Dest"): self._fit(page),
                }
            )
            if index:
                item[NameObject("/Prev")] = self._ref(numbers[index - 1])
            if index + 1 < len(numbers):
                item[NameObject("/Next")] = self._ref(numbers[index + 1])
            self._write(number, item)
        self._write(
            root,
            DictionaryObject(
                {
                    NameObject("/Type"): NameObject("/Outlines"),
                    NameObject("/First"): self._ref(numbers[0]),
                    NameObject("/Last"): self._ref(numbers[-1]),
                    NameObject("/Count"): NumberObject(len(numbers)),
                }
            ),
        )
        return root

    def _write_xref(self, catalog: int) -> None:
        start = self.out.tell()
        size = len(self.offsets)
        self.out.write(f"xref\n0 {size}\n0000000000 65535 f \n".encode())
        for offset in self.offsets[1:]:
            self.out.write(f"{offset:010d} 00000 n \n".encode())
        self.out.write(f"trailer\n<< /Size {size} /Root {catalog} 0 R >>\nstartxref\n{start}\n%%EOF\n".encode())


# --- the table of contents --------------------------------------------------------------------------------------

LINE_HEIGHT = 16.0  # pt
MARGIN = 40.0


def _table_of_contents(
    title: str, heading: str, lines: list[tuple[str, str]], starts: list[int]
) -> tuple[bytes, list[tuple[int, tuple[float, float, float, float], int]]]:
    """The table of contents as a PDF, and its links: (TOC page, rectangle in PDF coordinates, dossier page
    index). Page numbers count the table's own pages, so it is drawn until its length stops changing."""
    own_pages = 1
    while True:
        pdf, links = _draw_toc(title, heading, lines, starts, own_pages)
        if pdf.pages_count == own_pages:
            return bytes(pdf.output()), links
        own_pages = pdf.pages_count


def _draw_toc(
    title: str, heading: str, lines: list[tuple[str, str]], starts: list[int], own_pages: int
) -> tuple[UnicodePDF, list[tuple[int, tuple[float, float, float, float], int]]]:
    pdf = UnicodePDF(unit="pt", format=A4)
    pdf.set_title(title)
    pdf.set_auto_page_break(True, margin=MARGIN)
    pdf.set_margins(MARGIN, MARGIN, MARGIN)
    pdf.add_page()
    pdf.set_font(FONT, "B", 16)
    pdf.cell(0, 24, title, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, "", 9)
    pdf.multi_cell(0, 12, heading, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(6)
    width = A4[0] - 2 * MARGIN
    links = []
    for index, ((candidate, formation), start) in enumerate(zip(lines, starts, strict=True), start=1):
        if pdf.get_y() + LINE_HEIGHT > A4[1] - MARGIN:
            pdf.add_page()
        y = pdf.get_y()
        page_label = str(own_pages + start + 1)
        pdf.set_font(FONT, "", 10)
        pdf.cell(28, LINE_HEIGHT, f"{index}.")
        pdf.cell(width - 28 - 150 - 40, LINE_HEIGHT, pdf.fit(candidate, width - 28 - 150 - 40))
        pdf.set_font(FONT, "", 9)
        pdf.cell(150, LINE_HEIGHT, pdf.fit(formation, 150))
        pdf.set_font(FONT, "", 10)
        pdf.cell(40, LINE_HEIGHT, page_label, align="R", new_x="LMARGIN", new_y="NEXT")
        # fpdf2 measures from the top of the page, PDF rectangles from the bottom.
        links.append((pdf.page - 1, (MARGIN, A4[1] - y - LINE_HEIGHT, A4[0] - MARGIN, A4[1] - y), start))
    return pdf, links
