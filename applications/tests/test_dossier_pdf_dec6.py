"""The dossier PDF of the review of December 6th: a damaged image piece gives its notice page (it made « Télécharger
mon dossier » a 500 and failed the commission's pack), a 16-bit grey scan prints grey (it printed white), a piece
the antivirus has not cleared has a page saying so (it was silently left out), a tab in an answer prints as a space
(the words ran together), and a cancelled application says so on its summary and stays out of the packs."""

import datetime
import io
import random
import zipfile

import pypdfium2 as pdfium
import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone
from PIL import Image
from pypdf import PdfReader

from applications import dossier_pdf
from applications.dossier_pdf import build_dossier_pdf
from applications.enums import DossierStatus
from applications.models import CommissionPack
from applications.services.packs import request_pack
from applications.tests.factories_candidature import make_application, stored_piece, with_file
from documents.enums import ScanStatus
from ecandidat.pdf import FONT, UnicodePDF
from offers.tests.factories import FormationFactory

IMAGE_NOTICE = "This image cannot be included in the dossier: open it from the pieces list."
PENDING_NOTICE = "This file has not been checked by the antivirus yet: it is not included."
FAILED_NOTICE = "The antivirus scan of this file failed (it is tried again every night): it is not included."

pytestmark = pytest.mark.usefixtures("documents_in_memory")


@pytest.fixture
def formation(centre, commission):
    return FormationFactory(centre=centre, commission=commission, code="M1DEC6")


@pytest.fixture
def application(formation, campaign):
    return make_application(formation, campaign=campaign)


def image_piece(application, name: str, content: bytes, *, scan=ScanStatus.CLEAN):
    """A piece of ``application`` whose stored file is the PNG ``content``."""
    submission = with_file(application, label="Scan du diplôme")
    document = submission.document
    document.file = default_storage.save(f"C/{name}", ContentFile(content))
    document.original_name = name
    document.content_type = "image/png"
    document.scan_status = scan
    document.save()
    return submission


def png(image: Image.Image) -> bytes:
    output = io.BytesIO()
    image.save(output, format="PNG")
    return output.getvalue()


def truncated_png() -> bytes:
    """A 640 x 480 PNG of noise (its data in many chunks) cut to half its bytes, as a disk fault leaves it."""
    noise = random.Random(6).randbytes(640 * 480 * 3)
    content = png(Image.frombytes("RGB", (640, 480), noise))
    return content[: len(content) // 2]


def dossier_pages(application) -> list:
    with build_dossier_pdf(application) as output:
        return list(PdfReader(io.BytesIO(output.read())).pages)


def text_of(page) -> str:
    return " ".join(page.extract_text().split())


def test_a_truncated_png_gives_the_notice_page_not_an_error(application):
    image_piece(application, "scan.png", truncated_png())

    page = dossier_pages(application)[-1]

    assert IMAGE_NOTICE in text_of(page)
    assert "Scan du diplôme - scan.png" in text_of(page)


def test_an_image_fpdf2_cannot_decode_gives_the_notice_page(application, monkeypatch):
    """Whatever the image drawing raises, the page of the piece is its notice (its header line once)."""
    image_piece(application, "scan.png", png(Image.new("RGB", (64, 48), "red")))

    def broken(*args, **kwargs):
        raise OSError("image file is truncated")

    monkeypatch.setattr(UnicodePDF, "image", broken)
    page = dossier_pages(application)[-1]

    assert IMAGE_NOTICE in text_of(page)
    assert text_of(page).count("scan.png") == 1


def test_a_pack_of_three_dossiers_with_a_truncated_png_in_the_second_completes(
    centre_manager, formation, campaign, django_capture_on_commit_callbacks
):
    applications = [make_application(formation, campaign=campaign) for _ in range(3)]
    for application in applications:
        stored_piece(application, "Relevé de notes")
    image_piece(applications[1], "scan.png", truncated_png())

    with django_capture_on_commit_callbacks(execute=True):
        pack = request_pack(actor=centre_manager, application_ids=[a.pk for a in applications])

    pack.refresh_from_db()
    assert (pack.status, pack.done) == (CommissionPack.Status.DONE, 3)
    with default_storage.open(pack.file.name, "rb") as handle:
        archive = zipfile.ZipFile(io.BytesIO(handle.read()))
    assert len(archive.namelist()) == 3


def test_a_16_bit_grey_scan_prints_grey_not_white(application):
    image_piece(application, "scan.png", png(Image.new("I;16", (400, 300), 30000)))

    with build_dossier_pdf(application) as output:
        document = pdfium.PdfDocument(output.read())
    page = document[len(document) - 1].render(scale=1, grayscale=True).to_pil()

    assert 100 <= page.getpixel((page.width // 2, page.height // 2)) <= 130


@pytest.mark.parametrize(("scan", "notice"), [(ScanStatus.PENDING, PENDING_NOTICE), (ScanStatus.ERROR, FAILED_NOTICE)])
def test_a_piece_the_antivirus_has_not_cleared_has_a_page_saying_so(application, scan, notice):
    stored_piece(application, "Relevé de notes", scan=scan)

    pages = dossier_pages(application)

    assert len(pages) == 3  # the summary's two pages, the piece's notice
    assert notice in text_of(pages[-1])
    assert "Relevé de notes - releve.pdf" in text_of(pages[-1])


def test_an_infected_piece_stays_out_without_a_page(application):
    stored_piece(application, "Relevé de notes", scan=ScanStatus.INFECTED)

    assert len(dossier_pages(application)) == 2


def test_a_tab_prints_as_a_space():
    pdf = UnicodePDF()
    pdf.add_page()
    pdf.set_font(FONT, "", 10)
    pdf.multi_cell(0, 6, "Licence 3\tMaster 1")

    text = PdfReader(io.BytesIO(bytes(pdf.output()))).pages[0].extract_text()

    assert "Licence 3 Master 1" in text


def test_a_cancelled_application_says_so_on_its_summary(formation, campaign):
    cancelled_at = timezone.make_aware(datetime.datetime(2026, 12, 5, 10, 30))
    application = make_application(
        formation, campaign=campaign, status=DossierStatus.WAITING, cancelled_at=cancelled_at
    )

    text = " ".join(text_of(page) for page in dossier_pages(application))

    assert "Application cancelled on 5 Dec 2026" in text


def test_a_cancelled_application_stays_out_of_the_pack(
    centre_manager, formation, campaign, django_capture_on_commit_callbacks
):
    applications = [make_application(formation, campaign=campaign) for _ in range(3)]
    cancelled = make_application(
        formation, campaign=campaign, status=DossierStatus.WAITING, cancelled_at=timezone.now()
    )
    applications.insert(1, cancelled)

    with django_capture_on_commit_callbacks(execute=True):
        pack = request_pack(actor=centre_manager, application_ids=[a.pk for a in applications])

    pack.refresh_from_db()
    with default_storage.open(pack.file.name, "rb") as handle:
        names = zipfile.ZipFile(io.BytesIO(handle.read())).namelist()
    assert (pack.status, pack.done, len(names)) == (CommissionPack.Status.DONE, 3, 3)
    assert not [name for name in names if cancelled.candidate.user.username in name]


def test_a_small_damaged_image_is_decoded_before_it_is_passed_on():
    """A small image is not passed on as it is without decoding: a truncated file fails there, not in fpdf2."""
    assert not dossier_pdf._downsample(io.BytesIO(truncated_png()), io.BytesIO())
