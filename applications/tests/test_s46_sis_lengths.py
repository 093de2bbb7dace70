"""A student records system holding values longer than the dossier's columns (a Pégase or CSV export knows none of
Apogée's lengths): the student's first sign-in through the ENT opens the dossier, each value cut to its column,
where PostgreSQL refused the whole import (an error page at sign-in)."""

import dataclasses

import pytest
from django.urls import reverse

from accounts.tests.factories import CandidateUserFactory
from applications import services
from applications.models import Candidate, InternalCursus
from applications.sis import SisAddress, SisBaccalaureate, SisCursusLine
from applications.tests.factories import STUDENT

pytestmark = pytest.mark.django_db

LONG = dataclasses.replace(
    STUDENT,
    birth_name="DE LA ROCHEFOUCAULD-MONTMORENCY DU PLESSIS",  # 42 characters: the column holds 30
    first_name="Marie-Géraldine-Françoise",  # 25: the column holds 20
    birth_city="Saint-Rémy-de-Provence " * 3,
    address=SisAddress(
        line1="Résidence universitaire des Grands Moulins, bâtiment C", postal_code="66000", city="PERPIGNAN"
    ),
    baccalaureate=SisBaccalaureate(series="S", year=2019, mention="AB", school="Lycée " + "polyvalent " * 12),
    cursus=(SisCursusLine(academic_year=2020, code="SLA1", label="Licence " * 30),),
)


def test_an_overlong_sis_value_is_cut_to_its_column_at_the_ent_sign_in(client, campaign):
    services.store_sis_records(students=[LONG], actor=None)
    user = CandidateUserFactory(campaign=campaign, student_number=LONG.student_number)
    client.force_login(user)

    response = client.get(reverse("applications:personal_details"))

    assert response.status_code == 200
    candidate = Candidate.objects.get(user=user)
    assert candidate.birth_name == "DE LA ROCHEFOUCAULD-MONTMORENC"
    assert candidate.first_name == "Marie-Géraldine-Fran"
    assert len(candidate.birth_city) == 50
    assert candidate.address.line1 == "Résidence universitaire des Gran"
    assert len(candidate.baccalaureate.school) == 100
    assert len(InternalCursus.objects.get(candidate=candidate).label) == 200
    assert candidate.sis_locked
