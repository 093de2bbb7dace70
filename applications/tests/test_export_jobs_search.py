"""The lists' search and the export's hidden ``filters`` are capped: a forged POST of « Exporter avec les colonnes
choisies » carrying 2,000 search words ran 101 s in PostgreSQL (each word is looked for in every search field).
Beyond ``SEARCH_MAX_WORDS`` words or ``SEARCH_MAX_CHARS`` characters the list looks for nothing and says why; the
export refuses, as it refuses filters longer than ``FILTERS_MAX_LENGTH``."""

from urllib.parse import urlencode

import pytest
from django.urls import reverse

from applications.admin.export_columns import FILTERS_MAX_LENGTH
from applications.models import ExportColumns, ExportJob
from applications.tests.factories_candidature import make_application
from applications.tests.helpers import post_export
from ecandidat.admin_base import SEARCH_MAX_CHARS, SEARCH_MAX_WORDS, is_too_long_search
from offers.tests.factories import FormationFactory

pytestmark = pytest.mark.django_db

APPLICATIONS = reverse("admin:applications_application_changelist")
CANDIDATES = reverse("admin:applications_candidate_changelist")
TOO_LONG = "Your search is too long (at most 10 words and 200 characters): no row is looked for."
COLUMNS = ["numero", "birth_name"]


@pytest.fixture
def listed(campaign, centre, commission):
    formation = FormationFactory(centre=centre, commission=commission)
    return [make_application(formation, campaign=campaign) for _ in range(2)]


def _searches(queries) -> list[str]:
    """The queries looking for a word (``LIKE``): the search's."""
    return [query["sql"] for query in queries if "LIKE" in query["sql"].upper()]


def test_the_cap():
    assert not is_too_long_search(" ".join(["dupont"] * SEARCH_MAX_WORDS))
    assert is_too_long_search(" ".join(["dupont"] * (SEARCH_MAX_WORDS + 1)))
    assert not is_too_long_search("x" * SEARCH_MAX_CHARS)
    assert is_too_long_search("x" * (SEARCH_MAX_CHARS + 1))
    assert not is_too_long_search('"' + " ".join(["a"] * 30) + '"')  # one quoted phrase: one word
    assert not is_too_long_search("")


# The candidates' list: 8 with its campaign filter's campaigns.
@pytest.mark.parametrize(("url", "queries"), [(APPLICATIONS, 16), (CANDIDATES, 8)])
def test_a_list_searched_for_too_many_words_looks_for_nothing_and_says_why(
    client, central_manager, listed, url, queries, django_assert_num_queries
):
    client.force_login(central_manager)
    name = listed[0].candidate.birth_name
    within = client.get(url, {"q": " ".join([name] * SEARCH_MAX_WORDS)})  # also warms the per-process memos
    assert len(within.context["cl"].result_list) == 2  # searched: both candidates are DUPONT
    assert TOO_LONG not in within.content.decode()
    term = " ".join(f"mot{index}" for index in range(2_000))

    with django_assert_num_queries(queries) as captured:
        response = client.get(url, {"q": term})

    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == []
    assert _searches(captured.captured_queries) == []  # no query on the 2,000 words
    html = response.content.decode()
    assert html.count(TOO_LONG) == 1


def test_a_forged_export_with_thousands_of_search_words_is_refused(
    client, centre_manager, listed, django_assert_num_queries
):
    client.force_login(centre_manager)
    short = post_export(client, COLUMNS, fmt="csv", filters=urlencode({"q": listed[0].candidate.birth_name}))
    assert short.status_code == 200
    assert short.streaming  # a search within the cap: exported
    ExportColumns.objects.all().delete()
    filters = urlencode({"q": " ".join(f"mot{index}" for index in range(2_000))})

    # The session, the user, the saved columns, the scope, the menu's permissions and the savepoint pair: no search.
    with django_assert_num_queries(8) as captured:
        response = post_export(client, COLUMNS, fmt="csv", filters=filters)

    assert response.status_code == 200
    assert not getattr(response, "streaming", False)
    assert _searches(captured.captured_queries) == []
    assert TOO_LONG in response.content.decode()
    assert not ExportColumns.objects.exists()
    assert not ExportJob.objects.exists()


def test_a_forged_export_with_a_short_list_of_long_words_is_refused(client, centre_manager, listed):
    client.force_login(centre_manager)

    response = post_export(client, COLUMNS, fmt="csv", filters=urlencode({"q": "x" * (SEARCH_MAX_CHARS + 1)}))

    assert response.status_code == 200
    assert TOO_LONG in response.content.decode()


def test_export_filters_longer_than_a_list_makes_are_refused(client, centre_manager, listed):
    client.force_login(centre_manager)
    filters = "&".join(["dossier_status__exact=COMPLETE"] * (FILTERS_MAX_LENGTH // 20))
    assert len(filters) > FILTERS_MAX_LENGTH

    response = post_export(client, COLUMNS, fmt="csv", filters=filters)

    assert response.status_code == 200
    assert not getattr(response, "streaming", False)
    assert TOO_LONG in response.content.decode()
    assert not ExportColumns.objects.exists()
