"""A centre's default values for its new formations (eCandidat's "paramètres par défaut", ecandidat-features §2.8):
what ``new_formation_initial`` proposes and the rules the defaults follow."""

import datetime

import pytest
from django.core.exceptions import ValidationError

from offers.enums import ApplicationMode, Avis
from offers.models import DecisionType
from offers.services import new_formation_initial
from offers.tests.factories import CentreFactory

pytestmark = pytest.mark.django_db

DAY = datetime.date(2027, 3, 1)


def test_a_centre_without_defaults_proposes_its_id_and_the_formations_own_defaults():
    centre = CentreFactory()

    assert new_formation_initial(centre) == {
        "centre": centre.pk,
        "mode": ApplicationMode.ONLINE,
        "auto_waiting_list": False,
    }


def test_the_defaults_that_are_set_are_proposed_under_the_formations_names(django_assert_num_queries):
    admitted = DecisionType.objects.create(code="ADM", label="Admis", candidate_label="Admis", avis=Avis.FAVOURABLE)
    centre = CentreFactory(
        default_mode=ApplicationMode.PAPER,
        default_opens_on=DAY,
        default_closes_on=DAY + datetime.timedelta(days=30),
        default_return_deadline=DAY + datetime.timedelta(days=40),
        default_confirmation_delay_days=8,
        default_favourable_decision_type=admitted,
        default_auto_waiting_list=True,
        default_waiting_list_decision_type=admitted,
    )

    with django_assert_num_queries(0):  # the decision types as ids
        initial = new_formation_initial(centre)

    assert initial == {
        "centre": centre.pk,
        "mode": ApplicationMode.PAPER,
        "opens_on": DAY,
        "closes_on": DAY + datetime.timedelta(days=30),
        "return_deadline": DAY + datetime.timedelta(days=40),
        "confirmation_delay_days": 8,
        "favourable_decision_type": admitted.pk,
        "auto_waiting_list": True,
        "waiting_list_decision_type": admitted.pk,
    }


def test_default_dates_follow_the_formations_rules():
    centre = CentreFactory.build(
        default_opens_on=DAY,
        default_closes_on=DAY - datetime.timedelta(days=1),
        default_return_deadline=DAY + datetime.timedelta(days=10),
        default_jury_on=DAY + datetime.timedelta(days=5),
    )

    with pytest.raises(ValidationError) as error:
        centre.clean()

    assert set(error.value.message_dict) == {"default_closes_on", "default_jury_on"}


def test_default_dates_left_empty_are_not_checked():
    centre = CentreFactory.build(default_return_deadline=DAY, default_confirmation_date=DAY + datetime.timedelta(1))

    centre.clean()  # no error
