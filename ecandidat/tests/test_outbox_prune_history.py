"""``prune_outbox`` deletes the back office's history of the mails it deletes, and the history its earlier runs left.

Review finding: a mail resent by the central office (« Renvoyer ») has history lines (``LogEntry``) titled
« CODE → address ». The prune deleted the mail and kept its lines; the CNIL erasure and the campaign destruction find
the outbox's lines only through a mail that still exists, so the candidate's address stayed in the history, and in
the staff member's « Actions récentes », for ever.
"""

import io
from datetime import timedelta

import pytest
import time_machine
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.db import DatabaseError
from django.urls import reverse
from django.utils import timezone

from ecandidat.management.commands import prune_outbox
from ecandidat.models import OutboundEmail

pytestmark = pytest.mark.django_db

COMMON = {"code": "OUTBOX_CHECK", "language": "fr", "subject": "s", "body": "b"}

User = get_user_model()  # ecandidat sits below accounts: its tests do not import it


@pytest.fixture(autouse=True)
def retention(settings):
    settings.OUTBOX_RETENTION_DAYS = 400


def _failed(to: str) -> OutboundEmail:
    return OutboundEmail.objects.create(to=to, status=OutboundEmail.Status.FAILED, **COMMON)


def _resend(client, django_capture_on_commit_callbacks, action: str, *emails: OutboundEmail) -> None:
    """The central office's « Renvoyer » (or « sans pièces jointes »), the mail then sent."""
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:ecandidat_outboundemail_changelist"),
            {"action": action, "_selected_action": [email.pk for email in emails]},
        )
    assert response.status_code == 302
    for email in emails:
        email.refresh_from_db()
        assert email.status == OutboundEmail.Status.SENT


def _line(email: OutboundEmail, *, content_type: ContentType | None = None) -> LogEntry:
    """A history line as the admin writes one; ``content_type`` another model's, for a row with the mail's id."""
    return LogEntry.objects.create(
        user=User.objects.get(username="scolarite"),
        content_type=content_type or ContentType.objects.get_for_model(OutboundEmail),
        object_id=str(email.pk),
        object_repr=str(email),
        action_flag=CHANGE,
        change_message="Renvoyé.",
    )


def _history() -> list[str]:
    return sorted(LogEntry.objects.values_list("object_repr", flat=True))


@pytest.mark.parametrize("action", ["resend", "resend_without_attachments"])
def test_the_history_of_a_pruned_mail_goes_with_it(
    client, central_manager, django_capture_on_commit_callbacks, mailoutbox, action
):
    """The reviewer's proof: resent through the admin, pruned 500 days later, its line stayed. A mail resent on the
    day of the prune keeps its line, and so does another model's line that has the pruned mail's id."""
    client.force_login(central_manager)
    lost = _failed("perdu@example.org")
    _resend(client, django_capture_on_commit_callbacks, action, lost)
    assert _history() == ["OUTBOX_CHECK → perdu@example.org"]
    user_line = _line(lost, content_type=ContentType.objects.get_for_model(User))
    user_line.object_repr = "un compte"
    user_line.save()

    with time_machine.travel(timezone.now() + timedelta(days=500)):
        client.force_login(central_manager)  # the morning's session
        kept = _failed("reste@example.org")
        _resend(client, django_capture_on_commit_callbacks, action, kept)
        call_command("prune_outbox", stdout=io.StringIO())

    assert list(OutboundEmail.objects.values_list("to", flat=True)) == ["reste@example.org"]
    assert _history() == ["OUTBOX_CHECK → reste@example.org", "un compte"]
    assert LogEntry.objects.get(object_repr="un compte").object_id == str(lost.pk)


def test_the_history_left_by_earlier_prunes_is_swept_once(central_manager):
    """Lines whose mail an earlier prune deleted go at the next run, even with no mail to prune; the lines of the
    mails still there, and other models' lines, stay. Running it again changes nothing."""
    gone = _failed("perdu@example.org")
    there = _failed("reste@example.org")
    _line(gone)
    _line(there)
    other = _line(gone, content_type=ContentType.objects.get_for_model(User))
    OutboundEmail.objects.filter(pk=gone.pk).delete()  # as the prune did before

    call_command("prune_outbox", stdout=io.StringIO())

    assert _history() == sorted(["OUTBOX_CHECK → perdu@example.org", "OUTBOX_CHECK → reste@example.org"])
    assert set(LogEntry.objects.values_list("pk", flat=True)) == {
        other.pk,
        LogEntry.objects.get(object_id=str(there.pk), content_type__model="outboundemail").pk,
    }
    call_command("prune_outbox", stdout=io.StringIO())
    assert LogEntry.objects.count() == 2


def test_the_dry_run_and_the_limit_keep_the_history_of_the_mails_they_keep(central_manager):
    now = timezone.now()
    older = _failed("plus-ancien@example.org")
    newer = _failed("ancien@example.org")
    OutboundEmail.objects.filter(pk=older.pk).update(created_at=now - timedelta(days=600))
    OutboundEmail.objects.filter(pk=newer.pk).update(created_at=now - timedelta(days=500))
    _line(older)
    _line(newer)

    call_command("prune_outbox", "--dry-run", stdout=io.StringIO())
    assert LogEntry.objects.count() == 2

    call_command("prune_outbox", "--limit", "1", stdout=io.StringIO())
    assert list(OutboundEmail.objects.values_list("to", flat=True)) == ["ancien@example.org"]
    assert _history() == ["OUTBOX_CHECK → ancien@example.org"]


def test_the_mails_stay_when_their_history_cannot_be_deleted(central_manager, monkeypatch):
    """One transaction: a failure deleting the lines leaves the mails, to be pruned with their lines next time."""
    old = _failed("perdu@example.org")
    OutboundEmail.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=500))
    _line(old)

    class Broken:
        class objects:
            @staticmethod
            def filter(*args, **kwargs):
                raise DatabaseError("the history table is locked")

    monkeypatch.setattr(prune_outbox, "LogEntry", Broken)
    with pytest.raises(DatabaseError):
        call_command("prune_outbox", stdout=io.StringIO())

    assert list(OutboundEmail.objects.values_list("to", flat=True)) == ["perdu@example.org"]
    assert _history() == ["OUTBOX_CHECK → perdu@example.org"]
