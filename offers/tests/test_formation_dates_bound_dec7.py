"""``set_formation_dates`` itself refuses a date after the closing date for candidates (``Campaign.ends_on``) of the
latest campaign not archived, the one the mass edit's form compares with: before, only the form did, and any other
caller (a shell, a command) could give 31/12/9999 to a selection. Each formation is refused on its own line, with the
form's message, nothing saved; the campaign's closing date itself is accepted. The campaign is read within the
query that locks the selection: no query more, whatever the number of formations."""

import datetime

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.utils import timezone

from offers.models import Formation
from offers.services import set_formation_dates
from offers.tests.factories import CampaignFactory, FormationFactory

pytestmark = pytest.mark.django_db

LAST_DAY = datetime.date(2027, 11, 17)  # the active campaign's closing date for candidates
FAR = datetime.date(9999, 12, 31)
REFUSAL = (
    "La date doit être au plus tard le 17/11/2027, date de fin candidats de la campagne « Campagne 2027 » : les "
    "candidats ne peuvent plus s'y connecter ensuite."
)
FIELDS = ["opens_on", "closes_on", "return_deadline", "confirmation_date", "waiting_list_confirmation_date"]


@pytest.fixture(autouse=True)
def spring_2027():
    with time_machine.travel(datetime.datetime(2027, 5, 1, 12, 0, tzinfo=timezone.get_current_timezone())):
        yield


@pytest.fixture
def campaign(db):
    return CampaignFactory(
        is_active=True, label="Campagne 2027", starts_on=datetime.date(2027, 1, 1), ends_on=LAST_DAY, code="C2027"
    )


def formations(count: int) -> list[Formation]:
    return [FormationFactory(code=f"M1BND{n}") for n in range(count)]


def stored(selection: list[Formation]) -> list[dict]:
    return list(Formation.objects.filter(pk__in=[f.pk for f in selection]).order_by("pk").values(*FIELDS))


@pytest.mark.parametrize("field", ["confirmation_date", "waiting_list_confirmation_date"])
def test_a_date_after_the_campaign_is_refused_for_each_formation_and_nothing_is_saved(campaign, field):
    selection = formations(2)
    before = stored(selection)

    with pytest.raises(ValidationError) as refused:
        set_formation_dates([f.pk for f in selection], {field: FAR})

    assert refused.value.messages == [f"M1BND0 : {REFUSAL}", f"M1BND1 : {REFUSAL}"]
    assert stored(selection) == before


def test_the_refusal_joins_the_formations_other_refusals_on_its_line(campaign):
    in_days = FormationFactory(code="M1DAYS", confirmation_delay_days=10)

    with pytest.raises(ValidationError) as refused:
        set_formation_dates([in_days.pk], {"confirmation_date": FAR})

    [message] = refused.value.messages
    assert message.startswith(f"M1DAYS : {REFUSAL}; ")
    assert "en jours" in message
    assert Formation.objects.get(pk=in_days.pk).confirmation_date is None


def test_the_campaigns_closing_date_itself_is_saved(campaign):
    selection = formations(2)

    changed = set_formation_dates([f.pk for f in selection], {"waiting_list_confirmation_date": LAST_DAY})

    assert [f.code for f in changed] == ["M1BND0", "M1BND1"]
    assert set(Formation.objects.values_list("waiting_list_confirmation_date", flat=True)) == {LAST_DAY}


def test_the_next_campaign_already_created_bounds_the_dates_instead(campaign):
    CampaignFactory(
        code="C2028", label="Campagne 2028", starts_on=datetime.date(2028, 1, 1), ends_on=datetime.date(2028, 11, 17)
    )
    [formation] = formations(1)

    set_formation_dates([formation.pk], {"waiting_list_confirmation_date": datetime.date(2028, 6, 30)})
    with pytest.raises(ValidationError) as refused:
        set_formation_dates([formation.pk], {"waiting_list_confirmation_date": datetime.date(2028, 11, 18)})

    assert refused.value.messages == [
        "M1BND0 : " + REFUSAL.replace("17/11/2027", "17/11/2028").replace("Campagne 2027", "Campagne 2028")
    ]


def test_without_a_campaign_there_is_nothing_to_compare_with():
    [formation] = formations(1)

    set_formation_dates([formation.pk], {"waiting_list_confirmation_date": FAR})

    assert Formation.objects.get(pk=formation.pk).waiting_list_confirmation_date == FAR


@pytest.mark.parametrize("count", [1, 3])
def test_the_refusal_reads_the_campaign_with_the_lock_whatever_the_number_of_formations(
    campaign, django_assert_num_queries, count
):
    selection = formations(count)

    # the savepoint, the selection locked with the campaign's closing date, the savepoint rolled back and released
    with django_assert_num_queries(4), pytest.raises(ValidationError) as refused:
        set_formation_dates([f.pk for f in selection], {"confirmation_date": FAR})

    assert len(refused.value.messages) == count


@pytest.mark.parametrize("count", [1, 3])
def test_an_accepted_date_reads_no_campaign_more_only_the_saves_grow(campaign, django_assert_num_queries, count):
    selection = formations(count)

    # the savepoint, the selection locked with the campaign's closing date, one UPDATE per formation, the release
    with django_assert_num_queries(3 + count):
        set_formation_dates([f.pk for f in selection], {"confirmation_date": LAST_DAY})
