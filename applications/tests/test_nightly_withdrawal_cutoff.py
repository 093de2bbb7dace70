"""When the automatic withdrawal starts: once the date de confirmation is before the first day the candidate can still
act (``first_day_to_act``), the rule of the reminders, not once it is before the calendar day.

With the maintenance window enforced (production, 22:45–06:00), the site closes at 22:45 on the date and "Confirmer"
is refused from 06:00 the next day: the withdrawal compared with the calendar day waited for the night after (a day
"favourable, no answer", no CANDIDATURE_DESIST_AUTO, nobody promoted from the list), or for ever when the campaign
was archived the same night. The test settings turn the window off: these tests turn it on."""

import datetime
import io

import pytest
import time_machine
from django.core.management import call_command

from applications.admin.forms import DeadlinesForm
from applications.models import Application, ApplicationEvent, Decision
from applications.services import nightly, staff
from applications.services.candidature import confirm_application
from applications.tests.factories_candidature import decide, decision_type, make_application
from applications.tests.helpers import CONFIRM_BY, formation_confirmed_by, mails, paris, released
from ecandidat.batches import Report
from ecandidat.exceptions import BusinessRuleError, InvalidTransition
from ecandidat.maintenance import is_under_maintenance
from ecandidat.management.commands import nightly as nightly_command
from offers.enums import Avis
from offers.models import Campaign
from offers.tests.factories import CampaignFactory

pytestmark = pytest.mark.usefixtures("before_the_confirmation_date")


@pytest.fixture
def formation(centre, commission):
    return formation_confirmed_by(
        centre, commission, auto_waiting_list=True, favourable_decision_type=decision_type(Avis.FAVOURABLE)
    )


@pytest.fixture
def favourable(formation, campaign, central_manager):
    return released(formation, campaign, central_manager, email="fa@example.org")


def withdraw():
    out = io.StringIO()
    call_command("withdraw_expired_confirmations", stdout=out, stderr=io.StringIO())
    return out.getvalue()


@pytest.mark.parametrize(
    ("moment", "withdrawn"),
    [
        (paris(2027, 6, 29, 23, 0), False),  # the night before: the candidate can answer all day on the 30th
        (paris(2027, 6, 30, 22, 0), False),  # a forced run before the window: they can still confirm until 22:45
        (paris(2027, 6, 30, 23, 0), True),  # the date's night (deploy/crontab): the site closed, it reopens too late
        (paris(2027, 7, 1, 5, 0), True),  # the same night after midnight (a cron reading 23:00 in UTC, long batches)
    ],
    ids=["29th-23h", "30th-22h", "30th-23h", "1st-05h"],
)
def test_inside_the_window_the_date_s_own_night_withdraws(
    maintenance_window, formation, campaign, central_manager, moment, withdrawn
):
    application = make_application(formation, campaign=campaign, email="fa@example.org")
    decide(application, Avis.FAVOURABLE, actor=central_manager)
    listed = make_application(formation, campaign=campaign, email="lc1@example.org")
    decide(listed, Avis.COMPLEMENTARY_LIST, actor=central_manager, rank=1)

    with time_machine.travel(moment, tick=False):
        withdraw()

    application.refresh_from_db()
    assert (application.accepted is False) is withdrawn
    desist = mails("CANDIDATURE_DESIST_AUTO")
    assert [m.to for m in desist] == (["fa@example.org"] if withdrawn else [])
    if withdrawn:
        assert "30/06/2027" in desist[0].body
        event = ApplicationEvent.objects.get(application=application, kind="application_withdrawn")
        assert event.batch == "withdraw_expired_confirmations"
    promoted = listed.decisions.latest().decision_type.avis == Avis.FAVOURABLE
    assert promoted is withdrawn  # the place goes to the list the same night


MOMENTS = [
    paris(2027, 6, 30, 6, 0),
    paris(2027, 6, 30, 22, 0),
    paris(2027, 6, 30, 22, 44),
    paris(2027, 6, 30, 22, 45),
    paris(2027, 6, 30, 23, 0),
    paris(2027, 6, 30, 23, 59),
    paris(2027, 7, 1, 0, 0),
    paris(2027, 7, 1, 5, 0),
    paris(2027, 7, 1, 6, 0),
    paris(2027, 7, 1, 12, 0),
]


@pytest.mark.parametrize("enforced", [True, False], ids=["window", "no-window"])
@pytest.mark.parametrize("moment", MOMENTS, ids=[f"{m:%dth-%Hh%M}" for m in MOMENTS])
def test_at_any_moment_the_candidate_can_confirm_or_the_batch_withdraws_never_both_nor_neither(
    maintenance_window, settings, formation, campaign, central_manager, enforced, moment
):
    """The candidate's "Confirmer" (the site open, ``answer_refusal`` passing) and the withdrawal agree: never refused
    while not yet withdrawable, never withdrawn while still allowed to confirm."""
    settings.MAINTENANCE_WINDOW_ENFORCED = enforced
    answering, waiting = (make_application(formation, campaign=campaign, email=f"fa{i}@example.org") for i in (1, 2))
    for application in (answering, waiting):
        decide(application, Avis.FAVOURABLE, actor=central_manager)

    with time_machine.travel(moment, tick=False):
        can_confirm = not is_under_maintenance()[0]
        if can_confirm:
            try:
                confirm_application(application=answering, actor=answering.candidate.user)
            except InvalidTransition:
                can_confirm = False
        withdraw()

    waiting.refresh_from_db()
    withdrawn = waiting.accepted is False
    assert can_confirm is not withdrawn


def test_a_campaign_archived_on_the_confirmation_date_is_withdrawn_from_before_the_archive(
    maintenance_window, monkeypatch, formation, campaign, favourable
):
    """``nightly`` at 23:00 on the date, which is also the archiving date: the withdrawal runs first, the archive
    next (``BATCHES``' order, kept here); archived, the campaign's applications are out of the withdrawal's reach."""
    Campaign.objects.filter(pk=campaign.pk).update(archive_on=CONFIRM_BY)
    following = CampaignFactory(
        starts_on=campaign.starts_on + datetime.timedelta(days=365),
        ends_on=campaign.ends_on + datetime.timedelta(days=365),
    )
    chain = [
        name for name in nightly_command.BATCHES if name in {"withdraw_expired_confirmations", "archive_campaigns"}
    ]
    monkeypatch.setattr(nightly_command, "BATCHES", chain)

    with time_machine.travel(paris(2027, 6, 30, 23, 0), tick=False):
        call_command("nightly", stdout=io.StringIO(), stderr=io.StringIO())

    favourable.refresh_from_db()
    assert favourable.accepted is False
    assert [m.to for m in mails("CANDIDATURE_DESIST_AUTO")] == ["fa@example.org"]
    assert Campaign.objects.get(is_active=True) == following
    assert nightly.favourable_unanswered().filter(campaign=campaign).count() == 0


def test_a_decision_validated_once_the_site_closed_on_its_date_is_left_for_staff(
    maintenance_window, formation, campaign, central_manager
):
    """Staff may validate inside the window: at 22:50 on the date, the candidate never had a moment to answer (the
    site closed at 22:45, "Confirmer" refused from 06:00 the next day). As for a decision given after its date, the
    batch leaves it for staff to set a date rather than withdraw it ten minutes after its mail. The validation now
    refuses it (test_validation_confirmation_cutoff.py), and so do a direct access and an admission proposal given at
    once (test_cutoff_at_once.py), but a decision validated before that rule was not checked: the stamp is moved to
    22:50 after a validation at 21:40."""
    application = make_application(formation, campaign=campaign)
    with time_machine.travel(paris(2027, 6, 30, 21, 40), tick=False):  # before the site's last hour
        decide(application, Avis.FAVOURABLE, actor=central_manager)
    assert Decision.objects.filter(application=application).update(validated_at=paris(2027, 6, 30, 22, 50)) == 1

    report = Report()
    for moment in (paris(2027, 6, 30, 23, 0), paris(2027, 7, 1, 23, 0)):
        with time_machine.travel(moment, tick=False):
            nightly.withdraw_expired_confirmations(report, dry_run=False, limit=None)

    application.refresh_from_db()
    assert application.accepted is None
    assert mails("CANDIDATURE_DESIST_AUTO") == []
    assert report.counts == {"favourable decisions given after their confirmation date (set a date)": 2}


def test_a_decision_validated_before_the_site_closed_on_its_date_is_withdrawn_that_night(
    maintenance_window, formation, campaign, central_manager
):
    application = make_application(formation, campaign=campaign)
    with time_machine.travel(paris(2027, 6, 30, 21, 40), tick=False):  # before the site's last hour
        decide(application, Avis.FAVOURABLE, actor=central_manager)

    with time_machine.travel(paris(2027, 6, 30, 23, 0), tick=False):
        withdraw()

    assert Application.objects.get(pk=application.pk).accepted is False


@pytest.mark.parametrize(
    ("moment", "refused"),
    [(paris(2027, 7, 3, 21, 40), False), (paris(2027, 7, 3, 22, 50), True)],
    ids=["before-the-window", "inside-the-window"],
)
def test_today_as_a_new_confirmation_date_is_refused_once_the_site_has_closed(
    maintenance_window, favourable, formation, campaign, central_manager, moment, refused
):
    """A favourable decision left for staff (its date gone, no answer): given « today » at 22:50, it could not be
    answered (the site closed at 22:45), and the batch of 23:00 withdrew it, mailed CANDIDATURE_DESIST_AUTO and gave
    its place away. « Prolonger les délais » now refuses it, in the service and in the form, beside the field."""
    waiting = make_application(formation, campaign=campaign, email="cl@example.org")
    decide(waiting, Avis.COMPLEMENTARY_LIST, actor=central_manager, rank=1)
    # Validated after its date (30 June), as after an appeal: the batch leaves it for staff to give a new date.
    Decision.objects.filter(application=favourable).update(validated_at=paris(2027, 7, 2, 10, 0))
    today = datetime.date(2027, 7, 3)

    with time_machine.travel(moment, tick=False):
        form = DeadlinesForm(data={"confirmation_date": today.isoformat()})
        form.is_valid()  # cleaned at this moment
        try:
            staff.extend_deadlines(favourable, actor=central_manager, confirmation_date=today)
            outcome = None
        except BusinessRuleError as error:
            outcome = str(error)
    with time_machine.travel(paris(2027, 7, 3, 23, 0), tick=False):
        withdraw()

    favourable.refresh_from_db()
    if refused:
        message = (
            "The candidate could no longer confirm by today: the site is closed until 06:00 tomorrow. Give "
            "tomorrow's date or a later one."
        )
        assert outcome == message
        assert form.errors == {"confirmation_date": [message]}
        assert favourable.confirmation_date_override != today
        assert favourable.accepted is None  # left for staff, as before
    else:
        assert outcome is None
        assert form.is_valid()
        assert favourable.confirmation_date_override == today
        assert favourable.accepted is False  # the candidate had until 22:45 to confirm: withdrawn that night
    assert Application.objects.get(pk=waiting.pk).accepted is None
    assert mails("CANDIDATURE_DESIST_AUTO") == ([] if refused else [mails("CANDIDATURE_DESIST_AUTO")[0]])
