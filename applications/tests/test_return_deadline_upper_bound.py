"""The date limite de retour given with « Incomplet » / « En attente » (``staff.give_return_deadline``, the status
form's field) and the one given to an application created on a candidate's behalf
(``candidature.create_application_on_behalf``, its form) refuse, beside the field, a date after the closing date for
candidates of the application's campaign (``Campaign.ends_on``), nothing stored, as « Prolonger les délais » does: a
mistyped year (30/06/2207 for 2027) was stored, mailed to the candidate and never passed. The campaign's last day is
still given."""

import datetime

import pytest
from django.urls import reverse

from applications.enums import DossierStatus, EventKind
from applications.models import Application, ApplicationEvent
from applications.services import candidature, staff
from applications.tests.factories_candidature import complete_candidate, make_application
from applications.tests.helpers import operation_url
from ecandidat.exceptions import FieldRuleError
from offers.models import Campaign
from offers.tests.factories import FormationFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("before_the_confirmation_date")]

LAST_DAY = datetime.date(2027, 11, 17)  # the campaign's closing date for candidates
MISTYPED = datetime.date(2207, 6, 30)
REFUSAL = (
    "La date doit être au plus tard le 17/11/2027, date de fin candidats de la campagne « Campagne 2027 » : les "
    "candidats ne peuvent plus s'y connecter ensuite."
)
CHANGELIST = "admin:applications_application_changelist"
APPLY = "admin:applications_application_on_behalf"


@pytest.fixture
def formation(centre, commission, campaign):
    Campaign.objects.filter(pk=campaign.pk).update(
        label="Campagne 2027", starts_on=datetime.date(2027, 1, 1), ends_on=LAST_DAY
    )
    return FormationFactory(
        centre=centre,
        commission=commission,
        opens_on=datetime.date(2027, 3, 1),
        closes_on=datetime.date(2027, 4, 20),
        return_deadline=datetime.date(2027, 4, 30),  # the day before the tests' day: gone
    )


@pytest.fixture
def applications(formation, campaign):
    return [
        make_application(formation, campaign=campaign, email=f"c{n}@example.org", status=DossierStatus.COMPLETE)
        for n in range(3)
    ]


def stored(applications) -> list:
    return list(
        Application.objects.filter(pk__in=[a.pk for a in applications])
        .order_by("pk")
        .values_list("dossier_status", "return_deadline_override")
    )


def post_status(client, application, day: datetime.date):
    return client.post(
        operation_url(application, "set_status"),
        {
            "target": "IN",
            "comment": "",
            "shown_statuses": f"{application.pk}:{application.dossier_status}",
            "return_deadline": day.isoformat(),
        },
        language="fr",
    )


def post_selection(client, applications, day: datetime.date):
    return client.post(
        reverse(CHANGELIST),
        {
            "action": "action_set_status",
            "_selected_action": [application.pk for application in applications],
            "apply": "1",
            "target": "AT",
            "comment": "",
            "shown_statuses": ",".join(f"{a.pk}:{a.dossier_status}" for a in applications),
            "return_deadline": day.isoformat(),
        },
        language="fr",
    )


# --- 1. the date given with « Incomplet » / « En attente » ---------------------------------------------------------


def test_the_status_of_one_application_with_a_date_after_the_campaign_is_refused_next_to_the_date(
    client, centre_manager, applications
):
    client.force_login(centre_manager)

    response = post_status(client, applications[0], MISTYPED)

    assert response.status_code == 200
    assert response.context["form"].errors == {"return_deadline": [REFUSAL]}
    assert stored(applications) == [(DossierStatus.COMPLETE, None)] * 3
    assert not ApplicationEvent.objects.filter(kind__in=[EventKind.DEADLINES, EventKind.STATUS]).exists()


def test_the_status_of_a_selection_with_a_date_after_the_campaign_is_refused_next_to_the_date(
    client, centre_manager, applications
):
    client.force_login(centre_manager)

    response = post_selection(client, applications, MISTYPED)

    assert response.status_code == 200  # the operation's page again, not the list
    assert response.context["form"].errors == {"return_deadline": [REFUSAL]}
    assert stored(applications) == [(DossierStatus.COMPLETE, None)] * 3


def test_the_status_with_the_campaigns_last_day_is_set_on_one_application_and_on_a_selection(
    client, centre_manager, applications
):
    client.force_login(centre_manager)

    one = post_status(client, applications[0], LAST_DAY)
    both = post_selection(client, applications[1:], LAST_DAY)

    assert (one.status_code, both.status_code) == (302, 302)
    assert stored(applications) == [
        (DossierStatus.INCOMPLETE, LAST_DAY),
        (DossierStatus.WAITING, LAST_DAY),
        (DossierStatus.WAITING, LAST_DAY),
    ]


def test_the_service_refuses_a_date_after_the_campaign_of_the_application(central_manager, applications):
    application = applications[0]

    with pytest.raises(FieldRuleError, match="on or before 17 Nov 2027, the closing date for candidates") as refused:
        staff.give_return_deadline(application, day=MISTYPED, actor=central_manager)
    assert refused.value.field == "return_deadline"
    with pytest.raises(FieldRuleError, match="on or before 17 Nov 2027"):
        staff.give_return_deadline(application, day=LAST_DAY + datetime.timedelta(days=1), actor=central_manager)

    assert stored(applications)[0] == (DossierStatus.COMPLETE, None)
    staff.give_return_deadline(application, day=LAST_DAY, actor=central_manager)
    assert stored(applications)[0] == (DossierStatus.COMPLETE, LAST_DAY)


# --- 2. the date given to an application created on the candidate's behalf ------------------------------------------


@pytest.fixture
def candidate(formation, campaign):
    return complete_candidate(user__campaign=campaign, user__email="paper@example.org")


def post_on_behalf(client, candidate, formation, day: datetime.date):
    data = {
        "numero_dossier": candidate.user.username,
        "formation": formation.pk,
        "kind": "classic",
        "return_deadline": day.isoformat(),
    }
    return client.post(reverse(APPLY), data, language="fr")


def test_on_behalf_a_date_after_the_campaign_is_refused_next_to_the_date(client, centre_manager, candidate, formation):
    client.force_login(centre_manager)

    response = post_on_behalf(client, candidate, formation, MISTYPED)

    assert response.status_code == 200
    assert response.context["form"].errors == {"return_deadline": [REFUSAL]}
    assert not Application.objects.filter(candidate=candidate).exists()


def test_on_behalf_the_campaigns_last_day_is_given(client, centre_manager, candidate, formation):
    client.force_login(centre_manager)

    response = post_on_behalf(client, candidate, formation, LAST_DAY)

    assert response.status_code == 302
    assert Application.objects.get(candidate=candidate).return_deadline_override == LAST_DAY


def test_on_behalf_the_service_refuses_a_date_after_the_campaign_of_the_candidate(
    centre_manager, candidate, formation
):
    with pytest.raises(FieldRuleError, match="on or before 17 Nov 2027, the closing date for candidates") as refused:
        candidature.create_application_on_behalf(
            candidate=candidate, formation=formation, actor=centre_manager, return_deadline=MISTYPED
        )

    assert refused.value.field == "return_deadline"
    assert not Application.objects.filter(candidate=candidate).exists()
    application = candidature.create_application_on_behalf(
        candidate=candidate, formation=formation, actor=centre_manager, return_deadline=LAST_DAY
    )
    assert application.return_deadline_override == LAST_DAY
