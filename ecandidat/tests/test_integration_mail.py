"""The outbox end to end: a committed enqueue_email goes through Redis to a real Celery worker, which sends it to a
real SMTP server; an SMTP outage is recorded on the row and the sweeper sends it later, once."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from ecandidat.emails import enqueue_email
from ecandidat.models import OutboundEmail
from ecandidat.tasks import sweep_outbox
from ecandidat.tests.plugins.services import TEMPLATES_DIR, wait_until

pytestmark = pytest.mark.integration


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
        # Nothing leaves before the commit.
        assert OutboundEmail.objects.get(pk=email.pk).status == OutboundEmail.Status.PENDING
    return email


def _status(email):
    email.refresh_from_db()
    return email.status


def test_committed_email_is_sent_by_the_worker(test_templates, smtp_server, celery_worker_process):
    email = _enqueue("camille.martin@example.org")

    wait_until(lambda: _status(email) == OutboundEmail.Status.SENT, timeout=30, message="the row to be SENT")

    assert email.sent_at is not None
    assert email.attempts == 1
    assert email.last_error == ""
    assert len(smtp_server.messages) == 1
    message = smtp_server.messages[0]
    assert message["Subject"] == "Integration check for Camille Martin"
    assert message["To"] == "camille.martin@example.org"
    assert message["X-Envelope-To"] == "camille.martin@example.org"
    assert "went through the outbox, Redis, a Celery worker and SMTP" in message.get_content()
    # The worker logs the delivery once the SMTP exchange is over: a moment after the peer holds the message.
    wait_until(
        lambda: "sent to camille.martin@example.org" in celery_worker_process.log(),
        timeout=10,
        message="the worker's log of the delivery",
    )


def test_smtp_outage_is_recorded_then_the_sweeper_sends_once(test_templates, smtp_server, celery_worker_process):
    """SMTP down for a while then back: the worker's attempt fails and sets the row's next attempt (the task itself
    never retries); once it is due, the sweeper (the beat task, run by the worker) sends it once."""
    smtp_server.stop()
    email = _enqueue("sacha.durand@example.org")

    def attempted() -> bool:
        email.refresh_from_db()
        return email.attempts >= 1 and email.status == OutboundEmail.Status.PENDING

    wait_until(attempted, timeout=30, message="a failed attempt")
    assert email.sent_at is None
    assert email.last_error.startswith("ConnectionRefusedError")
    # The back-off: a minute after the failure, not seconds, and not several attempts in a row.
    assert timedelta(seconds=50) < email.next_attempt_at - timezone.now() <= timedelta(minutes=1)
    sweep_outbox.delay()  # beat, a few seconds later: not due yet
    smtp_server.start()
    wait_until(lambda: "ecandidat.tasks.sweep_outbox" in celery_worker_process.log(), timeout=30, message="a sweep")
    assert _status(email) == OutboundEmail.Status.PENDING

    # A minute later the next attempt is due, and the SMTP server is back.
    OutboundEmail.objects.filter(pk=email.pk).update(next_attempt_at=timezone.now())
    sweep_outbox.delay()
    wait_until(lambda: _status(email) == OutboundEmail.Status.SENT, timeout=30, message="the swept send")

    assert email.attempts == 2
    assert email.sent_at is not None
    assert email.last_error == ""
    assert [m["To"] for m in smtp_server.messages] == ["sacha.durand@example.org"]
    assert smtp_server.messages[0]["Message-ID"] == f"<{email.public_id}@ecandidat.localhost>"
