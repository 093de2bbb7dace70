"""Nightly batches around the date de confirmation: reminder, automatic withdrawal, waiting-list promotion."""

import datetime
import io

import pytest
import time_machine
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from applications.models import Application, ApplicationEvent
from applications.services import nightly
from applications.tests.factories_candidature import decide, decision_type, make_application
from applications.tests.helpers import formation_confirmed_by, mails, paris, released
from ecandidat.batches import Report
from ecandidat.models import BatchRun
from offers.enums import Avis
from offers.tests.factories import FormationFactory

pytestmark = pytest.mark.usefixtures("before_the_confirmation_date")


@pytest.fixture
def formation(centre, commission):
    return formation_confirmed_by(
        centre, commission, auto_waiting_list=True, favourable_decision_type=decision_type(Avis.FAVOURABLE)
    )


@pytest.fixture
def favourable(formation, campaign, central_manager):
    return released(formation, campaign, central_manager, email="fa@example.org")


def run(command, *args):
    out = io.StringIO()
    call_command(command, *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


# --- reminder -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "sent"),
    [
        (paris(2027, 6, 27, 23, 59), False),  # three days before: not yet
        (paris(2027, 6, 28, 0, 0), True),  # two days before (FAVOURABLE_REMINDER_DAYS = 2)
        (paris(2027, 6, 30, 23, 0), True),  # a missed night does not lose the reminder
        (paris(2027, 7, 1, 0, 0), False),  # past the date: withdrawal, not reminder
    ],
)
def test_reminder_window_on_local_days(favourable, moment, sent):
    with time_machine.travel(moment, tick=False):
        run("remind_favourable_decisions")

    assert len(mails("CANDIDATURE_RELANCE_FAVO")) == int(sent)


def test_reminder_is_sent_once_and_names_the_date(favourable):
    with time_machine.travel(paris(2027, 6, 28, 23, 0), tick=False):
        run("remind_favourable_decisions")
        run("remind_favourable_decisions")
    with time_machine.travel(paris(2027, 6, 29, 23, 0), tick=False):
        run("remind_favourable_decisions")

    [mail] = mails("CANDIDATURE_RELANCE_FAVO")
    assert mail.to == "fa@example.org"
    assert "30/06/2027" in mail.body
    favourable.refresh_from_db()
    assert favourable.favourable_reminder_sent_at is not None


def test_reminder_skips_answered_and_non_favourable(formation, campaign, central_manager, favourable):
    refused = make_application(formation, campaign=campaign)
    decide(refused, Avis.COMPLEMENTARY_LIST, actor=central_manager, rank=1)
    Application.objects.filter(pk=favourable.pk).update(accepted=True, answered_at=paris(2027, 6, 1))

    with time_machine.travel(paris(2027, 6, 29, 23, 0), tick=False):
        run("remind_favourable_decisions")

    assert mails("CANDIDATURE_RELANCE_FAVO") == []


def test_reminder_dry_run_counts_and_changes_nothing(favourable):
    with time_machine.travel(paris(2027, 6, 29, 23, 0), tick=False):
        output = run("remind_favourable_decisions", "--dry-run")

    assert "[dry run] remind_favourable_decisions: reminders to send: 1" in output
    assert mails("CANDIDATURE_RELANCE_FAVO") == []
    assert BatchRun.objects.get().dry_run is True


def fail_for(application, real):
    """``notify_candidate`` that fails for ``application`` only, as a mail that cannot be written would."""

    def notify(**kwargs):
        if kwargs["application"].pk == application.pk:
            raise RuntimeError("could not write the mail")
        return real(**kwargs)

    return notify


def test_a_reminder_that_fails_stops_none_of_the_others(formation, campaign, central_manager, favourable, mocker):
    other = make_application(formation, campaign=campaign, email="fa2@example.org")
    decide(other, Avis.FAVOURABLE, actor=central_manager)
    mocker.patch.object(nightly, "notify_candidate", side_effect=fail_for(favourable, nightly.notify_candidate))

    with time_machine.travel(paris(2027, 6, 29, 14, 0), tick=False):
        output = run("remind_favourable_decisions")

    assert "reminders sent: 1" in output
    assert [mail.to for mail in mails("CANDIDATURE_RELANCE_FAVO")] == ["fa2@example.org"]
    favourable.refresh_from_db()
    assert favourable.favourable_reminder_sent_at is None  # left for the next night
    batch = BatchRun.objects.get()
    assert batch.status == BatchRun.Status.ERROR
    assert f"application {favourable.pk}: RuntimeError: could not write the mail" in batch.errors


# The nightly runs at 23:00, inside the maintenance window (22:45–06:00): from then on the candidate can act again
# only tomorrow, so the days counted start tomorrow; after midnight (cron reading 23:00 in UTC) they start today.
@pytest.mark.parametrize(
    ("moment", "sent"),
    [
        (paris(2027, 6, 26, 23, 0), False),  # the candidate can act from the 27th: the date is 3 days away
        (paris(2027, 6, 27, 23, 0), True),  # from the 28th: 2 days (FAVOURABLE_REMINDER_DAYS); read on the 28th
        (paris(2027, 6, 28, 2, 0), True),  # the same night after midnight
        (paris(2027, 6, 27, 22, 44), False),  # before the window the site is open: today is the 27th, 3 days
        (paris(2027, 6, 30, 2, 0), True),  # the date's own night, after midnight: the site reopens on the date
        (paris(2027, 6, 30, 23, 0), False),  # the date's evening, the site closed: too late to remind
    ],
    ids=["26th-23h", "27th-23h", "28th-02h", "27th-22h44", "30th-02h", "30th-23h"],
)
def test_inside_the_maintenance_window_the_reminder_counts_from_the_next_day_the_site_opens(
    favourable, settings, moment, sent
):
    settings.MAINTENANCE_WINDOW_ENFORCED = True

    with time_machine.travel(moment, tick=False):
        run("remind_favourable_decisions")

    assert len(mails("CANDIDATURE_RELANCE_FAVO")) == int(sent)


@pytest.mark.parametrize("days", [0, 2])
def test_a_date_tomorrow_is_reminded_once_the_night_before(favourable, settings, days):
    settings.MAINTENANCE_WINDOW_ENFORCED = True
    settings.FAVOURABLE_REMINDER_DAYS = days

    with time_machine.travel(paris(2027, 6, 29, 23, 0), tick=False):
        run("remind_favourable_decisions")
    assert len(mails("CANDIDATURE_RELANCE_FAVO")) == 1  # read on the morning of the date

    for moment in (paris(2027, 6, 30, 1, 0), paris(2027, 6, 30, 23, 0)):  # a rerun after midnight, the next night
        with time_machine.travel(moment, tick=False):
            run("remind_favourable_decisions")

    [mail] = mails("CANDIDATURE_RELANCE_FAVO")
    assert "30/06/2027" in mail.body


# --- automatic withdrawal -----------------------------------------------------------------------------------------


# The candidate may answer until the date included, while the site is open: without an enforced window until
# midnight, so the withdrawal starts the next day; with it (production) until 22:45, so the date's own night withdraws.
@pytest.mark.parametrize(
    ("enforced", "moment", "withdrawn"),
    [
        (False, paris(2027, 6, 30, 23, 59), False),  # the site is open until midnight: the date included
        (False, paris(2027, 7, 1, 0, 0), True),  # from the next day on
        (True, paris(2027, 6, 30, 22, 44), False),  # the site is open until 22:45
        (True, paris(2027, 6, 30, 23, 0), True),  # the nightly's hour: closed, "Confirmer" refused from 06:00
    ],
    ids=["open-30th-23h59", "open-1st-00h00", "window-30th-22h44", "window-30th-23h00"],
)
def test_withdrawal_starts_once_the_candidate_can_no_longer_answer_by_the_date(
    favourable, settings, enforced, moment, withdrawn
):
    settings.MAINTENANCE_WINDOW_ENFORCED = enforced

    with time_machine.travel(moment, tick=False):
        run("withdraw_expired_confirmations")

    favourable.refresh_from_db()
    assert (favourable.accepted is False) is withdrawn
    assert len(mails("CANDIDATURE_DESIST_AUTO")) == int(withdrawn)


def test_withdrawal_logs_mails_and_promotes_the_first_of_the_list(formation, campaign, central_manager, favourable):
    first = make_application(formation, campaign=campaign, email="lc1@example.org")
    second = make_application(formation, campaign=campaign, email="lc2@example.org")
    decide(second, Avis.COMPLEMENTARY_LIST, actor=central_manager, rank=2)
    decide(first, Avis.COMPLEMENTARY_LIST, actor=central_manager, rank=1)

    with time_machine.travel(paris(2027, 7, 1, 23, 0), tick=False):
        output = run("withdraw_expired_confirmations")

    assert "applications withdrawn: 1" in output
    assert "candidates promoted from the waiting list: 1" in output
    # The same event kind as the candidate's own withdrawal (issue 10): the batch is told by ``batch``, not ``kind``.
    event = ApplicationEvent.objects.get(application=favourable, kind="application_withdrawn")
    assert (event.actor, event.batch) == (None, "withdraw_expired_confirmations")
    [desist] = mails("CANDIDATURE_DESIST_AUTO")
    assert desist.to == "fa@example.org"
    assert "30/06/2027" in desist.body
    first.refresh_from_db()
    assert first.decisions.latest().decision_type.avis == Avis.FAVOURABLE
    assert [m.to for m in mails("AVIS_FAVORABLE")] == ["fa@example.org", "lc1@example.org"]


def test_a_crash_then_a_rerun_sends_no_mail_and_promotes_no_one_twice(
    formation, campaign, central_manager, favourable, mocker
):
    other = make_application(formation, campaign=campaign, email="fa2@example.org")
    decide(other, Avis.FAVOURABLE, actor=central_manager)
    waiting = [make_application(formation, campaign=campaign, email=f"lc{i}@example.org") for i in (1, 2, 3)]
    for rank, application in enumerate(waiting, start=1):
        decide(application, Avis.COMPLEMENTARY_LIST, actor=central_manager, rank=rank)
    real = nightly.promote_from_waiting_list
    calls = []

    def crash_on_second(**kwargs):
        calls.append(kwargs)
        if len(calls) == 2:
            raise RuntimeError("worker killed")
        return real(**kwargs)

    mocker.patch.object(nightly, "promote_from_waiting_list", side_effect=crash_on_second)
    with time_machine.travel(paris(2027, 7, 1, 23, 0), tick=False):
        run("withdraw_expired_confirmations")
    # The second item rolled back whole: its withdrawal and its mail are gone with the promotion.
    assert len(mails("CANDIDATURE_DESIST_AUTO")) == 1
    assert BatchRun.objects.get().status == BatchRun.Status.ERROR

    mocker.stopall()
    with time_machine.travel(paris(2027, 7, 1, 23, 30), tick=False):
        run("withdraw_expired_confirmations")
        run("withdraw_expired_confirmations")

    assert sorted(m.to for m in mails("CANDIDATURE_DESIST_AUTO")) == ["fa2@example.org", "fa@example.org"]
    promoted = [a for a in waiting if a.decisions.latest().decision_type.avis == Avis.FAVOURABLE]
    assert [a.pk for a in promoted] == [waiting[0].pk, waiting[1].pk]
    assert Application.objects.filter(accepted=False).count() == 2


def test_a_withdrawal_that_fails_stops_none_of_the_others(formation, campaign, central_manager, favourable, mocker):
    other = make_application(formation, campaign=campaign, email="fa2@example.org")
    decide(other, Avis.FAVOURABLE, actor=central_manager)
    mocker.patch.object(nightly, "notify_candidate", side_effect=fail_for(favourable, nightly.notify_candidate))

    with time_machine.travel(paris(2027, 7, 1, 23, 0), tick=False):
        output = run("withdraw_expired_confirmations")

    assert "applications withdrawn: 1" in output
    assert [mail.to for mail in mails("CANDIDATURE_DESIST_AUTO")] == ["fa2@example.org"]
    favourable.refresh_from_db()
    other.refresh_from_db()
    assert (favourable.accepted, other.accepted) == (None, False)  # the failed one is withdrawn next night
    batch = BatchRun.objects.get()
    assert batch.status == BatchRun.Status.ERROR
    assert f"application {favourable.pk}: RuntimeError: could not write the mail" in batch.errors


def test_withdrawal_leaves_confirmed_and_undated_applications(formation, campaign, central_manager, favourable):
    Application.objects.filter(pk=favourable.pk).update(accepted=True, answered_at=paris(2027, 6, 1))
    undated_formation = FormationFactory(centre=formation.centre, commission=formation.commission)
    undated_formation.confirmation_date = None
    undated_formation.save()
    undated = make_application(undated_formation, campaign=campaign)
    decide(undated, Avis.FAVOURABLE, actor=central_manager)

    report = Report()
    with time_machine.travel(paris(2030, 1, 1, 23, 0), tick=False):
        nightly.withdraw_expired_confirmations(report, dry_run=False, limit=None)

    assert report.counts == {}
    assert Application.objects.filter(accepted=False).count() == 0


def test_withdrawal_limit_and_dry_run(formation, campaign, central_manager, favourable):
    other = make_application(formation, campaign=campaign)
    decide(other, Avis.FAVOURABLE, actor=central_manager)

    with time_machine.travel(paris(2027, 7, 2, 23, 0), tick=False):
        assert "applications to withdraw: 2" in run("withdraw_expired_confirmations", "--dry-run")
        assert Application.objects.filter(accepted=False).count() == 0
        run("withdraw_expired_confirmations", "--limit", "1")
        assert Application.objects.filter(accepted=False).count() == 1
        run("withdraw_expired_confirmations")
    assert Application.objects.filter(accepted=False).count() == 2


def test_delay_based_confirmation_date_counts_from_the_validation(centre, commission, campaign, central_manager):
    formation = FormationFactory(centre=centre, commission=commission, confirmation_delay_days=5)
    application = make_application(formation, campaign=campaign)
    with time_machine.travel(paris(2027, 5, 10, 14, 0), tick=False):
        decide(application, Avis.FAVOURABLE, actor=central_manager)
    with time_machine.travel(paris(2027, 5, 15, 23, 0), tick=False):
        run("withdraw_expired_confirmations")
    application.refresh_from_db()
    assert application.accepted is None
    with time_machine.travel(paris(2027, 5, 16, 23, 0), tick=False):
        run("withdraw_expired_confirmations")
    application.refresh_from_db()
    assert application.accepted is False


@pytest.mark.integration
def test_the_withdrawal_locks_the_formation_before_the_application(formation, campaign, central_manager, favourable):
    """The lock order of every path that changes ranks (``staff._lock_formation``): the other way round, a ranking
    validation of the same application at the same moment deadlocked with the nightly withdrawal."""
    assert connection.vendor == "postgresql", "integration tests run on PostgreSQL (DATABASE_URL)"
    with time_machine.travel(paris(2027, 7, 1, 23, 0), tick=False), CaptureQueriesContext(connection) as queries:
        run("withdraw_expired_confirmations")

    locks = [q["sql"] for q in queries.captured_queries if "FOR UPDATE" in q["sql"]]
    tables = [sql.split(" FROM ", 1)[1].split()[0].strip('"') for sql in locks]
    assert tables.index("offers_formation") < tables.index("applications_application")
    favourable.refresh_from_db()
    assert favourable.accepted is False


def test_a_candidate_promoted_at_23_00_is_never_given_that_day_to_confirm(
    formation, campaign, central_manager, favourable, settings
):
    """The site is closed from 22:45: a date de confirmation of the promotion's own day left the candidate no moment
    to answer, and the next night withdrew them. They get the days of a late promotion instead. (A délai of 0 days,
    the same day by another road, is refused since: offers 0028.)"""
    settings.MAINTENANCE_WINDOW_ENFORCED = True
    formation.waiting_list_confirmation_date = datetime.date(2027, 7, 1)
    formation.save()
    listed = make_application(formation, campaign=campaign, email="lc1@example.org")
    decide(listed, Avis.COMPLEMENTARY_LIST, actor=central_manager, rank=1)

    with time_machine.travel(paris(2027, 7, 1, 23, 0), tick=False):
        run("withdraw_expired_confirmations")

    listed.refresh_from_db()
    assert listed.confirmation_date_override == datetime.date(2027, 7, 8)  # LATE_PROMOTION_CONFIRMATION_DAYS
    [admitted] = [m for m in mails("AVIS_FAVORABLE") if m.to == "lc1@example.org"]
    assert "08/07/2027" in admitted.body
    with time_machine.travel(paris(2027, 7, 2, 23, 0), tick=False):
        run("withdraw_expired_confirmations")
    listed.refresh_from_db()
    assert listed.accepted is None
