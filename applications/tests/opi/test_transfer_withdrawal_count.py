"""A run that writes no file but marks a withdrawal transferred says so (found by review): Pégase leaves a withdrawn
wish out of the files, so a withdrawal alone, on a day with no files yet, is marked transferred without any file.
The run returned before counting it: « Produire les fichiers du jour maintenant » read « 0 OPI déversée par cette
exécution » and the batch history showed no count, while the application's history read « OPI déversée … :
Pégase : désistement »."""

import datetime

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from applications.enums import EventKind, OpiState
from applications.models import Opi, OpiExport
from applications.opi.services import transfer_opis
from applications.tests.opi.helpers import DAY1, admit, confirm, withdraw_after_confirmation
from ecandidat.batches import Report
from ecandidat.models import BatchRun

pytestmark = pytest.mark.usefixtures("back_office_in_french")

DAY2 = DAY1 + datetime.timedelta(days=1)

# Session, user, the request's savepoint, the staff scope; the batch run: stale runs ended, its row (savepoint,
# insert, release); the campaign; the run's savepoint, its queue, the OPIs locked, the candidates and their
# applications, the day's files locked, the OPI stamped, its history line, release; the batch run's end; release.
# The count does not depend on the fix: it adds no query.
QUERIES_WITHDRAWAL_RUN = 20


@pytest.fixture
def withdrawn_on_day_two(opi_candidate, formation, centre_manager, opi_type, time_machine):
    """Confirmed and written in the files of day 1; withdrawn on day 2, before any file of day 2."""
    time_machine.move_to(DAY1)
    application = admit(opi_candidate, formation, manager=centre_manager, decision_type=opi_type)
    confirm(application)
    assert transfer_opis(Report()) is not None  # day 1's files carry the wish
    time_machine.move_to(DAY2)
    withdraw_after_confirmation(application, actor=opi_candidate.user)
    assert Opi.objects.get().state == OpiState.PENDING  # the withdrawal waits for the next transfer
    return application


def test_produce_now_counts_the_withdrawal_it_marks_transferred(
    client, django_assert_num_queries, central_manager, withdrawn_on_day_two
):
    client.force_login(central_manager)

    with django_assert_num_queries(QUERIES_WITHDRAWAL_RUN):
        response = client.post(reverse("admin:applications_opi_transfer"))

    assert response.status_code == 302
    shown = [str(message) for message in get_messages(response.wsgi_request)]
    assert shown == ["0 candidat dans les fichiers du jour (1 OPI déversée par cette exécution)."]
    opi = Opi.objects.get()
    assert (opi.state, opi.withdrawn) == (OpiState.PASSED, True)
    assert not OpiExport.objects.filter(day=DAY2.date()).exists()  # no file for day 2: Pégase leaves the wish out
    event = withdrawn_on_day_two.events.filter(kind=EventKind.OPI_PASSED).latest("pk")
    assert (event.actor, event.comment) == (central_manager, "Pégase : désistement")
    assert BatchRun.objects.latest("pk").counts == {"OPIs transferred by this run": 1}


def test_a_second_run_the_same_day_transfers_nothing_more(client, central_manager, withdrawn_on_day_two):
    """The withdrawal is counted once: run again that day, it is not marked (nor counted) a second time."""
    client.force_login(central_manager)
    client.post(reverse("admin:applications_opi_transfer"), follow=True)  # its messages read on the screen

    response = client.post(reverse("admin:applications_opi_transfer"))

    shown = [str(message) for message in get_messages(response.wsgi_request)]
    assert shown == ["0 candidat dans les fichiers du jour (0 OPI déversée par cette exécution)."]
    assert BatchRun.objects.latest("pk").counts == {}
    # Day 1's wish and day 2's withdrawal, no third line.
    assert withdrawn_on_day_two.events.filter(kind=EventKind.OPI_PASSED).count() == 2


def test_the_nightly_run_counts_the_withdrawal_too(withdrawn_on_day_two):
    report = Report()

    assert transfer_opis(report) is None  # no candidate, no file

    assert report.counts == {"OPIs transferred by this run": 1}
