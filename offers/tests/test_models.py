import datetime

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError

from offers.models import Campaign, collation_key, normalise
from offers.tests.factories import CampaignFactory, CommissionFactory, FormationFactory

pytestmark = pytest.mark.django_db


def test_normalise_strips_accents_and_case():
    assert normalise("ÉNERGIE Électrique") == "energie electrique"


def test_normalise_spells_out_the_french_ligatures():
    assert normalise("Œnologie, Cæcum") == "oenologie, caecum"


def test_collation_key_sorts_case_and_accents_aside_then_as_written():
    titles = ["Zoologie", "Économie", "Ecologie", "écologie", "Oenologie", "Œnologie", "droit"]

    assert sorted(titles, key=collation_key) == [
        "droit",
        "Ecologie",
        "écologie",
        "Économie",
        "Oenologie",
        "Œnologie",
        "Zoologie",
    ]


def test_formation_clean_names_the_field_of_each_broken_date_link():
    formation = FormationFactory.build(
        opens_on=datetime.date(2026, 3, 1),
        closes_on=datetime.date(2026, 2, 1),
        return_deadline=datetime.date(2026, 1, 1),
        confirmation_date=datetime.date(2025, 12, 1),
    )

    with pytest.raises(ValidationError) as excinfo:
        formation.clean()

    assert set(excinfo.value.message_dict) == {"closes_on", "return_deadline", "confirmation_date"}


def test_formation_commission_must_belong_to_its_centre():
    formation = FormationFactory()
    formation.commission = CommissionFactory()

    with pytest.raises(ValidationError) as excinfo:
        formation.clean()

    assert "commission" in excinfo.value.message_dict


def test_database_refuses_a_deadline_before_the_window_end():
    formation = FormationFactory()
    formation.return_deadline = formation.closes_on - datetime.timedelta(days=1)

    with pytest.raises(IntegrityError):
        formation.save()


def test_only_one_campaign_is_active():
    CampaignFactory(is_active=True)

    with pytest.raises(IntegrityError):
        CampaignFactory(is_active=True)


def test_closed_reason_before_and_after_the_window():
    formation = FormationFactory.build(opens_on=datetime.date(2026, 3, 1), closes_on=datetime.date(2026, 3, 31))

    assert formation.closed_reason(datetime.date(2026, 3, 15)) == ""
    assert "01/03/2026" in formation.closed_reason(datetime.date(2026, 2, 28))
    assert "31/03/2026" in formation.closed_reason(datetime.date(2026, 4, 1))


def test_campaign_is_open_only_when_active_and_within_dates():
    campaign = Campaign(starts_on=datetime.date(2026, 1, 1), ends_on=datetime.date(2026, 6, 30), is_active=True)

    assert campaign.is_open_on(datetime.date(2026, 6, 30))
    assert not campaign.is_open_on(datetime.date(2026, 7, 1))
