"""``ecandidat.celery.registered_task``: how a module queues a task whose own module imports it (no import cycle)."""

import pytest
from celery.exceptions import NotRegistered

from applications.tasks import build_decision_letter, run_release_job
from ecandidat.celery import registered_task
from ecandidat.tasks import send_outbound_email


@pytest.mark.parametrize(
    ("name", "task"),
    [
        ("ecandidat.tasks.send_outbound_email", send_outbound_email),
        ("applications.tasks.build_decision_letter", build_decision_letter),
        ("applications.tasks.run_release_job", run_release_job),
    ],
)
def test_each_name_queued_by_name_is_the_task_its_module_defines(name, task):
    # The names ecandidat/emails.py, applications/letters.py and applications/services/release.py queue: a renamed
    # task fails here, not in production at the first mail or letter.
    assert registered_task(name) is task._get_current_object()  # @shared_task gives a proxy of the task


def test_an_unknown_name_is_refused_not_queued():
    with pytest.raises(NotRegistered):
        registered_task("applications.tasks.no_such_task")
