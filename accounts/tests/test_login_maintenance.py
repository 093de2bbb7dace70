"""The password login during the maintenance (the nightly window or the switch): the login page passes the maintenance
middleware (staff keep logging in with their password), so the rule is held before the login completes
(``AccountAdapter.pre_login``): a candidate gets the maintenance page, logged in nowhere, with nothing recorded."""

import datetime
import zoneinfo

import pytest
import time_machine
from django.contrib.admin.models import LogEntry
from django.urls import reverse

from accounts.tests.factories import StaffFactory
from accounts.tests.personas import PASSWORD

PARIS = zoneinfo.ZoneInfo("Europe/Paris")
NIGHT = datetime.datetime(2026, 11, 28, 23, 30, tzinfo=PARIS)
LOGIN = reverse("account_login")


@pytest.fixture
def window(settings):
    settings.MAINTENANCE_WINDOW_ENFORCED = True
    with time_machine.travel(NIGHT, tick=False):
        yield


@pytest.mark.usefixtures("window")
def test_a_candidate_password_login_during_the_window_gets_the_maintenance_page(client, candidate_user):
    last_login = candidate_user.last_login

    response = client.post(LOGIN, {"login": candidate_user.email, "password": PASSWORD}, language="fr")

    assert response.status_code == 503
    assert response["Retry-After"] == str(int(6.5 * 3600))
    assert "tous les jours de 22h45 à 06h" in response.content.decode()
    assert "_auth_user_id" not in client.session
    candidate_user.refresh_from_db()
    assert candidate_user.last_login == last_login
    assert not LogEntry.objects.exists()  # no « Connexion par mot de passe » in the account's history


@pytest.mark.usefixtures("window")
def test_staff_still_log_in_with_their_password_during_the_window(db, client, settings):
    settings.STAFF_MFA_REQUIRED = False
    staff = StaffFactory(username="sophie.gestion", email="sophie.gestion@univ-perp.fr")

    response = client.post(LOGIN, {"login": staff.username, "password": PASSWORD})

    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(staff.pk)
