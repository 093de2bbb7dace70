"""The session and CSRF cookies carry the ``__Host-`` prefix in production (DEBUG off, ecandidat/settings/base.py):
a browser keeps such a cookie only if it is Secure, with Path=/ and no Domain, so another host of the university's
domain cannot set or overwrite it. The settings are base.py's as production computes them from its environment (the
test settings put Django's names back for their http:// servers)."""

import runpy

import pytest
from django.conf import global_settings
from django.conf import settings as django_settings
from django.urls import reverse

BASE_SETTINGS = django_settings.BASE_DIR / "ecandidat" / "settings" / "base.py"
COOKIE_SETTINGS = (
    "SESSION_COOKIE_NAME",
    "SESSION_COOKIE_SECURE",
    "SESSION_COOKIE_DOMAIN",
    "SESSION_COOKIE_PATH",
    "CSRF_COOKIE_NAME",
    "CSRF_COOKIE_SECURE",
    "CSRF_COOKIE_DOMAIN",
    "CSRF_COOKIE_PATH",
)


def _cookie_settings(monkeypatch, **environment: str) -> dict:
    """The cookie settings base.py gives with ``environment`` (Django's default for those it leaves alone)."""
    for name in ("SESSION_COOKIE_NAME", "CSRF_COOKIE_NAME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SECURE_SSL_REDIRECT", "0")
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    computed = runpy.run_path(str(BASE_SETTINGS))
    return {name: computed.get(name, getattr(global_settings, name)) for name in COOKIE_SETTINGS}


def _obeys_the_host_prefix(morsel) -> bool:
    """What browsers require of a ``__Host-`` cookie (RFC 6265bis, 4.1.3.2): Secure, Path=/, no Domain."""
    return bool(morsel["secure"]) and morsel["path"] == "/" and not morsel["domain"]


def test_production_names_the_cookies_with_the_host_prefix(monkeypatch):
    production = _cookie_settings(monkeypatch, DEBUG="0")

    assert production == {
        "SESSION_COOKIE_NAME": "__Host-ecandidat_session",
        "SESSION_COOKIE_SECURE": True,
        "SESSION_COOKIE_DOMAIN": None,
        "SESSION_COOKIE_PATH": "/",
        "CSRF_COOKIE_NAME": "__Host-ecandidat_csrftoken",
        "CSRF_COOKIE_SECURE": True,
        "CSRF_COOKIE_DOMAIN": None,
        "CSRF_COOKIE_PATH": "/",
    }


def test_the_environment_names_them_otherwise(monkeypatch):
    production = _cookie_settings(monkeypatch, DEBUG="0", SESSION_COOKIE_NAME="ecand", CSRF_COOKIE_NAME="ecand_csrf")

    assert (production["SESSION_COOKIE_NAME"], production["CSRF_COOKIE_NAME"]) == ("ecand", "ecand_csrf")


def test_development_over_http_keeps_djangos_names(monkeypatch):
    """DEBUG on (``make run``, http://): the cookies are not Secure, so a browser would refuse the prefix."""
    development = _cookie_settings(monkeypatch, DEBUG="1")

    assert (development["SESSION_COOKIE_NAME"], development["CSRF_COOKIE_NAME"]) == ("sessionid", "csrftoken")
    assert not development["SESSION_COOKIE_SECURE"]


@pytest.mark.django_db
def test_djangos_cookies_with_the_production_settings_obey_the_prefix(
    client, candidate_user, persona_password, settings, monkeypatch
):
    """The Set-Cookie headers Django really sends with those settings: the CSRF cookie of the login page, the session
    cookie of the login, both Secure, Path=/, without Domain (else a browser drops them and nobody stays logged
    in)."""
    production = _cookie_settings(monkeypatch, DEBUG="0")
    for name, value in production.items():
        setattr(settings, name, value)

    page = client.get(reverse("account_login"))
    login = client.post(reverse("account_login"), {"login": candidate_user.username, "password": persona_password})

    csrf = page.cookies["__Host-ecandidat_csrftoken"]
    session = login.cookies["__Host-ecandidat_session"]
    for cookie in (csrf, session):
        assert _obeys_the_host_prefix(cookie), cookie.output()
        header = cookie.output(header="")
        assert "Secure" in header
        assert "Path=/" in header
        assert "Domain" not in header
    assert "sessionid" not in login.cookies
    # The browser sends it back under that name: the next page is the candidate's.
    assert client.get(reverse("home")).wsgi_request.user == candidate_user
