"""A piece whose file replaced a refused one (review, 2026-12-07): the manager saw it « Transmise » like any other,
its earlier refusal only in the folded history. The dossier page now says « Nouveau fichier : il remplace celui
refusé le … », from the history it already reads (no query more, whatever the number of pieces)."""

import datetime
import html

import pytest
from django.utils import timezone

from applications.enums import PieceStatus
from applications.models import PieceSubmission
from applications.services.pieces import set_piece_status
from applications.tests.factories_candidature import make_application, with_file
from applications.tests.helpers import REVIEW_PAGE_QUERIES, change_url
from documents.models import Document
from offers.tests.factories import FormationFactory

pytestmark = pytest.mark.usefixtures("back_office_in_french")


@pytest.fixture
def application(centre, commission, campaign):
    formation = FormationFactory(centre=centre, commission=commission, code="M1ENER")
    return make_application(formation, campaign=campaign)


def refused_then_replaced(application, manager, *, label="Relevé de notes") -> PieceSubmission:
    """Refused by ``manager``, then a new file from the candidate, as their upload leaves it (« Transmise »)."""
    submission = with_file(application, label=label)
    set_piece_status(submission=submission, status=PieceStatus.REFUSED, comment="scan illisible", actor=manager)
    return with_file(application, replaces=submission)


def page_of(client, application) -> str:
    return html.unescape(client.get(change_url(application)).content.decode())


@pytest.mark.parametrize("pieces", [1, 3])
def test_a_new_file_after_a_refusal_is_said_on_the_piece(
    client, django_assert_num_queries, centre_manager, application, pieces
):
    for index in range(pieces):
        refused_then_replaced(application, centre_manager, label=f"Pièce {index}")
    refused_on = timezone.localdate().strftime("%d/%m/%Y")
    client.force_login(centre_manager)

    with django_assert_num_queries(REVIEW_PAGE_QUERIES):
        page = page_of(client, application)

    assert page.count(f"Nouveau fichier : il remplace celui refusé le {refused_on}.") == pieces


def test_nothing_is_said_of_a_first_file_nor_of_a_refused_one(client, centre_manager, application):
    with_file(application, label="Lettre de motivation")  # « Transmise », never refused
    refused = with_file(application, label="Relevé de notes")
    set_piece_status(submission=refused, status=PieceStatus.REFUSED, comment="scan illisible", actor=centre_manager)
    client.force_login(centre_manager)

    assert "Nouveau fichier" not in page_of(client, application)


def test_a_refusal_undone_by_staff_keeps_its_file_and_says_nothing(client, centre_manager, application):
    """Staff setting the piece back to « Transmise » (the service allows it) leave the refused file: not a new one."""
    submission = with_file(application, label="Relevé de notes")
    Document.objects.filter(pk=submission.document_id).update(uploaded_at=timezone.now() - datetime.timedelta(days=2))
    set_piece_status(submission=submission, status=PieceStatus.REFUSED, comment="scan illisible", actor=centre_manager)
    set_piece_status(submission=submission, status=PieceStatus.SUBMITTED, actor=centre_manager)
    client.force_login(centre_manager)

    assert "Nouveau fichier" not in page_of(client, application)


def test_once_validated_the_new_file_is_no_longer_flagged(client, centre_manager, application):
    submission = refused_then_replaced(application, centre_manager)
    submission.refresh_from_db()
    set_piece_status(submission=submission, status=PieceStatus.VALIDATED, actor=centre_manager)
    client.force_login(centre_manager)

    assert "Nouveau fichier" not in page_of(client, application)
