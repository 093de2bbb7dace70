"""The outbox's address compared without case has its own index (``outbox_to_upper_idx``, ecandidat/models.py): the
nightly purge of unvalidated accounts asks, for each account, whether its validation link was mailed
(``to__iexact``); without the index PostgreSQL scanned the whole outbox once per account."""

import pytest
from django.db import connection

from ecandidat.models import OutboundEmail


@pytest.mark.integration
@pytest.mark.django_db
def test_an_address_compared_without_case_is_found_through_the_index():
    assert connection.vendor == "postgresql"  # the integration runs are on PostgreSQL (.ci/run)
    OutboundEmail.objects.bulk_create(
        OutboundEmail(to=f"candidat{number}@example.org", subject="s", body="b") for number in range(50)
    )
    sql, params = OutboundEmail.objects.filter(to__iexact="Candidat7@Example.org").only("pk").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # a table this small would be read whole otherwise
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())

    assert "outbox_to_upper_idx" in plan, plan
