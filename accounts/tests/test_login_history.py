"""Every completed login is written to the account's history in the back office, by its owner, with how it was made
(accounts.services.record_login, called once from AccountAdapter.post_login): a password (with a second factor for
staff), the ENT over OpenID Connect, the ENT over CAS. A failed or refused login writes nothing (the log says it)."""

import logging
from unittest.mock import PropertyMock
from urllib.parse import parse_qs, urlsplit

import pytest
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from allauth.socialaccount.models import SocialAccount
from allauth.socialaccount.providers.openid_connect.views import OpenIDConnectOAuth2Adapter
from django.contrib.admin.models import LogEntry
from django.urls import reverse

from accounts import cas
from accounts.enums import LoginMethod
from accounts.models import User
from accounts.services import record_login
from accounts.tests.ent import ent_providers
from accounts.tests.factories import CandidateUserFactory
from accounts.tests.mfa import totp_code
from accounts.tests.personas import PASSWORD

LOGIN = reverse("account_login")
ADMIN = reverse("admin:index")
ENT = "https://ent.example"
CAS = "https://cas.univ-perp.fr/cas/"
CONFIG = {
    "issuer": ENT,
    "authorization_endpoint": f"{ENT}/identity/o/authorize",
    "token_endpoint": f"{ENT}/identity/o/api/token",
    "userinfo_endpoint": f"{ENT}/identity/o/api/userinfo",
    "jwks_uri": f"{ENT}/.well-known/jwks.json",
    "id_token_signing_alg_values_supported": ["RS256"],
}


def _history(user: User) -> list[tuple[int, str, str]]:
    """The account's history lines: (actor, content type's model, message), oldest first."""
    return [
        (entry.user_id, entry.content_type.model, entry.change_message)
        for entry in LogEntry.objects.filter(object_id=str(user.pk)).select_related("content_type").order_by("pk")
    ]


@pytest.fixture
def student(campaign):
    user = CandidateUserFactory(campaign=campaign, email="lucas.bernard@etudiant.univ-perp.fr")
    SocialAccount.objects.create(user=user, provider="ent", uid="lucas.bernard")
    return user


@pytest.fixture
def oidc(settings):
    settings.ENT_PROTOCOL = "oidc"
    settings.ENT_SERVER_URL = ENT
    settings.SOCIALACCOUNT_PROVIDERS = ent_providers(ENT, client_id="ecandidat-univ", pkce=True)


@pytest.fixture
def cas_ent(settings, mocker):
    """The ENT over CAS, its server stubbed: ``verify_ticket`` answers what the test sets (``.return_value``)."""
    settings.ENT_PROTOCOL = "cas"
    settings.ENT_SERVER_URL = settings.CAS_SERVER_URL = CAS
    settings.SOCIALACCOUNT_PROVIDERS = ent_providers(CAS)  # base.py declares the "ent" app whatever the protocol
    client = mocker.Mock()
    client.get_login_url.return_value = f"{CAS}login"
    mocker.patch.object(cas, "get_cas_client", return_value=client)
    return client.verify_ticket


def _oidc_state(client, mocker, claims: dict) -> str:
    """The ENT button through allauth's OpenID Connect view, the ENT's answers stubbed; the state to come back with."""
    mocker.patch.object(OpenIDConnectOAuth2Adapter, "openid_config", new_callable=PropertyMock, return_value=CONFIG)
    tokens = {"access_token": "at", "token_type": "Bearer", "id_token": "eyJ.eyJ.c2ln"}
    mocker.patch.object(OpenIDConnectOAuth2Adapter, "get_access_token_data", return_value=tokens)
    mocker.patch.object(OpenIDConnectOAuth2Adapter, "_fetch_user_info", return_value=claims)
    mocker.patch.object(OpenIDConnectOAuth2Adapter, "_decode_id_token", return_value=claims)
    to_ent = client.post(reverse("openid_connect_login", args=["ent"]))
    return parse_qs(urlsplit(to_ent["Location"]).query)["state"][0]


# --- Password ---


def test_a_password_login_is_written_to_the_candidate_accounts_history(
    client, candidate_user, django_assert_num_queries
):
    # The login (site, user, campaign open?, address validated?, authenticator?), the new session (key free?, insert
    # in its savepoint), last_login, the dossier opened from the SIS (in its savepoint), the history: content type
    # (cached per process) and row; the session saved at the end (savepoint, update, release); the request's pair.
    with django_assert_num_queries(20):
        response = client.post(LOGIN, {"login": candidate_user.username, "password": PASSWORD})

    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(candidate_user.pk)
    assert _history(candidate_user) == [(candidate_user.pk, "candidateaccount", "Connexion par mot de passe")]


def test_a_wrong_password_writes_nothing(client, candidate_user):
    response = client.post(LOGIN, {"login": candidate_user.username, "password": "mauvais"})

    assert response.status_code == 200
    assert not LogEntry.objects.exists()


def test_a_login_stopped_for_the_address_to_validate_writes_nothing(client, campaign):
    user = CandidateUserFactory(campaign=campaign, verified_email=False)

    client.post(LOGIN, {"login": user.username, "password": PASSWORD})

    assert "_auth_user_id" not in client.session
    assert not LogEntry.objects.exists()


def test_staff_password_and_code_are_written_to_the_staff_members_history_once(
    client, centre_manager, django_assert_num_queries
):
    secret = generate_totp_secret()
    TOTP.activate(centre_manager, secret)
    RecoveryCodes.activate(centre_manager)
    client.post(f"{LOGIN}?next={ADMIN}", {"login": "gestionnaire", "password": PASSWORD})
    assert not LogEntry.objects.exists()  # the password alone logs no one in

    # session, user, the code checked (app active?, the app, last used), the new session (key, insert in its
    # savepoint, the old one deleted), last_login, the history (content type, row), the session saved (3), the pair
    with django_assert_num_queries(19):
        response = client.post(reverse("mfa_authenticate"), {"code": totp_code(secret)})

    assert response.url == ADMIN
    assert _history(centre_manager) == [(centre_manager.pk, "user", "Connexion par mot de passe et second facteur")]


# --- The ENT over OpenID Connect ---


def test_an_ent_login_over_openid_connect_is_written_to_the_history(
    client, oidc, student, mocker, django_assert_num_queries
):
    state = _oidc_state(client, mocker, {"sub": "lucas.bernard", "email": student.email})

    # As test_ent_logout counts it: allauth's login (30), the back-channel logout's table (2), the history (2).
    with django_assert_num_queries(34):
        response = client.get("/accounts/oidc/ent/login/callback/", {"code": "c", "state": state})

    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(student.pk)
    assert _history(student) == [(student.pk, "candidateaccount", "Connexion par l'ENT (OpenID Connect)")]


def test_a_failed_ent_login_over_openid_connect_writes_nothing_and_is_logged(
    client, oidc, student, mocker, caplog, django_assert_num_queries
):
    _oidc_state(client, mocker, {"sub": "lucas.bernard", "email": student.email})

    # session, the app (in a savepoint), the session saved (3): nothing about the account
    with caplog.at_level(logging.WARNING, logger="accounts.adapters"), django_assert_num_queries(7):
        response = client.get("/accounts/oidc/ent/login/callback/", {"code": "c", "state": "forged"})

    assert response.status_code == 401  # allauth's error page
    assert "_auth_user_id" not in client.session
    assert not LogEntry.objects.exists()
    assert "ENT login failed (OpenID Connect, ent)" in caplog.text


def test_a_refused_ent_login_writes_nothing(client, oidc, student, mocker, settings):
    settings.ENT_CANDIDATE_LOGIN = False  # candidates no longer log in through the ENT
    state = _oidc_state(client, mocker, {"sub": "lucas.bernard", "email": student.email})

    response = client.get("/accounts/oidc/ent/login/callback/", {"code": "c", "state": state})

    assert response.url == LOGIN
    assert not LogEntry.objects.exists()


# --- The ENT over CAS ---


def test_an_ent_login_over_cas_is_written_to_the_history(client, cas_ent, student, django_assert_num_queries):
    cas_ent.return_value = ("lucas.bernard", {"mail": [student.email]}, None)

    # Staff account of that uid?, site, app, identity and its account (read, last_login stamped), campaign open?,
    # account?, address validated?, authenticator?, the new session (4), last_login, SIS dossier (3), the session
    # saved (3), the CAS ticket row, the history (content type, row), the session saved again (3), the pair.
    with django_assert_num_queries(29):
        response = client.get(reverse("accounts:cas_callback"), {"ticket": "ST-1"})

    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(student.pk)
    assert _history(student) == [(student.pk, "candidateaccount", "Connexion par l'ENT (CAS)")]


def test_a_ticket_the_cas_server_refuses_writes_nothing(client, cas_ent, student):
    cas_ent.return_value = (None, None, None)

    response = client.get(reverse("accounts:cas_callback"), {"ticket": "ST-forged"})

    assert response.url == LOGIN
    assert not LogEntry.objects.exists()


# --- What the back office shows ---


def test_the_candidate_accounts_history_shows_the_logins_in_french(
    client, central_manager, student, django_assert_num_queries
):
    for method in (LoginMethod.PASSWORD, LoginMethod.ENT_OIDC, LoginMethod.ENT_CAS):
        record_login(user=student, method=method)
    client.force_login(central_manager)
    url = reverse("admin:accounts_candidateaccount_history", args=[student.pk])

    # session, user, the scope (memberships), the account, the log's count, permissions (2), the log's lines, pair
    with django_assert_num_queries(10):
        response = client.get(url, language="fr")

    html = response.content.decode()
    assert response.status_code == 200
    assert "Connexion par mot de passe" in html
    assert "Connexion par l&#x27;ENT (OpenID Connect)" in html
    assert "Connexion par l&#x27;ENT (CAS)" in html
    assert html.count(student.last_name) >= 3  # the actor of each line: the candidate
