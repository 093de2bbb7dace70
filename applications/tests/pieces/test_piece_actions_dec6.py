"""The candidate's piece actions and staff's upload (review of 6 December): a conditional piece refused without its
file may be declared not concerned; « - » removes only the file the page showed; a double submit of « - » or
« Concerné par cette pièce » is not answered by an error; the template link only where the download serves it; a
staff upload refused because a file came meanwhile says so to staff."""

import re

import pytest
from django.contrib.messages import get_messages
from django.core.files.base import ContentFile
from django.urls import reverse
from django.utils import timezone

from applications.enums import EventKind, PieceStatus
from applications.models import ApplicationEvent, PieceSubmission
from applications.pieces import piece_rows
from applications.services import pieces as services
from applications.tests.helpers import upload_pdf
from documents.models import Document
from documents.tests import hostile_files as hostile
from documents.tests.storage import stored_files
from ecandidat.exceptions import InvalidTransition
from offers.tests.factories import PieceTypeFactory


def page_messages(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def redirect_messages(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def url(name, application, piece_type):
    return reverse(f"pieces:{name}", args=[application.public_id, piece_type.pk])


def page(client, application) -> str:
    return client.get(reverse("pieces:pieces", args=[application.public_id])).content.decode()


def row_of(html: str, piece_type) -> str:
    start = html.index(f'id="piece-{piece_type.pk}"')
    return html[start : html.index("</tr>", start)]


def shown_document(html: str, application, piece_type) -> str:
    """The ``document`` posted by the « - » form of ``piece_type``'s row."""
    action = url("remove", application, piece_type)
    start = html.index(f'action="{action}"')
    form = html[start : html.index("</form>", start)]
    (value,) = re.findall(r'<input type="hidden" name="document" value="([^"]*)">', form)
    return value


def refuse(submission, actor):
    return services.set_piece_status(
        submission=submission,
        status=PieceStatus.REFUSED,
        comment="illisible",
        actor=actor,
        replace_by=timezone.localdate(),
    )


def events(application, kind) -> int:
    return ApplicationEvent.objects.filter(application=application, kind=kind).count()


@pytest.fixture
def manager(client, centre_manager):
    client.force_login(centre_manager)
    return client


# --- 1. A conditional piece refused, then without its file, may be declared not concerned -------------------------


def _remove_refused_file(application, piece_type, submission):
    services.remove_piece(application=application, piece_type=piece_type, actor=application.created_by)


def _quarantine(application, piece_type, submission):
    submission.refresh_from_db()
    services.take_off_quarantined_piece(
        Document, document=submission.document, signature="Eicar-Test", scanned_at=timezone.now(), batch="rescan-1"
    )


@pytest.mark.parametrize("take_off", [_remove_refused_file, _quarantine], ids=["removed", "quarantined"])
def test_a_refused_conditional_piece_without_its_file_may_be_declared_not_concerned(
    owner, application, conditional_piece, centre_manager, take_off, django_assert_num_queries
):
    submission = upload_pdf(application, conditional_piece)
    refuse(submission, centre_manager)
    take_off(application, conditional_piece, submission)
    submission.refresh_from_db()
    assert (submission.status, submission.document_id) == (PieceStatus.REFUSED, None)

    (row,) = piece_rows(application, for_staff=False)
    assert row.can_declare_not_concerned
    assert "Not concerned by this piece" in row_of(page(owner, application), conditional_piece)
    # session, user, savepoint, application, piece type; rule (requested); savepoint, lock, submission lock, update,
    # history row, release, release.
    with django_assert_num_queries(13):
        response = owner.post(url("not_concerned", application, conditional_piece))

    assert page_messages(owner.get(response["Location"])) == ["Attestation de bourse: not concerned."]
    submission.refresh_from_db()
    assert (submission.status, submission.document_id, submission.comment, submission.replace_by) == (
        PieceStatus.NOT_CONCERNED,
        None,
        "",
        None,
    )
    (row,) = piece_rows(application, for_staff=False)
    assert not row.is_blocking


def test_a_refused_piece_that_holds_its_file_is_still_to_be_emptied_first(
    owner, application, conditional_piece, centre_manager
):
    refuse(upload_pdf(application, conditional_piece), centre_manager)

    (row,) = piece_rows(application, for_staff=False)
    assert not row.can_declare_not_concerned
    assert "Not concerned by this piece" not in row_of(page(owner, application), conditional_piece)
    with pytest.raises(InvalidTransition, match="Remove the file first"):
        services.declare_not_concerned(
            application=application, piece_type=conditional_piece, actor=application.created_by
        )


# --- 2. « - » removes only the file the page showed ---------------------------------------------------------------


def test_a_stale_remove_keeps_the_file_staff_uploaded_meanwhile(
    owner, application, piece, centre_manager, django_assert_num_queries, django_capture_on_commit_callbacks
):
    refuse(upload_pdf(application, piece), centre_manager)
    shown = shown_document(page(owner, application), application, piece)
    assert shown == str(PieceSubmission.objects.get().document.public_id)
    with django_capture_on_commit_callbacks(execute=True):
        by_staff = services.upload_piece_for_candidate(
            application=application,
            piece_type=piece,
            uploaded_file=hostile.upload("recu_par_courrier.pdf", hostile.pdf_bytes()),
            actor=centre_manager,
        )

    # session, user, savepoint, application, piece type; rule (requested); savepoint, lock, submission lock,
    # rollback, release, release: nothing written.
    with django_assert_num_queries(12):
        response = owner.post(url("remove", application, piece), {"document": shown})

    assert page_messages(owner.get(response["Location"])) == [
        "Lettre de motivation: This file has changed since the page was shown: nothing was removed."
    ]
    by_staff.refresh_from_db()
    assert (by_staff.status, by_staff.document.original_name) == (PieceStatus.SUBMITTED, "recu_par_courrier.pdf")
    assert len(stored_files()) == 1
    assert events(application, EventKind.PIECE_REMOVED) == 0


def test_the_shown_file_is_removed_at_the_same_cost_whatever_the_number_of_pieces(
    owner, application, formation, piece, django_assert_num_queries
):
    for count in (1, 20):
        while len(piece_rows(application)) < count:
            extra = PieceTypeFactory()
            formation.piece_types.add(extra)
            upload_pdf(application, extra)
        upload_pdf(application, piece)
        shown = shown_document(page(owner, application), application, piece)

        # session, user, savepoint, application, piece type; rule (requested); savepoint, lock, submission lock,
        # update, the document's deletion (its piece and OPI links first), history row, release, release.
        with django_assert_num_queries(16):
            response = owner.post(url("remove", application, piece), {"document": shown})

        assert page_messages(owner.get(response["Location"])) == ["Lettre de motivation: file removed."]
        assert PieceSubmission.objects.get(piece_type=piece).document_id is None


def test_a_form_without_the_field_removes_the_file_as_before(owner, application, piece):
    upload_pdf(application, piece)

    response = owner.post(url("remove", application, piece))

    assert page_messages(owner.get(response["Location"])) == ["Lettre de motivation: file removed."]
    assert PieceSubmission.objects.get().status == PieceStatus.WAITING


# --- 3. A double submit is answered as the first ------------------------------------------------------------------


@pytest.mark.parametrize("with_field", [True, False], ids=["shown-file", "page-of-before"])
def test_a_double_remove_is_answered_as_the_first(owner, application, piece, with_field):
    upload_pdf(application, piece)
    data = {"document": shown_document(page(owner, application), application, piece)} if with_field else {}

    first = owner.post(url("remove", application, piece), data)
    second = owner.post(url("remove", application, piece), data)

    assert page_messages(owner.get(second["Location"])) == [
        "Lettre de motivation: file removed.",
        "Lettre de motivation: file removed.",
    ]
    assert first["Location"] == second["Location"]
    assert events(application, EventKind.PIECE_REMOVED) == 1


def test_a_double_remove_of_a_refused_file_is_answered_as_the_first(owner, application, piece, centre_manager):
    refuse(upload_pdf(application, piece), centre_manager)
    data = {"document": shown_document(page(owner, application), application, piece)}

    owner.post(url("remove", application, piece), data)
    second = owner.post(url("remove", application, piece), data)

    assert page_messages(owner.get(second["Location"])) == [
        "Lettre de motivation: file removed.",
        "Lettre de motivation: file removed.",
    ]
    submission = PieceSubmission.objects.get()
    assert (submission.status, submission.document_id, submission.comment) == (PieceStatus.REFUSED, None, "illisible")
    assert events(application, EventKind.PIECE_REMOVED) == 1
    # Without the field (a page of before), a refused piece without a file is not « En attente »: said as before.
    with pytest.raises(InvalidTransition, match="There is no file to remove"):
        services.remove_piece(application=application, piece_type=piece, actor=application.created_by)


def test_a_double_concerned_is_answered_as_the_first(owner, application, conditional_piece, django_assert_num_queries):
    services.declare_not_concerned(application=application, piece_type=conditional_piece, actor=application.created_by)

    owner.post(url("concerned", application, conditional_piece))
    # session, user, savepoint, application, piece type; rule (requested); savepoint, lock, submission lock,
    # release, release: nothing written.
    with django_assert_num_queries(11):
        second = owner.post(url("concerned", application, conditional_piece))

    assert page_messages(owner.get(second["Location"])) == [
        "Attestation de bourse: expected again.",
        "Attestation de bourse: expected again.",
    ]
    assert PieceSubmission.objects.get().status == PieceStatus.WAITING
    assert events(application, EventKind.PIECE_CONCERNED) == 1


# --- 4. The template link only where the download serves it ------------------------------------------------------


def test_the_template_link_only_for_a_piece_in_service(owner, application, formation, django_assert_num_queries):
    kept = PieceTypeFactory(label="Dossier complémentaire", order=5)
    retired = PieceTypeFactory(label="Ancien formulaire", order=6)
    for piece_type in (kept, retired):
        piece_type.template.save("modele.pdf", ContentFile(hostile.pdf_bytes()))
        formation.piece_types.add(piece_type)
    upload_pdf(application, retired)  # filled: still listed once out of service
    retired.in_service = False
    retired.save()

    with django_assert_num_queries(5):
        html = owner.get(reverse("pieces:pieces", args=[application.public_id])).content.decode()

    kept_link = reverse("pieces:template_download", args=[kept.pk])
    retired_link = reverse("pieces:template_download", args=[retired.pk])
    assert kept_link in row_of(html, kept)
    assert "Download the template" not in row_of(html, retired)
    assert retired_link not in html
    assert owner.get(kept_link).status_code == 200
    assert owner.get(retired_link).status_code == 404


# --- 5. A staff upload refused because a file came meanwhile says so to staff -------------------------------------


def test_a_staff_upload_after_the_candidates_file_says_the_candidate_sent_one(
    manager, application, piece, django_assert_num_queries
):
    upload_pdf(application, piece)

    # session, user, memberships, application, editable check, piece type; requested check; savepoint, lock, locked
    # piece, rollback, release: nothing written, the file deleted.
    with django_assert_num_queries(12):
        response = manager.post(url("staff_upload", application, piece), {"file": hostile.valid_pdf_upload()})

    assert redirect_messages(response) == [
        "Lettre de motivation: The candidate has sent a file for this piece since the page was shown: nothing was uploaded."  # noqa: E501
    ]
    assert Document.objects.count() == 1


def test_a_staff_upload_after_a_colleagues_file_says_a_file_was_sent(manager, application, piece, central_manager):
    services.upload_piece_for_candidate(
        application=application, piece_type=piece, uploaded_file=hostile.valid_pdf_upload(), actor=central_manager
    )

    response = manager.post(url("staff_upload", application, piece), {"file": hostile.valid_pdf_upload()})

    assert redirect_messages(response) == [
        "Lettre de motivation: A file has been sent for this piece since the page was shown: nothing was uploaded."
    ]
    assert Document.objects.count() == 1


def test_a_staff_upload_that_meets_the_candidates_first_file_in_a_race(manager, application, piece, monkeypatch):
    """The candidate's first file committed between staff's read of the piece and their insert: the unique
    constraint refuses staff's row, and staff read that a file was sent meanwhile, not the candidate's rule."""
    upload_pdf(application, piece)
    monkeypatch.setattr(services, "_locked_submission", lambda locked, piece_type: None)

    response = manager.post(url("staff_upload", application, piece), {"file": hostile.valid_pdf_upload()})

    assert redirect_messages(response) == [
        "Lettre de motivation: A file has been sent for this piece since the page was shown: nothing was uploaded."
    ]
    assert Document.objects.count() == 1
    assert len(stored_files()) == 1
