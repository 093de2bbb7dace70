"""The batch cap (``OPI_BATCH_MAX``, eCandidat's OPI_NB_BATCH_MAX) counts the candidates a run WRITES: a candidate
skipped (wishes waiting for a formation code, refused for no address or a future baccalaureate year) takes no slot,
so they no longer block, night after night, every candidate queued after them (eCandidat caps, then skips:
siscol-pegase-apogee.md §2.1). "Candidates left for the next run" counts only the candidates the run did not reach."""

import datetime

import pytest
from django.utils import timezone

from applications.enums import OpiState
from applications.models import Address
from applications.opi.services import transfer_opis
from applications.tests.opi.helpers import DAY1, admit, confirm, make_candidate, withdraw_after_confirmation
from ecandidat.batches import Report
from offers.tests.factories import FormationFactory

LEFT = "candidates left for the next run"
WAITING = "wishes waiting for a formation code"


@pytest.fixture
def no_code(centre, commission):
    """A formation neither backend can name yet (no Pégase code, no Apogée étape)."""
    return FormationFactory(centre=centre, commission=commission, code="L3X", pegase_code="", apogee_cge="")


class Queue:
    """Candidates admitted through the staff services who confirm, in this order: their OPIs join the queue."""

    def __init__(self, campaign, formation, no_code, manager, decision_type):
        self.campaign, self.formation, self.no_code = campaign, formation, no_code
        self.manager, self.decision_type = manager, decision_type

    def add(self, number, formation=None):
        """A candidate (dossier ``AA00000<number>``) who confirmed ``formation`` (the one every backend names)."""
        candidate = make_candidate(self.campaign, username=f"AA{number:06d}", ine=f"{number:02d}34567890B")
        application = admit(
            candidate, formation or self.formation, manager=self.manager, decision_type=self.decision_type
        )
        confirm(application)
        return application

    def blocked(self, number, reason="no formation code"):
        """A candidate whom no run can write, for ``reason``."""
        if reason == "no formation code":
            return self.add(number, self.no_code)
        application = self.add(number)
        if reason == "no address":
            Address.objects.filter(candidate=application.candidate).delete()
        elif reason == "overseas address without postal code":
            # Stored before the address form asked an overseas department's postal code (Guadeloupe as a country).
            Address.objects.filter(candidate=application.candidate).update(
                country="GP", postal_code="", city="", foreign_city="Pointe-à-Pitre"
            )
        else:
            application.candidate.baccalaureate.year = timezone.localdate().year + 1
            application.candidate.baccalaureate.save()
        return application


@pytest.fixture
def queue(campaign, formation, no_code, centre_manager, opi_type):
    return Queue(campaign, formation, no_code, centre_manager, opi_type)


def state(application) -> str:
    application.opi.refresh_from_db()
    return application.opi.state


@pytest.mark.parametrize("backend", ["pegase", "apogee"])
@pytest.mark.parametrize(
    "reason",
    ["no formation code", "no address", "overseas address without postal code", "future baccalaureate"],
)
def test_a_candidate_who_cannot_be_sent_takes_no_slot(settings, backend, reason, queue):
    settings.OPI_BACKEND = backend
    settings.OPI_BATCH_MAX = 1
    stuck = queue.blocked(1, reason)
    ok = queue.add(2)
    report = Report()

    export = transfer_opis(report)

    assert state(ok) == OpiState.PASSED  # the first night, not never
    assert export.candidates == 1
    assert state(stuck) == OpiState.PENDING  # waits, as before
    assert LEFT not in report.counts  # nobody is left: the blocked candidate is reported under its own reason
    if reason == "no formation code":
        assert report.counts[WAITING] == 1
        assert report.errors == []
    else:
        assert len(report.errors) == 1
        assert report.errors[0].startswith("dossier AA000001: ")


def test_the_cap_still_holds_and_the_next_run_takes_the_rest(settings, queue, time_machine):
    settings.OPI_BATCH_MAX = 2
    time_machine.move_to(DAY1)
    stuck = [queue.blocked(1), queue.blocked(2, "no address"), queue.blocked(3)]
    ok = [queue.add(number) for number in range(4, 8)]
    report = Report()

    export = transfer_opis(report)

    assert export.candidates == 2  # the cap: two candidates written, the blocked ones walked past
    assert [state(application) for application in ok] == [OpiState.PASSED] * 2 + [OpiState.PENDING] * 2
    assert report.counts[LEFT] == 2  # the candidates really left, not the three blocked ones
    assert report.counts[WAITING] == 2
    assert len(report.errors) == 1

    time_machine.move_to(DAY1 + datetime.timedelta(days=1))
    report = Report()
    export = transfer_opis(report)

    assert [state(application) for application in ok] == [OpiState.PASSED] * 4
    assert export.candidates == 2
    assert LEFT not in report.counts
    assert {state(application) for application in stuck} == {OpiState.PENDING}


def test_the_day_s_candidates_come_back_beside_the_cap(settings, queue, time_machine):
    """A second run the same day rewrites the day's files whole: the first run's candidates are in them again and
    take no slot; the cap counts the new candidates written."""
    settings.OPI_BATCH_MAX = 1
    time_machine.move_to(DAY1)
    first = queue.add(1)
    transfer_opis(Report())
    queue.blocked(2)
    second, third = queue.add(3), queue.add(4)
    time_machine.move_to(DAY1 + datetime.timedelta(minutes=30))
    report = Report()

    export = transfer_opis(report)

    assert export.candidates == 2
    assert (state(first), state(second), state(third)) == (OpiState.PASSED, OpiState.PASSED, OpiState.PENDING)
    assert report.counts[LEFT] == 1


def test_a_withdrawal_pegase_is_not_sent_takes_no_slot(settings, queue, time_machine):
    """Pégase has no withdrawal message: a candidate whose only change is a withdrawal is marked transferred without
    being written, and the slot goes to the next candidate."""
    settings.OPI_BATCH_MAX = 1
    time_machine.move_to(DAY1)
    withdrawn = queue.add(1)
    transfer_opis(Report())
    time_machine.move_to(DAY1 + datetime.timedelta(hours=12))
    withdraw_after_confirmation(withdrawn, actor=withdrawn.candidate.user)
    ok = queue.add(2)
    time_machine.move_to(DAY1 + datetime.timedelta(days=1))

    export = transfer_opis(Report())

    assert export.candidates == 1
    assert (state(withdrawn), state(ok)) == (OpiState.PASSED, OpiState.PASSED)


# A dry run's queries: the active campaign, the run's savepoint and its release, the queue (4), then per chunk of
# OPI_BATCH_MAX candidates the lock, the candidates and their applications (3), whatever the chunk holds.
QUERIES_AROUND_CHUNKS = 4
QUERIES_PER_CHUNK = 3


@pytest.mark.parametrize(("cap", "blocked", "chunks"), [(3, 0, 1), (3, 2, 1), (1, 2, 3), (2, 3, 2), (0, 3, 1)])
def test_the_walk_reads_the_queue_by_chunks_of_the_cap(
    settings, cap, blocked, chunks, queue, django_assert_num_queries
):
    settings.OPI_BATCH_MAX = cap
    for number in range(1, blocked + 1):
        queue.blocked(number)
    queue.add(9)
    report = Report()

    with django_assert_num_queries(QUERIES_AROUND_CHUNKS + QUERIES_PER_CHUNK * chunks):
        transfer_opis(report, dry_run=True)

    assert report.counts["candidates to transfer"] == 1
    assert LEFT not in report.counts
