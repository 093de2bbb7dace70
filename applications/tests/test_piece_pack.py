"""One piece of each dossier as a ZIP (eCandidat: "one chosen piece type across the selected dossiers"): the bulk
action and its choice of piece, the build (files as stored, under the candidate's name, the shared common piece,
``sommaire.csv`` for those without a file), access."""

import csv
import io
import zipfile

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.urls import reverse
from django.utils import timezone

from applications import packs
from applications.dossier_pdf import missing_file_notice
from applications.enums import PieceStatus
from applications.models import CommissionPack
from applications.services.packs import request_pack
from applications.tests.factories_candidature import DocumentFactory, PieceSubmissionFactory, make_application
from documents.enums import ScanStatus
from ecandidat.exceptions import BusinessRuleError
from offers.tests.factories import FormationFactory, PieceTypeFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:applications_application_changelist"


@pytest.fixture
def cv(formation):
    piece = PieceTypeFactory(code="CV", label="Curriculum vitae")
    formation.piece_types.add(piece)
    return piece


@pytest.fixture
def formation(centre, commission):
    return FormationFactory(centre=centre, commission=commission, code="M1ENER")


def give(application, piece_type, *, status=PieceStatus.SUBMITTED, scan=ScanStatus.CLEAN, shared=False, name="cv.pdf"):
    """A submission of ``piece_type`` (the application's own, or the candidate's shared one) with a stored file."""
    document = None
    if status in (PieceStatus.SUBMITTED, PieceStatus.VALIDATED, PieceStatus.REFUSED):
        stored = default_storage.save(f"C/{name}", ContentFile(f"%PDF-1.4 {application.pk}".encode()))
        document = DocumentFactory(
            file=stored, original_name=name, scan_status=scan, uploaded_by=application.candidate.user
        )
    return PieceSubmissionFactory(
        application=None if shared else application,
        candidate=application.candidate,
        piece_type=piece_type,
        status=status,
        document=document,
    )


def post_action(client, applications, **data):
    return client.post(
        reverse(CHANGELIST),
        {"action": "piece_pack_action", ACTION_CHECKBOX_NAME: [a.pk for a in applications], **data},
    )


def read_zip(pack) -> zipfile.ZipFile:
    pack.refresh_from_db()
    with default_storage.open(pack.file.name, "rb") as handle:
        return zipfile.ZipFile(io.BytesIO(handle.read()))


@pytest.mark.parametrize("count", [1, 4])
def test_the_choice_lists_the_pieces_the_selection_asks_for(
    client, commission_member, formation, campaign, cv, count, django_assert_num_queries
):
    applications = [make_application(formation, campaign=campaign) for _ in range(count)]
    common = PieceTypeFactory(code="ID", label="Pièce d'identité", is_common=True)
    other = PieceTypeFactory(code="PORTFOLIO", label="Portfolio")
    FormationFactory(code="MART").piece_types.add(other)
    client.force_login(commission_member)

    with django_assert_num_queries(20):
        response = post_action(client, applications)

    page = response.content.decode()
    assert response.status_code == 200
    # The pieces' labels are the staff's, in French: marked so in the English back office (RGAA 8.7).
    assert f'<option value="{cv.pk}" lang="fr">' in page
    assert f'<option value="{common.pk}" lang="fr">' in page
    assert f'<option value="{other.pk}"' not in page
    assert not CommissionPack.objects.exists()


def test_the_zip_holds_each_file_under_its_candidate_and_says_who_has_none(
    client, commission_member, formation, campaign, cv, django_capture_on_commit_callbacks
):
    filed, shared_one, waiting, not_concerned, scanning, nothing = (
        make_application(formation, campaign=campaign) for _ in range(6)
    )
    give(filed, cv, name="mon cv été.pdf")
    common = PieceTypeFactory(code="ID", label="Pièce d'identité", is_common=True)
    give(shared_one, common, shared=True, name="identite.jpg")
    give(waiting, cv, status=PieceStatus.WAITING)
    give(not_concerned, cv, status=PieceStatus.NOT_CONCERNED)
    give(scanning, cv, scan=ScanStatus.PENDING)
    client.force_login(commission_member)
    selection = [filed, shared_one, waiting, not_concerned, scanning, nothing]

    with django_capture_on_commit_callbacks(execute=True):
        response = post_action(client, selection, apply="1", piece_type=cv.pk)

    pack = CommissionPack.objects.get()
    assert response["Location"] == reverse("admin:applications_application_pack", args=[pack.public_id])
    assert (pack.kind, pack.piece_type, pack.status, pack.done) == ("PIE", cv, "DONE", 6)
    archive = read_zip(pack)
    files = [name for name in archive.namelist() if name != "sommaire.csv"]
    assert len(files) == 1
    assert files[0].endswith("-mon-cv-ete.pdf")
    assert filed.candidate.user.username in files[0]
    assert archive.read(files[0]) == f"%PDF-1.4 {filed.pk}".encode()
    assert archive.getinfo(files[0]).date_time[:3] == timezone.localdate().timetuple()[:3]  # not 1980-01-01
    rows = list(csv.reader(io.StringIO(archive.read("sommaire.csv").decode("utf-8-sig")), delimiter=";"))
    by_numero = {row[0]: row[-1] for row in rows[1:]}
    assert len(rows) == 7
    assert by_numero[filed.candidate.user.username] == files[0]
    assert by_numero[shared_one.candidate.user.username] == "no file"  # a common piece is another piece
    assert by_numero[waiting.candidate.user.username] == "no file"
    assert by_numero[not_concerned.candidate.user.username] == "declared not concerned"
    assert by_numero[scanning.candidate.user.username] == "file waiting for the antivirus"
    assert by_numero[nothing.candidate.user.username] == "no file"

    download = client.get(reverse("admin:applications_application_pack_download", args=[pack.public_id]))
    assert download["Content-Disposition"].startswith('attachment; filename="piece-CV-')


def test_a_file_gone_from_the_storage_is_said_in_the_summary_and_the_pack_is_built(
    commission_member, formation, campaign, cv, django_capture_on_commit_callbacks
):
    """Regression (review, 2027-01): one piece row without its file (database and storage restored from backups of
    different moments) failed the pack of every dossier, without saying whose. Its line of ``sommaire.csv`` says
    so; the other files are in the ZIP."""
    applications = [make_application(formation, campaign=campaign) for _ in range(3)]
    submissions = [give(application, cv, name=f"cv{index}.pdf") for index, application in enumerate(applications)]
    default_storage.delete(submissions[1].document.file.name)

    with django_capture_on_commit_callbacks(execute=True):
        pack = request_pack(
            actor=commission_member, application_ids=[a.pk for a in applications], kind="PIE", piece_type=cv
        )

    pack.refresh_from_db()
    assert (pack.status, pack.done, pack.error) == ("DONE", 3, "")
    archive = read_zip(pack)
    files = sorted(name for name in archive.namelist() if name != "sommaire.csv")
    assert [name.rsplit("-", 1)[-1] for name in files] == ["cv0.pdf", "cv2.pdf"]
    rows = list(csv.reader(io.StringIO(archive.read("sommaire.csv").decode("utf-8-sig")), delimiter=";"))
    by_numero = {row[0]: row[-1] for row in rows[1:]}
    assert by_numero[applications[1].candidate.user.username] == missing_file_notice()
    assert by_numero[applications[0].candidate.user.username] in files


def test_a_shared_common_piece_serves_every_application_of_its_candidate(
    commission_member, formation, campaign, django_capture_on_commit_callbacks
):
    common = PieceTypeFactory(code="ID", label="Pièce d'identité", is_common=True)
    first = make_application(formation, campaign=campaign)
    give(first, common, shared=True, name="identite.pdf")
    second = make_application(
        FormationFactory(centre=formation.centre, commission=formation.commission), campaign=campaign
    )
    second.candidate = first.candidate
    second.save(update_fields=["candidate"])

    with django_capture_on_commit_callbacks(execute=True):
        pack = request_pack(
            actor=commission_member, application_ids=[first.pk, second.pk], kind="PIE", piece_type=common
        )

    assert len([name for name in read_zip(pack).namelist() if name.endswith("-identite.pdf")]) == 2


def test_a_forged_piece_is_refused_by_the_form(client, commission_member, formation, campaign, cv):
    application = make_application(formation, campaign=campaign)
    elsewhere = PieceTypeFactory(code="PORTFOLIO")
    client.force_login(commission_member)

    response = post_action(client, [application], apply="1", piece_type=elsewhere.pk)

    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not CommissionPack.objects.exists()


def test_an_outsider_gets_no_pack(client, other_centre_manager, formation, campaign, cv):
    application = make_application(formation, campaign=campaign)
    give(application, cv)
    client.force_login(other_centre_manager)

    post_action(client, [application], apply="1", piece_type=cv.pk)

    assert not CommissionPack.objects.exists()
    with pytest.raises(BusinessRuleError):
        request_pack(actor=other_centre_manager, application_ids=[application.pk], kind="PIE", piece_type=cv)


def test_the_kind_and_the_piece_go_together(commission_member, formation, campaign, cv):
    application = make_application(formation, campaign=campaign)

    with pytest.raises(BusinessRuleError, match="Choose the piece"):
        request_pack(actor=commission_member, application_ids=[application.pk], kind="PIE")
    with pytest.raises(BusinessRuleError, match="Choose the piece"):
        request_pack(actor=commission_member, application_ids=[application.pk], piece_type=cv)


def test_a_piece_deleted_before_the_build_fails_it_with_its_reason(commission_member, formation, campaign, cv):
    application = make_application(formation, campaign=campaign)
    pack = CommissionPack.objects.create(
        requested_by=commission_member, application_ids=[application.pk], total=1, kind="PIE", piece_type=None
    )

    with pytest.raises(ValueError, match="no longer exists"):
        packs.build_pack(pack.pk)

    pack.refresh_from_db()
    assert (pack.status, pack.file.name) == ("FAILED", "")
    assert "no longer exists" in pack.error


def test_a_name_that_looks_like_a_formula_is_inert_in_the_summary(
    commission_member, formation, campaign, cv, django_capture_on_commit_callbacks
):
    application = make_application(formation, campaign=campaign)
    application.candidate.first_name = '=HYPERLINK("x")'  # the field holds 20 characters
    application.candidate.save(update_fields=["first_name"])

    with django_capture_on_commit_callbacks(execute=True):
        pack = request_pack(actor=commission_member, application_ids=[application.pk], kind="PIE", piece_type=cv)

    rows = list(csv.reader(io.StringIO(read_zip(pack).read("sommaire.csv").decode("utf-8-sig")), delimiter=";"))
    assert rows[1][2] == '\'=HYPERLINK("x")'
