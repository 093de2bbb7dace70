"""« Valider et envoyer les avis »: « Confirmer » clicked twice.

A big release (``BACKGROUND_RELEASE_FROM`` or more, a background job): the second request found no job of the same
selection and queued a second one, which refused every application (« Cet avis a déjà été validé. ») and whose page
the browser showed: « 0 avis validé et envoyé sur 200 » and 200 refusals, the first job's page nowhere to be found.
Now the second gets the first's job and its page (``release.queue_release``). A small one (run in the request): the
second refused each application as « déjà validé »; now it says that they are validated already, by this user, and
nothing more (``release.released_by``). Both wait for the first request first (the user's row locked): on
PostgreSQL, two clicks at once make one job, and the second small release reads the first's validations."""

import threading

import pytest
from django.contrib.messages import get_messages
from django.db import connection, transaction
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains

from applications.models import ReleaseJob
from applications.services import release, staff
from applications.services.release import request_release
from applications.tests.factories_candidature import decision_type, make_application
from applications.tests.helpers import backend_pid, run_both, stay_stopped
from ecandidat.models import OutboundEmail
from offers.enums import Avis
from offers.tests.factories import FormationFactory

pytestmark = pytest.mark.django_db
CHANGELIST = "admin:applications_application_changelist"
ALREADY_UNDER_WAY = "Cette publication est déjà en cours : voici son avancement."
ALREADY_RELEASED = (
    "Tous ces avis sont déjà validés et envoyés, par vous (la confirmation a-t-elle été envoyée deux fois ?) : rien "
    "de plus n'a été fait."
)
# The confirmation of a big selection: the session, the user, the list's filters (read twice, as before), the
# selection and its checks, then the release asked for: its scope, the user's row locked (their releases one after
# the other), their jobs waiting or running, the new job. 19 before: +2, the lock and the jobs read.
QUERIES_BIG_CONFIRM = 21
# The same confirmation sent again: the first's job found instead of a new one (no INSERT).
QUERIES_BIG_CONFIRM_AGAIN = QUERIES_BIG_CONFIRM - 1
# A small selection (run in the request) sent again: up to the selection's checks as above, then the user's row
# locked and the selection's latest decisions read (all validated by them already): nothing validated, no refusal.
QUERIES_SMALL_CONFIRM_AGAIN = 18


@pytest.fixture
def formation(centre, commission):
    return FormationFactory(centre=centre, commission=commission, code="M2BEE", title="Master Biologie")


@pytest.fixture
def background(monkeypatch):
    """A release of 3 is a big one (a background job), as one of 200 is."""
    monkeypatch.setattr("applications.admin.release.BACKGROUND_RELEASE_FROM", 3)


def favourable(formation, campaign, actor, count):
    applications = [make_application(formation, campaign=campaign) for _ in range(count)]
    for application in applications:
        staff.record_decision(application, decision_type=decision_type(Avis.FAVOURABLE), actor=actor)
    return applications


def confirm(applications) -> dict:
    """The release page's « Confirmer »: the selection and the decisions it previewed."""
    decisions = ",".join(str(application.decisions.current().pk) for application in applications)
    return {
        "action": "action_validate_decisions",
        "_selected_action": [application.pk for application in applications],
        "apply": "1",
        "decisions": decisions,
    }


def job_url(job) -> str:
    return reverse("admin:applications_application_release", args=[job.public_id])


# --- a big release: one job ---------------------------------------------------------------------------------------


def test_a_big_release_confirmed_twice_queues_one_job_and_shows_its_page(
    client, formation, campaign, commission_member, centre_manager, background, django_assert_num_queries
):
    applications = favourable(formation, campaign, commission_member, 3)
    client.force_login(centre_manager)
    posted = confirm(applications)

    with django_assert_num_queries(QUERIES_BIG_CONFIRM):
        first = client.post(reverse(CHANGELIST), posted, language="fr")
    with django_assert_num_queries(QUERIES_BIG_CONFIRM_AGAIN):
        second = client.post(reverse(CHANGELIST), posted, language="fr")

    job = ReleaseJob.objects.get()  # one job, not a second of 3 refusals
    assert (first.status_code, second.status_code) == (302, 302)
    assert first["Location"] == second["Location"] == job_url(job)
    page = client.get(second["Location"], language="fr")
    said = [str(message) for message in get_messages(page.wsgi_request)]
    assert said == ["La validation de 3 avis a commencé.", ALREADY_UNDER_WAY]
    assertContains(page, "Avancement")


def test_a_running_release_is_found_too(client, formation, campaign, commission_member, centre_manager, background):
    applications = favourable(formation, campaign, commission_member, 3)
    client.force_login(centre_manager)
    posted = confirm(applications)
    client.post(reverse(CHANGELIST), posted)
    ReleaseJob.objects.update(status=ReleaseJob.Status.RUNNING, done=1)

    again = client.post(reverse(CHANGELIST), posted, language="fr", follow=True)

    job = ReleaseJob.objects.get()
    assert again.redirect_chain == [(job_url(job), 302)]
    assertContains(again, ALREADY_UNDER_WAY)


def test_only_the_same_release_of_the_same_user_under_way_is_reused(
    formation, campaign, commission_member, centre_manager, central_manager
):
    """Another selection, another requester, or the same selection once its job has finished: a job of its own."""
    applications = favourable(formation, campaign, commission_member, 3)
    ids = [application.pk for application in applications]

    first = request_release(actor=centre_manager, application_ids=ids)
    assert release.queue_release(actor=centre_manager, application_ids=list(reversed(ids))) == (first, False)
    fewer = request_release(actor=centre_manager, application_ids=ids[:2])
    theirs = request_release(actor=central_manager, application_ids=ids)
    ReleaseJob.objects.filter(pk=first.pk).update(status=ReleaseJob.Status.DONE)
    after = request_release(actor=centre_manager, application_ids=ids)

    assert len({first.pk, fewer.pk, theirs.pk, after.pk}) == 4
    assert ReleaseJob.objects.count() == 4


# --- a small release, run in the request --------------------------------------------------------------------------


def test_a_small_release_confirmed_twice_says_it_is_done_not_a_refusal_each(
    client, formation, campaign, commission_member, centre_manager, django_assert_num_queries
):
    applications = favourable(formation, campaign, commission_member, 2)
    client.force_login(centre_manager)
    posted = confirm(applications)
    list_url = reverse(CHANGELIST) + "?rows=200"
    client.post(list_url, posted, language="fr")

    with django_assert_num_queries(QUERIES_SMALL_CONFIRM_AGAIN):
        again = client.post(list_url, posted, language="fr")

    assert again.status_code == 302
    assert again["Location"] == list_url  # the list as it was filtered, as after the first
    said = [(message.level_tag, str(message)) for message in get_messages(again.wsgi_request)]
    assert said == [
        ("success", "Valider les avis : 2 candidatures traitées."),
        ("info", ALREADY_RELEASED),
    ]
    assert OutboundEmail.objects.filter(code="AVIS_FAVORABLE").count() == 2  # one mail each


def test_decisions_validated_by_someone_else_are_refused_each_as_before(
    client, formation, campaign, commission_member, centre_manager, central_manager
):
    """Not a double submit of this user: each application's refusal says who did what (« déjà validé »)."""
    applications = favourable(formation, campaign, commission_member, 2)
    client.force_login(centre_manager)
    posted = confirm(applications)
    for application in applications:
        staff.validate_decision(application.decisions.current(), actor=central_manager)

    again = client.post(reverse(CHANGELIST), posted, language="fr", follow=True)

    assertNotContains(again, "Tous ces avis sont déjà validés")
    assertContains(again, "Cet avis a déjà été validé.", count=2)


def test_released_by_reads_each_applications_latest_decision(formation, campaign, commission_member, centre_manager):
    validated, entered = favourable(formation, campaign, commission_member, 2)
    staff.validate_decision(validated.decisions.current(), actor=centre_manager)

    assert release.released_by(centre_manager, [validated.pk])
    assert not release.released_by(centre_manager, [validated.pk, entered.pk])
    assert not release.released_by(commission_member, [validated.pk])
    assert not release.released_by(centre_manager, [])


# --- two clicks at once (PostgreSQL) ------------------------------------------------------------------------------


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_two_big_releases_asked_at_once_make_one_job(centre, commission, campaign, commission_member, centre_manager):
    """The first request holds its transaction open (``ATOMIC_REQUESTS``) until the second is seen waiting for the
    user's row; the second then finds the first's job, committed."""
    assert connection.vendor == "postgresql", "integration tests run on PostgreSQL (DATABASE_URL)"
    formation = FormationFactory(centre=centre, commission=commission, code="M2BEE")
    ids = [application.pk for application in favourable(formation, campaign, commission_member, 3)]
    held, done = threading.Event(), threading.Event()
    pids: dict = {}
    seen_waiting: list[bool] = []
    asked: dict = {}

    def first_click():
        with transaction.atomic():  # the request's transaction
            asked["first"] = request_release(actor=centre_manager, application_ids=ids)
            held.set()
            seen_waiting.append(stay_stopped(done, pids, "second click"))

    def second_click():
        pids["second click"] = backend_pid()
        assert held.wait(timeout=15)
        try:
            with transaction.atomic():
                asked["second"] = request_release(actor=centre_manager, application_ids=list(reversed(ids)))
        finally:
            done.set()

    outcomes = run_both({"first click": first_click, "second click": second_click})

    assert outcomes == {"first click": "ok", "second click": "ok"}
    assert seen_waiting == [True], "the second click never waited for the user's row: not forced"
    job = ReleaseJob.objects.get()  # not two
    assert asked == {"first": job, "second": job}


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_a_small_release_sent_twice_at_once_reads_the_first_ones_validations(
    centre, commission, campaign, commission_member, centre_manager
):
    """The second request waits for the first's lock on the user's row before it reads the decisions: it finds them
    validated by the user once the first has committed, not still to validate."""
    assert connection.vendor == "postgresql", "integration tests run on PostgreSQL (DATABASE_URL)"
    formation = FormationFactory(centre=centre, commission=commission, code="M2BEE")
    applications = favourable(formation, campaign, commission_member, 2)
    ids = [application.pk for application in applications]
    held, done = threading.Event(), threading.Event()
    pids: dict = {}
    seen_waiting: list[bool] = []
    found: dict = {}

    def first_click():
        with transaction.atomic():
            found["first"] = release.released_by(centre_manager, ids)
            for application in applications:
                release.validate_current_decision(application, actor=centre_manager)
            held.set()
            seen_waiting.append(stay_stopped(done, pids, "second click"))

    def second_click():
        pids["second click"] = backend_pid()
        assert held.wait(timeout=15)
        try:
            with transaction.atomic():
                found["second"] = release.released_by(centre_manager, ids)
        finally:
            done.set()

    outcomes = run_both({"first click": first_click, "second click": second_click})

    assert outcomes == {"first click": "ok", "second click": "ok"}
    assert seen_waiting == [True], "the second click never waited for the user's row: not forced"
    assert found == {"first": False, "second": True}
    assert OutboundEmail.objects.filter(code="AVIS_FAVORABLE").count() == 2
