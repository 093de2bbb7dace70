"""Filled PDF form fields drawn into their page's content (flattened), for PDFs laid into another one.

A filled form (a candidate's « dossier de candidature complémentaire », as Acrobat saves it) keeps each value in
a widget annotation's appearance stream. PDFium (Chrome, Edge) draws widgets only through the form layer of the
document that holds them: the dossier PDF and the commission's pack copy a piece's pages without its /AcroForm,
or with one among many, and showed every field empty. ``flatten_widgets`` draws each visible widget's normal
appearance in the page content instead, placed as the PDF specification places an appearance (ISO 32000-1,
12.5.5: its /BBox transformed by its /Matrix, then mapped onto the annotation's /Rect), and takes those widgets off
the page's /Annots: every reader shows the values, and none can edit them any more.

Nothing is decoded: the page's content streams are kept as they are, between a ``q`` of a stream before them and
a ``Q`` of one after them, where the appearances are drawn; an appearance stream becomes a Form XObject of the
page's resources as it is. A widget that cannot be placed (no appearance, no usable /Rect or /BBox, a broken
reference) stays an annotation, as it was; a hidden one (flag Hidden or NoView) too, as readers show nothing of it.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from pypdf import PageObject, PdfWriter
from pypdf.generic import (
    ArrayObject,
    DecodedStreamObject,
    DictionaryObject,
    IndirectObject,
    NameObject,
    StreamObject,
)

logger = logging.getLogger(__name__)

HIDDEN = 1 << 1  # annotation flags (ISO 32000-1, table 165): bit 2 Hidden
NO_VIEW = 1 << 5  # bit 6 NoView
IDENTITY = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)
XOBJECT_PREFIX = "FlatField"
PARENT_DEPTH = 32  # how far up the page tree an inherited /Resources is looked for


def flatten_widgets(page: PageObject, writer: PdfWriter) -> int:
    """Draw the normal appearance of each visible widget annotation of ``page`` (a page of ``writer``, as
    ``writer.append`` copies it) into the page's content and remove those widgets from its /Annots; other
    annotations (links...) are kept. Returns how many widgets were flattened; the page is left unchanged when none
    was. Never raises: a widget that cannot be drawn is left as it was, and a page whose content or resources are
    not what the specification allows is left whole."""
    try:
        return _flatten(page, writer)
    except Exception as error:  # a hostile file can make pypdf raise anything  # noqa: BLE001
        logger.warning("Form fields not flattened (%s: %s)", type(error).__name__, error)
        return 0


def _flatten(page: PageObject, writer: PdfWriter) -> int:
    annots = _resolve(page.get("/Annots"))
    if not isinstance(annots, ArrayObject):
        return 0
    kept: list[Any] = []
    placed: list[tuple[IndirectObject | StreamObject, tuple[float, ...]]] = []
    for entry in annots:
        annotation = _resolve(entry)
        placement = _placement(annotation) if _is_widget(annotation) else None
        if placement is None:
            kept.append(entry)
        else:
            placed.append(placement)
    if not placed:
        return 0
    # Checked before anything is changed: the page is left whole when one of them is not what it should be.
    resources = _resources(page)
    if resources is None:
        return 0
    xobjects = _resolve(resources.get("/XObject", DictionaryObject()))
    if not isinstance(xobjects, DictionaryObject):
        return 0
    contents = _content_streams(page, writer)
    if contents is None:
        return 0
    xobjects = DictionaryObject(xobjects)  # copies: the originals may be shared with other pages
    resources = DictionaryObject(resources)
    drawing = []
    for appearance, matrix in placed:
        name = _fresh_name(xobjects)
        if isinstance(appearance, StreamObject):  # a stream held directly (not a reference): made an object
            appearance = writer._add_object(appearance)
        stream = appearance.get_object()
        if isinstance(stream, StreamObject) and "/Subtype" not in stream:
            stream[NameObject("/Subtype")] = NameObject("/Form")  # an appearance stream is a form XObject
        xobjects[NameObject(name)] = appearance
        drawing.append(f"q {' '.join(_number(v) for v in matrix)} cm {name} Do Q\n")
    resources[NameObject("/XObject")] = xobjects
    before = DecodedStreamObject()
    before.set_data(b"q\n")
    after = DecodedStreamObject()
    # The newline first: the page's last stream may end on an operator with no white space after it.
    after.set_data(("\nQ\n" + "".join(drawing)).encode("ascii"))
    page[NameObject("/Contents")] = ArrayObject([writer._add_object(before), *contents, writer._add_object(after)])
    page[NameObject("/Resources")] = resources
    if kept:
        page[NameObject("/Annots")] = ArrayObject(kept)
    else:
        del page["/Annots"]
    return len(placed)


def _resolve(value: Any) -> Any:
    """The object ``value`` stands for (``None`` for a reference that leads nowhere)."""
    try:
        while isinstance(value, IndirectObject):
            value = value.get_object()
    except Exception:  # a broken reference: read as missing  # noqa: BLE001
        return None
    return value


def _is_widget(annotation: Any) -> bool:
    return isinstance(annotation, DictionaryObject) and _resolve(annotation.get("/Subtype")) == "/Widget"


def _placement(widget: DictionaryObject) -> tuple[IndirectObject | StreamObject, tuple[float, ...]] | None:
    """The widget's normal appearance stream and the matrix that places it on the page, or ``None`` when it is
    hidden or cannot be placed."""
    try:
        flags = _resolve(widget.get("/F", 0))
        if isinstance(flags, int) and flags & (HIDDEN | NO_VIEW):
            return None
        rect = _numbers(widget.get("/Rect"), 4)
        if rect is None:
            return None
        reference = _normal_appearance(widget)
        stream = _resolve(reference)
        if not isinstance(stream, StreamObject) or _resolve(stream.get("/Subtype", "/Form")) != "/Form":
            return None
        bbox = _numbers(stream.get("/BBox"), 4)
        matrix = _numbers(stream["/Matrix"], 6) if "/Matrix" in stream else IDENTITY
        placing = None if bbox is None or matrix is None else _rect_matrix(rect, bbox, matrix)
        if placing is None:
            return None
        return reference, placing
    except Exception as error:  # anything odd in this widget: it stays as it was  # noqa: BLE001
        logger.info("Form field not flattened (%s: %s)", type(error).__name__, error)
        return None


def _normal_appearance(widget: DictionaryObject) -> Any:
    """The widget's /AP /N: the stream itself, or for a dictionary of states the one its /AS names (as stored: a
    reference, or a stream held directly)."""
    appearances = _resolve(widget.get("/AP"))
    if not isinstance(appearances, DictionaryObject):
        return None
    normal = appearances.get("/N")
    states = _resolve(normal)
    if isinstance(states, StreamObject) or not isinstance(states, DictionaryObject):
        return normal
    state = _resolve(widget.get("/AS"))
    return states.get(state) if isinstance(state, NameObject) else None


def _numbers(value: Any, count: int) -> tuple[float, ...] | None:
    """An array of ``count`` finite numbers, or ``None``."""
    array = _resolve(value)
    if not isinstance(array, ArrayObject) or len(array) != count:
        return None
    numbers = []
    for item in array:
        number = _resolve(item)
        if isinstance(number, bool) or not isinstance(number, int | float) or not math.isfinite(float(number)):
            return None
        numbers.append(float(number))
    return tuple(numbers)


def _rect_matrix(
    rect: tuple[float, ...], bbox: tuple[float, ...], matrix: tuple[float, ...]
) -> tuple[float, ...] | None:
    """ISO 32000-1, 12.5.5: the matrix A that maps the appearance's /BBox, transformed by its /Matrix, onto the
    annotation's /Rect (the form's /Matrix itself is applied by ``Do``); ``None`` for an empty area."""
    a, b, c, d, e, f = matrix
    corners = [(x, y) for x in (bbox[0], bbox[2]) for y in (bbox[1], bbox[3])]
    xs = [a * x + c * y + e for x, y in corners]
    ys = [b * x + d * y + f for x, y in corners]
    width, height = max(xs) - min(xs), max(ys) - min(ys)
    left, right = sorted((rect[0], rect[2]))
    bottom, top = sorted((rect[1], rect[3]))
    if min(width, height, right - left, top - bottom) <= 1e-6:
        return None
    scale_x, scale_y = (right - left) / width, (top - bottom) / height
    return scale_x, 0.0, 0.0, scale_y, left - min(xs) * scale_x, bottom - min(ys) * scale_y


def _content_streams(page: PageObject, writer: PdfWriter) -> list[Any] | None:
    """The page's content streams, as stored (references), to be kept as they are; ``None`` when /Contents is
    something else than a stream or an array of them."""
    if "/Contents" not in page:
        return []
    raw = page["/Contents"]
    contents = _resolve(raw)
    if isinstance(contents, ArrayObject):
        return list(contents)
    if not isinstance(contents, StreamObject):
        return None
    return [raw if isinstance(raw, IndirectObject) else writer._add_object(contents)]


def _resources(page: PageObject) -> DictionaryObject | None:
    """The page's resources, its own or inherited from the page tree; ``None`` when they are not a dictionary."""
    node: Any = page
    for _level in range(PARENT_DEPTH):
        if not isinstance(node, DictionaryObject):
            break
        if "/Resources" in node:
            resources = _resolve(node["/Resources"])
            return resources if isinstance(resources, DictionaryObject) else None
        node = _resolve(node.get("/Parent"))
    return DictionaryObject()


def _fresh_name(xobjects: DictionaryObject) -> str:
    number = 1
    while f"/{XOBJECT_PREFIX}{number}" in xobjects:
        number += 1
    return f"/{XOBJECT_PREFIX}{number}"


def _number(value: float) -> str:
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text
