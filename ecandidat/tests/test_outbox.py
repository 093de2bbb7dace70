"""The outbox as the source of truth (issue 9): broker errors at commit, claims and leases, the back-off over hours,
FAILED after the horizon, the sweeper and its command, the admin's "Renvoyer". In-process (eager tasks, locmem
mail); the same faults against real Redis, SMTP and worker processes are in test_integration_outbox.py."""

import logging
import smtplib
from datetime import timedelta
from io import StringIO

import pytest
import time_machine
from django.contrib.admin.models import LogEntry
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone
from kombu.exceptions import OperationalError as KombuOperationalError
from redis.exceptions import ConnectionError as RedisConnectionError

from ecandidat.celery import app
from ecandidat.emails import (
    RETRY_DELAYS,
    claim,
    deliver,
    enqueue_email,
    recipient_address_refused,
    record_failure,
    resend_emails,
    retry_delay,
    send_pending_mails,
)
from ecandidat.models import OutboundEmail
from ecandidat.tasks import sweep_outbox

pytestmark = pytest.mark.django_db

SMTP_DOWN = smtplib.SMTPConnectError(421, b"Service not available")


def _enqueue(to: str = "estelle@example.org") -> OutboundEmail:
    return enqueue_email(
        to=to, code="OUTBOX_CHECK", template_base="ecandidat/email/outbox_check", context={}, language="fr"
    )


def _committed(django_capture_on_commit_callbacks, to: str = "estelle@example.org") -> OutboundEmail:
    with django_capture_on_commit_callbacks(execute=True):
        email = _enqueue(to)
    email.refresh_from_db()
    return email


@pytest.fixture
def smtp_down(mocker):
    return mocker.patch("django.core.mail.EmailMultiAlternatives.send", side_effect=SMTP_DOWN)


# --- the back-off ------------------------------------------------------------------------------------------------


def test_back_off_goes_from_a_minute_to_hours_then_repeats_every_four_hours():
    delays = [retry_delay(attempts) for attempts in range(1, 10)]

    assert delays == [
        timedelta(minutes=1),
        timedelta(minutes=5),
        timedelta(minutes=15),
        timedelta(hours=1),
        timedelta(hours=2),
        timedelta(hours=4),
        timedelta(hours=4),
        timedelta(hours=4),
        timedelta(hours=4),
    ]
    assert retry_delay(0) == RETRY_DELAYS[0]


def test_failed_attempts_follow_the_back_off_then_fail_only_after_the_horizon(
    django_capture_on_commit_callbacks, smtp_down, settings
):
    settings.OUTBOX_RETRY_HOURS = 48
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        email = _committed(django_capture_on_commit_callbacks)
        gaps, outcomes = [], []
        while email.status == OutboundEmail.Status.PENDING:
            gaps.append(email.next_attempt_at - timezone.now())
            clock.move_to(email.next_attempt_at)
            outcomes.append(send_pending_mails())
            email.refresh_from_db()
        elapsed = timezone.now() - start

    assert email.status == OutboundEmail.Status.FAILED
    assert gaps == [retry_delay(n) for n in range(1, 17)]
    assert outcomes == [{"retry": 1}] * 15 + [{"failed": 1}]
    # Attempts at 0, 1, 6, 21, 81 min, 3 h 21, then every 4 h up to 47 h 21: the 18th would fall after 48 h.
    assert email.attempts == 17
    assert elapsed == timedelta(hours=47, minutes=21)
    assert email.lease_until is None
    assert email.last_error == "SMTPConnectError: (421, b'Service not available')"
    assert smtp_down.call_count == 17


POSTFIX_UNLISTED_SENDER = b"5.1.0 <ne-pas-repondre@example.org>: Sender address rejected: User unknown in local table"


@pytest.mark.parametrize(
    ("error", "outcome"),
    [
        (smtplib.SMTPRecipientsRefused({"estelle@example.org": (550, b"5.1.1 No such user")}), "failed"),
        (smtplib.SMTPRecipientsRefused({"estelle@example.org": (553, b"5.1.3 Bad address syntax")}), "failed"),
        (smtplib.SMTPRecipientsRefused({"estelle@example.org": (550, b"5.1.2 Host unknown")}), "failed"),
        (smtplib.SMTPRecipientsRefused({"estelle@example.org": (556, b"5.1.10 Recipient has null MX")}), "failed"),
        (smtplib.SMTPRecipientsRefused({"estelle@example.org": (450, b"4.2.1 Mailbox busy")}), "retry"),
        # Class 5.1, but about our sender's address (RFC 3463 X.1.7, X.1.8), given by some relays at RCPT TO.
        (smtplib.SMTPRecipientsRefused({"estelle@example.org": (553, b"5.1.7 Bad sender address syntax")}), "retry"),
        (smtplib.SMTPRecipientsRefused({"estelle@example.org": (550, b"5.1.8 Sender domain unknown")}), "retry"),
        # Postfix's reject_unlisted_sender, delayed to RCPT TO: 5.1.0 does not say whose address, here ours.
        (smtplib.SMTPRecipientsRefused({"estelle@example.org": (554, POSTFIX_UNLISTED_SENDER)}), "retry"),
        (smtplib.SMTPRecipientsRefused({"estelle@example.org": (550, b"5.1.6 Mailbox has moved")}), "failed"),
        # The relay refuses us, not the address (our configuration, RFC 3463 class 5.7): tried again.
        (smtplib.SMTPRecipientsRefused({"estelle@example.org": (554, b"5.7.1 <x>: Relay access denied")}), "retry"),
        (smtplib.SMTPRecipientsRefused({"estelle@example.org": (550, b"5.7.1 Client host rejected")}), "retry"),
        # No enhanced status: Exim's answer when the relay does not accept us; nothing says the address is wrong.
        (smtplib.SMTPRecipientsRefused({"estelle@example.org": (550, b"relay not permitted")}), "retry"),
        (smtplib.SMTPRecipientsRefused({"estelle@example.org": (550, b"Administrative prohibition")}), "retry"),
        # The mailbox (5.2) or the protocol (5.5), not the address: a fault delays a mail, never drops it.
        (smtplib.SMTPRecipientsRefused({"estelle@example.org": (552, b"5.2.2 Mailbox full")}), "retry"),
        (smtplib.SMTPRecipientsRefused({"estelle@example.org": (550, b"5.2.1 Mailbox disabled")}), "retry"),
        (smtplib.SMTPRecipientsRefused({"estelle@example.org": (555, b"5.5.4 Unsupported option")}), "retry"),
        (smtplib.SMTPRecipientsRefused({}), "retry"),
        (smtplib.SMTPAuthenticationError(535, b"5.7.8 Authentication failed"), "retry"),  # our configuration
        (smtplib.SMTPSenderRefused(553, b"5.7.1 Sender not allowed", "ne-pas-repondre@example.org"), "retry"),
        (SMTP_DOWN, "retry"),
    ],
)
def test_only_a_recipient_refused_for_good_fails_at_once(django_capture_on_commit_callbacks, mocker, error, outcome):
    mocker.patch("django.core.mail.EmailMultiAlternatives.send", side_effect=error)
    email = _committed(django_capture_on_commit_callbacks)

    email.refresh_from_db()
    expected = OutboundEmail.Status.FAILED if outcome == "failed" else OutboundEmail.Status.PENDING
    assert (email.status, email.attempts) == (expected, 1)
    assert email.last_error.startswith(type(error).__name__)


def test_a_mail_sent_to_nobody_fails_at_once_instead_of_being_sent(
    django_capture_on_commit_callbacks, mailoutbox, caplog
):
    with caplog.at_level(logging.ERROR, logger="ecandidat.emails"):
        email = _committed(django_capture_on_commit_callbacks, to="")

    assert email.status == OutboundEmail.Status.FAILED
    assert email.sent_at is None
    assert email.lease_until is None
    assert email.last_error == "NoRecipient: the mail was sent to nobody (recipient '')"
    assert "sent to nobody" in caplog.text
    assert mailoutbox == []


@pytest.mark.integration
def test_a_relay_refusing_us_without_an_enhanced_status_delays_the_mail_until_it_is_fixed(
    django_capture_on_commit_callbacks, smtp_mailer, caplog
):
    """Exim's « 550 relay not permitted » at ``RCPT TO`` (no enhanced status): the relay does not accept us, the
    address may be right. The mail waits for its next attempt instead of failing with a log to correct the address,
    and leaves once the relay is fixed."""
    smtp_mailer.refuse = {"estelle@example.org": "550 relay not permitted"}

    with caplog.at_level(logging.WARNING, logger="ecandidat.emails"):
        email = _committed(django_capture_on_commit_callbacks)

    assert (email.status, email.attempts) == (OutboundEmail.Status.PENDING, 1)
    assert "relay not permitted" in email.last_error
    assert "correct it" not in caplog.text
    assert smtp_mailer.messages == []

    smtp_mailer.refuse = {}  # the relay's configuration is fixed
    with time_machine.travel(email.next_attempt_at):
        assert send_pending_mails() == {"sent": 1}
    assert [message["To"] for message in smtp_mailer.messages] == ["estelle@example.org"]


@pytest.mark.integration
def test_an_address_the_mail_library_refuses_fails_at_once_and_the_others_go(
    django_capture_on_commit_callbacks, smtp_mailer, caplog
):
    """« régis@example.org »: Django's SMTP backend refuses a non-ASCII local part before any exchange about it
    (``ValueError``). No attempt can succeed: the row fails after its one attempt, with a log saying to correct the
    address, instead of being tried 17 times over 48 h."""
    with caplog.at_level(logging.ERROR, logger="ecandidat.emails"):
        refused = _committed(django_capture_on_commit_callbacks, "régis@example.org")
    good = _committed(django_capture_on_commit_callbacks, "regis@example.org")

    assert (refused.status, refused.attempts) == (OutboundEmail.Status.FAILED, 1)
    assert refused.last_error.startswith("InvalidRecipient: the mail backend refuses the recipient: Invalid address")
    assert "non-ASCII" in refused.last_error
    assert "correct the address, then resend the mail from the admin" in caplog.text
    assert good.status == OutboundEmail.Status.SENT
    assert [message["To"] for message in smtp_mailer.messages] == ["regis@example.org"]
    with time_machine.travel(timezone.now() + timedelta(days=3)):
        assert send_pending_mails() == {}  # not tried again


@pytest.mark.integration
def test_a_value_error_not_about_the_recipient_is_retried(django_capture_on_commit_callbacks, smtp_mailer, settings):
    """The same ``ValueError`` about our sender (a non-ASCII local part in ``DEFAULT_FROM_EMAIL``) is our
    configuration: the mail waits for its next attempt, and leaves once the configuration is fixed."""
    settings.DEFAULT_FROM_EMAIL = "Scolarité <scolarité@example.org>"

    email = _committed(django_capture_on_commit_callbacks)

    assert (email.status, email.attempts) == (OutboundEmail.Status.PENDING, 1)
    assert email.last_error.startswith("ValueError: Invalid address")
    settings.DEFAULT_FROM_EMAIL = "Scolarité <scolarite@example.org>"
    with time_machine.travel(email.next_attempt_at):
        assert send_pending_mails() == {"sent": 1}
    assert [message["To"] for message in smtp_mailer.messages] == ["estelle@example.org"]


def test_only_the_recipient_address_itself_is_checked_after_a_value_error(settings):
    settings.MAILERS = {
        "default": {"BACKEND": "django.core.mail.backends.smtp.EmailBackend", "OPTIONS": {"host": "127.0.0.1"}}
    }

    assert "non-ASCII" in recipient_address_refused("régis@example.org")
    assert recipient_address_refused("regis@example.org") == ""
    assert recipient_address_refused("estelle@université.fr") == ""  # IDNA: the backend writes it in ASCII
    settings.MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
    assert recipient_address_refused("régis@example.org") == ""  # a backend without the check never refuses


def test_a_failed_mail_is_not_retried_any_more(django_capture_on_commit_callbacks, smtp_down):
    email = _committed(django_capture_on_commit_callbacks)
    OutboundEmail.objects.filter(pk=email.pk).update(status=OutboundEmail.Status.FAILED)

    with time_machine.travel(timezone.now() + timedelta(days=3)):
        assert send_pending_mails() == {}
        assert deliver(email.pk) == "skipped"


# --- enqueuing never fails a request ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "error",
    [
        KombuOperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused."),
        RedisConnectionError("Connection refused"),
        ConnectionRefusedError(111, "Connection refused"),
    ],
)
def test_broker_down_at_commit_leaves_the_row_pending_with_one_log_line(
    django_capture_on_commit_callbacks, mocker, mailoutbox, caplog, error
):
    mocker.patch("ecandidat.tasks.send_outbound_email.delay", side_effect=error)

    with caplog.at_level(logging.WARNING, logger="ecandidat.emails"):
        email = _committed(django_capture_on_commit_callbacks)

    assert email.status == OutboundEmail.Status.PENDING
    assert email.attempts == 0
    assert mailoutbox == []
    assert [record.getMessage() for record in caplog.records] == [
        f"mail {email.pk} left for the sweeper: broker unreachable ({type(error).__name__}: {error})"
    ]

    # The sweeper leaves it alone for a minute (the task may still come), then sends it.
    assert send_pending_mails() == {}
    with time_machine.travel(timezone.now() + timedelta(minutes=1, seconds=1)):
        assert send_pending_mails() == {"sent": 1}
    assert len(mailoutbox) == 1


def test_signup_answers_normally_with_the_broker_down_and_its_mail_waits(
    client, campaign, django_capture_on_commit_callbacks, mocker, mailoutbox
):
    """The issue's first case through a real view: the committed signup used to answer 500."""
    mocker.patch("ecandidat.tasks.send_outbound_email.delay", side_effect=KombuOperationalError("refused"))
    address = "estelle.durand@example.org"

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("account_signup"),
            {"last_name": "Durand", "first_name": "Estelle", "email": address, "email2": address},
        )

    assert response.status_code == 302
    assert response.url == reverse("account_email_verification_sent")
    email = OutboundEmail.objects.get()
    assert (email.code, email.to, email.status) == ("CPT_MIN_CREATE", address, OutboundEmail.Status.PENDING)
    assert mailoutbox == []


# --- claims and leases -------------------------------------------------------------------------------------------


def test_a_claimed_row_cannot_be_claimed_again_until_its_lease_expires(django_capture_on_commit_callbacks, settings):
    settings.OUTBOX_LEASE_SECONDS = 300
    with django_capture_on_commit_callbacks(execute=False):
        email = _enqueue()

    now = timezone.now()
    first = claim(email.pk, now=now)
    assert first is not None
    assert first.status == OutboundEmail.Status.SENDING
    assert first.attempts == 1
    assert first.lease_until == now + timedelta(seconds=300)

    assert claim(email.pk, now=now + timedelta(seconds=299)) is None
    second = claim(email.pk, now=now + timedelta(seconds=301))
    assert second is not None
    assert second.attempts == 2


def test_sweeper_resends_a_row_whose_sender_died_and_leaves_a_live_lease_alone(
    django_capture_on_commit_callbacks, mailoutbox, settings
):
    settings.OUTBOX_LEASE_SECONDS = 300
    with django_capture_on_commit_callbacks(execute=False):
        email = _enqueue()
    claimed = claim(email.pk)  # ... and the worker is killed before it records anything
    assert claimed is not None

    with time_machine.travel(timezone.now() + timedelta(seconds=200)):
        assert send_pending_mails() == {}
    with time_machine.travel(timezone.now() + timedelta(seconds=301)):
        assert send_pending_mails() == {"sent": 1}

    email.refresh_from_db()
    assert email.status == OutboundEmail.Status.SENT
    assert email.attempts == 2
    assert email.lease_until is None
    assert len(mailoutbox) == 1
    assert mailoutbox[0].extra_headers["Message-ID"] == f"<{email.public_id}@ecandidat.localhost>"


def test_a_row_whose_sender_dies_every_time_fails_after_the_horizon(
    django_capture_on_commit_callbacks, mocker, settings, caplog
):
    """A sender killed at every attempt (hard time limit, out of memory) never reaches record_failure: past
    OUTBOX_RETRY_HOURS the expired-lease row is given up instead of being claimed again every lease."""
    settings.OUTBOX_RETRY_HOURS = 48
    mocker.patch("django.core.mail.EmailMultiAlternatives.send", side_effect=OSError("x"))
    email = _committed(django_capture_on_commit_callbacks)
    now = timezone.now()
    OutboundEmail.objects.filter(pk=email.pk).update(
        created_at=now - timedelta(days=10),
        status=OutboundEmail.Status.SENDING,
        lease_until=now - timedelta(seconds=1),
        attempts=7,
    )

    with caplog.at_level(logging.ERROR, logger="ecandidat.emails"):
        for round_ in range(30):
            claim(email.pk, now=now + timedelta(minutes=6) * (round_ + 1))  # ... the sender is killed after it

    email.refresh_from_db()
    assert email.status == OutboundEmail.Status.FAILED
    assert email.attempts == 7
    assert email.lease_until is None
    assert email.last_error == "sender died (lease expired) after 7 attempts"
    assert "sender died (lease expired) after 7 attempts" in caplog.text
    assert OutboundEmail.objects.due(now + timedelta(hours=1)).filter(pk=email.pk).exists() is False


def test_a_dead_senders_row_is_claimed_again_within_the_horizon_of_its_resend(django_capture_on_commit_callbacks):
    email = _committed(django_capture_on_commit_callbacks)
    now = timezone.now()
    OutboundEmail.objects.filter(pk=email.pk).update(
        created_at=now - timedelta(days=10),
        resent_at=now - timedelta(hours=1),
        status=OutboundEmail.Status.SENDING,
        lease_until=now - timedelta(seconds=1),
    )

    claimed = claim(email.pk, now=now)

    assert claimed is not None
    assert claimed.status == OutboundEmail.Status.SENDING


def test_message_id_is_stable_across_attempts(django_capture_on_commit_callbacks, mocker, mailoutbox):
    sent_ids = []

    def flaky_send(message):
        sent_ids.append(message.message()["Message-ID"])
        if len(sent_ids) == 1:
            raise SMTP_DOWN
        return 1

    mocker.patch("django.core.mail.EmailMultiAlternatives.send", autospec=True, side_effect=flaky_send)
    email = _committed(django_capture_on_commit_callbacks)
    with time_machine.travel(email.next_attempt_at):
        assert send_pending_mails() == {"sent": 1}

    assert sent_ids == [f"<{email.public_id}@ecandidat.localhost>"] * 2


# --- the embedded default: eager tasks, no broker ---------------------------------------------------------------


def test_embedded_default_smtp_down_then_up_sends_once_later(
    django_capture_on_commit_callbacks, mocker, mailoutbox, settings
):
    """Without Redis the first attempt runs in-process after the commit; a failure waits for the sweeper (cron),
    instead of burning every attempt within a second."""
    assert settings.CELERY_TASK_ALWAYS_EAGER
    send = mocker.patch("django.core.mail.EmailMultiAlternatives.send", side_effect=SMTP_DOWN)
    email = _committed(django_capture_on_commit_callbacks)

    assert send.call_count == 1
    assert email.status == OutboundEmail.Status.PENDING
    assert send_pending_mails() == {}  # not due yet: no burst of attempts

    mocker.stopall()  # the SMTP server is back
    with time_machine.travel(email.next_attempt_at):
        out = StringIO()
        call_command("send_pending_mails", stdout=out)

    assert out.getvalue() == "send_pending_mails: sent: 1\n"
    email.refresh_from_db()
    assert email.status == OutboundEmail.Status.SENT
    assert email.attempts == 2
    assert [message.to for message in mailoutbox] == [["estelle@example.org"]]


# --- the command -------------------------------------------------------------------------------------------------


def test_command_dry_run_counts_and_sends_nothing(django_capture_on_commit_callbacks, mailoutbox):
    with django_capture_on_commit_callbacks(execute=False):
        _enqueue("a@example.org")
        _enqueue("b@example.org")

    with time_machine.travel(timezone.now() + timedelta(minutes=2)):
        out = StringIO()
        call_command("send_pending_mails", "--dry-run", stdout=out)
        assert out.getvalue() == "[dry run] send_pending_mails: due: 2\n"
        assert mailoutbox == []

        out = StringIO()
        call_command("send_pending_mails", "--limit", "1", stdout=out)
        assert out.getvalue() == "send_pending_mails: sent: 1\n"
        assert len(mailoutbox) == 1


@pytest.mark.parametrize("limit", ["0", "-1"])
def test_command_refuses_a_limit_below_one(django_capture_on_commit_callbacks, mailoutbox, limit):
    with django_capture_on_commit_callbacks(execute=False):
        _enqueue()

    with time_machine.travel(timezone.now() + timedelta(minutes=2)), pytest.raises(CommandError, match="--limit"):
        call_command("send_pending_mails", "--limit", limit, stdout=StringIO())

    assert mailoutbox == []


def test_only_no_limit_means_the_default_limit(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        _enqueue()

    with time_machine.travel(timezone.now() + timedelta(minutes=2)):
        assert send_pending_mails(limit=0, dry_run=True) == {"due": 0}
        assert send_pending_mails(dry_run=True) == {"due": 1}


def test_command_is_silent_at_verbosity_zero_when_there_is_nothing_to_send():
    out = StringIO()
    call_command("send_pending_mails", verbosity=0, stdout=out)
    assert out.getvalue() == ""

    call_command("send_pending_mails", stdout=out)
    assert out.getvalue() == "send_pending_mails: nothing to do\n"


def test_beat_runs_the_sweeper_every_minute(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["send-pending-mails"]
    assert entry["schedule"] == 60.0
    assert entry["task"] in app.tasks


def test_sweep_task_sends_what_is_due(django_capture_on_commit_callbacks, mailoutbox):
    with django_capture_on_commit_callbacks(execute=False):
        _enqueue()
    with time_machine.travel(timezone.now() + timedelta(minutes=2)):
        assert sweep_outbox.delay().get() == {"sent": 1}
    assert len(mailoutbox) == 1


# --- the admin's "Renvoyer" ---------------------------------------------------------------------------------------


@pytest.fixture
def failed_email(django_capture_on_commit_callbacks, smtp_down):
    email = _committed(django_capture_on_commit_callbacks, "perdu@example.org")
    OutboundEmail.objects.filter(pk=email.pk).update(status=OutboundEmail.Status.FAILED)
    smtp_down.side_effect = None
    smtp_down.return_value = 1
    email.refresh_from_db()
    return email


CHANGELIST = "/gestion/ecandidat/outboundemail/"


def _resend(client, *emails):
    return client.post(CHANGELIST, {"action": "resend", "_selected_action": [email.pk for email in emails]})


def test_central_office_resends_a_failed_mail_and_it_is_recorded(
    client, central_manager, failed_email, django_capture_on_commit_callbacks, django_assert_num_queries
):
    sent = _committed(django_capture_on_commit_callbacks, "recu@example.org")  # not failed: left alone
    client.force_login(central_manager)

    # Session, user, savepoint, memberships, count, selection; the service's savepoint, lock, update, release; the
    # log's content type and row; release; the session's save (3); then the first attempt after the commit:
    # claim (3), read, record.
    with django_assert_num_queries(18), django_capture_on_commit_callbacks(execute=True):
        response = _resend(client, failed_email, sent)

    assert response.status_code == 302
    failed_email.refresh_from_db()
    assert failed_email.status == OutboundEmail.Status.SENT
    assert failed_email.resent_by == central_manager
    assert failed_email.resent_at is not None
    assert failed_email.attempts == 2
    entry = LogEntry.objects.get()
    assert (entry.user, entry.object_id, entry.change_message) == (central_manager, str(failed_email.pk), "Renvoyé.")
    messages = [str(m) for m in response.wsgi_request._messages]
    assert messages == [
        "1 mail sera envoyé à nouveau.",
        "1 mail n'a pas été renvoyé : seuls les mails en échec peuvent l'être.",
    ]


def test_the_resend_history_is_in_the_institutions_language(client, central_manager, failed_email):
    """A central office browsing in English wrote "Resent." into the history that every colleague reads."""
    client.force_login(central_manager)

    response = client.post(CHANGELIST, {"action": "resend", "_selected_action": [failed_email.pk]}, language="en")

    assert response.status_code == 302
    assert LogEntry.objects.get().change_message == "Renvoyé."


def test_resend_restarts_the_retry_horizon(failed_email, central_manager, settings):
    settings.OUTBOX_RETRY_HOURS = 48
    later = timezone.now() + timedelta(days=10)
    with time_machine.travel(later, tick=False):
        (resent,) = resend_emails(emails=[failed_email], actor=central_manager)
        claimed = claim(resent.pk)
        assert claimed is not None

        # Ten days after creation, but one minute after the resend: a retry, not FAILED at once.
        assert record_failure(claimed, SMTP_DOWN) == "retry"


@pytest.mark.parametrize(
    ("persona", "expected"),
    # A commission member is never offered the outbox: its action is not found (404), as for an outsider.
    [("candidate_user", 302), ("centre_manager", 403), ("commission_member", 404), ("other_centre_manager", 403)],
)
def test_only_the_central_office_sees_the_outbox_and_resends(client, request, failed_email, persona, expected):
    user = request.getfixturevalue(persona)
    client.force_login(user)

    response = _resend(client, failed_email)

    assert response.status_code == expected
    if expected == 302:
        assert response["Location"].startswith("/gestion/login/")
    failed_email.refresh_from_db()
    assert failed_email.status == OutboundEmail.Status.FAILED
    assert failed_email.resent_by is None


@pytest.mark.parametrize(
    ("sender", "domain"),
    [
        ("ne-pas-repondre@université.fr", "xn--universit-j4a.fr"),
        ("Scolarité <ne-pas-repondre@univ.example>", "univ.example"),
    ],
    ids=["idna-domain", "display-name"],
)
def test_the_message_id_is_ascii_whatever_the_sender(
    django_capture_on_commit_callbacks, mailoutbox, settings, sender, domain
):
    """« <…@université.fr> » could not be encoded (UnicodeEncodeError at every attempt: no mail ever left), and a
    sender with a display name gave « <…@univ.example>> »."""
    settings.DEFAULT_FROM_EMAIL = sender

    email = _committed(django_capture_on_commit_callbacks)

    assert email.status == OutboundEmail.Status.SENT
    assert mailoutbox[0].extra_headers["Message-ID"] == f"<{email.public_id}@{domain}>"
    mailoutbox[0].message().as_bytes()  # what the SMTP backend sends: encodable
