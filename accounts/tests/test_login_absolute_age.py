"""Every login path stamps the login's time in the session (``ecandidat.sessions.stamp_on_login`` on
``user_logged_in``), from which the session lasts SESSION_ABSOLUTE_AGE at most: the password login, the ENT over
OpenID Connect and over CAS (a candidate's and a staff member's), and the back office's login (allauth's page, then
the authenticator app's code). Without the stamp, a session would be treated as one of before the limit and
stamped at its next request only."""

import time

import pytest
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from allauth.socialaccount.models import SocialAccount
from django.urls import reverse

from accounts.tests.ent import cas_return, oidc_callback_state
from accounts.tests.factories import StaffFactory
from accounts.tests.mfa import totp_code
from accounts.tests.personas import PASSWORD
from ecandidat.sessions import LOGGED_IN_AT_KEY, REFRESHED_AT_KEY

LOGIN = reverse("account_login")
ADMIN = reverse("admin:index")


@pytest.fixture
def started():
    return int(time.time())


def _assert_stamped(client, user, started: int) -> None:
    session = client.session
    assert session["_auth_user_id"] == str(user.pk)
    assert started <= session[LOGGED_IN_AT_KEY] <= int(time.time())


def test_the_password_login_stamps_the_session(client, candidate_user, started):
    response = client.post(LOGIN, {"login": candidate_user.username, "password": PASSWORD})

    assert response.status_code == 302
    _assert_stamped(client, candidate_user, started)


def test_the_ent_login_over_openid_connect_stamps_the_session(client, oidc_ent, ent_candidate, mocker, started):
    state = oidc_callback_state(client, mocker, {"sub": "lucas.bernard", "email": ent_candidate.email})

    client.get("/accounts/oidc/ent/login/callback/", {"code": "c", "state": state})

    _assert_stamped(client, ent_candidate, started)


def test_the_ent_login_over_cas_stamps_the_session(client, cas_ent, ent_candidate, started):
    cas_ent.return_value = ("lucas.bernard", {"mail": [ent_candidate.email]}, None)

    client.get(reverse("accounts:cas_callback"), cas_return(client, "ST-1"))

    _assert_stamped(client, ent_candidate, started)


def test_a_staff_login_over_cas_stamps_the_session(client, cas_ent, campaign, started):
    staff = StaffFactory(username="sophie.gestion")
    SocialAccount.objects.create(user=staff, provider="ent", uid="sophie.gestion")
    cas_ent.return_value = ("sophie.gestion", {"mail": ["sophie.gestion@univ-perp.fr"]}, None)

    response = client.get(reverse("accounts:cas_callback"), cas_return(client, "ST-1", next_url=ADMIN))

    assert response.url == ADMIN
    _assert_stamped(client, staff, started)


def test_the_back_office_login_with_its_second_factor_stamps_the_session(client, centre_manager, settings, started):
    settings.STAFF_MFA_REQUIRED = True
    secret = generate_totp_secret()
    TOTP.activate(centre_manager, secret)
    to_login = client.get(ADMIN)
    to_login_page = client.get(to_login.url)  # the admin's login: allauth's page

    response = client.post(to_login_page.url, {"login": "gestionnaire", "password": PASSWORD})
    assert response.url == reverse("mfa_authenticate")
    assert LOGGED_IN_AT_KEY not in client.session  # the password alone logs nobody in
    response = client.post(reverse("mfa_authenticate"), {"code": totp_code(secret)})

    assert response.url == ADMIN
    _assert_stamped(client, centre_manager, started)
    assert client.get(ADMIN).status_code == 200


def test_after_the_limit_logging_in_again_opens_a_new_full_session(client, candidate_user, settings):
    client.post(LOGIN, {"login": candidate_user.username, "password": PASSWORD})
    session = client.session
    session[LOGGED_IN_AT_KEY] = session[REFRESHED_AT_KEY] = int(time.time()) - settings.SESSION_ABSOLUTE_AGE
    session.save()
    assert client.get(reverse("applications:start")).url.startswith(LOGIN)  # ended

    client.post(LOGIN, {"login": candidate_user.username, "password": PASSWORD})
    response = client.get(reverse("home"))

    assert response.wsgi_request.user == candidate_user
    left = int(response.content.decode().split('data-session-age="')[1].split('"')[0])
    assert settings.SESSION_COOKIE_AGE - 5 <= left <= settings.SESSION_COOKIE_AGE  # the idle timeout, whole again
