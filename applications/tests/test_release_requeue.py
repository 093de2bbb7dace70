"""A big release of decisions whose task was lost (its publish refused while Redis was unreachable, or its message
gone with a Redis restarted): queued again after RELEASE_REQUEUE_AFTER (by its page and by the sweeper), shown
failed after RELEASE_NEVER_STARTED_AFTER with a button to launch it again, never « en cours » for ever; run once
however many of its messages arrive (the task's claim)."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone
from kombu.exceptions import OperationalError
from pytest_django.asserts import assertContains, assertNotContains

from applications.lost_tasks import SWEEP_GRACE
from applications.models import ReleaseJob
from applications.services import release
from applications.services.release import RELEASE_STALE_AFTER, request_release, run_release
from ecandidat.celery import registered_task
from ecandidat.models import OutboundEmail
from offers.tests.factories import FormationFactory

pytestmark = pytest.mark.django_db

REFRESH = 'data-job-state="running"'  # the page updates itself while the job runs (static/js/job_progress.js)
DID_NOT_START = "The release did not start: launch it again."


@pytest.fixture
def formation(centre, commission):
    return FormationFactory(centre=centre, commission=commission, code="MINFO", title="Master Informatique")


@pytest.fixture
def task():
    return registered_task("applications.tasks.run_release_job")


@pytest.fixture
def broker_down(monkeypatch, task):
    """Every publish of the release task fails as with Redis unreachable (kombu's OperationalError, which Celery
    raises; ``ecandidat.celery.Task`` logs it, « left for its sweeper »); the calls."""
    calls = []

    def refuse(*args, **kwargs):
        calls.append(args)
        raise OperationalError("Error 111 connecting to localhost:6379. Connection refused.")

    monkeypatch.setattr(task, "apply_async", refuse)
    return calls


def page_url(job):
    return reverse("admin:applications_application_release", args=[job.public_id])


def retry_url(job):
    return reverse("admin:applications_application_release_retry", args=[job.public_id])


def asked_while_the_broker_was_down(actor, applications, broker_down, capture, *, ago):
    with capture(execute=True):
        job = request_release(actor=actor, application_ids=[a.pk for a in applications])
    assert len(broker_down) == 1
    ReleaseJob.objects.filter(pk=job.pk).update(created_at=timezone.now() - ago)
    job.refresh_from_db()
    assert (job.status, job.progress_at) == (ReleaseJob.Status.PENDING, None)
    return job


def released(applications) -> int:
    return sum(a.decisions.get().validated_at is not None for a in applications)


def test_a_release_never_started_is_shown_failed_then_launched_again(
    client,
    centre_manager,
    favourable,
    broker_down,
    monkeypatch,
    django_capture_on_commit_callbacks,
    django_assert_num_queries,
):
    """The reviewer's case: asked for while Redis was unreachable, six hours ago. The page said « en cours » and
    refreshed every 3 s for ever; it says the release did not start, stops refreshing, and launches it again."""
    job = asked_while_the_broker_was_down(
        centre_manager, favourable, broker_down, django_capture_on_commit_callbacks, ago=datetime.timedelta(hours=6)
    )
    client.force_login(centre_manager)

    # Session, user, staff checks, savepoints, the job, its applications outside the scope (the page follows the
    # requester's scope, as the packs: one query more): no write, nothing queued behind the message.
    with django_assert_num_queries(9), django_capture_on_commit_callbacks(execute=True):
        response = client.get(page_url(job))

    assert response.context["in_progress"] is False
    assertNotContains(response, REFRESH)
    assertContains(response, DID_NOT_START)
    assertContains(response, f'action="{retry_url(job)}"')
    assert len(broker_down) == 1
    job.refresh_from_db()
    assert job.status == ReleaseJob.Status.PENDING  # only shown failed: nothing was done, nothing half-done
    assert released(favourable) == 0
    assert not OutboundEmail.objects.exists()

    # The broker back (the tasks eager in the tests): « Relancer la publication » runs it, once.
    monkeypatch.undo()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(retry_url(job), follow=True)
    assertContains(response, "The release of 3 decisions has started.")
    job.refresh_from_db()
    assert (job.status, job.done, job.requested_by) == (ReleaseJob.Status.DONE, 3, centre_manager)
    assert released(favourable) == 3
    assert OutboundEmail.objects.filter(code="AVIS_FAVORABLE").count() == 3
    assertNotContains(client.get(page_url(job)), DID_NOT_START)

    # A second click (the page kept open) launches nothing more.
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(retry_url(job)).status_code == 302
    assert OutboundEmail.objects.filter(code="AVIS_FAVORABLE").count() == 3


def test_a_lost_release_is_queued_again_once_after_the_delay(
    client,
    centre_manager,
    favourable,
    broker_down,
    monkeypatch,
    django_capture_on_commit_callbacks,
    django_assert_num_queries,
):
    job = asked_while_the_broker_was_down(
        centre_manager, favourable, broker_down, django_capture_on_commit_callbacks, ago=datetime.timedelta(seconds=10)
    )
    client.force_login(centre_manager)

    # Just asked for: left to its task, no query more (9: its applications outside the scope, as the packs).
    with django_assert_num_queries(9), django_capture_on_commit_callbacks(execute=True):
        response = client.get(page_url(job))
    assertContains(response, REFRESH)
    assert len(broker_down) == 1

    # Waited past RELEASE_REQUEUE_AFTER, the broker still down: queued again (refused), the page goes on refreshing.
    ReleaseJob.objects.filter(pk=job.pk).update(created_at=timezone.now() - release.RELEASE_REQUEUE_AFTER * 2)
    with django_assert_num_queries(10), django_capture_on_commit_callbacks(execute=True):  # + the stamp's update
        response = client.get(page_url(job))
    assertContains(response, REFRESH)
    assertNotContains(response, DID_NOT_START)
    assert len(broker_down) == 2
    # The refreshes and the sweeper's runs that follow within RELEASE_REQUEUE_AFTER publish nothing more.
    with django_capture_on_commit_callbacks(execute=True):
        client.get(page_url(job))
        assert release.requeue_lost_releases() == 0
    assert len(broker_down) == 2

    # The broker back, the page closed: the sweeper's next run queues it again, and it runs.
    monkeypatch.undo()
    ReleaseJob.objects.filter(pk=job.pk).update(progress_at=timezone.now() - release.RELEASE_REQUEUE_AFTER * 2)
    with django_capture_on_commit_callbacks(execute=True):
        assert registered_task("applications.tasks.requeue_lost_release_jobs").delay().get() == 1
    job.refresh_from_db()
    assert (job.status, job.done) == (ReleaseJob.Status.DONE, 3)
    assert OutboundEmail.objects.filter(code="AVIS_FAVORABLE").count() == 3


@pytest.mark.parametrize("status", [ReleaseJob.Status.RUNNING, ReleaseJob.Status.DONE, ReleaseJob.Status.FAILED])
def test_a_release_that_started_is_not_queued_again(
    client, centre_manager, status, broker_down, django_capture_on_commit_callbacks, django_assert_num_queries
):
    long_ago = timezone.now() - release.RELEASE_NEVER_STARTED_AFTER * 2
    job = ReleaseJob.objects.create(
        requested_by=centre_manager, application_ids=[], total=3, status=status, progress_at=timezone.now()
    )
    ReleaseJob.objects.filter(pk=job.pk).update(created_at=long_ago)
    client.force_login(centre_manager)

    with django_assert_num_queries(8), django_capture_on_commit_callbacks(execute=True):
        response = client.get(page_url(job))
    with django_capture_on_commit_callbacks(execute=True):
        assert release.requeue_lost_releases() == 0

    assert broker_down == []
    assertNotContains(response, DID_NOT_START)
    assert response.context["in_progress"] is (status == ReleaseJob.Status.RUNNING)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(retry_url(job))
    assert broker_down == []
    assert ReleaseJob.objects.get(pk=job.pk).created_at == long_ago


def test_a_running_release_whose_worker_died_is_shown_stopped_not_queued_again(
    client, centre_manager, broker_down, django_capture_on_commit_callbacks
):
    """The other lost run: its worker killed, its message gone. Shown stopped after RELEASE_STALE_AFTER and
    SWEEP_GRACE (the time the sweeper of stalled jobs had to take it back), with what it did; not offered to
    « relancer » as a job that never started (it validated some), nor queued again by its page."""
    stalled_at = timezone.now() - RELEASE_STALE_AFTER - SWEEP_GRACE - datetime.timedelta(minutes=1)
    job = ReleaseJob.objects.create(
        requested_by=centre_manager, application_ids=[], total=4, done=1, status="RUNNING", progress_at=stalled_at
    )
    ReleaseJob.objects.filter(pk=job.pk).update(created_at=stalled_at)
    client.force_login(centre_manager)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.get(page_url(job))

    assert response.context["stalled"] is True
    assert response.context["in_progress"] is False
    assertContains(response, "The release stopped before the end")
    assertNotContains(response, DID_NOT_START)
    assertNotContains(response, REFRESH)
    assert broker_down == []


def test_a_release_queued_again_twice_runs_once(
    centre_manager, favourable, task, monkeypatch, django_capture_on_commit_callbacks
):
    """Its first message was only late (behind long packs): the two queued again arrive too. The claim (PENDING →
    RUNNING, a conditional update) runs it once: each decision validated and mailed once."""
    messages = []
    monkeypatch.setattr(task, "apply_async", lambda args, kwargs, **options: messages.append(args))
    with django_capture_on_commit_callbacks(execute=True):
        job = request_release(actor=centre_manager, application_ids=[a.pk for a in favourable])
    now = timezone.now()
    ReleaseJob.objects.filter(pk=job.pk).update(created_at=now - release.RELEASE_REQUEUE_AFTER * 3)
    job.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        assert release.requeue_lost_release(job, now=now)
        assert not release.requeue_lost_release(job, now=now)  # stamped: not again before RELEASE_REQUEUE_AFTER
        assert release.requeue_lost_release(job, now=now + release.RELEASE_REQUEUE_AFTER * 2)
    assert messages == [(job.pk,)] * 3

    for (job_id,) in messages:
        with django_capture_on_commit_callbacks(execute=True):
            run_release(job_id)

    job.refresh_from_db()
    assert (job.status, job.done, job.refusals) == (ReleaseJob.Status.DONE, 3, [])
    assert released(favourable) == 3
    assert OutboundEmail.objects.filter(code="AVIS_FAVORABLE").count() == 3


def test_launching_again_is_for_a_release_that_never_started_and_in_scope(
    client, centre_manager, other_centre_manager, favourable, broker_down, django_capture_on_commit_callbacks
):
    job = asked_while_the_broker_was_down(
        centre_manager, favourable, broker_down, django_capture_on_commit_callbacks, ago=datetime.timedelta(minutes=5)
    )
    client.force_login(centre_manager)

    # Still within RELEASE_NEVER_STARTED_AFTER: left to its task (and the page's queueings again).
    assert not release.retry_release(job, actor=centre_manager)
    assert client.get(retry_url(job)).status_code == 405
    # Someone else's: not found.
    ReleaseJob.objects.filter(pk=job.pk).update(created_at=timezone.now() - datetime.timedelta(hours=1))
    client.force_login(other_centre_manager)
    assert client.post(retry_url(job)).status_code == 404
    # Its applications no longer in its requester's scope: refused with the same words as the request.
    ReleaseJob.objects.filter(pk=job.pk).update(application_ids=[*job.application_ids, 0])
    client.force_login(centre_manager)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(retry_url(job), follow=True)
    assertContains(response, "Some of these applications are not in your scope.")
    assertContains(response, DID_NOT_START)
    assert len(broker_down) == 1


def test_beat_runs_the_releases_sweeper_every_minute(settings):
    """Without beat, only a watched page queues a lost release again: the schedule names the registered task."""
    entry = settings.CELERY_BEAT_SCHEDULE["requeue-lost-releases"]
    assert entry["schedule"] == 60.0
    assert registered_task(entry["task"]) is not None
