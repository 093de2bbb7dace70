"""Two managers validating the decisions of a selection at the same time, from the back office (PostgreSQL).

The request is one transaction (``ATOMIC_REQUESTS``), each application in its own savepoint: every row a validation
locks stays locked until the request ends. A complementary-list validation locks its formation before its
application (``staff.validate_decision``). Taken in the order of the selection's applications, two selections
covering formations F1 and F2 the other way round took the formations crosswise: PostgreSQL broke the deadlock by
failing one request, a 500, and that manager's validations and mails were rolled back. Now every formation the
selection's validations will lock is locked first, in one order (``staff.lock_waiting_lists_to_validate``), and a
lock conflict still met is a refusal, never a 500.

The interleaving is forced: each manager stops after their first validation until the other has done theirs (or
until a timeout, when the other is waiting for a lock this one holds).
"""

import contextlib
import dataclasses
import threading

import pytest
from django.contrib.messages import get_messages
from django.db import connection, connections, transaction
from django.urls import reverse

from applications.admin import operations
from applications.admin.forms import ReleaseForm
from applications.models import Application, Decision, ReleaseJob
from applications.services import release, staff
from applications.tests.factories_candidature import decision_type, make_application
from applications.tests.helpers import mails, operation_url
from offers.enums import Avis
from offers.models import Formation
from offers.tests.factories import FormationFactory

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

CHANGELIST = "admin:applications_application_changelist"
REFUSED = (
    "Another action held this application or its formation's complementary list at the same moment (a colleague's "
    "validation, a withdrawal…): nothing was done for it. Try again in a moment."
)
SELECTION_REFUSED = (
    "Colleagues were working on the complementary lists of these applications' formations at the same moment: "
    "nothing was done. Run the operation again."
)
# How long a manager stopped after their first validation waits for the other's: the other may be waiting for a lock
# this one holds (the fix), and then never comes.
MEETING_SECONDS = 3


@pytest.fixture(autouse=True)
def _postgresql():
    assert connection.vendor == "postgresql", "integration tests run on PostgreSQL (DATABASE_URL)"


@pytest.fixture
def formations(centre, commission):
    return (
        FormationFactory(centre=centre, commission=commission, code="F1"),
        FormationFactory(centre=centre, commission=commission, code="F2"),
    )


@pytest.fixture
def entered(formations, campaign, commission_member) -> dict[str, Application]:
    """Four applications with a complementary-list decision entered, not validated, created in the order a1 (F1), b1
    (F2), a2 (F2), b2 (F1): manager A's selection [a1, a2] takes F1 then F2, manager B's [b1, b2] F2 then F1."""
    f1, f2 = formations
    rows = {}
    for name, formation, rank in (("a1", f1, 1), ("b1", f2, 1), ("a2", f2, 2), ("b2", f1, 2)):
        application = make_application(formation, campaign=campaign)
        staff.record_decision(
            application, decision_type=decision_type(Avis.COMPLEMENTARY_LIST), actor=commission_member, rank=rank
        )
        rows[name] = application
    return rows


def selection(*applications) -> list[Application]:
    """The selection as ``operations.bulk_operation`` gives it to ``run_operation``."""
    return list(
        Application.objects.filter(pk__in=[application.pk for application in applications])
        .select_related("candidate__user", "formation__centre")
        .order_by("pk")
    )


def release_form() -> ReleaseForm:
    form = ReleaseForm({})
    assert form.is_valid()
    return form


def run_threads(*targets) -> list[BaseException]:
    """Run each (name, function) in its own thread, each closing its connection; the exceptions raised."""
    errors: list[BaseException] = []

    def wrapped(function):
        def run():
            try:
                function()
            except BaseException as error:  # noqa: BLE001 - reported to the test
                errors.append(error)
            finally:
                connections.close_all()

        return run

    threads = [threading.Thread(target=wrapped(function), name=name) for name, function in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a thread is still blocked"
    return errors


def test_two_selections_covering_two_formations_crosswise_are_both_validated(entered, centre_manager, central_manager):
    operation = operations.OPERATIONS["validate_decisions"]
    meeting = threading.Barrier(2, timeout=MEETING_SECONDS)
    stopped: set[str] = set()

    def run_then_meet(application, form, actor):
        # Each manager stops after their first validation, its formation and application locked, until the other
        # has done theirs: without one lock order, each then waits for the formation the other holds.
        operation.run(application, form, actor)
        name = threading.current_thread().name
        if name not in stopped:
            stopped.add(name)
            # Broken: the other manager waits for a lock this one holds (one lock order): this one goes on.
            with contextlib.suppress(threading.BrokenBarrierError):
                meeting.wait()

    stopping = dataclasses.replace(operation, run=run_then_meet)
    results = {}

    def validate(name, actor, applications):
        def run():
            request = type("Request", (), {"user": actor})()
            with transaction.atomic():  # the request (ATOMIC_REQUESTS)
                results[name] = operations.run_operation(request, stopping, applications, release_form())

        return run

    errors = run_threads(
        ("A", validate("A", centre_manager, selection(entered["a1"], entered["a2"]))),
        ("B", validate("B", central_manager, selection(entered["b1"], entered["b2"]))),
    )

    assert errors == []
    assert results == {"A": (2, []), "B": (2, [])}
    assert not Decision.objects.filter(validated_at__isnull=True).exists()
    assert sorted(mail.to for mail in mails("AVIS_LISTE_COMP")) == sorted(
        application.candidate.user.email for application in entered.values()
    )
    ranks = dict(Application.objects.values_list("pk", "waiting_list_rank"))
    assert [ranks[entered[name].pk] for name in ("a1", "b2", "b1", "a2")] == [1, 2, 1, 2]


@pytest.fixture
def f1_held(formations):
    """Another transaction holds F1's row (a promotion, another manager's validation…) until the test ends, and the
    test's connection gives up a lock wait after 200 ms (``lock_timeout``): a lock conflict, as a deadlock PostgreSQL
    breaks by failing one of its statements."""
    held, done = threading.Event(), threading.Event()

    def hold():
        try:
            with transaction.atomic():
                list(Formation.objects.select_for_update(of=("self",)).filter(pk=formations[0].pk))
                held.set()
                done.wait(timeout=30)
        finally:
            connections.close_all()

    holder = threading.Thread(target=hold)
    holder.start()
    assert held.wait(timeout=10)
    with connection.cursor() as cursor:
        cursor.execute("SET lock_timeout = '200ms'")
    yield
    with connection.cursor() as cursor:
        cursor.execute("RESET lock_timeout")
    done.set()
    holder.join(timeout=10)


def test_a_lock_conflict_on_a_selection_is_a_refusal_not_a_500(
    client, entered, f1_held, centre_manager, django_assert_num_queries
):
    client.force_login(centre_manager)
    chosen = [entered["a1"].pk, entered["a2"].pk]

    # The selection, its checks, the user's releases serialised and its decisions read (+2: ``release.released_by``,
    # a double click), then the formations' lock, refused.
    with django_assert_num_queries(22):
        response = client.post(
            reverse(CHANGELIST),
            {"action": "action_validate_decisions", "_selected_action": chosen, "apply": "1"},
        )

    assert response.status_code == 302
    assert [str(message) for message in get_messages(response.wsgi_request)] == [SELECTION_REFUSED]
    assert not Decision.objects.filter(validated_at__isnull=False).exists()
    assert mails("AVIS_LISTE_COMP") == []


def test_a_lock_conflict_on_one_application_is_a_refusal_not_a_500(
    client, entered, f1_held, centre_manager, django_assert_num_queries
):
    client.force_login(centre_manager)
    application = entered["a1"]

    # The validation, refused at its formation's lock, then the page again, whose preview is refused the same way.
    with django_assert_num_queries(27):
        response = client.post(operation_url(application, "validate_decisions"))

    assert response.status_code == 200
    assert response.context["form"].non_field_errors() == [REFUSED]
    assert [preview.refusal for preview in response.context["release_previews"]] == [REFUSED]
    assert application.decisions.get().validated_at is None
    assert mails("AVIS_LISTE_COMP") == []


def test_a_lock_conflict_in_the_background_release_refuses_that_application_only(entered, f1_held, centre_manager):
    """The background release (``release.run_release``, one transaction per application) meets the conflict on the
    formation held: that application is refused with the reason and left for a later release, the others of the job
    are validated, and the job ends DONE (it failed whole before, its page saying « échec »)."""
    held = [entered["a1"].pk, entered["b2"].pk]  # F1's
    free = [entered["b1"].pk, entered["a2"].pk]  # F2's
    job = release.request_release(actor=centre_manager, application_ids=held + free)
    release.run_release(job.pk)  # queued on commit (run by then where tasks run eagerly: this one is then a no-op)

    job.refresh_from_db()
    assert (job.status, job.done, len(job.refusals)) == (ReleaseJob.Status.DONE, 2, 2)
    assert all(refusal.endswith(REFUSED) for refusal in job.refusals)
    validated = set(Decision.objects.filter(validated_at__isnull=False).values_list("application_id", flat=True))
    assert validated == set(free)
    assert len(mails("AVIS_LISTE_COMP")) == 2
