"""The nightly reminder to transmit (remind_transmission, mail CANDIDATURE_RELANCE_TRANSMISSION): once per online
application never transmitted, within TRANSMISSION_REMINDER_DAYS of its effective return deadline."""

import datetime
import io
import threading
import zoneinfo

import pytest
import time_machine
from django.core.management import call_command
from django.db import DatabaseError, connections, transaction
from django.urls import reverse
from django.utils import timezone

from applications.enums import DossierStatus, EventKind
from applications.history import record_event
from applications.models import Application, ApplicationEvent, Candidate
from applications.services import nightly
from applications.tests.factories_candidature import make_application
from applications.tests.helpers import mails
from ecandidat.batches import Report
from ecandidat.models import BatchRun, OutboundEmail
from offers.enums import ApplicationMode
from offers.tests.factories import CampaignFactory, FormationFactory

pytestmark = pytest.mark.django_db

PARIS = zoneinfo.ZoneInfo("Europe/Paris")
CODE = "CANDIDATURE_RELANCE_TRANSMISSION"
TODAY = datetime.date(2027, 3, 12)
NIGHT = datetime.datetime(2027, 3, 12, 23, 0, tzinfo=PARIS)  # the nightly run (deploy/crontab: 23:00)


def days(n):
    return TODAY + datetime.timedelta(days=n)


def formation_due(centre, commission, deadline, **fields):
    return FormationFactory(
        centre=centre,
        commission=commission,
        opens_on=datetime.date(2027, 1, 1),
        closes_on=datetime.date(2027, 3, 1),
        return_deadline=deadline,
        **fields,
    )


@pytest.fixture
def formation(centre, commission):
    """Its return deadline is in three days: within TRANSMISSION_REMINDER_DAYS (3)."""
    return formation_due(centre, commission, days(3), title="Master Informatique", code="MINFO")


@pytest.fixture
def waiting(formation, campaign):
    """An online application the candidate has not transmitted (``AT``)."""
    return make_application(formation, campaign=campaign, status=DossierStatus.WAITING, email="at@example.org")


def run(*args):
    out = io.StringIO()
    call_command("remind_transmission", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def tonight(*args, moment=NIGHT):
    with time_machine.travel(moment, tick=False):
        return run(*args)


def remind(*, dry_run=False, limit=None):
    report = Report()
    nightly.remind_untransmitted_applications(report, dry_run=dry_run, limit=limit, today=TODAY)
    return report


# --- which applications ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("deadline", "reminded"),
    [
        (-1, False),  # passed: the candidate can no longer transmit
        (0, True),  # today: without an enforced maintenance window the candidate may transmit until midnight
        (3, True),  # TRANSMISSION_REMINDER_DAYS ahead
        (4, False),  # not yet: a later night
    ],
)
def test_the_window_runs_from_today_to_n_days_ahead(centre, commission, campaign, deadline, reminded):
    formation = formation_due(centre, commission, days(deadline))
    make_application(formation, campaign=campaign, status=DossierStatus.WAITING)

    tonight()

    assert len(mails(CODE)) == int(reminded)


@pytest.mark.parametrize(
    ("moment", "deadlines"),
    [
        # 23:00 (deploy/crontab), inside the maintenance window: the site reopens tomorrow, so a deadline today has
        # gone by for the candidate, and the days counted run from tomorrow.
        (NIGHT, [1, 3, 4]),
        # 02:00 the next night (a cron reading 23:00 in UTC): the site reopens this morning, the days run from today.
        (datetime.datetime(2027, 3, 13, 2, 0, tzinfo=PARIS), [1, 3, 4]),
        # 02:00 on the 12th: the site reopens on the 12th, a deadline that day is still ahead of the candidate.
        (datetime.datetime(2027, 3, 12, 2, 0, tzinfo=PARIS), [0, 1, 3]),
    ],
    ids=["23h", "02h-after-that-night", "02h-on-the-12th"],
)
def test_inside_the_maintenance_window_the_days_count_from_the_next_day_the_site_opens(
    centre, commission, campaign, settings, moment, deadlines
):
    settings.MAINTENANCE_WINDOW_ENFORCED = True
    applications = {
        deadline: make_application(
            formation_due(centre, commission, days(deadline)),
            campaign=campaign,
            status=DossierStatus.WAITING,
            email=f"d{deadline}@example.org",
        )
        for deadline in (0, 1, 3, 4, 5)
    }

    tonight(moment=moment)

    reminded = ApplicationEvent.objects.filter(kind=EventKind.TRANSMISSION_REMINDED).values_list(
        "application_id", flat=True
    )
    assert sorted(reminded) == sorted(applications[deadline].pk for deadline in deadlines)


def test_only_online_applications_never_transmitted_are_reminded(centre, commission, formation, campaign, waiting):
    def application(email, *, on=formation, status=DossierStatus.WAITING, **fields):
        return make_application(on, campaign=campaign, status=status, email=email, **fields)

    application("received@example.org", status=DossierStatus.RECEIVED, transmitted_at=timezone.now())
    application("incomplete@example.org", status=DossierStatus.INCOMPLETE, transmitted_at=timezone.now())
    # Staff set it back to "En attente" after its transmission: STATUT_AT told the candidate, not this reminder.
    application("set-back@example.org", transmitted_at=timezone.now())
    application("cancelled@example.org", cancelled_at=timezone.now())
    application("paper@example.org", on=formation_due(centre, commission, days(1), mode=ApplicationMode.PAPER))
    application("later@example.org", on=formation_due(centre, commission, days(10)))
    # The effective deadline is the later of the formation's and the application's extension (applications.dates).
    application("extended-later@example.org", return_deadline_override=days(10))
    application(
        "extended-into@example.org", on=formation_due(centre, commission, days(-5)), return_deadline_override=days(1)
    )
    old_campaign = CampaignFactory(is_active=False)
    make_application(formation, campaign=old_campaign, status=DossierStatus.WAITING, email="old@example.org")
    reminded = application("reminded@example.org")
    record_event(reminded, kind=EventKind.TRANSMISSION_REMINDED, batch="remind_transmission")

    tonight()

    assert sorted(mail.to for mail in mails(CODE)) == ["at@example.org", "extended-into@example.org"]


def test_zero_days_switches_the_reminder_off(waiting, settings):
    settings.TRANSMISSION_REMINDER_DAYS = 0

    output = tonight()

    assert "remind_transmission: nothing to do" in output
    assert mails(CODE) == []


# --- the mail and its record ----------------------------------------------------------------------------------------


def test_the_mail_says_in_french_what_to_do_by_when_and_where(waiting, settings):
    settings.SITE_URL = "https://ecandidat.univ.example"

    tonight()

    [mail] = mails(CODE)
    assert (mail.to, mail.language) == ("at@example.org", "fr")
    assert mail.subject == "Relance : votre candidature n'est pas encore transmise"
    recap = "https://ecandidat.univ.example" + reverse("applications:detail", args=[waiting.public_id])
    for sentence in [
        "Bonjour Camille DUPONT,",
        "Votre candidature à la formation Master Informatique (MINFO) n'a pas encore été transmise.",
        "Vos pièces justificatives et votre dossier ne sont examinés qu'une fois la candidature transmise",
        (
            "transmettez votre candidature au plus tard le 15/03/2027, ce jour compris, "
            f"avec le bouton « Transmettre ma candidature » de son récapitulatif : {recap}"
        ),
    ]:
        assert sentence in " ".join(mail.body.split())


def test_the_mail_follows_the_candidates_language(waiting):
    Candidate.objects.filter(pk=waiting.candidate_id).update(preferred_language="en")

    tonight()

    [mail] = mails(CODE)
    assert mail.language == "en"
    assert mail.subject == "Reminder: your application is not transmitted yet"
    assert "transmit your application by 15 Mar 2027 at the latest, with" in " ".join(mail.body.split())


def test_the_reminder_is_sent_once_and_staff_see_it_in_the_history(waiting):
    tonight()
    tonight()
    tonight(moment=NIGHT + datetime.timedelta(days=1))

    assert len(mails(CODE)) == 1
    event = ApplicationEvent.objects.get(application=waiting, kind=EventKind.TRANSMISSION_REMINDED)
    assert (event.actor, event.batch, event.comment) == (
        None,
        "remind_transmission",
        "date limite de retour 15/03/2027",
    )


def test_a_candidate_who_transmitted_meanwhile_is_not_reminded(waiting, mocker):
    real = nightly.effective_return_deadline

    def transmitted_once_listed(application):
        # The candidate transmits between the night's list and the reminder's locked re-read.
        Application.objects.filter(pk=application.pk).update(
            dossier_status=DossierStatus.RECEIVED, transmitted_at=timezone.now()
        )
        return real(application)

    mocker.patch.object(nightly, "effective_return_deadline", side_effect=transmitted_once_listed)

    report = remind()

    assert report.counts == {"transmitted, changed or busy meanwhile": 1}
    assert mails(CODE) == []
    assert not waiting.events.filter(kind=EventKind.TRANSMISSION_REMINDED).exists()


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_an_application_someone_holds_is_skipped_and_reminded_next_night(centre, commission, campaign):
    # integration: `make test` runs it on PostgreSQL only (row locks), as the other lock tests
    application = make_application(
        formation_due(centre, commission, days(2)), campaign=campaign, status=DossierStatus.WAITING
    )
    held, release = threading.Event(), threading.Event()

    def hold():  # the candidate's transmission, say, holding the row meanwhile
        try:
            with transaction.atomic():
                Application.objects.select_for_update(of=("self",)).get(pk=application.pk)
                held.set()
                release.wait(10)
        finally:
            connections.close_all()

    thread = threading.Thread(target=hold)
    thread.start()
    assert held.wait(10)
    try:
        busy = remind()
    finally:
        release.set()
        thread.join()

    assert busy.counts == {"transmitted, changed or busy meanwhile": 1}
    assert remind().counts == {"reminders sent": 1}
    assert len(mails(CODE)) == 1


# --- the batch ------------------------------------------------------------------------------------------------------


def test_the_batch_is_recorded_with_its_counts(waiting, formation, campaign):
    make_application(formation, campaign=campaign, status=DossierStatus.WAITING)

    output = tonight()

    assert output.strip() == "remind_transmission: reminders sent: 2"
    run_row = BatchRun.objects.get(name="remind_transmission")
    assert (run_row.status, run_row.dry_run, run_row.counts) == (BatchRun.Status.FINISH, False, {"reminders sent": 2})


def test_a_dry_run_counts_and_writes_nothing(waiting):
    output = tonight("--dry-run")

    assert output.strip() == "[dry run] remind_transmission: reminders to send: 1"
    assert OutboundEmail.objects.count() == 0
    assert not ApplicationEvent.objects.filter(kind=EventKind.TRANSMISSION_REMINDED).exists()
    assert BatchRun.objects.get().dry_run is True


def test_the_limit_leaves_the_rest_for_the_next_night(waiting, formation, campaign):
    make_application(formation, campaign=campaign, status=DossierStatus.WAITING)

    first = tonight("--limit", "1")
    second = tonight("--limit", "1")

    assert "reminders sent: 1" in first
    assert "reminders sent: 1" in second
    assert len(mails(CODE)) == 2


def _applications(formation, campaign, count):
    for _ in range(count):
        make_application(formation, campaign=campaign, status=DossierStatus.WAITING)


@pytest.mark.parametrize("count", [1, 5])
def test_the_list_is_one_query_whatever_the_number_of_applications(
    formation, campaign, count, django_assert_num_queries
):
    _applications(formation, campaign, count)

    with django_assert_num_queries(1):
        report = remind(dry_run=True)

    assert report.counts == {"reminders to send": count}


@pytest.mark.parametrize("count", [1, 5])
def test_each_reminder_costs_the_same_queries(formation, campaign, count, django_assert_num_queries):
    _applications(formation, campaign, count)

    # The list (1), then per application: savepoint, locked re-read, mail template look-up, outbox row, history
    # row, release (6).
    with django_assert_num_queries(1 + 6 * count):
        report = remind()

    assert report.counts == {"reminders sent": count}


# --- a failure ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("failing", ["outbox", "history"])
def test_a_write_that_fails_records_nothing_for_its_application_and_next_night_retries_it(
    waiting, formation, campaign, mocker, failing
):
    other = make_application(formation, campaign=campaign, status=DossierStatus.WAITING, email="other@example.org")
    real_create, real_record = OutboundEmail.objects.create, nightly.record_event

    def create(**fields):
        if fields["to"] == "at@example.org":
            raise DatabaseError("could not extend file")
        return real_create(**fields)

    def record(application, **fields):
        if application.pk == waiting.pk:
            raise DatabaseError("could not extend file")
        return real_record(application, **fields)

    if failing == "outbox":
        mocker.patch.object(OutboundEmail.objects, "create", side_effect=create)
    else:
        mocker.patch.object(nightly, "record_event", side_effect=record)

    output = tonight()

    # The failing application's mail and history row went together; the other one was reminded.
    assert "reminders sent: 1" in output
    assert [mail.to for mail in mails(CODE)] == ["other@example.org"]
    assert not waiting.events.filter(kind=EventKind.TRANSMISSION_REMINDED).exists()
    assert other.events.filter(kind=EventKind.TRANSMISSION_REMINDED).exists()
    run_row = BatchRun.objects.get()
    assert run_row.status == BatchRun.Status.ERROR
    assert f"application {waiting.pk}: DatabaseError: could not extend file" in run_row.errors

    mocker.stopall()
    tonight(moment=NIGHT + datetime.timedelta(days=1))

    assert sorted(mail.to for mail in mails(CODE)) == ["at@example.org", "other@example.org"]
