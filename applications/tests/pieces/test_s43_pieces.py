"""Regressions of the pieces' rules (review s43): a file removed through an application that does not ask for its
piece; a piece's "unique" flag changed once files were sent; a piece made required once declared "Non concerné"."""

import pytest
from django.urls import reverse

from applications.enums import DossierStatus, PieceStatus
from applications.models import ApplicationEvent, PieceSubmission
from applications.pieces import blocking_pieces, piece_rows
from applications.services import candidature as candidature_services
from applications.services import pieces as services
from applications.services import review
from applications.tests.factories_candidature import application_of
from applications.tests.helpers import post_file, upload_pdf
from documents.models import Document
from documents.tests import hostile_files as hostile
from documents.tests.storage import stored_files
from ecandidat.exceptions import BusinessRuleError
from offers.models import PieceType
from offers.tests.factories import CentreFactory, FormationFactory, PieceTypeFactory


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


def remove(application, piece_type):
    return services.remove_piece(application=application, piece_type=piece_type, actor=application.created_by)


def set_flags(piece_type, **flags):
    """A change of the piece type's flags by the central office during the campaign."""
    PieceType.objects.filter(pk=piece_type.pk).update(**flags)
    piece_type.refresh_from_db()


def transmit(application):
    candidature_services.transmit_application(application=application, actor=application.candidate.user)
    application.refresh_from_db()


def statuses(application, *, for_staff=True):
    return {row.piece_type.pk: row.status for row in piece_rows(application, for_staff=for_staff)}


# --- 1. "-" through an application that does not ask for the piece ------------------------------------------------


@pytest.fixture
def other_centre_application(candidate_user):
    """The candidate's application to a formation of another centre (Y)."""
    return application_of(candidate_user, FormationFactory(centre=CentreFactory()))


@pytest.fixture
def other_centre_piece(other_centre_application):
    """A common piece of centre Y, shared by the candidate's applications there; centre X does not ask for it."""
    return PieceTypeFactory(
        label="Attestation du centre Y", is_common=True, centre=other_centre_application.formation.centre
    )


def test_a_file_cannot_be_removed_through_an_application_that_does_not_ask_for_its_piece(
    application, other_centre_application, other_centre_piece
):
    upload_pdf(other_centre_application, other_centre_piece)
    transmit(other_centre_application)
    with pytest.raises(BusinessRuleError, match="has been transmitted"):
        remove(other_centre_application, other_centre_piece)

    with pytest.raises(BusinessRuleError, match="This supporting document is not requested for this application."):
        remove(application, other_centre_piece)

    submission = PieceSubmission.objects.get(piece_type=other_centre_piece)
    assert (submission.status, submission.document_id is not None) == (PieceStatus.SUBMITTED, True)
    assert statuses(other_centre_application) == {other_centre_piece.pk: PieceStatus.SUBMITTED}
    assert other_centre_application.dossier_status == DossierStatus.RECEIVED
    assert not ApplicationEvent.objects.filter(application=application, kind="piece_removed").exists()
    assert len(stored_files()) == 1


def test_the_removal_through_an_application_that_does_not_ask_for_the_piece_says_why(
    owner, application, other_centre_application, other_centre_piece
):
    upload_pdf(other_centre_application, other_centre_piece)
    transmit(other_centre_application)

    response = owner.post(reverse("pieces:remove", args=[application.public_id, other_centre_piece.pk]))

    assert messages_of(owner.get(response["Location"])) == [
        "Attestation du centre Y: This supporting document is not requested for this application."
    ]
    assert PieceSubmission.objects.get(piece_type=other_centre_piece).status == PieceStatus.SUBMITTED


def test_a_piece_listed_only_because_it_was_filled_offers_no_removal(owner, application, formation, piece):
    upload_pdf(application, piece)
    formation.piece_types.remove(piece)

    page = owner.get(reverse("pieces:pieces", args=[application.public_id])).content.decode()

    assert f'id="piece-{piece.pk}"' in page  # still listed, with its file
    assert "Remove the file of" not in page
    with pytest.raises(BusinessRuleError, match="not requested"):
        remove(application, piece)


# --- 2. The "unique" flag changed once files were sent --------------------------------------------------------------


@pytest.fixture
def unique_piece(db):
    """A common piece sent once per application."""
    return PieceTypeFactory(label="Projet personnel", is_common=True, is_unique=True, order=0)


@pytest.mark.parametrize("for_staff", [True, False])
def test_a_file_sent_before_the_piece_became_shared_is_still_shown(application, unique_piece, for_staff):
    upload_pdf(application, unique_piece)
    transmit(application)

    set_flags(unique_piece, is_unique=False)

    (row,) = piece_rows(application, for_staff=for_staff)
    assert (row.status, row.document is not None) == (PieceStatus.SUBMITTED, True)
    assert not row.is_shared  # the file is this application's own
    assert not blocking_pieces(application)


@pytest.mark.parametrize("for_staff", [True, False])
def test_a_file_sent_before_the_piece_became_unique_is_still_shown_on_every_application(
    candidate_user, application, shared_piece, for_staff
):
    second = application_of(candidate_user, FormationFactory())
    upload_pdf(application, shared_piece)
    transmit(application)

    set_flags(shared_piece, is_unique=True)

    for each in (application, second):
        (row,) = piece_rows(each, for_staff=for_staff)
        assert (row.status, row.document is not None) == (PieceStatus.SUBMITTED, True)
        assert row.is_shared  # the candidate's one file, for all their applications
        assert row.can_remove
        assert not row.can_add


def test_no_second_file_once_the_piece_became_shared(application, unique_piece):
    upload_pdf(application, unique_piece)
    set_flags(unique_piece, is_unique=False)

    with pytest.raises(BusinessRuleError, match="only one file per requested supporting document"):
        upload_pdf(application, unique_piece)

    assert PieceSubmission.objects.count() == 1
    assert Document.objects.count() == 1
    assert len(stored_files()) == 1


def test_no_second_file_once_the_piece_became_unique(candidate_user, application, shared_piece):
    second = application_of(candidate_user, FormationFactory())
    upload_pdf(application, shared_piece)
    set_flags(shared_piece, is_unique=True)

    for each in (application, second):
        with pytest.raises(BusinessRuleError, match="only one file per requested supporting document"):
            upload_pdf(each, shared_piece)

    assert PieceSubmission.objects.count() == 1
    assert len(stored_files()) == 1


def test_the_file_sent_before_the_change_is_the_one_removed_then_replaced(
    candidate_user, application, shared_piece, django_capture_on_commit_callbacks
):
    second = application_of(candidate_user, FormationFactory())
    first = upload_pdf(application, shared_piece)
    set_flags(shared_piece, is_unique=True)

    with django_capture_on_commit_callbacks(execute=True):
        removed = remove(second, shared_piece)
    again = upload_pdf(second, shared_piece)

    assert removed.pk == first.pk == again.pk  # the candidate's shared row, not a new one beside it
    assert PieceSubmission.objects.count() == 1
    assert len(stored_files()) == 1
    assert statuses(application) == {shared_piece.pk: PieceStatus.SUBMITTED}


def test_an_application_keeps_its_own_file_when_a_shared_one_is_sent_after_the_change(
    candidate_user, application, unique_piece, centre_manager
):
    """Both kinds exist once the piece became shared and another application sent the shared file: each application
    reads its own file first, as the commission packs and the OPI export do (``applications.packs``)."""
    second = application_of(candidate_user, FormationFactory())
    own = upload_pdf(application, unique_piece)
    services.set_piece_status(submission=own, status=PieceStatus.VALIDATED, actor=centre_manager)
    set_flags(unique_piece, is_unique=False)

    shared = upload_pdf(second, unique_piece)

    assert shared.application_id is None
    assert piece_rows(application)[0].submission.pk == own.pk
    assert statuses(application) == {unique_piece.pk: PieceStatus.VALIDATED}
    assert piece_rows(second)[0].submission.pk == shared.pk


def test_the_pieces_page_costs_the_same_after_the_change(owner, application, unique_piece, django_assert_num_queries):
    upload_pdf(application, unique_piece)
    set_flags(unique_piece, is_unique=False)

    with django_assert_num_queries(5):
        response = owner.get(reverse("pieces:pieces", args=[application.public_id]))

    page = response.content.decode()
    assert "Remove the file of" in page
    assert "Add a file for" not in page


def test_the_upload_costs_the_same_after_the_change(owner, application, unique_piece, django_assert_num_queries):
    upload_pdf(application, unique_piece)
    set_flags(unique_piece, is_unique=False)

    # session, user, application, piece type; savepoint, lock, the submissions (one query for both kinds),
    # rollback, release: as a double submit before the change.
    with django_assert_num_queries(9):
        response = post_file(owner, application, unique_piece, hostile.valid_pdf_upload())

    assert messages_of(owner.get(response["Location"])) == [
        "Projet personnel: You can upload only one file per requested supporting document"
    ]


# --- 3. A piece made required once declared "Non concerné" ----------------------------------------------------------


@pytest.fixture
def made_required(application, conditional_piece):
    """A conditional piece the candidate declared "Non concerné", then made required by the central office."""
    services.declare_not_concerned(application=application, piece_type=conditional_piece, actor=application.created_by)
    set_flags(conditional_piece, is_conditional=False)
    return conditional_piece


def test_a_not_concerned_piece_made_required_blocks_the_transmission(application, made_required):
    assert [row.piece_type for row in blocking_pieces(application)] == [made_required]
    with pytest.raises(BusinessRuleError, match="A supporting document is missing: Attestation de bourse"):
        transmit(application)

    assert application.dossier_status == DossierStatus.WAITING


def test_the_candidate_declares_a_piece_made_required_concerned_then_sends_it(application, made_required):
    submission = services.declare_concerned(
        application=application, piece_type=made_required, actor=application.created_by
    )
    assert submission.status == PieceStatus.WAITING
    assert ApplicationEvent.objects.filter(
        application=application, kind="piece_concerned", actor=application.created_by
    ).exists()

    upload_pdf(application, made_required)
    transmit(application)

    assert application.dossier_status == DossierStatus.RECEIVED


def test_a_required_piece_still_cannot_be_declared_not_concerned(application, made_required):
    services.declare_concerned(application=application, piece_type=made_required, actor=application.created_by)

    with pytest.raises(BusinessRuleError, match="not conditional"):
        services.declare_not_concerned(application=application, piece_type=made_required, actor=application.created_by)


def test_the_pieces_page_offers_concerned_on_a_piece_made_required(owner, application, made_required):
    response = owner.get(reverse("pieces:pieces", args=[application.public_id]))

    page = response.content.decode()
    row = page[page.index(f'id="piece-{made_required.pk}"') :].split("</tr>")[0]
    assert reverse("pieces:concerned", args=[application.public_id, made_required.pk]) in row
    assert "This piece is now required" in row

    owner.post(reverse("pieces:concerned", args=[application.public_id, made_required.pk]))
    assert PieceSubmission.objects.get(piece_type=made_required).status == PieceStatus.WAITING


def test_staff_do_not_set_complete_plainly_with_a_piece_made_required_missing(
    application, made_required, centre_manager
):
    """The staff side of the same rule: "Complet" asks for a reason, as for any piece not validated."""
    assert [row.piece_type for row in review.unchecked_pieces(application)] == [made_required]
    with pytest.raises(BusinessRuleError, match="1 piece not validated \\(Attestation de bourse – "):
        review.set_dossier_status_checked(application, target=DossierStatus.COMPLETE, actor=centre_manager)
