"""The commission packs and the cancelled applications (review, 2026-12-07): a selection holding a cancelled
application gave a pack counting it (« 3 dossiers — prêt », the progress stuck at 67 %, « 2 dossiers constitués sur
3 ») though its build leaves it out. The request leaves the cancelled applications out of the pack and says how many;
one cancelled between the request and the build leaves the pack ready and whole, counting what it holds."""

import csv
import io
import zipfile

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.messages import get_messages
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader

from applications.enums import DossierStatus, PieceStatus
from applications.models import Application, CommissionPack
from applications.services.packs import request_pack
from applications.tests.factories_candidature import (
    DocumentFactory,
    PieceSubmissionFactory,
    make_application,
    stored_piece,
)
from documents.enums import ScanStatus
from ecandidat.exceptions import BusinessRuleError
from offers.tests.factories import FormationFactory, PieceTypeFactory

pytestmark = pytest.mark.usefixtures("back_office_in_french")

CHANGELIST = "admin:applications_application_changelist"
PACK = "admin:applications_application_pack"
QUERIES_OF_THE_REFUSED_PIECE_PACK = 17  # as the commission pack refused (the list, then the action)


@pytest.fixture
def formation(centre, commission):
    return FormationFactory(centre=centre, commission=commission, code="M1ENER")


@pytest.fixture
def cv(formation):
    piece = PieceTypeFactory(code="CV", label="Curriculum vitae")
    formation.piece_types.add(piece)
    return piece


@pytest.fixture
def live(formation, campaign, cv):
    """Two applications still live, each with its transcript (in the dossier PDF) and its CV (the piece pack)."""
    applications = [make_application(formation, campaign=campaign) for _ in range(2)]
    for application in applications:
        stored_piece(application, "Relevé de notes")
        stored = default_storage.save("C/cv.pdf", ContentFile(f"%PDF-1.4 {application.pk}".encode()))
        document = DocumentFactory(
            file=stored, original_name="cv.pdf", scan_status=ScanStatus.CLEAN, uploaded_by=application.candidate.user
        )
        PieceSubmissionFactory(
            application=application,
            candidate=application.candidate,
            piece_type=cv,
            status=PieceStatus.SUBMITTED,
            document=document,
        )
    return applications


def cancelled_applications(formation, campaign, count):
    return [
        make_application(formation, campaign=campaign, status=DossierStatus.WAITING, cancelled_at=timezone.now())
        for _ in range(count)
    ]


def post_action(client, applications, action="commission_pack_action", **data):
    return client.post(
        reverse(CHANGELIST), {"action": action, ACTION_CHECKBOX_NAME: [a.pk for a in applications], **data}
    )


def messages_of(response) -> list[tuple[str, str]]:
    return [(message.level_tag, message.message) for message in get_messages(response.wsgi_request)]


def zip_of(pack) -> zipfile.ZipFile:
    with default_storage.open(pack.file.name, "rb") as handle:
        return zipfile.ZipFile(io.BytesIO(handle.read()))


@pytest.mark.parametrize(
    ("cancelled", "said"),
    [
        (1, "1 candidature annulée laissée de côté."),
        (2, "2 candidatures annulées laissées de côté."),
    ],
)
def test_the_request_leaves_the_cancelled_applications_out_and_says_how_many(
    client,
    commission_member,
    formation,
    campaign,
    live,
    cancelled,
    said,
    django_assert_num_queries,
    django_capture_on_commit_callbacks,
):
    selection = [live[0], *cancelled_applications(formation, campaign, cancelled), live[1]]
    client.force_login(commission_member)

    # As the same action without a cancelled application (20, test_packs_keep_filters): the cancellations are read
    # in the scope's query, none per application. The build runs after the count (its callback, on leaving).
    with django_capture_on_commit_callbacks(execute=True), django_assert_num_queries(20):
        response = post_action(client, selection)

    pack = CommissionPack.objects.get()
    assert response.status_code == 302
    assert messages_of(response) == [
        ("warning", f"Les 2 dossiers pour la commission sont en cours de constitution. {said}")
    ]
    assert sorted(pack.application_ids) == sorted(a.pk for a in live)
    assert (pack.status, pack.done, pack.total) == ("DONE", 2, 2)
    assert len(zip_of(pack).namelist()) == 2
    page = client.get(response["Location"]).content.decode()
    assert "2 dossiers (ZIP des dossiers PDF) — prêt" in page
    assert '<progress id="pack-progress" max="2" value="2">100 %</progress>' in page
    assert "2 dossiers constitués sur 2" in page


def test_a_selection_without_a_cancelled_application_is_said_as_before(
    client, commission_member, live, django_capture_on_commit_callbacks
):
    client.force_login(commission_member)

    with django_capture_on_commit_callbacks(execute=True):
        response = post_action(client, live)

    assert messages_of(response) == [("info", "Les 2 dossiers pour la commission sont en cours de constitution.")]
    assert CommissionPack.objects.get().total == 2


def test_the_piece_pack_counts_and_lists_only_the_live_dossiers(
    client, commission_member, formation, campaign, live, cv, django_capture_on_commit_callbacks
):
    selection = [*cancelled_applications(formation, campaign, 1), *live]
    client.force_login(commission_member)

    with django_capture_on_commit_callbacks(execute=True):
        response = post_action(client, selection, "piece_pack_action", apply="1", piece_type=cv.pk)

    pack = CommissionPack.objects.get()
    assert messages_of(response) == [
        (
            "warning",
            "Les 2 dossiers pour la commission sont en cours de constitution. 1 candidature annulée laissée de côté.",
        )
    ]
    assert (pack.kind, pack.status, pack.done, pack.total) == ("PIE", "DONE", 2, 2)
    archive = zip_of(pack)
    rows = list(csv.reader(io.StringIO(archive.read("sommaire.csv").decode("utf-8-sig")), delimiter=";"))
    assert len(rows) == 1 + pack.total  # the header, then one line per dossier counted
    assert len([name for name in archive.namelist() if name != "sommaire.csv"]) == 2


@pytest.mark.parametrize(
    ("cancelled", "refusal"),
    [
        (1, "La candidature sélectionnée est annulée : il n’y a aucun dossier à constituer."),
        (2, "Les 2 candidatures sélectionnées sont toutes annulées : il n’y a aucun dossier à constituer."),
    ],
)
def test_a_selection_of_cancelled_applications_only_is_refused(
    client, commission_member, centre_manager, formation, campaign, cancelled, refusal
):
    selection = cancelled_applications(formation, campaign, cancelled)
    client.force_login(commission_member)

    response = post_action(client, selection)

    assert response.status_code == 302
    assert response["Location"] == reverse(CHANGELIST)
    assert messages_of(response) == [("error", refusal)]
    with pytest.raises(BusinessRuleError) as refused:
        request_pack(actor=centre_manager, application_ids=[a.pk for a in selection])
    assert str(refused.value) == refusal
    assert not CommissionPack.objects.exists()


@pytest.mark.parametrize(
    ("cancelled", "refusal"),
    [
        (1, "La candidature sélectionnée est annulée : il n’y a aucun dossier à constituer."),
        (3, "Les 3 candidatures sélectionnées sont toutes annulées : il n’y a aucun dossier à constituer."),
    ],
)
def test_the_piece_pack_of_cancelled_applications_only_is_refused_before_a_piece_is_chosen(
    client, commission_member, formation, campaign, cv, cancelled, refusal, django_assert_num_queries
):
    """The piece choice read « La pièce de 0 dossier » and refused only once a piece was chosen: refused at once, as
    the other packs are, back on the list; the same queries whatever the selection's size."""
    selection = cancelled_applications(formation, campaign, cancelled)
    client.force_login(commission_member)

    with django_assert_num_queries(QUERIES_OF_THE_REFUSED_PIECE_PACK):
        response = post_action(client, selection, "piece_pack_action")

    assert response.status_code == 302
    assert response["Location"] == reverse(CHANGELIST)
    assert messages_of(response) == [("error", refusal)]
    assert not CommissionPack.objects.exists()


@pytest.mark.parametrize("kind", [CommissionPack.Kind.ZIP, CommissionPack.Kind.PDF, CommissionPack.Kind.PIECE])
def test_an_application_cancelled_before_the_build_leaves_the_pack_ready_and_whole(
    client, centre_manager, live, cv, kind, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as queued:
        pack = request_pack(
            actor=centre_manager,
            application_ids=[a.pk for a in live],
            kind=kind,
            piece_type=cv if kind == CommissionPack.Kind.PIECE else None,
        )
    assert pack.total == 2
    Application.objects.filter(pk=live[0].pk).update(dossier_status=DossierStatus.WAITING, cancelled_at=timezone.now())

    for build in queued:  # the build, after the cancellation
        build()

    pack.refresh_from_db()
    assert (pack.status, pack.done, pack.total) == ("DONE", 1, 1)
    if kind == CommissionPack.Kind.ZIP:
        assert len(zip_of(pack).namelist()) == pack.done
    elif kind == CommissionPack.Kind.PIECE:
        summary = zip_of(pack).read("sommaire.csv").decode("utf-8-sig")
        assert len(list(csv.reader(io.StringIO(summary), delimiter=";"))) == 1 + pack.done  # the header, the dossier
    else:
        with default_storage.open(pack.file.name, "rb") as handle:
            outline = PdfReader(io.BytesIO(handle.read())).outline
        assert len(outline) == 1 + pack.done  # the table of contents, then one bookmark per dossier
    client.force_login(centre_manager)
    page = client.get(reverse(PACK, args=[pack.public_id])).content.decode()
    assert 'data-job-state="finished"' in page
    assert '<progress id="pack-progress" max="1" value="1">100 %</progress>' in page
    assert "1 dossier constitué sur 1" in page
