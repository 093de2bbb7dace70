"""SITE_URL in production (ecandidat.E004, ecandidat/checks.py): every link of the mails sent outside a request (the
password-set link of an account the helpdesk creates, ``${site_url}``, recap, back office and letter links) is built
on it, and its default is the developer's http://localhost:8000. ``check --deploy`` (the unit's ExecStartPre,
compose's ``migrate``) said nothing: the candidates' links pointed to their own machine."""

import secrets

import pytest
from django.core.checks import Error
from django.core.checks.registry import registry
from django.test import override_settings

from ecandidat.checks import check_site_url
from ecandidat.tests.helpers import PRODUCTION_ENV, manage


@pytest.fixture
def production(monkeypatch):
    """The checks' production: under override_settings Django answers SETTINGS_MODULE = None, and the process's
    settings module is read from the environment (ecandidat.checks.is_production)."""
    monkeypatch.setenv("DJANGO_SETTINGS_MODULE", "ecandidat.settings.base")


@pytest.mark.parametrize(
    "site_url",
    [
        "http://localhost:8000",  # the default
        "https://localhost",
        "http://LOCALHOST.:8000",
        "https://ecandidat.localhost",
        "http://127.0.0.1:8000",
        "https://127.0.1.1",
        "http://[::1]:8000",
        "http://0.0.0.0:8000",
    ],
)
def test_a_loopback_site_url_is_an_error_in_production(production, site_url):
    with override_settings(SITE_URL=site_url, SECURE_SSL_REDIRECT=False):
        errors = check_site_url(None)

    assert [error.id for error in errors] == ["ecandidat.E004"]
    assert isinstance(errors[0], Error)
    assert "own machine" in errors[0].msg
    assert "SITE_URL=https://" in errors[0].hint


@pytest.mark.parametrize("site_url", ["ecandidat.univ.fr", "ftp://ecandidat.univ.fr", "https://", ""])
def test_a_site_url_that_is_not_an_absolute_http_address_is_an_error(production, site_url):
    with override_settings(SITE_URL=site_url):
        errors = check_site_url(None)

    assert [error.id for error in errors] == ["ecandidat.E004"]
    assert "not an absolute http(s) address" in errors[0].msg


def test_an_http_site_url_is_an_error_while_every_request_is_redirected_to_https(production):
    with override_settings(SITE_URL="http://ecandidat.univ.fr", SECURE_SSL_REDIRECT=True):
        errors = check_site_url(None)

    assert [error.id for error in errors] == ["ecandidat.E004"]
    assert "SECURE_SSL_REDIRECT" in errors[0].msg


@pytest.mark.parametrize(
    ("site_url", "ssl_redirect"),
    [
        ("https://ecandidat.univ.fr", True),
        ("https://ecandidat.univ.fr:8443", True),
        ("https://candidatures.univ-example.fr", False),
        ("http://ecandidat.univ.fr", False),  # TLS elsewhere, said by SECURE_SSL_REDIRECT=0
        ("https://10.1.2.3", True),  # an intranet address is reachable by others than the candidate's machine
    ],
)
def test_a_public_site_url_passes(production, site_url, ssl_redirect):
    with override_settings(SITE_URL=site_url, SECURE_SSL_REDIRECT=ssl_redirect):
        assert check_site_url(None) == []


def test_development_and_test_settings_keep_their_local_site_url():
    # make run's SITE_URL is http://127.0.0.1:$PORT on purpose (ecandidat/settings/dev.py); the tests run as test.
    with override_settings(SITE_URL="http://localhost:8000"):
        assert check_site_url(None) == []


def test_the_check_runs_with_check_deploy_only():
    # Like E003 (the writable folders): the service's ExecStartPre and compose's migrate run `check --deploy`.
    assert check_site_url in registry.get_checks(include_deployment_checks=True)
    assert check_site_url not in registry.get_checks(include_deployment_checks=False)


def test_check_deploy_with_production_settings_stops_on_an_unset_site_url_and_passes_with_the_public_one(tmp_path):
    production_env = {
        **{name: value for name, value in PRODUCTION_ENV.items() if name != "SITE_URL"},
        "SECRET_KEY": secrets.token_urlsafe(64),
        "CLAMD_ADDRESS": "none",
        "MEDIA_ROOT": str(tmp_path / "media"),
    }

    unset = manage("check", "--deploy", "--fail-level", "ERROR", **production_env)
    public = manage(
        "check", "--deploy", "--fail-level", "WARNING", **production_env, SITE_URL="https://ecandidat.example.org"
    )

    assert unset.returncode == 1
    assert "ecandidat.E004" in unset.stderr
    assert "SITE_URL is http://localhost:8000" in unset.stderr
    assert public.returncode == 0, public.stderr
