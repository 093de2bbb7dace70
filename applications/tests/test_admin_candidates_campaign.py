"""The candidates' list and a past campaign's dossiers (ecandidat-features §2.2, « Chercher candidat »: « optionally
across closed or archived campaigns »). An account is annual: last year's « MARTIN Jean » is another, archived,
account. The central office's list showed every campaign's dossiers alike, so the helpdesk, called by this year's
MARTIN Jean, could change the address of last year's account: the current account kept the unread address, the
candidate's mailbox got « your address was changed » and a validation link to an account that cannot log in. The
list shows the active campaign's dossiers unless its « campaign » filter says otherwise, each with its campaign; the
address is changed on the active campaign's accounts only."""

import datetime

import pytest
from django.contrib.admin import helpers
from django.contrib.admin.models import LogEntry
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from applications.admin.filters import AccountCampaignFilter
from applications.concurrency import READ_AT_FIELD
from applications.enums import EventKind
from applications.models import Address, Candidate
from applications.services import store_sis_records
from applications.services.sis_lookup import staff_sync
from applications.tests.factories import STUDENT, AddressFactory, CandidateFactory
from applications.tests.factories_candidature import ApplicationFactory, make_application
from applications.tests.helpers import dossier_form_data, estelle_typed_by_hand
from ecandidat.exceptions import BusinessRuleError
from ecandidat.models import OutboundEmail
from offers.models import Campaign
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


@pytest.fixture
def archived_application(martins):
    """Last year's MARTIN Jean applied, with his address: an archived application, read only."""
    past, _current = martins
    AddressFactory(candidate=past, city="PERPIGNAN", postal_code="66000")
    return ApplicationFactory(candidate=past)


def _active(campaign):
    """Make ``campaign`` the active one, as the archiving night does (the other one first: one active at a time)."""
    Campaign.objects.exclude(pk=campaign.pk).update(is_active=False)
    Campaign.objects.filter(pk=campaign.pk).update(is_active=True)


def test_a_past_campaigns_dossier_is_read_only_for_the_central_office_too(
    client, central_manager, martins, archived_application, django_assert_num_queries
):
    """Regression: Django's permissions and ``manages_candidate`` gave the central office an editable page, every
    section included, of a dossier a centre manager reads only: a past campaign's dossier is read, never changed."""
    past, current = martins
    client.force_login(central_manager)
    client.get(_page(past))  # per-process memos warm

    # Session, user, scope, the dossier (with its account's campaign), Django's permissions (2), the version read,
    # the six sections, the applications, the request's savepoint pair, the account shown.
    with django_assert_num_queries(17):
        page = client.get(_page(past))

    assert page.status_code == 200
    assert page.context["has_change_permission"] is False
    assert list(page.context["adminform"].form.fields) == [READ_AT_FIELD]  # every field read only
    sections = page.context["inline_admin_formsets"]
    assert sections
    for section in sections:
        assert (section.has_add_permission, section.has_change_permission, section.has_delete_permission) == (
            False,
            False,
            False,
        ), section.formset.prefix
    assert client.get(_page(current)).context["has_change_permission"] is True  # this year's account is corrected


def test_a_past_campaigns_dossier_page_opened_before_the_archiving_night_is_not_saved_after_it(
    client, central_manager, martins, campaign, past_campaign, archived_application, django_assert_num_queries
):
    """The page of last year's dossier, opened while its campaign ran and posted once this year's is active: refused
    (403), nothing changed, no « Dossier modifié par le personnel » on the archived application."""
    past, _current = martins
    client.force_login(central_manager)
    _active(past_campaign)
    data = dossier_form_data(client.get(_page(past)))
    _active(campaign)  # the archiving night
    data["address-0-city"] = "CANET-EN-ROUSSILLON"
    data["address-0-postal_code"] = "66140"

    # Session, user, scope, the dossier (with its account's campaign), Django's permissions (2), the request's and
    # the page's savepoint pairs (rolled back): refused before any form is read.
    with django_assert_num_queries(12):
        response = client.post(_page(past), data)

    assert response.status_code == 403
    assert (Address.objects.get(candidate=past).city, Address.objects.get(candidate=past).postal_code) == (
        "PERPIGNAN",
        "66000",
    )
    assert not archived_application.events.filter(kind=EventKind.DOSSIER_CHANGED_BY_STAFF).exists()
    assert not LogEntry.objects.exists()


def test_a_past_campaigns_dossier_is_not_taken_again_from_the_sis(
    client, central_manager, campaign, past_campaign, django_assert_num_queries
):
    """« Reprendre le dossier du logiciel de scolarité » on « All campaigns »' list, last year's dossier ticked with
    this year's: this year's is taken again, last year's is left as it was and said so, its archived application's
    history untouched."""
    store_sis_records(students=[STUDENT], actor=None)
    past = estelle_typed_by_hand(past_campaign)
    current = estelle_typed_by_hand(campaign)
    client.force_login(central_manager)

    # Session, user, scope, Django's permissions (2), the filter's campaigns (the list's, the action's), the count,
    # the selection, this year's dossier taken again (the SIS record, the INE's check, the dossier and its sections,
    # its application's history row: 11 with their savepoint; an e-mail account's dossier takes no address from the
    # records), the request's savepoint pair; none for last year's.
    # +1: transmitted applications read after the dossier lock.
    with django_assert_num_queries(24):
        response = client.post(
            f"{LIST}?{CAMPAIGN}=all",
            {"action": "take_again_from_sis", helpers.ACTION_CHECKBOX_NAME: [past.pk, current.pk]},
        )

    assert response.status_code == 302
    assert [str(message) for message in get_messages(response.wsgi_request)] == [
        f"Taken again from the student records system: {current.user.username} {STUDENT.birth_name}.",
        f"Dossiers of a past campaign (read only), not taken again: {past.user.username} MARTIN.",
    ]
    assert Candidate.objects.get(pk=current.pk).sis_locked
    assert not Candidate.objects.get(pk=past.pk).sis_locked
    assert not past.applications.get().events.exists()
    assert current.applications.get().events.filter(kind=EventKind.DOSSIER_CHANGED_BY_STAFF).exists()


def test_the_service_refuses_to_take_a_past_campaigns_dossier_again(central_manager, past_campaign):
    """Whoever calls it (not only the back office's action): refused, the import undone, no history row."""
    store_sis_records(students=[STUDENT], actor=None)
    past = Candidate.objects.get(pk=estelle_typed_by_hand(past_campaign).pk)  # as read without the admin's query

    with pytest.raises(BusinessRuleError, match="past campaign: it is read only"):
        staff_sync(candidate=past, actor=central_manager)

    assert not Candidate.objects.get(pk=past.pk).sis_locked
    assert not past.applications.get().events.exists()


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
