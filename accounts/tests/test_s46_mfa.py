"""Staff second factor (STAFF_MFA_REQUIRED): the login's code step during the maintenance, and what a session
without a second factor may not reach (accounts.middleware.StaffEnrolmentGateMiddleware)."""

import datetime
import re
import zoneinfo

import pytest
import time_machine
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django.urls import reverse
from django.utils.http import urlencode

from accounts.staff_enrolment import issue_enrolment_code
from accounts.tests.factories import StaffMembershipFactory
from accounts.tests.mfa import Client, totp_code
from accounts.tests.personas import PASSWORD
from offers.tests.factories import CampaignFactory

PARIS = zoneinfo.ZoneInfo("Europe/Paris")
NIGHT = datetime.datetime(2026, 11, 28, 23, 30, tzinfo=PARIS)
LOGIN = reverse("account_login")
MFA_AUTHENTICATE = reverse("mfa_authenticate")
ADMIN = "/gestion/"


@pytest.fixture
def campaign(db):
    """The active campaign (``candidate_user``'s), open on 28 November 2026 (NIGHT) as well as today: the conftest's
    opens 60 days before today, which is after NIGHT from 28 January 2027."""
    return CampaignFactory(is_active=True, starts_on=NIGHT.date() - datetime.timedelta(days=60))


@pytest.fixture
def window(settings):
    settings.MAINTENANCE_WINDOW_ENFORCED = True
    settings.STAFF_MFA_REQUIRED = True
    with time_machine.travel(NIGHT, tick=False):
        yield


@pytest.fixture
def staff_totp(centre_manager):
    secret = generate_totp_secret()
    TOTP.activate(centre_manager, secret)
    return secret


# --- Finding 2: the code step of a staff login during the maintenance ---


@pytest.mark.usefixtures("window")
def test_staff_with_totp_log_in_with_password_then_code_during_the_window(
    client, centre_manager, staff_totp, django_assert_num_queries
):
    response = client.post(f"{LOGIN}?next={ADMIN}", {"login": "gestionnaire", "password": PASSWORD})
    assert response.status_code == 302
    assert response.url == MFA_AUTHENTICATE

    # session; the pending login's account, for the maintenance rule (the one query it adds); then allauth's step as
    # outside the window: savepoint, the account again, its authenticator app, release, session save (3)
    with django_assert_num_queries(9):
        response = client.get(MFA_AUTHENTICATE)
    assert response.status_code == 200

    response = client.post(MFA_AUTHENTICATE, {"code": totp_code(staff_totp)})
    assert response.status_code == 302
    assert response.url == ADMIN
    assert client.session["_auth_user_id"] == str(centre_manager.pk)
    assert client.get(ADMIN).status_code == 200


def test_a_candidate_login_pending_when_the_window_opens_gets_the_maintenance_page(client, candidate_user, settings):
    settings.MAINTENANCE_WINDOW_ENFORCED = True
    secret = generate_totp_secret()
    TOTP.activate(candidate_user, secret)
    with time_machine.travel(NIGHT - datetime.timedelta(minutes=50), tick=False):  # 22:40, before the window
        response = client.post(LOGIN, {"login": candidate_user.email, "password": PASSWORD})
    assert response.url == MFA_AUTHENTICATE

    with time_machine.travel(NIGHT - datetime.timedelta(minutes=40), tick=False):  # 22:50, in the window
        response = client.post(MFA_AUTHENTICATE, {"code": totp_code(secret)})

    assert response.status_code == 503
    assert "_auth_user_id" not in client.session


@pytest.mark.usefixtures("window")
def test_the_code_step_without_a_pending_login_gets_the_maintenance_page(db, client):
    assert client.get(MFA_AUTHENTICATE).status_code == 503


# --- Finding 1: a password-only staff session and the app activated elsewhere ---


def _log_in_with_password(client, username="gestionnaire"):
    response = client.post(f"{LOGIN}?next={ADMIN}", {"login": username, "password": PASSWORD})
    assert response.status_code == 302


def _secret_on_page(html: str) -> str:
    return re.search(r'id="authenticator_secret" value="([A-Z2-7=]+)"', html).group(1)


@pytest.mark.django_db(transaction=True)  # allauth sends authenticator_added on commit, as in production
def test_activating_the_app_ends_the_password_only_session_opened_before(settings, centre_manager, candidate_user):
    settings.STAFF_MFA_REQUIRED = True
    old, owner, candidate = Client(), Client(), Client()
    _log_in_with_password(old)  # before the app: a password-only session, sent to the enrolment
    _log_in_with_password(candidate, username=candidate_user.email)
    _log_in_with_password(owner)
    code = issue_enrolment_code(user=centre_manager, actor=StaffMembershipFactory(central=True).user)
    owner.post(reverse("accounts:staff_enrolment"), {"action": "code", "code": code})
    secret = _secret_on_page(owner.get(reverse("mfa_activate_totp")).content.decode())

    response = owner.post(reverse("mfa_activate_totp"), {"code": totp_code(secret)})

    assert response.url == reverse("mfa_view_recovery_codes")
    assert "_auth_user_id" not in old.session  # the old session has ended
    response = old.get(reverse("mfa_view_recovery_codes"))
    assert response.status_code == 302
    assert response.url.startswith(LOGIN)
    assert old.get(ADMIN).status_code == 302
    assert owner.session["_auth_user_id"] == str(centre_manager.pk)  # this session stays, with its second factor
    assert owner.get(reverse("mfa_view_recovery_codes")).status_code == 200
    assert owner.get(ADMIN).status_code == 200
    assert candidate.session["_auth_user_id"] == str(candidate_user.pk)  # another account's session stays


@pytest.fixture
def password_only_session(client, settings, centre_manager):
    """A staff session opened with the password alone while the account had no app, the app and its recovery codes
    activated since without allauth's pages (no ``authenticator_added``, so the session is not ended: what the
    gate of the pages does alone)."""
    settings.STAFF_MFA_REQUIRED = True
    _log_in_with_password(client)
    secret = generate_totp_secret()
    TOTP.activate(centre_manager, secret)
    RecoveryCodes.activate(centre_manager)
    return secret


@pytest.mark.parametrize(
    "url_name",
    [
        "mfa_view_recovery_codes",
        "mfa_generate_recovery_codes",
        "mfa_download_recovery_codes",
        "mfa_deactivate_totp",
        "mfa_index",
    ],
)
def test_a_password_only_staff_session_gets_a_code_asked_before_the_mfa_pages(
    client, password_only_session, url_name, django_assert_num_queries
):
    url = reverse(url_name)

    # session, user, is the app active? (where the redirect goes): allauth's view never runs
    with django_assert_num_queries(3):
        response = client.get(url)

    assert response.status_code == 302
    assert response.url == f"{reverse('mfa_reauthenticate')}?{urlencode({'next': url})}"
    assert client.post(url).url == f"{reverse('mfa_reauthenticate')}?{urlencode({'next': url})}"
    assert Authenticator.objects.filter(type=Authenticator.Type.TOTP).exists()


def test_a_password_only_staff_session_reads_the_codes_after_typing_one(client, password_only_session):
    url = reverse("mfa_view_recovery_codes")
    response = client.get(url, follow=True)
    assert response.redirect_chain[-1][0] == f"{reverse('mfa_reauthenticate')}?{urlencode({'next': url})}"

    response = client.post(reverse("mfa_reauthenticate"), {"code": totp_code(password_only_session), "next": url})

    assert response.url == url
    assert client.get(url).content.decode().count("<li><code>") == 10
    assert client.get(ADMIN).status_code == 200


# --- Finding 3: the password change ---


def test_a_password_only_staff_session_cannot_change_the_password(
    client, password_only_session, centre_manager, django_assert_num_queries
):
    url = reverse("account_change_password")

    with django_assert_num_queries(3):  # as above
        response = client.get(url)
    assert response.url == f"{reverse('mfa_reauthenticate')}?{urlencode({'next': url})}"

    response = client.post(
        url, {"oldpassword": PASSWORD, "password1": "Attaquant-2026!", "password2": "Attaquant-2026!"}
    )

    assert response.url == f"{reverse('mfa_reauthenticate')}?{urlencode({'next': url})}"
    centre_manager.refresh_from_db()
    assert centre_manager.check_password(PASSWORD)


def test_staff_without_an_app_are_sent_to_the_enrolment_before_the_password_change(client, settings, centre_manager):
    settings.STAFF_MFA_REQUIRED = True
    _log_in_with_password(client)

    response = client.get(reverse("account_change_password"))

    assert response.url == reverse("accounts:staff_enrolment")


def test_candidates_still_change_their_password(client, settings, candidate_user):
    settings.STAFF_MFA_REQUIRED = True
    _log_in_with_password(client, username=candidate_user.email)

    assert client.get(reverse("account_change_password")).status_code == 200
    assert client.get(reverse("mfa_index")).status_code == 200
