"""The OPI run and the central office's actions on the same person's OPIs at once (PostgreSQL): one lock order.

Every path that locks several OPIs locks them by primary key (``applications.opi.services``, the module's
docstring). The run locked them in the model's ordering (newest queued first) while "Annuler les OPI en attente",
"Rechargement des OPI" and "Retrait fait dans Pégase" locked them by key: for a person with two OPIs, each side could
hold one and wait for the other's, and PostgreSQL aborted one (the night's run, or the central office's page).

The interleaving is forced: a third transaction holds the first OPI (by key); the central office's action waits for
it, then the run (or the CNIL erasure) starts (in the old order it locked the second OPI, then waited for the first);
the third transaction then commits. In one order both go on, one after the other.
"""

import functools
import threading
import time

import pytest
from django.db import connection, transaction

from accounts.models import AccountDeletion
from applications.enums import EventKind, OpiState, PegaseRemoval
from applications.models import Opi
from applications.opi import services as opi_services
from applications.opi.services import transfer_opis
from applications.services import erasure
from applications.tests.helpers import backend_pid, run_both, waits_for_a_lock
from applications.tests.opi.helpers import admit, confirm
from ecandidat.batches import Report

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def until(predicate, timeout: float = 15) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def pending(opis, actor):
    """Two pending OPIs (confirmed, never transferred): the run sends them, "Annuler" cancels them."""


def transferred(opis, actor):
    """Two OPIs transferred today: the run rewrites the day's files with them, "Recharger" queues them again."""
    transfer_opis(Report())


def to_remove_in_pegase(opis, actor):
    """Two OPIs transferred today whose wishes are to remove in Pégase by hand (the OPI screen's alert)."""
    transfer_opis(Report())
    Opi.objects.filter(pk__in=[opi.pk for opi in opis]).update(pegase_removal=PegaseRemoval.TO_DO)


# The central office's action: the state before, the service, what the two OPIs are once both sides are done (the
# action, then the run), and the history's last two kinds on each application.
ACTIONS = {
    "cancel": (
        pending,
        opi_services.cancel_opis,
        (OpiState.CANCELLED, ""),
        [EventKind.OPI_CREATED, EventKind.OPI_CANCELLED],
    ),
    "requeue": (
        transferred,
        lambda **selection: opi_services.requeue_selected_opis(**selection).requeued,
        (OpiState.PASSED, ""),  # queued again, then sent again by the run
        [EventKind.OPI_REQUEUED, EventKind.OPI_PASSED],
    ),
    "removed in Pégase": (
        to_remove_in_pegase,
        opi_services.mark_removed_in_pegase,
        (OpiState.PASSED, PegaseRemoval.DONE),
        [EventKind.OPI_PASSED, EventKind.OPI_REMOVED_IN_PEGASE],
    ),
}


def race(opis, central_office_action, other_side) -> tuple[dict, list[str]]:
    """A third transaction holds the first OPI (by key); the central office's action on both OPIs waits for it; then
    ``other_side`` starts and waits too; the holder commits. What each side returned, and who was seen waiting."""
    held, other_may_start = threading.Event(), threading.Event()
    pids: dict = {}
    seen_waiting: list[str] = []

    def hold_the_first_opi():
        with transaction.atomic():
            Opi.objects.select_for_update(of=("self",)).get(pk=opis[0].pk)
            held.set()
            if until(lambda: "central office" in pids and waits_for_a_lock(pids["central office"])):
                seen_waiting.append("central office")
            other_may_start.set()
            if until(lambda: "other" in pids and waits_for_a_lock(pids["other"])):
                seen_waiting.append("other")

    def central_office():
        pids["central office"] = backend_pid()
        assert held.wait(timeout=15)
        assert central_office_action(opi_ids=[opi.pk for opi in opis]) == 2

    def other():
        pids["other"] = backend_pid()
        assert other_may_start.wait(timeout=30)
        other_side()

    return run_both({"holder": hold_the_first_opi, "central office": central_office, "other": other}), seen_waiting


def two_opis(candidate, formations, manager, decision_type) -> list[Opi]:
    """The candidate confirmed two wishes: two pending OPIs, by key; the model's ordering (the run's old order,
    newest queued first) is the other way round."""
    for formation in formations:
        confirm(admit(candidate, formation, manager=manager, decision_type=decision_type))
    opis = sorted(Opi.objects.filter(application__candidate=candidate), key=lambda opi: opi.pk)
    assert list(Opi.objects.values_list("pk", flat=True)) == [opis[1].pk, opis[0].pk]
    return opis


@pytest.mark.parametrize("action", list(ACTIONS))
def test_the_run_and_an_action_of_the_central_office_on_the_same_opis_do_not_deadlock(
    opi_candidate, formation, other_formation, centre_manager, central_manager, opi_type, action
):
    assert connection.vendor == "postgresql", "integration tests run on PostgreSQL (DATABASE_URL)"
    arrange, act, final, last_events = ACTIONS[action]
    opis = two_opis(opi_candidate, [formation, other_formation], centre_manager, opi_type)
    arrange(opis, central_manager)

    outcomes, seen_waiting = race(opis, functools.partial(act, actor=central_manager), lambda: transfer_opis(Report()))

    assert outcomes == {"holder": "ok", "central office": "ok", "other": "ok"}
    assert seen_waiting == ["central office", "other"], "a side never waited: the interleaving was not forced"
    for opi in opis:
        opi.refresh_from_db()
        assert (opi.state, opi.pegase_removal) == final
        kinds = list(opi.application.events.order_by("pk").values_list("kind", flat=True))
        assert kinds[-2:] == last_events


def test_the_erasure_and_a_cancellation_of_the_same_opis_do_not_deadlock(
    opi_candidate, formation, other_formation, centre_manager, central_manager, opi_type
):
    """The CNIL erasure locks the person's OPIs by key too (after their applications, which the cancellation's
    history rows do not wait for): the cancellation commits, then the erasure deletes everything."""
    assert connection.vendor == "postgresql", "integration tests run on PostgreSQL (DATABASE_URL)"
    opis = two_opis(opi_candidate, [formation, other_formation], centre_manager, opi_type)

    outcomes, seen_waiting = race(
        opis,
        functools.partial(opi_services.cancel_opis, actor=central_manager),
        lambda: erasure.delete_candidate_account(
            user=opi_candidate.user, actor=central_manager, everything=True, notify=False
        ),
    )

    assert outcomes == {"holder": "ok", "central office": "ok", "other": "ok"}
    assert seen_waiting == ["central office", "other"], "a side never waited: the interleaving was not forced"
    assert not Opi.objects.exists()
    assert not AccountDeletion.objects.get().opi_sent  # cancelled, never transferred
