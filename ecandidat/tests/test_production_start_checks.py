"""What the production start (``manage.sh check --deploy --fail-level ERROR``, the ExecStartPre of
deploy/ecandidat.service) let pass, found in the review of the deployment (2026-12-07):

- no DATABASE_URL: production ran on a fresh SQLite file under VAR_DIR (ecandidat.E006);
- a CLAMD_ADDRESS or REDIS_URL without its scheme: every scan failed (each piece left pending), every login answered
  500; both are read when the settings load now, like the other variables (ecandidat/env.py);
- no ALLOWED_HOSTS: the default localhost,127.0.0.1 answered 400 to every request for SITE_URL (ecandidat.E007);
- DEBUG=1: only warnings, and /boite-mail/ showed every candidate's password-reset mail to anyone. The mailbox is
  now served only with a mail backend that delivers nothing (ecandidat/mailbox.py), and DEBUG in production is the
  error ecandidat.E008;
- LOG_LEVEL=info stopped the start with logging's "Unknown level: 'info'", naming no variable.

``make run``'s path (the dev settings: DEBUG, SQLite, the console backend and its anonymous mailbox) is unchanged."""

import importlib
import secrets
import sqlite3
from contextlib import closing, contextmanager

import pytest
from django.core.checks import Error
from django.core.checks.registry import registry
from django.core.exceptions import ImproperlyConfigured
from django.http import Http404
from django.test import RequestFactory, override_settings
from django.urls import Resolver404, clear_url_caches, resolve

from ecandidat import mailbox
from ecandidat import urls as root_urls
from ecandidat.checks import check_allowed_hosts, check_database, check_debug
from ecandidat.env import env_clamd_address, env_log_level, env_redis_url
from ecandidat.models import OutboundEmail
from ecandidat.tests.helpers import PRODUCTION_ENV, manage

POSTGRES_URL = "postgres://ecandidat:secret@127.0.0.1:5432/ecandidat"  # `check` connects to no database
CONSOLE = {"default": {"BACKEND": "django.core.mail.backends.console.EmailBackend"}}
SMTP = {
    "default": {"BACKEND": "django.core.mail.backends.smtp.EmailBackend", "OPTIONS": {"host": "127.0.0.1", "port": 25}}
}


@pytest.fixture
def production(monkeypatch):
    """The checks' production: under override_settings Django answers SETTINGS_MODULE = None, and the process's
    settings module is read from the environment (ecandidat.checks.is_production)."""
    monkeypatch.setenv("DJANGO_SETTINGS_MODULE", "ecandidat.settings.base")


@pytest.fixture
def server_env(tmp_path):
    """A production server's environment that passes ``check --deploy``: each test changes what it checks."""
    return {
        **PRODUCTION_ENV,
        "SECRET_KEY": secrets.token_urlsafe(64),
        "CLAMD_ADDRESS": "none",
        "DATABASE_URL": POSTGRES_URL,
        "VAR_DIR": str(tmp_path / "var"),
    }


def _dev_env(server_env):
    """`make run`'s settings (ecandidat.settings.dev), their files in this test's folder."""
    return {"DJANGO_SETTINGS_MODULE": "ecandidat.settings.dev", "VAR_DIR": server_env["VAR_DIR"]}


def start_check(env):
    """The unit's ExecStartPre, in a child process with only ``env``."""
    return manage("check", "--deploy", "--fail-level", "ERROR", **env)


def test_the_server_environment_of_these_tests_starts(server_env):
    result = start_check(server_env)

    assert result.returncode == 0, result.stderr


# --- F1: no DATABASE_URL (ecandidat.E006) ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("engine", "refused"),
    [
        ("django.db.backends.sqlite3", True),
        ("django.db.backends.postgresql", False),
    ],
)
def test_sqlite_is_an_error_in_production(production, monkeypatch, settings, engine, refused):
    monkeypatch.setitem(settings.DATABASES["default"], "ENGINE", engine)
    with override_settings(DEBUG=False):
        errors = check_database(None)

    assert [error.id for error in errors] == (["ecandidat.E006"] if refused else [])
    if refused:
        assert isinstance(errors[0], Error)
        assert "DATABASE_URL" in errors[0].msg
        assert "DATABASE_URL=postgres://" in errors[0].hint


def test_development_and_test_settings_keep_their_sqlite(monkeypatch, settings):
    monkeypatch.setitem(settings.DATABASES["default"], "ENGINE", "django.db.backends.sqlite3")

    assert check_database(None) == []


def test_the_database_check_stops_migrate_too():
    # Not a deploy check: migrate (and cron's commands) must not write to the fallback file either.
    assert check_database in registry.get_checks(include_deployment_checks=False)


def test_a_server_without_database_url_does_not_start(server_env, tmp_path):
    del server_env["DATABASE_URL"]

    result = start_check(server_env)
    migrate = manage("migrate", "--noinput", **server_env)

    assert result.returncode == 1
    assert "ecandidat.E006" in result.stderr
    assert f"The database is an SQLite file ({tmp_path / 'var' / 'ecandidat.sqlite3'})" in result.stderr
    assert "DATABASE_URL=postgres://" in result.stderr
    assert migrate.returncode == 1
    assert "ecandidat.E006" in migrate.stderr
    with closing(sqlite3.connect(tmp_path / "var" / "ecandidat.sqlite3")) as fallback:  # opened by the checks
        assert fallback.execute("SELECT name FROM sqlite_master").fetchall() == []  # migrate created no table


# --- F2: CLAMD_ADDRESS and REDIS_URL read when the settings load ----------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "address"),
    [
        ("tcp://127.0.0.1:3310", "tcp://127.0.0.1:3310"),
        (" tcp://clamd.univ.fr:3310 ", "tcp://clamd.univ.fr:3310"),
        ("unix:///run/clamav/clamd.ctl", "unix:///run/clamav/clamd.ctl"),
        ("none", "none"),
        ("NONE", "none"),
        ("", None),
    ],
)
def test_the_clamd_addresses_the_antivirus_connects_to_are_accepted(monkeypatch, raw, address):
    monkeypatch.setenv("CLAMD_ADDRESS", raw)

    assert env_clamd_address("CLAMD_ADDRESS") == address


def test_an_unset_clamd_address_is_none(monkeypatch):
    monkeypatch.delenv("CLAMD_ADDRESS", raising=False)

    assert env_clamd_address("CLAMD_ADDRESS") is None


@pytest.mark.parametrize(
    "raw",
    [
        "/run/clamav/clamd.ctl",  # a path without its scheme
        "127.0.0.1:3310",  # a host and port without theirs
        "tcp://127.0.0.1",  # no port
        "tcp://127.0.0.1:0",
        "tcp://127.0.0.1:99999",
        "unix://run/clamav/clamd.ctl",  # "run" read as a host: the socket would be /clamav/clamd.ctl
        "udp://127.0.0.1:3310",
        "off",
    ],
)
def test_a_malformed_clamd_address_names_the_variable_and_its_forms(monkeypatch, raw):
    monkeypatch.setenv("CLAMD_ADDRESS", raw)

    with pytest.raises(ImproperlyConfigured) as refused:
        env_clamd_address("CLAMD_ADDRESS")

    message = str(refused.value)
    assert message.startswith("CLAMD_ADDRESS must be tcp://host:port, unix:///path, or none")
    assert repr(raw) in message


@pytest.mark.parametrize(
    "raw",
    [
        "redis://127.0.0.1:6379/11",
        "rediss://:secret@redis.univ.fr:6380/0",
        "unix:///run/redis/redis.sock",
        "redis://primary:6379/0,redis://replica:6379/0",  # Django's RedisCache reads a list
    ],
)
def test_the_redis_urls_redis_py_reads_are_accepted(monkeypatch, raw):
    monkeypatch.setenv("REDIS_URL", raw)

    assert env_redis_url("REDIS_URL") == raw


@pytest.mark.parametrize("raw", ["", "   "])
def test_an_empty_redis_url_is_none(monkeypatch, raw):
    monkeypatch.setenv("REDIS_URL", raw)

    assert env_redis_url("REDIS_URL") is None


@pytest.mark.parametrize(
    "raw",
    [
        "127.0.0.1:6379/11",
        "localhost:6379",
        "http://127.0.0.1:6379/0",
        "REDIS://127.0.0.1:6379/0",  # redis-py reads the scheme in lower case only
        "unix://",
        "redis://primary:6379/0,127.0.0.1:6379/0",
    ],
)
def test_a_redis_url_without_its_scheme_names_the_variable_and_its_forms(monkeypatch, raw):
    monkeypatch.setenv("REDIS_URL", raw)

    with pytest.raises(ImproperlyConfigured) as refused:
        env_redis_url("REDIS_URL")

    assert str(refused.value).startswith("REDIS_URL must be redis://host:port/db, rediss://host:port/db (TLS) or unix")


@pytest.mark.parametrize("raw", ["redis://127.0.0.1:63a9/0", "redis://127.0.0.1:6379/0?socket_timeout=soon"])
def test_a_redis_url_redis_py_refuses_names_the_variable(monkeypatch, raw):
    monkeypatch.setenv("REDIS_URL", raw)

    with pytest.raises(ImproperlyConfigured, match=r"^REDIS_URL is malformed \("):
        env_redis_url("REDIS_URL")


def test_a_refused_redis_url_is_quoted_without_its_password(monkeypatch):
    monkeypatch.setenv("REDIS_URL", ":s3cret@127.0.0.1:6379/0")  # the scheme forgotten

    with pytest.raises(ImproperlyConfigured) as refused:
        env_redis_url("REDIS_URL")

    assert "s3cret" not in str(refused.value)
    assert "':***@127.0.0.1:6379/0'" in str(refused.value)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("CLAMD_ADDRESS", "/run/clamav/clamd.ctl"),
        ("CLAMD_ADDRESS", "127.0.0.1:3310"),
        ("REDIS_URL", "127.0.0.1:6379/11"),
    ],
)
def test_a_server_with_a_malformed_address_does_not_start_and_says_which(server_env, name, value):
    result = start_check({**server_env, name: value})

    assert result.returncode == 1
    assert "ImproperlyConfigured" in result.stderr
    assert f"{name} must be " in result.stderr
    assert repr(value) in result.stderr


def test_a_server_with_well_formed_addresses_starts(server_env):
    result = start_check(
        {**server_env, "CLAMD_ADDRESS": "unix:///run/clamav/clamd.ctl", "REDIS_URL": "redis://127.0.0.1:6379/11"}
    )

    assert result.returncode == 0, result.stderr


# --- F3: SITE_URL's host refused by ALLOWED_HOSTS (ecandidat.E007) ------------------------------------------------


@pytest.mark.parametrize(
    ("site_url", "allowed_hosts"),
    [
        ("https://ecandidat.univ.fr", ["localhost", "127.0.0.1"]),  # ALLOWED_HOSTS's default
        ("https://ecandidat.univ.fr", []),
        ("https://ecandidat.univ.fr", ["candidatures.univ.fr"]),
        ("https://ecandidat.univ.fr:8443", ["ecandidat.univ.fr.example"]),
        ("https://ecandidat.univ.fr", [".ecandidat.univ.fr.example"]),
    ],
)
def test_a_site_url_allowed_hosts_refuses_is_an_error_in_production(production, site_url, allowed_hosts):
    with override_settings(SITE_URL=site_url, ALLOWED_HOSTS=allowed_hosts, DEBUG=False):
        errors = check_allowed_hosts(None)

    assert [error.id for error in errors] == ["ecandidat.E007"]
    assert isinstance(errors[0], Error)
    assert errors[0].msg.startswith("SITE_URL's host ecandidat.univ.fr is not allowed by ALLOWED_HOSTS (")
    assert "400 Bad Request" in errors[0].msg
    assert "Add ecandidat.univ.fr to ALLOWED_HOSTS" in errors[0].hint


@pytest.mark.parametrize(
    ("site_url", "allowed_hosts"),
    [
        ("https://ecandidat.univ.fr", ["ecandidat.univ.fr"]),
        ("https://ECandidat.Univ.fr.", ["ecandidat.univ.fr"]),  # as Django compares the Host header
        ("https://ecandidat.univ.fr:8443", ["localhost", "ecandidat.univ.fr"]),
        ("https://ecandidat.univ.fr", [".univ.fr"]),
        ("https://ecandidat.univ.fr", ["*"]),
        ("https://10.1.2.3", ["10.1.2.3"]),
        ("https://[2001:db8::1]", ["[2001:db8::1]"]),
        ("ecandidat.univ.fr", []),  # no host: ecandidat.E004 says so
    ],
)
def test_a_site_url_allowed_hosts_accepts_passes(production, site_url, allowed_hosts):
    with override_settings(SITE_URL=site_url, ALLOWED_HOSTS=allowed_hosts, DEBUG=False):
        assert check_allowed_hosts(None) == []


def test_development_and_test_settings_keep_their_allowed_hosts():
    with override_settings(SITE_URL="https://ecandidat.univ.fr", ALLOWED_HOSTS=["localhost"]):
        assert check_allowed_hosts(None) == []


def test_the_allowed_hosts_check_runs_with_check_deploy_only():
    # Like E004 (SITE_URL): the service's ExecStartPre and compose's migrate run `check --deploy`.
    assert check_allowed_hosts in registry.get_checks(include_deployment_checks=True)
    assert check_allowed_hosts not in registry.get_checks(include_deployment_checks=False)


def test_a_server_without_allowed_hosts_does_not_start(server_env):
    del server_env["ALLOWED_HOSTS"]

    result = start_check(server_env)

    assert result.returncode == 1
    assert "ecandidat.E007" in result.stderr
    assert (
        "SITE_URL's host ecandidat.example.org is not allowed by ALLOWED_HOSTS (localhost, 127.0.0.1)" in result.stderr
    )


# --- F4: DEBUG in production (ecandidat.E008), the local mailbox, LOG_LEVEL ---------------------------------------


def test_debug_is_an_error_in_production(production):
    with override_settings(DEBUG=True):
        errors = check_debug(None)
    with override_settings(DEBUG=False):
        assert check_debug(None) == []

    assert [error.id for error in errors] == ["ecandidat.E008"]
    assert isinstance(errors[0], Error)
    assert "DEBUG=0" in errors[0].hint


def test_development_settings_keep_their_debug():
    with override_settings(DEBUG=True):
        assert check_debug(None) == []


def test_the_debug_check_stops_every_command():
    assert check_debug in registry.get_checks(include_deployment_checks=False)


def test_a_server_with_debug_on_does_not_start(server_env):
    result = start_check({**server_env, "DEBUG": "1"})

    assert result.returncode == 1
    assert "ecandidat.E008" in result.stderr


@pytest.mark.parametrize(
    ("debug", "mailers", "served"),
    [
        (True, CONSOLE, True),  # make run: no EMAIL_URL
        (True, {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}, True),  # the tests
        (True, SMTP, False),  # EMAIL_URL set: real candidates' mails
        (False, CONSOLE, False),
        (False, SMTP, False),
    ],
)
def test_the_mailbox_is_served_only_where_no_mail_leaves(debug, mailers, served):
    with override_settings(DEBUG=debug, MAILERS=mailers):
        assert mailbox.is_served() is served


@contextmanager
def project_urls(**overrides):
    """ecandidat/urls.py imported again under ``overrides`` (it decides when it is imported whether to mount the
    mailbox), then once more under the test settings."""
    try:
        with override_settings(**overrides):
            importlib.reload(root_urls)
            clear_url_caches()
            yield
    finally:
        importlib.reload(root_urls)
        clear_url_caches()


def _mail():
    return OutboundEmail.objects.create(
        to="estelle@example.org",
        code="CPT_MIN_ID_OUBLIE",
        language="en",
        subject="Reset your password",
        body="Open https://ecandidat.example.org/accounts/password/reset/key/abc/ now.",
    )


def test_make_run_keeps_its_anonymous_mailbox(client, db, django_assert_num_queries):
    email = _mail()
    # request savepoint, the outbox rows, release (anonymous: no session)
    with project_urls(DEBUG=True, MAILERS=CONSOLE), django_assert_num_queries(3):
        response = client.get("/boite-mail/")

    assert response.status_code == 200
    assert f'href="/boite-mail/{email.public_id}/"' in response.content.decode()


def test_debug_with_an_smtp_server_mounts_no_mailbox(db):
    with project_urls(DEBUG=True, MAILERS=SMTP), pytest.raises(Resolver404):
        resolve("/boite-mail/", urlconf="ecandidat.urls")


def test_the_mailbox_views_refuse_with_an_smtp_server_even_if_mounted(db):
    email = _mail()
    factory = RequestFactory()
    with override_settings(DEBUG=True, MAILERS=SMTP):
        with pytest.raises(Http404):
            mailbox.mailbox(factory.get("/boite-mail/"))
        with pytest.raises(Http404):
            mailbox.mailbox_detail(factory.get("/"), public_id=email.public_id)


def test_a_production_with_debug_on_mounts_no_mailbox(server_env):
    script = "from django.urls import resolve; resolve('/boite-mail/')"

    production = manage("shell", "-c", script, **{**server_env, "DEBUG": "1"})
    development = manage("shell", "-c", script, **_dev_env(server_env))

    assert production.returncode == 1
    assert "Resolver404" in production.stderr
    assert development.returncode == 0, development.stderr


def test_the_development_settings_pass_their_checks(server_env):
    result = manage("check", **_dev_env(server_env))

    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("raw", "level"), [("info", "INFO"), (" Warning ", "WARNING"), ("debug", "DEBUG"), ("", "INFO")]
)
def test_log_level_in_any_case(monkeypatch, raw, level):
    monkeypatch.setenv("LOG_LEVEL", raw)

    assert env_log_level("LOG_LEVEL", "INFO") == level


def test_log_level_unset_is_the_default(monkeypatch):
    monkeypatch.delenv("LOG_LEVEL", raising=False)

    assert env_log_level("LOG_LEVEL", "INFO") == "INFO"


@pytest.mark.parametrize("raw", ["verbose", "10", "info,debug"])
def test_an_unknown_log_level_names_the_variable_and_the_levels(monkeypatch, raw):
    monkeypatch.setenv("LOG_LEVEL", raw)

    with pytest.raises(ImproperlyConfigured) as refused:
        env_log_level("LOG_LEVEL", "INFO")

    assert str(refused.value) == (
        f"LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL (any case), not {raw!r}."
    )


def test_a_server_with_a_lower_case_log_level_starts(server_env):
    result = start_check({**server_env, "LOG_LEVEL": "info"})

    assert result.returncode == 0, result.stderr
