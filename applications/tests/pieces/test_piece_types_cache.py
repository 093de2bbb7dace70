"""The candidate pages read the formation's piece types from the "pages" cache (issue 14); changes reach them when
they commit, and services never read the cache (applications/pieces.py, ``listed_piece_types``)."""

import pytest
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains

from applications.pieces import piece_rows
from applications.services import candidature as candidature_services
from applications.tests.factories_candidature import PieceSubmissionFactory
from ecandidat.exceptions import BusinessRuleError
from offers.tests.factories import PieceTypeFactory

pytestmark = pytest.mark.django_db


def _pieces_page(owner, application):
    return owner.get(reverse("pieces:pieces", args=[application.public_id]))


def test_second_view_reads_the_piece_types_from_the_cache(owner, application, piece, django_assert_num_queries):
    with django_assert_num_queries(5):  # session, user, application, piece types, submissions
        _pieces_page(owner, application)

    with django_assert_num_queries(4):
        response = _pieces_page(owner, application)

    assertContains(response, "Lettre de motivation")


def test_a_piece_added_to_the_formation_shows_once_committed(
    owner, application, formation, piece, django_capture_on_commit_callbacks
):
    _pieces_page(owner, application)

    with django_capture_on_commit_callbacks(execute=True):
        formation.piece_types.add(PieceTypeFactory(label="Relevé de notes du M1"))
        assertNotContains(_pieces_page(owner, application), "Relevé de notes du M1")  # not before the commit
    assertContains(_pieces_page(owner, application), "Relevé de notes du M1")

    with django_capture_on_commit_callbacks(execute=True):
        formation.piece_types.remove(piece)
    assertNotContains(_pieces_page(owner, application), "Lettre de motivation")


def test_a_renamed_piece_type_shows_once_committed(owner, application, piece, django_capture_on_commit_callbacks):
    _pieces_page(owner, application)

    with django_capture_on_commit_callbacks(execute=True):
        piece.label = "Lettre de motivation manuscrite"
        piece.save()

    assertContains(_pieces_page(owner, application), "Lettre de motivation manuscrite")


def test_services_read_the_database_not_the_cache(
    owner, application, formation, piece, django_capture_on_commit_callbacks
):
    PieceSubmissionFactory(application=application, piece_type=piece)  # the one piece is there
    _pieces_page(owner, application)  # the cache holds one piece type
    with django_capture_on_commit_callbacks(execute=False):  # a change whose removal of the copies was lost
        formation.piece_types.add(PieceTypeFactory(label="Attestation"))

    assert not [row for row in piece_rows(application, for_staff=False) if row.is_blocking]  # the page's view
    assert [row.piece_type.label for row in piece_rows(application) if row.is_blocking] == ["Attestation"]
    with pytest.raises(BusinessRuleError):
        candidature_services.transmit_application(application=application, actor=application.candidate.user)
