"""Commission packs and the nightly re-scan: a pack built with a file that new antivirus signatures later find
infected (moved under ``quarantine/``) is withdrawn in the quarantine's transaction: its file is deleted once it
commits, its page and its download say it is no longer available. Packs of other candidates stay."""

import io
import zipfile

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.urls import reverse

from applications import packs
from applications.enums import PieceStatus
from applications.models import CommissionPack
from applications.services.packs import request_pack
from applications.tests.factories_candidature import DocumentFactory, PieceSubmissionFactory, make_application
from documents import scanning
from documents.enums import ScanStatus
from documents.tests.clamd_peer import ClamdPeer
from documents.tests.hostile_files import EICAR
from offers.tests.factories import FormationFactory, PieceTypeFactory

NEW = "ClamAV 1.0.7/27000/Sun Nov 24 09:37:00 2024"
INFECTED_CNI = b"%PDF-1.4 carte d'identite " + EICAR


@pytest.fixture
def peer(settings):
    peer = ClamdPeer(version=NEW)
    settings.CLAMD_ADDRESS = peer.address
    yield peer
    peer.close()


@pytest.fixture
def formation(centre, commission):
    return FormationFactory(centre=centre, commission=commission, code="M1ENER")


@pytest.fixture
def identity(formation):
    piece_type = PieceTypeFactory(code="CNI", label="Carte d'identité")
    formation.piece_types.add(piece_type)
    return piece_type


def give(application, piece_type, content: bytes, *, shared=False):
    """A validated piece whose file yesterday's signatures found clean."""
    stored = default_storage.save("C/cni.pdf", ContentFile(content))
    document = DocumentFactory(
        file=stored,
        original_name="cni.pdf",
        scan_status=ScanStatus.CLEAN,
        signature_version=26999,
        uploaded_by=application.candidate.user,
    )
    return PieceSubmissionFactory(
        application=None if shared else application,
        candidate=application.candidate,
        piece_type=piece_type,
        status=PieceStatus.VALIDATED,
        document=document,
    )


def build(actor, applications, django_capture_on_commit_callbacks, **kind) -> CommissionPack:
    with django_capture_on_commit_callbacks(execute=True):
        pack = request_pack(actor=actor, application_ids=[a.pk for a in applications], **kind)
    pack.refresh_from_db()
    assert pack.status == CommissionPack.Status.DONE
    return pack


def rescan(document_id, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        return scanning.scan_stored_document(
            document_id=document_id, current_version=27000, batch=scanning.RESCAN_BATCH
        )


@pytest.mark.parametrize("shared", [False, True])
def test_the_packs_holding_a_file_quarantined_since_are_withdrawn_with_their_file(
    peer, centre_manager, formation, campaign, identity, shared, django_capture_on_commit_callbacks
):
    infected = make_application(formation, campaign=campaign)
    other = make_application(formation, campaign=campaign)
    submission = give(infected, identity, INFECTED_CNI, shared=shared)
    give(other, identity, b"%PDF-1.4 clean")
    piece_pack = build(
        centre_manager,
        [infected, other],
        django_capture_on_commit_callbacks,
        kind=CommissionPack.Kind.PIECE,
        piece_type=identity,
    )
    with default_storage.open(piece_pack.file.name, "rb") as handle:
        archive = zipfile.ZipFile(io.BytesIO(handle.read()))
    assert any(EICAR in archive.read(name) for name in archive.namelist())  # the raw file, as stored
    dossiers_pack = build(centre_manager, [infected], django_capture_on_commit_callbacks)  # its pages, in a PDF
    others_pack = build(centre_manager, [other], django_capture_on_commit_callbacks)
    built = {pack.pk: pack.file.name for pack in (piece_pack, dossiers_pack, others_pack)}

    assert rescan(submission.document_id, django_capture_on_commit_callbacks) == ScanStatus.INFECTED

    for pack in (piece_pack, dossiers_pack):
        pack.refresh_from_db()
        assert (pack.status, pack.file.name, pack.error) == (CommissionPack.Status.FAILED, "", packs.WITHDRAWN)
        assert not default_storage.exists(built[pack.pk])
    others_pack.refresh_from_db()
    assert (others_pack.status, others_pack.file.name) == (CommissionPack.Status.DONE, built[others_pack.pk])
    assert default_storage.exists(built[others_pack.pk])


def test_a_file_still_on_its_piece_finds_its_packs_too(
    centre_manager, formation, campaign, identity, django_capture_on_commit_callbacks
):
    """The receivers run in no promised order: before the pieces' receiver takes the file off its piece (the
    document has no owner yet), the packs are found through the piece."""
    application = make_application(formation, campaign=campaign)
    submission = give(application, identity, INFECTED_CNI)
    pack = build(centre_manager, [application], django_capture_on_commit_callbacks)
    name = pack.file.name

    with django_capture_on_commit_callbacks(execute=True):
        packs.withdraw_quarantined(type(submission.document), document=submission.document)

    pack.refresh_from_db()
    assert (pack.status, pack.error) == (CommissionPack.Status.FAILED, packs.WITHDRAWN)
    assert not default_storage.exists(name)


def test_a_pack_being_built_stops_and_keeps_nothing(
    centre_manager, formation, campaign, identity, django_capture_on_commit_callbacks
):
    application = make_application(formation, campaign=campaign)
    submission = give(application, identity, INFECTED_CNI)
    pack = CommissionPack.objects.create(
        requested_by=centre_manager,
        application_ids=[application.pk],
        total=1,
        status=CommissionPack.Status.RUNNING,
        progress_at=packs.timezone.now(),
    )
    packs.withdraw_quarantined(type(submission.document), document=submission.document)

    with pytest.raises(packs.PackTakenOver):
        packs._progress(pack, 1)
    pack.refresh_from_db()
    assert pack.status == CommissionPack.Status.FAILED


def test_the_withdrawn_packs_download_says_it_is_no_longer_available(
    client, django_assert_num_queries, peer, centre_manager, formation, campaign, identity,
    django_capture_on_commit_callbacks,
):  # fmt: skip
    application = make_application(formation, campaign=campaign)
    submission = give(application, identity, INFECTED_CNI)
    pack = build(centre_manager, [application], django_capture_on_commit_callbacks, kind="PIE", piece_type=identity)
    rescan(submission.document_id, django_capture_on_commit_callbacks)
    client.force_login(centre_manager)
    page = reverse("admin:applications_application_pack", args=[pack.public_id])

    with django_assert_num_queries(7):  # session, user, staff checks, savepoints, the pack, its scope: as when ready
        response = client.get(reverse("admin:applications_application_pack_download", args=[pack.public_id]))

    assert (response.status_code, response["Location"]) == (302, page)
    with django_assert_num_queries(10):  # as for any pack's page (test_admin_packs)
        shown = client.get(page).content.decode()
    assert "This pack is no longer available" in shown
    assert "Download the ZIP" not in shown


def test_the_withdrawn_packs_download_goes_back_to_its_page_with_the_lists_filters(
    client, django_assert_num_queries, peer, centre_manager, formation, campaign, identity,
    django_capture_on_commit_callbacks,
):  # fmt: skip
    application = make_application(formation, campaign=campaign)
    submission = give(application, identity, INFECTED_CNI)
    pack = build(centre_manager, [application], django_capture_on_commit_callbacks, kind="PIE", piece_type=identity)
    client.force_login(centre_manager)
    filters = {"_changelist_filters": "state__exact=TR&o=2"}
    page = reverse("admin:applications_application_pack", args=[pack.public_id])
    download = reverse("admin:applications_application_pack_download", args=[pack.public_id])
    ready = client.get(page, filters).content.decode()
    # The ready pack's download link carries the list it was asked from.
    assert f'href="{download}?_changelist_filters=state__exact%3DTR%26o%3D2"' in ready
    rescan(submission.document_id, django_capture_on_commit_callbacks)

    with django_assert_num_queries(7):  # as without filters
        response = client.get(download, filters)

    assert (response.status_code, response["Location"]) == (
        302,
        f"{page}?_changelist_filters=state__exact%3DTR%26o%3D2",
    )
