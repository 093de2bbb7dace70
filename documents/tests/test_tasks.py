"""The antivirus scan task is published after the commit like every task of the project (ecandidat.celery.Task)."""

import logging

import pytest
from kombu.exceptions import OperationalError

from documents.tasks import scan_document


@pytest.mark.django_db
def test_tasks_queued_on_commit_never_fail_the_request_when_the_broker_is_down(
    django_capture_on_commit_callbacks, mocker, caplog
):
    """Every task of the project (the antivirus scan queued by an upload, for one) is published after the commit by
    ``ecandidat.celery.Task``: a broker error is one warning, the committed request answers normally, and the
    task's sweeper picks the work up (lost scans: the nightly rescan_documents)."""
    apply_async = mocker.patch.object(
        type(scan_document._get_current_object()), "apply_async", side_effect=OperationalError("refused")
    )

    with caplog.at_level(logging.WARNING, logger="ecandidat.celery"), django_capture_on_commit_callbacks(execute=True):
        scan_document.delay_on_commit(42)

    apply_async.assert_called_once_with((42,), {})
    assert caplog.messages == [
        (
            "task documents.tasks.scan_document(42,) not queued, left for its sweeper: broker unreachable "
            "(OperationalError: refused)"
        )
    ]
