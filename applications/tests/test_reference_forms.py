"""The dossier forms read the SIS's reference lists once ``refresh_reference_data`` filled them, and keep their
built-in lists (pycountry, BacSeries, free text) otherwise."""

import pytest
from django.urls import reverse
from django.utils import translation
from pytest_django.asserts import assertContains, assertNotContains, assertRedirects

from applications.countries import country_choices
from applications.enums import BacSeries
from applications.forms import AddressForm, BaccalaureateForm, PersonalDetailsForm
from applications.models import (
    Address,
    Baccalaureate,
    ReferenceBacSeries,
    ReferenceCommune,
    ReferenceCountry,
    ReferenceSchool,
)
from applications.models.reference import forget_reference_lists
from applications.tests.factories import AddressFactory, BaccalaureateFactory

pytestmark = pytest.mark.django_db

ADDRESS = {"line1": "1 rue du Test", "postal_code": "66000", "city": "Perpignan", "country": "FR"}
BAC = {"mode": "add", "series": "0021", "year": "2022", "country": "FR", "department": "66"}


@pytest.fixture
def lists():
    """The tables as the nightly refresh leaves them (a few rows), and this process's memo emptied."""
    ReferenceCountry.objects.create(code="100", label="FRANCE", iso_code="FR")
    ReferenceCountry.objects.create(code="134", label="ESPAGNE", iso_code="ES")
    ReferenceCountry.objects.create(code="319", label="ACORES, MADERE", iso_code="")  # no ISO code: not offered
    ReferenceCountry.objects.create(code="121", label="YOUGOSLAVIE", iso_code="", visible=False)
    ReferenceCommune.objects.create(code="66136_66000", label="PERPIGNAN", insee_code="66136", postal_code="66000")
    ReferenceCommune.objects.create(code="66136_66100", label="PERPIGNAN", insee_code="66136", postal_code="66100")
    ReferenceCommune.objects.create(
        code="66037_66140", label="CANET-EN-ROUSSILLON", insee_code="66037", postal_code="66140"
    )
    ReferenceCommune.objects.create(code="66172_66140", label="SAINT-NAZAIRE", insee_code="66186", postal_code="66140")
    ReferenceSchool.objects.create(
        code="0660014A", label="LYCEE FRANCOIS ARAGO", commune_insee_code="66136", department="66"
    )
    ReferenceBacSeries.objects.create(code="0021", label="BACCALAUREAT GENERAL", first_year=2021)
    ReferenceBacSeries.objects.create(code="S", label="SCIENTIFIQUE", first_year=1995, last_year=2021)
    ReferenceBacSeries.objects.create(code="A1", label="A1 LETTRES-MATHEMATIQUES", visible=False)
    forget_reference_lists()


def series_codes(form) -> list[str]:
    return [code for code, _label in form.fields["series"].choices if code]


# --- fallback: nothing refreshed --------------------------------------------------------------------------------


def test_without_lists_the_forms_keep_their_built_in_lists():
    forget_reference_lists()

    assert series_codes(BaccalaureateForm()) == list(BacSeries.values)
    assert len(PersonalDetailsForm().fields["birth_country"].choices) > 240  # every ISO 3166 country


def test_a_bac_abroad_keeps_no_french_department():
    """A département chosen before the country changed was kept with a bac obtained in Morocco (the external
    cursus already dropped it)."""
    forget_reference_lists()

    abroad = BaccalaureateForm(data={**BAC, "series": "GEN", "country": "MA", "city": "Rabat"})
    in_france = BaccalaureateForm(data={**BAC, "series": "GEN"})

    assert abroad.is_valid(), abroad.errors
    assert abroad.changes()["department"] == ""  # what the service writes
    assert in_france.is_valid(), in_france.errors
    assert in_france.cleaned_data["department"] == "66"


def test_without_lists_any_city_and_school_are_accepted():
    forget_reference_lists()

    form = AddressForm(data={**ADDRESS, "postal_code": "99999", "city": "Nulle part"})
    bac = BaccalaureateForm(data={**BAC, "series": "GEN", "school": "0660014A"})

    assert form.is_valid(), form.errors
    assert bac.is_valid(), bac.errors
    assert bac.cleaned_data["school"] == "0660014A"


# --- the SIS's lists ----------------------------------------------------------------------------------------------


def test_countries_are_the_sis_ones_matched_to_an_iso_code(lists):
    choices = PersonalDetailsForm().fields["nationality"].choices

    assert choices == [("", "- Select an option -"), ("ES", "ESPAGNE"), ("FR", "FRANCE")]


def test_bac_series_are_the_sis_ones_and_a_code_of_it_is_saved(lists):
    form = BaccalaureateForm(data=BAC)

    assert series_codes(form) == ["0021", "S"]  # the hidden A1 is not offered
    assert form.is_valid(), form.errors
    assert form.changes()["series"] == "0021"


def test_a_built_in_series_is_refused_once_the_sis_list_is_there(lists):
    form = BaccalaureateForm(data={**BAC, "series": "GEN"})

    assert not form.is_valid()
    assert "series" in form.errors


def test_a_series_outside_its_years_is_refused(lists):
    form = BaccalaureateForm(data={**BAC, "series": "S", "year": "2023"})

    assert form.errors["series"] == ["This series was awarded from 1995 to 2021: check the series or the year."]


def test_a_series_the_candidate_holds_stays_offered_after_the_sis_hid_it(lists, candidate):
    bac = BaccalaureateFactory(candidate=candidate, series="A1", year=1990)

    form = BaccalaureateForm(instance=bac)

    assert ("A1", "A1 LETTRES-MATHEMATIQUES") in form.fields["series"].choices
    assert form.initial["series"] == "A1"


def test_the_city_must_be_a_commune_of_the_postal_code(lists):
    form = AddressForm(data={**ADDRESS, "postal_code": "66140", "city": "Perpignan"})

    assert form.errors["city"] == [
        "This city does not match the postal code. Communes of 66140: CANET-EN-ROUSSILLON, SAINT-NAZAIRE."
    ]


def test_a_matching_city_is_written_as_the_sis_names_it(lists):
    form = AddressForm(data={**ADDRESS, "postal_code": "66140", "city": "canet en roussillon"})

    assert form.is_valid(), form.errors
    assert form.cleaned_data["city"] == "CANET-EN-ROUSSILLON"


def test_an_unknown_postal_code_is_refused(lists):
    form = AddressForm(data={**ADDRESS, "postal_code": "66999"})

    assert form.errors["postal_code"] == ["This postal code matches no commune."]


@pytest.mark.parametrize("country", ["GP", "RE"])
def test_an_overseas_department_is_an_address_in_france(country):
    """Chosen as a country (the built-in list offers them until the SIS's countries are loaded), Guadeloupe or La
    Réunion was taken as abroad: the postal code dropped, the OPI files sent an address in France (country 100)
    without postal code, commune nor town."""
    missing = AddressForm(data={"line1": "12 rue des Lilas", "foreign_city": "Pointe-à-Pitre", "country": country})
    given = AddressForm(
        data={"line1": "12 rue des Lilas", "postal_code": "97110", "city": "pointe a pitre", "country": country}
    )

    assert missing.errors == {"postal_code": ["A French postal code has 5 digits."], "city": ["Give the city."]}
    assert given.is_valid(), given.errors
    assert (given.cleaned_data["postal_code"], given.cleaned_data["city"]) == ("97110", "pointe a pitre")
    assert given.cleaned_data["foreign_city"] == ""


def test_a_foreign_address_is_not_checked_against_the_communes(lists):
    form = AddressForm(data={"line1": "Calle Mayor 1", "foreign_city": "Madrid", "country": "ES"})

    assert form.is_valid(), form.errors


def test_a_school_typed_by_its_uai_gets_its_name_department_and_city(lists):
    form = BaccalaureateForm(data={**BAC, "department": "", "school": "0660014a"})

    assert form.is_valid(), form.errors
    assert (form.cleaned_data["school"], form.cleaned_data["department"], form.cleaned_data["city"]) == (
        "LYCEE FRANCOIS ARAGO",
        "66",
        "PERPIGNAN",
    )


def test_an_unknown_uai_is_refused_and_a_school_name_is_kept(lists):
    unknown = BaccalaureateForm(data={**BAC, "school": "0669999Z"})
    named = BaccalaureateForm(data={**BAC, "school": "Lycée Arago"})

    assert unknown.errors["school"] == ["No school has this UAI number."]
    assert named.is_valid(), named.errors
    assert named.cleaned_data["school"] == "Lycée Arago"


# --- pages: French messages and query counts --------------------------------------------------------------------


def test_address_page_shows_the_commune_error_in_french(owner_client, lists):
    response = owner_client.post(reverse("applications:address"), {**ADDRESS, "postal_code": "66140"}, language="fr")

    assertContains(response, "Cette ville ne correspond pas au code postal. Communes du 66140 : CANET-EN-ROUSSILLON")
    assert not Address.objects.exists()


def test_address_saved_with_the_sis_name(owner_client, candidate, lists):
    response = owner_client.post(reverse("applications:address"), {**ADDRESS, "city": "perpignan"})

    assertRedirects(response, reverse("applications:baccalaureate"), fetch_redirect_response=False)
    assert Address.objects.get(candidate=candidate).city == "PERPIGNAN"


def test_bac_page_saves_a_sis_series_and_shows_its_label(owner_client, candidate, lists):
    owner_client.post(reverse("applications:baccalaureate"), {**BAC, "school": "0660014A"})

    bac = Baccalaureate.objects.get(candidate=candidate)
    assert (bac.series, bac.school) == ("0021", "LYCEE FRANCOIS ARAGO")
    assertContains(owner_client.get(reverse("applications:baccalaureate")), "BACCALAUREAT GENERAL")


def test_bac_page_shows_a_built_in_series_label_without_a_query(owner_client, candidate, django_assert_num_queries):
    BaccalaureateFactory(candidate=candidate, series="STMG", sis_locked=True)
    AddressFactory(candidate=candidate)

    with django_assert_num_queries(5):
        response = owner_client.get(reverse("applications:baccalaureate"))

    assertContains(response, "Technological baccalaureate STMG")


@pytest.mark.parametrize(
    ("name", "base"),
    [("applications:address", 5), ("applications:baccalaureate", 5), ("applications:personal_details", 6)],
)
def test_pages_read_the_lists_once_per_process(owner_client, candidate, lists, django_assert_num_queries, name, base):
    """The lists cost one query each on the first page a process shows (then MEMO_SECONDS from memory): the bac
    page reads the series, the spécialités, the countries and whether schools exist; the others the countries."""
    AddressFactory(candidate=candidate)
    BaccalaureateFactory(candidate=candidate)
    cold = {"applications:baccalaureate": 4}.get(name, 1)

    with django_assert_num_queries(base + cold):
        assert owner_client.get(reverse(name)).status_code == 200
    with django_assert_num_queries(base):
        assert owner_client.get(reverse(name)).status_code == 200


@pytest.mark.parametrize("rows", [1, 50])
def test_the_commune_check_does_not_grow_with_the_list(owner_client, lists, django_assert_num_queries, rows):
    ReferenceCommune.objects.bulk_create(
        ReferenceCommune(code=f"X{n}", label=f"COMMUNE {n}", insee_code="66999", postal_code="66500")
        for n in range(rows)
    )
    owner_client.get(reverse("applications:address"))  # the countries' memo is warm, as on a busy server

    # Whether communes exist (memoised afterwards), then the communes of the postal code: one query.
    with django_assert_num_queries(7):
        response = owner_client.post(reverse("applications:address"), {**ADDRESS, "postal_code": "66500"})

    assertContains(response, "COMMUNE 0")
    assertNotContains(response, "Internal Server Error")


def test_a_country_the_sis_hid_since_stays_valid_on_a_locked_dossier(lists, candidate):
    candidate.sis_locked, candidate.birth_country, candidate.nationality = True, "DE", "DE"
    candidate.ine_from_sis = True  # imported with the SIS's INE
    candidate.save()
    data = {
        "civility": "Mme",
        "birth_name": "DUPONT",
        "first_name": "Camille",
        "birth_date": "2001-02-03",
        "birth_country": "FR",  # a forged change: the locked field keeps DE
        "birth_city": "Berlin",
        "nationality": "DE",
        "phone": "04 68 00 00 01",
        "preferred_language": "fr",
    }

    form = PersonalDetailsForm(data=data, instance=candidate, sis_locked=True)

    assert ("DE", "Germany") in form.fields["birth_country"].choices
    assert form.is_valid(), form.errors
    assert form.changes() == {"phone": "+33468000001", "mobile": "", "preferred_language": "fr"}


def test_a_locked_field_the_sis_left_empty_does_not_block_the_phones(candidate):
    candidate.sis_locked, candidate.birth_city, candidate.birth_department = True, "", ""
    candidate.ine_from_sis = True  # imported with the SIS's INE
    candidate.save()
    data = {"birth_country": "FR", "nationality": "FR", "phone": "04 68 00 00 02", "preferred_language": "fr"}

    form = PersonalDetailsForm(data=data, instance=candidate, sis_locked=True)

    assert form.is_valid(), form.errors
    assert form.changes()["phone"] == "+33468000002"


def test_the_built_in_countries_are_in_dictionary_order_in_french():
    with translation.override("fr"):
        names = [name for code, name in country_choices() if code]

    assert names.index("Égypte") < names.index("Espagne") < names.index("États-Unis") < names.index("Zimbabwe")
