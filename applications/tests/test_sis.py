import datetime

import pytest
from django.core.management import CommandError, call_command

from applications.models import SisRecord
from applications.sis import CSV_COLUMNS, CsvFormatError, LocalTableBackend, SisStudent, parse_csv
from applications.sis_backend import get_backend
from applications.validators import bea_key

HEADER = ";".join(CSV_COLUMNS)


def line(**values) -> str:
    base = {
        "cod_etu": "21900009",
        "cod_nne_ind": "1234567890V",
        "civilite": "Mme",
        "nom_patronymique": "martin",
        "prenom": "Estelle",
        "date_naissance": "14/03/2001",
        "pays_naissance": "FR",
        "bac_serie": "S",
        "bac_annee": "2019",
        "cursus_annee": "2020",
        "cursus_code": "SLA1",
        "cursus_libelle": "Licence 1",
    }
    base.update(values)
    return ";".join(base.get(column, "") for column in CSV_COLUMNS)


def test_parse_groups_cursus_lines_per_student():
    text = "\n".join([HEADER, line(), line(cursus_annee="2021", cursus_code="SLA2", cursus_libelle="Licence 2")])

    result = parse_csv(text)

    assert result.errors == []
    [student] = result.students
    assert student.birth_name == "MARTIN"
    assert student.birth_date == datetime.date(2001, 3, 14)
    assert student.baccalaureate.series == "S"
    assert [c.code for c in student.cursus] == ["SLA1", "SLA2"]
    assert SisStudent.from_json(student.to_json()) == student


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"civilite": "X"}, "line 2: civilite must be one of M., Mme"),
        ({"date_naissance": "2001-03-14"}, "line 2: date_naissance must be DD/MM/YYYY"),
        ({"nom_patronymique": ""}, "line 2: nom_patronymique is empty"),
        ({"cod_nne_ind": "1234567890A"}, "line 2: cod_nne_ind is not a valid INE"),
        ({"pays_naissance": "XX"}, "line 2: pays_naissance is not an ISO 3166 alpha-2 country code"),
        ({"bac_serie": "ZZZ"}, "line 2: bac_serie is not a known series code"),
        ({"cursus_annee": "20"}, "line 2: cursus_annee must be the first year of the academic year, e.g. 2024"),
    ],
)
def test_malformed_line_is_refused_with_its_number(values, message):
    result = parse_csv("\n".join([HEADER, line(**values)]))

    assert result.errors == [message]
    assert result.students == []


def test_student_with_one_bad_line_is_skipped_entirely_others_kept():
    text = "\n".join([HEADER, line(), line(cursus_annee="bad"), line(cod_etu="21900010")])

    result = parse_csv(text)

    assert [s.student_number for s in result.students] == ["21900010"]
    assert result.errors[0].startswith("line 3:")


def test_inconsistent_student_columns_are_refused():
    result = parse_csv("\n".join([HEADER, line(), line(prenom="Autre", cursus_code="X2")]))

    assert result.errors == ["line 3: the student columns differ from a previous line of student 21900009"]


def test_wrong_column_count_is_reported():
    result = parse_csv("\n".join([HEADER, "21900009;only;three"]))

    assert result.errors == ["line 2: wrong number of columns"]


def test_missing_header_columns_is_a_format_error():
    with pytest.raises(CsvFormatError, match="missing columns"):
        parse_csv("cod_etu;nom\n1;X\n")


def test_bea_key_known_value():
    assert bea_key("1234567890") == "V"  # 1234567890 % 23 == 19 → 20th letter of the alphabet without I, O, Q


@pytest.mark.django_db
def test_import_command_is_idempotent_and_reports_counts(tmp_path, capsys):
    path = tmp_path / "sis.csv"
    path.write_text("\n".join([HEADER, line(), line(cod_etu="21900010", cod_nne_ind="")]), encoding="utf-8")

    call_command("import_sis", str(path))
    call_command("import_sis", str(path))

    out = capsys.readouterr().out.splitlines()
    assert out == [
        "2 students read, 2 created, 0 updated, 0 lines refused",
        "2 students read, 0 created, 2 updated, 0 lines refused",
    ]
    assert SisRecord.objects.count() == 2


@pytest.mark.django_db
def test_import_command_replaces_the_cursus_of_a_student(tmp_path):
    path = tmp_path / "sis.csv"
    path.write_text("\n".join([HEADER, line(), line(cursus_annee="2021", cursus_code="S2", cursus_libelle="L2")]))
    call_command("import_sis", str(path))
    path.write_text("\n".join([HEADER, line(cursus_annee="2022", cursus_code="S3", cursus_libelle="L3")]))

    call_command("import_sis", str(path))

    student = LocalTableBackend().find_by_student_number("21900009")
    assert [c.code for c in student.cursus] == ["S3"]


@pytest.mark.django_db
def test_import_command_fails_with_line_numbers(tmp_path, capsys):
    path = tmp_path / "sis.csv"
    path.write_text("\n".join([HEADER, line(), line(cod_etu="21900010", civilite="?")]), encoding="utf-8")

    with pytest.raises(CommandError, match="1 lines refused"):
        call_command("import_sis", str(path))

    captured = capsys.readouterr()
    assert f"{path}: line 3: civilite must be one of M., Mme" in captured.err
    assert SisRecord.objects.filter(student_number="21900009").exists()
    assert not SisRecord.objects.filter(student_number="21900010").exists()


@pytest.mark.django_db
def test_import_command_refuses_non_utf8(tmp_path):
    path = tmp_path / "sis.csv"
    path.write_bytes(HEADER.encode() + b"\n" + line(prenom="In\xe8s").encode("utf-8").replace(b"\xc3\xa8", b"\xe8"))

    with pytest.raises(CommandError, match="not UTF-8"):
        call_command("import_sis", str(path))


@pytest.mark.django_db
def test_demo_file_imports_the_development_ent_students(settings):
    call_command("import_sis", str(settings.BASE_DIR / "devtools" / "sis" / "demo-students.csv"))

    backend = get_backend()
    assert backend.find_by_student_number("21900001").email == "estelle.martin@etudiant.univ-perp.fr"
    assert backend.find_by_student_number("21900002").birth_name == "BERNARD"
    assert backend.find_by_student_number("21900003").first_name == "Inès"
    assert backend.find_by_ine("0905012345W").student_number == "21900001"
    assert backend.find_by_student_number("99999999") is None


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"cod_etu": "1" * 21}, "line 3: cod_etu is longer than 20 characters"),
        ({"prenom": "Est\x00elle"}, "line 3: prenom contains a NUL character"),
        ({"cursus_libelle": "Licence\x00 1"}, "line 3: cursus_libelle contains a NUL character"),
    ],
    ids=["21-digit student number", "NUL in a student column", "NUL in a cursus column"],
)
@pytest.mark.django_db
def test_import_command_refuses_what_the_database_cannot_store_with_its_line(tmp_path, capsys, values, message):
    """PostgreSQL refuses a 21-character student number (the model's 20) and a NUL in text or JSON: the line is
    refused in words, as any other, instead of a traceback; the other students are imported."""
    path = tmp_path / "sis.csv"
    path.write_text(
        "\n".join([HEADER, line(), line(**{"cod_etu": "21900010", **values})]), encoding="utf-8", newline=""
    )

    with pytest.raises(CommandError, match="1 lines refused"):
        call_command("import_sis", str(path))

    assert f"{path}: {message}" in capsys.readouterr().err
    assert list(SisRecord.objects.values_list("student_number", flat=True)) == ["21900009"]
