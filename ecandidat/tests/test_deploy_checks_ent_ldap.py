"""The ENT and the directory over the network in production (ecandidat.W005, ecandidat.W006, ecandidat/checks.py).

``check --deploy`` accepted a plain-http ENT (``ENT_SERVER_URL``: the CAS prefix whose ticket validation names who
logs in, staff included, or the OpenID Connect issuer) and a directory read unencrypted (``ldap://`` without
``LDAP_START_TLS``: the bind password in the clear, a machine on the way answering as the directory). Both are
warnings now, which CI's ``check --deploy --fail-level WARNING`` stage turns into a stop; the development and test
settings (the development ENT on http://127.0.0.1, the slapd peer on ldap://127.0.0.1) are exempt."""

import pytest
from django.core.checks import Warning
from django.core.checks.registry import registry
from django.test import override_settings

from ecandidat.checks import check_ent_server_url, check_ldap_url
from ecandidat.tests.helpers import PRODUCTION_ENV, manage


@pytest.fixture
def production(monkeypatch):
    """The checks' production (ecandidat.checks.is_production reads the environment under override_settings)."""
    monkeypatch.setenv("DJANGO_SETTINGS_MODULE", "ecandidat.settings.base")


@pytest.mark.parametrize(
    ("protocol", "url"),
    [
        ("cas", "http://cas.univ.fr/cas"),
        ("cas", "HTTP://cas.univ.fr/cas/"),
        ("oidc", "http://ent.univ.fr/realms/univ"),
        ("cas", "cas.univ.fr/cas"),  # no scheme at all: not https either
    ],
)
def test_an_ent_that_is_not_https_is_a_warning_in_production(production, protocol, url):
    with override_settings(ENT_PROTOCOL=protocol, ENT_SERVER_URL=url):
        warnings = check_ent_server_url(None)

    assert [(type(w), w.id) for w in warnings] == [(Warning, "ecandidat.W005")]
    assert url in warnings[0].msg
    assert "https://" in warnings[0].hint


@pytest.mark.parametrize("url", ["", "https://cas.univ.fr/cas", "HTTPS://ent.univ.fr/realms/univ"])
def test_an_https_ent_or_none_passes(production, url):
    with override_settings(ENT_SERVER_URL=url):
        assert check_ent_server_url(None) == []


@pytest.mark.parametrize("url", ["ldap://ldap.univ.fr", "LDAP://ldap.univ.fr:389"])
def test_an_unencrypted_directory_is_a_warning_in_production(production, url):
    with override_settings(LDAP_URL=url, LDAP_START_TLS=False):
        warnings = check_ldap_url(None)

    assert [(type(w), w.id) for w in warnings] == [(Warning, "ecandidat.W006")]
    assert "LDAP_START_TLS" in warnings[0].msg
    assert "ldaps://" in warnings[0].hint


@pytest.mark.parametrize(
    ("url", "start_tls"),
    [("", False), ("ldaps://ldap.univ.fr", False), ("ldap://ldap.univ.fr", True), ("ldaps://ldap.univ.fr:636", True)],
)
def test_ldaps_or_start_tls_or_no_directory_passes(production, url, start_tls):
    with override_settings(LDAP_URL=url, LDAP_START_TLS=start_tls):
        assert check_ldap_url(None) == []


def test_development_and_test_settings_keep_their_local_peers():
    """The development ENT (http://127.0.0.1:8001) and the slapd peer (ldap://127.0.0.1) of ``make run`` and tests."""
    with override_settings(ENT_SERVER_URL="http://127.0.0.1:8001/cas", LDAP_URL="ldap://127.0.0.1:3890"):
        assert check_ent_server_url(None) == []
        assert check_ldap_url(None) == []


def test_the_checks_run_with_check_deploy_only():
    assert check_ent_server_url in registry.get_checks(include_deployment_checks=True)
    assert check_ldap_url in registry.get_checks(include_deployment_checks=True)
    assert check_ent_server_url not in registry.get_checks(include_deployment_checks=False)
    assert check_ldap_url not in registry.get_checks(include_deployment_checks=False)


def test_check_deploy_as_ci_runs_it_stops_on_http_and_ldap_and_passes_with_https_and_ldaps():
    """The environment of .ci/run's ``check --deploy --fail-level WARNING`` stage (no ENT, no directory: passes),
    then with a plain-http CAS and an ``ldap://`` directory (stops, naming both), then with their secure forms."""
    secret = "k" + "".join(chr(ord("a") + n % 26) + str(n) for n in range(40))  # 50+ characters, many distinct
    env = {**PRODUCTION_ENV, "SECRET_KEY": secret, "CLAMD_ADDRESS": "none"}
    check = ("check", "--deploy", "--fail-level", "WARNING")

    as_ci = manage(*check, **env)
    insecure = manage(
        *check, **env, ENT_PROTOCOL="cas", ENT_SERVER_URL="http://cas.univ.fr/cas", LDAP_URL="ldap://ldap.univ.fr"
    )
    secure = manage(
        *check, **env, ENT_PROTOCOL="cas", ENT_SERVER_URL="https://cas.univ.fr/cas", LDAP_URL="ldap://ldap.univ.fr",
        LDAP_START_TLS="1",
    )  # fmt: skip

    assert as_ci.returncode == 0, as_ci.stderr
    assert insecure.returncode != 0
    assert "ecandidat.W005" in insecure.stderr
    assert "ecandidat.W006" in insecure.stderr
    assert secure.returncode == 0, secure.stderr
