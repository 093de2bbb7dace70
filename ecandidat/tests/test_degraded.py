"""Redis down is a degraded mode, not an outage (issue 9): the maintenance switch is held in process memory and read
from the database when its cache fails; the default cache fails open. The Redis here is a closed port, so these run
everywhere; the same with a real Redis that goes away is in test_integration_outbox.py."""

import logging

import pytest
from allauth.core.internal import ratelimit
from django.contrib.auth.models import AnonymousUser
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCacheClient
from django.urls import reverse
from redis.exceptions import ConnectionError as RedisConnectionError

from ecandidat import cache as fail_open
from ecandidat.maintenance import SWITCH_CACHE_KEY, SWITCH_MEMORY_SECONDS, forget_switch, set_switch, switch_state
from ecandidat.models import MaintenanceSwitch
from ecandidat.tests.plugins.services import free_port


@pytest.fixture
def closed_port():
    return free_port()  # nothing listens there: connections are refused at once


@pytest.fixture
def redis_unreachable(settings, closed_port):
    """Every cache alias on a Redis that is not there, as in production settings with Redis down."""
    location = f"redis://127.0.0.1:{closed_port}/0"
    backend = {"BACKEND": "ecandidat.cache.FailOpenRedisCache", "LOCATION": location}
    settings.CACHES = {
        "default": backend,
        "maintenance": {**backend, "KEY_PREFIX": "maintenance", "TIMEOUT": 30},
        "pages": {**backend, "KEY_PREFIX": "pages", "TIMEOUT": 60},
    }
    settings.REDIS_URL = location
    fail_open._down_until.clear()
    forget_switch()
    yield location
    fail_open._down_until.clear()
    forget_switch()


# --- the maintenance switch --------------------------------------------------------------------------------------


class Clock:
    """A stand-in for ``time.monotonic`` (time-machine moves the wall clock only)."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_switch_is_held_in_memory_for_a_few_seconds(mocker):
    clock = mocker.patch("ecandidat.maintenance.monotonic", new=Clock())
    get = mocker.spy(caches["maintenance"], "get")
    assert switch_state() == (False, "")
    assert switch_state() == (False, "")
    assert get.call_count == 1

    caches["maintenance"].set(SWITCH_CACHE_KEY, (True, "Pause"))  # another process turned it on
    clock.now += SWITCH_MEMORY_SECONDS - 0.1
    assert switch_state() == (False, "")
    clock.now += 0.2
    assert switch_state() == (True, "Pause")
    assert get.call_count == 2


@pytest.mark.django_db
def test_switch_is_read_from_the_database_when_its_cache_fails(mocker, caplog, django_assert_num_queries):
    MaintenanceSwitch.objects.create(is_on=True, message="Intervention")
    mocker.patch.object(caches["maintenance"], "get", side_effect=RedisConnectionError("refused"))
    cache_set = mocker.patch.object(caches["maintenance"], "set")
    forget_switch()

    with caplog.at_level(logging.WARNING), django_assert_num_queries(1):
        assert switch_state() == (True, "Intervention")

    cache_set.assert_not_called()
    assert caplog.messages == ["maintenance switch: cache unavailable (ConnectionError), read from the database"]


@pytest.mark.django_db
def test_switch_can_be_turned_on_while_its_cache_is_down(
    mocker, admin_user, client, django_capture_on_commit_callbacks
):
    mocker.patch.object(caches["maintenance"], "set", side_effect=RedisConnectionError("refused"))
    mocker.patch.object(caches["maintenance"], "delete", side_effect=RedisConnectionError("refused"))

    with django_capture_on_commit_callbacks(execute=True):  # published when the save commits
        set_switch(is_on=True, message="Coupure", actor=admin_user)

    assert MaintenanceSwitch.current().is_on
    assert client.get(reverse("home")).status_code == 503


# --- the fail-open cache -----------------------------------------------------------------------------------------


def test_fail_open_cache_answers_like_an_empty_cache_and_logs_once(redis_unreachable, caplog, mocker):
    cache = caches["default"]
    with caplog.at_level(logging.WARNING, logger="ecandidat.cache"):
        assert cache.get("key", "fallback") == "fallback"
        assert cache.add("lock", True) is True  # allauth's rate-limit lock: let the request through
        cache.set("key", 1)  # dropped, no error
        assert cache.incr("counter", 3) == 3
        assert cache.get_many(["a", "b"]) == {}
        assert cache.has_key("key") is False
        assert cache.delete("key") is False

    assert len(caplog.records) == 1
    assert caplog.messages[0].startswith("cache unavailable (ConnectionError on get: ")
    assert caplog.messages[0].endswith("failing open, Redis retried in 5.0s")


def test_fail_open_cache_does_not_knock_again_for_a_few_seconds(redis_unreachable, mocker):
    clock = mocker.patch("ecandidat.cache.monotonic", new=Clock())
    client_get = mocker.spy(RedisCacheClient, "get")
    cache = caches["default"]
    cache.get("key")
    cache.get("key")
    assert client_get.call_count == 1
    clock.now += fail_open.RETRY_AFTER_SECONDS + 0.1
    cache.get("key")
    assert client_get.call_count == 2


# --- pages with Redis unreachable ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_candidate_pages_and_login_work_with_redis_unreachable(
    redis_unreachable, client, candidate_user, persona_password, django_assert_num_queries
):
    response = client.post(reverse("account_login"), {"login": candidate_user.username, "password": persona_password})
    assert response.status_code == 302

    # Session, user, the page's savepoints and candidate reads (no SIS lookup: that happens at login); the session
    # is not written again (refreshed at login, ecandidat/sessions.py). The maintenance switch comes from this
    # process's memory: the login read it from the database (its cache is down) before letting the candidate in.
    with django_assert_num_queries(5):
        response = client.get(reverse("applications:personal_details"))
    assert response.status_code == 200
    # And so does the next page: no query, no Redis call.
    with django_assert_num_queries(5):
        response = client.get(reverse("applications:personal_details"))
    assert response.status_code == 200


@pytest.mark.django_db
def test_maintenance_still_applies_with_redis_unreachable(redis_unreachable, client, admin_user):
    MaintenanceSwitch.objects.create(is_on=True, message="Migration en cours.")

    response = client.get(reverse("home"))

    assert response.status_code == 503
    assert "Migration en cours." in response.content.decode()


def test_allauth_rate_limits_let_requests_through_while_redis_is_unreachable(redis_unreachable, rf):
    """The machinery of the login lockouts and of the upload and dossier-PDF limits: its lock is a cache ``add``.
    Failing open must answer True there, or every limited request would wait a second and then be refused."""
    request = rf.post("/accounts/login/")
    request.user = AnonymousUser()
    config = {"probe": "1/5m/ip"}

    for _ in range(3):  # over the limit of 1, but nothing can be counted
        assert ratelimit.consume(request, app="probe", action="probe", config=config) is not None


def test_one_redis_client_per_connection_pool(closed_port):
    """Django builds a ``redis.Redis`` (~0.5 ms) for every operation; the fail-open cache builds one per pool."""
    cache = fail_open.FailOpenRedisCache(f"redis://127.0.0.1:{closed_port}/0", {})

    first = cache._cache.get_client(write=True)

    assert cache._cache.get_client(write=False) is first  # one server: reads and writes share its pool
    assert cache._cache.get_client(write=True).connection_pool is cache._cache._get_connection_pool(True)
