"""A candidate of the active campaign outside its dates for candidates is told the dates, not that accounts are
annual: there is no other campaign to create an account in, and signup is closed too (eCandidat: no login after
« Date fin candidats »). An account of a past campaign still reads the annual rule."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import override

from accounts.tests.factories import CandidateUserFactory
from accounts.tests.personas import PASSWORD
from offers.tests.factories import CampaignFactory

ANNUAL_FR = "Les comptes sont annuels"
# The login refused: savepoint, site, the user, its campaign (``candidate_can_log_in``), release; then the session
# allauth's clear_login leaves (its check, savepoint, insert, release). One more for an address: the account it names
# (``LoginForm.clean_login``).
QUERIES_LOGIN = 9
QUERIES_LOGIN_BY_ADDRESS = QUERIES_LOGIN + 1
# The login page it is sent back to, with the message: the session, the request's savepoint and release, the
# session's refresh (savepoint, update, release).
QUERIES_PAGE = 6


@pytest.fixture
def client(client):
    client.language = "fr"
    return client


def _post_login(client, django_assert_num_queries, login, queries=QUERIES_LOGIN):
    with django_assert_num_queries(queries):
        response = client.post(reverse("account_login"), {"login": login, "password": PASSWORD})
    assert response.status_code == 302
    assert response.url == reverse("account_login")
    with django_assert_num_queries(QUERIES_PAGE):
        response = client.get(response.url)
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session
    return response.content.decode()


def test_active_campaign_after_its_closing_date(client, db, django_assert_num_queries):
    today = timezone.localdate()
    ends_on = today - datetime.timedelta(1)
    campaign = CampaignFactory(is_active=True, starts_on=today - datetime.timedelta(100), ends_on=ends_on)
    user = CandidateUserFactory(campaign=campaign)

    html = _post_login(client, django_assert_num_queries, user.username)

    with override("fr"):
        day = date_format(ends_on, "SHORT_DATE_FORMAT")
    assert (
        f"La campagne était ouverte aux candidats jusqu&#x27;au {day} : vous ne pouvez plus vous connecter. Pour une "
        "question sur votre candidature, écrivez au service de scolarité de votre formation."
    ) in html
    assert ANNUAL_FR not in html.split("<main", 1)[1]


def test_active_campaign_before_its_opening_date(client, db, django_assert_num_queries):
    today = timezone.localdate()
    starts_on = today + datetime.timedelta(3)
    campaign = CampaignFactory(is_active=True, starts_on=starts_on, ends_on=today + datetime.timedelta(100))
    user = CandidateUserFactory(campaign=campaign)

    html = _post_login(client, django_assert_num_queries, user.email, QUERIES_LOGIN_BY_ADDRESS)

    with override("fr"):
        day = date_format(starts_on, "SHORT_DATE_FORMAT")
    assert f"La campagne ouvre aux candidats le {day} : revenez à cette date pour vous connecter." in html
    assert ANNUAL_FR not in html.split("<main", 1)[1]


def test_past_campaign_account_reads_the_annual_rule(client, db, django_assert_num_queries):
    today = timezone.localdate()
    CampaignFactory(is_active=True)
    old = CampaignFactory(
        is_active=False, starts_on=today - datetime.timedelta(400), ends_on=today - datetime.timedelta(200)
    )
    user = CandidateUserFactory(campaign=old)

    html = _post_login(client, django_assert_num_queries, user.username)

    assert "Les comptes sont annuels : créez un nouveau compte pour la campagne en cours." in html
    assert "vous ne pouvez plus vous connecter" not in html
