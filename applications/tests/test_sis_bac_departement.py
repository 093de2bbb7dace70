"""The bac's département from the student records system is kept as the dossier writes it, or dropped.

It was copied as the SIS gave it, only cut to its column's 3 characters (``services.dossier._fitted``): " 75" with
its space, "2a", Apogée's "075", "0750" cut to "075", Apogée's country code "134" or a collectivité's "977" were
stored and locked beside a bac form that offers none of them, and a NUL failed the whole import on PostgreSQL
("A string literal cannot contain NUL"): an error page at the ENT sign-in. Now ``sis.bac_department`` cleans it as
the département of birth is (``services.dossier._sis_department``): normalised when it is one of the list, dropped
otherwise.
"""

import dataclasses

import pytest

from applications import services
from applications.models import Baccalaureate
from applications.sis import CSV_COLUMNS, SisBaccalaureate, SisStudent, parse_csv
from applications.tests.factories import STUDENT

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        (" 75 ", "75"),
        ("\t66\n", "66"),
        ("075", "75"),  # Apogée's three characters
        ("2a", "2A"),
        ("02b", "2B"),
        ("974", "974"),
        ("0750", ""),  # past the column: was cut to "075"
        ("134", ""),  # Apogée's code of Spain
        ("977", ""),  # Saint-Barthélemy: a collectivité
        ("20", ""),  # Corsica before 1976: no département of the list
        ("abcdef", ""),
        ("7\x005", ""),  # PostgreSQL stores no NUL: the import failed
        ("", ""),
    ],
)
def test_the_import_keeps_only_a_bac_department_of_the_list(candidate, given, stored):
    student = dataclasses.replace(STUDENT, baccalaureate=SisBaccalaureate(series="S", year=2019, department=given))

    assert services.import_from_sis(candidate=candidate, actor=None, student=student)

    bac = Baccalaureate.objects.get(candidate=candidate)
    assert bac.department == stored
    assert bac.sis_locked


def _csv(**values) -> str:
    row = {
        "cod_etu": "21900009",
        "civilite": "Mme",
        "nom_patronymique": "martin",
        "prenom": "Estelle",
        "date_naissance": "14/03/2001",
        "pays_naissance": "FR",
        "bac_serie": "S",
        "bac_annee": "2019",
        **values,
    }
    return "\n".join([";".join(CSV_COLUMNS), ";".join(row.get(column, "") for column in CSV_COLUMNS)])


@pytest.mark.parametrize(("given", "stored"), [("066", "66"), ("2a", "2A"), ("134", "")])
def test_a_csv_export_gives_the_dossier_s_department_or_none(candidate, given, stored):
    result = parse_csv(_csv(bac_departement=given))

    assert result.errors == []
    [student] = result.students
    assert student.baccalaureate is not None
    assert student.baccalaureate.department == stored
    services.import_from_sis(candidate=candidate, actor=None, student=student)
    assert Baccalaureate.objects.get(candidate=candidate).department == stored


def test_a_record_stored_before_the_cleaning_is_cleaned_when_read():
    data = dataclasses.replace(STUDENT, baccalaureate=SisBaccalaureate(series="S", year=2019)).to_json()
    data["baccalaureate"]["department"] = " 02a"

    student = SisStudent.from_json(data)

    assert student.baccalaureate is not None
    assert student.baccalaureate.department == "2A"
