"""Filled PDF forms (AcroForm text fields with their saved appearance, as Acrobat writes them): the staff preview
draws their values (``documents/pdf_raster.py`` sets up PDFium's form layer), and ``documents.pdf_forms`` draws
them into the page content for the PDFs that copy a piece's pages without its form (the dossier PDF, the pack)."""

import hashlib
import io

import pypdfium2 as pdfium
import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from PIL import Image
from pypdf import PdfReader, PdfWriter
from pypdf.generic import (
    ArrayObject,
    BooleanObject,
    DecodedStreamObject,
    DictionaryObject,
    FloatObject,
    IndirectObject,
    NameObject,
    NumberObject,
    TextStringObject,
)

from documents.models import Document
from documents.pdf_forms import flatten_widgets
from documents.preview import render_page
from documents.validation import PDF, validate_upload

VALUE = "VALEURREMPLIE"
PAGE_SIZE = (300, 200)
RECT = (50, 100, 250, 130)
GREY_SQUARE = (10, 150, 40, 180)


def _name(value: str) -> NameObject:
    return NameObject(value)


def _array(*values: float) -> ArrayObject:
    return ArrayObject(FloatObject(v) if isinstance(v, float) else NumberObject(v) for v in values)


def _appearance(writer: PdfWriter, font: IndirectObject, *, bbox=(0, 0, 200, 30), matrix=None, at=(4, 9), size=14):
    """A text field's appearance stream drawing ``VALUE`` in black Helvetica, as an object of ``writer``."""
    stream = DecodedStreamObject()
    stream.set_data(
        f"/Tx BMC q BT /Helv {size} Tf 0 g {at[0]} {at[1]} Td ({VALUE}) Tj ET Q EMC".encode("ascii"),
    )
    stream.update(
        {
            _name("/Type"): _name("/XObject"),
            _name("/Subtype"): _name("/Form"),
            _name("/BBox"): _array(*bbox),
            _name("/Resources"): DictionaryObject({_name("/Font"): DictionaryObject({_name("/Helv"): font})}),
        }
    )
    if matrix is not None:
        stream[_name("/Matrix")] = _array(*matrix)
    return writer._add_object(stream)


def _form_pdf(*widget_changes: dict, link: bool = False) -> bytes:
    """A one-page PDF with one filled text field per item of ``widget_changes`` (the entries of the widget to
    change: ``None`` removes one; "/AP" may be a callable of the writer and the font), and a link if ``link``.

    The page's own content is a light grey square (``GREY_SQUARE``) and ends moving what would be drawn after it
    100 points down, with no ``q``/``Q`` around: the fields are drawn in their place only if it is kept apart."""
    writer = PdfWriter()
    page = writer.add_blank_page(*PAGE_SIZE)
    content = DecodedStreamObject()
    left, bottom, right, top = GREY_SQUARE
    content.set_data(f"0.8 g {left} {bottom} {right - left} {top - bottom} re f 1 0 0 1 0 -100 cm".encode("ascii"))
    page[_name("/Contents")] = writer._add_object(content)
    font = writer._add_object(
        DictionaryObject(
            {
                _name("/Type"): _name("/Font"),
                _name("/Subtype"): _name("/Type1"),
                _name("/BaseFont"): _name("/Helvetica"),
                _name("/Encoding"): _name("/WinAnsiEncoding"),
            }
        )
    )
    annots = ArrayObject()
    fields = ArrayObject()
    for index, changes in enumerate(widget_changes or ({},)):
        widget = DictionaryObject(
            {
                _name("/Type"): _name("/Annot"),
                _name("/Subtype"): _name("/Widget"),
                _name("/FT"): _name("/Tx"),
                _name("/T"): TextStringObject(f"champ{index}"),
                _name("/V"): TextStringObject(VALUE),
                _name("/DA"): TextStringObject("/Helv 14 Tf 0 g"),
                _name("/F"): NumberObject(4),
                _name("/Rect"): _array(*RECT),
                _name("/P"): page.indirect_reference,
                _name("/AP"): DictionaryObject({_name("/N"): _appearance(writer, font)}),
            }
        )
        for key, value in changes.items():
            if value is None:
                del widget[key]
            else:
                widget[_name(key)] = value(writer, font) if callable(value) else value
        reference = writer._add_object(widget)
        annots.append(reference)
        fields.append(reference)
    if link:
        annots.append(
            writer._add_object(
                DictionaryObject(
                    {
                        _name("/Type"): _name("/Annot"),
                        _name("/Subtype"): _name("/Link"),
                        _name("/Rect"): _array(10, 10, 60, 30),
                        _name("/Border"): _array(0, 0, 0),
                        _name("/Dest"): ArrayObject([page.indirect_reference, _name("/Fit")]),
                    }
                )
            )
        )
    page[_name("/Annots")] = annots
    writer._root_object[_name("/AcroForm")] = DictionaryObject(
        {
            _name("/Fields"): fields,
            _name("/DA"): TextStringObject("/Helv 0 Tf 0 g"),
            _name("/DR"): DictionaryObject({_name("/Font"): DictionaryObject({_name("/Helv"): font})}),
        }
    )
    output = io.BytesIO()
    writer.write(output)
    return output.getvalue()


def _image(content: bytes) -> Image.Image:
    """The first page drawn by PDFium at one pixel per point, without its form layer (as the dossier PDF and the
    pack are shown: their /AcroForm, if any, is not the piece's)."""
    pdf = pdfium.PdfDocument(content)
    try:
        page = pdf[0]
        try:
            return page.render(scale=1, may_draw_forms=False, draw_annots=True).to_pil().convert("L")
        finally:
            page.close()
    finally:
        pdf.close()


def _dark(image: Image.Image, box: tuple[float, float, float, float], *, outside: bool = False) -> int:
    """Dark pixels of ``image`` (one pixel per point) in ``box`` (PDF coordinates, y upwards), or outside it."""
    left, bottom, right, top = box
    dark = 0
    for y in range(image.height):
        for x in range(image.width):
            if image.getpixel((x, y)) < 128:
                pdf_x, pdf_y = x + 0.5, image.height - y - 0.5
                dark += (left <= pdf_x <= right and bottom <= pdf_y <= top) != outside
    return dark


def _flattened(content: bytes) -> tuple[PdfWriter, int]:
    """``content`` copied as the dossier PDF copies a piece (``writer.append``), its first page flattened."""
    writer = PdfWriter()
    writer.append(PdfReader(io.BytesIO(content)))
    return writer, flatten_widgets(writer.pages[0], writer)


def _written(writer: PdfWriter) -> bytes:
    output = io.BytesIO()
    writer.write(output)
    return output.getvalue()


def _subtypes(content: bytes) -> list[str]:
    page = PdfReader(io.BytesIO(content)).pages[0]
    return [annotation.get_object()["/Subtype"] for annotation in page.get("/Annots", [])]


def _normal(**appearance):
    """A widget's /AP whose normal appearance is ``_appearance(..., **appearance)``."""
    return lambda writer, font: DictionaryObject({_name("/N"): _appearance(writer, font, **appearance)})


def _normal_states(**states):
    """A widget's /AP whose normal appearance is a dictionary of states: state name -> ``_appearance`` arguments."""
    return lambda writer, font: DictionaryObject(
        {
            _name("/N"): DictionaryObject(
                {_name(f"/{state}"): _appearance(writer, font, **arguments) for state, arguments in states.items()}
            )
        }
    )


def test_the_preview_draws_the_value_of_a_filled_field():
    content = _form_pdf()
    named = io.BytesIO(content)
    named.name = "formulaire.pdf"
    assert validate_upload(named).content_type == PDF
    name = default_storage.save("2026/formulaire.pdf", ContentFile(content))
    document = Document(
        pk=1, file=name, content_type=PDF, size=len(content), sha256=hashlib.sha256(content).hexdigest()
    )

    image = Image.open(io.BytesIO(render_page(document, 1))).convert("L")

    scale = image.width / PAGE_SIZE[0]  # drawn larger than one pixel per point
    field = [round(v * scale) for v in (RECT[0], PAGE_SIZE[1] - RECT[3], RECT[2], PAGE_SIZE[1] - RECT[1])]
    dark = sum(image.crop(field).histogram()[:128])
    assert dark > 100  # it was 0: the field was drawn empty


def test_a_flattened_field_shows_its_value_without_the_form_layer_and_links_are_kept():
    content = _form_pdf(link=True)
    assert _dark(_image(content), RECT) == 0  # what the dossier PDF and the pack showed

    writer, flattened = _flattened(content)
    result = _written(writer)

    assert flattened == 1
    image = _image(result)
    assert _dark(image, RECT) > 100
    assert _dark(image, RECT, outside=True) == 0  # nothing drawn outside the field's rectangle
    assert image.getpixel((25, PAGE_SIZE[1] - 165)) == round(0.8 * 255)  # the page's content, still there
    assert _subtypes(result) == ["/Link"]


@pytest.mark.parametrize(
    ("appearance", "rect"),
    [
        ({"bbox": (100, 300, 300, 330), "at": (104, 309)}, RECT),
        ({"bbox": (0, 0, 100, 15), "matrix": (2, 0, 0, 2, -40, -10), "at": (2, 4.5), "size": 7}, RECT),
        ({"matrix": (0, 1, -1, 0, 0, 0)}, (100, 0, 130, 200)),  # a field turned 90 degrees, as Acrobat saves it
    ],
    ids=["bbox-off-the-origin", "matrix-scaled-and-moved", "matrix-turned"],
)
def test_the_appearance_is_placed_by_its_bbox_and_matrix_onto_the_rect(appearance, rect):
    writer, flattened = _flattened(_form_pdf({"/AP": _normal(**appearance), "/Rect": _array(*rect)}))

    image = _image(_written(writer))
    assert flattened == 1
    assert _dark(image, rect) > 100
    assert _dark(image, rect, outside=True) == 0


def test_a_dictionary_of_appearance_states_draws_the_one_its_state_names():
    states = _normal_states(Off={"at": (500, 500)}, On={})  # the /Off text would be drawn outside the rectangle

    writer, flattened = _flattened(_form_pdf({"/AP": states, "/AS": _name("/On")}))

    image = _image(_written(writer))
    assert flattened == 1
    assert _dark(image, RECT) > 100
    assert _dark(image, RECT, outside=True) == 0


def test_odd_widgets_are_left_as_they_were_and_the_others_flattened():
    odd = [
        {"/AP": None},
        {"/Rect": None},
        {"/Rect": ArrayObject([NumberObject(1), TextStringObject("x"), NumberObject(3), NumberObject(4)])},
        {"/Rect": _array(50, 100, 50, 130)},  # no width
        {"/F": NumberObject(4 | 2)},  # Hidden
        {"/F": NumberObject(4 | 32)},  # NoView
        {"/AP": _normal(bbox=(0, 0, 0, 30))},
        {"/AP": _normal(matrix=(0, 0, 0, 0, 0, 0))},
        {"/AP": DictionaryObject({_name("/N"): NumberObject(7)})},
        {"/AP": DictionaryObject({_name("/N"): IndirectObject(9999, 0, None)})},  # leads nowhere
        {"/AP": _normal_states(On={})},  # no /AS
        {"/AP": _normal_states(On={}), "/AS": _name("/Off")},  # no appearance for its state
    ]
    content = _form_pdf(*odd, {"/F": BooleanObject(True)})  # flags that are not a number: read as none

    writer, flattened = _flattened(content)
    result = _written(writer)

    assert flattened == 1
    assert _subtypes(result) == ["/Widget"] * len(odd)
    assert _dark(_image(result), RECT) > 100


def test_a_page_without_annotations_is_left_unchanged():
    writer = PdfWriter()
    writer.append(PdfReader(io.BytesIO(_form_pdf())))
    page = writer.add_blank_page(*PAGE_SIZE)
    before = repr(dict(page))

    assert flatten_widgets(page, writer) == 0
    assert repr(dict(page)) == before


@pytest.mark.parametrize(
    ("key", "value"),
    [("/Resources", NumberObject(7)), ("/Contents", NumberObject(3)), ("/Contents", IndirectObject(9999, 0, None))],
    ids=["resources-not-a-dictionary", "contents-not-a-stream", "contents-leading-nowhere"],
)
def test_a_page_with_broken_parts_is_left_whole(key, value):
    writer = PdfWriter()
    writer.append(PdfReader(io.BytesIO(_form_pdf())))
    page = writer.pages[0]
    page[_name(key)] = value
    before = repr(dict(page))

    assert flatten_widgets(page, writer) == 0
    assert repr(dict(page)) == before
    _written(writer)


def test_xobjects_of_the_page_are_kept_and_the_appearance_gets_a_name_of_its_own():
    writer = PdfWriter()
    writer.append(PdfReader(io.BytesIO(_form_pdf())))
    page = writer.pages[0]
    taken = DictionaryObject({_name("/FlatField1"): _appearance(writer, NumberObject(0), at=(500, 500))})
    page[_name("/Resources")] = DictionaryObject({_name("/XObject"): taken})

    assert flatten_widgets(page, writer) == 1
    xobjects = page["/Resources"]["/XObject"]
    assert sorted(xobjects) == ["/FlatField1", "/FlatField2"]
    assert sorted(taken) == ["/FlatField1"]  # the page's own dictionary is not changed
    assert _dark(_image(_written(writer)), RECT) > 100


def test_a_page_without_content_gets_the_appearances():  # its fields are all it shows
    writer = PdfWriter()
    writer.append(PdfReader(io.BytesIO(_form_pdf())))
    page = writer.pages[0]
    del page["/Contents"]

    assert flatten_widgets(page, writer) == 1
    assert _dark(_image(_written(writer)), RECT) > 100
