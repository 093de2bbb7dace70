"""The numéro de dossier: 8 upper-case letters and digits, never issued twice, with the installation's optional
prefix (eCandidat CANDIDAT_PREFIXE_NUM_DOSS). The OPI code built on a prefixed number: applications/tests/opi/
test_services.py."""

import re
import runpy
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from accounts.models import NumeroDossierHistory
from accounts.services import issue_numero_dossier

pytestmark = pytest.mark.django_db

BASE_SETTINGS = Path(__file__).resolve().parents[2] / "ecandidat" / "settings" / "base.py"


def test_without_a_prefix_all_eight_characters_are_drawn(settings):
    settings.DOSSIER_NUMBER_PREFIX = ""

    numbers = {issue_numero_dossier() for _ in range(20)}

    assert len(numbers) == 20
    assert all(re.fullmatch(r"[A-Z0-9]{8}", numero) for numero in numbers)
    assert set(NumeroDossierHistory.objects.values_list("numero", flat=True)) == numbers


def test_a_prefix_starts_every_new_number_which_stays_eight_characters(settings):
    settings.DOSSIER_NUMBER_PREFIX = "UP"

    numbers = [issue_numero_dossier() for _ in range(20)]

    assert all(re.fullmatch(r"UP[A-Z0-9]{6}", numero) for numero in numbers)
    assert len(set(numbers)) == 20


@pytest.mark.parametrize("value", ["ABC", "É", "U-", "U P"])
def test_a_prefix_that_is_not_two_letters_or_digits_stops_the_start(monkeypatch, value):
    monkeypatch.setenv("DOSSIER_NUMBER_PREFIX", value)

    with pytest.raises(ImproperlyConfigured, match="DOSSIER_NUMBER_PREFIX must be at most 2 letters"):
        runpy.run_path(str(BASE_SETTINGS))


def test_the_prefix_is_read_in_capitals(monkeypatch):
    monkeypatch.setenv("DOSSIER_NUMBER_PREFIX", " u7 ")

    assert runpy.run_path(str(BASE_SETTINGS))["DOSSIER_NUMBER_PREFIX"] == "U7"


def test_a_non_ascii_opi_prefix_stops_the_start(monkeypatch):
    monkeypatch.setenv("OPI_PREFIX", "É")  # str.isalnum() took it; Apogée's code is [0-9A-Z]

    with pytest.raises(ImproperlyConfigured, match="OPI_PREFIX must be at most 2 letters"):
        runpy.run_path(str(BASE_SETTINGS))
