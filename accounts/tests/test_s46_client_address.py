"""The client address behind the shipped nginx (TRUSTED_PROXY_COUNT), and a login too long for the database.

nginx (deploy/nginx.conf.example) reaches gunicorn from 127.0.0.1 and appends the visitor's address to
X-Forwarded-For: unless the settings trust that one proxy, every per-IP limit counts the whole site as one address.
"""

import runpy

import pytest
from django.conf import settings as django_settings
from django.urls import reverse

from accounts.tests.factories import CandidateUserFactory
from accounts.tests.personas import PASSWORD

BASE_SETTINGS = django_settings.BASE_DIR / "ecandidat" / "settings" / "base.py"
NGINX = "127.0.0.1"  # the address gunicorn sees for every request nginx passes on
LOCKED = "Trop de tentatives de connexion échouées. Réessayez plus tard."
WRONG = "mauvais-mot-de-passe"


@pytest.fixture
def client(client):
    client.language = "fr"
    return client


def _production_settings(monkeypatch, **environment) -> dict:
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(BASE_SETTINGS))


@pytest.fixture
def behind_nginx(settings, monkeypatch):
    """The settings of /etc/ecandidat/env with TRUSTED_PROXY_COUNT=1, as deploy/ecandidat.service documents."""
    production = _production_settings(monkeypatch, TRUSTED_PROXY_COUNT="1")
    for name, value in production.items():
        if "TRUSTED_PROXY" in name:
            setattr(settings, name, value)


def _log_in_through_nginx(client, login, password, *, address, sent_by_client=""):
    """A login post as nginx passes it on: from 127.0.0.1, the visitor's address appended to what they sent."""
    forwarded = f"{sent_by_client}, {address}" if sent_by_client else address
    return client.post(
        reverse("account_login"),
        {"login": login, "password": password},
        REMOTE_ADDR=NGINX,
        HTTP_X_FORWARDED_FOR=forwarded,
    )


def test_the_settings_read_the_trusted_proxies_from_the_environment_and_trust_none_by_default(monkeypatch):
    assert _production_settings(monkeypatch, TRUSTED_PROXY_COUNT="1")["ALLAUTH_TRUSTED_PROXY_COUNT"] == 1
    monkeypatch.delenv("TRUSTED_PROXY_COUNT")
    assert runpy.run_path(str(BASE_SETTINGS))["ALLAUTH_TRUSTED_PROXY_COUNT"] == 0


def test_behind_nginx_thirty_candidates_typos_do_not_lock_out_a_staff_member(
    behind_nginx, client, campaign, centre_manager
):
    candidates = CandidateUserFactory.create_batch(30, campaign=campaign)
    for number, candidate in enumerate(candidates, start=1):
        response = _log_in_through_nginx(client, candidate.username, WRONG, address=f"198.51.100.{number}")
        assert response.status_code == 200
        assert LOCKED not in response.content.decode()

    response = _log_in_through_nginx(client, centre_manager.username, PASSWORD, address="203.0.113.31")

    assert response.status_code == 302
    assert LOCKED not in response.content.decode()


def test_behind_nginx_an_address_typed_into_x_forwarded_for_gives_no_fresh_counter(
    behind_nginx, client, settings, candidate_user, other_candidate_user
):
    settings.ACCOUNT_RATE_LIMITS = {**settings.ACCOUNT_RATE_LIMITS, "login_failed": "3/5m/ip,5/5m/key"}
    for number in range(3):  # each post claims another origin; nginx appends the one it saw
        _log_in_through_nginx(
            client, candidate_user.username, WRONG, address="192.0.2.50", sent_by_client=f"10.0.0.{number}"
        )

    response = _log_in_through_nginx(
        client, other_candidate_user.username, PASSWORD, address="192.0.2.50", sent_by_client="10.0.0.99"
    )

    assert LOCKED in response.content.decode()
    elsewhere = _log_in_through_nginx(client, other_candidate_user.username, PASSWORD, address="192.0.2.51")
    assert elsewhere.status_code == 302


def test_without_a_trusted_proxy_x_forwarded_for_is_ignored(client, settings, candidate_user, other_candidate_user):
    assert settings.ALLAUTH_TRUSTED_PROXY_COUNT == 0  # `make run`, gunicorn reached directly
    settings.ACCOUNT_RATE_LIMITS = {**settings.ACCOUNT_RATE_LIMITS, "login_failed": "3/5m/ip,5/5m/key"}
    for number in range(3):
        client.post(
            reverse("account_login"),
            {"login": candidate_user.username, "password": WRONG},
            REMOTE_ADDR="192.0.2.50",
            HTTP_X_FORWARDED_FOR=f"10.0.0.{number}",
        )

    spoofed = client.post(
        reverse("account_login"),
        {"login": other_candidate_user.username, "password": PASSWORD},
        REMOTE_ADDR="192.0.2.50",
        HTTP_X_FORWARDED_FOR="10.0.0.99",
    )

    assert LOCKED in spoofed.content.decode()
    assert "_auth_user_id" not in client.session


# --- A login longer than any username or address ---


@pytest.mark.parametrize("login", ["a" * 60_000, "a" * 60_000 + "@example.org"], ids=["username", "address"])
def test_a_login_too_long_is_refused_beside_the_field_without_looking_it_up(
    client, candidate_user, login, django_assert_num_queries
):
    # The site of the page (a savepoint around it), no account looked up.
    with django_assert_num_queries(3):
        response = client.post(reverse("account_login"), {"login": login, "password": WRONG})

    assert response.status_code == 200
    errors = response.context["form"].errors
    assert list(errors) == ["login"]
    assert "Assurez-vous que cette valeur comporte au plus 254 caractères" in errors["login"][0]
    assert 'maxlength="254"' in response.content.decode()


def test_an_address_of_254_characters_still_logs_in(client, campaign):
    candidate = CandidateUserFactory(campaign=campaign, email="a" * 242 + "@example.org")

    response = client.post(reverse("account_login"), {"login": candidate.email, "password": PASSWORD})

    assert response.status_code == 302
    assert LOCKED not in response.content.decode()
