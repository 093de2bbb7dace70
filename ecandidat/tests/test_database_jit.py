"""PostgreSQL's JIT compilation is off in this deployment's sessions (``DATABASE_JIT``, ecandidat/settings/base.py):
the back office's lists at a large university's volume are estimated above ``jit_above_cost``, and compiling them
cost seconds for queries that run in a few hundred milliseconds."""

import runpy

import pytest
from django.conf import settings as django_settings
from django.db import connection

BASE_SETTINGS = django_settings.BASE_DIR / "ecandidat" / "settings" / "base.py"
POSTGRES_URL = "postgres://ecandidat@db.univ.example:5432/ecandidat"


def _database(monkeypatch, **environment: str) -> dict:
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(BASE_SETTINGS))["DATABASES"]["default"]


def test_postgresql_sessions_start_with_jit_off(monkeypatch):
    monkeypatch.delenv("DATABASE_JIT", raising=False)
    database = _database(monkeypatch, DATABASE_URL=POSTGRES_URL)

    assert database["OPTIONS"]["options"] == "-c jit=off"


def test_options_given_in_the_url_are_kept(monkeypatch):
    monkeypatch.delenv("DATABASE_JIT", raising=False)
    database = _database(monkeypatch, DATABASE_URL=f"{POSTGRES_URL}?options=-c%20statement_timeout%3D60000")

    assert database["OPTIONS"]["options"] == "-c statement_timeout=60000 -c jit=off"


def test_database_jit_leaves_the_servers_setting(monkeypatch):
    database = _database(monkeypatch, DATABASE_URL=POSTGRES_URL, DATABASE_JIT="1")

    assert "options" not in database.get("OPTIONS", {})


def test_sqlite_has_no_such_option(monkeypatch, tmp_path):
    database = _database(monkeypatch, DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}")

    assert "options" not in database["OPTIONS"]


@pytest.mark.integration
@pytest.mark.django_db
def test_the_connection_really_has_jit_off():
    assert connection.vendor == "postgresql"  # the integration runs are on PostgreSQL (.ci/run)
    with connection.cursor() as cursor:
        cursor.execute("SHOW jit")
        assert cursor.fetchone() == ("off",)
