"""Two faults of the outbox's peers that used to cost much more than one failed attempt.

A broker that takes the connection and never answers (Redis stuck, a half-open firewall): the publish after the
commit waited forever, and gunicorn killed the request after 60 s (502 for an action already committed). Now the
broker's socket times out (``CELERY_BROKER_TRANSPORT_OPTIONS``) and the row waits for the sweeper, as when the
broker refuses the connection.

A mail server that refuses the message itself for good (« 552 5.3.4 Message size exceeds fixed limit », or its
content, 5.6.x): the row was tried again for ``OUTBOX_RETRY_HOURS`` (17 attempts over 48 h) before it failed, and
only then could the central office resend it without its attachments. Now it fails at once, as for a recipient
refused for good, its ``last_error`` saying why.
"""

import json
import os
import smtplib
import socket
import subprocess
import sys
import threading
from datetime import timedelta

import pytest
import time_machine
from aiosmtpd.controller import Controller
from django.conf import settings as django_settings
from django.utils import timezone

from ecandidat import attachments
from ecandidat.attachments import AttachmentRef
from ecandidat.emails import enqueue_email, message_refused_for_good, resend_emails, send_pending_mails
from ecandidat.models import OutboundEmail
from ecandidat.tests.plugins.services import free_port

pytestmark = pytest.mark.django_db


def _enqueue(*refs: AttachmentRef) -> OutboundEmail:
    return enqueue_email(
        to="estelle@example.org",
        code="OUTBOX_CHECK",
        template_base="ecandidat/email/outbox_check",
        context={},
        language="fr",
        attachments=refs,
    )


def _committed(django_capture_on_commit_callbacks, *refs: AttachmentRef) -> OutboundEmail:
    with django_capture_on_commit_callbacks(execute=True):
        email = _enqueue(*refs)
    email.refresh_from_db()
    return email


# --- a broker that never answers ---------------------------------------------------------------------------------


class SilentBroker:
    """A TCP server on 127.0.0.1 that accepts every connection and never answers nor closes it."""

    def __init__(self):
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self._held: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def _accept(self):
        while True:
            try:
                connection, _address = self._server.accept()
            except OSError:  # closed by stop()
                return
            self._held.append(connection)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc_info):
        self._server.close()
        for connection in self._held:
            connection.close()
        self._thread.join(timeout=5)


# The web process publishing after its commit, with the project's settings on a broker (REDIS_URL) that never
# answers: its mail's first attempt (``dispatch``) and a task queued on commit (``Task.apply_async_on_commit``).
PUBLISH_AFTER_COMMIT = """
import json, sys, time
import django
django.setup()
from ecandidat.celery import app, registered_task
app.conf.task_always_eager = False  # as in production: the test settings run tasks in-process
from ecandidat.emails import dispatch
started = time.monotonic()
handed_over = dispatch(int(sys.argv[1]))
first = time.monotonic() - started
started = time.monotonic()
second_handed_over = dispatch(int(sys.argv[2]))
registered_task("ecandidat.tasks.sweep_outbox")._publish_quietly((), {})
after = time.monotonic() - started
print(json.dumps({
    "handed_over": handed_over, "second_handed_over": second_handed_over, "first": first, "after": after,
    "options": app.conf.broker_transport_options,
}))
"""

# Bound of the whole subprocess (Django's start included): a publish that never returns fails the test here instead
# of hanging the run. With the fix it returns after one socket timeout per publish.
RETURNS_WITHIN_SECONDS = 30


def test_a_broker_that_never_answers_leaves_the_mail_for_the_sweeper(django_capture_on_commit_callbacks, mailoutbox):
    with django_capture_on_commit_callbacks(execute=False):  # their first attempt is the subprocess's publish
        email = _enqueue()
        second = _enqueue()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "ecandidat.settings.test",
        "PYTHONPATH": str(django_settings.BASE_DIR),
    }

    with SilentBroker() as broker:
        env["REDIS_URL"] = f"redis://127.0.0.1:{broker.port}/0"
        try:
            result = subprocess.run(
                [sys.executable, "-c", PUBLISH_AFTER_COMMIT, str(email.pk), str(second.pk)],
                env=env,
                cwd=django_settings.BASE_DIR,
                capture_output=True,
                text=True,
                timeout=RETURNS_WITHIN_SECONDS,
                check=False,
            )
        except subprocess.TimeoutExpired:
            pytest.fail(f"the publish to a broker that never answers still waited after {RETURNS_WITHIN_SECONDS} s")

    assert result.returncode == 0, result.stderr
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    assert outcome["handed_over"] is False  # left for the sweeper
    assert f"mail {email.pk} left for the sweeper: broker unreachable" in result.stderr
    # Above the 1 s a worker's BRPOP waits for a task: the workers' own connections do not time out while idle.
    assert outcome["options"]["socket_timeout"] > 1
    assert outcome["first"] >= outcome["options"]["socket_timeout"]  # the first publish waited for the broker
    # The process's next publishes do not wait that timeout again, each: they are left to the sweepers at once
    # (a status change queueing three mails held its request 15 s while the broker was silent).
    assert outcome["second_handed_over"] is False
    assert outcome["after"] < 1
    assert f"mail {second.pk} left for the sweeper: the broker failed 0 s ago" in result.stderr
    assert "task ecandidat.tasks.sweep_outbox() not queued, left for its sweeper: the broker failed" in result.stderr
    for row in (email, second):
        row.refresh_from_db()
        assert (row.status, row.attempts) == (OutboundEmail.Status.PENDING, 0)

    with time_machine.travel(timezone.now() + timedelta(minutes=1, seconds=1)):
        assert send_pending_mails() == {"sent": 2}
    assert len(mailoutbox) == 2


# --- a message refused for good -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "outcome"),
    [
        (smtplib.SMTPDataError(552, b"5.3.4 Message size exceeds fixed limit"), "failed"),
        (smtplib.SMTPDataError(554, b"5.6.0 Message content rejected"), "failed"),
        (smtplib.SMTPDataError(550, "5.6.1 Media not supported"), "failed"),
        # Postfix refuses the size smtplib announces at MAIL FROM (SIZE), before any recipient.
        (smtplib.SMTPSenderRefused(552, b"5.3.4 Message size exceeds fixed limit", "ne-pas-repondre@x.org"), "failed"),
        # Tried again: a 4xx, a policy refusal (our configuration, our reputation), a 5xx that does not say what.
        (smtplib.SMTPDataError(452, b"4.3.1 Insufficient system storage"), "retry"),
        (smtplib.SMTPDataError(452, b"4.3.4 Message too big for now"), "retry"),
        (smtplib.SMTPDataError(554, b"5.7.1 Message rejected as spam"), "retry"),
        (smtplib.SMTPDataError(550, b"5.7.26 Unauthenticated email is not accepted (DMARC)"), "retry"),
        (smtplib.SMTPDataError(554, b"Transaction failed"), "retry"),
        (smtplib.SMTPSenderRefused(553, b"5.7.1 Sender not allowed", "ne-pas-repondre@x.org"), "retry"),
        (smtplib.SMTPSenderRefused(550, b"5.1.0 Sender address rejected", "ne-pas-repondre@x.org"), "retry"),
        (smtplib.SMTPAuthenticationError(535, b"5.7.8 Authentication failed"), "retry"),
        (smtplib.SMTPResponseException(552, b"5.3.4 Message size exceeds fixed limit"), "retry"),  # not at DATA
    ],
)
def test_only_a_message_refused_for_good_fails_at_once(django_capture_on_commit_callbacks, mocker, error, outcome):
    mocker.patch("django.core.mail.EmailMultiAlternatives.send", side_effect=error)

    email = _committed(django_capture_on_commit_callbacks)

    assert message_refused_for_good(error) is (outcome == "failed")
    expected = OutboundEmail.Status.FAILED if outcome == "failed" else OutboundEmail.Status.PENDING
    assert (email.status, email.attempts) == (expected, 1)
    assert email.last_error.startswith(type(error).__name__)


class SizeLimitedServer:
    """aiosmtpd on 127.0.0.1 refusing every message bigger than ``limit`` bytes with « 552 5.3.4 », as Postfix's
    message_size_limit does: at MAIL FROM when the client announces the size (SIZE), else at the end of DATA."""

    REFUSAL = "552 5.3.4 Message size exceeds fixed limit"

    def __init__(self, limit: int, *, announce_size: bool):
        self.limit = limit
        self.messages: list[bytes] = []
        self._controller = Controller(
            self, hostname="127.0.0.1", port=free_port(), data_size_limit=None if not announce_size else 10**8
        )

    async def handle_MAIL(self, server, session, envelope, address, mail_options):  # noqa: N802 (aiosmtpd)
        sizes = [int(option[5:]) for option in mail_options if option.startswith("SIZE=")]
        if sizes and sizes[0] > self.limit:
            return self.REFUSAL
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd)
        if len(envelope.content) > self.limit:
            return self.REFUSAL
        self.messages.append(envelope.content)
        return "250 Message accepted for delivery"

    def __enter__(self):
        self._controller.start()
        return self

    def __exit__(self, *exc_info):
        self._controller.stop()

    def mailer(self) -> dict:
        return {
            "default": {
                "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
                "OPTIONS": {"host": "127.0.0.1", "port": self._controller.port, "timeout": 5},
            }
        }


LETTER = b"%PDF-1.4 " + b"x" * 200_000
attachments.register("tests.dec6.big_letter", lambda key: LETTER)


@pytest.mark.parametrize("announce_size", [False, True], ids=["refused at DATA", "refused at MAIL FROM (SIZE)"])
def test_a_mail_too_big_fails_at_once_and_is_sent_once_resent_without_its_attachment(
    django_capture_on_commit_callbacks, settings, caplog, central_manager, announce_size
):
    letter = AttachmentRef(
        provider="tests.dec6.big_letter", key="1", filename="lettre-admission.pdf", mimetype="application/pdf"
    )

    with SizeLimitedServer(100_000, announce_size=announce_size) as server:
        settings.MAILERS = server.mailer()
        email = _committed(django_capture_on_commit_callbacks, letter)

        # One attempt, then failed: the central office sees why at once and can resend it without its attachment.
        assert (email.status, email.attempts) == (OutboundEmail.Status.FAILED, 1)
        assert email.last_error.startswith("SMTPDataError: (552" if not announce_size else "SMTPSenderRefused: (552")
        assert "5.3.4 Message size exceeds fixed limit" in email.last_error
        assert "refused this message for good" in caplog.text
        with time_machine.travel(timezone.now() + timedelta(days=3)):
            assert send_pending_mails() == {}  # not tried again

        with django_capture_on_commit_callbacks(execute=True):
            assert resend_emails(emails=[email], actor=central_manager, without_attachments=True) == [email]

        email.refresh_from_db()
        assert (email.status, email.attempts, email.attachments) == (OutboundEmail.Status.SENT, 2, [])
        assert len(server.messages) == 1
        assert b"lettre-admission.pdf" in server.messages[0]  # named in the text as not attached
