"""The candidates' list and a past campaign's dossiers (ecandidat-features §2.2, « Chercher candidat »: « optionally
across closed or archived campaigns »). An account is annual: last year's « MARTIN Jean » is another, archived,
account. The central office's list showed every campaign's dossiers alike, so the helpdesk, called by this year's
MARTIN Jean, could change the address of last year's account: the current account kept the unread address, the
candidate's mailbox got « your address was changed » and a validation link to an account that cannot log in. The
list shows the active campaign's dossiers unless its « campaign » filter says otherwise, each with its campaign; the
address is changed on the active campaign's accounts only."""

import datetime

import pytest
from django.contrib.admin.models import LogEntry
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from applications.admin.filters import AccountCampaignFilter
from applications.tests.factories import CandidateFactory
from applications.tests.factories_candidature import make_application
from ecandidat.models import OutboundEmail
from offers.tests.factories import CampaignFactory, FormationFactory

pytestmark = pytest.mark.django_db

LIST = reverse("admin:applications_candidate_changelist")
CAMPAIGN = AccountCampaignFilter.parameter_name


def _page(candidate):
    return reverse("admin:applications_candidate_change", args=[candidate.pk])


def _email_page(candidate):
    return reverse("admin:applications_candidate_account_email", args=[candidate.pk])


@pytest.fixture
def past_campaign(db):
    today = timezone.localdate()
    return CampaignFactory(
        label="Campagne 2024-2025",
        starts_on=today - datetime.timedelta(days=500),
        ends_on=today - datetime.timedelta(days=300),
    )


@pytest.fixture
def older_campaign(db):
    today = timezone.localdate()
    return CampaignFactory(
        label="Campagne 2023-2024",
        starts_on=today - datetime.timedelta(days=900),
        ends_on=today - datetime.timedelta(days=700),
    )


@pytest.fixture
def martins(campaign, past_campaign):
    """The same candidate's two accounts, same name: last year's (archived) and this year's."""
    campaign.label = "Campagne 2025-2026"
    campaign.save()
    same = {"birth_name": "MARTIN", "first_name": "Jean"}
    return (
        CandidateFactory(user__campaign=past_campaign, user__email="jean.martin@ancien.example.org", **same),
        CandidateFactory(user__campaign=campaign, user__email="jean.martin@example.org", **same),
    )


def test_the_list_shows_the_active_campaigns_martin_only(client, central_manager, martins):
    past, current = martins
    client.force_login(central_manager)

    response = client.get(LIST, {"q": "martin"})

    assert list(response.context["cl"].result_list) == [current]
    html = response.content.decode()
    assert 'class="field-account_campaign"><span lang="fr">Campagne 2025-2026</span></td>' in html
    assert "Campagne 2024-2025</span></td>" not in html


def test_the_filter_shows_a_past_campaigns_martin_with_its_campaign(client, central_manager, martins, past_campaign):
    past, current = martins
    client.force_login(central_manager)

    response = client.get(LIST, {"q": "martin", CAMPAIGN: past_campaign.pk})
    every = client.get(LIST, {"q": "martin", CAMPAIGN: "all"})

    assert list(response.context["cl"].result_list) == [past]
    assert response.context["subtitle"] == "Campagne 2024-2025"  # under the list's title and in the window's
    assert every.context["subtitle"] == "All campaigns"
    assert 'class="field-account_campaign"><span lang="fr">Campagne 2024-2025</span></td>' in response.content.decode()
    assert set(every.context["cl"].result_list) == {past, current}
    html = every.content.decode()
    assert html.count('class="field-account_campaign">') == 2
    assert "Campagne 2024-2025</span></td>" in html


def test_the_filter_offers_the_campaigns_newest_first_the_active_one_chosen(
    client, central_manager, martins, campaign, past_campaign, older_campaign
):
    client.force_login(central_manager)

    response = client.get(LIST)

    spec = next(spec for spec in response.context["cl"].filter_specs if isinstance(spec, AccountCampaignFilter))
    choices = list(spec.choices(response.context["cl"]))
    assert [str(choice["display"]) for choice in choices] == [
        "All campaigns",
        '<span lang="fr">Campagne 2025-2026</span> (active)',
        '<span lang="fr">Campagne 2024-2025</span>',
        '<span lang="fr">Campagne 2023-2024</span>',
    ]
    assert [choice["selected"] for choice in choices] == [False, True, False, False]
    assert client.get(LIST, {CAMPAIGN: "x"})["Location"].endswith("?e=1")  # Django's answer to a value it cannot read


@pytest.mark.parametrize("others", [0, 2])
def test_the_list_does_not_grow_queries_with_rows(
    client, central_manager, martins, campaign, others, django_assert_num_queries
):
    for number in range(others):
        CandidateFactory(user__campaign=campaign, birth_name=f"AUTRE{number}")
    client.force_login(central_manager)
    client.get(LIST)  # per-process memos warm

    # Session, user, scope, Django's permissions (2), the filter's campaigns, the count, the page of rows (with each
    # row's account and campaign), the savepoint pair.
    with django_assert_num_queries(10):
        response = client.get(LIST)

    assert len(response.context["cl"].result_list) == 1 + others


def test_a_centre_manager_sees_the_past_campaigns_candidates_on_request_only(
    client, centre_manager, centre, commission, campaign, past_campaign
):
    formation = FormationFactory(centre=centre, commission=commission)
    now = make_application(formation, campaign=campaign).candidate
    before = make_application(formation, campaign=past_campaign).candidate
    client.force_login(centre_manager)

    assert list(client.get(LIST).context["cl"].result_list) == [now]
    assert list(client.get(LIST, {CAMPAIGN: past_campaign.pk}).context["cl"].result_list) == [before]
    assert client.get(_page(before)).status_code == 200  # the archived application's dossier is read as before


@pytest.mark.parametrize("persona", ["candidates_manager", "candidates_reader"])
def test_the_candidates_managers_list_has_no_campaign_filter_nor_column(client, request, persona, martins):
    """Their list is the active campaign's whatever the query string says: a filter and a column would say nothing."""
    past, current = martins
    client.force_login(request.getfixturevalue(persona))

    response = client.get(LIST)

    assert list(response.context["cl"].result_list) == [current]
    assert not any(isinstance(spec, AccountCampaignFilter) for spec in response.context["cl"].filter_specs)
    assert "account_campaign" not in response.context["cl"].list_display


def test_a_past_campaigns_account_address_is_not_changed(
    client, central_manager, martins, django_capture_on_commit_callbacks
):
    past, current = martins
    client.force_login(central_manager)
    page = client.get(_page(past))

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            _email_page(past),
            {"email": "jean.martin@nouveau.example.org", "email2": "jean.martin@nouveau.example.org"},
        )

    assert response.status_code == 404
    assert User.objects.get(pk=past.user_id).email == "jean.martin@ancien.example.org"
    assert User.objects.get(pk=current.user_id).email == "jean.martin@example.org"
    assert not OutboundEmail.objects.exists()  # no « changed » notice, no validation link
    assert not LogEntry.objects.exists()
    assert client.get(_email_page(past)).status_code == 404
    assert page.status_code == 200  # the dossier still opens, without the address change's link
    assert _email_page(past) not in page.content.decode()


def test_the_active_campaigns_account_address_is_changed(
    client, central_manager, martins, django_capture_on_commit_callbacks
):
    past, current = martins
    client.force_login(central_manager)
    assert _email_page(current) in client.get(_page(current)).content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            _email_page(current),
            {"email": "jean.martin@nouveau.example.org", "email2": "jean.martin@nouveau.example.org"},
        )

    assert response.status_code == 302
    assert User.objects.get(pk=current.user_id).email == "jean.martin@nouveau.example.org"
    assert User.objects.get(pk=past.user_id).email == "jean.martin@ancien.example.org"
    assert OutboundEmail.objects.filter(to="jean.martin@nouveau.example.org").exists()
