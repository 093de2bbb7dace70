"""Shared set-up of the documents benchmarks: a candidate with one application and N formation pieces."""

import io
import os

from fpdf import FPDF
from PIL import Image


def pdf_of_size(size: int) -> bytes:
    """A valid PDF of exactly ``size`` bytes (what a scanned 1.5 MB document weighs)."""
    # Deferred: Django is set up by the benchmark harness before these run (bench/_harness.py).
    from documents.tests.hostile_files import pdf_of_exact_size  # noqa: PLC0415

    return pdf_of_exact_size(size)


def application_with_pieces(count: int):
    # Deferred: Django is set up by the benchmark harness before these run (bench/_harness.py).
    from accounts.tests.factories import CandidateUserFactory  # noqa: PLC0415
    from applications.models import Application  # noqa: PLC0415
    from applications.tests.factories import CandidateFactory  # noqa: PLC0415
    from offers.tests.factories import CampaignFactory, FormationFactory, PieceTypeFactory  # noqa: PLC0415

    campaign = CampaignFactory(is_active=True)
    user = CandidateUserFactory(campaign=campaign)
    dossier = CandidateFactory(user=user)
    formation = FormationFactory()
    pieces = [PieceTypeFactory(order=n) for n in range(count)]
    formation.piece_types.add(*pieces)
    application = Application.objects.create(
        candidate=dossier, formation=formation, campaign=campaign, created_by=user
    )
    return user, application, pieces


def noise_jpeg(width: int = 1000, height: int = 800) -> bytes:
    """A photo-like JPEG that does not compress away (random pixels): about 1.5 MB at this size."""

    buffer = io.BytesIO()
    Image.frombytes("RGB", (width, height), os.urandom(width * height * 3)).save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def scanned_pdf() -> bytes:
    """A one-page PDF holding a noise JPEG: a realistic 1-2 MB scan whose content pypdf really copies."""

    pdf = FPDF()
    pdf.add_page()
    pdf.image(io.BytesIO(noise_jpeg()), x=10, y=10, w=190)
    return bytes(pdf.output())
