"""After « Remplacer » on a refused piece in targeted correction (dossier transmitted, the other pieces locked), the
message says that the commission will examine the new file and that there is nothing to transmit again: the page
offers no « Transmettre » then. While the pieces are open (``can_change_pieces``), the message stays as it was: the
dossier still has to be transmitted."""

import datetime

import pytest
from django.utils import timezone

from applications.enums import DossierStatus, PieceStatus
from applications.services import pieces as services
from applications.tests.helpers import post_file
from documents.tests import hostile_files as hostile

pytestmark = pytest.mark.django_db


def _messages(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def _refused(application, piece, centre_manager, *, status):
    submission = services.upload_piece(
        application=application,
        piece_type=piece,
        uploaded_file=hostile.valid_pdf_upload(),
        actor=application.created_by,
    )
    services.set_piece_status(
        submission=submission,
        status=PieceStatus.REFUSED,
        comment="scan flou",
        actor=centre_manager,
        replace_by=timezone.localdate() + datetime.timedelta(days=3),
    )
    application.dossier_status = status
    application.save()


@pytest.mark.parametrize("language", ["fr", "en"])
def test_a_replacement_after_transmission_says_there_is_nothing_to_transmit(
    owner, application, piece, centre_manager, language, django_assert_num_queries
):
    _refused(application, piece, centre_manager, status=DossierStatus.RECEIVED)
    owner.language = language

    # session, user, application, piece type; rule (requested); savepoint, lock, submission lock, document,
    # submission; the replaced document (its uses, OPI pieces, delete); event, release. Which message to leave
    # costs nothing: the application comes with its formation and candidate.
    with django_assert_num_queries(15):
        response = post_file(owner, application, piece, hostile.valid_pdf_upload())

    assert response.status_code == 302
    expected = {
        "fr": (
            "Lettre de motivation : fichier reçu. La commission va l'examiner : vous n'avez pas à transmettre à "
            "nouveau votre candidature."
        ),
        "en": (
            "Lettre de motivation: file received. The commission will examine it: you do not need to transmit your "
            "application again."
        ),
    }[language]
    assert _messages(owner.get(response["Location"])) == [expected]


def test_while_the_pieces_are_open_the_message_is_unchanged(owner, application, piece, centre_manager):
    """An incomplete dossier (``IN``) is open to the candidate again: they transmit it once it is complete."""
    _refused(application, piece, centre_manager, status=DossierStatus.INCOMPLETE)

    response = post_file(owner, application, piece, hostile.valid_pdf_upload())

    assert _messages(owner.get(response["Location"])) == ["Lettre de motivation: file received."]
