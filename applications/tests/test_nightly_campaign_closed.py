"""The nightly batches and the campaign's closing date for candidates (``Campaign.ends_on``).

A candidate logs in only while their campaign is open (``accounts.services.candidate_can_log_in``; eCandidat: no
login after « Date fin candidats »). The batches did not look at that date: a favourable decision validated after it
(campaign 1 January–10 May, délai of 10 days, validated on 12 May: « confirmez avant le 22/05 ») was reminded to a
candidate who could not log in, then withdrawn (CANDIDATURE_DESIST_AUTO) and its place given to the next of the list,
just as locked out, and so on down the list. The batch never withdraws, nor reminds, a candidate who could not log in
on the last day of their confirmation period: staff are told instead."""

import datetime

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from applications.services import nightly, staff
from applications.tests.factories_candidature import decide, decision_type, make_application
from applications.tests.helpers import mails, paris
from ecandidat.batches import Report
from offers.enums import Avis
from offers.models import Campaign
from offers.tests.factories import FormationFactory

pytestmark = pytest.mark.usefixtures("before_the_confirmation_date")

CLOSED_WITHDRAWAL = (
    "favourable decisions whose confirmation date is after the campaign's closing date for candidates "
    "(reopen the campaign and set a date)"
)
CLOSED_REMINDER = "reminders not sent, campaign closed to candidates"
LAST_DAY = datetime.date(2027, 5, 22)  # validated on 12 May, délai of 10 days


@pytest.fixture
def formation(centre, commission):
    return FormationFactory(
        centre=centre,
        commission=commission,
        confirmation_delay_days=10,
        auto_waiting_list=True,
        favourable_decision_type=decision_type(Avis.FAVOURABLE),
    )


def close_campaign_on(campaign, day):
    """The campaign open to candidates from 1 January to ``day`` (its « Date fin candidats »)."""
    Campaign.objects.filter(pk=campaign.pk).update(starts_on=datetime.date(2027, 1, 1), ends_on=day)


@pytest.fixture
def favourable(formation, campaign, central_manager):
    """A favourable decision validated on 12 May 2027 (date de confirmation: 22 May), and a candidate first on the
    formation's complementary list."""
    close_campaign_on(campaign, datetime.date(2027, 5, 10))
    # A date given before the closing (a favourable decision validated after it is refused now: its délai would be
    # capped at a day gone by), kept as the batches find such data.
    application = make_application(
        formation, campaign=campaign, email="fa@example.org", confirmation_date_override=LAST_DAY
    )
    listed = make_application(formation, campaign=campaign, email="lc1@example.org")
    with time_machine.travel(paris(2027, 5, 12, 14, 0), tick=False):
        decide(application, Avis.FAVOURABLE, actor=central_manager)
        decide(listed, Avis.COMPLEMENTARY_LIST, actor=central_manager, rank=1)
    return application, listed


def withdraw(moment, *, dry_run=False):
    report = Report()
    with time_machine.travel(moment, tick=False):
        nightly.withdraw_expired_confirmations(report, dry_run=dry_run, limit=None)
    return report


def remind(moment):
    report = Report()
    with time_machine.travel(moment, tick=False):
        nightly.remind_favourable_decisions(report, dry_run=False, limit=None)
    return report


def promoted(listed):
    return listed.decisions.latest().decision_type.avis == Avis.FAVOURABLE


# --- withdrawal ---------------------------------------------------------------------------------------------------


def test_a_date_after_the_campaign_closed_to_candidates_is_never_withdrawn(favourable):
    application, listed = favourable

    for night in (paris(2027, 5, 23, 23, 0), paris(2027, 6, 15, 23, 0)):
        report = withdraw(night)
        assert report.counts == {CLOSED_WITHDRAWAL: 1}  # staff are told, every night, as for a late decision

    application.refresh_from_db()
    assert application.accepted is None
    assert mails("CANDIDATURE_DESIST_AUTO") == []
    assert not promoted(listed)  # the list keeps its place: its first is just as locked out


def test_the_dry_run_counts_them_the_same_way(favourable):
    assert withdraw(paris(2027, 5, 23, 23, 0), dry_run=True).counts == {CLOSED_WITHDRAWAL: 1}


@pytest.mark.parametrize(
    ("ends_on", "withdrawn"),
    [
        (datetime.date(2027, 5, 21), False),  # closed the day before the last day
        (LAST_DAY, True),  # open on the last day: withdrawn as before
        (datetime.date(2027, 6, 30), True),
    ],
    ids=["closed-the-day-before", "closed-on-the-last-day", "open-after"],
)
def test_a_candidate_who_could_log_in_on_the_last_day_is_withdrawn_as_before(campaign, favourable, ends_on, withdrawn):
    application, listed = favourable
    close_campaign_on(campaign, ends_on)

    report = withdraw(paris(2027, 5, 23, 23, 0))

    application.refresh_from_db()
    assert (application.accepted is False) is withdrawn
    assert [m.to for m in mails("CANDIDATURE_DESIST_AUTO")] == (["fa@example.org"] if withdrawn else [])
    # Closed on the last day: withdrawn, but the next of the list could no longer log in to confirm: left to staff.
    assert promoted(listed) is (withdrawn and ends_on > LAST_DAY)
    if withdrawn:
        assert "22/05/2027" in mails("CANDIDATURE_DESIST_AUTO")[0].body
        promotion = "candidates promoted from the waiting list" if ends_on > LAST_DAY else nightly.LEFT_TO_STAFF_COUNT
        assert report.counts == {"applications withdrawn": 1, promotion: 1}
    else:
        assert report.counts == {CLOSED_WITHDRAWAL: 1}


def test_a_campaign_reopened_before_the_last_day_withdraws_normally(campaign, favourable):
    """Closed on 20 May, so the candidate is not reminded on the night of the 20th; reopened on the 21st until the
    end of the month, they are reminded that night, can confirm on the 22nd, and are withdrawn the night after."""
    application, listed = favourable
    close_campaign_on(campaign, datetime.date(2027, 5, 20))

    assert remind(paris(2027, 5, 21, 1, 0)).counts == {CLOSED_REMINDER: 1}
    assert withdraw(paris(2027, 5, 21, 1, 0)).counts == {}
    close_campaign_on(campaign, datetime.date(2027, 5, 31))
    assert remind(paris(2027, 5, 21, 23, 0)).counts == {"reminders sent": 1}
    report = withdraw(paris(2027, 5, 23, 23, 0))

    assert report.counts == {"applications withdrawn": 1, "candidates promoted from the waiting list": 1}
    application.refresh_from_db()
    assert application.accepted is False
    assert [m.to for m in mails("CANDIDATURE_DESIST_AUTO")] == ["fa@example.org"]
    assert promoted(listed)


def test_a_campaign_reopened_with_a_new_date_withdraws_after_that_date(campaign, central_manager, favourable):
    """What the count tells staff to do: the campaign reopened to candidates and a new date de confirmation given."""
    application, listed = favourable
    assert withdraw(paris(2027, 5, 23, 23, 0)).counts == {CLOSED_WITHDRAWAL: 1}

    close_campaign_on(campaign, datetime.date(2027, 5, 31))
    with time_machine.travel(paris(2027, 5, 24, 10, 0), tick=False):
        staff.extend_deadlines(application, actor=central_manager, confirmation_date=datetime.date(2027, 5, 27))
    assert withdraw(paris(2027, 5, 27, 23, 0)).counts == {}  # the candidate may still confirm on the 27th
    report = withdraw(paris(2027, 5, 28, 23, 0))

    assert report.counts == {"applications withdrawn": 1, "candidates promoted from the waiting list": 1}
    assert "27/05/2027" in mails("CANDIDATURE_DESIST_AUTO")[0].body
    assert promoted(listed)


def test_a_closing_date_moved_earlier_while_the_batch_ran_is_read_again_under_the_lock(campaign, favourable, mocker):
    application, listed = favourable
    close_campaign_on(campaign, datetime.date(2027, 5, 31))
    read = nightly._with_dates

    def closed_after_the_read(queryset):
        for item in read(queryset):
            close_campaign_on(campaign, datetime.date(2027, 5, 21))  # between the batch's read and its lock
            yield item

    mocker.patch.object(nightly, "_with_dates", side_effect=closed_after_the_read)
    report = withdraw(paris(2027, 5, 23, 23, 0))

    assert report.counts == {"confirmation date changed meanwhile": 1}
    application.refresh_from_db()
    assert application.accepted is None
    assert mails("CANDIDATURE_DESIST_AUTO") == []
    assert not promoted(listed)


def test_the_closing_date_costs_no_query_per_application(formation, campaign, central_manager, favourable):
    def queries():
        with CaptureQueriesContext(connection) as captured:
            withdraw(paris(2027, 5, 23, 23, 0))
            remind(paris(2027, 5, 21, 23, 0))
        return len(captured)

    alone = queries()
    with time_machine.travel(paris(2027, 5, 12, 15, 0), tick=False):
        for i in (2, 3):
            decide(
                make_application(
                    formation, campaign=campaign, email=f"fa{i}@example.org", confirmation_date_override=LAST_DAY
                ),
                Avis.FAVOURABLE,
                actor=central_manager,
            )

    assert queries() == alone


# --- reminder -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ends_on", "sent"),
    [
        (datetime.date(2027, 5, 10), False),
        (datetime.date(2027, 5, 20), False),  # the candidate could log in today, not tomorrow when they read it
        (datetime.date(2027, 5, 21), True),
        (LAST_DAY, True),
    ],
    ids=["closed-long-ago", "closed-today", "open-tomorrow", "open-until-the-last-day"],
)
def test_no_reminder_to_a_candidate_who_can_no_longer_log_in(maintenance_window, campaign, favourable, ends_on, sent):
    """The night of 20 May at 23:00, the site closed for the night: the candidate can act again from the 21st."""
    application, _listed = favourable
    close_campaign_on(campaign, ends_on)

    report = remind(paris(2027, 5, 20, 23, 0))

    assert report.counts == ({"reminders sent": 1} if sent else {CLOSED_REMINDER: 1})
    assert [m.to for m in mails("CANDIDATURE_RELANCE_FAVO")] == (["fa@example.org"] if sent else [])
    application.refresh_from_db()
    assert (application.favourable_reminder_sent_at is not None) is sent


def test_a_reminder_held_back_goes_once_the_campaign_reopens(campaign, favourable):
    application, _listed = favourable

    assert remind(paris(2027, 5, 20, 23, 0)).counts == {CLOSED_REMINDER: 1}
    close_campaign_on(campaign, datetime.date(2027, 5, 31))
    assert remind(paris(2027, 5, 21, 23, 0)).counts == {"reminders sent": 1}

    [mail] = mails("CANDIDATURE_RELANCE_FAVO")
    assert mail.to == "fa@example.org"
    assert "22/05/2027" in mail.body
