"""A background release that meets an unexpected error (found by review, proven on PostgreSQL): an error of one
application (a bug in its mail or its letter, a statement given up) refused that application alone, with its reason,
nothing of it written, and the others released; an error of the whole job still raised, the database's connection
lost leaving the job to the sweeper of stalled jobs, any other ending it failed with each application it did not get
to listed; and the page of a failed release says to select the applications again, as a stalled one's does.

Before the fix, any error but a refusal (``BusinessRuleError``) ended the whole job: FAILED, the applications left
never released, its page without a word of what was left."""

import datetime

import pytest
from celery.exceptions import SoftTimeLimitExceeded
from django.db import OperationalError, connection
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext
from pytest_django.asserts import assertContains

from applications.models import Application, ApplicationEvent, DecisionLetter, ReleaseJob
from applications.services import staff
from applications.services.release import RELEASE_STALE_AFTER, request_release, requeue_stalled_releases, run_release
from applications.tests.factories_candidature import decision_type, make_application
from ecandidat.models import OutboundEmail
from offers.enums import Avis
from offers.tests.factories import FormationFactory

pytestmark = pytest.mark.django_db

UNEXPECTED = (
    "An unexpected error stopped the validation of this application: its decision was not validated; try again for "
    "this application."
)
NOT_REACHED = (
    "The release stopped before this application: its decision was not validated; select it again to release it."
)
STOPPED_NOTE = (
    "The release stopped before the end: the decisions counted above were validated and sent; select the "
    "applications again to release the others."
)
FAULTY = 3  # the third validation fails


@pytest.fixture
def formation(centre, commission):
    return FormationFactory(centre=centre, commission=commission, code="MINFO", title="Master Informatique")


@pytest.fixture
def eight(formation, campaign, commission_member) -> list[Application]:
    """Eight applications with a favourable decision waiting for its release (in pk order: the release's)."""
    applications = []
    for _ in range(8):
        application = make_application(formation, campaign=campaign)
        staff.record_decision(application, decision_type=decision_type(Avis.FAVOURABLE), actor=commission_member)
        applications.append(application)
    return applications


@pytest.fixture
def failing(monkeypatch):
    """Make the ``FAULTY``-th validation raise ``error`` once it has written everything (its decision validated, its
    history, its mail in the outbox): what its transaction must roll back. Returns what it wrote before raising."""
    written: list[int] = []
    original = staff.validate_decision
    calls: list[int] = []

    def arrange(error: BaseException) -> list[int]:
        def validate(decision, **kwargs):
            result = original(decision, **kwargs)
            calls.append(decision.pk)
            if len(calls) == FAULTY:
                written.append(OutboundEmail.objects.filter(to=decision.application.candidate.user.email).count())
                raise error
            return result

        monkeypatch.setattr(staff, "validate_decision", validate)
        return written

    return arrange


def refusal(application: Application, reason: str) -> str:
    return f"{application.candidate.user.username} – {application.formation.code}: {reason}"


def snapshot(application: Application) -> tuple:
    """All that a validation writes of ``application``: its row, its decisions, its history, its mails, its
    letters."""
    return (
        Application.objects.filter(pk=application.pk).values().get(),
        list(application.decisions.values()),
        ApplicationEvent.objects.filter(application=application).count(),
        OutboundEmail.objects.filter(to=application.candidate.user.email).count(),
        DecisionLetter.objects.filter(decision__application=application).count(),
    )


def mails_to(applications: list[Application]) -> list[int]:
    mails = OutboundEmail.objects.filter(code="AVIS_FAVORABLE")
    return [mails.filter(to=application.candidate.user.email).count() for application in applications]


def validated(applications: list[Application]) -> list[bool]:
    return [a.decisions.get().validated_at is not None for a in applications]


def start(centre_manager, applications: list[Application]) -> ReleaseJob:
    return request_release(actor=centre_manager, application_ids=[a.pk for a in applications])


def test_an_unexpected_error_refuses_that_application_alone(
    eight, centre_manager, failing, caplog, mailoutbox, django_capture_on_commit_callbacks
):
    faulty = eight[FAULTY - 1]
    before = snapshot(faulty)
    written = failing(RuntimeError("a bug in its mail"))
    job = start(centre_manager, eight)

    with django_capture_on_commit_callbacks(execute=True):
        run_release(job.pk)

    job.refresh_from_db()
    others = [a for a in eight if a != faulty]
    assert (job.status, job.done, job.processed) == (ReleaseJob.Status.DONE, 7, 8)
    assert job.refusals == [refusal(faulty, UNEXPECTED)]
    assert validated(others) == [True] * 7
    assert mails_to(others) == [1] * 7
    assert sorted(message.to[0] for message in mailoutbox) == sorted(a.candidate.user.email for a in others)
    # Its validation had written its mail: all of it rolled back, nothing half-written.
    assert written == [1]
    assert snapshot(faulty) == before
    assert faulty.decisions.get().validated_at is None
    logged = [record for record in caplog.records if "unexpected error" in record.getMessage()]
    assert [record.exc_info[0] for record in logged if record.exc_info] == [RuntimeError]


@pytest.mark.django_db(transaction=True)
def test_in_the_workers_own_transactions_too(eight, centre_manager, failing, mailoutbox):
    """As the worker runs it: no transaction around the job, each application's is committed or rolled back itself
    (its mails leave at its commit)."""
    faulty = eight[FAULTY - 1]
    before = snapshot(faulty)
    failing(RuntimeError("a bug in its letter"))

    job = start(centre_manager, eight)  # its task runs at once, at its commit (eager in the tests)

    job.refresh_from_db()
    others = [a for a in eight if a != faulty]
    assert (job.status, job.done, job.refusals) == (ReleaseJob.Status.DONE, 7, [refusal(faulty, UNEXPECTED)])
    assert mails_to(others) == [1] * 7
    assert sorted(message.to[0] for message in mailoutbox) == sorted(a.candidate.user.email for a in others)
    assert snapshot(faulty) == before


def test_a_statement_of_one_application_given_up_refuses_it_alone(
    eight, centre_manager, failing, django_capture_on_commit_callbacks
):
    """A database error its own statements caused (a ``statement_timeout``, a lock wait not mapped to a refusal): the
    connection is still usable once its transaction rolled back, so the others go on."""
    faulty = eight[FAULTY - 1]
    before = snapshot(faulty)
    failing(OperationalError("canceling statement due to statement timeout"))
    job = start(centre_manager, eight)

    with django_capture_on_commit_callbacks(execute=True):
        run_release(job.pk)

    job.refresh_from_db()
    assert (job.status, job.done, job.refusals) == (ReleaseJob.Status.DONE, 7, [refusal(faulty, UNEXPECTED)])
    assert snapshot(faulty) == before


def test_the_connection_lost_still_stops_the_job_and_leaves_it_to_the_sweeper(
    eight, centre_manager, failing, monkeypatch, django_capture_on_commit_callbacks
):
    """The database's connection lost (the server restarted): an error of the whole job, raised, the job left
    RUNNING, written no further; the sweeper of stalled jobs takes it back and the run it queues finishes it, each
    candidate mailed once."""
    faulty = eight[FAULTY - 1]
    before = snapshot(faulty)
    failing(OperationalError("server closed the connection unexpectedly"))
    monkeypatch.setattr(connection, "is_usable", lambda: False)
    job = start(centre_manager, eight)

    with pytest.raises(OperationalError), django_capture_on_commit_callbacks(execute=True):
        run_release(job.pk)

    job.refresh_from_db()
    assert (job.status, job.done, job.refusals, job.finished_at) == (ReleaseJob.Status.RUNNING, 2, [], None)
    assert validated(eight) == [True, True] + [False] * 6
    assert snapshot(faulty) == before

    monkeypatch.undo()  # the database back, the fault gone
    later = timezone.now() + RELEASE_STALE_AFTER + datetime.timedelta(minutes=1)
    with django_capture_on_commit_callbacks() as queued:
        assert requeue_stalled_releases(now=later) == 1
    assert len(queued) == 1
    ReleaseJob.objects.filter(pk=job.pk).update(progress_at=timezone.now() - RELEASE_STALE_AFTER)
    with django_capture_on_commit_callbacks(execute=True):
        run_release(job.pk)

    job.refresh_from_db()
    assert (job.status, job.done, job.refusals) == (ReleaseJob.Status.DONE, 8, [])
    assert mails_to(eight) == [1] * 8


def test_another_error_of_the_whole_job_fails_it_listing_what_it_did_not_get_to(
    eight, centre_manager, failing, django_capture_on_commit_callbacks
):
    """The task's time limit met during the third: raised, the job FAILED, the third (rolled back) and every one
    after it refused as not reached, so that its page says which to select again."""
    faulty = eight[FAULTY - 1]
    before = snapshot(faulty)
    failing(SoftTimeLimitExceeded())
    job = start(centre_manager, eight)

    with pytest.raises(SoftTimeLimitExceeded), django_capture_on_commit_callbacks(execute=True):
        run_release(job.pk)

    job.refresh_from_db()
    assert (job.status, job.done, job.processed) == (ReleaseJob.Status.FAILED, 2, 8)
    assert job.refusals == [refusal(a, NOT_REACHED) for a in eight[FAULTY - 1 :]]
    assert validated(eight) == [True, True] + [False] * 6
    assert mails_to(eight) == [1, 1] + [0] * 6
    assert snapshot(faulty) == before


def test_a_resumed_run_that_fails_counts_what_the_stopped_run_validated(
    eight, centre_manager, failing, monkeypatch, django_capture_on_commit_callbacks
):
    """A run taken back after its worker was killed, failing before it got to applications the killed run had
    validated: those are counted as done, not listed as left."""
    job = start(centre_manager, eight)
    with django_capture_on_commit_callbacks(execute=True):
        for application in eight[-2:]:
            staff.validate_decision(application.decisions.get(), actor=centre_manager)
    stalled_at = timezone.now() - RELEASE_STALE_AFTER - datetime.timedelta(minutes=1)
    ReleaseJob.objects.filter(pk=job.pk).update(status=ReleaseJob.Status.RUNNING, done=2, progress_at=stalled_at)
    failing(SoftTimeLimitExceeded())

    with pytest.raises(SoftTimeLimitExceeded), django_capture_on_commit_callbacks(execute=True):
        run_release(job.pk)

    job.refresh_from_db()
    assert (job.status, job.done, job.processed) == (ReleaseJob.Status.FAILED, 4, 8)
    assert job.refusals == [refusal(a, NOT_REACHED) for a in eight[FAULTY - 1 : -2]]


def test_the_page_of_a_failed_release_says_what_was_left(
    client, eight, centre_manager, failing, django_capture_on_commit_callbacks, django_assert_num_queries
):
    failing(SoftTimeLimitExceeded())
    job = start(centre_manager, eight)
    with pytest.raises(SoftTimeLimitExceeded), django_capture_on_commit_callbacks(execute=True):
        run_release(job.pk)
    client.force_login(centre_manager)

    # Session, user, staff checks, savepoints, the job, then the applications outside the scope: none per refusal.
    with django_assert_num_queries(9):
        response = client.get(reverse("admin:applications_application_release", args=[job.public_id]))

    assertContains(response, "8 decisions — failed")
    assertContains(response, "2 of 8 decisions validated and sent")
    assertContains(response, STOPPED_NOTE)
    assertContains(response, 'data-job-state="finished"')
    for application in eight[FAULTY - 1 :]:
        assertContains(response, refusal(application, NOT_REACHED))
    assert "Launch the release again" not in response.content.decode()


def test_the_reasons_are_in_french():
    with translation.override("fr"):
        assert gettext(UNEXPECTED) == (
            "Une erreur inattendue a interrompu la validation de cette candidature : son avis n’a pas été validé ; "
            "réessayez pour cette candidature."
        )
        assert gettext(NOT_REACHED) == (
            "La validation s’est arrêtée avant cette candidature : son avis n’a pas été validé ; sélectionnez-la à "
            "nouveau pour la valider."
        )
        assert gettext("Application %(id)d: the release stopped before it, nothing was validated.") % {"id": 7} == (
            "Candidature 7 : la validation s’est arrêtée avant elle, rien n’a été validé."
        )
