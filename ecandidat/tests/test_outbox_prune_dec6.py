"""``prune_outbox`` ages a mail by its last event and keeps to ``--limit``.

A failed mail created long ago, resent today by the central office (« Renvoyer ») and refused again was deleted by
the next nightly prune, aged by its creation: its failure, its error and who resent it vanished the night staff
acted. A cancelled mail is aged by its cancellation. ``--limit N`` deleted everything past the retention.
"""

import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from ecandidat.models import BatchRun, OutboundEmail

pytestmark = pytest.mark.django_db

COMMON = {"code": "X", "language": "fr", "subject": "s", "body": "b"}


@pytest.fixture(autouse=True)
def retention(settings):
    settings.OUTBOX_RETENTION_DAYS = 30


def _mail(to: str, status: str, *, created_days_ago: int, **dates_days_ago: int) -> OutboundEmail:
    now = timezone.now()
    email = OutboundEmail.objects.create(
        to=to, status=status, **COMMON, **{field: now - timedelta(days=days) for field, days in dates_days_ago.items()}
    )
    OutboundEmail.objects.filter(pk=email.pk).update(created_at=now - timedelta(days=created_days_ago))
    return email


def _left() -> list[str]:
    return sorted(OutboundEmail.objects.values_list("to", flat=True))


def test_a_failed_mail_resent_recently_stays_and_one_resent_long_ago_goes(central_manager):
    resent_today = _mail("resent-today@example.org", "FAILED", created_days_ago=40, resent_at=0)
    OutboundEmail.objects.filter(pk=resent_today.pk).update(resent_by=central_manager)
    _mail("resent-long-ago@example.org", "FAILED", created_days_ago=60, resent_at=31)
    _mail("never-resent@example.org", "FAILED", created_days_ago=40)

    call_command("prune_outbox", stdout=io.StringIO())

    assert _left() == ["resent-today@example.org"]
    resent_today.refresh_from_db()
    assert resent_today.resent_by == central_manager


def test_a_cancelled_mail_is_aged_by_its_cancellation():
    _mail("cancelled-today@example.org", "CANCELLED", created_days_ago=40, cancelled_at=0)
    _mail("cancelled-long-ago@example.org", "CANCELLED", created_days_ago=40, cancelled_at=31)
    _mail("cancelled-undated@example.org", "CANCELLED", created_days_ago=40)  # aged as a failed one

    call_command("prune_outbox", stdout=io.StringIO())

    assert _left() == ["cancelled-today@example.org"]


def test_the_limit_deletes_that_many_mails_oldest_first_and_the_dry_run_counts_as_many():
    _mail("sent-35@example.org", "SENT", created_days_ago=36, sent_at=35)
    _mail("failed-50@example.org", "FAILED", created_days_ago=50)
    _mail("resent-33@example.org", "FAILED", created_days_ago=90, resent_at=33)
    _mail("cancelled-45@example.org", "CANCELLED", created_days_ago=46, cancelled_at=45)
    _mail("recent@example.org", "SENT", created_days_ago=1, sent_at=1)

    out = io.StringIO()
    call_command("prune_outbox", "--dry-run", "--limit", "2", stdout=out)
    assert out.getvalue() == "[dry run] prune_outbox: mails to delete: 2\n"
    assert OutboundEmail.objects.count() == 5

    call_command("prune_outbox", "--limit", "2", stdout=io.StringIO())
    assert _left() == ["recent@example.org", "resent-33@example.org", "sent-35@example.org"]

    call_command("prune_outbox", "--limit", "1", stdout=io.StringIO())
    assert _left() == ["recent@example.org", "resent-33@example.org"]

    call_command("prune_outbox", stdout=io.StringIO())
    assert _left() == ["recent@example.org"]
    assert BatchRun.objects.filter(name="prune_outbox").latest("pk").counts == {"mails deleted": 1}
