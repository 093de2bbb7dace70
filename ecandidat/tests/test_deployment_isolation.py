"""Two deployments on one Redis, and the sender of the mails in production.

CACHE_KEY_PREFIX (ecandidat/settings/base.py): a "recette" given its own CELERY_QUEUE on the production Redis, as the
README advises, shared every cache key with production (maintenance switch, home message, catalogue fragments, rate
limits, upload slots): the recette's maintenance switch put production on the maintenance page.

ecandidat.E005 (ecandidat/checks.py): DEFAULT_FROM_EMAIL's default, ne-pas-repondre@ecandidat.localhost, passed
``check --deploy``, and every mail of production left with a sender relays refuse.
"""

import json
import os
import secrets
import subprocess
import sys

import pytest
import redis
from django.conf import settings
from django.core.cache import CacheHandler
from django.core.checks import Error
from django.core.checks.registry import registry
from django.test import override_settings

from ecandidat import maintenance
from ecandidat.checks import check_default_from_email
from ecandidat.home_message import CACHE_KEY as HOME_MESSAGE_KEY
from ecandidat.settings.base import cache_key_prefix
from ecandidat.tests.helpers import PRODUCTION_ENV, manage

# A Redis database of these tests' own, emptied before and after: never the one the suite or a worker uses.
# A database of its own on the run's Redis server (integration runs have REDIS_URL), emptied before and after.
ISOLATION_REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0").rsplit("/", 1)[0] + "/11"
ALIASES = ("default", "maintenance", "pages")


def _production_caches(**env: str) -> dict:
    """CACHES as ecandidat.settings.base computes them in a process started with ``env`` (a server's environment)."""
    base = {name: os.environ[name] for name in ("PATH", "HOME", "LANG") if name in os.environ}
    code = "import json, ecandidat.settings.base as s; print(json.dumps(s.CACHES))"
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={**base, "DJANGO_SETTINGS_MODULE": "ecandidat.settings.base", "SECRET_KEY": "x" * 60, **env},
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(result.stdout)


@pytest.mark.parametrize(
    ("explicit", "celery_queue", "prefix"),
    [
        (None, None, ""),  # a single deployment: its keys unchanged
        ("", "", ""),
        (None, "celery", ""),  # Celery's default queue named explicitly: still the single deployment's keys
        (None, "recette", "recette"),  # the README's advice (one CELERY_QUEUE each) is enough
        (None, " recette ", "recette"),
        ("preprod", "recette", "preprod"),
        ("preprod", None, "preprod"),
    ],
)
def test_the_cache_key_prefix_is_cache_key_prefix_else_the_deployments_own_celery_queue(
    explicit, celery_queue, prefix
):
    assert cache_key_prefix(explicit, celery_queue) == prefix


def test_every_redis_cache_alias_is_prefixed_with_the_deployments_prefix():
    single = _production_caches(REDIS_URL=ISOLATION_REDIS_URL)
    recette = _production_caches(REDIS_URL=ISOLATION_REDIS_URL, CELERY_QUEUE="recette")
    preprod = _production_caches(REDIS_URL=ISOLATION_REDIS_URL, CELERY_QUEUE="recette", CACHE_KEY_PREFIX="preprod")

    assert {alias: single[alias]["KEY_PREFIX"] for alias in ALIASES} == {
        "default": "",
        "maintenance": "maintenance",
        "pages": "pages",
    }
    assert {alias: recette[alias]["KEY_PREFIX"] for alias in ALIASES} == {
        "default": "recette",
        "maintenance": "recette:maintenance",
        "pages": "recette:pages",
    }
    assert {alias: preprod[alias]["KEY_PREFIX"] for alias in ALIASES} == {
        "default": "preprod",
        "maintenance": "preprod:maintenance",
        "pages": "preprod:pages",
    }
    for caches in (single, recette, preprod):
        assert set(caches) == set(ALIASES)
        assert {caches[alias]["BACKEND"] for alias in ALIASES} == {"ecandidat.cache.FailOpenRedisCache"}
        assert {caches[alias]["LOCATION"] for alias in ALIASES} == {ISOLATION_REDIS_URL}


def test_without_redis_a_single_deployment_keeps_its_database_cache_keys():
    caches = _production_caches()

    assert caches["default"]["BACKEND"] == "django.core.cache.backends.db.DatabaseCache"
    assert {alias: caches[alias]["KEY_PREFIX"] for alias in ALIASES} == {
        "default": "",
        "maintenance": "maintenance",
        "pages": "pages",
    }


@pytest.fixture
def isolation_redis():
    assert os.environ.get("REDIS_URL"), "integration tests run with REDIS_URL (make test on PostgreSQL + Redis)"
    client = redis.Redis.from_url(ISOLATION_REDIS_URL, socket_connect_timeout=1, socket_timeout=2)
    client.ping()
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


@pytest.mark.integration
@pytest.mark.django_db
def test_a_recette_on_the_production_redis_shares_neither_its_maintenance_switch_nor_its_keys(isolation_redis):
    production_caches = _production_caches(REDIS_URL=ISOLATION_REDIS_URL)
    recette_caches = _production_caches(REDIS_URL=ISOLATION_REDIS_URL, CELERY_QUEUE="recette")
    production, recette = CacheHandler(production_caches), CacheHandler(recette_caches)

    # The recette's operator switches maintenance on (what ecandidat.maintenance publishes) and writes its own home
    # message and catalogue generation.
    recette["maintenance"].set(maintenance.SWITCH_CACHE_KEY, (True, "Recette en maintenance", False, ""))
    recette["default"].set(HOME_MESSAGE_KEY, "Message de la recette")
    recette["pages"].set("catalogue:generation", "recette")
    recette["default"].set("upload-slot", "recette", timeout=60)

    assert production["maintenance"].get(maintenance.SWITCH_CACHE_KEY) is None
    assert production["default"].get(HOME_MESSAGE_KEY) is None
    assert production["pages"].get("catalogue:generation") is None
    assert production["default"].add("upload-slot", "production", timeout=60)  # the slot is production's own
    assert recette["maintenance"].get(maintenance.SWITCH_CACHE_KEY)[:2] == (True, "Recette en maintenance")
    keys = sorted(key.decode() for key in isolation_redis.scan_iter())
    assert [key for key in keys if not key.startswith("recette:")] == [":1:upload-slot"]
    for handler in (production, recette):
        handler.close_all()

    # Production's pages read its switch from its own cache (the database's row, off), not the recette's.
    maintenance.forget_switch()
    with override_settings(CACHES=production_caches):
        try:
            assert maintenance.switch_state() == (False, "")
        finally:
            maintenance.forget_switch()


@pytest.fixture
def production(monkeypatch):
    """The checks' production: under override_settings Django answers SETTINGS_MODULE = None, and the process's
    settings module is read from the environment (ecandidat.checks.is_production)."""
    monkeypatch.setenv("DJANGO_SETTINGS_MODULE", "ecandidat.settings.base")


@pytest.mark.parametrize(
    "sender",
    [
        "ne-pas-repondre@ecandidat.localhost",  # the default
        "ne-pas-repondre@localhost",
        "eCandidat <ne-pas-repondre@ECANDIDAT.LOCALHOST.>",
        "noreply@univ.example",
        "noreply@example",
        "noreply@ecandidat.invalid",
        "noreply@ecandidat.test",
        "noreply@example.org",
        "noreply@ecandidat.example.com",
        "eCandidat <noreply@mail.example.net>",
    ],
)
def test_a_sender_of_a_reserved_domain_is_an_error_in_production(production, sender):
    with override_settings(DEFAULT_FROM_EMAIL=sender):
        errors = check_default_from_email(None)

    assert [error.id for error in errors] == ["ecandidat.E005"]
    assert isinstance(errors[0], Error)
    assert "reserved domain" in errors[0].msg
    assert "DEFAULT_FROM_EMAIL=" in errors[0].hint


@pytest.mark.parametrize("sender", ["", "ne-pas-repondre", "ne-pas-repondre@", "eCandidat <>"])
def test_a_sender_that_is_not_an_address_is_an_error_in_production(production, sender):
    with override_settings(DEFAULT_FROM_EMAIL=sender):
        errors = check_default_from_email(None)

    assert [error.id for error in errors] == ["ecandidat.E005"]
    assert "not an e-mail address" in errors[0].msg


@pytest.mark.parametrize(
    "sender",
    [
        "ne-pas-repondre@univ-perpignan.fr",
        "eCandidat Université <candidatures@ecandidat.univ.fr>",
        "noreply@example-university.org",  # only example.org itself and its subdomains are reserved
        "noreply@testing.fr",
        "noreply@localhost.univ.fr",
    ],
)
def test_a_sender_of_the_universitys_domain_passes(production, sender):
    with override_settings(DEFAULT_FROM_EMAIL=sender):
        assert check_default_from_email(None) == []


def test_development_and_test_settings_keep_their_local_sender():
    with override_settings(DEFAULT_FROM_EMAIL="ne-pas-repondre@ecandidat.localhost"):
        assert check_default_from_email(None) == []


def test_the_sender_check_runs_with_check_deploy_only():
    assert check_default_from_email in registry.get_checks(include_deployment_checks=True)
    assert check_default_from_email not in registry.get_checks(include_deployment_checks=False)


def test_check_deploy_stops_on_the_default_sender_and_passes_with_the_universitys(tmp_path):
    production_env = {
        **{name: value for name, value in PRODUCTION_ENV.items() if name != "DEFAULT_FROM_EMAIL"},
        "SECRET_KEY": secrets.token_urlsafe(64),
        "CLAMD_ADDRESS": "none",
        "MEDIA_ROOT": str(tmp_path / "media"),
    }

    default = manage("check", "--deploy", "--fail-level", "ERROR", **production_env)
    university = manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        **production_env,
        DEFAULT_FROM_EMAIL="eCandidat <ne-pas-repondre@univ-perpignan.fr>",
    )

    assert default.returncode == 1
    assert "ecandidat.E005" in default.stderr
    assert "DEFAULT_FROM_EMAIL is ne-pas-repondre@ecandidat.localhost" in default.stderr
    assert university.returncode == 0, university.stderr
