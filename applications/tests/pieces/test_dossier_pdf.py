"""The dossier PDF stays cheap whatever the pieces are (issue 9): image pieces are downsampled, images over the
upload pixel budget (stored before it existed) are not decoded, and pypdf's garbage is collected after each build."""

import html
import io
from unittest import mock

import pypdfium2 as pdfium
import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.urls import reverse
from django.utils import translation
from fpdf import FPDF
from PIL import Image, ImageFile
from pypdf import PdfReader, PdfWriter
from pypdf.generic import (
    ArrayObject,
    DecodedStreamObject,
    DictionaryObject,
    NameObject,
    NumberObject,
    RectangleObject,
    TextStringObject,
)

from applications import dossier_pdf
from applications.dossier_pdf import IMAGE_MAX_SIDE, build_dossier_pdf
from applications.pieces import piece_rows
from applications.services import pieces as services
from applications.tests.helpers import upload_url
from documents import validation
from documents.models import Document
from documents.tests import hostile_files as hostile
from documents.tests.storage import stored_files

UPLOAD_REFUSED_QUERIES = 5
STAFF_QUERIES = 18
NOTICE_FR = "Cette image ne peut pas être incluse dans le dossier : ouvrez-la depuis la liste des pièces."


def store(application, piece, name: str, content: bytes) -> Document:
    """Upload ``content`` as the piece's file."""
    services.upload_piece(
        application=application,
        piece_type=piece,
        uploaded_file=hostile.upload(name, content),
        actor=application.created_by,
    )
    return Document.objects.get()


def store_legacy(application, piece, name: str, content: bytes) -> Document:
    """A piece stored before the 16 Mpx budget: a small image uploaded, then its stored bytes replaced."""
    small = hostile.jpeg_bytes() if name.endswith(".jpg") else hostile.png_bytes()
    document = store(application, piece, name, small)
    replace_content(document, content)
    return document


def replace_content(document: Document, content: bytes) -> None:
    default_storage.delete(document.file.name)
    assert default_storage.save(document.file.name, ContentFile(content)) == document.file.name


def last_page(application):
    with build_dossier_pdf(application) as output:
        reader = PdfReader(io.BytesIO(output.read()))
    return reader.pages[-1]


def image_sizes(page) -> list[tuple[int, int]]:
    xobjects = page["/Resources"].get("/XObject", {})
    return [(int(x.get_object()["/Width"]), int(x.get_object()["/Height"])) for x in xobjects.values()]


def large_jpeg(width: int, height: int) -> bytes:
    output = io.BytesIO()
    Image.linear_gradient("L").resize((width, height)).convert("RGB").save(output, "JPEG", quality=70)
    return output.getvalue()


def test_a_jpeg_over_the_budget_is_decoded_reduced_and_embedded_at_2000_px(application, piece):
    store_legacy(application, piece, "photo.jpg", large_jpeg(4200, 4600))
    drafts = []
    original = Image.Image.draft

    def spy(self, mode, size):
        result = original(self, mode, size)
        drafts.append(self.size)  # the size the decoder will produce
        return result

    with mock.patch.object(Image.Image, "draft", spy):
        sizes = image_sizes(last_page(application))

    assert drafts == [(2100, 2300)]  # decoded at half size, never 4200 x 4600
    assert sizes == [(1826, IMAGE_MAX_SIDE)]


def test_an_image_already_small_enough_is_embedded_as_it_is(application, piece):
    store(application, piece, "photo.jpg", hostile.jpeg_bytes((640, 480)))

    assert image_sizes(last_page(application)) == [(640, 480)]


def test_an_image_over_the_budget_that_is_not_a_jpeg_is_replaced_by_a_notice_without_decoding(
    application, piece, monkeypatch
):
    store_legacy(application, piece, "scan.png", hostile.png_of_size(6300, 6300))

    def no_decoding(self):
        raise AssertionError("pixels decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    with translation.override("fr"):
        page = last_page(application)

    assert image_sizes(page) == []
    assert NOTICE_FR in " ".join(page.extract_text().split())


def test_an_unreadable_stored_image_gives_a_notice_not_an_error(application, piece):
    store_legacy(application, piece, "scan.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)

    with translation.override("fr"):
        page = last_page(application)

    assert NOTICE_FR in " ".join(page.extract_text().split())


def test_a_stored_pdf_whose_page_has_no_size_gives_a_notice_not_an_error(
    owner, application, piece, django_assert_num_queries
):
    """Regression (hostile-input audit, 2026-12-03): a PDF piece whose page had no /MediaBox passed the upload checks
    (they now refuse it), then made every build of the dossier a 500: the candidate's « Télécharger mon dossier »,
    the staff's and the commission's packs. One stored before the rule is replaced by a notice page."""
    document = store(application, piece, "releve.pdf", hostile.pdf_bytes())
    replace_content(document, hostile.pdf_without_media_box())

    with django_assert_num_queries(17):  # as any dossier of one piece
        response = owner.get(reverse("pieces:dossier_pdf", args=[application.public_id]))
        reader = PdfReader(io.BytesIO(b"".join(response.streaming_content)))

    assert response.status_code == 200
    text = " ".join(reader.pages[-1].extract_text().split())
    assert (
        "This PDF cannot be included in the dossier: open it from the pieces list." in text
    )  # the client reads English
    assert "releve.pdf" in text  # the piece's header line


def test_a_pdf_with_restrictions_only_is_laid_in_the_dossier(owner, application, piece):
    """An attestation whose author restricted printing or copying (no password to open it) is accepted: its page
    is in the dossier PDF, with its header line, not a notice."""
    store(application, piece, "attestation.pdf", hostile.encrypted_pdf("", algorithm="AES-256", text="Attestation"))

    response = owner.get(reverse("pieces:dossier_pdf", args=[application.public_id]))
    reader = PdfReader(io.BytesIO(b"".join(response.streaming_content)))

    assert response.status_code == 200
    assert not reader.is_encrypted
    text = " ".join(reader.pages[-1].extract_text().split())
    assert "Attestation" in text
    assert "Lettre de motivation - attestation" in text  # the header line, cut to the page's width
    assert "cannot be included" not in text


def test_a_stored_pdf_over_the_page_cap_still_builds_whole(owner, application, piece, settings):
    """A PDF stored before the page cap (UPLOAD_MAX_PDF_PAGES) is laid in the dossier with all its pages."""
    settings.UPLOAD_MAX_PDF_PAGES = 10
    store(application, piece, "these.pdf", hostile.pdf_with_pages(8))
    settings.UPLOAD_MAX_PDF_PAGES = 5

    response = owner.get(reverse("pieces:dossier_pdf", args=[application.public_id]))
    reader = PdfReader(io.BytesIO(b"".join(response.streaming_content)))

    assert response.status_code == 200
    summary_pages = len(reader.pages) - 8
    assert summary_pages >= 1
    assert "these.pdf" in reader.pages[summary_pages].extract_text()


def test_a_stored_pdf_over_the_object_cap_still_builds(owner, application, piece, monkeypatch):
    """A PDF stored before the object cap (documents.validation.MAX_PDF_OBJECTS) is laid in the dossier as before:
    the dossier PDF does not count objects."""
    with monkeypatch.context() as before_the_cap:
        before_the_cap.setattr(validation, "MAX_PDF_OBJECTS", 100_000)
        store(application, piece, "these.pdf", hostile.pdf_with_compressed_objects(60_000))

    response = owner.get(reverse("pieces:dossier_pdf", args=[application.public_id]))
    reader = PdfReader(io.BytesIO(b"".join(response.streaming_content)))

    assert response.status_code == 200
    text = reader.pages[-1].extract_text()
    assert "these.pdf" in text
    assert "cannot be included" not in text


def test_an_image_with_transparency_keeps_it(application, piece):
    output = io.BytesIO()
    Image.new("RGBA", (2400, 800), (10, 20, 30, 100)).save(output, "PNG")
    store(application, piece, "scan.png", output.getvalue())

    page = last_page(application)

    (xobject,) = page["/Resources"]["/XObject"].values()
    assert (xobject.get_object()["/Width"], xobject.get_object()["/Height"]) == (2000, 667)
    assert "/SMask" in xobject.get_object()


@pytest.mark.parametrize("builds", [1, 3])
def test_garbage_is_collected_after_each_build(application, piece, builds):
    store(application, piece, "a.pdf", hostile.pdf_bytes())

    with mock.patch.object(dossier_pdf.gc, "collect") as collect:
        for _ in range(builds):
            build_dossier_pdf(application).close()

    assert collect.call_count == builds


@pytest.mark.parametrize(
    ("name", "content"),
    [("Пётр Σωκράτης Łukasz.jpg", hostile.jpeg_bytes((64, 48))), ("Nguyễn Ştefănescu.pdf", hostile.pdf_bytes())],
)
def test_a_piece_header_prints_its_file_name_as_typed(application, piece, name, content):
    # The header line is drawn on the image's page, and stamped on a PDF piece's first page, in the embedded font.
    store(application, piece, name, content)

    text = " ".join(last_page(application).extract_text().split())

    assert f"Lettre de motivation - {name}" in text


def test_a_piece_header_too_long_for_its_line_is_cut_with_an_ellipsis(application, piece):
    store(application, piece, f"{'Relevé de notes du semestre ' * 6}.jpg", hostile.jpeg_bytes((64, 48)))

    text = " ".join(last_page(application).extract_text().split())

    assert text.startswith("Lettre de motivation - Relevé de notes du semestre")
    assert text.endswith("…")


MISSING_NOTICE = "This file is missing from the storage: ask the candidate for it again."
# The candidate's own dossier tells them what to do (it told them to ask themselves).
MISSING_NOTICE_FOR_THE_CANDIDATE = (
    "This file is missing from the storage: upload it again or, if you cannot, write to the contact address of your"
    " application."
)


@pytest.mark.parametrize(
    ("persona", "url_name", "notice"),
    [
        ("candidate_user", "pieces:dossier_pdf", MISSING_NOTICE_FOR_THE_CANDIDATE),
        ("centre_manager", "pieces:staff_dossier_pdf", MISSING_NOTICE),
    ],
)
def test_a_piece_whose_file_is_gone_from_the_storage_gives_a_notice_not_an_error(
    request, client, application, piece, persona, url_name, notice
):
    """Regression (review, 2027-01): after the database and the storage were restored from backups of different
    moments, a piece row without its file made « Télécharger mon dossier » and the staff's dossier PDF a 500. The
    piece's page says the file is gone; the rest of the dossier is there."""
    document = store(application, piece, "releve.pdf", hostile.pdf_bytes())
    default_storage.delete(document.file.name)
    client.force_login(request.getfixturevalue(persona))

    response = client.get(reverse(url_name, args=[application.public_id]))
    reader = PdfReader(io.BytesIO(b"".join(response.streaming_content)))

    assert response.status_code == 200
    text = " ".join(reader.pages[-1].extract_text().split())
    assert notice in text  # the client reads English
    assert "Lettre de motivation - releve.pdf" in text  # the piece's header line


def dark_pdf(*, crop_box: tuple[int, int, int, int] | None = None, rotate: int = 0) -> bytes:
    """A 400 x 600 pt page painted black all over (the header's white band shows on it), cropped or turned."""
    drawn = FPDF(unit="pt", format=(400, 600))
    drawn.add_page()
    drawn.rect(0, 0, 400, 600, style="F")
    writer = PdfWriter()
    writer.append(PdfReader(io.BytesIO(bytes(drawn.output()))))
    page = writer.pages[0]
    if crop_box is not None:
        page.cropbox = RectangleObject(crop_box)
    if rotate:
        page.rotation = rotate
    output = io.BytesIO()
    writer.write(output)
    return output.getvalue()


def white_share(image, top: int, bottom: int) -> float:
    rows = image.crop((0, top, image.width, bottom))
    return sum(rows.histogram()[201:]) / (rows.width * rows.height)


def top_band(application) -> tuple[tuple[int, int], float]:
    """The last page as a reader shows it (its crop box, upright): its size, and the share of white pixels in the
    rows of the header line's band above and below its text (the band is 15 pt high; the page, black)."""
    with build_dossier_pdf(application) as output:
        document = pdfium.PdfDocument(output.read())
    image = document[len(document) - 1].render(scale=1, grayscale=True).to_pil()
    assert white_share(image, 20, 40) == 0  # the piece's own (black) page below the band
    return image.size, min(white_share(image, 0, 3), white_share(image, 11, 15))


@pytest.mark.parametrize(
    ("shape", "shown"),
    [
        ({"crop_box": (20, 20, 380, 560)}, (360, 540)),
        ({"rotate": 90}, (600, 400)),
        ({"crop_box": (20, 20, 380, 560), "rotate": 270}, (540, 360)),
    ],
)
def test_the_header_line_is_across_the_top_of_a_cropped_or_turned_page(application, piece, shape, shown):
    """Regression (review, 2027-01): the band was sized from the /MediaBox at its origin and ignored /Rotate: on
    a cropped scan it fell outside what a reader shows, on a turned one it ran down a side."""
    store(application, piece, "scan.pdf", dark_pdf(**shape))

    size, white = top_band(application)

    assert size == shown
    assert white > 0.95  # the band runs across the whole top of the page as shown
    assert "Lettre de motivation - scan.pdf" in " ".join(last_page(application).extract_text().split())


# --- a PDF piece whose pages refuse the header line --------------------------------------------------------------

PDF_NOTICE = "This PDF cannot be included in the dossier: open it from the pieces list."
PDF_NOTICE_FR = "Ce PDF ne peut pas être inclus dans le dossier : ouvrez-le depuis la liste des pièces."


@pytest.mark.parametrize("hostile_file", list(hostile.UNMERGEABLE_PDFS))
def test_a_pdf_whose_page_cannot_be_decoded_is_refused_at_upload_in_french_next_to_the_piece(
    owner, application, piece, hostile_file, django_assert_num_queries
):
    """Regression (review, 2027-01): a content stream that does not decode (an unknown filter, broken ASCII85 data,
    a Flate predictor of 0 columns) or a /Font that is not a dictionary passed the upload checks, which decode no
    stream, then made the dossier PDF a 500. The upload is now refused as damaged, in French, beside the piece."""
    uploaded = hostile.upload("releve.pdf", hostile.UNMERGEABLE_PDFS[hostile_file]())

    with django_assert_num_queries(UPLOAD_REFUSED_QUERIES):
        response = owner.post(upload_url(application, piece), {"file": uploaded}, language="fr")

    page = html.unescape(owner.get(response["Location"], language="fr").content.decode())
    assert "Lettre de motivation : Le fichier est illisible ou endommagé." in page
    assert not Document.objects.exists()
    assert stored_files() == []


@pytest.mark.parametrize(
    ("persona", "url_name", "queries"),
    [("candidate_user", "pieces:dossier_pdf", 17), ("centre_manager", "pieces:staff_dossier_pdf", STAFF_QUERIES)],
)
@pytest.mark.parametrize("hostile_file", list(hostile.UNMERGEABLE_PDFS))
def test_a_stored_pdf_whose_page_cannot_take_its_header_line_gives_a_notice_not_an_error(
    request, client, application, piece, persona, url_name, queries, hostile_file, django_assert_num_queries
):
    """Regression (review, 2027-01): such a piece, stored before the upload checks decoded the pages, made pypdf
    raise while the header line was laid on its first page, outside the fallback of a PDF it cannot copy: the
    candidate's « Télécharger mon dossier » and the staff's dossier PDF answered 500. Its page is now the notice,
    with its header line; the dossier costs the queries of any dossier of one piece."""
    document = store(application, piece, "releve.pdf", hostile.pdf_bytes())
    replace_content(document, hostile.UNMERGEABLE_PDFS[hostile_file]())
    client.force_login(request.getfixturevalue(persona))

    with django_assert_num_queries(queries):
        response = client.get(reverse(url_name, args=[application.public_id]))
        reader = PdfReader(io.BytesIO(b"".join(response.streaming_content)))

    assert response.status_code == 200
    text = " ".join(reader.pages[-1].extract_text().split())
    assert PDF_NOTICE in text  # the client reads English
    assert "Lettre de motivation - releve.pdf" in text  # the piece's header line


def test_the_notice_takes_the_place_of_all_the_pieces_pages_and_the_next_piece_keeps_its_own(
    application, piece, shared_piece
):
    """A piece of two pages whose first page refuses its header line is one notice page, in French, in its place;
    the piece after it is laid as usual, with its own header line."""
    two_pages = hostile.build_pdf(
        [
            hostile.CATALOG,
            b"<< /Type /Pages /Kids [3 0 R 5 0 R] /Count 2 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] /Contents 4 0 R >>",
            # /JBIG3Decode: a filter that does not exist, on purpose (pypdf cannot decode the page to stamp it)
            b"<< /Length 4 /Filter /JBIG3Decode >>\nstream\nabcd\nendstream",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>",
        ]
    )
    for piece_type, name in ((shared_piece, "notes.pdf"), (piece, "lettre.pdf")):
        services.upload_piece(
            application=application,
            piece_type=piece_type,
            uploaded_file=hostile.upload(name, hostile.pdf_bytes()),
            actor=application.created_by,
        )
    replace_content(Document.objects.get(original_name="notes.pdf"), two_pages)

    with translation.override("fr"), build_dossier_pdf(application) as output:
        reader = PdfReader(io.BytesIO(output.read()))
        summary = dossier_pdf._summary(application, piece_rows(application))

    summary_pages = len(PdfReader(io.BytesIO(bytes(summary.output()))).pages)
    assert len(reader.pages) == summary_pages + 2
    notice = " ".join(reader.pages[-2].extract_text().split())
    assert PDF_NOTICE_FR in notice
    assert "Relevé de notes - notes.pdf" in notice
    letter = " ".join(reader.pages[-1].extract_text().split())
    assert "Lettre de motivation - lettre.pdf" in letter
    assert "Ce PDF" not in letter


def test_a_page_boxed_from_its_upper_corner_keeps_its_header_line(application, piece):
    """Regression (review, 6 December): a /MediaBox given by its upper-right corner first (``[200 300 0 0]``, legal:
    any two opposite corners) had a negative width for pypdf, and the header line naming the piece was cut to « … »."""
    drawn = FPDF(unit="pt", format=(200, 300))
    drawn.add_page()
    writer = PdfWriter()
    writer.append(PdfReader(io.BytesIO(bytes(drawn.output()))))
    writer.pages[0].mediabox = RectangleObject([200, 300, 0, 0])
    output = io.BytesIO()
    writer.write(output)
    replace_content(store(application, piece, "releve.pdf", hostile.pdf_bytes()), output.getvalue())  # stored before

    text = " ".join(last_page(application).extract_text().split())

    assert "Lettre de motivation - releve.pdf" in text


FILLED_VALUE = "VALEURREMPLIE"


def filled_form_pdf() -> bytes:
    """A one-page PDF with one text field filled and saved with its appearance, as Acrobat writes it."""
    writer = PdfWriter()
    page = writer.add_blank_page(300, 200)
    font = writer._add_object(
        DictionaryObject(
            {
                NameObject("/Type"): NameObject("/Font"),
                NameObject("/Subtype"): NameObject("/Type1"),
                NameObject("/BaseFont"): NameObject("/Helvetica"),
            }
        )
    )
    appearance = DecodedStreamObject()
    appearance.set_data(f"/Tx BMC BT /Helv 14 Tf 0 g 4 9 Td ({FILLED_VALUE}) Tj ET EMC".encode("ascii"))
    appearance.update(
        {
            NameObject("/Type"): NameObject("/XObject"),
            NameObject("/Subtype"): NameObject("/Form"),
            NameObject("/BBox"): ArrayObject([NumberObject(n) for n in (0, 0, 200, 30)]),
            NameObject("/Resources"): DictionaryObject(
                {NameObject("/Font"): DictionaryObject({NameObject("/Helv"): font})}
            ),
        }
    )
    widget = writer._add_object(
        DictionaryObject(
            {
                NameObject("/Type"): NameObject("/Annot"),
                NameObject("/Subtype"): NameObject("/Widget"),
                NameObject("/FT"): NameObject("/Tx"),
                NameObject("/T"): TextStringObject("nom"),
                NameObject("/V"): TextStringObject(FILLED_VALUE),
                NameObject("/Rect"): ArrayObject([NumberObject(n) for n in (50, 100, 250, 130)]),
                NameObject("/AP"): DictionaryObject({NameObject("/N"): writer._add_object(appearance)}),
            }
        )
    )
    page[NameObject("/Annots")] = ArrayObject([widget])
    writer._root_object[NameObject("/AcroForm")] = DictionaryObject({NameObject("/Fields"): ArrayObject([widget])})
    output = io.BytesIO()
    writer.write(output)
    return output.getvalue()


def test_a_filled_pdf_forms_values_are_drawn_into_the_dossier(application, piece):
    """Regression (review, 6 December): the pages were copied with their form fields as annotations; the commission's
    pack, which copies the dossier's pages without any form, and readers that draw no form layer showed the candidate's
    answers empty. They are now part of the page: its text, and no field left to draw."""
    replace_content(store(application, piece, "formulaire.pdf", hostile.pdf_bytes()), filled_form_pdf())

    page = last_page(application)

    assert FILLED_VALUE in page.extract_text()
    annotations = [annotation.get_object() for annotation in page.get("/Annots", [])]
    assert not [annotation for annotation in annotations if annotation["/Subtype"] == "/Widget"]
