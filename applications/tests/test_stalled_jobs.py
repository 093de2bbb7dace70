"""Background jobs whose worker process was killed mid-run (the OOM killer on a commission pack building PDFs, a
``kill -9``): the task is acknowledged late, so the worker's main process requeues its message at once, but that
delivery runs within a second and its claim finds the job's progress fresh (it only takes back a RUNNING job without
progress for its kind's stale window): it does nothing and is acknowledged. Nothing queued the job again: the pack
or export « s'est arrêtée » after 15/10 minutes, never built; the release stayed half done for good.

The beat sweeper ``requeue_stalled_jobs`` queues the task again for each RUNNING job whose progress is older than its
stale window, asked for less than ``STALLED_RETAKEN_WITHIN`` ago; its claim then takes the job back. Its page shows
it stopped only once the sweeper had its chance (``SWEEP_GRACE``)."""

import datetime
import functools

import pytest
from django.utils import timezone
from kombu.exceptions import OperationalError

from applications import export_jobs, lost_tasks, packs
from applications.models import CommissionPack, ExportJob, ReleaseJob
from applications.services import release, staff
from applications.tasks import build_commission_pack, build_export_job, requeue_stalled_jobs, run_release_job
from applications.tests.factories_candidature import make_application, stored_piece
from ecandidat.celery import registered_task
from ecandidat.models import OutboundEmail
from offers.tests.factories import FormationFactory

pytestmark = pytest.mark.django_db

PACK = "applications.tasks.build_commission_pack"
EXPORT = "applications.tasks.build_export_job"
RELEASE = "applications.tasks.run_release_job"
ASKED = datetime.timedelta(minutes=20)  # asked for 20 minutes ago: well within STALLED_RETAKEN_WITHIN


@pytest.fixture
def formation(centre, commission):
    return FormationFactory(centre=centre, commission=commission, code="MINFO", title="Master Informatique")


@pytest.fixture
def dossiers(formation, campaign):
    applications = [make_application(formation, campaign=campaign) for _ in range(3)]
    for application in applications:
        stored_piece(application, "Relevé de notes")
    return applications


@pytest.fixture
def published(monkeypatch):
    """The messages of the three tasks, as published (task name, args, options), none run."""
    messages = []

    def publish(name, args, kwargs=None, **options):
        messages.append((name, tuple(args), options))

    for name in (PACK, EXPORT, RELEASE):
        monkeypatch.setattr(registered_task(name), "apply_async", functools.partial(publish, name))
    return messages


def sweep(capture) -> int:
    """One run of the beat sweeper, its messages published after commit."""
    with capture(execute=True):
        return requeue_stalled_jobs()


def running(model, *, progress_ago, asked_ago=ASKED, **fields):
    """A job a worker claimed, asked for ``asked_ago``, its last progress ``progress_ago`` ago."""
    now = timezone.now()
    job = model.objects.create(status=model.Status.RUNNING, progress_at=now - progress_ago, **fields)
    model.objects.filter(pk=job.pk).update(created_at=now - asked_ago)
    job.refresh_from_db()
    return job


def make_pack(actor, dossiers, **times):
    return running(
        CommissionPack,
        requested_by=actor,
        application_ids=[a.pk for a in dossiers],
        total=len(dossiers),
        done=1,
        **times,
    )


def make_export(actor, **times):
    return running(
        ExportJob, requested_by=actor, filters="", columns=["numero", "birth_name"], fmt="csv", language="en", **times
    )


def make_release(actor, applications, **times):
    return running(
        ReleaseJob, requested_by=actor, application_ids=[a.pk for a in applications], total=len(applications), **times
    )


def stale(window):
    return window + datetime.timedelta(minutes=1)


FRESH = datetime.timedelta(seconds=1)


# --- the three kinds taken back ------------------------------------------------------------------------------------


def test_a_pack_whose_worker_was_killed_is_queued_again_then_built(
    centre_manager, dossiers, published, django_capture_on_commit_callbacks
):
    pack = make_pack(centre_manager, dossiers, progress_ago=FRESH)
    # The delivery that follows the kill at once: the progress is fresh, its claim does nothing.
    build_commission_pack(pack.pk)
    pack.refresh_from_db()
    assert (pack.status, pack.done) == ("RUNNING", 1)
    assert sweep(django_capture_on_commit_callbacks) == 0

    CommissionPack.objects.filter(pk=pack.pk).update(progress_at=timezone.now() - stale(packs.PACK_STALE_AFTER))
    assert sweep(django_capture_on_commit_callbacks) == 1

    assert published == [(PACK, (pack.pk,), {"expires": lost_tasks.STALLED_REQUEUE_EXPIRES})]
    pack.refresh_from_db()
    assert pack.progress_at < timezone.now() - packs.PACK_STALE_AFTER  # left stale: the claim takes it back
    build_commission_pack(*published[0][1])
    pack.refresh_from_db()
    assert (pack.status, pack.done, pack.error) == ("DONE", 3, "")
    assert pack.file.name


def test_an_export_whose_worker_was_killed_is_queued_again_then_built(
    centre_manager, dossiers, published, django_capture_on_commit_callbacks
):
    job = make_export(centre_manager, progress_ago=FRESH)
    build_export_job(job.pk)
    job.refresh_from_db()
    assert job.status == ExportJob.Status.RUNNING
    assert sweep(django_capture_on_commit_callbacks) == 0

    ExportJob.objects.filter(pk=job.pk).update(progress_at=timezone.now() - stale(export_jobs.EXPORT_STALE_AFTER))
    assert sweep(django_capture_on_commit_callbacks) == 1

    assert published == [(EXPORT, (job.pk,), {"expires": lost_tasks.STALLED_REQUEUE_EXPIRES})]
    build_export_job(*published[0][1])
    job.refresh_from_db()
    assert (job.status, job.done, job.error) == (ExportJob.Status.DONE, 3, "")
    assert job.file.name == f"exports/{job.public_id}.csv"


def released(applications) -> int:
    return sum(a.decisions.get().validated_at is not None for a in applications)


def test_a_release_whose_worker_was_killed_is_queued_again_then_finished_once(
    centre_manager, favourable, published, django_capture_on_commit_callbacks
):
    """Killed after the first decision: the rest are validated and mailed, the first not twice."""
    job = make_release(centre_manager, favourable, progress_ago=FRESH, done=1)
    with django_capture_on_commit_callbacks(execute=True):
        staff.validate_decision(favourable[0].decisions.get(), actor=centre_manager)
    run_release_job(job.pk)
    job.refresh_from_db()
    assert (job.status, job.done, released(favourable)) == (ReleaseJob.Status.RUNNING, 1, 1)
    assert sweep(django_capture_on_commit_callbacks) == 0

    ReleaseJob.objects.filter(pk=job.pk).update(progress_at=timezone.now() - stale(release.RELEASE_STALE_AFTER))
    assert sweep(django_capture_on_commit_callbacks) == 1

    assert published == [(RELEASE, (job.pk,), {"expires": lost_tasks.STALLED_REQUEUE_EXPIRES})]
    with django_capture_on_commit_callbacks(execute=True):
        run_release_job(*published[0][1])
    job.refresh_from_db()
    assert (job.status, job.done, job.refusals) == (ReleaseJob.Status.DONE, 3, [])
    assert released(favourable) == 3
    assert OutboundEmail.objects.filter(code="AVIS_FAVORABLE").count() == 3  # each candidate mailed once


# --- what is not queued again --------------------------------------------------------------------------------------


def all_kinds(actor, dossiers, **times):
    return [make_pack(actor, dossiers, **times), make_export(actor, **times), make_release(actor, dossiers, **times)]


def test_a_job_still_making_progress_is_not_queued_again(
    centre_manager, dossiers, published, django_capture_on_commit_callbacks
):
    # Older than the export's window (10 min), within the pack's and the release's (15): only the export is due.
    _pack, export, _job = all_kinds(centre_manager, dossiers, progress_ago=datetime.timedelta(minutes=12))
    all_kinds(centre_manager, dossiers, progress_ago=FRESH)

    assert sweep(django_capture_on_commit_callbacks) == 1
    assert published == [(EXPORT, (export.pk,), {"expires": lost_tasks.STALLED_REQUEUE_EXPIRES})]


def test_a_job_asked_for_more_than_two_hours_ago_is_given_up(
    centre_manager, dossiers, published, django_capture_on_commit_callbacks
):
    """A job that kills its worker each time (the OOM killer at the same dossier) is not run again for ever."""
    long_ago = lost_tasks.STALLED_RETAKEN_WITHIN + datetime.timedelta(minutes=1)
    assert datetime.timedelta(hours=2) == lost_tasks.STALLED_RETAKEN_WITHIN
    jobs = all_kinds(centre_manager, dossiers, progress_ago=datetime.timedelta(minutes=30), asked_ago=long_ago)

    assert sweep(django_capture_on_commit_callbacks) == 0
    assert published == []
    assert all(job.__class__.objects.get(pk=job.pk).status == "RUNNING" for job in jobs)
    # Its page shows it stopped.
    assert packs.is_stalled(jobs[0])
    assert export_jobs.is_stalled(jobs[1])
    assert release.is_stalled(jobs[2])


def test_other_statuses_are_left_to_their_own_sweepers(
    centre_manager, dossiers, published, django_capture_on_commit_callbacks
):
    old = timezone.now() - datetime.timedelta(minutes=30)
    for model, fields in (
        (CommissionPack, {"application_ids": [], "total": 0, "file": "packs/x.zip"}),
        (ExportJob, {"columns": ["numero"], "file": "exports/x.csv"}),
        (ReleaseJob, {"application_ids": []}),
    ):
        for status in ("PENDING", "DONE", "FAILED"):
            job = model.objects.create(requested_by=centre_manager, status=status, progress_at=old, **fields)
            model.objects.filter(pk=job.pk).update(created_at=old)

    assert sweep(django_capture_on_commit_callbacks) == 0
    assert published == []


# --- its cost ------------------------------------------------------------------------------------------------------


def test_the_sweeper_costs_one_query_per_kind_whatever_the_jobs_not_due(
    centre_manager, dossiers, published, django_capture_on_commit_callbacks, django_assert_num_queries
):
    with django_assert_num_queries(3), django_capture_on_commit_callbacks(execute=True):
        assert requeue_stalled_jobs() == 0

    for _ in range(3):
        all_kinds(centre_manager, dossiers, progress_ago=FRESH)
        all_kinds(
            centre_manager, dossiers, progress_ago=datetime.timedelta(hours=1), asked_ago=datetime.timedelta(hours=3)
        )
    with django_assert_num_queries(3), django_capture_on_commit_callbacks(execute=True):
        assert requeue_stalled_jobs() == 0

    # The due ones are queued without a query more: one message each.
    for _ in range(2):
        all_kinds(centre_manager, dossiers, progress_ago=datetime.timedelta(minutes=16))
    with django_assert_num_queries(3), django_capture_on_commit_callbacks(execute=True):
        assert requeue_stalled_jobs() == 6
    assert sorted(name for name, _args, _options in published) == sorted([PACK, EXPORT, RELEASE] * 2)


def test_with_the_broker_down_the_sweeper_goes_on_and_the_next_run_tries_again(
    centre_manager, dossiers, monkeypatch, caplog, django_capture_on_commit_callbacks
):
    refused = []

    def refuse(*args, **kwargs):
        refused.append(args)
        raise OperationalError("Error 111 connecting to localhost:6379. Connection refused.")

    monkeypatch.setattr(registered_task(PACK), "apply_async", refuse)
    make_pack(centre_manager, dossiers, progress_ago=stale(packs.PACK_STALE_AFTER))

    assert sweep(django_capture_on_commit_callbacks) == 1
    assert sweep(django_capture_on_commit_callbacks) == 1  # progress_at untouched: due again
    assert len(refused) == 2
    assert "left for its sweeper" in caplog.text
    assert "queued again" in caplog.text


def test_beat_runs_the_sweeper_of_stalled_jobs_every_minute(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["requeue-stalled-jobs"]
    assert (entry["schedule"], entry["options"]) == (60.0, {"expires": 55})
    assert registered_task(entry["task"]) is not None
    assert "requeue-lost-releases" in settings.CELERY_BEAT_SCHEDULE  # kept: deployed beats name it


# --- the pages ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("is_stalled", "model", "window"),
    [
        (packs.is_stalled, CommissionPack, packs.PACK_STALE_AFTER),
        (export_jobs.is_stalled, ExportJob, export_jobs.EXPORT_STALE_AFTER),
        (release.is_stalled, ReleaseJob, release.RELEASE_STALE_AFTER),
    ],
)
def test_a_running_job_is_shown_stopped_only_once_the_sweeper_had_its_chance(is_stalled, model, window):
    now = timezone.now()

    def job(progress_ago):
        return model(status="RUNNING", created_at=now - ASKED, progress_at=now - progress_ago)

    assert datetime.timedelta(minutes=5) == lost_tasks.SWEEP_GRACE
    assert not is_stalled(job(window + datetime.timedelta(minutes=1)), now=now)  # due: the sweeper queues it
    assert is_stalled(job(window + datetime.timedelta(minutes=6)), now=now)
