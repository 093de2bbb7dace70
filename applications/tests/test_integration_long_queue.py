"""The mails do not wait for the long jobs (ecandidat/settings/base.py, CELERY_TASK_ROUTES), with real workers.

The worker here runs as production's main unit (deploy/ecandidat-worker.service: -Q CELERY_QUEUE), with one slot
(--pool=solo). Before, a commission pack asked for just before a password reset took that slot and the mail left
only once the pack was built (49 s after it for 200 dossiers; with the unit's four slots, four packs held every mail
for minutes). The pack now waits in CELERY_QUEUE-long for the long unit's worker (-Q CELERY_QUEUE-long), which
builds it; the sweeper of stalled jobs, run by the main worker, queues a pack again to that long queue.
"""

import datetime
import json
import os
import re
import time

import pytest
import redis
from django.db import transaction
from django.utils import timezone

from applications import packs
from applications.models import CommissionPack
from applications.services.packs import request_pack
from applications.tasks import requeue_stalled_jobs
from applications.tests import shared_media
from applications.tests.factories_candidature import make_application, stored_piece
from ecandidat.emails import enqueue_email
from ecandidat.models import OutboundEmail
from ecandidat.tests.plugins.services import TEMPLATES_DIR, start_worker_process, wait_until
from offers.tests.factories import FormationFactory

pytestmark = pytest.mark.integration

# The workers and this process share the files through one directory.
media_root, worker_env, shared_storage = shared_media.media_root, shared_media.worker_env, shared_media.shared_storage

DOSSIERS = 12  # about 1.6 s of work here: before, the mail queued after it waited for all of it


@pytest.fixture
def worker_consumes_long_queue():
    """The worker of these tests is production's main unit: CELERY_QUEUE only, never its long queue."""
    return False


@pytest.fixture
def test_templates(settings):
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [*settings.TEMPLATES[0]["DIRS"], TEMPLATES_DIR]}]


@pytest.fixture
def broker():
    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    yield client
    client.close()


@pytest.fixture
def long_queue(celery_worker_process, broker):
    """The long queue of this test's worker's CELERY_QUEUE (what CELERY_LONG_QUEUE derives), emptied at the end."""
    name = f"{celery_worker_process.queues[0]}-long"
    yield name
    broker.delete(name)  # a message no long worker of the test took goes with its queue


def _waiting(broker: redis.Redis, queue: str) -> list[str]:
    """The tasks of the messages waiting in ``queue`` (kombu's Redis list of that name)."""
    return [json.loads(raw)["headers"]["task"] for raw in broker.lrange(queue, 0, -1)]


def _pack_status(pack: CommissionPack) -> tuple[str, int]:
    pack.refresh_from_db()
    return pack.status, pack.done


def test_a_mail_queued_after_a_pack_leaves_before_the_pack_starts_and_the_long_worker_builds_the_pack(
    shared_storage,
    test_templates,
    smtp_server,
    celery_worker_process,
    broker,
    long_queue,
    centre_manager,
    centre,
    campaign,
    tmp_path,
):
    main_queue = celery_worker_process.queues[0]
    assert celery_worker_process.queues == [main_queue]  # as the main unit: -Q CELERY_QUEUE
    formation = FormationFactory(centre=centre, code="M1ENER")
    applications = [make_application(formation, campaign=campaign) for _ in range(DOSSIERS)]
    for application in applications:
        stored_piece(application, "Relevé de notes")

    with transaction.atomic():  # first the pack (its task published at commit), then a password-reset-like mail
        pack = request_pack(actor=centre_manager, application_ids=[a.pk for a in applications])
    with transaction.atomic():
        email = enqueue_email(
            to="camille.martin@example.org",
            code="TEST_INTEGRATION",
            template_base="ecandidat_tests/integration",
            context={"name": "Camille Martin"},
            language="en",
        )
    queued = time.monotonic()

    wait_until(
        lambda: OutboundEmail.objects.get(pk=email.pk).status == OutboundEmail.Status.SENT,
        timeout=60,
        message="the mail to be SENT",
    )
    sent_after = time.monotonic() - queued
    pack_then = _pack_status(pack)

    # The mail left while the pack had not even started: its task waits for the long worker, not in this one's queue.
    assert pack_then == (CommissionPack.Status.PENDING, 0), f"mail sent {sent_after:.1f} s after its commit"
    assert _waiting(broker, long_queue) == ["applications.tasks.build_commission_pack"]
    assert _waiting(broker, main_queue) == []
    [message] = smtp_server.messages
    assert message["To"] == "camille.martin@example.org"
    assert "applications.tasks.build_commission_pack[" not in celery_worker_process.log()

    # The long unit's worker (-Q CELERY_QUEUE-long, same environment) builds it.
    long_worker = start_worker_process([long_queue], celery_worker_process.env, tmp_path / "long-worker.log")
    try:
        wait_until(
            lambda: _pack_status(pack)[0] == CommissionPack.Status.DONE,
            timeout=120,
            message="the pack to be built by the long worker",
        )
    finally:
        long_worker.stop()
    assert _pack_status(pack) == (CommissionPack.Status.DONE, DOSSIERS)
    assert "applications.tasks.build_commission_pack[" in long_worker.log()
    assert _waiting(broker, long_queue) == []


def test_the_sweeper_run_by_the_main_worker_queues_a_stalled_pack_to_the_long_queue(
    celery_worker_process, broker, long_queue, centre_manager
):
    main_queue = celery_worker_process.queues[0]
    # A pack whose worker was killed mid-build (OOM killer): RUNNING, its progress older than its stale window.
    pack = CommissionPack.objects.create(
        requested_by=centre_manager,
        application_ids=[1],
        total=1,
        done=0,
        status=CommissionPack.Status.RUNNING,
        progress_at=timezone.now() - packs.PACK_STALE_AFTER - datetime.timedelta(minutes=1),
    )

    requeue_stalled_jobs.apply_async(expires=55)  # as beat sends it, to the main queue

    wait_until(lambda: _waiting(broker, long_queue), timeout=30, message="the pack's task in the long queue")
    assert _waiting(broker, long_queue) == ["applications.tasks.build_commission_pack"]
    wait_until(
        lambda: re.search(
            r"applications\.tasks\.requeue_stalled_jobs\[[^]]+\] succeeded in", celery_worker_process.log()
        ),
        timeout=30,
        message="the sweeper's run",
    )
    assert _waiting(broker, main_queue) == []
    assert "applications.tasks.build_commission_pack[" not in celery_worker_process.log()  # never built by this one
    assert _pack_status(pack) == (CommissionPack.Status.RUNNING, 0)  # left for the long worker's claim
