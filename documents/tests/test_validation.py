"""The upload validation pipeline against the hostile set of the security reference (A.3)."""

import base64
import hashlib
import io
import logging
import logging.config
import struct
import time
import unicodedata
import zipfile
import zlib

import pytest
from django.core.exceptions import ValidationError
from django.utils.translation import override
from fpdf import FPDF
from PIL import ExifTags, Image, ImageFile

from documents import validation
from documents.tests import hostile_files as hostile
from documents.validation import describe_constraints, sanitize_filename, validate_upload
from ecandidat.settings import base as base_settings

MAX = hostile.MAX_BYTES


def refusal(uploaded_file, **kwargs) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        validate_upload(uploaded_file, **kwargs)
    return caught.value


def assert_refused(uploaded_file, code: str, message: str, **kwargs) -> None:
    error = refusal(uploaded_file, **kwargs)

    assert error.code == code
    with override("en"):
        assert error.messages == [message]


# --- Size ---------------------------------------------------------------------------------------------------


def test_empty_file_is_refused():
    assert_refused(hostile.empty_upload(), "empty", "The file is empty.")


def test_file_of_exactly_max_bytes_is_accepted():
    uploaded = hostile.exact_max_pdf_upload()
    assert uploaded.size == MAX

    result = validate_upload(uploaded, max_bytes=MAX)

    assert result.size == MAX
    assert result.content_type == "application/pdf"


def test_file_of_max_bytes_plus_one_is_refused():
    uploaded = hostile.over_max_pdf_upload()
    assert uploaded.size == MAX + 1

    assert_refused(
        uploaded,
        "too_large",
        "The file exceeds the maximum allowed size (2 MB): reduce it (for a PDF, print it again to PDF or scan it at "
        "a lower resolution; for a photo, take it again at a lower resolution), then send it again.",
        max_bytes=MAX,
    )


def test_max_bytes_defaults_to_the_setting(settings):
    settings.UPLOAD_MAX_BYTES = 1024

    assert_refused(
        hostile.upload("a.pdf", hostile.pdf_of_exact_size(1025)),
        "too_large",
        "The file exceeds the maximum allowed size (1 KB): reduce it (for a PDF, print it again to PDF or scan it at "
        "a lower resolution; for a photo, take it again at a lower resolution), then send it again.",
    )


class EndlessStream:
    """A file-like object without a size, counting what is read from it."""

    name = "huge.pdf"

    def __init__(self):
        self.bytes_read = 0

    def read(self, size=-1):
        assert size > 0, "the validator must never read the whole stream"
        self.bytes_read += size
        return b"%" * size


def test_a_huge_stream_is_read_only_up_to_max_bytes_plus_one():
    stream = EndlessStream()

    error = refusal(stream, max_bytes=MAX)

    assert error.code == "too_large"
    assert stream.bytes_read == MAX + 1


def test_a_declared_size_over_the_limit_is_refused_without_reading():
    uploaded = hostile.over_max_pdf_upload()
    uploaded.file = EndlessStream()

    error = refusal(uploaded, max_bytes=MAX)

    assert error.code == "too_large"
    assert uploaded.file.bytes_read == 0


def test_size_is_checked_before_the_extension():
    assert refusal(hostile.upload("virus.exe", b""), max_bytes=MAX).code == "empty"


# --- Extension ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["cv.docx", "cv", "cv.pdf.exe", "a.pdf\x00.html", "cv.pdf.", "...."])
def test_extension_outside_the_allow_list_is_refused(name):
    assert_refused(
        hostile.upload(name, hostile.pdf_bytes()),
        "extension",
        "File format not accepted: upload a PDF, JPEG or PNG file.",
    )


@pytest.mark.parametrize(
    ("name", "content", "content_type", "extension"),
    [
        ("A.PDF", hostile.pdf_bytes(), "application/pdf", ".pdf"),
        ("photo.JPEG", hostile.jpeg_bytes(), "image/jpeg", ".jpg"),
        ("photo.Jpg", hostile.jpeg_bytes(), "image/jpeg", ".jpg"),
        ("scan.PNG", hostile.png_bytes(), "image/png", ".png"),
    ],
)
def test_extension_is_case_insensitive_and_normalised(name, content, content_type, extension):
    result = validate_upload(hostile.upload(name, content))

    assert (result.content_type, result.extension) == (content_type, extension)


# --- Magic bytes --------------------------------------------------------------------------------------------


def test_eicar_string_renamed_pdf_is_refused_as_content_mismatch():
    assert_refused(hostile.eicar_as_pdf_upload(), "content_mismatch", "The file content does not match its extension.")


def test_zip_renamed_pdf_is_refused_as_content_mismatch():
    assert refusal(hostile.zip_as_pdf_upload()).code == "content_mismatch"


def test_png_html_polyglot_named_jpg_is_refused_as_content_mismatch():
    assert refusal(hostile.png_html_polyglot_as_jpg_upload()).code == "content_mismatch"


def test_jpeg_named_pdf_is_refused_as_content_mismatch():
    assert refusal(hostile.upload("a.pdf", hostile.jpeg_bytes())).code == "content_mismatch"


def test_pdf_header_must_be_at_offset_zero():
    assert refusal(hostile.upload("a.pdf", b"\n" + hostile.pdf_bytes())).code == "content_mismatch"


def test_png_without_image_data_is_refused_as_corrupt_not_a_500():
    """A PNG header and its end, no pixels: Pillow's verify() raises IndexError, which no list of its errors names."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 40, 30, 8, 2, 0, 0, 0)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")

    assert refusal(hostile.upload("scan.png", png)).code == "corrupt"


# --- PDF parse ----------------------------------------------------------------------------------------------


def test_valid_pdf_is_accepted_unchanged():
    content = hostile.pdf_bytes()

    result = validate_upload(hostile.upload("releve.pdf", content))

    assert result.content == content
    assert result.content_type == "application/pdf"
    assert result.extension == ".pdf"
    assert result.size == len(content)
    assert result.original_name == "releve.pdf"


def test_sha256_is_the_digest_of_the_stored_bytes():
    result = validate_upload(hostile.valid_pdf_upload())

    assert result.sha256 == hashlib.sha256(result.content).hexdigest()


def test_truncated_pdf_is_refused_as_corrupt():
    assert_refused(hostile.upload("a.pdf", hostile.truncated_pdf()), "corrupt", "The file is unreadable or damaged.")


def test_garbage_after_a_pdf_header_is_refused_as_corrupt():
    assert refusal(hostile.upload("a.pdf", b"%PDF-1.7\n" + b"garbage " * 50 + b"\n%%EOF\n")).code == "corrupt"


def test_pdf_without_pages_is_refused_as_corrupt():
    assert refusal(hostile.upload("a.pdf", hostile.pdf_without_pages())).code == "corrupt"


@pytest.mark.parametrize("media_box", [b"", b"/MediaBox [0 0 1e300 1e300]", b"/MediaBox [0 0 200]"])
def test_pdf_whose_page_has_no_readable_size_is_refused_as_corrupt(media_box):
    """Regression (hostile-input audit, 2026-12-03): accepted, it made every dossier PDF of its application a 500."""
    assert_refused(
        hostile.upload("a.pdf", hostile.pdf_without_media_box(media_box)),
        "corrupt",
        "The file is unreadable or damaged.",
    )


def test_a_media_box_inherited_from_the_page_tree_is_a_size():
    pages = b"<< /Type /Pages /Kids [3 0 R] /Count 1 /MediaBox [0 0 595 842] >>"
    content = hostile.build_pdf([hostile.CATALOG, pages, b"<< /Type /Page /Parent 2 0 R >>"])

    assert validate_upload(hostile.upload("a.pdf", content)).content == content


# --- Page content and resources (review, 2027-01) ------------------------------------------------------------------


def pdf_drawing(*contents: bytes, shared: bool = False) -> bytes:
    """A PDF of one page per Flate-compressed content stream of ``contents``, or (``shared``) of as many pages all
    drawing the first one."""
    count = len(contents)
    kids = b" ".join(b"%d 0 R" % (3 + page) for page in range(count))
    pages = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, count)
    streams = [zlib.compress(data) for data in (contents[:1] if shared else contents)]
    page = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] /Contents %d 0 R >>"
    return hostile.build_pdf(
        [
            hostile.CATALOG,
            pages,
            *[page % (3 + count + (0 if shared else number)) for number in range(count)],
            *[b"<< /Length %d /Filter /FlateDecode >>\nstream\n%s\nendstream" % (len(s), s) for s in streams],
        ]
    )


@pytest.mark.parametrize("hostile_file", list(hostile.UNMERGEABLE_PDFS))
def test_a_page_the_dossier_cannot_lay_its_header_line_on_is_refused_as_damaged_in_french(hostile_file):
    """Regression (review, 2027-01): a content stream that does not decode, or a /Font that is not a dictionary,
    passed the checks (the object walk decodes no stream), then made the dossier PDF a 500 and failed the
    commission's packs."""
    error = refusal(hostile.upload("a.pdf", hostile.UNMERGEABLE_PDFS[hostile_file]()))

    assert error.code == "corrupt"
    with override("fr"):
        assert error.messages == ["Le fichier est illisible ou endommagé."]


@pytest.mark.parametrize(
    "resources",
    [b"7", b"<< /XObject [1 2] >>", b"<< /ExtGState null >>", b"<< /ProcSet /PDF >>", b"<< /Font 4 0 R >>"],
)
def test_page_resources_another_page_cannot_be_merged_into_are_refused_as_damaged(resources):
    content = hostile.pdf_with_page_entries(b"/Resources " + resources, b"(not a dictionary)")

    assert refusal(hostile.upload("a.pdf", content)).code == "corrupt"


def test_a_page_whose_content_and_resources_decode_is_accepted_unchanged():
    """What writers make: an ASCII encoding before the compression, fonts in a dictionary, /ProcSet an array."""
    drawing = zlib.compress(b"BT /F1 12 Tf 20 100 Td (Bonjour) Tj ET")
    content = hostile.pdf_with_page_content(
        base64.a85encode(drawing, adobe=True)[2:],
        b"/Filter [/ASCII85Decode /FlateDecode]",
        b"/Resources << /Font << /F1 << /Type /Font /Subtype /Type1 /BaseFont /Helvetica >> >> "
        b"/ProcSet [/PDF /Text] >>",
    )

    assert validate_upload(hostile.upload("a.pdf", content)).content == content


def test_page_content_decoding_to_more_than_the_budget_is_refused_as_too_complex(monkeypatch):
    monkeypatch.setattr(validation, "MAX_PDF_CONTENT_BYTES", 10_000)

    assert validate_upload(hostile.upload("a.pdf", pdf_drawing(b" " * 6_000))).content_type == "application/pdf"
    for content in (pdf_drawing(b" " * 6_000, b" " * 6_000), pdf_drawing(b" " * 10_001)):  # in all; in one stream
        assert refusal(hostile.upload("a.pdf", content)).code == "too_many_objects"


def test_a_flate_bomb_in_a_page_is_refused_as_too_complex_before_it_is_all_decoded():
    content = hostile.pdf_with_page_content(zlib.compress(b"0" * 100_000_000, 9), b"/Filter /FlateDecode")

    assert len(content) < 100_000
    assert refusal(hostile.upload("a.pdf", content)).code == "too_many_objects"


def test_a_content_stream_drawn_by_every_page_is_decoded_once(monkeypatch):
    monkeypatch.setattr(validation, "MAX_PDF_CONTENT_BYTES", 10_000)
    content = pdf_drawing(*[b" " * 1_000] * 50, shared=True)

    assert validate_upload(hostile.upload("a.pdf", content)).content == content


def test_damaged_flate_content_is_refused_without_pypdf_recovering_it_byte_by_byte():
    """pypdf retries damaged Flate data one byte at a time: 1.9 MB took 52 s, 200 KB some 5 s."""
    content = hostile.pdf_with_page_content(bytes(range(256)) * 800, b"/Filter /FlateDecode")

    started = time.perf_counter()
    assert refusal(hostile.upload("a.pdf", content)).code == "corrupt"
    assert time.perf_counter() - started < 1


def test_bytes_fed_to_the_decoders_written_in_python_are_bounded(monkeypatch):
    """pypdf decodes ASCII85, LZW and RunLength in Python (1.9 MB of LZW: 4.5 s); ASCII85's "z" is 4 bytes."""
    monkeypatch.setattr(validation, "MAX_PDF_SLOW_DECODING_BYTES", 1_000)

    accepted = hostile.pdf_with_page_content(b"87cUR" * 180 + b"~>", b"/Filter /ASCII85Decode")
    assert validate_upload(hostile.upload("a.pdf", accepted)).content == accepted
    for data, filters in (
        (b"87cUR" * 220 + b"~>", b"/ASCII85Decode"),
        (b"\x81A" * 600 + b"\x80", b"/RunLengthDecode"),
        (b"z" * 300 + b"~>", b"[/ASCII85Decode /LZWDecode]"),  # 302 bytes, then up to 1,208 for LZW
    ):
        content = hostile.pdf_with_page_content(data, b"/Filter " + filters)
        assert refusal(hostile.upload("a.pdf", content)).code == "too_many_objects"


@pytest.mark.parametrize(
    "stream_entries",
    [
        b"/Filter [/FlateDecode /LZWDecode]",
        b"/Filter [/FlateDecode /FlateDecode]",
        b"/Filter /FlateDecode /DecodeParms << /Predictor 12 /Columns 4 >>",
    ],
)
def test_a_decompression_feeding_another_decoder_or_a_predictor_is_refused_as_damaged(stream_entries):
    """No writer encodes a page's drawing so; a decompression could feed 32 MiB to the next decoder, and pypdf
    undoes a predictor byte by byte in Python."""
    content = hostile.pdf_with_page_content(zlib.compress(b"0 0 m 200 200 l S"), stream_entries)

    assert refusal(hostile.upload("a.pdf", content)).code == "corrupt"


def test_encrypted_pdf_is_refused():
    assert_refused(
        hostile.upload("a.pdf", hostile.encrypted_pdf()),
        "encrypted",
        "The PDF file is password-protected: upload an unencrypted version.",
    )


@pytest.mark.parametrize("algorithm", ["RC4-128", "AES-128", "AES-256"])
def test_a_pdf_that_needs_a_password_is_refused_whatever_its_encryption(algorithm):
    assert refusal(hostile.upload("a.pdf", hostile.encrypted_pdf("secret", algorithm=algorithm))).code == "encrypted"


@pytest.mark.parametrize("algorithm", ["RC4-128", "AES-128", "AES-256"])
def test_a_pdf_with_restrictions_only_is_accepted_unchanged(algorithm):
    """Regression (hostile uploads round 2, 2026-12-03): an attestation that opens without a password, its author
    having only restricted printing or copying (an empty user password), was refused as « protégé par un mot de
    passe », a password the candidate never typed."""
    content = hostile.encrypted_pdf("", algorithm=algorithm)

    result = validate_upload(hostile.upload("attestation.pdf", content))

    assert result.content == content


def test_a_pdf_with_restrictions_only_is_still_walked_for_active_content():
    content = hostile.encrypted_pdf("", algorithm="AES-256", javascript="app.alert(1);")

    assert refusal(hostile.upload("a.pdf", content)).code == "pdf_javascript"


@pytest.fixture
def production_logging(settings, capsys):
    """The production LOGGING (ecandidat.settings.base) while the test runs, the test settings' again after."""
    logging.config.dictConfig(base_settings.LOGGING)
    yield
    logging.config.dictConfig(settings.LOGGING)
    logging.getLogger("pypdf").setLevel(logging.NOTSET)


def test_a_pdf_pypdf_recovers_from_object_by_object_does_not_flood_the_log(production_logging, capsys):
    """Regression (hostile uploads round 2, 2026-12-03): 12,000 ERROR lines in the log for one 175 KB upload, and as
    many at each dossier PDF holding it."""
    validate_upload(hostile.upload("a.pdf", hostile.pdf_with_nested_dictionaries(2_000)))

    assert "pypdf" not in capsys.readouterr().err


# --- Objects --------------------------------------------------------------------------------------------------


def test_a_pdf_of_more_objects_than_the_cap_is_refused_from_its_cross_reference_before_the_walk(monkeypatch):
    """Regression (hostile uploads round 3, 2026-12-03): 60,000 tiny objects in one object stream (556 KB) were
    walked one by one, about 1.2 s an upload and 1.7 s each dossier PDF holding it; the object count read from the
    cross-reference data refuses it before any object is parsed."""
    content = hostile.pdf_with_compressed_objects(60_000)
    walked = []
    monkeypatch.setattr(validation, "_active_content", lambda reader: walked.append(reader))

    error = refusal(hostile.upload("these.pdf", content))

    assert error.code == "too_many_objects"
    with override("fr"):
        (message,) = error.messages
    assert message == (
        "Le fichier PDF est trop complexe pour être vérifié (il est fait de trop d'éléments) : imprimez-le de "
        "nouveau dans un nouveau fichier PDF (Imprimer, puis Enregistrer au format PDF), ou découpez-le, et "
        "déposez ce dernier."
    )
    assert walked == []


@pytest.mark.parametrize("build", [hostile.pdf_with_compressed_objects, hostile.pdf_with_object_chain])
def test_a_pdf_of_exactly_the_object_cap_is_accepted_and_one_object_more_is_refused(monkeypatch, build):
    content = build(20)
    objects = validation.pdf_object_count(validation.open_pdf(io.BytesIO(content)))
    monkeypatch.setattr(validation, "MAX_PDF_OBJECTS", objects)

    assert validate_upload(hostile.upload("a.pdf", content)).content_type == "application/pdf"
    monkeypatch.setattr(validation, "MAX_PDF_OBJECTS", objects - 1)
    assert_refused(
        hostile.upload("a.pdf", content),
        "too_many_objects",
        "The PDF file is too complex to be checked (it is made of too many parts): print it again as a new PDF file "
        "(Print, then Save as PDF), or split it, and upload that one.",
    )


def test_objects_missing_from_the_cross_reference_data_are_refused_as_damaged_past_a_few():
    """Regression (hostile uploads round 3): pypdf searches the whole file for each object its cross-reference
    data does not list; 20,000 such objects in 1.1 MB held an upload for 40 s and each dossier PDF for 57 s. The
    object count cannot see them, so the walk counts them."""
    assert validate_upload(hostile.upload("a.pdf", hostile.pdf_with_unlisted_objects(50))).size > 0
    assert refusal(hostile.upload("a.pdf", hostile.pdf_with_unlisted_objects(500))).code == "corrupt"


def tagged_thesis(pages: int) -> bytes:
    """A thesis as fpdf2 writes it: text, an outline entry per page, a figure with its text alternative (a
    structure tree) per page."""
    pdf = FPDF()
    figure = io.BytesIO()
    Image.new("L", (60, 40), 128).save(figure, "PNG")
    for number in range(pages):
        pdf.add_page()
        pdf.start_section(f"Section {number}")
        pdf.set_font("helvetica", "", 10)
        pdf.multi_cell(0, 5, "Étude des dynamiques sédimentaires du littoral. " * 30, new_x="LMARGIN", new_y="NEXT")
        pdf.image(figure, w=30, alt_text=f"Figure {number}")
    return bytes(pdf.output())


def test_honest_documents_hold_far_fewer_objects_than_the_cap_and_are_accepted():
    """Honest files are far below MAX_PDF_OBJECTS (bench/bench_pdf_objects.py measures more of them): a 300-page
    tagged thesis written by fpdf2, a one-page pypdf file."""
    for content in (tagged_thesis(300), hostile.pdf_bytes()):
        objects = validation.pdf_object_count(validation.open_pdf(io.BytesIO(content)))

        assert objects * 10 < validation.MAX_PDF_OBJECTS
        assert validate_upload(hostile.upload("these.pdf", content)).content_type == "application/pdf"


def test_the_object_count_leaves_out_free_entries_and_counts_both_kinds_of_objects():
    assert validation.pdf_object_count(validation.open_pdf(io.BytesIO(hostile.pdf_incrementally_updated()))) == 3
    assert (
        validation.pdf_object_count(validation.open_pdf(io.BytesIO(hostile.pdf_with_compressed_objects(7)))) == 12
    )  # catalog, pages, page, the object stream, 7 objects in it, the cross-reference stream


# --- Pages ----------------------------------------------------------------------------------------------------


def test_a_pdf_of_exactly_the_page_cap_is_accepted_and_one_page_more_is_refused(settings):
    settings.UPLOAD_MAX_PDF_PAGES = 5

    assert validate_upload(hostile.upload("a.pdf", hostile.pdf_with_pages(5))).content_type == "application/pdf"
    assert_refused(
        hostile.upload("a.pdf", hostile.pdf_with_pages(6)),
        "too_many_pages",
        "The PDF file has too many pages (5 at most): upload only the pages asked for, or split the document.",
    )


def test_the_page_cap_is_1000_by_default_and_a_15000_page_pdf_is_refused_from_its_count(monkeypatch):
    """Regression (hostile uploads round 2, 2026-12-03): 15,000 pages in 1.8 MB were accepted, 2.4 s an upload and
    4 s a dossier PDF. The page tree's /Count refuses it before any page is parsed."""
    content = hostile.pdf_with_pages(15_000)
    assert len(content) < MAX
    flattened = []
    monkeypatch.setattr(validation.PdfReader, "_flatten", lambda *args, **kwargs: flattened.append(args))

    error = refusal(hostile.upload("these.pdf", content))

    assert error.code == "too_many_pages"
    with override("en"):
        assert error.messages[0].startswith("The PDF file has too many pages (1,000 at most)")
    with override("fr"):
        (message,) = error.messages
    assert message == (
        "Le fichier PDF compte trop de pages (1\u00a0000 au plus) : envoyez seulement les pages demandées, ou "
        "découpez le document."
    )
    assert flattened == []


def test_a_pdf_whose_count_understates_its_pages_is_refused_by_the_pages_found(settings):
    settings.UPLOAD_MAX_PDF_PAGES = 5

    assert refusal(hostile.upload("a.pdf", hostile.pdf_with_pages(8, declared=1))).code == "too_many_pages"


def test_a_lying_count_costs_at_most_twice_the_cap_in_parsed_nodes_then_is_damaged(settings):
    settings.UPLOAD_MAX_PDF_PAGES = 5

    assert refusal(hostile.upload("a.pdf", hostile.pdf_with_pages(11, declared=1))).code == "corrupt"


def test_the_preview_and_old_files_can_ask_for_a_larger_cap(settings):
    settings.UPLOAD_MAX_PDF_PAGES = 5

    assert validate_upload(hostile.upload("a.pdf", hostile.pdf_with_pages(8)), max_pages=10).size > 0


ACTIVE_MESSAGE = "The PDF file contains active content (JavaScript, actions or attached files) and cannot be accepted."
EXTERNAL_MESSAGE_FR = (
    "Le fichier PDF contient des liens ou des actions qui ouvrent une adresse web ou un autre fichier, ou qui "
    "envoient un formulaire : imprimez-le de nouveau dans un nouveau fichier PDF (Imprimer, puis Enregistrer au "
    "format PDF) et déposez ce dernier."
)


@pytest.mark.parametrize(
    ("builder", "code"),
    [
        (hostile.pdf_with_open_action_javascript, "pdf_javascript"),
        (hostile.pdf_with_javascript_name_tree, "pdf_javascript"),
        (hostile.pdf_with_page_additional_action, "pdf_javascript"),
        (hostile.pdf_with_launch_action, "pdf_launch"),
        (hostile.pdf_with_embedded_file, "pdf_embedded_file"),
        (hostile.pdf_with_file_attachment_annotation, "pdf_embedded_file"),
        (hostile.pdf_with_xfa_form, "pdf_xfa"),
        (hostile.pdf_with_rich_media_annotation, "pdf_rich_media"),
    ],
)
def test_pdf_with_active_content_is_refused_with_its_own_code(builder, code):
    assert refusal(hostile.upload("a.pdf", builder())).code == code


# Every action that runs something or leaves the document, wherever it hangs: 7 actions x 7 places.
ACTIONS = {
    "uri": (hostile.URI_ACTION, "pdf_external_action"),
    "submit_form": (hostile.SUBMIT_ACTION, "pdf_external_action"),
    "goto_remote": (hostile.GOTOR_ACTION, "pdf_external_action"),
    "goto_embedded": (hostile.GOTOE_ACTION, "pdf_external_action"),
    "import_data": (hostile.IMPORT_ACTION, "pdf_external_action"),
    "launch": (hostile.LAUNCH_ACTION, "pdf_launch"),
    "javascript": (hostile.JAVASCRIPT_ACTION, "pdf_javascript"),
}
PLACES = {
    "catalog_open_action": hostile.pdf_with_open_action,
    "catalog_additional_action": hostile.pdf_with_document_additional_action,
    "page_additional_action": hostile.pdf_with_page_open_action,
    "link_annotation": hostile.pdf_with_link_annotation,
    "form_field_kid": hostile.pdf_with_form_field_kid_action,
    "outline_item": hostile.pdf_with_outline_action,
    "next_chain": hostile.pdf_with_chained_action,
}


@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("place", PLACES)
def test_every_dangerous_action_is_refused_wherever_it_hangs(place, action):
    body, code = ACTIONS[action]

    assert refusal(hostile.upload("a.pdf", PLACES[place](body))).code == code


def test_a_web_link_is_refused_with_a_french_message_saying_how_to_fix_it():
    uploaded = hostile.upload("cv.pdf", hostile.pdf_with_link_annotation(hostile.URI_ACTION))

    with override("fr"):
        assert refusal(uploaded).messages == [EXTERNAL_MESSAGE_FR]


def test_active_content_codes_have_distinct_french_messages():
    codes = ["pdf_javascript", "pdf_launch", "pdf_external_action", "pdf_embedded_file", "pdf_rich_media", "pdf_xfa"]
    with override("fr"):
        messages = {str(validation.MESSAGES[code]) for code in codes}

    assert len(messages) == len(codes)
    assert all(message.startswith("Le fichier PDF") for message in messages)


def test_hex_escaped_javascript_is_caught_by_the_object_walk():
    content = hostile.pdf_with_hex_escaped_javascript()
    assert not validation.RAW_ACTIVE_TOKENS.search(content)

    assert refusal(hostile.upload("a.pdf", content)).code == "pdf_javascript"


def test_javascript_token_outside_objects_is_caught_by_the_raw_scan():
    assert_refused(
        hostile.upload("a.pdf", hostile.pdf_with_javascript_token_in_comment()), "active_content", ACTIVE_MESSAGE
    )


def test_benign_open_action_internal_links_and_named_actions_are_accepted():
    result = validate_upload(hostile.upload("a.pdf", hostile.pdf_with_benign_open_action_and_link()))

    assert result.content_type == "application/pdf"


# --- PDF end: polyglots -------------------------------------------------------------------------------------


def test_pdf_zip_polyglot_is_refused():
    content = hostile.pdf_zip_polyglot()
    assert zipfile.is_zipfile(io.BytesIO(content))

    with override("fr"):
        assert_refused(
            hostile.upload("diplome.pdf", content),
            "trailing_data",
            "The PDF file carries other data after its end (another file may be hidden in it): save or print it "
            "again as a new PDF file and upload that one.",
        )


def test_pdf_zip_polyglot_whose_archive_comment_ends_with_eof_is_refused():
    content = hostile.pdf_zip_polyglot_ending_with_eof()
    assert content.rstrip().endswith(b"%%EOF")
    assert zipfile.is_zipfile(io.BytesIO(content))

    assert refusal(hostile.upload("diplome.pdf", content)).code == "trailing_data"


def test_a_few_bytes_other_than_padding_after_eof_are_refused():
    assert refusal(hostile.upload("a.pdf", hostile.pdf_bytes() + b"<html>")).code == "trailing_data"


def test_padding_after_eof_is_tolerated_up_to_the_limit():
    padded = hostile.pdf_bytes().rstrip() + b"\r\n" + b"\x00" * (validation.EOF_TOLERANCE - 2)

    assert validate_upload(hostile.upload("a.pdf", padded)).content == padded
    assert refusal(hostile.upload("a.pdf", padded + b"\x00")).code == "trailing_data"


def test_incrementally_updated_pdf_with_two_eof_markers_is_accepted():
    content = hostile.pdf_incrementally_updated()
    assert content.count(b"%%EOF") == 2

    assert validate_upload(hostile.upload("a.pdf", content)).content == content


# --- Images -------------------------------------------------------------------------------------------------


def test_valid_png_is_accepted_and_reencoded():
    result = validate_upload(hostile.valid_png_upload())

    assert result.content_type == "image/png"
    with Image.open(io.BytesIO(result.content)) as image:
        assert image.format == "PNG"
        assert image.size == (64, 48)
        assert image.mode == "RGBA"


def test_jpeg_exif_gps_is_stripped():
    uploaded = hostile.jpeg_with_gps_upload()
    with Image.open(io.BytesIO(uploaded.read())) as original:
        assert original.getexif().get_ifd(ExifTags.IFD.GPSInfo)

    result = validate_upload(uploaded)

    assert result.content_type == "image/jpeg"
    with Image.open(io.BytesIO(result.content)) as image:
        assert image.format == "JPEG"
        assert not image.getexif()
        assert "exif" not in image.info
    assert b"PhoneMaker" not in result.content
    assert result.sha256 == hashlib.sha256(result.content).hexdigest()
    assert result.size == len(result.content)


def test_jpeg_exif_orientation_is_applied_before_it_is_stripped():
    # Orientation 6: the camera was rotated, viewers turn the 64 x 48 picture into 48 x 64.
    result = validate_upload(hostile.upload("photo.jpg", hostile.jpeg_bytes((64, 48), orientation=6)))

    with Image.open(io.BytesIO(result.content)) as image:
        assert image.size == (48, 64)


def test_jpeg_zip_polyglot_is_accepted_without_its_payload():
    polyglot = hostile.jpeg_zip_polyglot()
    assert b"payload.html" in polyglot

    result = validate_upload(hostile.jpeg_zip_polyglot_upload())

    assert b"payload.html" not in result.content
    assert b"PK\x03\x04" not in result.content
    assert result.content.endswith(b"\xff\xd9")


def test_png_with_appended_html_is_accepted_without_it():
    result = validate_upload(hostile.upload("scan.png", hostile.png_html_polyglot()))

    assert b"<script>" not in result.content
    assert b"tEXt" not in result.content


def test_pixel_flood_png_is_refused():
    uploaded = hostile.pixel_flood_png_upload()
    assert uploaded.size < 100_000

    assert_refused(
        uploaded,
        "too_many_pixels",
        "The image is too large (16 million pixels at most): reduce its resolution, for example to 300 dpi for a "
        "scanned page.",
    )


def test_pixel_flood_jpeg_header_is_refused():
    uploaded = hostile.upload("flood.jpg", hostile.jpeg_claiming_size(20_000, 20_000))

    assert refusal(uploaded).code == "too_many_pixels"


def test_image_over_the_application_pixel_cap_but_under_pillows_is_refused():
    # 7000 x 6000 = 42 Mpx: above our 16 Mpx cap, below Pillow's own 89.5 Mpx warning threshold.
    assert refusal(hostile.upload("big.png", hostile.png_of_size(7000, 6000))).code == "too_many_pixels"


def test_a_jpeg_of_too_many_scans_is_refused_before_decoding(monkeypatch):
    """Regression (hostile uploads round 2, 2026-12-03): a 249 KB progressive JPEG of 16 Mpx whose last scan is
    repeated 5,000 times held its upload for 128 s."""
    content = hostile.progressive_jpeg_with_extra_scans((64, 48), validation.MAX_JPEG_SCANS)
    monkeypatch.setattr(ImageFile.ImageFile, "load", _no_decoding)

    assert_refused(hostile.upload("photo.jpg", content), "corrupt", "The file is unreadable or damaged.")


def test_a_progressive_jpeg_is_accepted_and_one_at_the_scan_cap_too():
    progressive = hostile.progressive_jpeg_with_extra_scans((64, 48), 0)
    at_the_cap = hostile.progressive_jpeg_with_extra_scans((64, 48), validation.MAX_JPEG_SCANS - 10)
    assert progressive.count(b"\xff\xda") > 1
    assert at_the_cap.count(b"\xff\xda") == validation.MAX_JPEG_SCANS

    assert validate_upload(hostile.upload("a.jpg", progressive)).content_type == "image/jpeg"
    assert validate_upload(hostile.upload("a.jpg", at_the_cap)).content_type == "image/jpeg"


def test_tiny_jpeg_declaring_6000_by_6600_is_refused_before_decoding(monkeypatch):
    content = hostile.jpeg_claiming_size(6000, 6600)
    assert len(content) < 1000
    monkeypatch.setattr(ImageFile.ImageFile, "load", _no_decoding)

    with override("fr"):
        messages = refusal(hostile.upload("photo.jpg", content)).messages

    (message,) = messages
    assert message == (
        "L'image est trop grande (16 millions de pixels au maximum) : réduisez sa résolution, par exemple à 300 dpi "
        "pour une page numérisée."
    )


def test_flat_6300_by_6300_png_of_130_kb_is_refused_before_decoding(monkeypatch):
    content = hostile.grey_png(6300, 6300)
    assert len(content) < 170_000
    monkeypatch.setattr(ImageFile.ImageFile, "load", _no_decoding)

    assert refusal(hostile.upload("scan.png", content)).code == "too_many_pixels"


def _no_decoding(self):
    raise AssertionError("pixels decoded")


def test_pixel_budget_is_16_megapixels_and_holds_an_a4_page_at_400_dpi():
    assert validation.MAX_IMAGE_PIXELS == 16_000_000
    assert validate_upload(hostile.upload("a4.png", hostile.png_of_size(3307, 4677))).content_type == "image/png"
    assert validate_upload(hostile.upload("edge.png", hostile.png_of_size(4000, 4000))).content_type == "image/png"
    assert refusal(hostile.upload("over.png", hostile.png_of_size(4001, 4000))).code == "too_many_pixels"


def test_truncated_jpeg_is_refused_as_corrupt():
    content = hostile.jpeg_bytes((256, 256))

    assert refusal(hostile.upload("a.jpg", content[: len(content) // 2])).code == "corrupt"


def test_png_with_a_bad_checksum_is_refused_as_corrupt():
    content = bytearray(hostile.png_bytes())
    content[30] ^= 0xFF  # Inside the IHDR chunk: its CRC no longer matches.

    assert refusal(hostile.upload("a.png", bytes(content))).code == "corrupt"


def test_png_exif_is_stripped():
    exif = Image.Exif()
    exif.get_ifd(ExifTags.IFD.GPSInfo)[ExifTags.GPS.GPSLatitudeRef] = "N"
    exif[ExifTags.Base.Make] = "PhoneMaker"
    output = io.BytesIO()
    Image.new("RGB", (8, 8)).save(output, format="PNG", exif=exif.tobytes())
    assert b"eXIf" in output.getvalue()

    result = validate_upload(hostile.upload("scan.png", output.getvalue()))

    assert b"eXIf" not in result.content
    assert b"PhoneMaker" not in result.content


def test_multi_picture_jpeg_from_a_phone_is_accepted_as_a_plain_jpeg():
    output = io.BytesIO()
    frames = [Image.new("RGB", (32, 32), "red"), Image.new("RGB", (32, 32), "blue")]
    frames[0].save(output, format="MPO", save_all=True, append_images=frames[1:])
    with Image.open(io.BytesIO(output.getvalue())) as original:
        assert original.format == "MPO"

    result = validate_upload(hostile.upload("photo.jpg", output.getvalue()))

    with Image.open(io.BytesIO(result.content)) as image:
        assert image.format == "JPEG"


# --- File names ---------------------------------------------------------------------------------------------


def test_path_traversal_name_is_accepted_as_its_base_name():
    result = validate_upload(hostile.valid_pdf_upload("../../etc/passwd.pdf"))

    assert result.original_name == "passwd.pdf"
    assert sanitize_filename("../../etc/passwd.pdf") == "passwd.pdf"


def test_300_character_name_of_a_plain_file_object_is_truncated():
    assert sanitize_filename("é" * 296 + ".pdf") == "é" * 96 + ".pdf"


def test_windows_path_is_reduced_to_its_base_name():
    assert sanitize_filename("C:\\Users\\me\\Bulletin.pdf") == "Bulletin.pdf"


def test_300_character_name_is_truncated_keeping_the_extension():
    uploaded = hostile.valid_pdf_upload("a" * 296 + ".pdf")

    result = validate_upload(uploaded)

    assert len(result.original_name) == 100
    assert result.original_name == "a" * 96 + ".pdf"


def test_control_and_bidi_characters_are_removed():
    assert sanitize_filename("fac\u202etxt.pdf") == "factxt.pdf"
    assert sanitize_filename("re\x07le\x1bve.pdf") == "releve.pdf"


def test_name_is_nfc_normalised():
    decomposed = unicodedata.normalize("NFD", "relevé de notes.pdf")

    assert sanitize_filename(decomposed) == "relevé de notes.pdf"
    assert unicodedata.is_normalized("NFC", sanitize_filename(decomposed))


def test_leading_dots_and_spaces_are_removed():
    assert sanitize_filename("  ..hidden.pdf ") == "hidden.pdf"


@pytest.mark.parametrize("name", [".pdf", "...pdf", ". .pdf", "\u202e.pdf"])
def test_a_name_with_nothing_before_its_extension_keeps_the_extension(name):
    """Regression (hostile uploads round 2, 2026-12-03): « .pdf » became « pdf » and a real PDF was refused as a
    format not accepted."""
    assert sanitize_filename(name) == "document.pdf"
    assert validate_upload(hostile.valid_pdf_upload(name)).original_name == "document.pdf"


@pytest.mark.parametrize("name", ["....", "..", ".", ""])
def test_a_name_made_of_dots_only_has_no_extension(name):
    assert sanitize_filename(name) == ""


def test_the_zero_width_joiners_of_a_persian_or_indic_name_are_kept():
    persian = "\u0645\u0647\u0631\u200c\u0646\u0627\u0632.pdf"  # « مهرناز », its ZWNJ keeps two words apart
    hindi = "\u0915\u094d\u200d\u0937.pdf"

    assert sanitize_filename(persian) == persian
    assert sanitize_filename(hindi) == hindi
    assert sanitize_filename("a\u2066b\u2069c\u200ed.pdf") == "abcd.pdf"  # isolates and marks still go


# --- Help text ----------------------------------------------------------------------------------------------


def test_describe_constraints_gives_formats_and_size():
    with override("en"):
        assert describe_constraints(MAX) == "PDF, JPEG or PNG, 2 MB maximum"
        assert describe_constraints(1536 * 1024) == "PDF, JPEG or PNG, 1.5 MB maximum"
        assert describe_constraints(512 * 1024) == "PDF, JPEG or PNG, 512 KB maximum"


def test_describe_constraints_defaults_to_the_setting(settings):
    settings.UPLOAD_MAX_BYTES = 5 * 1024 * 1024

    with override("en"):
        assert describe_constraints() == "PDF, JPEG or PNG, 5 MB maximum"


def test_every_code_has_its_own_message():
    assert len(set(map(str, validation.MESSAGES.values()))) == len(validation.MESSAGES) == 17


# --- Memory: nothing of a checked PDF outlives its check ----------------------------------------------------


@pytest.mark.parametrize(
    ("content", "code"),
    [
        (hostile.pdf_bytes(), None),
        (hostile.pdf_with_open_action_javascript(), "pdf_javascript"),
        (hostile.pdf_with_pages(8), "too_many_pages"),
        (hostile.encrypted_pdf("", algorithm="AES-256", javascript="app.alert(1);"), "pdf_javascript"),
    ],
)
def test_a_checked_pdf_leaves_its_reader_closed_and_its_buffer_released(monkeypatch, content, code):
    """pypdf's parsed objects point back at their reader: left open, the cycle kept the file's buffer and its
    streams' data alive until the next full collection (+25 MiB per web worker after ~45 uploads, issue 14)."""
    opened = []
    real_open_pdf = validation.open_pdf

    def spying_open_pdf(stream):
        opened.append((stream, real_open_pdf(stream)))
        return opened[-1][1]

    monkeypatch.setattr(validation, "open_pdf", spying_open_pdf)

    if code is None:
        validate_upload(hostile.upload("a.pdf", content), max_pages=4)
    else:
        assert refusal(hostile.upload("a.pdf", content), max_pages=4).code == code

    [(stream, reader)] = opened
    assert stream.closed
    assert reader.resolved_objects == {}
    assert reader.flattened_pages == []
    assert len(reader.trailer) == 0


def test_a_pdf_that_needs_a_password_leaves_its_reader_closed(monkeypatch):
    readers = []
    real_reader = validation.PdfReader

    def recording_reader(*args, **kwargs):
        readers.append(real_reader(*args, **kwargs))
        return readers[-1]

    monkeypatch.setattr(validation, "PdfReader", recording_reader)

    assert refusal(hostile.upload("a.pdf", hostile.encrypted_pdf("secret"))).code == "encrypted"

    [reader] = readers
    assert reader.resolved_objects == {}
    assert len(reader.trailer) == 0
