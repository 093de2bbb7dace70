"""A 16-bit grey scan sent through the multi-photo upload keeps its greys in the PDF (review, 2026-12): Pillow's
``convert("RGB")`` clipped its values at 255 and the stored page was white, the candidate's document lost."""

import io

import pypdfium2 as pdfium
from PIL import Image

from documents.merge import merge_photos
from documents.tests import hostile_files as hostile
from documents.validation import to_eight_bits


def grey_16_bit_png(value: int = 30000) -> bytes:
    output = io.BytesIO()
    Image.new("I;16", (200, 300), value).save(output, format="PNG")
    return output.getvalue()


def test_a_16_bit_grey_scan_is_scaled_to_8_bits():
    assert to_eight_bits(Image.new("I;16", (2, 2), 30000)).getpixel((0, 0)) == 116


def test_a_16_bit_grey_scan_merged_into_a_pdf_prints_grey_not_white():
    photos = [
        hostile.upload("scan1.png", grey_16_bit_png()),
        hostile.upload("scan2.jpg", hostile.jpeg_bytes((200, 300))),
    ]

    document = pdfium.PdfDocument(merge_photos(photos).read())
    page = document[0].render(scale=1, grayscale=True).to_pil()

    assert 100 <= page.getpixel((page.width // 2, page.height // 2)) <= 130
