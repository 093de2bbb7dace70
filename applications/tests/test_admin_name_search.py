"""The back office's name searches, case and accents aside (``ecandidat.lookups``): staff on the phone type a name
as it is spelt aloud (« lefevre », « eloise »), names are stored with their accents (« LEFÈVRE », « Éloïse »), and
Django's ``icontains`` found nothing, with no message (on SQLite, not even « lefèvre »)."""

import re

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
    assert _found(client, central_manager, listed, term, django_assert_num_queries) == [LISTS[listed][1](eloise)], term


@pytest.mark.parametrize("term", ["lefevres", "eloisa", "le_evre", "lef%vre", "lef.vre"])
def test_other_words_and_wildcards_find_nothing(client, central_manager, eloise, term):
    client.force_login(central_manager)

    response = client.get(reverse("admin:applications_application_changelist"), {"q": term})

    assert list(response.context["cl"].result_list) == []


def test_the_pattern_is_a_plain_substring():
    assert accent_pattern("Lé-o.") == "l[eéèêëEÉÈÊË][-\u2010\u2011\u2013\u2014][oôöóòõOÔÖÓÒÕ]\\."


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


# Names are stored as typed: a phone's smart punctuation types « D’ARTAGNAN » (U+2019) and « JEAN–PIERRE » (U+2013)
# where the helpdesk types « d'artagnan », « jean-pierre », and the other way round for a name pasted from a mail.
APOSTROPHES = ["'", "\u2019", "\u2018", "\u02bc", "`", "\u00b4"]  # ' ’ ‘ ʼ ` ´
HYPHENS = ["-", "\u2010", "\u2011", "\u2013", "\u2014"]  # - ‐ ‑ – —


@pytest.mark.parametrize("typed", APOSTROPHES)
@pytest.mark.parametrize("stored", APOSTROPHES)
def test_any_apostrophe_typed_matches_any_apostrophe_stored(typed, stored):
    # As SQLite's REGEXP runs it (Python's re, ``(?i)`` for iregex); PostgreSQL's ~* through the lists below.
    assert re.search("(?i)" + accent_pattern(f"d{typed}artagnan"), f"D{stored}ARTAGNAN"), (typed, stored)


@pytest.mark.parametrize("typed", HYPHENS)
@pytest.mark.parametrize("stored", HYPHENS)
def test_any_hyphen_typed_matches_any_hyphen_stored(typed, stored):
    assert re.search("(?i)" + accent_pattern(f"jean{typed}pierre"), f"JEAN{stored}PIERRE"), (typed, stored)


@pytest.mark.parametrize("between", ["", " ", ".", '"', "_"])
def test_an_apostrophe_or_a_hyphen_is_still_needed(between):
    assert not re.search("(?i)" + accent_pattern("d\u2019artagnan"), f"D{between}ARTAGNAN")
    assert not re.search("(?i)" + accent_pattern("jean-pierre"), f"JEAN{between}PIERRE")
    assert not re.search("(?i)" + accent_pattern("d'artagnan"), "D-ARTAGNAN")  # an apostrophe is no hyphen
    assert not re.search("(?i)" + accent_pattern("jean-pierre"), "JEAN'PIERRE")


@pytest.mark.parametrize(
    ("stored", "term"),
    [
        ("D\u2019ARTAGNAN", "d'artagnan"),  # typed on a phone, searched from the helpdesk's keyboard
        ("D'ARTAGNAN", "d\u2019artagnan"),  # pasted from a mail
        ("D\u02bcARTAGNAN", "D\u2018Artagnan"),
        ("D\u00b4ARTAGNAN", "d'art"),
        ("JEAN\u2013PIERRE", "jean-pierre"),
        ("JEAN-PIERRE", "jean\u2014pierre"),
        ("JEAN\u2011PIERRE", "Jean\u2010Pierre"),
    ],
)
@pytest.mark.parametrize("listed", sorted(LISTS))
def test_any_apostrophe_or_hyphen_finds_the_others_in_the_lists(
    client, central_manager, eloise, stored, term, listed, django_assert_num_queries
):
    eloise.candidate.birth_name = stored
    eloise.candidate.save()
    User.objects.filter(pk=eloise.candidate.user_id).update(last_name=stored)
    found = _found(client, central_manager, listed, term, django_assert_num_queries)
    assert found == [LISTS[listed][1](eloise)], (stored, term)


def _found(client, user, listed, term, django_assert_num_queries) -> list:
    """What the list ``listed`` finds for ``term``, as ``user``, in as many queries as it makes finding nothing (the
    list's own queries, the search in them): its rows (the accounts' list: their ids)."""
    url = LISTS[listed][0]
    client.force_login(user)
    with CaptureQueriesContext(connection) as unsearched:
        client.get(reverse(url), {"q": "dupont"})

    with django_assert_num_queries(len(unsearched)):
        response = client.get(reverse(url), {"q": term})

    rows = list(response.context["cl"].result_list)
    return [row.pk for row in rows] if listed == "accounts" else rows
