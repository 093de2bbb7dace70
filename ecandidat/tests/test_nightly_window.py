"""``manage.py nightly`` starts only inside the maintenance window, read in TIME_ZONE, when the window is enforced.

deploy/crontab read its hours in Europe/Paris: a university in another TIME_ZONE (America/Martinique, Pacific/Noumea)
ran the withdrawals, archiving and mails in the middle of its day, candidates on the site. The command now refuses
(stderr, exit status 1, nothing run), unless ``--force``; ``--dry-run`` changes nothing and runs at any time. The
test settings turn the window off (MAINTENANCE_WINDOW_ENFORCED = False): the tests below turn it on."""

import datetime
import io
import os
import subprocess
import sys
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from ecandidat.management.commands import nightly
from ecandidat.models import BatchRun

PARIS = ZoneInfo("Europe/Paris")
MARTINIQUE = ZoneInfo("America/Martinique")
NOON = datetime.datetime(2027, 1, 15, 12, 0, tzinfo=PARIS)
NIGHT = datetime.datetime(2027, 1, 15, 23, 0, tzinfo=PARIS)  # deploy/crontab's hour


@pytest.fixture
def enforced(settings, monkeypatch):
    """The production window (22:45-06:00, enforced) and one quick batch in place of the whole chain."""
    settings.MAINTENANCE_WINDOW_ENFORCED = True
    settings.MAINTENANCE_START = datetime.time(22, 45)
    settings.MAINTENANCE_END = datetime.time(6, 0)
    monkeypatch.setattr(nightly, "BATCHES", ["prune_outbox"])


def _nightly(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command("nightly", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.mark.django_db
def test_outside_the_window_nightly_refuses_and_runs_nothing(enforced):
    with time_machine.travel(NOON, tick=False), pytest.raises(CommandError) as refused:
        _nightly()

    message = str(refused.value)
    assert "it is 12:00 in Europe/Paris, outside the maintenance window (22:45-06:00); nothing was run" in message
    assert "CRON_TZ=Europe/Paris" in message
    assert "--force" in message
    assert not BatchRun.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "moment",
    [NIGHT, datetime.datetime(2027, 1, 16, 5, 59, tzinfo=PARIS), datetime.datetime(2027, 7, 15, 23, 0, tzinfo=PARIS)],
)
def test_inside_the_window_nightly_runs(enforced, moment):
    with time_machine.travel(moment, tick=False):
        out, _err = _nightly()

    assert "prune_outbox" in out
    assert set(BatchRun.objects.values_list("name", "dry_run")) == {("nightly", False), ("prune_outbox", False)}


@pytest.mark.django_db
def test_force_runs_the_batches_in_the_daytime(enforced):
    with time_machine.travel(NOON, tick=False):
        out, _err = _nightly("--force")

    assert set(BatchRun.objects.values_list("name", "dry_run")) == {("nightly", False), ("prune_outbox", False)}


@pytest.mark.django_db
def test_a_dry_run_runs_at_any_time(enforced):
    with time_machine.travel(NOON, tick=False):
        _nightly("--dry-run")

    assert set(BatchRun.objects.values_list("name", "dry_run")) == {("nightly", True), ("prune_outbox", True)}


@pytest.mark.django_db
def test_the_window_not_enforced_lets_it_run_at_any_time(enforced, settings):
    settings.MAINTENANCE_WINDOW_ENFORCED = False  # a test instance; the test settings

    with time_machine.travel(NOON, tick=False):
        _nightly()

    assert BatchRun.objects.filter(name="prune_outbox").exists()


@pytest.mark.django_db
def test_the_window_is_read_in_time_zone_overseas(enforced, settings):
    """Martinique (UTC-4): the crontab left at Europe/Paris started at 23:00 Paris, 18:00 in Fort-de-France."""
    settings.TIME_ZONE = "America/Martinique"

    with time_machine.travel(NIGHT, tick=False), pytest.raises(CommandError, match="18:00 in America/Martinique"):
        _nightly()
    assert not BatchRun.objects.exists()

    with time_machine.travel(datetime.datetime(2027, 1, 15, 23, 0, tzinfo=MARTINIQUE), tick=False):
        _nightly()
    assert BatchRun.objects.filter(name="prune_outbox").exists()


def test_manage_py_nightly_outside_the_window_says_why_on_stderr_and_exits_non_zero(tmp_path):
    """As cron runs it (deploy/manage.sh nightly): the refusal on stderr (mailed to MAILTO), exit status 1, no batch
    started (the database is not even migrated). A window of an hour, starting in two hours, is never now."""
    now = timezone.now().astimezone(PARIS)
    start, end = now + datetime.timedelta(hours=2), now + datetime.timedelta(hours=3)
    database = tmp_path / "not-migrated.sqlite3"
    env = {name: os.environ[name] for name in ("PATH", "HOME", "LANG") if name in os.environ}
    result = subprocess.run(
        [sys.executable, "manage.py", "nightly"],
        env={
            **env,
            "DJANGO_SETTINGS_MODULE": "ecandidat.settings.dev",
            "DATABASE_URL": f"sqlite:///{database}",
            "TIME_ZONE": "Europe/Paris",
            "MAINTENANCE_WINDOW_ENFORCED": "1",
            "MAINTENANCE_START": f"{start:%H:%M}",
            "MAINTENANCE_END": f"{end:%H:%M}",
        },
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 1, result.stderr
    assert "outside the maintenance window" in result.stderr
    assert "nothing was run" in result.stderr
    assert result.stdout == ""
