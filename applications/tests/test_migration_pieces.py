"""applications 0003 / documents 0003 move PieceSubmission between apps without losing a row (issue 10)."""

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from applications.enums import PieceStatus
from applications.models import PieceSubmission
from applications.tests.factories_candidature import PieceSubmissionFactory

BEFORE = [("applications", "0002_candidatures"), ("documents", "0002_scan_signature_version")]
AFTER = [
    ("applications", "0003_piecesubmission_from_documents"),
    ("documents", "0003_piecesubmission_moved_to_applications"),
]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)


@pytest.fixture
def _latest_schema_after():
    """Leave the database at the latest migrations, as the other tests of this process expect (AFTER is only 0003:
    a later transactional test would otherwise write to tables without their later columns)."""
    yield
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())


def _rows(table: str) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id, public_id, status, document_id, application_id FROM {table} ORDER BY id")  # noqa: S608
        return [(row[0], str(row[1]).replace("-", ""), *row[2:]) for row in cursor.fetchall()]


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("_latest_schema_after")
def test_the_move_keeps_every_row_both_ways():
    submitted = PieceSubmissionFactory(status=PieceStatus.SUBMITTED)
    waiting = PieceSubmissionFactory(status=PieceStatus.WAITING)
    before = _rows("applications_piecesubmission")
    content_type = ContentType.objects.get_for_model(PieceSubmission)

    try:
        _migrate(BEFORE)
        assert _rows("documents_piecesubmission") == before
        content_type.refresh_from_db()
        assert content_type.app_label == "documents"
    finally:
        _migrate(AFTER)

    assert _rows("applications_piecesubmission") == before
    assert set(PieceSubmission.objects.values_list("pk", flat=True)) == {submitted.pk, waiting.pk}
    content_type.refresh_from_db()
    assert content_type.app_label == "applications"
    assert "documents_piecesubmission" not in connection.introspection.table_names()
