"""``manage.py nightly`` after the database dropped its connection in the middle of a batch (PostgreSQL restarted or
failed over): the batches share one connection, so the next ones must not inherit the dead one."""

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from applications.services import nightly as services
from ecandidat.management.commands import nightly
from ecandidat.models import BatchRun

AFTER = ["withdraw_expired_confirmations", "recompute_waiting_list_ranks", "prune_outbox"]


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)  # the batches commit, and the connection is really closed
def test_the_batches_after_a_lost_connection_run_on_a_new_one_and_are_recorded(monkeypatch):
    assert connection.vendor == "postgresql", "integration tests run on PostgreSQL (DATABASE_URL)"

    def lose_the_connection(report, *, dry_run, limit):
        # What a PostgreSQL restart does to the batch in progress: the server ends its session.
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(pg_backend_pid())")

    monkeypatch.setattr(services, "remind_favourable_decisions", lose_the_connection)
    monkeypatch.setattr(nightly, "BATCHES", ["remind_favourable_decisions", *AFTER])
    err = io.StringIO()

    with pytest.raises(CommandError, match=r"1 batch\(es\) failed: remind_favourable_decisions\."):
        call_command("nightly", stdout=io.StringIO(), stderr=err)

    assert "remind_favourable_decisions failed" in err.getvalue()
    finished = BatchRun.objects.filter(status=BatchRun.Status.FINISH).order_by("pk")
    assert list(finished.values_list("name", flat=True)) == AFTER
    # Its own run is recorded too, on a new connection, as an error with what happened.
    lost = BatchRun.objects.get(name="remind_favourable_decisions")
    assert (lost.status, lost.finished_at is not None) == (BatchRun.Status.ERROR, True)
    assert "terminating connection" in lost.errors or "closed" in lost.errors
