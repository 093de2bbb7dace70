"""A mail not sent yet can be withdrawn when what it announces no longer holds (``emails.cancel_pending``): a
decision mail queued while the mail server was down, whose candidate withdrew meanwhile, was sent all the same once
the server came back. The rows of the topic still waiting (``PENDING``, ``FAILED``) become ``CANCELLED`` with a
reason; no sender, task or sweeper sends them, the admin cannot resend them and lists them « annulé » with the
reason. A ``SENT`` row is history, untouched; a ``SENDING`` row belongs to its sender: the cancellation is recorded,
and a failed attempt, or a sender that died, ends it ``CANCELLED`` instead of trying again, while a successful one
ends ``SENT`` (the mail had left). The applications' side is in applications/tests/test_withdraw_cancels_mail.py."""

import smtplib
from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone, translation

from ecandidat.emails import cancel_pending, claim, deliver, enqueue_email, resend_emails, send_pending_mails
from ecandidat.models import OutboundEmail

pytestmark = pytest.mark.django_db

SMTP_DOWN = smtplib.SMTPConnectError(421, b"Service not available")
TOPIC = "decision:41"
REASON = "Non envoyé : la candidature a fait l'objet d'un désistement avant le départ de ce message."


def _enqueue(*, topic: str = TOPIC, to: str = "estelle@example.org") -> OutboundEmail:
    return enqueue_email(
        to=to,
        code="OUTBOX_CHECK",
        template_base="ecandidat/email/outbox_check",
        context={},
        language="fr",
        topic=topic,
    )


def _committed(django_capture_on_commit_callbacks, **kwargs) -> OutboundEmail:
    with django_capture_on_commit_callbacks(execute=True):
        email = _enqueue(**kwargs)
    email.refresh_from_db()
    return email


@pytest.fixture
def smtp(mocker):
    """The mail server, down until the test calls ``smtp.back()``; then mails go to ``mailoutbox``."""
    down = mocker.patch("django.core.mail.EmailMultiAlternatives.send", side_effect=SMTP_DOWN)
    down.back = lambda: mocker.stop(down)
    return down


def _a_day_later_the_sweeper_runs():
    with time_machine.travel(timezone.now() + timedelta(days=1)):
        return send_pending_mails()


# --- pending and failed rows ---------------------------------------------------------------------------------------


def test_a_pending_mail_of_the_topic_is_cancelled_and_never_sent(django_capture_on_commit_callbacks, smtp, mailoutbox):
    email = _committed(django_capture_on_commit_callbacks)
    assert (email.status, email.attempts, email.topic) == (OutboundEmail.Status.PENDING, 1, TOPIC)  # server down

    assert cancel_pending(TOPIC, REASON) == 1
    smtp.back()
    outcome = _a_day_later_the_sweeper_runs()

    assert outcome == {}  # not even due
    assert mailoutbox == []
    email.refresh_from_db()
    assert (email.status, email.cancel_reason, email.attempts) == (OutboundEmail.Status.CANCELLED, REASON, 1)
    assert email.cancelled_at is not None
    assert email.lease_until is None
    assert claim(email.pk) is None
    assert deliver(email.pk) == "skipped"
    assert not OutboundEmail.objects.due(timezone.now() + timedelta(days=3)).exists()


def test_a_fresh_mail_cancelled_before_its_first_attempt_is_not_sent(django_capture_on_commit_callbacks, mailoutbox):
    """Queued and cancelled in the same transaction (the task's first attempt comes after the commit)."""
    with django_capture_on_commit_callbacks(execute=True):
        email = _enqueue()
        cancel_pending(TOPIC, REASON)

    email.refresh_from_db()
    assert (email.status, email.attempts) == (OutboundEmail.Status.CANCELLED, 0)
    assert mailoutbox == []


def test_a_failed_mail_of_the_topic_is_cancelled_and_cannot_be_resent(
    django_capture_on_commit_callbacks, smtp, central_manager, mailoutbox
):
    email = _committed(django_capture_on_commit_callbacks)
    OutboundEmail.objects.filter(pk=email.pk).update(status=OutboundEmail.Status.FAILED)

    assert cancel_pending(TOPIC, REASON) == 1
    smtp.back()
    with django_capture_on_commit_callbacks(execute=True):
        resent = resend_emails(emails=[email], actor=central_manager)

    assert resent == []
    email.refresh_from_db()
    assert email.status == OutboundEmail.Status.CANCELLED
    assert mailoutbox == []


def test_a_sent_mail_of_the_topic_is_left_as_it_was(django_capture_on_commit_callbacks, mailoutbox):
    email = _committed(django_capture_on_commit_callbacks)
    assert email.status == OutboundEmail.Status.SENT

    assert cancel_pending(TOPIC, REASON) == 0

    email.refresh_from_db()
    assert (email.status, email.cancelled_at, email.cancel_reason) == (OutboundEmail.Status.SENT, None, "")
    assert len(mailoutbox) == 1


def test_only_the_mails_of_the_topic_are_cancelled(django_capture_on_commit_callbacks, smtp, mailoutbox):
    """Another application's decision mail, and the same candidate's mails without a topic (the account's), leave."""
    cancelled = _committed(django_capture_on_commit_callbacks)
    other_topic = _committed(django_capture_on_commit_callbacks, topic="decision:410")
    no_topic = _committed(django_capture_on_commit_callbacks, topic="")

    assert cancel_pending(TOPIC, REASON) == 1
    smtp.back()
    assert _a_day_later_the_sweeper_runs() == {"sent": 2}

    statuses = {email.pk: email.status for email in OutboundEmail.objects.all()}
    assert statuses == {
        cancelled.pk: OutboundEmail.Status.CANCELLED,
        other_topic.pk: OutboundEmail.Status.SENT,
        no_topic.pk: OutboundEmail.Status.SENT,
    }
    assert len(mailoutbox) == 2


def test_an_empty_topic_is_refused():
    """ "" is every mail without a topic: cancelling it would cancel the account mails of everybody."""
    with pytest.raises(ValueError, match="topic"):
        cancel_pending("", REASON)


# --- a row being sent belongs to its sender -------------------------------------------------------------------------


def test_a_mail_being_sent_keeps_its_status_and_leaves_if_its_attempt_succeeds(
    django_capture_on_commit_callbacks, mocker, mailoutbox
):
    """The race: the withdrawal comes while the sender talks to the SMTP server. The row is the sender's: its
    status is left alone, the cancellation is only recorded; the mail has left, the row says SENT, and the admin
    shows that the cancellation came too late."""
    with django_capture_on_commit_callbacks(execute=False):
        email = _enqueue()
    seen = []

    def send_while_cancelled(message_self, *args, **kwargs):
        assert cancel_pending(TOPIC, REASON) == 0  # nothing cancelled: it is being sent
        row = OutboundEmail.objects.get(pk=email.pk)
        seen.append((row.status, row.cancel_reason))
        return 1

    mocker.patch("django.core.mail.EmailMultiAlternatives.send", autospec=True, side_effect=send_while_cancelled)

    assert deliver(email.pk) == "sent"

    assert seen == [(OutboundEmail.Status.SENDING, REASON)]
    email.refresh_from_db()
    assert (email.status, email.cancel_reason) == (OutboundEmail.Status.SENT, REASON)
    assert email.sent_at is not None
    assert email.cancelled_at is not None


def test_a_mail_cancelled_while_its_attempt_fails_is_not_tried_again(
    django_capture_on_commit_callbacks, mocker, mailoutbox
):
    with django_capture_on_commit_callbacks(execute=False):
        email = _enqueue()

    def fail_while_cancelled(message_self, *args, **kwargs):
        cancel_pending(TOPIC, REASON)
        raise SMTP_DOWN

    send = mocker.patch(
        "django.core.mail.EmailMultiAlternatives.send", autospec=True, side_effect=fail_while_cancelled
    )

    assert deliver(email.pk) == "cancelled"
    send.side_effect, send.return_value = None, 1
    assert _a_day_later_the_sweeper_runs() == {}

    email.refresh_from_db()
    assert (email.status, email.cancel_reason, email.attempts) == (OutboundEmail.Status.CANCELLED, REASON, 1)
    assert email.last_error == "SMTPConnectError: (421, b'Service not available')"
    assert email.lease_until is None
    assert send.call_count == 1


def test_a_mail_whose_sender_died_after_its_cancellation_is_cancelled_not_sent_again(
    django_capture_on_commit_callbacks, mailoutbox, settings
):
    settings.OUTBOX_LEASE_SECONDS = 300
    with django_capture_on_commit_callbacks(execute=False):
        email = _enqueue()
    assert claim(email.pk) is not None  # ... and the sender is killed mid-way
    cancel_pending(TOPIC, REASON)

    with time_machine.travel(timezone.now() + timedelta(seconds=200)):
        assert send_pending_mails() == {}  # its lease holds: still its sender's
    email.refresh_from_db()
    assert email.status == OutboundEmail.Status.SENDING
    with time_machine.travel(timezone.now() + timedelta(seconds=301)):
        assert send_pending_mails() == {"skipped": 1}

    email.refresh_from_db()
    assert (email.status, email.cancel_reason, email.lease_until) == (OutboundEmail.Status.CANCELLED, REASON, None)
    assert mailoutbox == []
    assert _a_day_later_the_sweeper_runs() == {}


# --- the admin ----------------------------------------------------------------------------------------------------


CHANGELIST = "admin:ecandidat_outboundemail_changelist"


def test_the_outbox_lists_a_cancelled_mail_with_its_reason_in_french(
    client, central_manager, django_capture_on_commit_callbacks, smtp, django_assert_num_queries
):
    email = _committed(django_capture_on_commit_callbacks)
    cancel_pending(TOPIC, REASON)
    client.force_login(central_manager)
    client.language = "fr"

    # Session, user, savepoint, memberships, count, permissions (2), rows, release, the filter's codes.
    with django_assert_num_queries(10):
        listing = client.get(reverse(CHANGELIST))
    change_url = reverse("admin:ecandidat_outboundemail_change", args=[email.pk])
    page = client.get(change_url)
    filtered = client.get(reverse(CHANGELIST), {"status__exact": "CANCELLED"})

    with translation.override("fr"):
        label = str(OutboundEmail.Status.CANCELLED.label)  # « annulé » once the French catalogue is built
    reason = REASON.replace("'", "&#x27;")
    assert f'{label}<br><span class="quiet">{reason}</span>' in listing.content.decode()
    assert reason in page.content.decode()
    assert filtered.status_code == 200
    assert change_url in filtered.content.decode()


def test_the_admins_resend_leaves_a_cancelled_mail_alone(
    client, central_manager, django_capture_on_commit_callbacks, smtp, mailoutbox
):
    email = _committed(django_capture_on_commit_callbacks)
    OutboundEmail.objects.filter(pk=email.pk).update(status=OutboundEmail.Status.FAILED)
    cancel_pending(TOPIC, REASON)
    smtp.back()
    client.force_login(central_manager)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse(CHANGELIST), {"action": "resend", "_selected_action": [email.pk]})

    assert response.status_code == 302
    email.refresh_from_db()
    assert (email.status, email.resent_by) == (OutboundEmail.Status.CANCELLED, None)
    assert mailoutbox == []
