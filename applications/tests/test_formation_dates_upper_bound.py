"""A formation's dates are refused after the closing date for candidates of the latest campaign not archived (the
active one, or the next one already created), next to the date, nothing saved. Found by review: 31/12/9999 was
saved as the confirmation date, the confirmation date after a waiting-list promotion or the pre-analysis date, and
the applications then read it. A date within the campaign is still saved; one saved earlier and left as it is does
not stop the formation's other changes."""

import datetime

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from applications.tests.helpers import admin_form_data
from offers.models import Campaign, Formation
from offers.tests.factories import CampaignFactory, FormationFactory

pytestmark = pytest.mark.django_db

LAST_DAY = datetime.date(2027, 11, 17)  # the active campaign's closing date for candidates
FAR = "9999-12-31"
REFUSAL = (
    "La date doit être au plus tard le 17/11/2027, date de fin candidats de la campagne « Campagne 2027 » : les "
    "candidats ne peuvent plus s'y connecter ensuite."
)
FIELDS = ["confirmation_date", "waiting_list_confirmation_date", "preanalysis_on"]
CHANGELIST = "admin:offers_formation_changelist"


@pytest.fixture(autouse=True)
def spring_2027():
    with time_machine.travel(datetime.datetime(2027, 5, 1, 12, 0, tzinfo=timezone.get_current_timezone())):
        yield


@pytest.fixture
def formation(db):
    CampaignFactory(
        is_active=True, label="Campagne 2027", starts_on=datetime.date(2027, 1, 1), ends_on=LAST_DAY, code="C2027"
    )
    return FormationFactory(code="M1ENER")


def post_change(client, formation, **dates):
    url = reverse("admin:offers_formation_change", args=[formation.pk])
    data = admin_form_data(client.get(url))
    return client.post(url, {**data, **dates, "_save": "1"}, language="fr")


@pytest.mark.parametrize("field", FIELDS)
def test_a_date_after_the_campaign_is_refused_next_to_it_in_the_change_form(admin_client, formation, field):
    before = Formation.objects.filter(pk=formation.pk).values(*FIELDS).get()

    response = post_change(admin_client, formation, **{field: FAR})

    assert response.status_code == 200
    assert response.context["adminform"].form.errors[field] == [REFUSAL]
    assert Formation.objects.filter(pk=formation.pk).values(*FIELDS).get() == before


def test_the_campaigns_last_day_is_saved(admin_client, formation):
    day = LAST_DAY.isoformat()

    response = post_change(admin_client, formation, **dict.fromkeys(FIELDS, day))

    assert response.status_code == 302, response.context["adminform"].form.errors
    formation.refresh_from_db()
    assert [getattr(formation, field) for field in FIELDS] == [LAST_DAY] * 3


def test_a_date_saved_before_and_left_as_it_is_does_not_stop_other_changes(admin_client, formation):
    Formation.objects.filter(pk=formation.pk).update(waiting_list_confirmation_date=datetime.date(2028, 6, 30))

    response = post_change(admin_client, formation, title="Master Énergie")

    assert response.status_code == 302, response.context["adminform"].form.errors
    assert Formation.objects.get(pk=formation.pk).title == "Master Énergie"


def test_the_next_campaign_already_created_bounds_the_dates_instead(admin_client, formation):
    CampaignFactory(
        code="C2028", label="Campagne 2028", starts_on=datetime.date(2028, 1, 1), ends_on=datetime.date(2028, 11, 17)
    )

    accepted = post_change(admin_client, formation, waiting_list_confirmation_date="2028-06-30")
    refused = post_change(admin_client, formation, confirmation_date="2028-11-18")

    assert accepted.status_code == 302, accepted.context["adminform"].form.errors
    assert refused.context["adminform"].form.errors["confirmation_date"] == [
        REFUSAL.replace("17/11/2027", "17/11/2028").replace("Campagne 2027", "Campagne 2028")
    ]


@pytest.mark.parametrize("field", FIELDS)
def test_the_mass_edit_refuses_a_date_after_the_campaign_next_to_it(admin_client, formation, field):
    before = Formation.objects.filter(pk=formation.pk).values(*FIELDS).get()

    response = admin_client.post(
        reverse(CHANGELIST),
        {"action": "set_dates", "_selected_action": [formation.pk], "apply": "1", field: FAR},
        language="fr",
    )

    assert response.status_code == 200
    assert response.context["form"].errors[field] == [REFUSAL]
    assert Formation.objects.filter(pk=formation.pk).values(*FIELDS).get() == before
    assert Campaign.objects.count() == 1
