"""A PostgreSQL server that takes the connection and never answers (a failover under way, a stuck pooler) held every
page and /healthz until gunicorn killed the worker at 60 s (nginx's 502 after a minute), and the cron mail sweeper
for ever (cron started another each minute). The connection now fails after DATABASE_CONNECT_TIMEOUT seconds, like a
refused one, and TCP keepalives find a server gone away on a kept connection (ecandidat/settings/base.py)."""

import runpy
import socket
import threading
import time

import pytest
from django.conf import settings as django_settings
from django.core.exceptions import ImproperlyConfigured
from django.db import OperationalError
from django.db.utils import ConnectionHandler

BASE_SETTINGS = django_settings.BASE_DIR / "ecandidat" / "settings" / "base.py"
POSTGRES_URL = "postgres://ecandidat@db.univ.example:5432/ecandidat"
KEEPALIVES = {"keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 5, "keepalives_count": 3}


def _databases(monkeypatch, **environment: str) -> dict:
    monkeypatch.delenv("DATABASE_CONNECT_TIMEOUT", raising=False)
    monkeypatch.delenv("REDIS_URL", raising=False)  # without Redis: the "cache" alias (accounts/routers.py)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(BASE_SETTINGS))["DATABASES"]


def test_postgresql_connections_time_out_and_keep_alive(monkeypatch):
    databases = _databases(monkeypatch, DATABASE_URL=POSTGRES_URL)

    for alias in ("default", "cache"):  # the rate limits' own connection too
        options = databases[alias]["OPTIONS"]
        assert options["connect_timeout"] == 5, alias
        assert {name: options[name] for name in KEEPALIVES} == KEEPALIVES, alias
        assert "statement_timeout" not in options.get("options", ""), alias  # the nightly batches run long


def test_the_timeout_is_set_by_the_environment_and_the_url_wins(monkeypatch):
    assert (
        _databases(monkeypatch, DATABASE_URL=POSTGRES_URL, DATABASE_CONNECT_TIMEOUT="12")["default"]["OPTIONS"][
            "connect_timeout"
        ]
        == 12
    )
    from_url = _databases(monkeypatch, DATABASE_URL=f"{POSTGRES_URL}?connect_timeout=20&keepalives_idle=60")
    assert from_url["default"]["OPTIONS"]["connect_timeout"] == 20
    assert from_url["default"]["OPTIONS"]["keepalives_idle"] == 60


@pytest.mark.parametrize("value", ["0", "1", "-5", "cinq"])
def test_a_timeout_libpq_would_not_keep_stops_the_start(monkeypatch, value):
    # libpq: 0 waits for ever, 1 is taken as 2.
    with pytest.raises(ImproperlyConfigured, match="DATABASE_CONNECT_TIMEOUT must be"):
        _databases(monkeypatch, DATABASE_URL=POSTGRES_URL, DATABASE_CONNECT_TIMEOUT=value)


def test_sqlite_gets_none_of_them(monkeypatch, tmp_path):
    databases = _databases(monkeypatch, DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}")

    assert set(databases) == {"default"}
    assert set(databases["default"]["OPTIONS"]) == {"init_command", "transaction_mode", "timeout"}


@pytest.fixture
def silent_server():
    """A TCP server that accepts connections and never answers (PostgreSQL in a failover, a stuck pooler)."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue
            except OSError:
                return

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join(timeout=5)
    for connection in accepted:  # a connection attempt still waiting (the old settings) fails at once
        connection.close()
    listener.close()


@pytest.mark.integration
def test_a_server_that_never_answers_fails_the_connection_within_the_timeout(
    monkeypatch, silent_server, django_db_blocker
):
    databases = _databases(
        monkeypatch,
        DATABASE_URL=f"postgres://ecandidat@127.0.0.1:{silent_server}/ecandidat",
        DATABASE_CONNECT_TIMEOUT="2",
    )
    wrapper = ConnectionHandler({"default": databases["default"]})["default"]  # its own handler, not the tests'

    outcome: dict[str, object] = {}

    def connect() -> None:
        started = time.monotonic()
        try:
            wrapper.ensure_connection()
        except Exception as error:
            outcome["error"] = error
        outcome["seconds"] = time.monotonic() - started

    attempt = threading.Thread(target=connect, daemon=True)
    with django_db_blocker.unblock():  # this connection only: not the tests' database
        attempt.start()
        attempt.join(timeout=15)  # before: no answer, no error, until gunicorn's kill

    assert not attempt.is_alive(), "the connection attempt still waits after 15 s"
    assert isinstance(outcome["error"], OperationalError)
    assert "timeout expired" in str(outcome["error"])
    assert 1.5 < outcome["seconds"] < 15
