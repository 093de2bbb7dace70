"""Staff validating a decision while the central office acts on the application's OPI (PostgreSQL).

The validation of a new decision (``staff.validate_decision``; not its entry, ``staff.record_decision``, which changes
no answer) undoes the candidate's confirmation: the application's row locked, then, through ``confirmation_withdrawn``,
the application's OPI (``applications.opi.services.record_withdrawal``). "Annuler les OPI en attente" (``cancel_opis``)
and "Rechargement des OPI" (``requeue_selected_opis``) lock the OPIs, then write a history row on each of their
applications. The application's row was locked ``FOR UPDATE``, which the foreign key's check of that history row
(``KEY SHARE``) waits for, while the decision waits for the OPI's row: PostgreSQL found a deadlock and aborted one of
the two (an error page for the member of staff, or the central office's action failed). The row is now locked
``FOR NO KEY UPDATE``, as the candidate's services lock it: the central office writes its history row and commits, then
the decision withdraws the OPI it left.

The interleaving is forced: the central office stops before its history rows until the member of staff waits for the
OPI's row (``pg_stat_activity``), then goes on.
"""

import threading

import pytest
from django.db import connection
from django.utils import timezone

from applications.enums import EventKind, OpiState
from applications.models import Application, Decision, Opi
from applications.opi import services as opi_services
from applications.services import staff
from applications.tests.helpers import backend_pid, run_both, stay_stopped
from applications.tests.opi.helpers import admit, confirm, make_candidate
from offers.tests.factories import FormationFactory

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("pegase_opi")]


@pytest.fixture
def confirmed_application(campaign, centre, commission, centre_manager, opi_type):
    """Admitted (a favourable decision of a type with "Déversement OPI", validated) and confirmed: a pending OPI."""
    formation = FormationFactory(centre=centre, commission=commission, pegase_code="M1-ENER-PSOL")
    application = admit(make_candidate(campaign), formation, manager=centre_manager, decision_type=opi_type)
    return confirm(application)


def enter_a_decision(application, manager, decision_type):
    """Staff enter a new decision on the confirmed application: the confirmation stands until its validation."""
    staff.record_decision(Application.objects.get(pk=application.pk), decision_type=decision_type, actor=manager)


def entered_then_transferred(application, manager, decision_type):
    enter_a_decision(application, manager, decision_type)
    transferred(application, manager, decision_type)


def validate_the_decision(application, manager, decision_type):
    """Staff validate the new decision: the confirmation is undone."""
    staff.validate_decision(Decision.objects.filter(application=application).latest("pk"), actor=manager)


def transferred(application, manager, decision_type):
    Opi.objects.filter(application=application).update(state=OpiState.PASSED, passed_at=timezone.now())


def cancel(opi, actor):
    assert opi_services.cancel_opis(opi_ids=[opi.pk], actor=actor) == 1


def requeue(opi, actor):
    assert opi_services.requeue_selected_opis(opi_ids=[opi.pk], actor=actor).requeued == 1


# The state before (besides the confirmation), what the central office does, what staff do meanwhile, the OPI once
# both are done (the central office's action, then the withdrawal), and the history's last rows (in the order they
# were written: the decision's own row before it waits for the OPI).
CASES = {
    "a validation while the OPI is queued again": (
        entered_then_transferred,
        requeue,
        validate_the_decision,
        (OpiState.PENDING, True),
        [EventKind.DECISION_VALIDATED, EventKind.OPI_REQUEUED, EventKind.OPI_WITHDRAWN],
    ),
    "a validation while the OPI is cancelled": (
        enter_a_decision,
        cancel,
        validate_the_decision,
        (OpiState.CANCELLED, True),
        [EventKind.DECISION_VALIDATED, EventKind.OPI_CANCELLED, EventKind.OPI_WITHDRAWN],
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_decision_waits_for_the_central_office_on_the_opi_without_a_deadlock(
    confirmed_application, centre_manager, central_manager, opi_type, case, monkeypatch
):
    """The central office locks the OPI and stops before its history row; meanwhile staff validate a
    decision, which locks the application and waits for the OPI's row. The central office then writes on the
    application and commits: the decision goes on, after it, and withdraws the OPI."""
    assert connection.vendor == "postgresql", "integration tests run on PostgreSQL (DATABASE_URL)"
    arrange, central_action, staff_action, final_opi, last_events = CASES[case]
    application = confirmed_application
    if arrange is not None:
        arrange(application, centre_manager, opi_type)
    assert Application.objects.get(pk=application.pk).accepted is True
    opi = Opi.objects.get(application=application)
    assert not opi.withdrawn
    held, done = threading.Event(), threading.Event()
    pids: dict = {}
    seen_waiting: list[bool] = []
    original = opi_services.record_events

    def record_events(*args, **kwargs):
        if threading.current_thread().name == "central office":
            held.set()
            seen_waiting.append(stay_stopped(done, pids, "staff"))
        return original(*args, **kwargs)

    monkeypatch.setattr(opi_services, "record_events", record_events)

    def central_office():
        central_action(opi, central_manager)

    def staff_meanwhile():
        pids["staff"] = backend_pid()
        assert held.wait(timeout=15)
        try:
            staff_action(application, centre_manager, opi_type)
        finally:
            done.set()

    outcomes = run_both({"central office": central_office, "staff": staff_meanwhile})

    assert outcomes == {"central office": "ok", "staff": "ok"}
    assert seen_waiting == [True], "staff never waited for the OPI's row: the interleaving was not forced"
    assert Application.objects.get(pk=application.pk).accepted is None
    opi.refresh_from_db()
    assert (opi.state, opi.withdrawn) == final_opi
    kinds = list(application.events.order_by("pk").values_list("kind", flat=True))
    assert kinds[-3:] == last_events
