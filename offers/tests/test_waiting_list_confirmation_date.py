"""The confirmation date after a waiting-list promotion (eCandidat's "confirmation LC") comes after every other date
the candidates wait for: the return deadline, the jury, the publication and the confirmation date
(ecandidat-features §2.8, "Date ordering is validated"). The form, the database, a centre's defaults and the mass
edit (``set_formation_dates``) all keep to it."""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError

from offers.models import Formation
from offers.services import set_formation_dates
from offers.tests.factories import CentreFactory, FormationFactory

pytestmark = pytest.mark.django_db

DEADLINE = datetime.date(2027, 5, 15)
JURY, PUBLICATION, CONFIRMATION = (DEADLINE + datetime.timedelta(days=n) for n in (5, 10, 20))
MESSAGE = (
    "La date de confirmation après passage en liste principale doit être égale ou postérieure à la date limite de "
    "retour, à la date du jury, à la date de publication et à la date de confirmation."
)


def calendar(**dates) -> dict:
    base = {
        "opens_on": DEADLINE - datetime.timedelta(days=60),
        "closes_on": DEADLINE - datetime.timedelta(days=10),
        "return_deadline": DEADLINE,
        "jury_on": JURY,
        "publication_on": PUBLICATION,
        "confirmation_date": CONFIRMATION,
    }
    return {**base, **dates}


@pytest.mark.parametrize("day", [DEADLINE, JURY, PUBLICATION, CONFIRMATION])
def test_a_waiting_list_confirmation_before_any_earlier_date_is_refused_next_to_its_field(day):
    formation = FormationFactory.build(**calendar(waiting_list_confirmation_date=day - datetime.timedelta(days=1)))

    with pytest.raises(ValidationError) as error:
        formation.clean()

    assert error.value.message_dict == {"waiting_list_confirmation_date": [MESSAGE]}


def test_a_waiting_list_confirmation_on_the_last_date_or_alone_is_accepted():
    FormationFactory.build(**calendar(waiting_list_confirmation_date=CONFIRMATION)).clean()
    FormationFactory.build(
        **calendar(jury_on=None, publication_on=None, confirmation_date=None, waiting_list_confirmation_date=DEADLINE)
    ).clean()


@pytest.mark.parametrize("field", ["return_deadline", "jury_on", "publication_on", "confirmation_date"])
def test_the_database_refuses_a_waiting_list_confirmation_before_another_date(field):
    formation = FormationFactory(**calendar(waiting_list_confirmation_date=CONFIRMATION))
    earlier = {"waiting_list_confirmation_date": getattr(formation, field) - datetime.timedelta(days=1)}

    with pytest.raises(IntegrityError):
        Formation.objects.filter(pk=formation.pk).update(**earlier)


def test_a_centres_default_waiting_list_confirmation_follows_the_same_rule():
    centre = CentreFactory.build(
        default_return_deadline=DEADLINE,
        default_confirmation_date=CONFIRMATION,
        default_waiting_list_confirmation_date=CONFIRMATION - datetime.timedelta(days=1),
    )

    with pytest.raises(ValidationError) as error:
        centre.clean()

    assert error.value.message_dict == {"default_waiting_list_confirmation_date": [MESSAGE]}


def test_a_mass_edit_moving_the_confirmation_past_the_waiting_list_one_changes_nothing():
    kept = FormationFactory(code="KEPT", **calendar(waiting_list_confirmation_date=CONFIRMATION))
    other = FormationFactory(code="OTHER", **calendar())
    later = CONFIRMATION + datetime.timedelta(days=3)

    with pytest.raises(ValidationError) as error:
        set_formation_dates([kept.pk, other.pk], {"confirmation_date": later})

    assert error.value.messages == [f"KEPT : {MESSAGE}"]
    assert set(Formation.objects.values_list("confirmation_date", flat=True)) == {CONFIRMATION}


def test_a_mass_edit_moves_both_confirmation_dates_together():
    formation = FormationFactory(**calendar(waiting_list_confirmation_date=CONFIRMATION))
    later = CONFIRMATION + datetime.timedelta(days=3)

    set_formation_dates(
        [formation.pk], {"confirmation_date": later, "waiting_list_confirmation_date": later + datetime.timedelta(1)}
    )

    formation.refresh_from_db()
    assert (formation.confirmation_date, formation.waiting_list_confirmation_date) == (
        later,
        later + datetime.timedelta(days=1),
    )
