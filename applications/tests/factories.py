"""One factory per model of a candidate's dossier; applications, decisions and pieces are in factories_candidature."""

import datetime

import factory

from accounts.tests.factories import CandidateUserFactory
from applications.enums import BacSeries, Civility, Obtained
from applications.models import (
    Address,
    Baccalaureate,
    Candidate,
    ExternalCursus,
    InternalCursus,
    Internship,
    WorkExperience,
)
from applications.sis import SisAddress, SisBaccalaureate, SisCursusLine, SisStudent


class CandidateFactory(factory.django.DjangoModelFactory):
    """A candidate's dossier (personal details), on a candidate account of the active campaign
    (``accounts.tests.factories.CandidateUserFactory``)."""

    class Meta:
        model = Candidate

    user = factory.SubFactory(CandidateUserFactory)
    civility = Civility.MRS
    birth_name = "DUPONT"
    first_name = "Camille"
    birth_date = datetime.date(2001, 2, 3)
    birth_country = "FR"
    birth_department = "66"
    birth_city = "Perpignan"
    nationality = "FR"


class AddressFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Address

    candidate = factory.SubFactory(CandidateFactory)
    line1 = "1 rue du Test"
    postal_code = "66000"
    city = "PERPIGNAN"
    country = "FR"


class BaccalaureateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Baccalaureate

    candidate = factory.SubFactory(CandidateFactory)
    has_bac = True
    series = BacSeries.GENERAL
    year = 2020
    country = "FR"


class InternalCursusFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = InternalCursus

    candidate = factory.SubFactory(CandidateFactory)
    academic_year = 2023
    code = "SLA1"
    label = "Licence 1"


class ExternalCursusFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ExternalCursus

    candidate = factory.SubFactory(CandidateFactory)
    year = 2022
    label = "BTS SIO"
    obtained = Obtained.YES
    country = "FR"
    school = "Lycée Arago"


class InternshipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Internship

    candidate = factory.SubFactory(CandidateFactory)
    year = 2023
    duration = "2 mois"
    hours_per_week = 35
    organisation = "Mairie"


class WorkExperienceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = WorkExperience

    candidate = factory.SubFactory(CandidateFactory)
    year = 2022
    duration = "3 mois"
    title = "Vendeur"
    organisation = "Magasin"


# A student as the SIS returns them (applications.sis): the dossier an ENT login opens.
STUDENT = SisStudent(
    student_number="21900001",
    ine="0905012345W",
    civility="Mme",
    birth_name="MARTIN",
    first_name="Estelle",
    birth_date=datetime.date(2001, 3, 14),
    birth_country="FR",
    birth_department="66",
    birth_city="Perpignan",
    nationality="FR",
    mobile="0612345601",
    address=SisAddress(line1="12 rue des Lilas", postal_code="66000", city="PERPIGNAN"),
    baccalaureate=SisBaccalaureate(series="S", year=2019, mention="AB"),
    cursus=(SisCursusLine(academic_year=2020, code="SLA1", label="Licence 1"),),
)
