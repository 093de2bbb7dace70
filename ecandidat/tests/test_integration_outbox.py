"""Fault injection against real peers (issue 9): each test breaks one thing (the broker at commit, the SMTP server,
the worker in the middle of DATA, two sweepers racing, the embedded default without Redis) and asserts exactly one
message delivered at the SMTP server and no lost state in the outbox.

The worker is a real ``celery worker`` process (``ecandidat.tests.plugins.services``); the sweeper is
``send_pending_mails``, run here or by the worker through the ``sweep_outbox`` task (what beat sends). "A minute
later" is simulated by moving a row's ``next_attempt_at`` into the past: the code compares it with the clock, the
test does not wait.
"""

import logging
import os
import threading
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
import redis
from django.core.cache import caches
from django.core.management import call_command
from django.db import connections, transaction
from django.urls import reverse
from django.utils import timezone

from ecandidat import cache as fail_open
from ecandidat.celery import app
from ecandidat.emails import enqueue_email, send_pending_mails
from ecandidat.maintenance import forget_switch
from ecandidat.models import OutboundEmail
from ecandidat.tasks import sweep_outbox
from ecandidat.tests.plugins.services import TEMPLATES_DIR, wait_until

pytestmark = pytest.mark.integration

LEASE_SECONDS = 4


@pytest.fixture
def worker_env():
    # A short lease, so that the killed worker's row comes back within the test.
    return {"OUTBOX_LEASE_SECONDS": str(LEASE_SECONDS)}


@pytest.fixture
def test_templates(settings):
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [*settings.TEMPLATES[0]["DIRS"], TEMPLATES_DIR]}]


def _enqueue(to: str) -> OutboundEmail:
    with transaction.atomic():
        email = enqueue_email(
            to=to,
            code="TEST_INTEGRATION",
            template_base="ecandidat_tests/integration",
            context={"name": "Camille Martin"},
            language="en",
        )
    return email


def _row(email: OutboundEmail) -> OutboundEmail:
    email.refresh_from_db()
    return email


def _make_due(email: OutboundEmail) -> None:
    """Time passes: the row's next attempt (the minute left to its task, or its back-off) has come."""
    OutboundEmail.objects.filter(pk=email.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))


def _message_id(email: OutboundEmail) -> str:
    return f"<{email.public_id}@ecandidat.localhost>"


@pytest.fixture
def publish_through_proxy(celery_worker_process, redis_proxy):
    """This process publishes its tasks to Redis through ``redis_proxy`` (the worker reads Redis directly)."""
    database = urlsplit(os.environ["REDIS_URL"]).path or "/0"
    saved = app.conf.broker_url

    def repoint(url):
        # Kombu keeps one pool per broker URL: forgetting the app's references is enough, closing them is not
        # (the next test on the same URL would get the closed pool back).
        app.conf.broker_url = url
        app._pool = None
        app.amqp._producer_pool = None

    repoint(redis_proxy.url + database)
    try:
        yield redis_proxy
    finally:
        repoint(saved)


def test_broker_unreachable_at_commit_row_waits_then_the_sweeper_sends_it_once(
    test_templates, smtp_server, publish_through_proxy, celery_worker_process, caplog
):
    publish_through_proxy.close()
    with caplog.at_level(logging.WARNING, logger="ecandidat.emails"):
        email = _enqueue("camille.martin@example.org")  # commits; the publish fails; nothing raised

    assert [r.getMessage().split(" (")[0] for r in caplog.records] == [
        f"mail {email.pk} left for the sweeper: broker unreachable"
    ]
    assert caplog.records[0].getMessage().split(" (")[1].startswith("OperationalError")
    email = _row(email)
    assert (email.status, email.attempts) == (OutboundEmail.Status.PENDING, 0)

    publish_through_proxy.open()
    _make_due(email)
    sweep_outbox.delay()  # what beat sends every minute, through the proxy again

    wait_until(lambda: _row(email).status == OutboundEmail.Status.SENT, timeout=30, message="the swept send")
    assert email.attempts == 1
    assert email.lease_until is None
    assert len(smtp_server.messages) == 1
    assert smtp_server.messages[0]["Message-ID"] == _message_id(email)
    assert smtp_server.messages[0]["To"] == "camille.martin@example.org"


def test_worker_killed_during_smtp_data_the_sweeper_resends_after_the_lease_once(
    test_templates, smtp_server, smtp_mailer, celery_worker_process
):
    smtp_server.hold()
    email = _enqueue("sacha.durand@example.org")

    # The worker claimed the row and is in the middle of DATA: the server has the message but has not answered.
    wait_until(smtp_server.held.is_set, timeout=30, message="the worker to reach DATA")
    celery_worker_process.process.kill()  # kill -9
    celery_worker_process.process.wait(timeout=10)
    smtp_server.release(accept=False)  # the server never said 250: nothing was delivered
    email = _row(email)
    assert (email.status, email.attempts) == (OutboundEmail.Status.SENDING, 1)
    assert smtp_server.messages == []

    # Within the lease the sweeper leaves the row alone (its sender may still be alive)...
    assert send_pending_mails() == {}
    # ... after it, it sends it again, with the same Message-ID.
    wait_until(lambda: timezone.now() > _row(email).lease_until, timeout=LEASE_SECONDS + 5, message="the lease")
    assert send_pending_mails() == {"sent": 1}

    email = _row(email)
    assert (email.status, email.attempts, email.lease_until) == (OutboundEmail.Status.SENT, 2, None)
    assert [m["Message-ID"] for m in smtp_server.messages] == [_message_id(email)]
    assert smtp_server.messages[0]["To"] == "sacha.durand@example.org"


def test_two_sweepers_at_once_send_each_mail_once(transactional_db, test_templates, smtp_mailer, mocker):
    """Two sweepers (two threads, two PostgreSQL connections) started together over the same due rows."""
    if connections["default"].vendor != "postgresql":
        pytest.fail("This test races two database connections: run it on PostgreSQL (DATABASE_URL).")
    # Rows whose first attempt never ran (as after a broker outage), all due.
    mocker.patch("ecandidat.emails.dispatch")
    emails = [_enqueue(f"candidat{number}@example.org") for number in range(12)]
    OutboundEmail.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))

    start = threading.Barrier(2)
    results: list = []

    def sweeper():
        try:
            start.wait(timeout=10)
            results.append(send_pending_mails())
        finally:
            connections.close_all()

    threads = [threading.Thread(target=sweeper) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert len(results) == 2
    assert sum(result["sent"] for result in results) == 12
    assert all(set(result) <= {"sent", "skipped"} for result in results)
    message_ids = sorted(m["Message-ID"] for m in smtp_mailer.messages)
    assert message_ids == sorted(_message_id(email) for email in emails)
    assert set(OutboundEmail.objects.values_list("status", "attempts")) == {(OutboundEmail.Status.SENT, 1)}


def test_embedded_default_smtp_down_then_up_sends_once(
    transactional_db, test_templates, smtp_server, smtp_mailer, settings
):
    """No Redis: the task runs in-process after the commit; its failure waits for cron's send_pending_mails."""
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.CELERY_TASK_EAGER_PROPAGATES = False
    smtp_server.stop()

    email = _enqueue("lou.bernard@example.org")  # commits: the first attempt runs right away and fails

    email = _row(email)
    assert (email.status, email.attempts) == (OutboundEmail.Status.PENDING, 1)
    assert email.last_error.startswith("ConnectionRefusedError")
    assert timezone.now() < email.next_attempt_at <= timezone.now() + timedelta(minutes=1)
    call_command("send_pending_mails", verbosity=0)  # cron, a few seconds later: not due yet
    assert _row(email).attempts == 1

    smtp_server.start()
    _make_due(email)
    call_command("send_pending_mails", verbosity=0)

    email = _row(email)
    assert (email.status, email.attempts, email.last_error) == (OutboundEmail.Status.SENT, 2, "")
    assert [m["Message-ID"] for m in smtp_server.messages] == [_message_id(email)]


def test_an_address_the_server_refuses_for_good_fails_at_once_and_the_others_go(
    transactional_db, test_templates, smtp_server, smtp_mailer, settings, caplog
):
    """The SMTP server answers 550 to one RCPT TO (no such mailbox) and 450 (mailbox busy) to another: the first
    mail is failed after its one attempt, visibly, instead of being tried again for 48 hours; the second waits for
    its next attempt; the mail to a good address is sent."""
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.CELERY_TASK_EAGER_PROPAGATES = False
    smtp_server.refuse = {
        "inconnu@example.org": "550 5.1.1 No such user here",
        "occupe@example.org": "450 4.2.1 Mailbox busy, try again later",
    }

    with caplog.at_level(logging.ERROR, logger="ecandidat.emails"):
        refused = _row(_enqueue("inconnu@example.org"))  # commits: the first attempt runs at once
    busy = _row(_enqueue("occupe@example.org"))
    good = _row(_enqueue("lou.bernard@example.org"))

    assert (refused.status, refused.attempts) == (OutboundEmail.Status.FAILED, 1)
    assert "550" in refused.last_error
    assert "No such user here" in refused.last_error
    assert "refused this address for good" in caplog.text
    assert (busy.status, busy.attempts) == (OutboundEmail.Status.PENDING, 1)
    assert "450" in busy.last_error
    assert good.status == OutboundEmail.Status.SENT
    assert [m["To"] for m in smtp_server.messages] == ["lou.bernard@example.org"]

    _make_due(refused)  # a failed mail is not tried again (the admin's "Renvoyer" would)
    _make_due(busy)
    smtp_server.refuse = {}
    assert send_pending_mails() == {"sent": 1}
    assert _row(busy).status == OutboundEmail.Status.SENT
    assert _row(refused).status == OutboundEmail.Status.FAILED


@pytest.fixture
def cache_through_proxy(settings, redis_proxy):
    """Both cache aliases on the real Redis, reached through ``redis_proxy`` (production settings' backend)."""
    database = urlsplit(os.environ["REDIS_URL"]).path or "/0"
    location = redis_proxy.url + database
    backend = {
        "BACKEND": "ecandidat.cache.FailOpenRedisCache",
        "LOCATION": location,
        "KEY_PREFIX": f"outbox-test-{os.getpid()}",
        "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
    }
    settings.CACHES = {
        "default": backend,
        "maintenance": {**backend, "KEY_PREFIX": "maintenance", "TIMEOUT": 30},
        "pages": {**backend, "KEY_PREFIX": "pages", "TIMEOUT": 60},
    }
    settings.REDIS_URL = location
    fail_open._down_until.clear()
    forget_switch()
    yield redis_proxy
    # Only this test's keys: clear() would FLUSHDB the whole Redis database, broker queues included.
    direct = redis.Redis.from_url(os.environ["REDIS_URL"])
    for key in direct.scan_iter(match=f"{backend['KEY_PREFIX']}:*"):
        direct.delete(key)
    direct.close()
    fail_open._down_until.clear()
    forget_switch()


def test_redis_going_away_degrades_pages_login_and_healthz_then_recovers(
    transactional_db, cache_through_proxy, client, candidate_user, persona_password, mocker
):
    caches["default"].set("probe", "up")
    assert caches["default"].get("probe") == "up"  # the real Redis answers through the proxy
    assert client.get(reverse("healthz")).json()["status"] == "ok"

    cache_through_proxy.close()  # pooled connections are cut, new ones refused
    forget_switch()

    response = client.post(reverse("account_login"), {"login": candidate_user.username, "password": persona_password})
    assert response.status_code == 302
    assert client.get(reverse("applications:personal_details")).status_code == 200
    assert client.get(reverse("offers:catalogue")).status_code == 200
    health = client.get(reverse("healthz"))
    assert health.status_code == 200
    assert health.json()["status"] == "degraded"
    assert health.json()["checks"]["broker"].startswith("error: ")

    cache_through_proxy.open()
    clock = mocker.patch("ecandidat.cache.monotonic", return_value=10**9)  # the 5 s pause has passed
    assert caches["default"].get("probe") == "up"
    assert clock.called
    assert fail_open._down_until == {}
    assert client.get(reverse("healthz")).json()["status"] == "ok"
