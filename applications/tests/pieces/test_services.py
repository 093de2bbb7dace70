import datetime
import threading

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, connection, connections
from django.utils import timezone

from applications.enums import DossierStatus, PieceStatus
from applications.models import ApplicationEvent, PieceSubmission
from applications.services import pieces as services
from applications.tests.factories_candidature import application_of
from documents import scanning
from documents.enums import ScanStatus
from documents.models import Document
from documents.tests import hostile_files as hostile
from documents.tests.storage import stored_files
from ecandidat.exceptions import BusinessRuleError
from offers.enums import ApplicationMode
from offers.tests.factories import FormationFactory, PieceTypeFactory


def upload(application, piece_type, uploaded_file=None):
    return services.upload_piece(
        application=application,
        piece_type=piece_type,
        uploaded_file=uploaded_file or hostile.valid_pdf_upload(),
        actor=application.created_by,
    )


def test_upload_stores_the_file_under_a_random_name_and_marks_the_piece_submitted(application, piece):
    submission = upload(application, piece, hostile.valid_pdf_upload("../../Relevé.pdf"))

    submission.refresh_from_db()
    document = submission.document
    assert submission.status == PieceStatus.SUBMITTED
    assert submission.application == application
    assert document.original_name == "Relevé.pdf"
    assert document.content_type == "application/pdf"
    assert document.scan_status == ScanStatus.NOT_SCANNED
    assert stored_files() == [document.file.name]
    assert document.file.name.startswith(f"{application.campaign.code}/")
    assert "Relev" not in document.file.name
    assert default_storage.open(document.file.name).read() == hostile.pdf_bytes()
    assert ApplicationEvent.objects.filter(application=application, kind="piece_uploaded").count() == 1


def test_shared_piece_is_stored_once_for_all_applications(candidate_user, application, shared_piece):
    second = application_of(candidate_user, FormationFactory())

    upload(application, shared_piece)

    assert PieceSubmission.objects.get().application is None
    with pytest.raises(BusinessRuleError, match="only one file per requested supporting document"):
        upload(second, shared_piece)
    assert len(stored_files()) == 1


def test_double_submit_creates_one_piece(application, piece):
    upload(application, piece)

    with pytest.raises(BusinessRuleError, match="You can upload only one file per requested supporting document"):
        upload(application, piece)

    assert PieceSubmission.objects.count() == 1
    assert Document.objects.count() == 1
    assert len(stored_files()) == 1


def test_refused_file_stores_nothing(application, piece):
    with pytest.raises(services.UploadRefused, match="does not match its extension"):
        upload(application, piece, hostile.zip_as_pdf_upload())

    assert not PieceSubmission.objects.exists()
    assert not Document.objects.exists()
    assert stored_files() == []


def test_database_failure_after_the_file_write_deletes_the_file(application, piece, monkeypatch):
    def crash(self, *args, **kwargs):
        raise IntegrityError("simulated crash between the file write and the commit")

    monkeypatch.setattr(PieceSubmission, "save", crash)

    with pytest.raises(BusinessRuleError):
        upload(application, piece)

    assert stored_files() == []
    assert not Document.objects.exists()


def test_unexpected_failure_after_the_file_write_deletes_the_file_and_propagates(application, piece, monkeypatch):
    def crash(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(services, "_event", crash)

    with pytest.raises(RuntimeError):
        upload(application, piece)

    assert stored_files() == []


def test_remove_deletes_the_file_only_after_commit(application, piece, django_capture_on_commit_callbacks):
    submission = upload(application, piece)
    name = submission.document.file.name

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.remove_piece(application=application, piece_type=piece, actor=application.created_by)
        assert default_storage.exists(name)
    for callback in callbacks:
        callback()

    submission.refresh_from_db()
    assert submission.status == PieceStatus.WAITING
    assert submission.document is None
    assert not default_storage.exists(name)
    assert not Document.objects.exists()


def test_refused_piece_is_replaced_by_a_new_upload(
    application, piece, centre_manager, django_capture_on_commit_callbacks
):
    submission = upload(application, piece)
    old_name = submission.document.file.name
    services.set_piece_status(
        submission=submission, status=PieceStatus.REFUSED, comment="scan illisible", actor=centre_manager
    )
    submission.refresh_from_db()
    assert submission.comment == "scan illisible"
    assert submission.status_changed_by == centre_manager

    with django_capture_on_commit_callbacks(execute=True):  # the old file is deleted once the swap has committed
        upload(application, piece)

    submission.refresh_from_db()
    assert submission.status == PieceStatus.SUBMITTED
    assert submission.comment == ""
    assert old_name not in stored_files()
    assert PieceSubmission.objects.filter(piece_type=piece).count() == 1


def test_refused_piece_can_still_be_removed_then_uploaded(application, piece, centre_manager):
    submission = upload(application, piece)
    services.set_piece_status(submission=submission, status=PieceStatus.REFUSED, comment="flou", actor=centre_manager)

    services.remove_piece(application=application, piece_type=piece, actor=application.created_by)
    upload(application, piece)

    submission.refresh_from_db()
    assert submission.status == PieceStatus.SUBMITTED


# --- targeted correction (issue 13): a refused piece's own deadline ------------------------------------------------


def _refuse(submission, actor, *, replace_by=None, comment="illisible"):
    return services.set_piece_status(
        submission=submission, status=PieceStatus.REFUSED, comment=comment, actor=actor, replace_by=replace_by
    )


def test_refusal_stores_the_pieces_deadline_and_says_it_in_the_history(application, piece, centre_manager):
    day = timezone.localdate() + datetime.timedelta(days=10)

    _refuse(upload(application, piece), centre_manager, replace_by=day)

    submission = PieceSubmission.objects.get(piece_type=piece)
    assert submission.replace_by == day
    event = ApplicationEvent.objects.filter(kind="piece_status").latest("id")
    # In the institution's language whoever acts (the history is read in French): « à remplacer au plus tard le … ».
    assert event.comment == f"{piece.code}: illisible (à remplacer au plus tard le {day:%d/%m/%Y})"


def test_the_deadline_goes_with_a_refusal_only_and_not_in_the_past(application, piece, centre_manager):
    submission = upload(application, piece)
    with pytest.raises(BusinessRuleError, match="refusal only"):
        services.set_piece_status(
            submission=submission,
            status=PieceStatus.VALIDATED,
            actor=centre_manager,
            replace_by=timezone.localdate(),
        )
    with pytest.raises(BusinessRuleError, match="in the past"):
        _refuse(submission, centre_manager, replace_by=timezone.localdate() - datetime.timedelta(days=1))
    submission.refresh_from_db()
    assert (submission.status, submission.replace_by) == (PieceStatus.SUBMITTED, None)


def test_validating_or_replacing_clears_the_deadline(application, piece, centre_manager):
    day = timezone.localdate() + datetime.timedelta(days=3)
    submission = _refuse(upload(application, piece), centre_manager, replace_by=day)

    upload(application, piece)

    submission.refresh_from_db()
    assert (submission.status, submission.replace_by) == (PieceStatus.SUBMITTED, None)
    _refuse(submission, centre_manager, replace_by=day)
    services.set_piece_status(submission=submission, status=PieceStatus.VALIDATED, actor=centre_manager)
    submission.refresh_from_db()
    assert (submission.status, submission.replace_by) == (PieceStatus.VALIDATED, None)


@pytest.mark.parametrize("dossier_status", [DossierStatus.RECEIVED, DossierStatus.COMPLETE])
def test_a_refused_piece_is_replaceable_after_transmission(application, piece, centre_manager, dossier_status):
    submission = _refuse(upload(application, piece), centre_manager)
    other = PieceTypeFactory(is_common=False)
    application.formation.piece_types.add(other)
    application.dossier_status = dossier_status
    application.save()

    upload(application, piece)

    submission.refresh_from_db()
    assert submission.status == PieceStatus.SUBMITTED
    with pytest.raises(BusinessRuleError, match="has been transmitted"):  # the other pieces stay locked
        upload(application, other)


def test_a_refused_piece_is_replaceable_until_its_own_deadline_after_the_applications(
    application, formation, piece, centre_manager, time_machine
):
    own_deadline = formation.return_deadline + datetime.timedelta(days=7)
    submission = _refuse(upload(application, piece), centre_manager, replace_by=own_deadline)
    application.dossier_status = DossierStatus.RECEIVED
    application.save()

    time_machine.move_to(own_deadline + datetime.timedelta(hours=12))
    upload(application, piece)
    submission.refresh_from_db()
    assert submission.status == PieceStatus.SUBMITTED

    time_machine.move_to(own_deadline - datetime.timedelta(days=1))
    _refuse(submission, centre_manager, replace_by=own_deadline, comment="toujours flou")
    time_machine.move_to(own_deadline + datetime.timedelta(days=1, hours=12))
    with pytest.raises(BusinessRuleError, match="deadline to replace this piece"):
        upload(application, piece)


def test_without_its_own_deadline_a_refused_piece_follows_the_applications(
    application, formation, piece, centre_manager, time_machine
):
    _refuse(upload(application, piece), centre_manager)
    application.dossier_status = DossierStatus.RECEIVED
    application.save()

    time_machine.move_to(formation.return_deadline + datetime.timedelta(days=1, hours=12))

    with pytest.raises(BusinessRuleError, match="deadline to replace this piece"):
        upload(application, piece)


def test_a_cancelled_application_stays_closed_even_for_a_refused_piece(application, piece, centre_manager):
    _refuse(upload(application, piece), centre_manager, replace_by=timezone.localdate())
    application.cancelled_at = timezone.now()
    application.save()

    with pytest.raises(BusinessRuleError, match="has been cancelled"):
        upload(application, piece)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"dossier_status": DossierStatus.RECEIVED}, "has been transmitted"),
        ({"dossier_status": DossierStatus.COMPLETE}, "has been transmitted"),
        ({"cancelled_at": timezone.now()}, "has been cancelled"),
    ],
)
def test_candidate_cannot_change_pieces_outside_editable_statuses(application, piece, change, message):
    for field, value in change.items():
        setattr(application, field, value)
    application.save()

    with pytest.raises(BusinessRuleError, match=message):
        upload(application, piece)
    assert stored_files() == []


def test_incomplete_dossier_is_open_again(application, piece):
    application.dossier_status = DossierStatus.INCOMPLETE
    application.save()

    assert upload(application, piece).status == PieceStatus.SUBMITTED


def test_candidate_cannot_change_pieces_after_the_return_deadline(application, formation, piece, time_machine):
    time_machine.move_to(formation.return_deadline + datetime.timedelta(days=1))

    with pytest.raises(BusinessRuleError, match="return deadline"):
        upload(application, piece)


def test_extended_deadline_reopens_the_pieces(application, formation, piece, time_machine):
    application.return_deadline_override = formation.return_deadline + datetime.timedelta(days=5)
    application.save()
    time_machine.move_to(formation.return_deadline + datetime.timedelta(days=1))

    assert upload(application, piece).status == PieceStatus.SUBMITTED


def test_paper_dossier_has_no_upload(application, formation, piece):
    formation.mode = ApplicationMode.PAPER
    formation.save()

    with pytest.raises(BusinessRuleError, match="Paper dossier"):
        upload(application, piece)


def test_validated_piece_cannot_be_removed(application, piece, centre_manager):
    submission = upload(application, piece)
    services.set_piece_status(submission=submission, status=PieceStatus.VALIDATED, comment="", actor=centre_manager)

    with pytest.raises(BusinessRuleError, match="validated"):
        services.remove_piece(application=application, piece_type=piece, actor=application.created_by)


def test_piece_not_requested_for_the_application_is_refused(application):
    with pytest.raises(BusinessRuleError, match="not requested"):
        upload(application, PieceTypeFactory())


def test_conditional_piece_not_concerned_then_concerned(application, conditional_piece):
    actor = application.created_by
    submission = services.declare_not_concerned(application=application, piece_type=conditional_piece, actor=actor)
    assert submission.status == PieceStatus.NOT_CONCERNED
    with pytest.raises(BusinessRuleError, match="does not concern you"):
        upload(application, conditional_piece)

    submission = services.declare_concerned(application=application, piece_type=conditional_piece, actor=actor)
    assert submission.status == PieceStatus.WAITING
    upload(application, conditional_piece)
    with pytest.raises(BusinessRuleError, match="Remove the file first"):
        services.declare_not_concerned(application=application, piece_type=conditional_piece, actor=actor)


def test_required_piece_cannot_be_declared_not_concerned(application, piece):
    with pytest.raises(BusinessRuleError, match="not conditional"):
        services.declare_not_concerned(application=application, piece_type=piece, actor=application.created_by)


def test_staff_refusal_needs_a_comment_and_never_changes_not_concerned(application, conditional_piece, centre_manager):
    submission = services.declare_not_concerned(
        application=application, piece_type=conditional_piece, actor=application.created_by
    )
    with pytest.raises(BusinessRuleError, match="comment"):
        services.set_piece_status(submission=submission, status=PieceStatus.REFUSED, comment=" ", actor=centre_manager)
    with pytest.raises(BusinessRuleError, match="not concerned"):
        services.set_piece_status(submission=submission, status=PieceStatus.VALIDATED, actor=centre_manager)
    with pytest.raises(BusinessRuleError, match="cannot be set"):
        services.set_piece_status(submission=submission, status=PieceStatus.NOT_CONCERNED, actor=centre_manager)


def test_staff_status_change_writes_history(application, piece, centre_manager):
    submission = upload(application, piece)

    services.set_piece_status(submission=submission, status=PieceStatus.VALIDATED, actor=centre_manager)

    event = ApplicationEvent.objects.get(kind="piece_status")
    assert event.actor == centre_manager
    assert event.to_status == PieceStatus.VALIDATED


def test_delete_application_files_keeps_shared_pieces(
    application, piece, shared_piece, django_capture_on_commit_callbacks
):
    own = upload(application, piece)
    shared = upload(application, shared_piece)
    own_name, shared_name = own.document.file.name, shared.document.file.name

    with django_capture_on_commit_callbacks(execute=True):
        assert services.delete_application_files(application=application, actor=application.created_by) == 1

    assert not default_storage.exists(own_name)
    assert default_storage.exists(shared_name)
    own.refresh_from_db()
    assert own.status == PieceStatus.WAITING
    assert Document.objects.count() == 1


# --- Antivirus ---------------------------------------------------------------------------------------------------


def test_upload_queues_a_scan_after_commit_and_an_unreachable_clamd_gives_error(
    application, piece, settings, closed_port_address, django_capture_on_commit_callbacks
):
    settings.CLAMD_ADDRESS = closed_port_address

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        submission = upload(application, piece)
    assert Document.objects.get().scan_status == ScanStatus.PENDING
    for callback in callbacks:
        callback()

    document = Document.objects.get()
    assert document.scan_status == ScanStatus.ERROR
    assert closed_port_address in document.scan_detail
    submission.refresh_from_db()
    assert submission.status == PieceStatus.SUBMITTED  # the file stays; staff see the scan error


def stored_document(application, content: bytes) -> Document:
    """A stored document as the upload leaves it before the scan (content not validated: to test the scanner)."""
    document = Document.objects.create(
        campaign_code=application.campaign.code,
        file=ContentFile(content, name="piece.pdf"),
        original_name="piece.pdf",
        size=len(content),
        content_type="application/pdf",
        sha256="0" * 64,
        uploaded_by=application.created_by,
        scan_status=ScanStatus.PENDING,
    )
    return document


@pytest.mark.clamd
def test_real_clamd_quarantines_an_infected_piece(
    application, piece, clamd_address, django_capture_on_commit_callbacks
):
    document = stored_document(application, hostile.EICAR)
    submission = PieceSubmission.objects.create(
        candidate=application.candidate,
        piece_type=piece,
        application=application,
        status=PieceStatus.SUBMITTED,
        document=document,
    )
    original = document.file.name

    with django_capture_on_commit_callbacks(execute=True):
        assert scanning.scan_stored_document(document_id=document.pk) == ScanStatus.INFECTED

    document.refresh_from_db()
    submission.refresh_from_db()
    assert document.scan_status == ScanStatus.INFECTED
    assert "EICAR" in document.scan_detail
    assert document.file.name == f"quarantine/{original}"
    assert default_storage.exists(document.file.name)
    assert not default_storage.exists(original)
    assert (
        submission.status == PieceStatus.REFUSED
    )  # without its file: the candidate sends another (targeted correction)
    assert submission.document is None
    assert submission.comment == "Le fichier n'a pas pu être accepté, déposez-en un autre."


@pytest.mark.clamd
def test_real_clamd_marks_an_uploaded_pdf_clean(application, piece, clamd_address, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        upload(application, piece)

    assert Document.objects.get().scan_status == ScanStatus.CLEAN


def test_a_status_change_on_a_shared_piece_is_in_the_history_of_every_live_application(
    candidate_user, application, shared_piece, centre_manager
):
    """Issue 10: staff checking a shared piece wrote no history row at all (the piece has no application)."""
    second = application_of(candidate_user, FormationFactory())
    cancelled = application_of(candidate_user, FormationFactory(), cancelled_at=timezone.now())
    submission = upload(application, shared_piece)

    services.set_piece_status(
        submission=submission, status=PieceStatus.REFUSED, comment="Illisible", actor=centre_manager
    )

    events = ApplicationEvent.objects.filter(kind="piece_status").order_by("application_id")
    assert [(e.application_id, e.actor, e.to_status, e.comment) for e in events] == [
        (app.pk, centre_manager, PieceStatus.REFUSED, f"{shared_piece.code}: Illisible")
        for app in (application, second)
    ]
    assert not cancelled.events.filter(kind="piece_status").exists()


def test_the_pieces_deadline_only_adds_time_to_an_open_dossier(
    application, formation, piece, centre_manager, time_machine
):
    own_deadline = timezone.localdate() + datetime.timedelta(days=1)
    assert formation.return_deadline > own_deadline + datetime.timedelta(days=2)
    submission = _refuse(upload(application, piece), centre_manager, replace_by=own_deadline)
    application.dossier_status = DossierStatus.INCOMPLETE
    application.save()

    time_machine.move_to(own_deadline + datetime.timedelta(days=1, hours=12))
    upload(application, piece)  # the application's own deadline still runs

    submission.refresh_from_db()
    assert submission.status == PieceStatus.SUBMITTED


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("shared", [False, True], ids=["own piece", "shared piece"])
def test_two_uploads_of_the_same_piece_at_once_keep_one_file(application, piece, shared_piece, shared):
    """Two tabs (or a double tap) send a file for the same piece at the same moment: both files are validated and
    written, then the rows are committed one at a time under the application's lock; the second is refused with
    its message and its file deleted, nothing half-stored."""
    assert connection.vendor == "postgresql", "integration tests run on PostgreSQL (DATABASE_URL)"
    target = shared_piece if shared else piece
    barrier = threading.Barrier(2)
    outcomes = []

    def run(name):
        try:
            barrier.wait()
            upload(application, target, hostile.valid_pdf_upload(name))
            outcomes.append("ok")
        except BusinessRuleError as error:
            outcomes.append(str(error))
        except Exception as error:  # shown by the assertion below, not an unhandled exception in the thread
            outcomes.append(repr(error))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(name,)) for name in ("a.pdf", "b.pdf")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # The threads run in the default language, French.
    assert sorted(outcomes) == ["Vous ne pouvez déposer qu'un seul fichier par pièce justificative demandée", "ok"]
    document = Document.objects.get()
    assert PieceSubmission.objects.get().document == document
    assert stored_files() == [document.file.name]
