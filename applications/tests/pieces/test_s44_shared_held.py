"""A shared piece that a transmitted application asks for is not changed through another, still open.

Removing the shared file, or declaring the piece (not) concerned, from the open application changed the transmitted
dossier under the staff reviewing it, and the candidate could not put it right there (its pieces are locked).
"""

import pytest
from django.urls import reverse

from applications.enums import DossierStatus, PieceStatus
from applications.models import Application, ApplicationEvent, PieceSubmission
from applications.pieces import blocking_pieces, pieces_table_context
from applications.services import pieces as services
from applications.tests.factories_candidature import application_of
from applications.tests.helpers import upload_pdf
from documents.tests.storage import stored_files
from ecandidat.exceptions import InvalidTransition
from offers.enums import TreatmentType
from offers.tests.factories import FormationFactory, PieceTypeFactory

HELD = "This piece is shared with your application to “{title}”, already transmitted: it can no longer be changed."


@pytest.fixture
def open_application(candidate_user):
    """The candidate's second application, still open; it asks for the institution's common pieces too."""
    return application_of(candidate_user, FormationFactory(title="Licence Histoire"))


def mark_transmitted(application):
    Application.objects.filter(pk=application.pk).update(dossier_status=DossierStatus.RECEIVED)
    application.refresh_from_db()


def test_the_shared_file_of_a_transmitted_application_is_not_removed_through_an_open_one(
    application, open_application, shared_piece
):
    upload_pdf(application, shared_piece)
    mark_transmitted(application)

    with pytest.raises(InvalidTransition) as refused:
        services.remove_piece(application=open_application, piece_type=shared_piece, actor=application.created_by)

    assert str(refused.value) == HELD.format(title=application.formation.title)
    submission = PieceSubmission.objects.get(piece_type=shared_piece)
    assert (submission.status, submission.document_id is not None) == (PieceStatus.SUBMITTED, True)
    assert blocking_pieces(application) == []
    assert not ApplicationEvent.objects.filter(kind="piece_removed").exists()
    assert len(stored_files()) == 1


def test_a_shared_conditional_piece_is_not_declared_concerned_through_an_open_one(
    application, open_application, formation
):
    piece = PieceTypeFactory(label="Attestation de bourse", is_common=True, is_conditional=True)
    services.declare_not_concerned(application=application, piece_type=piece, actor=application.created_by)
    mark_transmitted(application)

    with pytest.raises(InvalidTransition, match="already transmitted"):
        services.declare_concerned(application=open_application, piece_type=piece, actor=application.created_by)

    assert PieceSubmission.objects.get(piece_type=piece).status == PieceStatus.NOT_CONCERNED
    assert blocking_pieces(application) == []


def test_the_open_application_offers_no_removal_of_a_held_piece_and_says_why(
    owner, application, open_application, shared_piece
):
    upload_pdf(application, shared_piece)
    mark_transmitted(application)

    context = pieces_table_context(Application.objects.select_related("formation").get(pk=open_application.pk))
    assert context["held_pieces"] == {shared_piece.pk}
    page = owner.get(reverse("pieces:pieces", args=[open_application.public_id])).content.decode()
    assert "Shared with an application already transmitted: this piece can no longer be changed." in page
    assert reverse("pieces:remove", args=[open_application.public_id, shared_piece.pk]) not in page


def test_both_open_the_shared_file_is_still_removed(application, open_application, shared_piece):
    upload_pdf(application, shared_piece)

    services.remove_piece(application=open_application, piece_type=shared_piece, actor=application.created_by)

    assert PieceSubmission.objects.get(piece_type=shared_piece).status == PieceStatus.WAITING


def test_a_transmitted_application_that_does_not_ask_for_the_piece_holds_nothing(
    application, open_application, shared_piece
):
    """A common piece of another type de traitement than the transmitted application's is not part of its dossier."""
    shared_piece.treatment_type = TreatmentType.DIRECT
    shared_piece.save(update_fields=["treatment_type"])
    Application.objects.filter(pk=application.pk).update(treatment_type=TreatmentType.CONTROLLED)
    Application.objects.filter(pk=open_application.pk).update(treatment_type=TreatmentType.DIRECT)
    open_application.refresh_from_db()
    upload_pdf(open_application, shared_piece)
    mark_transmitted(application)

    services.remove_piece(application=open_application, piece_type=shared_piece, actor=application.created_by)

    assert PieceSubmission.objects.get(piece_type=shared_piece).status == PieceStatus.WAITING
