"""Regressions of the pieces' rules (review s46): a refused piece with its own deadline removed or its application
cancelled; a file staff never opened validated (antivirus not passed, or changed since the page was shown); the
"dossier incomplet" mail naming another centre's piece; a shared piece's history on one application only; a second
click on « Non concerné par cette pièce »."""

import datetime
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from applications.dates import effective_return_deadline
from applications.enums import DossierStatus, EventKind, PieceStatus
from applications.models import ApplicationEvent, PieceSubmission
from applications.pieces import piece_rows, replace_locked_reason
from applications.services import candidature as candidature_services
from applications.services import pieces as services
from applications.services import staff
from applications.tests.factories_candidature import application_of
from applications.tests.helpers import REVIEW_PAGE_QUERIES, change_url, mails, upload_pdf
from documents.enums import ScanStatus
from documents.tests import hostile_files as hostile
from ecandidat.exceptions import InvalidTransition
from offers.tests.factories import CentreFactory, FormationFactory, PieceTypeFactory


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


def refuse(submission, actor, *, replace_by=None, comment="illisible"):
    return services.set_piece_status(
        submission=submission, status=PieceStatus.REFUSED, comment=comment, actor=actor, replace_by=replace_by
    )


def remove_url(application, piece_type):
    return reverse("pieces:remove", args=[application.public_id, piece_type.pk])


def events(application, kind) -> int:
    return ApplicationEvent.objects.filter(application=application, kind=kind).count()


# --- 1. A refused piece with its own deadline: removed, or its application cancelled -----------------------------


def test_a_refused_piece_with_its_own_deadline_is_removed_and_keeps_its_refusal_until_replaced(
    owner, application, piece, centre_manager, django_assert_num_queries
):
    """The « - » of the candidates' guide on a refused piece (« supprimez-la … déposez une nouvelle pièce avec + »)
    was a 500: the piece went back to "En attente" keeping the deadline only a refusal may have. It stays refused
    without its file, with the reason and the extra days staff gave, and « + » sends the new one."""
    day = effective_return_deadline(application) + datetime.timedelta(days=5)
    submission = upload_pdf(application, piece)
    refuse(submission, centre_manager, replace_by=day)
    staff.set_dossier_status(application, target=DossierStatus.INCOMPLETE, actor=centre_manager)

    # session, user, savepoint, application, piece type; rule (requested); savepoint, lock, submission lock, update,
    # the document's deletion (its piece and OPI links first), history row, release, release.
    with django_assert_num_queries(16):
        response = owner.post(remove_url(application, piece))

    assert response.status_code == 302
    assert messages_of(owner.get(response["Location"])) == ["Lettre de motivation: file removed."]
    submission.refresh_from_db()
    assert (submission.status, submission.document_id, submission.comment, submission.replace_by) == (
        PieceStatus.REFUSED,
        None,
        "illisible",
        day,
    )
    (row,) = piece_rows(application, for_staff=False)
    assert row.can_add
    # Past the application's return deadline, the piece's own one still holds.
    assert replace_locked_reason(application, submission, today=day) == ""
    upload_pdf(application, piece)
    submission.refresh_from_db()
    assert (submission.status, submission.comment, submission.replace_by) == (PieceStatus.SUBMITTED, "", None)


def test_cancelling_an_application_whose_refused_piece_has_its_own_deadline(
    application, piece, centre_manager, django_capture_on_commit_callbacks
):
    submission = upload_pdf(application, piece)
    refuse(submission, centre_manager, replace_by=timezone.localdate() + datetime.timedelta(days=5))

    with django_capture_on_commit_callbacks(execute=True):
        candidature_services.cancel_application(application=application, actor=application.created_by)

    submission.refresh_from_db()
    assert (submission.status, submission.document_id, submission.comment, submission.replace_by) == (
        PieceStatus.WAITING,
        None,
        "",
        None,
    )


# --- 2. Staff validate only a file they could open, the one the page showed ------------------------------------


def _hidden(page: str, form_action: str) -> list[str]:
    """The ``document`` values of the form posting to ``form_action``."""
    start = page.index(f'action="{form_action}"')
    form = page[start : page.index("</form>", start)]
    return re.findall(r'<input type="hidden" name="document" value="([^"]*)">', form)


def test_a_file_the_antivirus_has_not_cleared_is_not_validated(
    client, application, piece, centre_manager, django_assert_num_queries
):
    submission = upload_pdf(application, piece)
    submission.document.scan_status = ScanStatus.PENDING
    submission.document.save()

    with pytest.raises(InvalidTransition, match="antivirus has not cleared this file"):
        services.set_piece_status(submission=submission, status=PieceStatus.VALIDATED, actor=centre_manager)

    submission.refresh_from_db()
    assert submission.status == PieceStatus.SUBMITTED
    client.force_login(centre_manager)
    with django_assert_num_queries(REVIEW_PAGE_QUERIES):
        response = client.get(change_url(application))
    (item,) = response.context["piece_items"]
    assert [value for value, _label in item.actions] == [PieceStatus.REFUSED]  # no « Valider »
    assert "Validate all" not in response.content.decode()


def test_a_check_of_a_file_replaced_since_the_page_was_shown_does_nothing(
    client, application, piece, centre_manager, django_assert_num_queries
):
    """In an open dossier the candidate may remove and send another file while staff read the page: « Valider »
    validated the new file, never seen."""
    submission = upload_pdf(application, piece)
    client.force_login(centre_manager)
    check = reverse("admin:applications_application_piece_check", args=[application.pk, submission.public_id])
    [shown] = _hidden(client.get(change_url(application)).content.decode(), check)
    assert shown == str(submission.document.public_id)
    services.remove_piece(application=application, piece_type=piece, actor=application.created_by)
    upload_pdf(application, piece)

    # session, user, savepoint, memberships, application, scope, piece; savepoint, piece lock (the file is another:
    # refused), rollback, release, release; what was typed kept for the page (savepoint, session update, release).
    with django_assert_num_queries(15):
        response = client.post(check, {"status": PieceStatus.VALIDATED, "document": shown})

    assert response.status_code == 302
    submission.refresh_from_db()
    assert submission.status == PieceStatus.SUBMITTED
    assert events(application, EventKind.PIECE_STATUS) == 0
    assert "removed or replaced this file since the page was shown; nothing was done" in " ".join(
        messages_of(client.get(response["Location"]))
    )
    [shown] = _hidden(client.get(change_url(application)).content.decode(), check)
    client.post(check, {"status": PieceStatus.VALIDATED, "document": shown})
    submission.refresh_from_db()
    assert submission.status == PieceStatus.VALIDATED


def test_validate_all_validates_nothing_sent_since_the_page_was_shown(
    client, application, formation, piece, centre_manager, django_assert_num_queries
):
    second = PieceTypeFactory(label="CV", order=3)
    formation.piece_types.add(second)
    upload_pdf(application, piece)
    client.force_login(centre_manager)
    validate_all = reverse("admin:applications_application_validate_pieces", args=[application.pk])
    shown = _hidden(client.get(change_url(application)).content.decode(), validate_all)
    assert len(shown) == 1
    upload_pdf(application, second)  # meanwhile

    # session, user, savepoint, memberships, application, scope; savepoint, lock, piece types, submissions (a file
    # not shown: refused), rollback, release, release.
    with django_assert_num_queries(13):
        response = client.post(validate_all, {"document": shown})

    assert response.status_code == 302
    assert set(PieceSubmission.objects.values_list("status", flat=True)) == {PieceStatus.SUBMITTED}
    assert "nothing was validated" in " ".join(messages_of(client.get(response["Location"])))
    shown = _hidden(client.get(change_url(application)).content.decode(), validate_all)
    client.post(validate_all, {"document": shown})
    assert set(PieceSubmission.objects.values_list("status", flat=True)) == {PieceStatus.VALIDATED}


# --- 3. The "dossier incomplet" mail names only this application's pieces ----------------------------------------


def test_the_incomplete_mail_names_no_refused_piece_of_another_centre(
    candidate_user, application, formation, piece, centre_manager
):
    other_formation = FormationFactory(centre=CentreFactory())
    other = application_of(candidate_user, other_formation)
    other_piece = PieceTypeFactory(label="Attestation du centre Y", is_common=True, centre=other_formation.centre)
    refuse(upload_pdf(other, other_piece), centre_manager, comment="périmée")
    refuse(upload_pdf(application, piece), centre_manager, comment="illisible")

    staff.set_dossier_status(application, target=DossierStatus.INCOMPLETE, actor=centre_manager)

    [mail] = mails("STATUT_IN")
    assert "Lettre de motivation" in mail.body
    assert "Attestation du centre Y" not in mail.body
    assert "périmée" not in mail.body


# --- 4. A shared piece's changes are in the history of every application that reads it ---------------------------


def test_a_shared_piece_sent_then_removed_is_in_the_history_of_each_application(
    candidate_user, application, shared_piece, centre_manager
):
    second = application_of(candidate_user, FormationFactory())

    upload_pdf(application, shared_piece)
    services.remove_piece(application=second, piece_type=shared_piece, actor=application.created_by)
    services.upload_piece_for_candidate(
        application=second,
        piece_type=shared_piece,
        uploaded_file=hostile.valid_pdf_upload(),
        actor=centre_manager,
    )

    for each in (application, second):
        assert events(each, EventKind.PIECE_UPLOADED) == 1
        assert events(each, EventKind.PIECE_REMOVED) == 1
        assert events(each, EventKind.PIECE_UPLOADED_BY_STAFF) == 1


def test_a_shared_piece_declared_not_concerned_is_in_the_history_of_each_application(candidate_user, application):
    conditional = PieceTypeFactory(label="Attestation de bourse", is_common=True, is_conditional=True)
    second = application_of(candidate_user, FormationFactory())

    services.declare_not_concerned(application=application, piece_type=conditional, actor=application.created_by)

    for each in (application, second):
        assert events(each, EventKind.PIECE_NOT_CONCERNED) == 1


# --- 5. A second click on « Non concerné par cette pièce » --------------------------------------------------------


def test_a_second_click_on_not_concerned_changes_nothing_and_says_it_is_done(
    owner, application, conditional_piece, django_assert_num_queries
):
    target = reverse("pieces:not_concerned", args=[application.public_id, conditional_piece.pk])
    owner.get(owner.post(target)["Location"])  # its message read

    # session, user, savepoint, application, piece type; rule (requested); savepoint, lock, submission lock (already
    # declared: nothing written), release, release.
    with django_assert_num_queries(11):
        response = owner.post(target)

    assert messages_of(owner.get(response["Location"])) == ["Attestation de bourse: not concerned."]
    assert PieceSubmission.objects.get().status == PieceStatus.NOT_CONCERNED
    assert events(application, EventKind.PIECE_NOT_CONCERNED) == 1
