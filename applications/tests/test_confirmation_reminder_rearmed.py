"""The confirmation reminder (CANDIDATURE_RELANCE_FAVO) is due again after a new date de confirmation or a new
favourable decision: it was sent once per application for ever, so a candidate given a later date after the
reminder, or admitted again from the complementary list, was never reminded of the date that counted."""

import datetime
import io

import pytest
import time_machine
from django.core.management import call_command

from applications.services import staff
from applications.tests.factories_candidature import decide, decision_type
from applications.tests.helpers import formation_confirmed_by, mails, paris, released
from offers.enums import Avis

pytestmark = pytest.mark.usefixtures("before_the_confirmation_date")


@pytest.fixture
def formation(centre, commission):
    return formation_confirmed_by(
        centre, commission, auto_waiting_list=True, favourable_decision_type=decision_type(Avis.FAVOURABLE)
    )


@pytest.fixture
def reminded(formation, campaign, central_manager):
    """A favourable application reminded on the night of 28 June of its date, 30 June 2027."""
    application = released(formation, campaign, central_manager, email="fa@example.org")
    remind_at(paris(2027, 6, 28, 23, 0))
    assert len(mails("CANDIDATURE_RELANCE_FAVO")) == 1
    return application


def remind_at(moment):
    with time_machine.travel(moment, tick=False):
        call_command("remind_favourable_decisions", stdout=io.StringIO(), stderr=io.StringIO())


def test_a_later_confirmation_date_is_reminded_again(reminded, central_manager):
    with time_machine.travel(paris(2027, 6, 29, 10, 0), tick=False):
        staff.extend_deadlines(reminded, actor=central_manager, confirmation_date=datetime.date(2027, 7, 10))
    remind_at(paris(2027, 6, 29, 23, 0))  # not yet: 10 July is beyond the two days
    remind_at(paris(2027, 7, 8, 23, 0))
    remind_at(paris(2027, 7, 9, 23, 0))  # once

    first, second = mails("CANDIDATURE_RELANCE_FAVO")
    assert "30/06/2027" in first.body
    assert "10/07/2027" in second.body


def test_the_same_date_given_again_is_not_reminded_twice(reminded, central_manager):
    with time_machine.travel(paris(2027, 6, 29, 10, 0), tick=False):
        staff.extend_deadlines(reminded, actor=central_manager, confirmation_date=datetime.date(2027, 7, 10))
    remind_at(paris(2027, 7, 8, 23, 0))
    with time_machine.travel(paris(2027, 7, 9, 10, 0), tick=False):
        staff.extend_deadlines(reminded, actor=central_manager, confirmation_date=datetime.date(2027, 7, 10))
    remind_at(paris(2027, 7, 9, 23, 0))

    assert len(mails("CANDIDATURE_RELANCE_FAVO")) == 2


def test_a_return_deadline_alone_leaves_the_reminder_sent(reminded, central_manager):
    with time_machine.travel(paris(2027, 6, 29, 10, 0), tick=False):
        staff.extend_deadlines(reminded, actor=central_manager, return_deadline=datetime.date(2027, 7, 10))
    remind_at(paris(2027, 6, 29, 23, 0))

    assert len(mails("CANDIDATURE_RELANCE_FAVO")) == 1


def test_a_new_favourable_decision_is_reminded_again(reminded, central_manager):
    with time_machine.travel(paris(2027, 6, 29, 10, 0), tick=False):
        decide(reminded, Avis.FAVOURABLE, actor=central_manager)
    remind_at(paris(2027, 6, 29, 23, 0))

    assert len(mails("CANDIDATURE_RELANCE_FAVO")) == 2


def test_a_candidate_admitted_again_from_the_complementary_list_is_reminded_again(
    reminded, formation, central_manager
):
    with time_machine.travel(paris(2027, 6, 29, 10, 0), tick=False):
        decide(reminded, Avis.COMPLEMENTARY_LIST, actor=central_manager, rank=1)
        promoted = staff.promote_from_waiting_list(formation=formation, actor=central_manager)
    assert promoted == reminded
    promoted.refresh_from_db()
    assert promoted.favourable_reminder_sent_at is None
