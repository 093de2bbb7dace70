"""« Informations perso. » (review of the dossier, 2026-12): a name of no letter was saved ("-5", a right-to-left
mark, a lone accent), where the signup refuses it; a locked value the model's validators refuse (a département of
birth 977 or 134 from the student records) made every save fail, the phone's included, beside a greyed-out field;
a valid phone number typed with spaces and brackets was refused for its length before it was normalised."""

import copy
import dataclasses
import datetime
import json
import re
from pathlib import Path

import pytest
from django.urls import reverse
from pytest_django.asserts import assertContains

from applications import services
from applications.models import Candidate
from applications.sis import CSV_COLUMNS, parse_csv
from applications.sis_backend import get_backend
from applications.tests.factories import STUDENT
from applications.tests.helpers import dossier_form_data, pegase_on_loopback, personal_details_form

pytestmark = pytest.mark.django_db

PERSONAL = reverse("applications:personal_details")
NO_LETTER = "Type a name with at least one letter."
FIXTURES = Path(__file__).resolve().parents[2] / "devtools" / "pegase" / "fixtures"
ESTELLE = json.loads((FIXTURES / "identites.json").read_text(encoding="utf-8"))[0]  # learner 21900001, French
SEARCH = re.compile(r"^/api/idt/v1/etablissements/ETAB00/identites/apprenants$")
IDENTITY = re.compile(r"^/api/idt/v1/etablissements/ETAB00/identites/[^/]+$")


# A save of the locked dossier: session, user, the request's savepoint, dossier, "has an application" (the
# details' lock); the save's savepoint, the dossier locked, "has an application", its update, release; the next
# step's address and bac; release.
LOCKED_SAVE = 13


def _lock(candidate, **values) -> None:
    """The dossier as the student records' import leaves it: the état civil and the INE locked."""
    Candidate.objects.filter(pk=candidate.pk).update(sis_locked=True, ine_from_sis=True, ine="1234567890V", **values)


# --- F1: a name has a letter --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "typed"),
    [
        ("birth_name", "-5"),
        ("first_name", "\u200f"),  # a right-to-left mark alone
        ("birth_name", "\u200e\u200f"),
        ("first_name", "\u0301"),  # a combining accent on nothing
        ("birth_name", "²⁰²⁴"),
        ("usual_name", "--"),
        ("other_first_name", "."),
    ],
)
def test_a_name_without_a_letter_is_refused_beside_it(
    owner_client, candidate, django_assert_num_queries, field, typed
):
    before = Candidate.objects.values().get(pk=candidate.pk)

    with django_assert_num_queries(7):  # as any refused save of this page: nothing written
        response = owner_client.post(PERSONAL, personal_details_form(**{field: typed}))

    assert response.status_code == 200
    assert response.context["form"].errors[field] == [NO_LETTER]
    assertContains(response, f'id="id_{field}_error"')
    assert Candidate.objects.values().get(pk=candidate.pk) == before


def test_the_refusal_is_the_signups_in_french(owner_client, candidate):
    response = owner_client.post(PERSONAL, personal_details_form(first_name="-"), language="fr")

    assert response.context["form"].errors["first_name"] == ["Saisissez un nom comportant au moins une lettre."]


def test_a_locked_name_without_a_letter_does_not_block_the_phone(owner_client, candidate, django_assert_num_queries):
    # The student records' value is kept as it is: the candidate cannot change it, it must not refuse their phone.
    _lock(candidate, first_name="-", other_first_name="..")

    with django_assert_num_queries(LOCKED_SAVE):
        response = owner_client.post(PERSONAL, personal_details_form(phone="06 12 34 56 78"))

    assert response.status_code == 302
    stored = Candidate.objects.get(pk=candidate.pk)
    assert (stored.phone, stored.first_name, stored.other_first_name) == ("+33612345678", "-", "..")


# --- F2: a locked value is not validated --------------------------------------------------------------------------


@pytest.mark.parametrize("department", ["977", "978", "98", "134"])
def test_a_locked_department_of_birth_the_validator_refuses_does_not_block_the_phone(
    owner_client, candidate, django_assert_num_queries, department
):
    """Stored before the import dropped them: Pégase's département of a commune of Saint-Barthélemy (977),
    Saint-Martin (978) or the Pacific (98), Apogée's country code of a birth abroad (134, Spain)."""
    _lock(candidate, birth_department=department)

    with django_assert_num_queries(LOCKED_SAVE):
        response = owner_client.post(PERSONAL, personal_details_form(phone="06 12 34 56 78", preferred_language="en"))

    assert response.status_code == 302, response.context and response.context["form"].errors
    stored = Candidate.objects.get(pk=candidate.pk)
    assert (stored.phone, stored.preferred_language, stored.birth_department) == ("+33612345678", "en", department)


def test_a_locked_birth_date_before_1900_does_not_block_the_phone(owner_client, candidate):
    # The rule on typed dates (from 1900 on) does not refuse the date the student records hold.
    _lock(candidate, birth_date=datetime.date(1899, 12, 31))

    response = owner_client.post(PERSONAL, personal_details_form(phone="06 12 34 56 78"))

    assert response.status_code == 302
    assert Candidate.objects.get(pk=candidate.pk).phone == "+33612345678"


def test_a_department_of_birth_the_candidate_types_is_still_checked(owner_client, candidate):
    response = owner_client.post(PERSONAL, personal_details_form(birth_department="977"))

    assert response.status_code == 200
    assert response.context["form"].errors["birth_department"] == [
        "Enter a French department number, e.g. 66, 2A or 974."
    ]


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("977", ""),  # Saint-Barthélemy: a collectivité, not a département
        ("978", ""),  # Saint-Martin
        ("98", ""),  # Pégase's département of a commune of New Caledonia or French Polynesia (988xx, 987xx)
        ("134", ""),  # Apogée's code of Spain, for a birth abroad
        ("099", ""),
        ("066", "66"),  # Apogée's three characters
        ("02a", "2A"),
        ("974", "974"),
        ("", ""),
    ],
)
def test_the_import_keeps_only_a_department_of_birth_of_the_list(candidate, given, stored):
    student = dataclasses.replace(STUDENT, birth_department=given)

    assert services.import_from_sis(candidate=candidate, actor=None, student=student)

    assert Candidate.objects.get(pk=candidate.pk).birth_department == stored


def _csv_line(**values) -> str:
    base = {
        "cod_etu": "21900009",
        "cod_nne_ind": "1234567890V",
        "civilite": "Mme",
        "nom_patronymique": "martin",
        "prenom": "Estelle",
        "date_naissance": "14/03/2001",
        "pays_naissance": "ES",
        **values,
    }
    return ";".join(base.get(column, "") for column in CSV_COLUMNS)


def test_a_csv_country_code_in_the_department_column_is_not_imported(owner_client, candidate):
    [student] = parse_csv("\n".join([";".join(CSV_COLUMNS), _csv_line(departement_naissance="134")])).students

    services.import_from_sis(candidate=candidate, actor=None, student=student)
    response = owner_client.post(PERSONAL, personal_details_form(phone="06 12 34 56 78"))

    assert Candidate.objects.get(pk=candidate.pk).birth_department == ""
    assert response.status_code == 302
    assert Candidate.objects.get(pk=candidate.pk).phone == "+33612345678"


def test_a_pegase_birth_in_saint_barthelemy_is_imported_without_a_department(
    settings, fresh_pegase_memory, owner_client, candidate
):
    identity = copy.deepcopy(ESTELLE)
    identity["profilApprenant"]["etatCivil"]["communeNaissance"]["code"] = "97701"  # Saint-Barthélemy

    def answer(path: str, query: str) -> tuple[int, object]:
        if SEARCH.match(path):
            return 200, {"totalElements": 1, "items": [{"id": ESTELLE["id"], "codeApprenant": "21900001"}]}
        if IDENTITY.match(path):
            return 200, identity
        return 404, {"message": "Not found"}

    with pegase_on_loopback(settings, answer):
        student = get_backend().find_by_student_number("21900001")
        assert student is not None
        assert student.birth_department == "977"  # pegase.department_of
        services.import_from_sis(candidate=candidate, actor=None, student=student)

    response = owner_client.post(PERSONAL, personal_details_form(phone="06 12 34 56 78"))

    assert Candidate.objects.get(pk=candidate.pk).birth_department == ""
    assert response.status_code == 302
    assert Candidate.objects.get(pk=candidate.pk).phone == "+33612345678"


# --- F3: a phone number's length is the stored number's, not the typed one's -----------------------------------------


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("00 44 (0) 20 7946 0958", "+442079460958"),  # 22 characters typed
        ("+33 (0) 6 12 34 56 78", "+33612345678"),  # 21
    ],
)
@pytest.mark.parametrize("field", ["phone", "mobile"])
def test_a_phone_typed_with_spaces_and_brackets_is_stored_normalised(
    owner_client, candidate, django_assert_num_queries, field, typed, stored
):
    Candidate.objects.filter(pk=candidate.pk).update(ine="1234567890V")  # the INE posted: no SIS lookup

    with django_assert_num_queries(LOCKED_SAVE + 1):  # and the INE's uniqueness in the campaign (clean_ine)
        response = owner_client.post(PERSONAL, personal_details_form(**{field: typed}))

    assert response.status_code == 302, response.context and response.context["form"].errors
    assert getattr(Candidate.objects.get(pk=candidate.pk), field) == stored


def test_the_phone_inputs_take_the_typed_length(owner_client, candidate, django_assert_num_queries):
    with django_assert_num_queries(6):  # as the page's other reads (test_views_dossier)
        response = owner_client.get(PERSONAL)

    assertContains(response, 'maxlength="40"', count=2)


def test_a_phone_longer_than_any_typed_number_is_still_refused(owner_client, candidate):
    response = owner_client.post(PERSONAL, personal_details_form(phone="0" * 41))

    assert response.status_code == 200
    assert response.context["form"].errors["phone"] == ["Ensure this value has at most 40 characters (it has 41)."]


# --- The staff's dossier page: the same rules on what staff type ---------------------------------------------------


def _dossier_url(candidate) -> str:
    return reverse("admin:applications_candidate_change", args=[candidate.pk])


def test_staff_cannot_type_a_name_without_a_letter_either(
    client, centre_manager, dossier_to_correct, django_assert_num_queries
):
    candidate = dossier_to_correct.candidate
    client.force_login(centre_manager)
    data = dossier_form_data(client.get(_dossier_url(candidate)))
    data.update(birth_name="-5", first_name="\u200f", usual_name="²⁰²⁴", other_first_name="\u0301")

    with django_assert_num_queries(26):  # as any refused save of the page (test_staff_dossier_edit)
        response = client.post(_dossier_url(candidate), data)

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    for name in ("birth_name", "first_name", "usual_name", "other_first_name"):
        assert errors[name] == [NO_LETTER]
    assert Candidate.objects.get(pk=candidate.pk).first_name == "Camille"
    assert not dossier_to_correct.events.exists()


def test_staff_keep_a_stored_name_without_a_letter_and_type_a_long_phone(client, centre_manager, dossier_to_correct):
    # A value left as stored is taken as it is (DossierAdminForm); the phone is the number typed, normalised.
    candidate = dossier_to_correct.candidate
    Candidate.objects.filter(pk=candidate.pk).update(first_name="-")
    client.force_login(centre_manager)
    data = dossier_form_data(client.get(_dossier_url(candidate)))
    data.update(mobile="00 44 (0) 20 7946 0958")

    response = client.post(_dossier_url(candidate), data)

    assert response.status_code == 302, response.context and response.context["adminform"].form.errors
    stored = Candidate.objects.get(pk=candidate.pk)
    assert (stored.first_name, stored.mobile) == ("-", "+442079460958")
