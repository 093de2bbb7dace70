"""The back office's name searches, case and accents aside (``ecandidat.lookups``): staff on the phone type a name
as it is spelt aloud (« lefevre », « eloise »), names are stored with their accents (« LEFÈVRE », « Éloïse »), and
Django's ``icontains`` found nothing, with no message (on SQLite, not even « lefèvre »)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import User
from applications.tests.factories_candidature import make_application
from ecandidat.lookups import accent_pattern
from offers.tests.factories import FormationFactory

LISTS = {
    "applications": ("admin:applications_application_changelist", lambda a: a),
    "dossiers": ("admin:applications_candidate_changelist", lambda a: a.candidate),
    "accounts": ("admin:accounts_candidateaccount_changelist", lambda a: a.candidate.user.pk),
}


@pytest.fixture
def eloise(centre, commission, campaign):
    application = make_application(FormationFactory(centre=centre, commission=commission), campaign=campaign)
    application.candidate.first_name, application.candidate.birth_name = "Éloïse", "LEFÈVRE"
    application.candidate.save()
    User.objects.filter(pk=application.candidate.user_id).update(first_name="Éloïse", last_name="Lefèvre")
    make_application(FormationFactory(centre=centre, commission=commission), campaign=campaign)  # another one
    return application


@pytest.mark.parametrize(
    "term", ["eloise", "ELOISE", "Éloïse", "éloïse", "lefevre", "LEFEVRE", "lefèvre", "eloise lef"]
)
@pytest.mark.parametrize("listed", sorted(LISTS))
def test_a_name_is_found_case_and_accents_aside(
    client, central_manager, eloise, term, listed, django_assert_num_queries
):
    url, expected = LISTS[listed]
    client.force_login(central_manager)
    with CaptureQueriesContext(connection) as unsearched:
        client.get(reverse(url), {"q": "dupont"})

    with django_assert_num_queries(len(unsearched)):  # the list's own queries, the search in them
        response = client.get(reverse(url), {"q": term})

    rows = list(response.context["cl"].result_list)
    found = [row.pk for row in rows] if listed == "accounts" else rows
    assert found == [expected(eloise)], term


@pytest.mark.parametrize("term", ["lefevres", "eloisa", "le_evre", "lef%vre", "lef.vre"])
def test_other_words_and_wildcards_find_nothing(client, central_manager, eloise, term):
    client.force_login(central_manager)

    response = client.get(reverse("admin:applications_application_changelist"), {"q": term})

    assert list(response.context["cl"].result_list) == []


def test_the_pattern_is_a_plain_substring():
    assert accent_pattern("Lé-o.") == "l[eéèêëEÉÈÊË]\\-[oôöóòõOÔÖÓÒÕ]\\."


@pytest.mark.parametrize(
    ("stored", "term"),
    [("CŒUR", "coeur"), ("Cœur", "cœur"), ("COEUR", "cœur"), ("Lætitia", "laetitia"), ("LAETITIA", "læti")],
)
def test_the_ligatures_and_their_two_letters_find_each_other(client, central_manager, eloise, stored, term):
    eloise.candidate.birth_name = stored
    eloise.candidate.save()
    client.force_login(central_manager)

    response = client.get(reverse("admin:applications_application_changelist"), {"q": term})

    assert list(response.context["cl"].result_list) == [eloise], (stored, term)
