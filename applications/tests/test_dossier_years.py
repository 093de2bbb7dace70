"""The years of the dossier (the baccalaureate's year, the year of a cursus, an internship, a job) lie between 1900
and this year (the baccalaureate) or next year (a cursus "En cours"), for the candidate and for the staff who
correct a dossier in the back office, with one message next to the field. The back office took any year up to 2100
(the bound was the candidate's form's only), and the candidate's input offered 0 with its arrows."""

import re

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext

from applications.models import Baccalaureate, ExternalCursus, Internship, WorkExperience
from applications.tests.factories import BaccalaureateFactory, InternshipFactory
from applications.tests.factories_candidature import make_application
from applications.tests.helpers import dossier_form_data
from offers.tests.factories import FormationFactory

pytestmark = pytest.mark.django_db

MESSAGE = "Enter a year between %(first)s and %(last)s."
BAC = {"mode": "add", "series": "GEN", "country": "FR", "department": "66"}


def message(last: int) -> str:
    return MESSAGE % {"first": 1900, "last": last}


@pytest.fixture
def this_year():
    """This year, read when the test runs (not when the tests are collected), the clock held still meanwhile: the year
    cannot turn between the page and the checks on New Year's Eve. The years below are offsets from it."""
    with time_machine.travel(timezone.now(), tick=False):
        yield timezone.localdate().year


def test_the_message_is_in_french():
    with translation.override("fr"):
        assert gettext(MESSAGE) % {"first": 1900, "last": 2026} == "Saisissez une année entre 1900 et 2026."


@pytest.mark.parametrize(
    ("model", "field", "years_ahead"),
    [(Baccalaureate, "year", 0), (ExternalCursus, "year", 1), (Internship, "year", 1), (WorkExperience, "year", 1)],
)
def test_the_model_bounds_its_years(model, field, years_ahead, this_year):
    last = this_year + years_ahead
    model_field = model._meta.get_field(field)
    for year in (1900, last):
        model_field.run_validators(year)
    for year in (0, 1, 1899, last + 1, 2099):
        with pytest.raises(ValidationError) as refused:
            model_field.run_validators(year)
        assert refused.value.messages == [message(last)]


@pytest.mark.parametrize("year", ["0", "1899", "next year"])
def test_the_candidate_is_told_the_baccalaureates_years(
    owner_client, candidate, year, this_year, django_assert_num_queries
):
    if year == "next year":
        year = str(this_year + 1)
    # session, user, the request's savepoint, the dossier; the model's check constraints (a savepoint, the check,
    # its release); the release: nothing written
    with django_assert_num_queries(8):
        response = owner_client.post(reverse("applications:baccalaureate"), {**BAC, "year": year})

    assert response.status_code == 200
    html = response.content.decode()
    error = re.search(r'<ul class="errorlist" id="id_year_error"><li>([^<]+)</li>', html)
    assert error is not None
    assert error.group(1) == message(this_year)
    assert not Baccalaureate.objects.filter(candidate=candidate).exists()


def test_the_baccalaureate_of_this_year_is_taken(owner_client, candidate, this_year):
    response = owner_client.post(reverse("applications:baccalaureate"), {**BAC, "year": str(this_year)})

    assert response.status_code == 302
    assert Baccalaureate.objects.get(candidate=candidate).year == this_year


@pytest.mark.parametrize(("year", "taken"), [("0", False), ("1899", False), ("next year", True)])
def test_the_candidate_is_told_a_rows_years(
    owner_client, candidate, year, taken, this_year, django_assert_num_queries
):
    if year == "next year":
        year = str(this_year + 1)
    data = {"year": year, "duration": "2 mois", "hours_per_week": "35", "organisation": "Observatoire"}

    # refused: session, user, the request's savepoint, the dossier, its release; taken: the service's
    # savepoint, the dossier's lock, INSERT and release. +1: transmitted applications read after the dossier lock.
    with django_assert_num_queries(10 if taken else 5):
        response = owner_client.post(reverse("applications:internship_add"), data)

    assert Internship.objects.filter(candidate=candidate).exists() is taken
    if not taken:
        assert response.status_code == 200
        assert (
            f'<ul class="errorlist" id="id_year_error"><li>{message(this_year + 1)}</li>' in response.content.decode()
        )


@pytest.mark.parametrize(
    ("url", "years_ahead"),
    [("applications:baccalaureate", 0), ("applications:internship_add", 1)],  # ?avec-bac=1 below
)
def test_the_year_inputs_arrows_stay_within_the_bounds(owner_client, url, years_ahead, this_year):
    last = this_year + years_ahead
    html = owner_client.get(reverse(url), {"avec-bac": "1"}).content.decode()  # the bac's form, not its buttons

    year_input = re.search(r'<input type="number" name="year"[^>]*>', html)
    assert year_input is not None
    assert 'min="1900"' in year_input.group(0)
    assert f'max="{last}"' in year_input.group(0)


@pytest.fixture
def application(centre, commission, campaign):
    return make_application(FormationFactory(centre=centre, commission=commission), campaign=campaign)


@pytest.mark.parametrize(
    ("prefix", "year", "years_ahead"),
    [("baccalaureate-0", "2099", 0), ("internships-0", "2099", 1), ("internships-0", "0", 1)],
)
def test_a_manager_correcting_a_dossier_gets_the_same_bounds(
    client, centre_manager, application, prefix, year, years_ahead, this_year
):
    last = this_year + years_ahead
    candidate = application.candidate
    BaccalaureateFactory(candidate=candidate, year=2019)
    InternshipFactory(candidate=candidate, year=2024)
    url = reverse("admin:applications_candidate_change", args=[candidate.pk])
    client.force_login(centre_manager)
    data = dossier_form_data(client.get(url))
    data[f"{prefix}-year"] = year

    response = client.post(url, data)

    assert response.status_code == 200  # the page again, with the message
    errors = [str(error) for formset in response.context["inline_admin_formsets"] for error in formset.formset.errors]
    assert any(message(last) in error for error in errors), errors
    assert Baccalaureate.objects.get(candidate=candidate).year == 2019
    assert Internship.objects.get(candidate=candidate).year == 2024
