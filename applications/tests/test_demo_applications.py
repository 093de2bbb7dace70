"""``manage.py seed_demo`` as a newcomer runs it: the whole chain, twice, and what a manager then finds."""

import io
import zipfile
from io import StringIO

import pytest
from allauth.account.models import EmailAddress
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command
from django.urls import reverse
from pypdf import PdfReader

from accounts.models import User
from applications.enums import DossierStatus, OpiState, PieceStatus
from applications.models import Application, ApplicationEvent, Candidate, Opi, OpiExport, PieceSubmission
from applications.opi.pegase import CANDIDAT_COLUMNS, CANDIDATURE_COLUMNS, INSCRIPTION_COLUMNS
from applications.opi.services import export_zip
from applications.pieces import submissions_of
from applications.validators import validate_ine
from documents.enums import ScanStatus
from documents.models import Document
from documents.tests.clamd_peer import ClamdPeer

pytestmark = pytest.mark.django_db


def test_seed_demo_refuses_the_production_settings(settings):
    # Its logins and passwords are in the README, a superuser among them: on the production rehearsal,
    # `deploy/manage.sh seed_demo` filled the production database without a word.
    settings.SETTINGS_MODULE = "ecandidat.settings.base"

    with pytest.raises(CommandError, match="--on-production-settings"):
        call_command("seed_demo", stdout=StringIO())

    assert not User.objects.exists()
    call_command("seed_demo", on_production_settings=True, stdout=StringIO())  # a demonstration instance
    assert User.objects.filter(username="admin", is_superuser=True).exists()


def _seed() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def test_seed_demo_leaves_transmitted_applications_for_the_back_office():
    output = _seed()

    applications = Application.objects.filter(formation__code="M1ENER")
    assert applications.count() == 3
    assert set(applications.values_list("dossier_status", flat=True)) == {DossierStatus.RECEIVED}
    assert all(application.transmitted_at for application in applications)
    # Every piece is either a real stored file waiting to be checked or the conditional piece declared not concerned.
    statuses = set(
        PieceSubmission.objects.filter(candidate__applications__in=applications).values_list("status", flat=True)
    )
    assert statuses == {PieceStatus.SUBMITTED, PieceStatus.NOT_CONCERNED}
    assert Document.objects.filter(submission__status=PieceStatus.SUBMITTED).exists()
    assert ApplicationEvent.objects.filter(application__in=applications, to_status=DossierStatus.RECEIVED).count() == 3
    assert "3 demo candidates transmitted their dossier to M1ENER" in output


def test_seed_demo_twice_changes_nothing():
    _seed()
    counts = (Application.objects.count(), PieceSubmission.objects.count(), Document.objects.count())

    _seed()

    assert (Application.objects.count(), PieceSubmission.objects.count(), Document.objects.count()) == counts


def test_seed_demo_leaves_an_opi_whose_zip_has_the_reference_columns():

    output = _seed()
    _seed()

    opi = Opi.objects.get()
    assert (opi.state, opi.application.formation.code) == (OpiState.PASSED, "M1EEA")
    archive = zipfile.ZipFile(io.BytesIO(export_zip(OpiExport.objects.get())))
    headers = {name.split("-")[0]: archive.read(name).decode().split("\n")[0] for name in archive.namelist()}
    assert headers == {
        "candidat": ";".join(CANDIDAT_COLUMNS),
        "candidature": ";".join(CANDIDATURE_COLUMNS),
        "inscription": ";".join(INSCRIPTION_COLUMNS),
    }
    rows = archive.read(next(n for n in archive.namelist() if n.startswith("candidature"))).decode().split("\n")
    assert rows[1].split(";")[4] == "M1-EEA-ASGE"
    assert "OPI: Chloé MARCHAND confirmed M1EEA" in output
    # A dossier declared complete has its pieces sent and checked, as in the back office.
    statuses = {submission.status for submission in submissions_of(opi.application)}
    assert statuses <= {PieceStatus.VALIDATED, PieceStatus.NOT_CONCERNED}
    assert PieceStatus.VALIDATED in statuses
    assert opi.application.transmitted_at is not None


def test_seed_demo_pieces_are_readable_pages_for_the_preview():

    _seed()
    submission = (
        PieceSubmission.objects.filter(status=PieceStatus.SUBMITTED, candidate__user__email="sarah.benali@example.org")
        .select_related("document", "piece_type")
        .first()
    )
    with default_storage.open(submission.document.file.name, "rb") as handle:
        text = PdfReader(handle).pages[0].extract_text()

    assert "Sarah BENALI" in text
    assert "Document de démonstration" in text
    assert submission.piece_type.label.split()[0] in text


def test_seed_demo_candidates_have_a_valid_ine_as_french_nationals_must():

    _seed()

    demo = Candidate.objects.filter(user__email__endswith="@example.org", nationality="FR")
    assert demo.count() >= 4  # the demo candidate and the three applicants
    for ine in demo.values_list("ine", flat=True):
        validate_ine(ine)


def test_seed_demo_with_the_regime_entry_on_gives_the_opi_applicant_a_regime_and_fees(settings):
    settings.SIS_REGIME_ENTRY = True

    _seed()

    application = Opi.objects.get().application
    assert (application.regime_id, application.fee_exemption_id, application.fee_amount) == ("1", "BO", 0)


def test_seed_demo_gives_the_candidate_accounts_page_accounts_without_a_dossier(client, django_assert_num_queries):
    """« Comptes candidats » showed only accounts with a dossier in the demo (each was in « Candidats » already):
    two accounts have none, one of them never validated its address, and seeding again adds none."""
    output = _seed()
    _seed()
    client.force_login(User.objects.get(username="accueil.candidats"))  # the demo's candidates manager
    url = reverse("admin:accounts_candidateaccount_changelist")
    client.get(url)  # per-process memos warm

    # Session, user, scope, Django's permissions (2: the sidebar), the count, the page of rows, the savepoint pair.
    with django_assert_num_queries(9):
        response = client.get(url, {"dossier": "no"})

    rows = {account.email: account for account in response.context["cl"].result_list}
    assert set(rows) == {"thomas.lefevre@example.org", "manon.girard@example.org"}
    assert rows["thomas.lefevre@example.org"].email_validated
    assert not rows["manon.girard@example.org"].email_validated
    assert "Candidate account without a dossier: " in output
    assert not Candidate.objects.filter(user__email__in=list(rows)).exists()
    manon = User.objects.get(email="manon.girard@example.org")
    assert not EmailAddress.objects.filter(user=manon, verified=True).exists()


def test_seed_demo_with_an_antivirus_validates_the_opi_applicants_pieces_once_scanned_clean(settings):
    """With clamd set up (``CLAMD_ADDRESS=… make run``), staff validate only a file it cleared: the seed scans the
    OPI applicant's pieces before validating them, where it stopped on « L'antivirus n'a pas encore vérifié »."""
    peer = ClamdPeer()
    settings.CLAMD_ADDRESS = peer.address
    try:
        _seed()
    finally:
        peer.close()

    opi = Opi.objects.get()
    validated = [s for s in submissions_of(opi.application) if s.status == PieceStatus.VALIDATED]
    assert validated
    assert {s.document.scan_status for s in validated} == {ScanStatus.CLEAN}
