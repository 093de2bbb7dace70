"""PJ-OPI and the nightly re-scan: a validated piece's file that new antivirus signatures find infected (moved under
``quarantine/``) never goes to Apogée: its pending rows let go of it and, the piece refused, are retired by the next
run; the day's ZIP, ``OPI_EXPORT_DIR`` and a run's sending skip any file the antivirus has not cleared."""

import io
import zipfile

import pytest
from django.core.files.storage import default_storage

from applications.models import OpiPiece
from applications.opi.pieces import MISSING_COUNT, MISSING_NOTE, folder_entries
from applications.opi.services import export_zip, transfer_opis
from applications.tests.opi.helpers import DAY1, admit, confirm, make_candidate, piece
from documents import scanning
from documents.enums import ScanStatus
from documents.models import Document
from documents.tests.clamd_peer import ClamdPeer
from documents.tests.hostile_files import EICAR
from ecandidat.batches import Report

OLD = "ClamAV 1.0.7/26999/Sat Nov 23 09:37:00 2024"
NEW = "ClamAV 1.0.7/27000/Sun Nov 24 09:37:00 2024"
INFECTED_ID = b"%PDF-1.4 carte d'identite " + EICAR
ENTRY = "ECAB123456_OPI/PJ_CNI_ECAB123456.pdf"


@pytest.fixture(autouse=True)
def _apogee_with_pieces(settings, time_machine):
    settings.OPI_BACKEND = "apogee"
    settings.OPI_PIECES = True
    time_machine.move_to(DAY1)


@pytest.fixture
def peer(settings):
    peer = ClamdPeer(version=NEW)
    settings.CLAMD_ADDRESS = peer.address
    yield peer
    peer.close()


@pytest.fixture
def admitted_with_identity(campaign, formation, centre_manager, opi_type, identity):
    """An admitted candidate who confirmed, with a validated shared CNI that yesterday's signatures found clean."""
    application = admit(make_candidate(campaign), formation, manager=centre_manager, decision_type=opi_type)
    submission = piece(application, identity, INFECTED_ID, shared=True)
    Document.objects.filter(pk=submission.document_id).update(
        scan_status=ScanStatus.CLEAN, scanned_with=OLD, signature_version=26999
    )
    confirm(application)
    return submission


def rescan(document_id, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        return scanning.scan_stored_document(
            document_id=document_id, current_version=27000, batch=scanning.RESCAN_BATCH
        )


def entries(export) -> dict[str, bytes]:
    archive = zipfile.ZipFile(io.BytesIO(export_zip(export)))
    return {name: archive.read(name) for name in archive.namelist()}


def test_a_piece_sent_then_quarantined_is_left_out_of_the_days_zip(
    peer, admitted_with_identity, django_capture_on_commit_callbacks
):
    export = transfer_opis(Report())
    assert entries(export)[ENTRY] == INFECTED_ID

    assert rescan(admitted_with_identity.document_id, django_capture_on_commit_callbacks) == ScanStatus.INFECTED

    row = OpiPiece.objects.select_related("document").get()
    assert row.transferred_at is not None  # what went, and when, is kept
    assert row.document.file.name.startswith("quarantine/")
    files = entries(export)
    assert ENTRY not in files
    assert not any(EICAR in content for content in files.values())
    assert ENTRY in files[MISSING_NOTE].decode()


def test_a_pending_piece_quarantined_lets_go_of_its_file_and_is_retired_by_the_next_run(
    settings, tmp_path, peer, admitted_with_identity, django_capture_on_commit_callbacks
):
    stored = admitted_with_identity.document.file.name
    content = default_storage.open(stored).read()
    default_storage.delete(stored)  # the first run cannot read it: the piece stays pending
    first = Report()
    transfer_opis(first)
    assert first.counts[MISSING_COUNT] == 1
    default_storage.save(stored, io.BytesIO(content))

    assert rescan(admitted_with_identity.document_id, django_capture_on_commit_callbacks) == ScanStatus.INFECTED

    row = OpiPiece.objects.get()
    assert (row.document_id, row.transferred_at) == (None, None)
    settings.OPI_EXPORT_DIR = str(tmp_path)
    report = Report()
    with django_capture_on_commit_callbacks(execute=True):
        export = transfer_opis(report)
    # The piece is refused with the quarantine (``take_off_quarantined_piece``): no longer validated, its row goes
    # (it never went); a new file validated goes when the OPI is transferred again.
    assert report.counts["pieces no longer validated, not sent"] == 1
    assert MISSING_COUNT not in report.counts
    assert not OpiPiece.objects.exists()
    assert not any(EICAR in content for content in entries(export).values())
    assert not any(EICAR in found.read_bytes() for found in tmp_path.rglob("*") if found.is_file())


def test_a_file_not_cleared_is_never_sent_even_if_its_row_still_holds_it(
    settings, tmp_path, admitted_with_identity, django_capture_on_commit_callbacks
):
    """Defence in depth: a pending row still pointing at a quarantined file (its receiver missed) sends nothing."""
    document = admitted_with_identity.document
    Document.objects.filter(pk=document.pk).update(scan_status=ScanStatus.INFECTED)
    settings.OPI_EXPORT_DIR = str(tmp_path)
    report = Report()

    with django_capture_on_commit_callbacks(execute=True):
        export = transfer_opis(report)

    assert report.counts[MISSING_COUNT] == 1
    row = OpiPiece.objects.select_related("document").get()
    assert (row.document_id, row.transferred_at) == (document.pk, None)
    assert ENTRY not in entries(export)
    assert not (tmp_path / ENTRY).exists()
    assert folder_entries([row]) == []
