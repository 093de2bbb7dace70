import datetime

import factory

from accounts.models import User
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


class CandidateUserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User

    username = factory.Sequence(lambda n: f"AB{n:06d}")
    email = factory.LazyAttribute(lambda o: f"{o.username.lower()}@example.org")
    first_name = "Camille"
    last_name = "Dupont"
    password = factory.django.Password("correct-horse-battery")


class CandidateFactory(factory.django.DjangoModelFactory):
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
