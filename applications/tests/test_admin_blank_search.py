"""A back-office list searched for nothing to look for (a lone apostrophe, empty quotes) shows no row and says why:
Django unquoted ``'`` into an empty phrase, which every row contains, and the list showed everything as if the
search had matched (``ecandidat.admin_base.refusing_blank_searches``)."""

import pytest
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext

from accounts.tests.factories import CandidateUserFactory
from applications.tests.factories_candidature import make_application
from ecandidat.admin_base import is_blank_search, search_words
from offers.tests.factories import FormationFactory

pytestmark = pytest.mark.django_db

APPLICATIONS = reverse("admin:applications_application_changelist")
CANDIDATES = reverse("admin:applications_candidate_changelist")
ACCOUNTS = reverse("admin:accounts_candidateaccount_changelist")
BLANK_MESSAGE = (
    "Your search holds nothing to look for (only quotes, apostrophes or spaces): no row is shown. Type a name, a "
    "number or an address."
)


@pytest.mark.parametrize(
    ("term", "words", "blank"),
    [
        ("'", [], True),
        ('"', [], True),
        ("''", [], True),
        ('""', [], True),
        ("' '", [], True),
        ("'' \"\"", [], True),
        ("", [], False),  # the empty box: no search
        ("   ", [], False),
        ("' dupont", ["dupont"], False),
        ("d'Artagnan", ["d'Artagnan"], False),
        ('"de la Tour"', ["de la Tour"], False),
    ],
)
def test_search_words(term, words, blank):
    assert search_words(term) == words
    assert is_blank_search(term) is blank


@pytest.fixture
def listed(campaign, centre, commission):
    """Two applications (so two dossiers and two accounts) and an account without a dossier."""
    formation = FormationFactory(centre=centre, commission=commission)
    make_application(formation, campaign=campaign)
    make_application(formation, campaign=campaign)
    CandidateUserFactory(campaign=campaign, last_name="Nouvelle", verified_email=False)


@pytest.mark.parametrize(
    ("url", "queries"),
    [
        # The list's own queries without its count and page of rows (an empty queryset reads nothing): the
        # applications' list adds its counters, saved filters and tags, the candidates' its campaign filter's
        # campaigns; the others are session, user, scope, permissions and the savepoint pair.
        (APPLICATIONS, 16),
        (CANDIDATES, 8),
        (ACCOUNTS, 7),
    ],
)
@pytest.mark.parametrize("term", ["'", '""', "' '"])
def test_a_search_for_nothing_shows_no_row_and_says_why(
    client, central_manager, listed, url, queries, term, django_assert_num_queries
):
    client.force_login(central_manager)
    client.get(url)  # per-process memos warm
    assert len(client.get(url).context["cl"].result_list) >= 2  # the list has rows

    with django_assert_num_queries(queries):
        response = client.get(url, {"q": term})

    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == []
    html = response.content.decode()
    with translation.override("fr"):
        message = gettext(BLANK_MESSAGE)
    assert message != BLANK_MESSAGE  # in French in the catalogue; the tests' pages are in English
    assert BLANK_MESSAGE in html
    assert 'aria-invalid="true"' in html
    # The note describes the box where its label is visible text (the applications'), not an icon (axe-core's
    # label-title-only); it follows the box and its button everywhere.
    assert ('aria-describedby="searchbar_blank' in html) is (url == APPLICATIONS)


def test_a_word_beside_an_apostrophe_is_still_searched(client, central_manager, listed):
    client.force_login(central_manager)

    response = client.get(ACCOUNTS, {"q": "' nouvelle"})

    assert [account.last_name for account in response.context["cl"].result_list] == ["Nouvelle"]
    assert 'aria-invalid="true"' not in response.content.decode()
