"""``send_pending_mails --dry-run`` counts every mail due (one COUNT), not the first ``OUTBOX_SWEEP_LIMIT``.

The review: 1,200 mails due for 3 hours, and the dry run said "due: 500" (it counted the ids a run would send, capped
at the sweep's limit). A real run still sends at most that limit, oldest first.
"""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from ecandidat.emails import send_pending_mails
from ecandidat.models import OutboundEmail


def _due(count: int) -> None:
    OutboundEmail.objects.bulk_create(
        OutboundEmail(
            code="OUTBOX_CHECK",
            language="fr",
            to=f"c{index}@example.org",
            subject="s",
            body="b",
            next_attempt_at=timezone.now() - timedelta(hours=3, minutes=index),
        )
        for index in range(count)
    )


@pytest.fixture
def sweep_limit(settings):
    settings.OUTBOX_SWEEP_LIMIT = 5
    return 5


def test_the_dry_run_counts_every_mail_due_in_one_query(db, sweep_limit, django_assert_num_queries, mailoutbox):
    _due(12)

    out = StringIO()
    with django_assert_num_queries(1):
        call_command("send_pending_mails", "--dry-run", stdout=out)

    assert out.getvalue() == "[dry run] send_pending_mails: due: 12\n"
    assert mailoutbox == []
    assert OutboundEmail.objects.filter(status=OutboundEmail.Status.PENDING, attempts=0).count() == 12


def test_an_explicit_limit_still_caps_the_dry_run_and_a_real_run_still_sends_the_sweep_s_limit(
    db, sweep_limit, mailoutbox
):
    _due(12)

    assert send_pending_mails(dry_run=True, limit=3) == {"due": 3}
    assert send_pending_mails(dry_run=True, limit=50) == {"due": 12}

    assert send_pending_mails() == {"sent": 5}
    # The oldest due first, as before.
    assert {message.to[0] for message in mailoutbox} == {f"c{index}@example.org" for index in range(7, 12)}
    assert send_pending_mails(dry_run=True) == {"due": 7}
