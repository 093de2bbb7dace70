"""Staff correcting a dossier in the back office get the candidate's rules, with the candidate's French messages next
to the field: a date of birth in the future or before 1900, an INE whose key is wrong, a country no list offers, a
French postal code that is not 5 digits… were saved from the dossier's page while the candidate's forms refused
them, and a name typed in lower case was stored so (the candidate's is upper-cased). The rules are the same
functions (applications.forms, applications.validators); a value left as stored still saves (an imported dossier,
or one typed before a rule)."""

import datetime

import pytest
from django.urls import reverse

from applications.models import Address, Candidate
from applications.tests.factories import BaccalaureateFactory
from applications.tests.helpers import dossier_form_data

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("back_office_in_french")]


@pytest.fixture
def application(dossier_to_correct):
    return dossier_to_correct  # applications/tests/conftest.py; ``corrector`` too


def _url(candidate):
    return reverse("admin:applications_candidate_change", args=[candidate.pk])


def _address_errors(response):
    (address,) = [inline for inline in response.context["inline_admin_formsets"] if inline.formset.prefix == "address"]
    return address.formset.forms[0].errors


BAD_DETAILS = [
    ("birth_date", "2028-01-01", "La date de naissance doit être passée."),
    ("birth_date", "1850-06-01", "Vérifiez la date de naissance."),
    ("ine", "1234567890A", "La clé de l'INE est fausse : vérifiez le dernier caractère."),  # its key is V
    ("ine", "12345", "L'INE et sa clé font 11 caractères, sans espace."),
    ("birth_country", "ZZ", "Sélectionnez un choix valide. ZZ n’en fait pas partie."),
    ("nationality", "ZZ", "Sélectionnez un choix valide. ZZ n’en fait pas partie."),
    ("birth_department", "", "Indiquez le département de naissance pour une naissance en France."),
    ("mobile", "12", "Saisissez un numéro de téléphone valide (les numéros internationaux commencent par +)."),
]


@pytest.mark.parametrize(("name", "value", "message"), BAD_DETAILS)
def test_a_bad_personal_detail_is_refused_beside_its_field(client, corrector, application, name, value, message):
    candidate = application.candidate
    client.force_login(corrector)
    data = dossier_form_data(client.get(_url(candidate)))
    data[name] = value

    response = client.post(_url(candidate), data)

    assert response.status_code == 200
    assert response.context["adminform"].form.errors[name] == [message]
    stored = Candidate.objects.get(pk=candidate.pk)
    assert (stored.birth_date, stored.ine, stored.birth_country, stored.nationality, stored.mobile) == (
        datetime.date(2001, 2, 3),
        "",
        "FR",
        "FR",
        "",
    )
    assert stored.birth_department == "66"
    assert not application.events.exists()


BAD_ADDRESSES = [
    ({"country": "ZZ"}, "country", "Sélectionnez un choix valide. ZZ n’en fait pas partie."),
    ({"postal_code": "ABC"}, "postal_code", "Un code postal français a 5 chiffres."),
    ({"city": ""}, "city", "Indiquez la commune."),
    ({"country": "ES", "foreign_city": ""}, "foreign_city", "Indiquez la commune."),
]


@pytest.mark.parametrize(("changes", "name", "message"), BAD_ADDRESSES)
def test_a_bad_address_is_refused_beside_its_field(client, corrector, application, changes, name, message):
    client.force_login(corrector)
    data = dossier_form_data(client.get(_url(application.candidate)))
    data.update({f"address-0-{field}": value for field, value in changes.items()})

    response = client.post(_url(application.candidate), data)

    assert response.status_code == 200
    assert _address_errors(response)[name] == [message]
    address = Address.objects.get(candidate=application.candidate)
    assert (address.country, address.postal_code, address.city) == ("FR", "66000", "PERPIGNAN")
    assert not application.events.exists()


def test_a_refused_post_writes_nothing_and_costs_what_any_refusal_costs(
    client, centre_manager, application, django_assert_num_queries
):
    client.force_login(centre_manager)
    data = dossier_form_data(client.get(_url(application.candidate)))
    data.update({"birth_date": "2028-01-01", "ine": "1234567890A", "address-0-postal_code": "ABC"})

    # Session, user, the request's savepoints, the staff's rights, the dossier, its version, its sections and
    # applications to draw the page again, the user for the page: the rules cost no query (no country, no commune
    # checked: none changed), and nothing is written.
    with django_assert_num_queries(23):
        response = client.post(_url(application.candidate), data)

    assert response.status_code == 200
    form_errors = response.context["adminform"].form.errors
    assert form_errors["birth_date"] == ["La date de naissance doit être passée."]
    assert form_errors["ine"] == ["La clé de l'INE est fausse : vérifiez le dernier caractère."]
    assert _address_errors(response)["postal_code"] == ["Un code postal français a 5 chiffres."]
    assert Address.objects.get(candidate=application.candidate).postal_code == "66000"
    assert not application.events.exists()


def test_a_good_correction_is_stored_as_the_candidates_forms_store_it(client, corrector, application):
    candidate = application.candidate
    client.force_login(corrector)
    data = dossier_form_data(client.get(_url(candidate)))
    data.update(
        {
            "birth_name": "de la  tour",
            "usual_name": " martin ",
            "birth_department": "066",
            "ine": " 1234567890v",
            "mobile": "06 12 34 56 78",
            "nationality": "ES",
            "address-0-country": "ES",
            "address-0-foreign_city": "Madrid",
        }
    )

    response = client.post(_url(candidate), data)

    assert response.status_code == 302, response.context and response.context["adminform"].form.errors
    candidate.refresh_from_db()
    assert (candidate.birth_name, candidate.usual_name, candidate.birth_department) == ("DE LA TOUR", "MARTIN", "66")
    assert (candidate.ine, candidate.mobile, candidate.nationality) == ("1234567890V", "+33612345678", "ES")
    address = Address.objects.get(candidate=candidate)
    # Abroad: the French postal code and commune typed before the country changed are dropped.
    assert (address.country, address.foreign_city, address.postal_code, address.city) == ("ES", "Madrid", "", "")
    comment = application.events.get().comment
    assert "nom patronymique : DUPONT → DE LA TOUR" in comment
    assert "département de naissance" not in comment  # "066" is the 66 stored: no change to tell


def test_a_french_postal_code_typed_with_a_space_is_stored_without(client, corrector, application):
    client.force_login(corrector)
    data = dossier_form_data(client.get(_url(application.candidate)))
    data.update({"address-0-postal_code": "66 140", "address-0-city": "CANET-EN-ROUSSILLON"})

    response = client.post(_url(application.candidate), data)

    assert response.status_code == 302
    assert Address.objects.get(candidate=application.candidate).postal_code == "66140"


@pytest.mark.parametrize("sis_locked", [False, True])
def test_stored_values_older_than_the_rules_still_save(client, corrector, application, sis_locked):
    """A dossier imported from the student records system (its fields read-only to a centre manager) or typed
    before a rule: staff correcting something else in it are not refused for what they did not touch."""
    candidate = application.candidate
    Candidate.objects.filter(pk=candidate.pk).update(
        birth_date=datetime.date(1890, 1, 1),
        ine="1234567890A",
        birth_name="dupont",
        phone="123",
        nationality="ZZ",
        sis_locked=sis_locked,
    )
    Address.objects.filter(candidate=candidate).update(postal_code="ABC")
    client.force_login(corrector)
    data = dossier_form_data(client.get(_url(candidate)))
    data.update({"mobile": "0612345678", "address-0-line1": "2 rue du Test"})

    response = client.post(_url(candidate), data)

    assert response.status_code == 302, response.context and response.context["adminform"].form.errors
    candidate.refresh_from_db()
    assert candidate.mobile == "+33612345678"
    assert (candidate.birth_date, candidate.ine, candidate.birth_name, candidate.phone, candidate.nationality) == (
        datetime.date(1890, 1, 1),
        "1234567890A",
        "dupont",
        "123",
        "ZZ",
    )
    address = Address.objects.get(candidate=candidate)
    assert (address.line1, address.postal_code) == ("2 rue du Test", "ABC")


def test_the_baccalaureates_country_and_department_follow_the_same_rules(client, centre_manager, application):
    bac = BaccalaureateFactory(candidate=application.candidate, year=2019, country="FR", department="66")
    client.force_login(centre_manager)
    data = dossier_form_data(client.get(_url(application.candidate)))
    data["baccalaureate-0-country"] = "ZZ"

    refused = client.post(_url(application.candidate), data)
    data.update({"baccalaureate-0-country": "FR", "baccalaureate-0-department": "011"})
    taken = client.post(_url(application.candidate), data)

    (inline,) = [i for i in refused.context["inline_admin_formsets"] if i.formset.prefix == "baccalaureate"]
    assert inline.formset.forms[0].errors["country"] == ["Sélectionnez un choix valide. ZZ n’en fait pas partie."]
    assert taken.status_code == 302
    bac.refresh_from_db()
    assert (bac.country, bac.department) == ("FR", "11")  # "011", as the SIS writes it, is the Aude
