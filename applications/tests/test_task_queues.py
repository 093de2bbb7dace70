"""The long jobs on a queue of their own (ecandidat/settings/base.py, CELERY_TASK_ROUTES).

Every task went to the one queue CELERY_QUEUE, which one worker (--concurrency=4) consumed: a commission pack, an
export or a release of decisions (up to an hour each) held its slot, and four of them at once (a morning of presidents
asking for packs) held every mail (password resets, account validation links, decision mails) until one finished. The
long tasks now go to CELERY_QUEUE-long (deploy/ecandidat-worker-long.service); mails, scans and sweepers stay on
CELERY_QUEUE, which the main worker consumes alone. These tests ask Celery's own router and publishing path, as a
``delay`` does; the real workers are in test_integration_long_queue.py.
"""

import contextlib
import datetime
import json
import os
import subprocess
import sys
from unittest import mock

import pytest
from django.conf import settings
from django.utils import timezone

from applications import packs
from applications.models import CommissionPack
from applications.services.packs import requeue_stalled_packs
from applications.tasks import build_commission_pack, build_export_job, run_release_job
from ecandidat.celery import app, registered_task
from ecandidat.tasks import send_outbound_email, sweep_outbox

LONG_TASKS = {
    "applications.tasks.build_commission_pack",
    "applications.tasks.build_export_job",
    "applications.tasks.run_release_job",
}
MAIN_TASKS = {
    "ecandidat.tasks.send_outbound_email",
    "ecandidat.tasks.sweep_outbox",
    "documents.tasks.scan_document",
    "documents.tasks.delete_stored_files",
    "applications.tasks.build_decision_letter",
    "applications.tasks.requeue_lost_release_jobs",
    "applications.tasks.requeue_stalled_jobs",
}


def _routed_queue(name: str) -> str:
    """The queue Celery's router gives the task ``name`` (what ``send_task`` asks it for every publish)."""
    return app.amqp.router.route({}, name)["queue"].name


def _ours() -> dict:
    for name in MAIN_TASKS | LONG_TASKS:
        registered_task(name)  # imports each app's tasks module, as a worker does at its start
    return {name: task for name, task in app.tasks.items() if not name.startswith("celery.")}


def test_the_long_queue_is_the_main_queue_with_long_after_it():
    assert f"{settings.CELERY_TASK_DEFAULT_QUEUE}-long" == settings.CELERY_LONG_QUEUE
    assert settings.CELERY_LONG_QUEUE != settings.CELERY_TASK_DEFAULT_QUEUE


def test_each_task_with_an_hour_of_time_limit_goes_to_the_long_queue_and_every_other_to_the_main_one():
    # A long task added later without its route would hold a mail's slot again: this lists them by their limit.
    tasks = _ours()
    long_ones = {
        name for name, task in tasks.items() if (task.soft_time_limit or 0) > settings.CELERY_TASK_SOFT_TIME_LIMIT
    }

    assert long_ones == LONG_TASKS
    assert set(tasks) >= MAIN_TASKS
    for name in tasks:
        expected = settings.CELERY_LONG_QUEUE if name in LONG_TASKS else settings.CELERY_TASK_DEFAULT_QUEUE
        assert _routed_queue(name) == expected, name


@pytest.fixture
def producer(monkeypatch):
    """What a task's publish hands to the broker, without a broker: the tasks are not run in-process (as in
    production, REDIS_URL set) and every publish goes through a recording producer."""
    monkeypatch.setitem(app.conf, "task_always_eager", False)
    recorder = mock.MagicMock(name="producer")
    monkeypatch.setattr(app, "producer_or_acquire", lambda producer=None: contextlib.nullcontext(recorder))
    return recorder


def _published(producer) -> list[tuple[str, str, str]]:
    """(task, routing key, queue declared) of each message published."""
    return [
        (call.kwargs["headers"]["task"], call.kwargs["routing_key"], call.kwargs["declare"][0].name)
        for call in producer.publish.call_args_list
    ]


def test_a_delay_publishes_the_long_tasks_to_the_long_queue_and_the_mails_to_the_main_one(producer):
    build_commission_pack.delay(1)
    build_export_job.delay(2)
    run_release_job.apply_async((3,), countdown=5)
    send_outbound_email.delay(4)
    sweep_outbox.apply_async(expires=55)  # as beat sends it

    long, main = settings.CELERY_LONG_QUEUE, settings.CELERY_TASK_DEFAULT_QUEUE
    assert _published(producer) == [
        ("applications.tasks.build_commission_pack", long, long),
        ("applications.tasks.build_export_job", long, long),
        ("applications.tasks.run_release_job", long, long),
        ("ecandidat.tasks.send_outbound_email", main, main),
        ("ecandidat.tasks.sweep_outbox", main, main),
    ]


@pytest.mark.django_db
def test_the_sweeper_of_stalled_jobs_queues_a_pack_again_to_the_long_queue(
    producer, centre_manager, django_capture_on_commit_callbacks
):
    pack = CommissionPack.objects.create(
        requested_by=centre_manager,
        application_ids=[1],
        total=1,
        status=CommissionPack.Status.RUNNING,
        progress_at=timezone.now() - packs.PACK_STALE_AFTER - datetime.timedelta(minutes=1),
    )

    with django_capture_on_commit_callbacks(execute=True):
        assert requeue_stalled_packs() == 1

    [call] = producer.publish.call_args_list
    assert call.kwargs["headers"]["task"] == "applications.tasks.build_commission_pack"
    assert call.kwargs["headers"]["argsrepr"] == repr((pack.pk,))
    assert call.kwargs["headers"]["expires"]  # the sweeper's expiry kept beside the route
    assert call.kwargs["routing_key"] == settings.CELERY_LONG_QUEUE


def test_two_deployments_on_one_redis_have_two_long_queues():
    # A "recette" beside production (README: one CELERY_QUEUE each): its long jobs must not reach production's long
    # worker, as its mails do not reach production's main one. Asked of Celery in a process with each environment.
    code = (
        "import json, django; django.setup(); from ecandidat.celery import app; "
        "print(json.dumps([app.amqp.router.route({}, name)['queue'].name for name in "
        "('applications.tasks.build_commission_pack', 'ecandidat.tasks.send_outbound_email')]))"
    )

    def queues(**env: str) -> list[str]:
        base = {name: os.environ[name] for name in ("PATH", "HOME", "LANG") if name in os.environ}
        result = subprocess.run(  # noqa: S603
            [sys.executable, "-c", code],
            env={
                **base,
                "DJANGO_SETTINGS_MODULE": "ecandidat.settings.base",
                "SECRET_KEY": "x" * 60,
                "REDIS_URL": "redis://127.0.0.1:6379/0",  # never reached: routing only
                **env,
            },
            cwd=settings.BASE_DIR,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return json.loads(result.stdout.splitlines()[-1])

    assert queues() == ["celery-long", "celery"]
    assert queues(CELERY_QUEUE="recette") == ["recette-long", "recette"]
