"""Every completed login is written to the account's history in the back office, by its owner, with how it was made
(accounts.services.record_login, called once from AccountAdapter.post_login): a password (with a second factor for
staff), the ENT over OpenID Connect, the ENT over CAS. A failed or refused login writes nothing (the log says it)."""

import logging

from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django.contrib.admin.models import LogEntry
from django.urls import reverse

from accounts.enums import LoginMethod
from accounts.models import User
from accounts.services import record_login
from accounts.tests.ent import cas_return, oidc_callback_state
from accounts.tests.factories import CandidateUserFactory
from accounts.tests.mfa import totp_code
from accounts.tests.personas import PASSWORD

LOGIN = reverse("account_login")
ADMIN = reverse("admin:index")


def _history(user: User) -> list[tuple[int, str, str]]:
    """The account's history lines: (actor, content type's model, message), oldest first."""
    return [
        (entry.user_id, entry.content_type.model, entry.change_message)
        for entry in LogEntry.objects.filter(object_id=str(user.pk)).select_related("content_type").order_by("pk")
    ]


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
    client, oidc_ent, ent_candidate, mocker, django_assert_num_queries
):
    state = oidc_callback_state(client, mocker, {"sub": "lucas.bernard", "email": ent_candidate.email})

    # As test_ent_logout counts it: allauth's login (30), the back-channel logout's table (2), the history (2).
    with django_assert_num_queries(34):
        response = client.get("/accounts/oidc/ent/login/callback/", {"code": "c", "state": state})

    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(ent_candidate.pk)
    assert _history(ent_candidate) == [(ent_candidate.pk, "candidateaccount", "Connexion par l'ENT (OpenID Connect)")]


def test_a_failed_ent_login_over_openid_connect_writes_nothing_and_is_logged(
    client, oidc_ent, ent_candidate, mocker, caplog, django_assert_num_queries
):
    oidc_callback_state(client, mocker, {"sub": "lucas.bernard", "email": ent_candidate.email})

    # session, the app (in a savepoint), the session saved (3): nothing about the account
    with caplog.at_level(logging.WARNING, logger="accounts.adapters"), django_assert_num_queries(7):
        response = client.get("/accounts/oidc/ent/login/callback/", {"code": "c", "state": "forged"})

    assert response.status_code == 302  # back to the login page, with a message (test_sso_hostile_callbacks.py)
    assert response["Location"] == reverse("account_login")
    assert "_auth_user_id" not in client.session
    assert not LogEntry.objects.exists()
    assert "ENT login failed (OpenID Connect, ent)" in caplog.text


def test_a_refused_ent_login_writes_nothing(client, oidc_ent, ent_candidate, mocker, settings):
    settings.ENT_CANDIDATE_LOGIN = False  # candidates no longer log in through the ENT
    state = oidc_callback_state(client, mocker, {"sub": "lucas.bernard", "email": ent_candidate.email})

    response = client.get("/accounts/oidc/ent/login/callback/", {"code": "c", "state": state})

    assert response.url == LOGIN
    assert not LogEntry.objects.exists()


# --- The ENT over CAS ---


def test_an_ent_login_over_cas_is_written_to_the_history(client, cas_ent, ent_candidate, django_assert_num_queries):
    cas_ent.return_value = ("lucas.bernard", {"mail": [ent_candidate.email]}, None)

    # Staff account of that uid?, site, app, identity and its account (read, last_login stamped), campaign open?,
    # account?, address validated?, authenticator?, the new session (4), last_login, SIS dossier (3), the session
    # saved (3), the CAS ticket row, the history (content type, row), the session saved again (3), the pair; the
    # session of the browser that pressed the ENT button read (1), its old row read and deleted at the login (2).
    back = cas_return(client, "ST-1")
    with django_assert_num_queries(32):
        response = client.get(reverse("accounts:cas_callback"), back)

    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(ent_candidate.pk)
    assert _history(ent_candidate) == [(ent_candidate.pk, "candidateaccount", "Connexion par l'ENT (CAS)")]


def test_a_ticket_the_cas_server_refuses_writes_nothing(client, cas_ent, ent_candidate):
    cas_ent.return_value = (None, None, None)

    response = client.get(reverse("accounts:cas_callback"), cas_return(client, "ST-forged"))

    assert response.url == LOGIN
    assert not LogEntry.objects.exists()


# --- What the back office shows ---


def test_the_candidate_accounts_history_shows_the_logins_in_french(
    client, central_manager, ent_candidate, django_assert_num_queries
):
    for method in (LoginMethod.PASSWORD, LoginMethod.ENT_OIDC, LoginMethod.ENT_CAS):
        record_login(user=ent_candidate, method=method)
    client.force_login(central_manager)
    url = reverse("admin:accounts_candidateaccount_history", args=[ent_candidate.pk])

    # session, user, the scope (memberships), the account, the log's count, permissions (2), the log's lines, pair
    with django_assert_num_queries(10):
        response = client.get(url, language="fr")

    html = response.content.decode()
    assert response.status_code == 200
    assert "Connexion par mot de passe" in html
    assert "Connexion par l&#x27;ENT (OpenID Connect)" in html
    assert "Connexion par l&#x27;ENT (CAS)" in html
    assert html.count(ent_candidate.last_name) >= 3  # the actor of each line: the candidate


def test_the_staff_members_history_shows_their_logins(client, admin_user, centre_manager, django_assert_num_queries):
    record_login(user=centre_manager, method=LoginMethod.PASSWORD_AND_SECOND_FACTOR)
    record_login(user=centre_manager, method=LoginMethod.ENT_CAS)
    client.force_login(admin_user)
    url = reverse("admin:accounts_user_history", args=[centre_manager.pk])

    # session, user, the account, the log's count, the maintenance switch (the menu), the log's lines, the pair
    with django_assert_num_queries(8):
        response = client.get(url, language="fr")

    html = response.content.decode()
    assert response.status_code == 200
    assert "Connexion par mot de passe et second facteur" in html
    assert "Connexion par l&#x27;ENT (CAS)" in html
