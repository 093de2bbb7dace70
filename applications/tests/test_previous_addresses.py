"""The helpdesk finds a candidate by an address their account had before (``PreviousEmailAddress``): after the
candidate changed it (« Modifier mon adresse mail ») or the helpdesk did, allauth keeps only the new one, and the
search by the address the candidate gives on the phone found nothing. Both lists (« Candidats », « Comptes
candidats ») look there too and say which previous address matched; their query count does not grow with rows."""

import pytest
from django.conf import settings
from django.urls import reverse

from accounts.models import PreviousEmailAddress
from accounts.services import change_email
from accounts.tests.factories import CandidateUserFactory
from applications.tests.factories import CandidateFactory

pytestmark = pytest.mark.django_db

CANDIDATES = reverse("admin:applications_candidate_changelist")
ACCOUNTS = reverse("admin:accounts_candidateaccount_changelist")


@pytest.fixture
def moved(campaign):
    """A candidate who changed their address: ancienne@example.org → nouvelle@example.org."""
    candidate = CandidateFactory(user__campaign=campaign, user__email="ancienne@example.org", birth_name="DEMENAGE")
    change_email(user=candidate.user, new_email="nouvelle@example.org", actor=candidate.user)
    return candidate


def test_the_change_keeps_the_previous_address_with_its_actor(moved, candidates_manager):
    change_email(user=moved.user, new_email="troisieme@example.org", actor=candidates_manager)

    assert list(PreviousEmailAddress.objects.filter(user=moved.user).values_list("email", "replaced_by")) == [
        ("nouvelle@example.org", candidates_manager.pk),
        ("ancienne@example.org", moved.user_id),
    ]


def test_a_refused_change_keeps_nothing(moved, campaign):
    CandidateUserFactory(campaign=campaign, email="prise@example.org")

    assert change_email(user=moved.user, new_email="prise@example.org", actor=moved.user) is False
    assert list(PreviousEmailAddress.objects.filter(user=moved.user).values_list("email", flat=True)) == [
        "ancienne@example.org"
    ]


@pytest.mark.parametrize("persona", ["candidates_manager", "candidates_reader", "central_manager"])
@pytest.mark.parametrize("language", ["fr", "en"])
def test_the_candidates_list_finds_them_by_the_old_address_and_says_so(client, request, persona, language, moved):
    client.force_login(request.getfixturevalue(persona))

    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language

    response = client.get(CANDIDATES, {"q": "ancienne@example.org"})

    assert list(response.context["cl"].result_list) == [moved]
    html = response.content.decode()
    expected = {
        "fr": "Trouvé par une ancienne adresse : ancienne@example.org (remplacée le ",
        "en": "Found by a previous address: ancienne@example.org (replaced on ",
    }[language]
    assert expected in html


def test_the_accounts_list_finds_them_too(client, candidates_manager, moved):
    client.force_login(candidates_manager)

    response = client.get(ACCOUNTS, {"q": "ancienne@"})

    assert [account.pk for account in response.context["cl"].result_list] == [moved.user_id]
    assert "ancienne@example.org (" in response.content.decode()


def test_no_note_without_a_search_nor_for_the_current_address(client, candidates_manager, moved):
    client.force_login(candidates_manager)

    plain = client.get(CANDIDATES)
    current = client.get(CANDIDATES, {"q": "nouvelle@example.org"})

    assert "previous_address" not in plain.context["cl"].list_display
    assert list(current.context["cl"].result_list) == [moved]
    assert "ancienne@example.org" not in current.content.decode()


@pytest.mark.parametrize(("url", "queries"), [(CANDIDATES, 9), (ACCOUNTS, 9)])
@pytest.mark.parametrize("others", [0, 5])
def test_the_search_does_not_grow_queries_with_rows(
    client, candidates_manager, campaign, moved, url, queries, others, django_assert_num_queries
):
    for number in range(others):
        candidate = CandidateFactory(user__campaign=campaign, user__email=f"ancienne{number}@example.com")
        change_email(user=candidate.user, new_email=f"neuve{number}@example.com", actor=candidate.user)
    client.force_login(candidates_manager)
    client.get(url, {"q": "ancienne"})

    with django_assert_num_queries(queries):
        response = client.get(url, {"q": "ancienne"})

    assert len(response.context["cl"].result_list) == 1 + others
