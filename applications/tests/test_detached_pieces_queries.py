"""The candidate's pages cost the same whatever the number of pieces detached from the formation since they were
filled (``applications.pieces.piece_rows``).

Those pieces stay listed; the candidate pages read the formation's piece types from the "pages" cache and the
submissions without their types (issue 14), so each detached piece's type was then read on its own: one query per
piece (8 queries on the recap with one detached piece, 15 with eight). They are now read together, in one query.
"""

import pytest
from django.core.cache import caches
from django.urls import reverse
from django.utils import translation
from pytest_django.asserts import assertContains

from applications.enums import PieceStatus
from applications.tests.factories_candidature import PieceSubmissionFactory, application_of
from offers.tests.factories import FormationFactory, PieceTypeFactory

pytestmark = pytest.mark.django_db

# session, user, application, its formation's piece types, submissions, the detached pieces' types; the recap also
# reads its decisions and its complementary forms and questions.
QUERIES = {"applications:detail": 8, "pieces:pieces": 6}


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


@pytest.fixture
def formation(centre, commission):
    return FormationFactory(centre=centre, commission=commission)


@pytest.fixture
def application(candidate_user, formation):
    return application_of(candidate_user, formation)


@pytest.fixture
def owner(client, candidate_user):
    client.force_login(candidate_user)
    return client


def detach(application, formation, count):
    """``count`` pieces of the formation, each filled for ``application``, then taken off the formation."""
    for order in range(count):
        piece = PieceTypeFactory(label=f"Pièce détachée {order}", order=order)
        formation.piece_types.add(piece)
        PieceSubmissionFactory(application=application, piece_type=piece, status=PieceStatus.REFUSED)
        formation.piece_types.remove(piece)


@pytest.mark.parametrize("page", list(QUERIES))
@pytest.mark.parametrize("detached", [1, 8])
def test_the_candidate_pages_read_the_detached_pieces_types_in_one_query(
    owner, application, formation, page, detached, django_assert_num_queries
):
    detach(application, formation, detached)
    caches["pages"].clear()

    with django_assert_num_queries(QUERIES[page]):
        response = owner.get(reverse(page, args=[application.public_id]))

    for order in range(detached):
        assertContains(response, f"Pièce détachée {order}")
