"""The nightly re-scan (``rescan_documents``): new signatures, failed and lost scans, quarantine, idempotence.

Most tests talk to ``ClamdPeer``, an in-process daemon speaking clamd's wire protocol; the ``clamd``-marked test
runs the batch against the real clamd of ``devtools/clamd/start.sh`` (``CLAMD_TEST_ADDRESS``).
"""

import datetime
import io

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.utils import timezone

from applications.enums import DossierStatus, PieceStatus
from applications.models import Application, ApplicationEvent, PieceSubmission
from applications.pieces import pieces_table_context
from applications.services import pieces as services
from applications.tests.factories_candidature import application_of
from documents import antivirus, scanning
from documents.enums import ScanStatus
from documents.models import Document
from documents.tests import hostile_files as hostile
from documents.tests.clamd_peer import SIGNATURE, ClamdPeer
from ecandidat.batches import run_batch
from ecandidat.management.commands.nightly import BATCHES
from ecandidat.models import BatchRun
from offers.tests.factories import CampaignFactory, FormationFactory, PieceTypeFactory

OLD = "ClamAV 1.0.7/26999/Sat Nov 23 09:37:00 2024"
NEW = "ClamAV 1.0.7/27000/Sun Nov 24 09:37:00 2024"
NEUTRAL = "Le fichier n'a pas pu être accepté, déposez-en un autre."


@pytest.fixture
def peer(settings):
    peer = ClamdPeer(version=OLD)
    settings.CLAMD_ADDRESS = peer.address
    yield peer
    peer.close()


@pytest.fixture
def upload(django_capture_on_commit_callbacks):
    """Upload through the candidate's service; the scan task runs after the commit, as in production."""

    def upload(application, piece_type, content: bytes | None = None) -> PieceSubmission:
        with django_capture_on_commit_callbacks(execute=True):
            return services.upload_piece(
                application=application,
                piece_type=piece_type,
                uploaded_file=hostile.upload("piece.pdf", content or hostile.pdf_bytes()),
                actor=application.created_by,
            )

    return upload


def eicar_pdf() -> bytes:
    """A valid PDF that passes the upload checks and holds the EICAR test string in a comment."""
    return hostile.build_pdf([hostile.CATALOG, hostile.PAGES, hostile.PAGE], comment=hostile.EICAR)


def rescan(django_capture_on_commit_callbacks, *, dry_run=False, limit=None) -> BatchRun:
    with django_capture_on_commit_callbacks(execute=True):
        return run_batch(scanning.RESCAN_BATCH, scanning.rescan_documents, dry_run=dry_run, limit=limit)


def more_pieces(formation, count: int) -> list:
    pieces = [PieceTypeFactory(label=f"Pièce {n}", order=10 + n) for n in range(count)]
    formation.piece_types.add(*pieces)
    return pieces


# --- clamd's version --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "expected"),
    [(NEW, 27000), ("ClamAV 1.4.6", None), ("ClamAV 1.4.6/abc/x", None), ("", None)],
)
def test_parse_version_reads_the_signature_database_version(reply, expected):
    version = antivirus.parse_version(reply)

    assert version.signature_version == expected
    assert version.reply == reply


def test_a_scan_records_clamd_version_and_signature_version(peer, application, piece, upload):
    upload(application, piece)

    document = Document.objects.get()
    assert (document.scan_status, document.scanned_with, document.signature_version) == (
        ScanStatus.CLEAN,
        OLD,
        26999,
    )


# --- re-scan on new signatures ----------------------------------------------------------------------------------


def test_new_signatures_rescan_clean_files_once(
    peer, application, piece, formation, upload, django_capture_on_commit_callbacks
):
    (second,) = more_pieces(formation, 1)
    upload(application, piece)
    upload(application, second)
    assert len(peer.scanned) == 2

    peer.version = NEW
    run = rescan(django_capture_on_commit_callbacks)

    assert (run.status, run.counts) == (BatchRun.Status.FINISH, {"clean": 2})
    assert len(peer.scanned) == 4
    assert set(Document.objects.values_list("signature_version", "scanned_with")) == {(27000, NEW)}

    again = rescan(django_capture_on_commit_callbacks)

    assert (again.status, again.counts) == (BatchRun.Status.FINISH, {})
    assert len(peer.scanned) == 4


def test_a_file_found_infected_by_new_signatures_is_quarantined_like_on_upload(
    peer, application, piece, upload, django_capture_on_commit_callbacks, monkeypatch
):
    peer.detects = False  # yesterday's signatures do not know it yet
    submission = upload(application, piece, eicar_pdf())
    document = Document.objects.get()
    original = document.file.name
    assert document.scan_status == ScanStatus.CLEAN
    flushed = []  # (name flushed, the name its row held then): the copy on disk before the row points to it
    monkeypatch.setattr(
        scanning, "flush", lambda name: flushed.append((name, Document.objects.get(pk=document.pk).file.name))
    )

    peer.detects, peer.version = True, NEW
    run = rescan(django_capture_on_commit_callbacks)

    assert run.counts == {"infected (quarantined)": 1}
    document.refresh_from_db()
    submission.refresh_from_db()
    assert (document.scan_status, document.scan_detail, document.signature_version) == (
        ScanStatus.INFECTED,
        SIGNATURE,
        27000,
    )
    assert document.file.name == f"quarantine/{original}"
    assert flushed == [(document.file.name, original)]
    assert default_storage.exists(document.file.name)
    assert not default_storage.exists(original)
    assert (submission.status, submission.document, submission.comment) == (PieceStatus.REFUSED, None, NEUTRAL)
    event = ApplicationEvent.objects.get(kind="piece_quarantined")
    assert (event.application, event.actor, event.batch) == (application, None, scanning.RESCAN_BATCH)
    assert event.comment == f"{piece.code}: {SIGNATURE}"

    assert rescan(django_capture_on_commit_callbacks).counts == {}  # quarantined files are not scanned again


def test_quarantine_of_a_shared_piece_is_recorded_on_each_live_application(
    peer, candidate_user, application, shared_piece, upload, django_capture_on_commit_callbacks
):
    second = application_of(candidate_user, FormationFactory())
    peer.detects = False
    upload(application, shared_piece, eicar_pdf())

    peer.detects, peer.version = True, NEW
    rescan(django_capture_on_commit_callbacks)

    events = ApplicationEvent.objects.filter(kind="piece_quarantined")
    assert {event.application_id for event in events} == {application.pk, second.pk}
    assert PieceSubmission.objects.get().status == PieceStatus.REFUSED


def test_a_piece_quarantined_after_the_transmission_can_be_sent_again(
    peer, application, piece, upload, django_capture_on_commit_callbacks
):
    """The comment says « déposez-en un autre »: the candidate can, though the dossier was transmitted (the piece is
    refused, which the targeted correction reopens), and staff see it refused, not silently waiting."""
    peer.detects = False
    upload(application, piece, eicar_pdf())
    application.dossier_status = DossierStatus.RECEIVED
    application.save(update_fields=["dossier_status"])
    peer.detects, peer.version = True, NEW
    rescan(django_capture_on_commit_callbacks)

    context = pieces_table_context(Application.objects.select_related("formation").get(pk=application.pk))
    assert piece.pk in context["replaceable_pieces"]
    peer.detects = False
    replaced = upload(application, piece)
    assert (replaced.status, replaced.document is not None) == (PieceStatus.SUBMITTED, True)


def test_a_piece_quarantined_before_the_transmission_offers_to_add_a_file(
    peer, application, piece, upload, django_capture_on_commit_callbacks
):
    peer.detects = False
    upload(application, piece, eicar_pdf())
    peer.detects, peer.version = True, NEW
    rescan(django_capture_on_commit_callbacks)

    context = pieces_table_context(Application.objects.select_related("formation").get(pk=application.pk))
    (row,) = [row for row in context["piece_rows"] if row.piece_type.pk == piece.pk]
    assert (context["can_change_pieces"], row.status, row.can_add, row.can_remove) == (
        True,
        PieceStatus.REFUSED,
        True,
        False,
    )
    assert row.is_blocking  # the transmission waits for another file


def test_the_upload_task_quarantine_is_in_the_history_too(peer, application, piece, upload):
    upload(application, piece, eicar_pdf())

    assert Document.objects.get().scan_status == ScanStatus.INFECTED
    event = ApplicationEvent.objects.get(kind="piece_quarantined")
    assert (event.actor, event.batch) == (None, scanning.SCAN_TASK)


# --- failed, lost and missing scans -----------------------------------------------------------------------------


def test_failed_scans_are_retried(peer, application, piece, upload, django_capture_on_commit_callbacks):
    peer.failing = True
    submission = upload(application, piece)
    assert Document.objects.get().scan_status == ScanStatus.ERROR

    peer.failing = False
    run = rescan(django_capture_on_commit_callbacks)

    assert run.counts == {"clean": 1}
    assert Document.objects.get().scan_status == ScanStatus.CLEAN
    submission.refresh_from_db()
    assert submission.status == PieceStatus.SUBMITTED


def test_clamd_without_signature_version_retries_failed_scans_only(
    peer, application, piece, formation, upload, django_capture_on_commit_callbacks
):
    (second,) = more_pieces(formation, 1)
    upload(application, piece)  # clean, signatures 26999
    peer.failing = True
    upload(application, second)
    peer.failing, peer.version = False, "ClamAV 1.4.6"  # local databases only: no version to compare

    run = rescan(django_capture_on_commit_callbacks)

    assert run.counts == {"clamd reports no signature version: clean files not re-scanned": 1, "clean": 1}
    assert len(peer.scanned) == 2


def test_a_missing_stored_file_is_a_scan_error_not_a_crash(peer, application, piece, upload):
    upload(application, piece)
    document = Document.objects.get()
    default_storage.delete(document.file.name)
    peer.version = NEW

    assert scanning.scan_stored_document(document_id=document.pk, current_version=27000) == ScanStatus.ERROR
    document.refresh_from_db()
    assert (document.scan_status, document.scan_detail) == (ScanStatus.ERROR, "stored file not found")


def test_scanning_a_document_that_is_gone_or_up_to_date_does_nothing(peer, application, piece, upload):
    upload(application, piece)
    document = Document.objects.get()

    assert scanning.scan_stored_document(document_id=document.pk + 1000, current_version=27000) is None
    assert scanning.scan_stored_document(document_id=document.pk, current_version=26999) is None
    assert scanning.scan_stored_document(document_id=document.pk) is None
    assert len(peer.scanned) == 1


# --- selection --------------------------------------------------------------------------------------------------


def make_document(application, piece_type, *, status, version=None, uploaded_hours_ago=0, campaign_code=None):
    document = Document.objects.create(
        campaign_code=campaign_code or application.campaign.code,
        file=ContentFile(hostile.pdf_bytes(), name="piece.pdf"),
        original_name="piece.pdf",
        size=1,
        content_type="application/pdf",
        sha256="0" * 64,
        uploaded_by=application.created_by,
        scan_status=status,
        signature_version=version,
        scanned_at=None if status in (ScanStatus.PENDING, ScanStatus.NOT_SCANNED) else timezone.now(),
    )
    Document.objects.filter(pk=document.pk).update(
        uploaded_at=timezone.now() - datetime.timedelta(hours=uploaded_hours_ago)
    )
    PieceSubmission.objects.create(
        candidate=application.candidate,
        application=application,
        piece_type=piece_type,
        status=PieceStatus.SUBMITTED,
        document=document,
    )
    return document


def test_selection_is_one_query_over_active_campaigns(application, formation, django_assert_num_queries):
    pieces = iter(more_pieces(formation, 11))
    due = {
        "clean with older signatures": make_document(application, next(pieces), status="CLEAN", version=26999),
        "clean before versions were kept": make_document(application, next(pieces), status="CLEAN"),
        "failed": make_document(application, next(pieces), status="ERROR"),
        "stored without antivirus": make_document(application, next(pieces), status="NONE"),
        "scan lost since upload": make_document(application, next(pieces), status="PENDING", uploaded_hours_ago=2),
    }
    not_due = {
        "clean with current signatures": make_document(application, next(pieces), status="CLEAN", version=27000),
        "clean with newer signatures": make_document(application, next(pieces), status="CLEAN", version=27001),
        "scan queued a minute ago": make_document(application, next(pieces), status="PENDING"),
        "quarantined": make_document(application, next(pieces), status="INFECTED", version=26000),
        "archived campaign": make_document(
            application, next(pieces), status="ERROR", campaign_code=CampaignFactory(is_active=False).code
        ),
    }
    Document.objects.create(  # a file no piece points to
        campaign_code=application.campaign.code, file="x.pdf", size=1, sha256="0", uploaded_by=application.created_by
    )

    with django_assert_num_queries(1):
        selected = set(scanning.documents_to_scan(current_version=27000).values_list("pk", flat=True))

    assert selected == {document.pk for document in due.values()}
    assert not selected & {document.pk for document in not_due.values()}
    without_version = set(scanning.documents_to_scan(current_version=None).values_list("pk", flat=True))
    assert without_version == {due[key].pk for key in ("failed", "stored without antivirus", "scan lost since upload")}


def test_limit_bounds_a_run_oldest_scan_first_and_the_next_run_goes_on(
    peer, application, formation, django_capture_on_commit_callbacks
):
    pieces = more_pieces(formation, 3)
    documents = [make_document(application, p, status="CLEAN", version=26000) for p in pieces]
    for hours, document in zip((1, 3, 2), documents, strict=True):
        Document.objects.filter(pk=document.pk).update(scanned_at=timezone.now() - datetime.timedelta(hours=hours))
    peer.version = NEW

    assert rescan(django_capture_on_commit_callbacks, limit=2).counts == {"clean": 2}
    assert Document.objects.get(pk=documents[0].pk).signature_version == 26000  # the most recent scan waits

    assert rescan(django_capture_on_commit_callbacks, limit=2).counts == {"clean": 1}
    assert rescan(django_capture_on_commit_callbacks, limit=2).counts == {}
    assert set(Document.objects.values_list("signature_version", flat=True)) == {27000}


def test_dry_run_counts_and_changes_nothing(peer, application, piece, django_capture_on_commit_callbacks):
    make_document(application, piece, status="ERROR")

    run = rescan(django_capture_on_commit_callbacks, dry_run=True)

    assert (run.dry_run, run.counts) == (True, {"documents to scan": 1})
    assert Document.objects.get().scan_status == ScanStatus.ERROR
    assert peer.scanned == []


def test_a_failing_clamd_stops_the_run_after_five_failures_in_a_row(
    peer, application, formation, django_capture_on_commit_callbacks
):
    for piece_type in more_pieces(formation, 6):
        make_document(application, piece_type, status="CLEAN", version=26000)
    peer.version, peer.failing = NEW, True

    run = rescan(django_capture_on_commit_callbacks)

    assert run.status == BatchRun.Status.ERROR
    assert run.counts == {"scan errors": 5}
    assert "5 scans failed in a row" in run.errors
    assert Document.objects.filter(scan_status=ScanStatus.CLEAN).count() == 1


# --- without clamd, clamd down ----------------------------------------------------------------------------------


def test_without_antivirus_the_batch_records_that_it_did_nothing(application, piece):
    make_document(application, piece, status="NONE")
    out = io.StringIO()

    call_command("rescan_documents", stdout=out)

    run = BatchRun.objects.get(name="rescan_documents")
    assert (run.status, run.counts) == (BatchRun.Status.FINISH, {"antivirus not configured: nothing scanned": 1})
    assert "antivirus not configured: nothing scanned: 1" in out.getvalue()
    assert Document.objects.get().scan_status == ScanStatus.NOT_SCANNED


def test_unreachable_clamd_is_an_error_of_the_run_and_changes_nothing(
    settings, closed_port_address, application, piece
):
    settings.CLAMD_ADDRESS = closed_port_address
    make_document(application, piece, status="ERROR")

    call_command("rescan_documents", stdout=io.StringIO(), stderr=io.StringIO())

    run = BatchRun.objects.get(name="rescan_documents")
    assert run.status == BatchRun.Status.ERROR
    assert "does not answer" in run.errors
    assert Document.objects.get().scan_status == ScanStatus.ERROR


def test_command_dry_run_shows_what_it_would_do(peer, application, piece):
    make_document(application, piece, status="ERROR")
    out = io.StringIO()

    call_command("rescan_documents", "--dry-run", stdout=out)

    assert out.getvalue().strip() == "[dry run] rescan_documents: documents to scan: 1"


def test_nightly_rescans_after_archiving_and_destruction_and_before_the_orphan_sweep():
    position = BATCHES.index("rescan_documents")

    assert BATCHES.index("destroy_archived_campaigns") < position < BATCHES.index("remove_orphan_files")


# --- the real clamd ---------------------------------------------------------------------------------------------


@pytest.mark.clamd
def test_real_clamd_rescan_scans_what_is_due_quarantines_and_records_the_version(
    settings, clamd_address, closed_port_address, application, formation, upload, django_capture_on_commit_callbacks
):
    clean_piece, infected_piece, failed_piece = more_pieces(formation, 3)
    settings.CLAMD_ADDRESS = None  # stored while no antivirus was configured
    upload(application, clean_piece)
    infected = upload(application, infected_piece, eicar_pdf())
    settings.CLAMD_ADDRESS = closed_port_address  # clamd was down at upload
    upload(application, failed_piece)
    assert sorted(Document.objects.values_list("scan_status", flat=True)) == ["ERROR", "NONE", "NONE"]

    settings.CLAMD_ADDRESS = clamd_address
    version = antivirus.current_version()
    out = io.StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("rescan_documents", stdout=out)

    run = BatchRun.objects.get(name="rescan_documents")
    assert run.status == BatchRun.Status.FINISH
    assert run.counts.get("clean") == 2
    assert run.counts.get("infected (quarantined)") == 1
    assert set(Document.objects.values_list("scanned_with", "signature_version")) == {
        (version.reply, version.signature_version)
    }
    quarantined = Document.objects.get(scan_status=ScanStatus.INFECTED)
    assert "EICAR" in quarantined.scan_detail
    assert quarantined.file.name.startswith("quarantine/")
    infected.refresh_from_db()
    assert (infected.status, infected.document, infected.comment) == (PieceStatus.REFUSED, None, NEUTRAL)

    with django_capture_on_commit_callbacks(execute=True):
        call_command("rescan_documents", stdout=io.StringIO())
    assert BatchRun.objects.order_by("-id").first().counts.get("clean") is None  # nothing due any more
