"""eCandidat's "Créer compte candidat" (ecandidat-features §1.2, §2.2, Candidat menu): a gestionnaire de candidats
(GCA) creates a candidate's account on the page of the central office and the centre managers
(``applications/admin/on_behalf.py``), from « Comptes candidats » and « Candidats », and lands on the new account's
page; the read-only candidates managers (GCAL) are never offered it, nor the page of an application for a candidate.
"""

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains

from accounts.models import CandidateAccount, User
from ecandidat.models import OutboundEmail

pytestmark = pytest.mark.django_db

ACCOUNT = "admin:applications_application_on_behalf_account"
APPLY = "admin:applications_application_on_behalf"
ACCOUNTS_LIST = "admin:accounts_candidateaccount_changelist"
CANDIDATES_LIST = "admin:applications_candidate_changelist"
DATA = {"email": "Nina.Roux@example.org", "last_name": "Roux", "first_name": "Nina"}


@pytest.mark.parametrize(
    ("persona", "account", "apply"),
    [
        ("candidates_manager", 200, 404),  # GCA: the account, never an application (no applications' staff)
        ("candidates_reader", 404, 404),  # GCAL: read only
        ("commission_member", 404, 404),
        ("read_only_staff", 404, 404),
        ("centre_manager", 200, 200),
        ("central_manager", 200, 200),
    ],
)
def test_who_opens_the_pages(client, request, persona, account, apply):
    client.force_login(request.getfixturevalue(persona))

    assert client.get(reverse(ACCOUNT)).status_code == account
    assert client.get(reverse(APPLY)).status_code == apply


@pytest.mark.parametrize("persona", ["candidates_reader", "commission_member"])
def test_a_post_of_who_may_not_creates_nothing(client, request, persona, campaign):
    client.force_login(request.getfixturevalue(persona))

    assert client.post(reverse(ACCOUNT), DATA).status_code == 404
    assert not User.objects.filter(campaign=campaign).exists()
    assert not OutboundEmail.objects.exists()


def test_candidates_managers_page_leads_back_to_the_accounts_list(
    client, candidates_manager, campaign, django_assert_num_queries
):
    client.force_login(candidates_manager)

    with django_assert_num_queries(7):
        response = client.get(reverse(ACCOUNT), language="fr")

    assert response.status_code == 200
    assertContains(response, f'<a href="{reverse(ACCOUNTS_LIST)}">')  # the breadcrumbs: a list GCA opens
    assertNotContains(response, f'href="{reverse("admin:applications_application_changelist")}"')


def test_candidates_manager_creates_an_account_and_lands_on_its_page(client, candidates_manager, campaign):
    client.force_login(candidates_manager)

    response = client.post(reverse(ACCOUNT), DATA, language="fr")

    user = User.objects.get(email="nina.roux@example.org")
    assert (user.campaign, user.has_usable_password()) == (campaign, False)
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:accounts_candidateaccount_change", args=[user.pk])
    mail = OutboundEmail.objects.get()
    assert (mail.code, mail.to) == ("CPT_MIN_CREATE", "nina.roux@example.org")
    assert user.username in mail.body
    entry = LogEntry.objects.get(
        content_type=ContentType.objects.get_for_model(CandidateAccount, for_concrete_model=False),
        object_id=str(user.pk),
    )
    assert (entry.user, entry.change_message) == (candidates_manager, "Compte créé par le personnel pour le candidat")
    page = client.get(response["Location"], language="fr")
    assert page.status_code == 200
    assertContains(page, f"Compte {user.username} créé")


def test_managers_still_go_on_to_the_application_for_the_candidate(client, centre_manager, campaign):
    client.force_login(centre_manager)

    response = client.post(reverse(ACCOUNT), DATA)

    assert response["Location"] == reverse(APPLY)


@pytest.mark.parametrize(
    ("persona", "offered"),
    [("candidates_manager", True), ("central_manager", True), ("candidates_reader", False)],
)
def test_the_accounts_list_offers_the_page(client, request, persona, offered, campaign):
    client.force_login(request.getfixturevalue(persona))

    response = client.get(reverse(ACCOUNTS_LIST))

    assert response.status_code == 200
    assert (reverse(ACCOUNT) in response.content.decode()) is offered


@pytest.mark.parametrize(
    ("persona", "offered"),
    [
        ("candidates_manager", True),
        ("central_manager", True),
        ("centre_manager", True),
        ("candidates_reader", False),
        ("read_only_staff", False),
        ("commission_member", False),
    ],
)
def test_the_candidates_list_offers_the_page(client, request, persona, offered, campaign):
    client.force_login(request.getfixturevalue(persona))

    response = client.get(reverse(CANDIDATES_LIST))

    assert response.status_code == 200
    assert (reverse(ACCOUNT) in response.content.decode()) is offered
