"""The login lines of the accounts' history (accounts.services.record_login) are deleted after
LOGIN_HISTORY_RETENTION_DAYS by the nightly prune_login_history, in chunks, each its own transaction; every other
line of the history stays (an address changed, a state changed by staff)."""

import datetime
import io

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from accounts import services
from accounts.enums import LoginMethod
from accounts.services import _record_account_change, prune_login_history, record_login
from ecandidat.batches import Report
from ecandidat.models import BatchRun

DAYS = 30


def _age(entries, days: int) -> None:
    LogEntry.objects.filter(pk__in=[entry.pk for entry in entries]).update(
        action_time=timezone.now() - datetime.timedelta(days=days)
    )


def _logins(user, count: int, *, days: int) -> list[LogEntry]:
    for _ in range(count):
        record_login(user=user, method=LoginMethod.PASSWORD)
    entries = list(LogEntry.objects.filter(change_message="Connexion par mot de passe").order_by("-pk")[:count])
    _age(entries, days)
    return entries


@pytest.fixture(autouse=True)
def _retention(settings):
    settings.LOGIN_HISTORY_RETENTION_DAYS = DAYS


def test_old_login_lines_go_recent_ones_and_other_lines_stay(candidate_user, centre_manager, central_manager):
    old_candidate = _logins(candidate_user, 2, days=DAYS + 1)
    old_staff = [entry.pk for entry in _logins(centre_manager, 1, days=DAYS + 1)]
    recent = [entry.pk for entry in _logins(candidate_user, 1, days=DAYS - 1)]
    # Old lines that are not logins: a change by staff, and a line by the account itself with other words.
    _record_account_change(actor=central_manager, account=candidate_user, change_message="Connexion par mot de passe")
    _record_account_change(actor=candidate_user, account=candidate_user, change_message="Adresse mail modifiée")
    others = list(LogEntry.objects.order_by("-pk")[:2])
    _age(others, DAYS + 100)
    # A line about another object, with a login's words.
    unrelated = LogEntry.objects.create(
        user=candidate_user,
        object_id="1",
        object_repr="x",
        action_flag=CHANGE,
        change_message="Connexion par l'ENT (CAS)",
    )
    _age([unrelated], DAYS + 100)

    out = io.StringIO()
    call_command("prune_login_history", stdout=out)

    assert "prune_login_history: login lines deleted: 3" in out.getvalue()
    kept = set(LogEntry.objects.values_list("pk", flat=True))
    assert kept == {*recent, *(entry.pk for entry in others), unrelated.pk}
    assert not kept & {*(entry.pk for entry in old_candidate), *old_staff}
    run = BatchRun.objects.get(name="prune_login_history")
    assert (run.status, run.counts) == (BatchRun.Status.FINISH, {"login lines deleted": 3})


def test_a_dry_run_counts_and_deletes_nothing(candidate_user):
    _logins(candidate_user, 2, days=DAYS + 1)

    out = io.StringIO()
    call_command("prune_login_history", "--dry-run", stdout=out)

    assert "login lines to delete: 2" in out.getvalue()
    assert LogEntry.objects.count() == 2


def test_each_chunk_is_one_delete_and_the_limit_leaves_the_rest_for_the_next_run(
    candidate_user, mocker, django_assert_num_queries
):
    mocker.patch.object(services, "LOGIN_HISTORY_CHUNK", 2)
    _logins(candidate_user, 5, days=DAYS + 1)
    report = Report()
    services.login_history_rows(before=timezone.now())  # the accounts' content types, cached per process

    # Two chunks, each its own transaction (a savepoint in the test's) around one DELETE … IN (SELECT … LIMIT 2),
    # then one EXISTS: something is left.
    with django_assert_num_queries(7):
        prune_login_history(report, dry_run=False, limit=2)

    assert report.counts == {"login lines deleted": 4, "chunks left for the next run": 1}
    assert LogEntry.objects.count() == 1

    report = Report()
    prune_login_history(report, dry_run=False, limit=None)

    assert report.counts == {"login lines deleted": 1}
    assert not LogEntry.objects.exists()


def test_a_fault_midway_keeps_the_deleted_chunks_and_the_next_run_finishes(candidate_user, mocker):
    mocker.patch.object(services, "LOGIN_HISTORY_CHUNK", 2)
    _logins(candidate_user, 5, days=DAYS + 1)
    real = services._delete_login_history_chunk
    calls = []

    def fail_on_the_second_chunk(rows, *, size):
        calls.append(size)
        if len(calls) == 2:  # the second chunk's DELETE done, then the connection lost before its commit
            with transaction.atomic():
                real(rows, size=size)
                raise RuntimeError("connection lost")
        return real(rows, size=size)

    mocker.patch.object(services, "_delete_login_history_chunk", side_effect=fail_on_the_second_chunk)

    with pytest.raises(RuntimeError, match="connection lost"):
        call_command("prune_login_history", stdout=io.StringIO())

    run = BatchRun.objects.get(name="prune_login_history")
    assert (run.status, run.counts) == (BatchRun.Status.ERROR, {"login lines deleted": 2})
    assert LogEntry.objects.count() == 3  # the first chunk's lines went, none of the failed chunk's

    mocker.stopall()
    call_command("prune_login_history", stdout=io.StringIO())

    assert not LogEntry.objects.exists()
    assert BatchRun.objects.filter(name="prune_login_history").latest("pk").counts == {"login lines deleted": 3}
