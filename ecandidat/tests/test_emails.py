import smtplib
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from ecandidat.emails import deliver, enqueue_email
from ecandidat.models import OutboundEmail

pytestmark = pytest.mark.django_db


def _enqueue(**overrides):
    return enqueue_email(
        to=overrides.get("to", "estelle@example.org"),
        code="OUTBOX_CHECK",
        template_base="ecandidat/email/outbox_check",
        context={},
        language=overrides.get("language", "fr"),
    )


def test_mail_is_a_row_first_and_leaves_only_after_commit(django_capture_on_commit_callbacks, mailoutbox):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        email = _enqueue()

    assert email.status == OutboundEmail.Status.PENDING
    assert mailoutbox == []
    assert len(callbacks) == 1


def test_committed_mail_is_sent_once_and_marked_sent(django_capture_on_commit_callbacks, mailoutbox):
    with django_capture_on_commit_callbacks(execute=True):
        email = _enqueue()

    email.refresh_from_db()
    assert email.status == OutboundEmail.Status.SENT
    assert email.sent_at is not None
    assert email.attempts == 1
    assert [message.to for message in mailoutbox] == [["estelle@example.org"]]
    assert mailoutbox[0].subject == "Vérification de l'envoi des mails"


def test_delivering_the_same_row_twice_sends_one_message(django_capture_on_commit_callbacks, mailoutbox):
    with django_capture_on_commit_callbacks(execute=True):
        email = _enqueue()

    assert deliver(email.pk) == "skipped"
    assert len(mailoutbox) == 1


def test_smtp_failure_is_recorded_with_a_next_attempt_not_raised(mocker, mailoutbox):
    email = _enqueue()
    mocker.patch("django.core.mail.EmailMultiAlternatives.send", side_effect=smtplib.SMTPServerDisconnected("gone"))

    assert deliver(email.pk) == "retry"

    email.refresh_from_db()
    assert email.status == OutboundEmail.Status.PENDING
    assert email.attempts == 1
    assert email.last_error == "SMTPServerDisconnected: gone"
    assert email.lease_until is None
    assert timedelta(seconds=50) < email.next_attempt_at - timezone.now() <= timedelta(minutes=1)


def test_mail_is_rendered_in_the_requested_language():
    email = _enqueue(language="en")

    assert email.subject == "E-mail delivery check"
    assert "Université de Perpignan Via Domitia can send you e-mails" in email.body


def test_send_test_email_command_queues_a_row():
    call_command("send_test_email", "it@example.org")

    assert OutboundEmail.objects.get().to == "it@example.org"


@pytest.mark.parametrize("prefix", ["[RECETTE] ", "[RECETTE]", "  [RECETTE]\t"])
def test_the_subject_prefix_is_followed_by_one_space_however_the_variable_ends(settings, prefix):
    # systemd's EnvironmentFile and deploy/manage.sh drop a value's trailing spaces: the README's example
    # EMAIL_SUBJECT_PREFIX=[RECETTE] reached the settings as "[RECETTE]", and subjects read "[RECETTE]Vérification…".
    settings.EMAIL_SUBJECT_PREFIX = prefix

    assert _enqueue().subject == "[RECETTE] Vérification de l'envoi des mails"


def test_the_institution_name_reaches_the_text_mail_as_typed(settings):
    # The only mail body without ``autoescape off``: « Université d&#x27;Orléans &amp; Co » in a text/plain mail.
    settings.INSTITUTION_NAME = "Université d'Orléans & Co"

    assert "Université d'Orléans & Co peut vous envoyer des mails" in _enqueue().body
    assert "Université d'Orléans & Co can send you e-mails" in _enqueue(language="en").body
