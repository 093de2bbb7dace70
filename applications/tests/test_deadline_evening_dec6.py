"""What staff give a candidate on the evening of a date, and a status that asks for a dossier after its date.

1. The site closes every night at 22:45 (the maintenance window, enforced in production) and the nightly batch runs
   at 23:00. A favourable decision validated at 22:40 on its date de confirmation was accepted and mailed
   « confirmez avant le 30/06 »; the batch of 23:00 withdrew it (CANDIDATURE_DESIST_AUTO) and gave the place away.
   What staff give a candidate to do on a day now needs the hour before the site closes
   (``dates.first_day_to_act`` with ``ACT_MARGIN``): the validation, a new date, a promotion's date, a piece's own
   date; the batch counts such a decision for staff instead of withdrawing it.
2. « Incomplet » or « En attente » set after the date limite de retour was accepted without a word: the mail asked
   to replace pieces and transmit again by a date gone, and « Transmettre » was refused. It is now refused next to a
   new field « Date limite de retour pour cette candidature », or done with the date given there (one application
   or a selection, where only the applications whose date is gone and no date given are refused, by name).

The test settings turn the window off: these tests turn it on."""

import datetime
import re

import pytest
import time_machine
from django.contrib.messages import constants, get_messages
from django.urls import reverse

from applications.admin.forms import StatusForm
from applications.dates import ACT_MARGIN, first_day_to_act
from applications.enums import DossierStatus, EventKind, PieceStatus
from applications.models import Application, ApplicationEvent, Decision
from applications.services import nightly, staff
from applications.services.pieces import clean_piece_check
from applications.tests.factories_candidature import decide, decision_type, make_application, with_file
from applications.tests.helpers import formation_confirmed_by, mails, operation_url, paris
from ecandidat.batches import Report
from ecandidat.exceptions import BusinessRuleError, FieldRuleError
from offers.enums import Avis

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("before_the_confirmation_date", "maintenance_window")]

LAST_HOUR = paris(2027, 6, 30, 22, 40)  # on the date de confirmation, 5 minutes before the site closes
EARLIER = paris(2027, 6, 30, 21, 40)  # on that date, more than an hour before
LAST_HOUR_REFUSAL = (
    "The candidate would have less than an hour to confirm by the confirmation date (30 Jun 2027): the site closes "
    "at 22:45 tonight. Set a later confirmation date first (“Extend deadlines”), then validate this favourable "
    "decision."
)

# The formation's date limite de retour is 15 March 2027 (``formation_confirmed_by``); the fixture's day, 1 May.
GONE = "The candidate can no longer transmit by this application's return deadline (15 Mar 2027)"
NEW_DEADLINE = datetime.date(2027, 5, 10)
CHANGELIST = "admin:applications_application_changelist"

# « Statut du dossier » on one application: refused, the page again with the error next to the date (no write).
QUERIES_STATUS_REFUSED = 20
# The same given the date: the date, its history row, the status, its history row and mail; back to the dossier.
# +1: the form reads the active campaign's closing date for candidates the date is checked against.
QUERIES_STATUS_WITH_DATE = 27
# A selection of two, one with its own later date, the other's date gone: refused by name, the other done.
QUERIES_SELECTION_ONE_REFUSED = 40
# The same selection given a date: both done (the date written on the one whose date was gone).
# +1, once for the selection: the form reads the active campaign's closing date for candidates.
QUERIES_SELECTION_WITH_DATE = 53


@pytest.fixture
def formation(centre, commission):
    return formation_confirmed_by(
        centre, commission, auto_waiting_list=True, favourable_decision_type=decision_type(Avis.FAVOURABLE)
    )


@pytest.fixture
def entered(formation, campaign, commission_member):
    application = make_application(formation, campaign=campaign, email="fa@example.org")
    staff.record_decision(application, decision_type=decision_type(Avis.FAVOURABLE), actor=commission_member)
    return application


# --- first_day_to_act's margin ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "first_day"),
    [
        (paris(2027, 6, 30, 21, 44), datetime.date(2027, 6, 30)),  # 61 minutes before the window
        (paris(2027, 6, 30, 21, 45), datetime.date(2027, 7, 1)),  # the last hour
        (paris(2027, 6, 30, 23, 30), datetime.date(2027, 7, 1)),  # inside the window, before midnight
        (paris(2027, 7, 1, 0, 30), datetime.date(2027, 7, 1)),  # after midnight: the site opens at 06:00 today
    ],
)
def test_the_margin_moves_the_first_day_from_the_last_hour_on(moment, first_day):
    assert first_day_to_act(moment, margin=ACT_MARGIN) == first_day


def test_without_an_enforced_window_the_margin_changes_nothing(settings):
    settings.MAINTENANCE_WINDOW_ENFORCED = False
    assert first_day_to_act(paris(2027, 6, 30, 23, 30), margin=ACT_MARGIN) == datetime.date(2027, 6, 30)


# --- 1. the validation, the dates staff give, the batch ---------------------------------------------------------


def test_a_favourable_decision_validated_at_22_40_on_its_date_is_refused(entered, centre_manager):
    decision = entered.decisions.get()

    with (
        time_machine.travel(LAST_HOUR, tick=False),
        pytest.raises(BusinessRuleError, match=re.escape(LAST_HOUR_REFUSAL)),
    ):
        staff.validate_decision(decision, actor=centre_manager)

    decision.refresh_from_db()
    assert decision.validated_at is None
    assert mails("AVIS_FAVORABLE") == []


def test_a_favourable_decision_validated_at_21_40_on_its_date_is_accepted(entered, centre_manager):
    decision = entered.decisions.get()

    with time_machine.travel(EARLIER, tick=False):
        staff.validate_decision(decision, actor=centre_manager)

    decision.refresh_from_db()
    assert decision.validated_by == centre_manager
    [mail] = mails("AVIS_FAVORABLE")
    assert "au plus tard le 30/06/2027, ce jour compris" in mail.body


def test_the_batch_counts_a_decision_validated_in_the_last_hour_and_does_not_withdraw_it(
    formation, campaign, central_manager
):
    """A decision validated at 22:40 on its date before this rule (the stamp moved there after a validation at
    21:40): the batch of 23:00 leaves it for staff, counted, and gives no place away."""
    application = make_application(formation, campaign=campaign, email="fa@example.org")
    listed = make_application(formation, campaign=campaign, email="lc1@example.org")
    decide(listed, Avis.COMPLEMENTARY_LIST, actor=central_manager, rank=1)
    with time_machine.travel(EARLIER, tick=False):
        decide(application, Avis.FAVOURABLE, actor=central_manager)
    assert (
        Decision.objects.filter(application=application, validated_at__isnull=False).update(validated_at=LAST_HOUR)
        == 1
    )

    report = Report()
    with time_machine.travel(paris(2027, 6, 30, 23, 0), tick=False):
        nightly.withdraw_expired_confirmations(report, dry_run=False, limit=None)

    application.refresh_from_db()
    assert application.accepted is None
    assert mails("CANDIDATURE_DESIST_AUTO") == []
    assert listed.decisions.latest().decision_type.avis == Avis.COMPLEMENTARY_LIST
    assert report.counts == {"favourable decisions given after their confirmation date (set a date)": 1}


def test_the_batch_withdraws_a_decision_validated_before_the_last_hour(formation, campaign, central_manager):
    application = make_application(formation, campaign=campaign, email="fa@example.org")
    with time_machine.travel(EARLIER, tick=False):
        decide(application, Avis.FAVOURABLE, actor=central_manager)

    report = Report()
    with time_machine.travel(paris(2027, 6, 30, 23, 0), tick=False):
        nightly.withdraw_expired_confirmations(report, dry_run=False, limit=None)

    assert Application.objects.get(pk=application.pk).accepted is False
    assert [mail.to for mail in mails("CANDIDATURE_DESIST_AUTO")] == ["fa@example.org"]


def test_today_as_a_new_confirmation_date_in_the_last_hour_is_refused(formation, campaign, central_manager):
    application = make_application(formation, campaign=campaign)

    with time_machine.travel(paris(2027, 7, 3, 22, 0), tick=False):
        with pytest.raises(BusinessRuleError) as refused:
            staff.extend_deadlines(application, actor=central_manager, confirmation_date=datetime.date(2027, 7, 3))
        later = staff.new_confirmation_date_refusal(datetime.date(2027, 7, 4))

    assert str(refused.value) == (
        "The candidate would have less than an hour to confirm by today: the site closes at 22:45 tonight. Give "
        "tomorrow's date or a later one."
    )
    assert later == ""
    assert Application.objects.get(pk=application.pk).confirmation_date_override is None


def test_a_promotion_in_the_last_hour_on_its_date_gives_days_to_confirm(centre, commission, campaign):
    formation = formation_confirmed_by(centre, commission, waiting_list_confirmation_date=datetime.date(2027, 7, 3))
    application = make_application(formation, campaign=campaign)

    given = staff._promotion_confirmation_date(application, paris(2027, 7, 3, 22, 0))
    earlier = staff._promotion_confirmation_date(application, paris(2027, 7, 3, 21, 0))

    assert given == datetime.date(2027, 7, 3) + datetime.timedelta(days=staff.LATE_PROMOTION_CONFIRMATION_DAYS)
    assert earlier == datetime.date(2027, 7, 3)


def test_a_pieces_own_date_of_today_in_the_last_hour_is_refused(formation, campaign):
    submission = with_file(make_application(formation, campaign=campaign))

    with time_machine.travel(paris(2027, 5, 1, 22, 0), tick=False), pytest.raises(FieldRuleError) as refused:
        clean_piece_check(
            submission=submission,
            status=PieceStatus.REFUSED,
            comment="Illisible",
            replace_by=datetime.date(2027, 5, 1),
        )

    assert refused.value.field == "replace_by"
    assert str(refused.value) == (
        "The candidate would have less than an hour to replace the piece by today: the site closes at 22:45 "
        "tonight. Give tomorrow's date or a later one."
    )


# --- 2. « Incomplet » / « En attente » after the date limite de retour -------------------------------------------


@pytest.mark.parametrize("target", [DossierStatus.INCOMPLETE, DossierStatus.WAITING])
def test_the_service_refuses_the_status_once_the_return_deadline_is_gone(formation, campaign, centre_manager, target):
    application = make_application(formation, campaign=campaign, status=DossierStatus.COMPLETE)

    with pytest.raises(FieldRuleError, match=re.escape(GONE)) as refused:
        staff.set_dossier_status(application, target=target, actor=centre_manager)

    assert refused.value.field == "return_deadline"
    assert Application.objects.get(pk=application.pk).dossier_status == DossierStatus.COMPLETE
    assert not ApplicationEvent.objects.filter(application=application, kind=EventKind.STATUS).exists()
    assert mails("STATUT_IN") == mails("STATUT_AT") == []


def test_the_service_sets_it_when_the_application_has_its_own_later_date(formation, campaign, centre_manager):
    application = make_application(
        formation, campaign=campaign, status=DossierStatus.COMPLETE, return_deadline_override=NEW_DEADLINE
    )

    staff.set_dossier_status(application, target=DossierStatus.INCOMPLETE, actor=centre_manager)

    assert Application.objects.get(pk=application.pk).dossier_status == DossierStatus.INCOMPLETE


def post_status(client, application, **data):
    return client.post(
        operation_url(application, "set_status"),
        {"target": "IN", "comment": "", "shown_statuses": f"{application.pk}:{application.dossier_status}", **data},
    )


def test_one_application_without_a_date_is_refused_next_to_the_field(
    client, django_assert_num_queries, formation, campaign, centre_manager
):
    application = make_application(formation, campaign=campaign, status=DossierStatus.COMPLETE)
    client.force_login(centre_manager)

    with django_assert_num_queries(QUERIES_STATUS_REFUSED):
        response = post_status(client, application)

    assert response.status_code == 200
    form = response.context["form"]
    assert [str(error) for error in form.errors["return_deadline"]] == [
        f"{GONE}: give it a later return deadline with this status."
    ]
    assert form.non_field_errors() == []
    assert Application.objects.get(pk=application.pk).dossier_status == DossierStatus.COMPLETE
    assert mails("STATUT_IN") == []


def test_one_application_given_a_date_gets_it_and_the_status(
    client, django_assert_num_queries, formation, campaign, centre_manager
):
    application = make_application(formation, campaign=campaign, status=DossierStatus.COMPLETE)
    client.force_login(centre_manager)

    with django_assert_num_queries(QUERIES_STATUS_WITH_DATE):
        response = post_status(client, application, return_deadline=NEW_DEADLINE.isoformat())

    assert response.status_code == 302
    application.refresh_from_db()
    assert (application.dossier_status, application.return_deadline_override) == (
        DossierStatus.INCOMPLETE,
        NEW_DEADLINE,
    )
    event = ApplicationEvent.objects.get(application=application, kind=EventKind.DEADLINES)
    assert event.actor == centre_manager
    assert "10/05/2027" in event.comment
    [mail] = mails("STATUT_IN")
    assert "10/05/2027" in mail.body


def test_the_form_refuses_a_date_with_another_status_or_a_date_gone():
    with time_machine.travel(paris(2027, 5, 1, 12, 0), tick=False):
        complete = StatusForm(data={"target": "CO", "return_deadline": NEW_DEADLINE.isoformat()})
        past = StatusForm(data={"target": "IN", "return_deadline": "2027-04-30"})
        complete.is_valid()
        past.is_valid()

    assert complete.errors == {"return_deadline": ["A return deadline goes with “Incomplete” or “Waiting” only."]}
    assert past.errors == {"return_deadline": ["The new date must be today or later."]}


def post_selection(client, applications, **data):
    shown = ",".join(f"{application.pk}:{application.dossier_status}" for application in applications)
    return client.post(
        reverse(CHANGELIST),
        {
            "action": "action_set_status",
            "_selected_action": [application.pk for application in applications],
            "apply": "1",
            "target": "IN",
            "comment": "",
            "shown_statuses": shown,
            **data,
        },
    )


def errors(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request) if message.level == constants.ERROR]


@pytest.fixture
def selection(formation, campaign):
    gone = make_application(formation, campaign=campaign, email="gone@example.org", status=DossierStatus.COMPLETE)
    own = make_application(
        formation,
        campaign=campaign,
        email="own@example.org",
        status=DossierStatus.COMPLETE,
        return_deadline_override=NEW_DEADLINE,
    )
    return gone, own


def test_a_selection_without_a_date_refuses_by_name_those_whose_date_is_gone(
    client, django_assert_num_queries, selection, centre_manager
):
    gone, own = selection
    client.force_login(centre_manager)

    with django_assert_num_queries(QUERIES_SELECTION_ONE_REFUSED):
        response = post_selection(client, [gone, own])

    assert response.status_code == 302
    [refusal] = errors(response)
    assert refusal.startswith(f"{gone.candidate.staff_name} ({gone.candidate.user.username}) – ")
    assert GONE in refusal
    assert Application.objects.get(pk=gone.pk).dossier_status == DossierStatus.COMPLETE
    assert Application.objects.get(pk=own.pk).dossier_status == DossierStatus.INCOMPLETE
    assert [mail.to for mail in mails("STATUT_IN")] == ["own@example.org"]


def test_a_selection_given_a_date_sets_every_status(client, django_assert_num_queries, selection, centre_manager):
    gone, own = selection
    client.force_login(centre_manager)
    later = NEW_DEADLINE - datetime.timedelta(days=2)

    with django_assert_num_queries(QUERIES_SELECTION_WITH_DATE):
        response = post_selection(client, [gone, own], return_deadline=later.isoformat())

    assert response.status_code == 302
    assert errors(response) == []
    gone.refresh_from_db()
    own.refresh_from_db()
    assert (gone.dossier_status, gone.return_deadline_override) == (DossierStatus.INCOMPLETE, later)
    # Its own date was later: kept, no history row of a date.
    assert (own.dossier_status, own.return_deadline_override) == (DossierStatus.INCOMPLETE, NEW_DEADLINE)
    assert list(ApplicationEvent.objects.filter(kind=EventKind.DEADLINES).values_list("application", flat=True)) == [
        gone.pk
    ]
