"""The candidate confirming or withdrawing while the central office cancels pending OPIs (PostgreSQL).

The candidate's answer locks the application's row, then, through its signal, the application's OPI
(``applications.opi.services``: a confirmation queues a withdrawn OPI again, a withdrawal after a confirmation
withdraws it). "Annuler les OPI en attente" (``cancel_opis``) locks the OPIs, then writes a history row on each of
their applications. The application's row was locked ``FOR UPDATE``, which the foreign key's check of that history
row (``KEY SHARE``) waits for, while the answer waits for the OPI's row: PostgreSQL found a deadlock and aborted one
of the two (an error page for whoever lost). The row is now locked ``FOR NO KEY UPDATE``, as ``transmit_application``
locks it: the cancellation writes its history row and commits, then the answer reads the OPI it left.

The interleaving is forced: the cancellation stops before its history rows until the answer waits for the OPI's row
(``pg_stat_activity``), then goes on.
"""

import threading

import pytest
from django.db import connection
from django.utils import timezone

from applications.enums import EventKind, OpiState, WithdrawalReason
from applications.models import Application, Opi
from applications.opi import services as opi_services
from applications.services import candidature, staff
from applications.tests.helpers import backend_pid, run_both, stay_stopped
from applications.tests.opi.helpers import admit, confirm

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def confirmed(application, manager, decision_type):
    """Confirmed: a pending OPI, never transferred."""
    confirm(application)
    return application


def confirmation_undone(application, manager, decision_type):
    """Confirmed, the OPI transferred, then a new decision undid the confirmation: the OPI is withdrawn, the
    withdrawal pending (the next transfer carries it), and the candidate may confirm again."""
    confirm(application)
    Opi.objects.update(state=OpiState.PASSED, passed_at=timezone.now())
    decision = staff.record_decision(application, decision_type=decision_type, actor=manager)
    staff.validate_decision(decision, actor=manager)
    return application


# What the candidate does while the central office cancels the pending OPIs: the state before, the answer, the
# OPI once both are done (the cancellation, then the answer), and the history's last rows (in the order they were
# written: the answer's own row before it waits for the OPI).
ANSWERS = {
    "withdraws after confirming": (
        confirmed,
        lambda application: candidature.withdraw_application(
            application=application, actor=application.candidate.user, reason=WithdrawalReason.PERSONAL
        ),
        (OpiState.CANCELLED, True),
        [EventKind.WITHDRAWN_AFTER_CONFIRMATION, EventKind.OPI_CANCELLED, EventKind.OPI_WITHDRAWN],
    ),
    "confirms again": (
        confirmation_undone,
        confirm,
        (OpiState.PENDING, False),
        [EventKind.CONFIRMED, EventKind.OPI_CANCELLED, EventKind.OPI_REQUEUED],
    ),
}


@pytest.mark.parametrize("answer", list(ANSWERS))
def test_an_answer_waits_for_the_cancellation_of_its_opi_without_a_deadlock(
    opi_candidate, formation, centre_manager, central_manager, opi_type, answer, monkeypatch
):
    """The central office cancels the pending OPI and stops before its history row; meanwhile the candidate answers,
    which locks the application and waits for the OPI's row. The cancellation then writes on the application and
    commits: the answer goes on, after it."""
    assert connection.vendor == "postgresql", "integration tests run on PostgreSQL (DATABASE_URL)"
    arrange, act, final_opi, last_events = ANSWERS[answer]
    application = arrange(
        admit(opi_candidate, formation, manager=centre_manager, decision_type=opi_type), centre_manager, opi_type
    )
    opi = Opi.objects.get(application=application)
    assert (opi.state, opi.withdrawn) in {(OpiState.PENDING, False), (OpiState.PENDING, True)}
    held, done = threading.Event(), threading.Event()
    pids: dict = {}
    seen_waiting: list[bool] = []
    original = opi_services.record_events

    def record_events(*args, **kwargs):
        if threading.current_thread().name == "central office":
            held.set()
            seen_waiting.append(stay_stopped(done, pids, "candidate"))
        return original(*args, **kwargs)

    monkeypatch.setattr(opi_services, "record_events", record_events)

    def cancel_pending():
        assert opi_services.cancel_opis(opi_ids=[opi.pk], actor=central_manager) == 1

    def answer_meanwhile():
        pids["candidate"] = backend_pid()
        assert held.wait(timeout=15)
        try:
            act(Application.objects.get(pk=application.pk))
        finally:
            done.set()

    outcomes = run_both({"central office": cancel_pending, "candidate": answer_meanwhile})

    assert outcomes == {"central office": "ok", "candidate": "ok"}
    assert seen_waiting == [True], "the answer never waited for the OPI's row: the interleaving was not forced"
    opi.refresh_from_db()
    assert (opi.state, opi.withdrawn) == final_opi
    kinds = list(application.events.order_by("pk").values_list("kind", flat=True))
    assert kinds[-3:] == last_events
