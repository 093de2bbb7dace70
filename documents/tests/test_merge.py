"""Several photos of one document merged into one PDF (documents.merge, issue 13)."""

import io
import re

import pytest
from django.core.exceptions import ValidationError
from PIL import Image, PdfImagePlugin
from pypdf import PdfReader

from documents.merge import MAX_PAGES, MAX_SIDE, merge_photos
from documents.tests import hostile_files as hostile
from documents.validation import validate_upload


def _pages(pdf: bytes) -> list[tuple[float, float]]:
    return [(float(page.mediabox.width), float(page.mediabox.height)) for page in PdfReader(io.BytesIO(pdf)).pages]


def test_photos_become_the_pages_of_one_pdf_in_order_that_passes_the_pdf_checks():
    photos = [
        hostile.upload("page1.jpg", hostile.jpeg_bytes((300, 400), gps=True)),
        hostile.upload("page2.png", hostile.grey_png(400, 300, "RGBA")),
        hostile.upload("page3.png", hostile.grey_png(200, 200, "P")),
    ]

    merged = merge_photos(photos)

    validated = validate_upload(merged)  # the normal path: size, magic bytes, the PDF checks
    assert (merged.name, validated.content_type) == ("page1.pdf", "application/pdf")
    widths_heights = _pages(validated.content)
    assert len(widths_heights) == 3
    # In order: portrait, landscape, square; photos this small are laid out at 72 dpi (one point per pixel).
    (w1, h1), (w2, h2), (w3, h3) = widths_heights
    assert h1 > w1
    assert w2 > h2
    assert w3 == h3
    assert (round(w2), round(h2)) == (400, 300)
    assert b"GPS" not in validated.content
    assert b"Exif" not in validated.content


def test_a_scan_sized_photo_is_laid_out_at_a4_width():
    photos = [hostile.upload(f"p{n}.png", hostile.grey_png(2480, 3508, "L")) for n in (1, 2)]

    assert [(round(w), round(h)) for w, h in _pages(merge_photos(photos).read())] == [(595, 842)] * 2


def test_a_pdf_among_the_files_is_refused():
    photos = [hostile.upload("page1.jpg", hostile.jpeg_bytes()), hostile.valid_pdf_upload()]

    with pytest.raises(ValidationError) as refused:
        merge_photos(photos)

    assert refused.value.code == "not_photos"


def test_more_photos_than_the_page_cap_are_refused():
    photos = [hostile.upload(f"p{n}.jpg", hostile.jpeg_bytes()) for n in range(MAX_PAGES + 1)]

    with pytest.raises(ValidationError) as refused:
        merge_photos(photos)

    assert refused.value.code == "too_many_pages"
    assert len(_pages(merge_photos(photos[:MAX_PAGES]).read())) == MAX_PAGES


@pytest.mark.parametrize(
    ("hostile_photo", "code"),
    [
        (hostile.pixel_flood_png_upload, "too_many_pixels"),
        (hostile.png_html_polyglot_as_jpg_upload, "content_mismatch"),
        (lambda: hostile.upload("page.jpg", hostile.zip_bytes()), "content_mismatch"),
    ],
)
def test_a_hostile_photo_in_the_set_is_refused_as_when_sent_alone(hostile_photo, code):
    photos = [hostile.upload("page1.jpg", hostile.jpeg_bytes()), hostile_photo()]

    with pytest.raises(ValidationError) as refused:
        merge_photos(photos)

    assert refused.value.code == code
    assert "Photo 2: " in " ".join(refused.value.messages)


def test_the_photos_together_stay_within_a_pixel_budget(monkeypatch):
    monkeypatch.setattr("documents.merge.MAX_TOTAL_PIXELS", 100 * 100 * 2 - 1)
    photos = [hostile.upload(f"p{n}.png", hostile.grey_png(100, 100)) for n in (1, 2)]

    with pytest.raises(ValidationError) as refused:
        merge_photos(photos)

    assert refused.value.code == "too_many_pixels"


def test_a_polyglot_photo_loses_its_payload_in_the_pdf():
    merged = merge_photos([hostile.jpeg_zip_polyglot_upload(), hostile.upload("p2.jpg", hostile.jpeg_bytes())])

    content = merged.read()
    assert b"PK\x03\x04" not in content
    assert b"payload.html" not in content
    assert len(PdfReader(io.BytesIO(content)).pages) == 2


def test_photos_that_make_a_pdf_over_the_size_limit_are_refused():
    photos = [hostile.upload(f"p{n}.jpg", hostile.jpeg_bytes((300, 400))) for n in (1, 2)]
    size = len(merge_photos(photos).read())

    with pytest.raises(ValidationError) as refused:
        merge_photos(photos, max_bytes=size - 1)

    assert refused.value.code == "too_large"
    assert len(merge_photos(photos, max_bytes=size).read()) == size


def test_the_nginx_example_lets_the_most_photos_the_server_merges_reach_it(settings):
    # Without JavaScript a piece may be MAX_PAGES photos of UPLOAD_MAX_BYTES each in one post: what the application
    # accepts must reach it, which answers too large a file in French in the piece's row. The example's former 4m
    # answered three 1.5 MB photos with nginx's English "413 Request Entity Too Large" page.
    example = (settings.BASE_DIR / "deploy" / "nginx.conf.example").read_text(encoding="utf-8")
    body = int(re.search(r"client_max_body_size (\d+)m;", example).group(1)) * 1024 * 1024

    assert body >= MAX_PAGES * settings.UPLOAD_MAX_BYTES + 1024 * 1024


@pytest.mark.parametrize("size", [(1, MAX_SIDE + 1), (MAX_SIDE + 1, 1), (1, 65_536)])
def test_a_photo_longer_or_wider_than_a_pdf_page_can_be_is_refused_with_its_number(size):
    # Within validate_upload's pixel budget, but Pillow writes a PDF page as a JPEG, 65,500 pixels a side at most:
    # its writer raised OSError ("broken data stream"), the candidate had the 500 page.
    photos = [
        hostile.upload("page1.jpg", hostile.jpeg_bytes()),
        hostile.upload("strip.png", hostile.grey_png(size[0], size[1], "L")),
    ]

    with pytest.raises(ValidationError) as refused:
        merge_photos(photos)

    assert refused.value.code == "too_long"
    assert " ".join(refused.value.messages) == (
        "Photo 2: The image is too long or too wide to be put in a PDF (65,500 pixels on a side at most): crop it, "
        "or send it on its own."
    )


def test_a_photo_as_long_as_a_pdf_page_can_be_is_merged():
    photos = [
        hostile.upload("page1.jpg", hostile.jpeg_bytes()),
        hostile.upload("strip.png", hostile.grey_png(1, MAX_SIDE, "L")),
    ]

    assert len(_pages(merge_photos(photos).read())) == 2


@pytest.mark.parametrize("failure", [OSError("broken data stream when writing image file"), ValueError("bad mode")])
def test_pillow_failing_to_write_the_pdf_is_a_refusal_not_a_crash(monkeypatch, failure):
    def failing_writer(image, file, filename):
        raise failure

    assert PdfImagePlugin  # registered: Pillow writes a PDF with SAVE_ALL["PDF"]
    monkeypatch.setitem(Image.SAVE_ALL, "PDF", failing_writer)
    photos = [hostile.upload(f"p{n}.jpg", hostile.jpeg_bytes()) for n in (1, 2)]

    with pytest.raises(ValidationError) as refused:
        merge_photos(photos)

    assert refused.value.code == "corrupt"
    assert refused.value.messages == ["The file is unreadable or damaged."]
    assert isinstance(refused.value.__cause__, type(failure))
