"""PJ-OPI as the piece is now (siscol-pegase-apogee.md §3.4: one pj_opi row per VALIDATED piece): a piece staff
refused after the OPI passed is not sent, whether its row was still pending (the storage did not answer that night)
or made pending again by « Rechargement des OPI / PJ-OPI »; a piece validated again with a new file goes with the
new file. And a common piece still pending on a wish the candidate withdraws goes with the wish they keep under the
same OPI code, instead of waiting for ever."""

import io
import zipfile

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from applications.enums import OpiState, PieceStatus
from applications.models import Opi, OpiPiece, PieceSubmission
from applications.opi import pieces as opi_pieces
from applications.opi.pieces import MISSING_COUNT, list_name, piece_counts, send_pending
from applications.opi.services import export_zip, requeue_selected_opis, transfer_opis
from applications.services import pieces as piece_services
from applications.tests.opi.helpers import (
    BAC_BYTES,
    DAY1,
    ID_BYTES,
    admit,
    confirm,
    make_candidate,
    parse,
    piece,
    withdraw_after_confirmation,
)
from documents.tests import hostile_files as hostile
from ecandidat.batches import Report

CNI = "ECAB123456_OPI/PJ_CNI_ECAB123456.pdf"
STALE = "pieces no longer validated, not sent"
MOVED = "pieces moved from a withdrawn wish to another"
DAY6, DAY7, DAY8 = DAY1, DAY1.replace(day=7), DAY1.replace(day=8)


@pytest.fixture(autouse=True)
def _apogee_with_pieces(settings):
    settings.OPI_BACKEND = "apogee"
    settings.OPI_PIECES = True


def admitted(campaign, formation, manager, decision_type, *, username="AB123456", ine="1234567890a"):
    candidate = make_candidate(campaign, username=username, ine=ine)
    return admit(candidate, formation, manager=manager, decision_type=decision_type)


def names(export) -> list[str]:
    return sorted(zipfile.ZipFile(io.BytesIO(export_zip(export))).namelist())


def refuse(submission, actor):
    piece_services.set_piece_status(
        submission=submission, status=PieceStatus.REFUSED, comment="Pas votre carte", actor=actor
    )


def replace_and_validate(application, submission, *, uploader, checker) -> bytes:
    """Staff upload a new file for the refused piece (on the candidate's behalf) and validate it: its bytes."""
    piece_services.upload_piece_for_candidate(
        application=application,
        piece_type=submission.piece_type,
        uploaded_file=hostile.valid_pdf_upload("nouvelle-carte.pdf"),
        actor=uploader,
    )
    submission.refresh_from_db()
    piece_services.set_piece_status(submission=submission, status=PieceStatus.VALIDATED, actor=checker)
    submission.refresh_from_db()
    assert submission.status == PieceStatus.VALIDATED
    with default_storage.open(submission.document.file.name, "rb") as stored:
        return stored.read()


# --- 1. A piece refused after admission ------------------------------------------------------------------------


@pytest.mark.parametrize("refused_first", [True, False], ids=["refused-then-requeued", "requeued-then-refused"])
def test_a_piece_refused_after_it_went_is_not_sent_again_by_a_requeue(
    campaign, formation, centre_manager, central_manager, opi_type, identity, bac_marks, time_machine, refused_first
):
    time_machine.move_to(DAY6)
    application = admitted(campaign, formation, centre_manager, opi_type)
    card = piece(application, identity, ID_BYTES, shared=True)
    piece(application, bac_marks, BAC_BYTES)
    confirm(application)
    assert CNI in names(transfer_opis(Report()))  # day 6: sent

    if refused_first:
        refuse(card, centre_manager)
        requeue_selected_opis(opi_ids=[application.opi.pk], actor=central_manager)
    else:
        requeue_selected_opis(opi_ids=[application.opi.pk], actor=central_manager)
        refuse(card, centre_manager)
    time_machine.move_to(DAY8)
    report = Report()
    export = transfer_opis(report)

    assert names(export) == [
        "ECAB123456_OPI/PJ_RBAC_ECAB123456.pdf",  # still validated: sent again
        "opi-apogee-20260708.csv",
        "opi-apogee-pj-20260708.csv",
    ]
    _header, rows = parse(export.files[list_name(DAY8.date())])
    assert [row["COD_TPJ"] for row in rows] == ["RBAC"]
    assert (report.counts["pieces sent by this run"], export.pieces) == (1, 1)
    assert report.errors == []
    if refused_first:
        # The re-queue left it as it went, on day 6: the OPI's page still says when.
        assert OpiPiece.objects.get(siscol_code="CNI").day == DAY6.date()
        assert STALE not in report.counts
    else:
        # Made pending by the re-queue, refused before the night: never sent again, its row retired.
        assert not OpiPiece.objects.filter(siscol_code="CNI").exists()
        assert report.counts[STALE] == 1


def test_a_piece_pending_because_the_storage_did_not_answer_then_refused_is_not_sent(
    campaign, formation, centre_manager, opi_type, identity, time_machine, monkeypatch
):
    time_machine.move_to(DAY6)
    application = admitted(campaign, formation, centre_manager, opi_type)
    card = piece(application, identity, ID_BYTES, shared=True)
    confirm(application)
    with monkeypatch.context() as patched:
        patched.setattr(opi_pieces, "_in_storage", lambda name: False)  # S3 did not answer that night
        first = Report()
        transfer_opis(first)
    assert first.counts[MISSING_COUNT] == 1
    assert OpiPiece.objects.pending().count() == 1

    refuse(card, centre_manager)  # the next morning
    time_machine.move_to(DAY7)
    report = Report()
    export = transfer_opis(report)

    assert report.counts["pieces sent by this run"] == 0
    assert report.counts[STALE] == 1
    assert report.errors == []
    assert not OpiPiece.objects.exists()
    assert piece_counts(campaign) == {"pending": 0, "passed": 0}  # no « PJ-OPI en attente : 1 » left behind
    assert export is None or CNI not in names(export)


def test_a_piece_refused_then_validated_again_with_a_new_file_goes_with_the_new_file(
    campaign, formation, centre_manager, central_manager, opi_type, identity, time_machine
):
    time_machine.move_to(DAY6)
    application = admitted(campaign, formation, centre_manager, opi_type)
    card = piece(application, identity, ID_BYTES, shared=True)
    confirm(application)
    transfer_opis(Report())
    refuse(card, centre_manager)
    new_bytes = replace_and_validate(application, card, uploader=centre_manager, checker=centre_manager)
    assert new_bytes != ID_BYTES

    requeue_selected_opis(opi_ids=[application.opi.pk], actor=central_manager)
    time_machine.move_to(DAY8)
    report = Report()
    export = transfer_opis(report)

    assert report.counts["pieces sent by this run"] == 1
    assert zipfile.ZipFile(io.BytesIO(export_zip(export))).read(CNI) == new_bytes
    row = OpiPiece.objects.get()
    assert (row.document_id, row.day) == (PieceSubmission.objects.get().document_id, DAY8.date())


def test_a_pending_piece_refused_then_validated_again_goes_with_the_new_file_at_the_next_run(
    campaign, formation, centre_manager, opi_type, identity, time_machine, monkeypatch
):
    time_machine.move_to(DAY6)
    application = admitted(campaign, formation, centre_manager, opi_type)
    card = piece(application, identity, ID_BYTES, shared=True)
    confirm(application)
    with monkeypatch.context() as patched:
        patched.setattr(opi_pieces, "_in_storage", lambda name: False)
        transfer_opis(Report())
    refuse(card, centre_manager)
    new_bytes = replace_and_validate(application, card, uploader=centre_manager, checker=centre_manager)

    time_machine.move_to(DAY7)
    report = Report()
    export = transfer_opis(report)

    assert report.counts["pieces sent by this run"] == 1
    assert STALE not in report.counts
    assert zipfile.ZipFile(io.BytesIO(export_zip(export))).read(CNI) == new_bytes


# --- 2. A common piece pending on a withdrawn wish --------------------------------------------------------------


def test_a_shared_piece_pending_on_a_withdrawn_wish_goes_with_the_wish_kept(
    campaign, formation, other_formation, centre_manager, opi_type, identity, time_machine
):
    time_machine.move_to(DAY6)
    first = admitted(campaign, formation, centre_manager, opi_type)
    second = admit(first.candidate, other_formation, manager=centre_manager, decision_type=opi_type)
    card = piece(first, identity, ID_BYTES, shared=True)
    confirm(first)
    confirm(second)
    stored = card.document.file.name
    default_storage.delete(stored)  # missing that night: the row stays pending, on the first wish's OPI
    transfer_opis(Report())
    row = OpiPiece.objects.get()
    assert (row.opi_id, row.transferred_at) == (first.opi.pk, None)
    assert Opi.objects.filter(state=OpiState.PASSED, code="ECAB123456").count() == 2

    default_storage.save(stored, ContentFile(ID_BYTES))  # back in the storage
    withdraw_after_confirmation(first, actor=first.candidate.user)  # keeps the second wish
    time_machine.move_to(DAY7)
    report = Report()
    export = transfer_opis(report)

    assert report.counts["pieces sent by this run"] == 1
    assert report.counts[MOVED] == 1
    assert report.errors == []
    row = OpiPiece.objects.get()
    assert (row.opi_id, row.day) == (second.opi.pk, DAY7.date())
    assert zipfile.ZipFile(io.BytesIO(export_zip(export))).read(CNI) == ID_BYTES
    assert piece_counts(campaign) == {"pending": 0, "passed": 1}


def test_a_shared_piece_of_a_withdrawn_wish_with_no_other_transferred_wish_waits(
    campaign, formation, other_formation, centre_manager, opi_type, identity, time_machine
):
    """The other wish is not transferred (waiting for its formation's Apogée code): the piece waits, unsent; once
    that wish is transferred, the piece goes with it."""
    time_machine.move_to(DAY6)
    first = admitted(campaign, formation, centre_manager, opi_type)
    second = admit(first.candidate, other_formation, manager=centre_manager, decision_type=opi_type)
    other_formation.apogee_cge = ""
    other_formation.save()
    card = piece(first, identity, ID_BYTES, shared=True)
    confirm(first)
    confirm(second)
    stored = card.document.file.name
    default_storage.delete(stored)
    transfer_opis(Report())
    default_storage.save(stored, ContentFile(ID_BYTES))
    withdraw_after_confirmation(first, actor=first.candidate.user)

    time_machine.move_to(DAY7)
    report = Report()
    transfer_opis(report)
    assert report.counts["pieces sent by this run"] == 0
    assert MOVED not in report.counts
    assert OpiPiece.objects.get().opi_id == first.opi.pk

    other_formation.apogee_cge = "PER"
    other_formation.save()
    time_machine.move_to(DAY8)
    later = Report()
    transfer_opis(later)
    assert later.counts["pieces sent by this run"] == 1
    row = OpiPiece.objects.get()
    assert (row.opi_id, row.day) == (second.opi.pk, DAY8.date())


# --- The batch: no query per row ---------------------------------------------------------------------------------


@pytest.mark.parametrize("count", [1, 3])
def test_sending_retires_and_moves_rows_in_the_same_queries_whatever_their_number(
    campaign,
    formation,
    other_formation,
    centre_manager,
    opi_type,
    identity,
    bac_marks,
    time_machine,
    monkeypatch,
    django_assert_num_queries,
    count,
):
    time_machine.move_to(DAY6)
    candidates = []
    for number in range(count):
        first = admitted(
            campaign, formation, centre_manager, opi_type, username=f"AB12345{number}", ine=f"123456789{number}a"
        )
        second = admit(first.candidate, other_formation, manager=centre_manager, decision_type=opi_type)
        piece(first, identity, ID_BYTES, shared=True)
        marks = piece(first, bac_marks, BAC_BYTES)
        confirm(first)
        confirm(second)
        candidates.append((first, marks))
    with monkeypatch.context() as patched:
        patched.setattr(opi_pieces, "_in_storage", lambda name: False)
        transfer_opis(Report())
    for first, marks in candidates:
        refuse(marks, centre_manager)
        withdraw_after_confirmation(first, actor=first.candidate.user)
    for opi in Opi.objects.filter(withdrawn=True):  # as the run's stamp of the withdrawals does
        Opi.objects.filter(pk=opi.pk).update(state=OpiState.PASSED)
    report = Report()

    # The pending rows with their pieces, the OPIs to move them to, the rows moved and sent (one UPDATE), the
    # refused ones deleted (one DELETE), the day's pieces.
    with django_assert_num_queries(5):
        sent, day_pieces = send_pending(report, campaign=campaign, day=DAY7.date())

    assert (len(sent), len(day_pieces)) == (count, count)
    assert (report.counts[MOVED], report.counts[STALE]) == (count, count)
    assert not OpiPiece.objects.filter(siscol_code="RBAC").exists()
