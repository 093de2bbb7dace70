"""The staff directory's connection test (accounts/connectivity.py): against the OpenLDAP peer of devtools/ldap
(``integration``, accounts/tests/ldap_peer.py), and its failure paths."""

import socket

import pytest

from ecandidat import connectivity
from ecandidat.connectivity import Outcome, run_check
from ecandidat.tests.plugins.services import free_port

SHORT = 0.5


def ldap_check():
    return connectivity.get("ldap")


@pytest.mark.integration
def test_the_service_account_binds_and_the_base_is_found(ldap):
    result = run_check(ldap_check())

    assert result.outcome == Outcome.OK, result
    assert result.detail == "bind cn=ecandidat,ou=services,dc=univ,dc=fr, base ou=people,dc=univ,dc=fr found"
    assert result.configuration == (
        f"{ldap} — bind cn=ecandidat,ou=services,dc=univ,dc=fr, base ou=people,dc=univ,dc=fr"
    )


@pytest.mark.integration
def test_a_wrong_password_is_refused_credentials_never_shown(ldap, settings):
    settings.LDAP_BIND_PASSWORD = "wrong-Ldap-Secret"

    result = run_check(ldap_check())

    assert (result.outcome, result.message) == (Outcome.FAILED, "Identifiants refusés.")
    assert result.detail.startswith("bind: invalidCredentials")
    assert "wrong-Ldap-Secret" not in result.detail + result.configuration


@pytest.mark.integration
def test_a_wrong_search_base_is_reported(ldap, settings):
    settings.LDAP_PEOPLE_BASE = "ou=nobody,dc=univ,dc=fr"

    result = run_check(ldap_check())

    assert (result.outcome, result.message) == (Outcome.FAILED, "Base de recherche (LDAP_PEOPLE_BASE) introuvable.")
    assert result.detail.startswith("search: noSuchObject")


def test_a_directory_that_refuses_connections(settings):
    settings.LDAP_URL = f"ldap://127.0.0.1:{free_port()}"
    settings.LDAP_BIND_DN, settings.LDAP_BIND_PASSWORD = "cn=ecandidat,dc=univ,dc=fr", "ldap-Secret-5"

    result = run_check(ldap_check(), timeout=SHORT)

    assert (result.outcome, result.message) == (
        Outcome.FAILED,
        "Connexion refusée : aucun service ne répond à cette adresse.",
    )
    assert "ldap-Secret-5" not in result.detail


def test_a_directory_that_never_answers_times_out(settings):
    with socket.create_server(("127.0.0.1", 0)) as listener:
        settings.LDAP_URL = f"ldap://127.0.0.1:{listener.getsockname()[1]}"
        settings.LDAP_BIND_DN, settings.LDAP_BIND_PASSWORD = "cn=ecandidat,dc=univ,dc=fr", "x"

        result = run_check(ldap_check(), timeout=SHORT)

    assert (result.outcome, result.message) == (Outcome.FAILED, "Pas de réponse dans le délai.")


def test_no_directory_configured(settings):
    settings.LDAP_URL = ""

    assert run_check(ldap_check()).outcome == Outcome.NOT_CONFIGURED
