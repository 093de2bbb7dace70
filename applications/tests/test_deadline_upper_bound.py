"""« Prolonger les délais » refuses a date after the closing date for candidates of the application's campaign
(``Campaign.ends_on``), next to the date, nothing stored. Found by review: a mistyped year (30/06/2207 for 2027) or
31/12/9999 was stored without a word; the candidate read « Répondez au plus tard le 30/06/2207 » and
``withdraw_expired_confirmations`` never withdrew the application, its place held and the complementary list still
for the whole campaign. The campaign's last day is still given."""

import datetime

import pytest
from django.urls import reverse

from applications.enums import EventKind
from applications.models import Application, ApplicationEvent
from applications.services import staff
from applications.tests.factories_candidature import make_application
from applications.tests.helpers import operation_url
from ecandidat.exceptions import BusinessRuleError
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


@pytest.fixture
def applications(centre, commission, campaign):
    Campaign.objects.filter(pk=campaign.pk).update(
        label="Campagne 2027", starts_on=datetime.date(2027, 1, 1), ends_on=LAST_DAY
    )
    formation = FormationFactory(centre=centre, commission=commission)
    return [make_application(formation, campaign=campaign, email=f"c{n}@example.org") for n in range(2)]


def stored(applications) -> list:
    return list(
        Application.objects.filter(pk__in=[a.pk for a in applications])
        .order_by("pk")
        .values_list("return_deadline_override", "confirmation_date_override")
    )


@pytest.mark.parametrize("field", ["confirmation_date", "return_deadline"])
def test_one_application_given_a_date_after_the_campaign_is_refused_next_to_the_date(
    client, centre_manager, applications, field
):
    client.force_login(centre_manager)

    response = client.post(
        operation_url(applications[0], "extend_deadlines"), {field: MISTYPED.isoformat()}, language="fr"
    )

    assert response.status_code == 200
    assert response.context["form"].errors == {field: [REFUSAL]}
    assert stored(applications) == [(None, None), (None, None)]
    assert not ApplicationEvent.objects.filter(kind=EventKind.DEADLINES).exists()


def test_a_selection_given_a_date_after_the_campaign_is_refused_next_to_the_date(client, centre_manager, applications):
    client.force_login(centre_manager)

    response = client.post(
        reverse(CHANGELIST),
        {
            "action": "action_extend_deadlines",
            "_selected_action": [application.pk for application in applications],
            "apply": "1",
            "confirmation_date": "9999-12-31",
        },
        language="fr",
    )

    assert response.status_code == 200  # the operation's page again, not the list
    assert response.context["form"].errors == {"confirmation_date": [REFUSAL]}
    assert stored(applications) == [(None, None), (None, None)]


def test_the_campaigns_last_day_is_given_to_one_application_and_to_a_selection(client, centre_manager, applications):
    client.force_login(centre_manager)

    one = client.post(operation_url(applications[0], "extend_deadlines"), {"confirmation_date": LAST_DAY.isoformat()})
    both = client.post(
        reverse(CHANGELIST),
        {
            "action": "action_extend_deadlines",
            "_selected_action": [application.pk for application in applications],
            "apply": "1",
            "return_deadline": LAST_DAY.isoformat(),
        },
    )

    assert (one.status_code, both.status_code) == (302, 302)
    assert stored(applications) == [(LAST_DAY, LAST_DAY), (LAST_DAY, None)]


def test_the_service_refuses_a_date_after_the_campaign_of_the_application(central_manager, applications):
    application = applications[0]

    with pytest.raises(BusinessRuleError, match="on or before 17 Nov 2027, the closing date for candidates"):
        staff.extend_deadlines(application, actor=central_manager, confirmation_date=MISTYPED)
    with pytest.raises(BusinessRuleError, match="on or before 17 Nov 2027"):
        staff.extend_deadlines(application, actor=central_manager, return_deadline=LAST_DAY + datetime.timedelta(1))

    assert stored(applications) == [(None, None), (None, None)]
    staff.extend_deadlines(application, actor=central_manager, confirmation_date=LAST_DAY)
    assert stored(applications)[0] == (None, LAST_DAY)


def test_once_the_campaign_closed_to_candidates_the_refusal_says_to_move_its_closing_date(
    central_manager, applications
):
    Campaign.objects.filter(label="Campagne 2027").update(ends_on=datetime.date(2027, 4, 30))  # the day before

    with pytest.raises(BusinessRuleError, match="closed to candidates after 30 Apr 2027") as refused:
        staff.extend_deadlines(applications[0], actor=central_manager, confirmation_date=datetime.date(2027, 5, 20))

    assert "Move its closing date for candidates later first" in str(refused.value)
    assert stored(applications) == [(None, None), (None, None)]
