"""A background release of decisions follows its requester's right as it is now (found by review): the right is read
again for each application (a membership removed or moved refuses the applications left, a deactivated account
stops the job), and the release's page and its « Relancer » button follow the requester's scope as the commission
packs and the exports do (404 once an application of the job is outside it)."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import StaffMembership
from accounts.tests.factories import StaffFactory
from applications.models import ReleaseJob
from applications.services import release
from applications.services.release import request_release, run_release
from ecandidat.models import OutboundEmail
from offers.tests.factories import FormationFactory

pytestmark = pytest.mark.django_db

OUT_OF_SCOPE = "This application is no longer in your scope: its decision was not validated."
DEACTIVATED = "Your account has been deactivated since this release was asked for: this decision was not validated."


@pytest.fixture
def formation(centre, commission):
    return FormationFactory(centre=centre, commission=commission, code="MINFO", title="Master Informatique")


@pytest.fixture
def after_the_first(monkeypatch):
    """Run ``change`` once the first application's decision is validated (inside its transaction, committed with
    it), as a colleague's change in the back office would land while the worker goes on; the validations done."""
    validated = []
    original = release.validate_current_decision

    def arrange(change):
        def validate(application, **kwargs):
            original(application, **kwargs)
            validated.append(application.pk)
            if len(validated) == 1:
                change()

        monkeypatch.setattr(release, "validate_current_decision", validate)
        return validated

    return arrange


def mailed(applications) -> list[str]:
    emails = {application.candidate.user.email for application in applications}
    return sorted(to for to in OutboundEmail.objects.values_list("to", flat=True) if to in emails)


def validated_by(applications) -> list:
    return [application.decisions.get().validated_by for application in applications]


def refusal(application, reason: str) -> str:
    return f"{application.candidate.user.username} – {application.formation.code}: {reason}"


def run(job, capture):
    with capture(execute=True):
        run_release(job.pk)
    job.refresh_from_db()


def test_a_requester_whose_right_is_intact_releases_every_application(
    centre_manager, favourable, django_capture_on_commit_callbacks
):
    job = request_release(actor=centre_manager, application_ids=[a.pk for a in favourable])

    run(job, django_capture_on_commit_callbacks)

    assert (job.status, job.done, job.refusals) == (ReleaseJob.Status.DONE, 3, [])
    assert validated_by(favourable) == [centre_manager] * 3
    assert mailed(favourable) == sorted(a.candidate.user.email for a in favourable)


def test_a_superuser_requester_releases_every_application(favourable, django_capture_on_commit_callbacks):
    """No membership: the superuser's right comes from the account itself, read again too."""
    superuser = StaffFactory(is_superuser=True, username="admin")
    job = request_release(actor=superuser, application_ids=[a.pk for a in favourable])

    run(job, django_capture_on_commit_callbacks)

    assert (job.status, job.done, job.refusals) == (ReleaseJob.Status.DONE, 3, [])
    assert validated_by(favourable) == [superuser] * 3


@pytest.mark.parametrize("change", ["removed", "moved"])
def test_a_membership_withdrawn_during_the_release_refuses_the_applications_left(
    centre_manager, other_centre, favourable, after_the_first, change, django_capture_on_commit_callbacks
):
    """The reviewer's case: the manager's membership is removed (or moved to another centre) once the first of three
    applications is released. The two others were validated, mailed and recorded as validated by that person."""
    memberships = StaffMembership.objects.filter(user=centre_manager)
    validated = after_the_first(
        memberships.delete if change == "removed" else lambda: memberships.update(centre=other_centre)
    )
    job = request_release(actor=centre_manager, application_ids=[a.pk for a in favourable])

    run(job, django_capture_on_commit_callbacks)

    first, *others = favourable
    assert validated == [first.pk]
    assert validated_by(favourable) == [centre_manager, None, None]
    assert all(application.decisions.get().validated_at is None for application in others)
    assert mailed(favourable) == [first.candidate.user.email]
    assert (job.status, job.done) == (ReleaseJob.Status.DONE, 1)
    assert job.refusals == [refusal(application, OUT_OF_SCOPE) for application in others]
    assert job.finished_at is not None


@pytest.mark.parametrize("membership_kept", [True, False])
def test_an_account_deactivated_during_the_release_stops_it(
    centre_manager, favourable, after_the_first, membership_kept, monkeypatch, django_capture_on_commit_callbacks
):
    """The account deactivated once the first application is released (with its membership, as the reviewer did, or
    kept): the job stops, the applications left refused with the same reason, none of them read again."""

    def deactivate():
        type(centre_manager).objects.filter(pk=centre_manager.pk).update(is_active=False)
        if not membership_kept:
            StaffMembership.objects.filter(user=centre_manager).delete()

    validated = after_the_first(deactivate)
    checked: list[int] = []
    check = release._check_requester

    def counted(actor, application):
        checked.append(application.pk)
        return check(actor, application)

    monkeypatch.setattr(release, "_check_requester", counted)
    job = request_release(actor=centre_manager, application_ids=[a.pk for a in favourable])

    run(job, django_capture_on_commit_callbacks)

    first, *others = favourable
    assert validated == [first.pk]
    assert checked == [first.pk, others[0].pk]  # the third is refused without being read again: the job stopped
    assert validated_by(favourable) == [centre_manager, None, None]
    assert mailed(favourable) == [first.candidate.user.email]
    assert (job.status, job.done) == (ReleaseJob.Status.DONE, 1)
    assert job.refusals == [refusal(application, DEACTIVATED) for application in others]
    assert job.finished_at is not None


def test_a_release_still_waiting_when_the_right_was_withdrawn_validates_nothing(
    centre_manager, favourable, django_capture_on_commit_callbacks
):
    job = request_release(actor=centre_manager, application_ids=[a.pk for a in favourable])
    StaffMembership.objects.filter(user=centre_manager).delete()

    run(job, django_capture_on_commit_callbacks)

    assert (job.status, job.done) == (ReleaseJob.Status.DONE, 0)
    assert validated_by(favourable) == [None] * 3
    assert mailed(favourable) == []


# --- the release's page follows the requester's scope -------------------------------------------------------------


def page_url(job):
    return reverse("admin:applications_application_release", args=[job.public_id])


def retry_url(job):
    return reverse("admin:applications_application_release_retry", args=[job.public_id])


@pytest.fixture
def refused_job(centre_manager, favourable):
    """A release that never started (its task lost an hour ago), with refusal lines a reader of the centre would
    recognise: offered to « relancer »."""
    job = ReleaseJob.objects.create(
        requested_by=centre_manager,
        application_ids=[a.pk for a in favourable],
        total=3,
        refusals=[refusal(favourable[0], "Two-person rule")],
    )
    ReleaseJob.objects.filter(pk=job.pk).update(created_at=timezone.now() - datetime.timedelta(hours=1))
    return job


def test_the_release_page_follows_its_requesters_scope(
    client, centre_manager, other_centre, favourable, refused_job, django_assert_num_queries
):
    client.force_login(centre_manager)
    # Session, user, staff checks, savepoints, the job, then the applications outside the scope (one query more).
    with django_assert_num_queries(9):
        response = client.get(page_url(refused_job))
    assert response.status_code == 200
    assert favourable[0].candidate.user.username in response.content.decode()
    assert response.context["retry_url"] == retry_url(refused_job)

    # The manager moved to another centre: their old centre's refusal lines are no longer theirs to read.
    StaffMembership.objects.filter(user=centre_manager).update(centre=other_centre)
    with django_assert_num_queries(8):  # the same but the savepoint's rollback, and no page rendered
        response = client.get(page_url(refused_job))
    assert response.status_code == 404
    assert favourable[0].candidate.user.username not in response.content.decode()


def test_the_retry_button_follows_its_requesters_scope(
    client, centre_manager, other_centre, refused_job, django_assert_num_queries, django_capture_on_commit_callbacks
):
    client.force_login(centre_manager)
    with django_capture_on_commit_callbacks() as queued:
        assert client.post(retry_url(refused_job)).status_code == 302
    assert len(queued) == 1  # launched again
    relaunched_at = ReleaseJob.objects.get(pk=refused_job.pk).created_at
    ReleaseJob.objects.filter(pk=refused_job.pk).update(created_at=relaunched_at - datetime.timedelta(hours=1))

    StaffMembership.objects.filter(user=centre_manager).update(centre=other_centre)
    # Refused before anything is checked or written: the job, then the applications outside the scope (as the page).
    with django_assert_num_queries(8), django_capture_on_commit_callbacks() as queued:
        response = client.post(retry_url(refused_job))
    assert response.status_code == 404
    assert queued == []
    assert ReleaseJob.objects.get(pk=refused_job.pk).created_at == relaunched_at - datetime.timedelta(hours=1)
