"""The project's own per-IP limits (ecandidat/ratelimits.py: fair use, the ENT's back-channel logout) count the same
client address as allauth's login limits: the visitor's behind the shipped nginx (TRUSTED_PROXY_COUNT=1), the TCP
peer's otherwise, whatever X-Forwarded-For says."""

import runpy

import pytest
from django.conf import settings as django_settings
from django.core.cache import cache
from django.test import RequestFactory

from ecandidat import ratelimits

BASE_SETTINGS = django_settings.BASE_DIR / "ecandidat" / "settings" / "base.py"
ONE_PER_ADDRESS = {"probe": "1/10m/ip"}


@pytest.fixture(autouse=True)
def _empty_counters():
    cache.clear()
    yield
    cache.clear()


def _use(forwarded_for: str) -> int | None:
    request = RequestFactory().post("/", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR=forwarded_for)
    return ratelimits.consume(request, app="s46", action="probe", config=ONE_PER_ADDRESS)


def test_behind_nginx_each_visitor_has_their_own_counter(settings, monkeypatch):
    monkeypatch.setenv("TRUSTED_PROXY_COUNT", "1")
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = runpy.run_path(str(BASE_SETTINGS))["ALLAUTH_TRUSTED_PROXY_COUNT"]

    assert _use("198.51.100.1") is None
    assert _use("198.51.100.2") is None  # another visitor: not refused for the first one's use
    assert _use("10.9.9.9, 198.51.100.1") is not None  # the first again, whatever they put in front


def test_without_a_trusted_proxy_a_forged_header_gives_no_fresh_counter(settings):
    assert settings.ALLAUTH_TRUSTED_PROXY_COUNT == 0

    assert _use("198.51.100.1") is None
    assert _use("198.51.100.2") is not None  # the same TCP peer
