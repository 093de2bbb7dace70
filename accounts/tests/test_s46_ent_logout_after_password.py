"""Logging out at the ENT still ends the ecandidat session after « Définir un mot de passe » or « Modifier mon mot de
passe » in a session opened through the ENT: both give the session a new key (Django's ``update_session_auth_hash``),
which deleted the old session's ``EntSession`` rows (OpenID Connect back-channel logout) and left django-cas-ng's
``SessionTicket`` on the old key (CAS single logout). The ties now follow the new key."""

import re

import pytest
import requests
import responses
from allauth.socialaccount.models import SocialAccount
from cas import CASClientV3
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse
from django_cas_ng.models import SessionTicket

from accounts import cas
from accounts.models import EntSession
from accounts.tests.ent import cas_return, ent_providers, oidc_login
from accounts.tests.ent_logout import (
    CLIENT_ID,
    CONFIG,
    DISCOVERY,
    ENT,
    JWKS_URI,
    KEY,
    KID,
    LOGOUT_REQUEST,
    URL,
    cas_login,
)
from accounts.tests.ent_logout import jwks as _jwks
from accounts.tests.ent_logout import logout_token as _token
from accounts.tests.ent_logout import stubbed_oidc_login as _ent_login
from accounts.tests.factories import CandidateUserFactory
from accounts.tests.personas import PASSWORD

SET_PASSWORD = reverse("accounts:password_set")
CHANGE_PASSWORD = reverse("account_change_password")
PRIVATE = reverse("accounts:email_change")
NEW = "un-nouveau-mot-de-passe-2026"
CALLBACK = reverse("accounts:cas_callback")


@pytest.fixture
def ent_http(settings):
    """The ENT over OpenID Connect, its discovery document and keys over HTTP (as test_ent_backchannel_logout's)."""
    settings.ENT_PROTOCOL = "oidc"
    settings.ENT_SERVER_URL = ENT
    settings.SOCIALACCOUNT_PROVIDERS = ent_providers(ENT, client_id=CLIENT_ID, pkce=True)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mocked:
        mocked.get(DISCOVERY, json=CONFIG)
        mocked.get(JWKS_URI, json=_jwks((KEY, KID)))
        yield mocked


@pytest.fixture
def ent_only_student(campaign):
    """An account created through the ENT (identity ``lucas.bernard``), no password."""
    student = CandidateUserFactory(campaign=campaign, email="lucas.bernard@etudiant.univ-perp.fr")
    student.set_unusable_password()
    student.save()
    SocialAccount.objects.create(user=student, provider="ent", uid="lucas.bernard")
    return student


@pytest.fixture
def ent_student_with_password(campaign):
    """An ENT identity whose account has a password too (``PASSWORD``)."""
    student = CandidateUserFactory(campaign=campaign, email="lucas.bernard@etudiant.univ-perp.fr")
    SocialAccount.objects.create(user=student, provider="ent", uid="lucas.bernard")
    return student


def _signed_out(browser: Client) -> bool:
    response = browser.get(PRIVATE)
    return response.status_code == 302 and response["Location"].startswith(reverse("account_login"))


# --- OpenID Connect: the back-channel logout ---


def test_oidc_after_setting_a_password_the_ent_logout_still_ends_the_session(
    client, ent_http, ent_only_student, mocker, django_assert_num_queries
):
    _ent_login(client, mocker, sid="ent-session-1")
    old_key = client.session.session_key

    # session, account, savepoint; the service (savepoint, lock, password, history row, release); the new session key
    # (exists? savepoint, insert, release), the old one read and deleted; the ENT tie on the new key (expired rows,
    # insert); release; the session saved (savepoint, update, release)
    with django_assert_num_queries(20):
        response = client.post(SET_PASSWORD, {"password1": NEW, "password2": NEW})

    assert response.status_code == 302
    new_key = client.session.session_key
    assert new_key != old_key
    row = EntSession.objects.get()
    assert (row.session_id, row.sid, row.sub) == (new_key, "ent-session-1", "lucas.bernard")
    assert not _signed_out(client)

    assert Client().post(URL, {"logout_token": _token()}).status_code == 200

    assert not Session.objects.filter(session_key=new_key).exists()
    assert _signed_out(client)


def test_oidc_after_changing_the_password_the_ent_logout_still_ends_the_session(
    client, ent_http, ent_student_with_password, mocker
):
    _ent_login(client, mocker, sid="ent-session-1")

    response = client.post(CHANGE_PASSWORD, {"oldpassword": PASSWORD, "password1": NEW, "password2": NEW})

    assert response.status_code == 302
    assert EntSession.objects.get().session_id == client.session.session_key
    assert not _signed_out(client)
    assert Client().post(URL, {"logout_token": _token(sid="", drop=("sid",))}).status_code == 200  # the sub alone
    assert _signed_out(client)


def test_a_password_login_changing_its_password_is_tied_to_nothing(ent_http, client, ent_student_with_password):
    client.force_login(ent_student_with_password)

    client.post(CHANGE_PASSWORD, {"oldpassword": PASSWORD, "password1": NEW, "password2": NEW})

    assert not EntSession.objects.exists()
    assert not SessionTicket.objects.exists()


# --- CAS: the single logout ---


def _cas_login(client: Client, cas_ent, uid: str = "lucas.bernard", ticket: str = "ST-1") -> None:
    cas_ent.return_value = (uid, {"mail": [f"{uid}@etudiant.univ-perp.fr"]}, None)
    client.get(CALLBACK, cas_return(client, ticket))
    assert client.session["_auth_user_id"]


def _cas_logout_request(ticket: str = "ST-1"):
    """The CAS server's single logout, read by python-cas's own parser (the rest of the CAS client is stubbed)."""
    cas.get_cas_client.return_value.get_saml_slos = CASClientV3.get_saml_slos
    return Client().post(CALLBACK, {"logoutRequest": LOGOUT_REQUEST.format(ticket=ticket)})


def test_cas_after_setting_a_password_the_single_logout_still_ends_the_session(
    client, cas_ent, ent_only_student, django_assert_num_queries
):
    _cas_login(client, cas_ent)
    old_key = client.session.session_key

    # as with OpenID Connect, the ENT tie being the service ticket's row, moved to the new key (one update)
    with django_assert_num_queries(19):
        response = client.post(SET_PASSWORD, {"password1": NEW, "password2": NEW})

    assert response.status_code == 302
    assert client.session.session_key != old_key
    assert SessionTicket.objects.get().session_key == client.session.session_key
    assert not _signed_out(client)

    assert _cas_logout_request().status_code == 200

    assert _signed_out(client)


def test_cas_after_changing_the_password_the_single_logout_still_ends_the_session(
    client, cas_ent, ent_student_with_password
):
    _cas_login(client, cas_ent)

    client.post(CHANGE_PASSWORD, {"oldpassword": PASSWORD, "password1": NEW, "password2": NEW})

    assert not _signed_out(client)
    _cas_logout_request()
    assert _signed_out(client)


# --- over real sockets: the live server and the development ENT process ---


def _set_password_over_http(browser: requests.Session, app: str) -> requests.Response:
    page = f"{app}{SET_PASSWORD}"
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', browser.get(page, timeout=10).text).group(1)
    return browser.post(
        page,
        data={"csrfmiddlewaretoken": token, "password1": NEW, "password2": NEW},
        headers={"Referer": page},
        allow_redirects=False,
        timeout=10,
    )


def _private_over_http(browser: requests.Session, app: str) -> int:
    return browser.get(f"{app}{PRIVATE}", allow_redirects=False, timeout=10).status_code


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_over_http_oidc_a_password_set_then_the_ent_logout_ends_the_session(oidc_app, ent_server, ent_only_student):
    browser = requests.Session()
    assert oidc_login(oidc_app, "lucas.bernard", session=browser).status_code == 200
    assert _set_password_over_http(browser, oidc_app).status_code == 302
    assert _private_over_http(browser, oidc_app) == 200

    home = f"{ent_server.base_url}/"
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', browser.get(home, timeout=10).text).group(1)
    browser.post(
        f"{ent_server.base_url}/accounts/logout/",
        data={"csrfmiddlewaretoken": token},
        headers={"Referer": home},
        allow_redirects=False,
        timeout=10,
    )

    assert _private_over_http(browser, oidc_app) == 302


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_over_http_cas_a_password_set_then_the_ent_logout_ends_the_session(
    live_server, ent_server, settings, ent_only_student
):
    settings.ENT_PROTOCOL = "cas"
    settings.ENT_SERVER_URL = f"{ent_server.base_url}/cas"
    settings.CAS_SERVER_URL = f"{ent_server.base_url}/cas/"
    settings.SOCIALACCOUNT_PROVIDERS = ent_providers(ent_server.base_url)
    browser, _, response = cas_login(live_server, "lucas.bernard")
    assert "/accounts/login/" not in response.url
    assert _set_password_over_http(browser, live_server.url).status_code == 302
    assert _private_over_http(browser, live_server.url) == 200

    # the ENT's own logout: the CAS server posts its logoutRequest to our callback
    assert browser.get(f"{settings.ENT_SERVER_URL}/logout", allow_redirects=False, timeout=10).status_code == 302

    assert _private_over_http(browser, live_server.url) == 302
