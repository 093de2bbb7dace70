"""After a failed publish, a process leaves its next publishes to the sweepers for ``BROKER_REST_SECONDS``.

A broker that accepts connections and never answers costs each publish its socket timeout (5 s): before this rest,
every request that queued a mail or a task while the broker was silent waited that long for each one. The work is
in the database (an outbox row, a scan to do): a skipped publish is delayed until the sweeper's next run, never lost.
"""

import pytest
from kombu.exceptions import OperationalError

from ecandidat import celery as celery_module
from ecandidat.celery import BROKER_REST_SECONDS, app, publish_or_leave


class Broker:
    """What ``publish_or_leave`` hands the task to: counts the calls, fails while ``down``."""

    def __init__(self):
        self.calls = 0
        self.down = True

    def __call__(self):
        self.calls += 1
        if self.down:
            raise OperationalError("Timeout reading from socket")


@pytest.fixture
def clock(monkeypatch):
    """The broker as in production (not in-process), this module's clock under the test's hand."""
    now = [1000.0]
    monkeypatch.setitem(app.conf, "task_always_eager", False)
    monkeypatch.setattr(celery_module, "_broker_failed_at", None)
    monkeypatch.setattr(celery_module, "monotonic", lambda: now[0])
    return now


def test_a_failed_publish_rests_the_broker_then_tries_again(clock, caplog):
    broker = Broker()

    assert publish_or_leave(broker, "mail 1 left for the sweeper") is False
    assert broker.calls == 1
    assert "mail 1 left for the sweeper: broker unreachable (OperationalError: Timeout" in caplog.text

    clock[0] += BROKER_REST_SECONDS - 1
    assert publish_or_leave(broker, "mail 2 left for the sweeper") is False
    assert broker.calls == 1  # not tried: it would have waited its timeout again
    assert f"mail 2 left for the sweeper: the broker failed {BROKER_REST_SECONDS - 1} s ago" in caplog.text

    clock[0] += 1
    broker.down = False
    assert publish_or_leave(broker, "mail 3 left for the sweeper") is True
    assert broker.calls == 2


def test_a_publish_that_succeeds_ends_the_rest(clock):
    broker = Broker()
    publish_or_leave(broker, "mail 1")
    clock[0] += BROKER_REST_SECONDS
    broker.down = False
    assert publish_or_leave(broker, "mail 2") is True

    broker.down = True
    clock[0] += 1
    publish_or_leave(broker, "mail 3")  # fails: a new rest from now
    clock[0] += BROKER_REST_SECONDS - 1
    assert publish_or_leave(broker, "mail 4") is False
    assert broker.calls == 3


def test_tasks_run_in_process_are_always_tried(clock, monkeypatch):
    # make run and the tests run tasks in-process: an error there is the task's, not a broker's to rest.
    monkeypatch.setitem(app.conf, "task_always_eager", True)
    broker = Broker()

    publish_or_leave(broker, "mail 1")
    publish_or_leave(broker, "mail 2")

    assert broker.calls == 2
    assert celery_module._broker_failed_at is None
