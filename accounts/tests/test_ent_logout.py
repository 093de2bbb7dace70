"""Logging out after an ENT login over OpenID Connect also ends the ENT session (RP-Initiated Logout 1.0,
accounts/oidc.py): the redirect to the ENT's end_session_endpoint, the local logout of everyone else, and, at the end,
the real thing against the development ENT process."""

import re
from unittest.mock import PropertyMock
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
import requests
from allauth.socialaccount.models import SocialAccount
from allauth.socialaccount.providers.openid_connect.views import OpenIDConnectOAuth2Adapter
from django.urls import reverse

from accounts import oidc
from accounts.tests.ent import ent_providers, oidc_login
from accounts.tests.factories import CandidateUserFactory

ENT = "https://ent.example"
END_SESSION = f"{ENT}/identity/o/logout"
CONFIG = {
    "issuer": ENT,
    "authorization_endpoint": f"{ENT}/identity/o/authorize",
    "token_endpoint": f"{ENT}/identity/o/api/token",
    "userinfo_endpoint": f"{ENT}/identity/o/api/userinfo",
    "jwks_uri": f"{ENT}/.well-known/jwks.json",
    "end_session_endpoint": END_SESSION,
    "token_endpoint_auth_methods_supported": ["client_secret_post"],
}
ID_TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJsdWNhcy5iZXJuYXJkIn0.c2lnbmF0dXJl"  # the ENT's, as the callback got it
LOGOUT = reverse("account_logout")
HOME = "http://testserver/"


@pytest.fixture
def ent(settings):
    settings.ENT_PROTOCOL = "oidc"
    settings.ENT_SERVER_URL = ENT
    settings.SOCIALACCOUNT_PROVIDERS = ent_providers(ENT, client_id="ecandidat-univ", pkce=True)


@pytest.fixture
def student(campaign):
    user = CandidateUserFactory(campaign=campaign, email="lucas.bernard@etudiant.univ-perp.fr")
    SocialAccount.objects.create(user=user, provider="ent", uid="lucas.bernard")
    return user


def _ent_login(client, mocker, *, config=None, id_token=ID_TOKEN, uid="lucas.bernard", assert_queries=None):
    """The ENT button and the ENT's return through allauth's OpenID Connect views, the ENT's answers stubbed: its
    discovery document (``config``), its token endpoint (``id_token``), the verified claims."""
    claims = {"sub": uid, "email": f"{uid}@etudiant.univ-perp.fr"}
    mocker.patch.object(OpenIDConnectOAuth2Adapter, "openid_config", new_callable=PropertyMock, return_value=config)
    tokens = {"access_token": "at", "token_type": "Bearer"} | ({"id_token": id_token} if id_token else {})
    mocker.patch.object(OpenIDConnectOAuth2Adapter, "get_access_token_data", return_value=tokens)
    mocker.patch.object(OpenIDConnectOAuth2Adapter, "_fetch_user_info", return_value=claims)
    mocker.patch.object(OpenIDConnectOAuth2Adapter, "_decode_id_token", return_value=claims)
    to_ent = client.post(reverse("openid_connect_login", args=["ent"]))
    assert to_ent["Location"].startswith(CONFIG["authorization_endpoint"])
    state = parse_qs(urlsplit(to_ent["Location"]).query)["state"][0]
    if assert_queries is None:
        return client.get("/accounts/oidc/ent/login/callback/", {"code": "c", "state": state})
    with assert_queries:
        return client.get("/accounts/oidc/ent/login/callback/", {"code": "c", "state": state})


def _logout(client, django_assert_num_queries, queries: int):
    with django_assert_num_queries(queries):
        return client.post(LOGOUT)


def test_after_an_ent_login_logout_sends_the_browser_to_the_ents_end_session_endpoint(
    client, ent, student, mocker, django_assert_num_queries
):
    # The callback: allauth's login, 30 queries as with allauth's own callback view (the logout data rides in the
    # session row the login writes anyway), 2 for the back-channel logout: the rows of expired sessions deleted,
    # this session's sid and sub written (accounts/oidc_backchannel.py), and 2 for the account's history: the content
    # type (cached per process), the line « Connexion par l'ENT (OpenID Connect) » (accounts.services.record_login).
    back = _ent_login(client, mocker, config=CONFIG, assert_queries=django_assert_num_queries(34))
    assert back.status_code == 302
    assert client.session["_auth_user_id"] == str(student.pk)

    # Session, user, then the session's row deleted (savepoint, select, delete, release): the ENT's address and the ID
    # token come from the session, nothing is fetched.
    response = _logout(client, django_assert_num_queries, 6)

    assert response.status_code == 302
    location = urlsplit(response["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == END_SESSION
    assert parse_qs(location.query) == {
        "client_id": ["ecandidat-univ"],  # the ENT app's client_id
        "post_logout_redirect_uri": [HOME],  # LOGOUT_REDIRECT_URL, absolute: registered with the ENT
        "id_token_hint": [ID_TOKEN],
    }
    assert "_auth_user_id" not in client.session  # logged out of ecandidat all the same
    assert oidc.SESSION_LOGOUT not in client.session


def test_the_id_token_is_kept_in_the_session_only(client, ent, student, mocker):
    _ent_login(client, mocker, config=CONFIG)

    assert client.session[oidc.SESSION_LOGOUT]["id_token"] == ID_TOKEN
    account = SocialAccount.objects.get(user=student)
    assert ID_TOKEN not in str(account.extra_data)
    assert not account.socialtoken_set.exists()  # SOCIALACCOUNT_STORE_TOKENS stays off


def test_an_ent_without_an_id_token_still_gets_client_id_and_the_return_address(client, ent, student, mocker):
    _ent_login(client, mocker, config=CONFIG, id_token=None)

    response = client.post(LOGOUT)

    query = parse_qs(urlsplit(response["Location"]).query)
    assert query == {"client_id": ["ecandidat-univ"], "post_logout_redirect_uri": [HOME]}


def test_an_ent_without_end_session_endpoint_logs_out_locally(client, ent, student, mocker, django_assert_num_queries):
    config = {key: value for key, value in CONFIG.items() if key != "end_session_endpoint"}
    _ent_login(client, mocker, config=config)
    assert client.session["_auth_user_id"] == str(student.pk)

    response = _logout(client, django_assert_num_queries, 6)

    assert response["Location"] == "/"
    assert "_auth_user_id" not in client.session


def test_a_password_login_logs_out_locally(client, ent, campaign, django_assert_num_queries):
    user = CandidateUserFactory(campaign=campaign)
    user.set_password("a-long-passphrase-2026")
    user.save()
    client.post(reverse("account_login"), {"login": user.username, "password": "a-long-passphrase-2026"})
    assert client.session["_auth_user_id"] == str(user.pk)

    response = _logout(client, django_assert_num_queries, 6)

    assert response["Location"] == "/"


def test_a_password_login_after_an_abandoned_ent_login_logs_out_locally(client, ent, campaign, mocker):
    """Someone's ENT return left its logout data in this browser's session (the "Création de compte" form not sent);
    the next person logs in with a password: their logout is theirs, local."""
    _ent_login(client, mocker, config=CONFIG, uid="estelle.martin")  # a new student: the signup form, no login
    assert oidc.SESSION_LOGOUT in client.session
    user = CandidateUserFactory(campaign=campaign)
    user.set_password("a-long-passphrase-2026")
    user.save()
    client.post(reverse("account_login"), {"login": user.username, "password": "a-long-passphrase-2026"})
    assert client.session["_auth_user_id"] == str(user.pk)

    response = client.post(LOGOUT)

    assert response["Location"] == "/"


def test_with_cas_the_openid_connect_logout_stays_out_of_the_way(client, ent, student, mocker, settings):
    _ent_login(client, mocker, config=CONFIG)
    settings.ENT_PROTOCOL = "cas"  # the protocol switched since (no CAS ticket in this session)

    response = client.post(LOGOUT)

    assert response["Location"] == "/"


def test_logging_out_still_needs_a_post(client, ent, student, mocker, django_assert_num_queries):
    _ent_login(client, mocker, config=CONFIG)

    with django_assert_num_queries(4):  # session, user, the confirmation page (savepoint, site, release)
        response = client.get(LOGOUT)

    assert response.status_code == 200
    assert client.session["_auth_user_id"] == str(student.pk)
    assert oidc.SESSION_LOGOUT in client.session


def test_the_callback_of_an_unknown_app_is_a_404(client, db, ent, django_assert_num_queries):
    with django_assert_num_queries(5):  # the app looked up (site, database apps) inside a rolled-back savepoint
        response = client.get("/accounts/oidc/other/login/callback/", {"code": "c", "state": "s"})

    assert response.status_code == 404


# --- over real sockets: the live server and the development ENT process ---


def _csrf(session: requests.Session, url: str) -> str:
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', session.get(url, timeout=10).text).group(1)


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_logging_out_of_ecandidat_ends_the_ent_session(oidc_app, ent_server, campaign):
    user = CandidateUserFactory(campaign=campaign, email="lucas.bernard@etudiant.univ-perp.fr")
    SocialAccount.objects.create(user=user, provider="ent", uid="lucas.bernard")
    session = requests.Session()
    logged_in = oidc_login(oidc_app, "lucas.bernard", session=session)
    assert logged_in.status_code == 200
    private = f"{oidc_app}/candidat/informations-perso/"
    assert session.get(private, allow_redirects=False, timeout=10).status_code == 200
    page = f"{oidc_app}{LOGOUT}"

    response = session.post(
        page, data={"csrfmiddlewaretoken": _csrf(session, page)}, headers={"Referer": page}, allow_redirects=False
    )

    end_session = requests.get(ent_server.discovery_url, timeout=10).json()["end_session_endpoint"]
    assert response.headers["Location"].startswith(f"{end_session}?")
    back = session.get(response.headers["Location"], allow_redirects=False, timeout=10)
    assert back.headers["Location"] == f"{oidc_app}/"  # the ENT ended its session and sent the browser home
    assert session.get(private, allow_redirects=False, timeout=10).status_code == 302
    # The next « Se connecter avec l'ENT » asks for the ENT password again.
    to_ent = _log_in_with_the_ent_again(session, oidc_app)
    assert urljoin(ent_server.base_url, "/accounts/login/") in to_ent.url
    assert 'name="password"' in to_ent.text


def _log_in_with_the_ent_again(session, oidc_app):
    """« Se connecter avec l'ENT » on the login page, following the redirects."""
    login_page = f"{oidc_app}{reverse('account_login')}"
    return session.post(
        f"{oidc_app}/accounts/oidc/ent/login/",
        data={"csrfmiddlewaretoken": _csrf(session, login_page)},
        headers={"Referer": login_page},
        timeout=10,
    )


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_without_logging_out_the_ent_session_lets_the_next_login_straight_in(oidc_app, campaign):
    """What the test above guards against: the ENT remembers the student, no password asked."""
    user = CandidateUserFactory(campaign=campaign, email="lucas.bernard@etudiant.univ-perp.fr")
    SocialAccount.objects.create(user=user, provider="ent", uid="lucas.bernard")
    session = requests.Session()
    oidc_login(oidc_app, "lucas.bernard", session=session)

    again = _log_in_with_the_ent_again(session, oidc_app)

    assert again.url.startswith(oidc_app)
    assert 'name="password"' not in again.text
