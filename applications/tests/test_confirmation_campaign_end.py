"""A date de confirmation never falls after the campaign's closing date for candidates (``Campaign.ends_on``).

Past that date a candidate can no longer log in (``accounts.services.candidate_can_log_in``). A promotion from the
complementary list (today + the délai LC, or today + 7 days when the formation's date had passed) and a favourable
decision counted in days from its validation gave dates after it: « confirmez au plus tard le 30/06/2027 » mailed to
a candidate locked out from 26/06, never withdrawn by the nightly batch, the place held for the whole campaign. Found
by review: the campaign open to candidates until 25 June 2027."""

import datetime

import pytest
import time_machine
from django.urls import reverse
from django.utils import translation

from applications.dates import confirmation_date, counted_confirmation_date
from applications.models import Application
from applications.services import candidature as candidature_services
from applications.services import nightly, staff
from applications.tests.factories_candidature import decide, decision_type, make_application
from applications.tests.helpers import mails, paris
from applications.workflow import Role
from ecandidat.batches import Report
from ecandidat.exceptions import BusinessRuleError
from offers.enums import Avis
from offers.models import Campaign, Formation
from offers.tests.factories import FormationFactory

pytestmark = pytest.mark.usefixtures("before_the_confirmation_date")

ENDS_ON = datetime.date(2027, 6, 25)  # the campaign's closing date for candidates
LEFT_TO_STAFF = "places left to staff (campaign closed to candidates, promote by hand)"


@pytest.fixture
def formation(centre, commission, campaign):
    Campaign.objects.filter(pk=campaign.pk).update(starts_on=datetime.date(2027, 1, 1), ends_on=ENDS_ON)
    return FormationFactory(
        centre=centre,
        commission=commission,
        auto_waiting_list=True,
        favourable_decision_type=decision_type(Avis.FAVOURABLE),
    )


def set_formation(formation, **fields) -> None:
    Formation.objects.filter(pk=formation.pk).update(**fields)
    formation.refresh_from_db()


@pytest.fixture
def admitted_and_listed(formation, campaign, central_manager):
    """A favourable decision and the first of the complementary list, validated on 12 May 2027."""
    admitted = make_application(formation, campaign=campaign, email="fa@example.org")
    listed = make_application(formation, campaign=campaign, email="lc1@example.org")
    with time_machine.travel(paris(2027, 5, 12, 14, 0), tick=False):
        decide(admitted, Avis.FAVOURABLE, actor=central_manager)
        decide(listed, Avis.COMPLEMENTARY_LIST, actor=central_manager, rank=1)
    return admitted, listed


def staff_withdraws(application, actor, moment) -> Application:
    with time_machine.travel(moment, tick=False):
        return candidature_services.withdraw_application(
            application=application, actor=actor, reason="PRO", role=Role.STAFF
        )


def latest_avis(application) -> str:
    return application.decisions.newest_first().first().decision_type.avis


@pytest.mark.parametrize(
    "waiting_list_delay",
    [None, 10],
    ids=["formation-date-passed: today + 7 = 30/06", "délai LC of 10 days: 03/07"],
)
def test_a_promotion_s_date_is_capped_at_the_campaign_s_closing_date(
    formation, admitted_and_listed, central_manager, waiting_list_delay
):
    admitted, listed = admitted_and_listed
    # The formation's date de confirmation has passed by the withdrawal of 23 June.
    set_formation(
        formation,
        confirmation_date=datetime.date(2027, 6, 20),
        waiting_list_confirmation_delay_days=waiting_list_delay,
    )

    staff_withdraws(admitted, central_manager, paris(2027, 6, 23, 10, 0))

    listed.refresh_from_db()
    assert latest_avis(listed) == Avis.FAVOURABLE
    assert listed.confirmation_date_override == ENDS_ON
    [mail] = [mail for mail in mails("AVIS_FAVORABLE") if mail.to == "lc1@example.org"]
    assert "25/06/2027" in mail.body
    [alert] = mails("COMMISSION_ALERT_LISTE_PRINC")
    assert "25/06/2027" in alert.body


def test_a_date_counted_from_the_validation_is_capped_at_the_campaign_s_closing_date(
    formation, campaign, central_manager
):
    set_formation(formation, confirmation_date=None, confirmation_delay_days=10)
    application = make_application(formation, campaign=campaign, email="fa@example.org")

    with time_machine.travel(paris(2027, 6, 23, 10, 0), tick=False):
        decide(application, Avis.FAVOURABLE, actor=central_manager)  # 23/06 + 10 days: 03/07

    [mail] = mails("AVIS_FAVORABLE")
    assert "25/06/2027" in mail.body
    read = Application.objects.with_current_decision().select_related("formation").get(pk=application.pk)
    assert confirmation_date(read) == ENDS_ON
    # Its SQL mirror (stored by the campaign's archiving) gives the same date.
    counted = Application.objects.filter(pk=application.pk).annotate(counted=counted_confirmation_date())
    assert counted.values_list("counted", flat=True).get() == ENDS_ON


def test_a_date_counted_before_the_closing_date_is_not_moved(formation, campaign, central_manager):
    set_formation(formation, confirmation_date=None, confirmation_delay_days=10)
    application = make_application(formation, campaign=campaign, email="fa@example.org")

    with time_machine.travel(paris(2027, 6, 10, 10, 0), tick=False):
        decide(application, Avis.FAVOURABLE, actor=central_manager)

    read = Application.objects.with_current_decision().select_related("formation", "campaign").get(pk=application.pk)
    assert confirmation_date(read) == datetime.date(2027, 6, 20)
    counted = Application.objects.filter(pk=application.pk).annotate(counted=counted_confirmation_date())
    assert counted.values_list("counted", flat=True).get() == datetime.date(2027, 6, 20)


def test_a_favourable_decision_validated_once_the_campaign_closed_is_refused(formation, campaign, central_manager):
    set_formation(formation, confirmation_date=None, confirmation_delay_days=10)
    application = make_application(formation, campaign=campaign, email="fa@example.org")
    with time_machine.travel(paris(2027, 6, 28, 10, 0), tick=False):
        decision = staff.record_decision(
            application, decision_type=decision_type(Avis.FAVOURABLE), actor=central_manager
        )
        with pytest.raises(BusinessRuleError, match="closed to candidates after 25 Jun 2027"):
            staff.validate_decision(decision, actor=central_manager)
        with (
            translation.override("fr"),
            pytest.raises(BusinessRuleError, match="est fermée aux candidats après le 25/06/2027"),
        ):
            staff.validate_decision(decision, actor=central_manager)

    decision.refresh_from_db()
    assert decision.validated_at is None
    assert mails("AVIS_FAVORABLE") == []


def test_a_withdrawal_after_the_campaign_closed_leaves_the_place_to_staff(
    formation, admitted_and_listed, central_manager
):
    admitted, listed = admitted_and_listed

    withdrawn = staff_withdraws(admitted, central_manager, paris(2027, 6, 28, 10, 0))

    listed.refresh_from_db()
    assert latest_avis(listed) == Avis.COMPLEMENTARY_LIST  # not promoted: they could not log in to confirm
    assert (listed.waiting_list_rank, listed.confirmation_date_override) == (1, None)
    assert [mail.to for mail in mails("AVIS_FAVORABLE")] == ["fa@example.org"]  # 12 May's, nothing new
    left = staff.promotion_left_to_staff(withdrawn.formation)
    assert left is not None
    assert left.application.pk == listed.pk
    with translation.override("fr"):
        message = staff.promotion_left_to_staff_message(left)
    assert "est fermée aux candidats après le 25/06/2027" in message
    assert listed.candidate.user.username in message


def test_the_nightly_withdrawal_on_the_closing_date_counts_the_place_left_to_staff(formation, admitted_and_listed):
    admitted, listed = admitted_and_listed
    set_formation(formation, confirmation_date=ENDS_ON)  # the last day the candidate can log in

    report = Report()
    with time_machine.travel(paris(2027, 6, 26, 23, 0), tick=False):  # the candidate's date has gone by
        nightly.withdraw_expired_confirmations(report, dry_run=False, limit=None)

    assert report.counts == {"applications withdrawn": 1, LEFT_TO_STAFF: 1}
    admitted.refresh_from_db()
    assert admitted.accepted is False
    listed.refresh_from_db()
    assert latest_avis(listed) == Avis.COMPLEMENTARY_LIST
    assert [mail.to for mail in mails("AVIS_FAVORABLE")] == ["fa@example.org"]


def test_the_promotion_just_before_the_closing_date_still_promotes(formation, admitted_and_listed, central_manager):
    """On the closing date itself, during the day, the candidate can still log in and confirm: promoted."""
    admitted, listed = admitted_and_listed

    staff_withdraws(admitted, central_manager, paris(2027, 6, 25, 10, 0))

    listed.refresh_from_db()
    assert latest_avis(listed) == Avis.FAVOURABLE
    assert listed.confirmation_date_override == ENDS_ON  # the formation's date (7 July) capped


@pytest.mark.usefixtures("back_office_in_french")
def test_staff_who_withdraw_after_the_closing_date_are_told_the_place_is_theirs_to_give(
    client, formation, admitted_and_listed, central_manager, django_assert_num_queries
):
    """« Désister le candidat » in the back office once the campaign closed to candidates: nobody is promoted, and
    the page says so beside the withdrawal's confirmation (``operations._held_back_warning``), naming the next of
    the list, rather than leaving staff to believe the waiting list moved on."""
    admitted, listed = admitted_and_listed
    url = reverse("admin:applications_application_operation", args=[admitted.pk, "withdraw_on_behalf"])

    with time_machine.travel(paris(2027, 6, 28, 10, 0), tick=False):
        client.force_login(central_manager)  # a session of that day
        with django_assert_num_queries(WITHDRAW_ON_BEHALF_QUERIES):
            response = client.post(url, {"reason": "PRO", "comment": ""})
        page = client.get(response["Location"]).content.decode()

    admitted.refresh_from_db()
    listed.refresh_from_db()
    assert admitted.accepted is False
    assert latest_avis(listed) == Avis.COMPLEMENTARY_LIST
    assert "est fermée aux candidats après le 25/06/2027" in page
    assert listed.candidate.user.username in page


# The operation's post: the session and staff scope, the application locked with its formation and the waiting list,
# the withdrawal, its history and mails, the first of the list read and left to staff.
WITHDRAW_ON_BEHALF_QUERIES = 28
