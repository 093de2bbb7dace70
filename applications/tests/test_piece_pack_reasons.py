"""The reason ``sommaire.csv`` of a piece pack (one piece of each dossier) gives for a dossier without its file: a
refused piece the antivirus took the file away from must be sent again, a failed scan is tried again every night,
and only a file still to scan waits for the antivirus."""

import csv
import io
import zipfile

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import translation

from applications.enums import PieceStatus
from applications.services.packs import request_pack
from applications.tests.factories_candidature import DocumentFactory, PieceSubmissionFactory, make_application
from documents.enums import ScanStatus
from offers.tests.factories import FormationFactory, PieceTypeFactory

pytestmark = pytest.mark.usefixtures("documents_in_memory")


@pytest.fixture
def formation(centre, commission):
    return FormationFactory(centre=centre, commission=commission, code="M1RAISON")


@pytest.fixture
def cv(formation):
    piece = PieceTypeFactory(code="CV", label="Curriculum vitae")
    formation.piece_types.add(piece)
    return piece


def give(application, piece_type, *, status: str, scan: str | None):
    """A submission of ``piece_type`` for ``application``: with a stored file scanned ``scan``, or none."""
    document = None
    if scan is not None:
        stored = default_storage.save("C/cv.pdf", ContentFile(f"%PDF-1.4 {application.pk}".encode()))
        document = DocumentFactory(
            file=stored, original_name="cv.pdf", scan_status=scan, uploaded_by=application.candidate.user
        )
    return PieceSubmissionFactory(
        application=application,
        candidate=application.candidate,
        piece_type=piece_type,
        status=status,
        document=document,
    )


def summary_of(pack) -> dict[str, str]:
    """The last column of ``sommaire.csv`` by dossier number."""
    pack.refresh_from_db()
    assert (pack.status, pack.error) == ("DONE", "")
    with default_storage.open(pack.file.name, "rb") as handle:
        archive = zipfile.ZipFile(io.BytesIO(handle.read()))
    rows = list(csv.reader(io.StringIO(archive.read("sommaire.csv").decode("utf-8-sig")), delimiter=";"))
    return {row[0]: row[-1] for row in rows[1:]}


def test_the_summary_says_why_each_dossier_has_no_file(
    commission_member, formation, campaign, cv, django_capture_on_commit_callbacks
):
    """Regression (review, 6 December): a refused piece without a file, what the antivirus's quarantine leaves
    (``take_off_quarantined_piece``), was listed « fichier en attente de l'antivirus », as was a file whose scan
    failed: the commission waited for a file that would never come, instead of asking the candidate for another."""
    quarantined, refused_pending, failed, pending = (make_application(formation, campaign=campaign) for _ in range(4))
    give(quarantined, cv, status=PieceStatus.REFUSED, scan=None)
    give(refused_pending, cv, status=PieceStatus.REFUSED, scan=ScanStatus.PENDING)
    give(failed, cv, status=PieceStatus.SUBMITTED, scan=ScanStatus.ERROR)
    give(pending, cv, status=PieceStatus.SUBMITTED, scan=ScanStatus.PENDING)
    selection = [quarantined, refused_pending, failed, pending]

    # The build, queued on commit, runs in French (the worker's language) when the capture ends.
    with translation.override("fr"), django_capture_on_commit_callbacks(execute=True):
        pack = request_pack(
            actor=commission_member, application_ids=[a.pk for a in selection], kind="PIE", piece_type=cv
        )

    assert summary_of(pack) == {
        quarantined.candidate.user.username: "fichier refusé, à déposer à nouveau par le candidat",
        refused_pending.candidate.user.username: "fichier en attente de l'antivirus",
        failed.candidate.user.username: "échec du contrôle antivirus, refait chaque nuit",
        pending.candidate.user.username: "fichier en attente de l'antivirus",
    }
