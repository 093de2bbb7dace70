"""A dossier status dated before the application existed (its SVA alert counted thousands of days), and the "SVA
alert" filter kept in a bookmark or a saved filter once the central office turns the alerts off."""

import datetime

import pytest
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse
from django.utils import timezone

from applications.enums import DossierStatus, SvaColour
from applications.models import Application, SvaAlertLevel
from applications.services import staff
from applications.tests.factories_candidature import make_application
from applications.tests.helpers import operation_url
from ecandidat.exceptions import BusinessRuleError
from ecandidat.models import OutboundEmail
from offers.tests.factories import FormationFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:applications_application_changelist"


@pytest.fixture(autouse=True)
def _warm_content_types(db):
    ContentType.objects.clear_cache()
    ContentType.objects.get_for_model(Application)


@pytest.fixture
def formation(centre, commission):
    return FormationFactory(centre=centre, commission=commission, code="M1ENER")


def created_days_ago(application: Application, days: int) -> Application:
    """``application``, as if created ``days`` ago (``created_at`` is set on creation only)."""
    Application.objects.filter(pk=application.pk).update(created_at=timezone.now() - datetime.timedelta(days=days))
    application.refresh_from_db()
    return application


def days_ago(days: int) -> datetime.date:
    return timezone.localdate() - datetime.timedelta(days=days)


def created_on(application: Application) -> datetime.date:
    """The local day ``application`` was created: the first day a status change may be dated."""
    return timezone.localdate(application.created_at)


def english_short_date(day: datetime.date) -> str:
    """``day`` as the English back office writes it (SHORT_DATE_FORMAT, "j M Y")."""
    return day.strftime("%-d %b %Y")


# --- 1. a status date before the application existed -------------------------------------------------------------


@pytest.mark.parametrize(
    "date_for",
    [
        lambda created: datetime.date(2015, 3, 2),
        lambda created: datetime.date(1, 1, 1),
        lambda created: created - datetime.timedelta(days=1),
    ],
    ids=["2015-03-02", "0001-01-01", "the-day-before"],
)
def test_one_application_refuses_a_date_before_its_creation_next_to_the_date(
    client, django_assert_num_queries, centre_manager, formation, campaign, date_for
):
    """The reviewer's proof: "RE" dated 2015-03-02 on an application created today was saved (302), and its SVA
    alert counted from 2015."""
    application = make_application(formation, campaign=campaign, status=DossierStatus.WAITING)
    on = date_for(created_on(application))  # from the day it was created, not the day the tests were collected
    client.force_login(centre_manager)

    with django_assert_num_queries(9):  # the form refuses it: the service is not called
        response = client.post(operation_url(application, "set_status"), {"target": "RE", "on": on.isoformat()})

    assert response.status_code == 200
    created = english_short_date(created_on(application))
    assert response.context["form"].errors["on"] == [
        f"The date of the change cannot precede the application's creation ({created})."
    ]
    application.refresh_from_db()
    assert (application.dossier_status, application.received_on) == (DossierStatus.WAITING, None)
    assert not application.events.exists()
    assert not OutboundEmail.objects.exists()


def test_one_application_accepts_the_day_it_was_created(client, centre_manager, formation, campaign):
    application = created_days_ago(make_application(formation, campaign=campaign, status=DossierStatus.WAITING), 10)
    on = created_on(application)
    client.force_login(centre_manager)

    response = client.post(operation_url(application, "set_status"), {"target": "RE", "on": on.isoformat()})

    assert response.status_code == 302
    application.refresh_from_db()
    assert (application.dossier_status, application.received_on) == (DossierStatus.RECEIVED, on)
    assert application.events.get(to_status=DossierStatus.RECEIVED).comment == f"daté du {on:%d/%m/%Y}"


def test_a_selection_refuses_each_application_created_after_the_date_and_sets_the_others(
    client, centre_manager, formation, campaign
):
    """As the bulk status change reports any refusal: the application it concerns is named with the reason, the
    others go through."""
    older = created_days_ago(make_application(formation, campaign=campaign, status=DossierStatus.WAITING), 10)
    newer = make_application(formation, campaign=campaign, status=DossierStatus.WAITING)
    client.force_login(centre_manager)
    selection = {"action": "action_set_status", "_selected_action": [older.pk, newer.pk], "apply": "1"}
    on = days_ago(5)

    response = client.post(reverse(CHANGELIST), {**selection, "target": "RE", "on": on.isoformat()}, follow=True)

    shown = [str(message) for message in response.context["messages"]]
    created = english_short_date(created_on(newer))
    refusal = f"The date of the change cannot precede the application's creation ({created})."
    assert shown == [
        "Set the dossier status: 1 application done.",
        f"{newer.candidate.staff_name} ({newer.candidate.user.username}) – M1ENER: {refusal}",
    ]
    older.refresh_from_db()
    newer.refresh_from_db()
    assert (older.dossier_status, older.received_on) == (DossierStatus.RECEIVED, on)
    assert (newer.dossier_status, newer.received_on) == (DossierStatus.WAITING, None)
    assert not newer.events.exists()
    assert list(OutboundEmail.objects.values_list("code", flat=True)) == ["STATUT_RE"]


@pytest.mark.parametrize("target", [DossierStatus.RECEIVED, DossierStatus.COMPLETE, DossierStatus.INCOMPLETE])
def test_the_service_refuses_a_date_before_the_creation_whatever_the_caller(
    centre_manager, formation, campaign, target
):
    application = make_application(formation, campaign=campaign, status=DossierStatus.WAITING)

    with pytest.raises(BusinessRuleError, match="cannot precede the application's creation"):
        staff.set_dossier_status(application, target=target, actor=centre_manager, on=datetime.date(2015, 3, 2))

    application.refresh_from_db()
    assert application.dossier_status == DossierStatus.WAITING
    assert (application.received_on, application.complete_on, application.incomplete_on) == (None, None, None)
    assert not application.events.exists()


# --- 2. the "SVA alert" filter while the alerts are off ----------------------------------------------------------


@pytest.fixture
def listed(formation, campaign):
    """Three received applications, one 45 days ago, with levels that would put it in alert."""
    SvaAlertLevel.objects.create(days=15, colour=SvaColour.BLUE)
    return [
        make_application(formation, campaign=campaign, status=DossierStatus.RECEIVED, received_on=days_ago(days))
        for days in (1, 2, 45)
    ]


OFF_MESSAGE = (
    "SVA alerts are turned off: the “SVA alert” filter does not apply, every application of the other filters is "
    "listed."
)


@pytest.mark.parametrize("value", ["yes", "no", "15"])
def test_a_kept_sva_filter_while_alerts_are_off_says_it_does_not_apply(
    client, settings, django_assert_num_queries, centre_manager, listed, value
):
    """It was refused as an unknown parameter: a redirect to ``?e=1`` and the whole list, without a word."""
    settings.SVA_ALERT_DATE = "NO"
    client.force_login(centre_manager)

    with django_assert_num_queries(20):  # the list with alerts off: no query for the levels, none for the message
        response = client.get(reverse(CHANGELIST), {"sva": value})

    assert response.status_code == 200
    assert [str(message) for message in response.context["messages"]] == [OFF_MESSAGE]
    assert {row.pk for row in response.context["cl"].result_list} == {application.pk for application in listed}
    assert not any(spec.title == "SVA alert" for spec in response.context["cl"].filter_specs)
    assert "sva_alert" not in response.context["cl"].list_display


def test_the_list_says_nothing_of_sva_without_the_filter_or_with_alerts_on(
    client, settings, django_assert_num_queries, centre_manager, listed
):
    settings.SVA_ALERT_DATE = "NO"
    client.force_login(centre_manager)
    with django_assert_num_queries(20):
        off = client.get(reverse(CHANGELIST))
    settings.SVA_ALERT_DATE = "REC"
    settings.SVA_ALERT_FINAL_ONLY = False
    with django_assert_num_queries(21):  # plus the levels
        on = client.get(reverse(CHANGELIST), {"sva": "yes"})

    assert [str(message) for message in off.context["messages"]] == []
    assert [str(message) for message in on.context["messages"]] == []
    assert [row.pk for row in on.context["cl"].result_list] == [listed[2].pk]
