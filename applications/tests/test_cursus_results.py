"""The results of the internal cursus (ecandidat-features §1.3: "résultat, mention, note et barème"): read from the
CSV export (optional columns) and from Pégase's JSON, copied by the import, shown to the candidate and to staff in
French ("14,5 / 20") without one more query."""

import dataclasses
import io
import json
import logging
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import translation
from pypdf import PdfReader

from applications import export_columns
from applications.dossier_pdf import build_dossier_pdf
from applications.models import InternalCursus, SisRecord
from applications.pegase import PegaseBackend
from applications.services import import_from_sis, store_sis_records
from applications.sis import (
    CSV_COLUMNS,
    OPTIONAL_COLUMNS,
    SisCursusLine,
    SisStudent,
    StudentRecordsUnavailable,
    parse_csv,
    parse_grade,
    parse_grade_scale,
)
from applications.tests.factories import STUDENT as SIS_STUDENT
from applications.tests.factories import InternalCursusFactory
from applications.tests.factories_candidature import make_application
from applications.tests.helpers import REVIEW_PAGE_QUERIES, change_url
from offers.tests.factories import FormationFactory

pytestmark = pytest.mark.django_db

STUDENT = {
    "cod_etu": "21900009",
    "civilite": "Mme",
    "nom_patronymique": "MARTIN",
    "prenom": "Estelle",
    "date_naissance": "14/03/2001",
    "pays_naissance": "FR",
    "cursus_annee": "2020",
    "cursus_code": "SLA1",
    "cursus_libelle": "Licence 1",
    "cursus_resultat": "ADM",
    "cursus_mention": "AB",
}


def csv_text(columns, *rows: dict) -> str:
    return "\n".join([";".join(columns), *(";".join({**STUDENT, **row}.get(c, "") for c in columns) for row in rows)])


# --- parsing: the note and the barème ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("14.500", Decimal("14.5")),
        ("14,5", Decimal("14.5")),
        (11.75, Decimal("11.75")),
        (12, Decimal("12")),
        ("20.000", Decimal("20")),
        ("12.34567", Decimal("12.346")),  # kept to the column's 3 decimals
        ("0", Decimal("0")),
        ("", None),
        ("  ", None),
        (None, None),
    ],
)
def test_a_note_is_read_as_the_sis_writes_it(value, expected):
    grade = parse_grade(value)

    assert grade == expected
    assert "E" not in str(grade)  # never 2E+1


@pytest.mark.parametrize("value", ["ABI", "-1", "1000", "NaN", "Infinity", True])
def test_a_note_that_is_not_one_is_refused(value):
    with pytest.raises(ValueError, match="not"):
        parse_grade(value)


@pytest.mark.parametrize(("value", "expected"), [("20", 20), (100, 100), ("20.0", 20), ("", None), (None, None)])
def test_a_bareme_is_a_whole_number(value, expected):
    assert parse_grade_scale(value) == expected


@pytest.mark.parametrize("value", ["0", "20.5", "vingt", "40000"])
def test_a_bareme_that_is_not_one_is_refused(value):
    with pytest.raises(ValueError, match="not"):
        parse_grade_scale(value)


# --- CSV backend ----------------------------------------------------------------------------------------------------


def test_csv_with_the_note_and_bareme_columns():
    columns = (*CSV_COLUMNS, *OPTIONAL_COLUMNS)
    text = csv_text(
        columns,
        {"cursus_note": "14,500", "cursus_bareme": "20"},
        {"cursus_annee": "2021", "cursus_code": "SLA2", "cursus_resultat": "", "cursus_mention": ""},
    )

    result = parse_csv(text)

    assert result.errors == []
    [student] = result.students
    assert student.cursus == (
        SisCursusLine(2020, "SLA1", "Licence 1", "ADM", "AB", grade=Decimal("14.5"), grade_scale=20),
        SisCursusLine(2021, "SLA2", "Licence 1"),
    )


def test_csv_without_the_new_columns_keeps_loading():
    # A file written before cursus_note and cursus_bareme existed: no note, nothing refused.
    result = parse_csv(csv_text(CSV_COLUMNS, {}))

    assert result.errors == []
    [line] = result.students[0].cursus
    assert (line.result, line.mention, line.grade, line.grade_scale) == ("ADM", "AB", None, None)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"cursus_note": "ABI"}, "line 2: cursus_note must be a number from 0 to 999.999, e.g. 14.5"),
        ({"cursus_bareme": "20,5"}, "line 2: cursus_bareme must be a whole number from 1 to 32767, e.g. 20"),
    ],
)
def test_a_malformed_note_or_bareme_refuses_the_student_with_its_line(values, message):
    result = parse_csv(csv_text((*CSV_COLUMNS, *OPTIONAL_COLUMNS), values))

    assert result.errors == [message]
    assert result.students == []


def test_the_local_copy_keeps_the_results_as_json():
    [student] = parse_csv(
        csv_text((*CSV_COLUMNS, *OPTIONAL_COLUMNS), {"cursus_note": "14.5", "cursus_bareme": "20"})
    ).students

    store_sis_records(students=[student], actor=None)

    data = SisRecord.objects.get().data
    assert data["cursus"][0]["grade"] == "14.5"  # a JSON string, not a float
    assert json.loads(json.dumps(data)) == data
    assert SisStudent.from_json(data) == student


def test_a_record_stored_before_the_results_existed_still_loads():
    data = SIS_STUDENT.to_json()
    for line in data["cursus"]:
        del line["grade"], line["grade_scale"]

    [line] = SisStudent.from_json(data).cursus

    assert (line.grade, line.grade_scale) == (None, None)


# --- Pégase JSON (coc Publication) -----------------------------------------------------------------------------------


class Canned:
    """A PegaseClient answering from a dict of URL → JSON (None: a 404; an exception: raised)."""

    def __init__(self, answers: dict):
        self.answers = answers
        self.asked: list[tuple[str, str]] = []

    def get_json(self, url, *, params=None, scope=""):
        self.asked.append((url, scope))
        answer = self.answers[url]
        if isinstance(answer, Exception):
            raise answer
        return answer


INS = "https://ins.example/api/ins/ext/v2/gestion/inscription/ETAB00/21900001/"
COC = "https://coc.example/api/coc/publication/v2/"
COC_SLA1 = COC + "etablissements/ETAB00/periodes/PER-2019/apprenants/21900001/chemins/SLA%3ESLA1"
COC_SLA2 = COC + "etablissements/ETAB00/periodes/PER-2020/apprenants/21900001/chemins/SLA%3ESLA2"


def enrolment(code, label, year, period):
    return {
        "cible": {
            "code": code,
            "libelleCourt": label,
            "formation": {"code": "SLA", "libelleCourt": "Licence Sciences de la vie"},
            "periode": {"code": period, "anneeUniversitaire": year},
        }
    }


ENROLMENTS = {
    "inscriptions": [
        enrolment("SLA1", "Licence 1 SV", 2019, "PER-2019"),
        enrolment("SLA2", "Licence 2 SV", 2020, "PER-2020"),
        enrolment("SLA3", "Licence 3 SV", 2021, ""),  # no period: its results cannot be asked
    ]
}
PUBLICATIONS = [
    {"codeChemin": "SLA>SLA1", "objetFeuille": {"code": "SLA1"}, "noteSession1": "11", "bareme": 20},  # 2 levels
    {
        "codeChemin": "SLA>SLA1>S1",
        "objetFeuille": {"code": "S1", "libelleCourt": "Semestre 1"},
        "bareme": 20,
        "noteSession1": "14.500",
        "resultatSession1": {"code": "ADM", "libelleCourt": "Admis"},
        "noteSession2": None,
        "resultatSession2": None,
        "inconnu": "ignoré",
    },
    {
        "codeChemin": "SLA>SLA1>S2",
        "objetFeuille": {"code": "S2", "libelleCourt": "Semestre 2"},
        "bareme": 20,
        "noteSession1": 8.25,
        "resultatSession1": {"code": "AJ"},
        "noteSession2": "12",
        "resultatSession2": {"code": "ADM"},
    },
    {"codeChemin": "SLA>SLA1>S2>UE1", "objetFeuille": {"code": "UE1"}, "noteSession1": "9"},  # 4 levels
    {
        "codeChemin": "SLA>SLA1>S3",
        "objetFeuille": {"code": "S3", "libelleCourt": ""},
        "noteSession1": "",
        "bareme": "",
    },
    {"codeChemin": "SLA>SLA1>S4", "objetFeuille": {"code": "S4"}, "noteSession1": "ABJ", "bareme": "x"},
    {"codeChemin": "SLA>SLA1>S5", "objetFeuille": None, "noteSession1": "10"},  # no object: no line
]


def backend(answers, coc_url=COC):
    client = Canned(answers)
    return client, PegaseBackend(
        client=client,
        etablissement="ETAB00",
        ref_url="https://ref.example/",
        idt_url="https://idt.example/",
        ins_url="https://ins.example/api/ins/ext/v2/",
        coc_url=coc_url,
    )


def test_pegase_publications_become_cursus_lines_with_their_results():
    client, pegase = backend({INS: ENROLMENTS, COC_SLA1: PUBLICATIONS, COC_SLA2: None})

    lines, missing = pegase._cursus("21900001")

    assert not missing
    assert lines == (
        SisCursusLine(2019, "SLA1", "Licence 1 SV"),
        SisCursusLine(2019, "S1", "Licence 1 SV / Semestre 1", "ADM", grade=Decimal("14.5"), grade_scale=20),
        # The resit (session 2) is the result of a learner who sat it.
        SisCursusLine(2019, "S2", "Licence 1 SV / Semestre 2", "ADM", grade=Decimal("12"), grade_scale=20),
        SisCursusLine(2019, "S3", "Licence 1 SV / S3"),  # nothing published yet: "" read as null
        SisCursusLine(2019, "S4", "Licence 1 SV / S4"),  # a note and a barème that are not numbers: left out
        SisCursusLine(2020, "SLA2", "Licence 2 SV"),  # 404: nothing published
        SisCursusLine(2021, "SLA3", "Licence 3 SV"),
    )
    # One call per enrolment (Pégase has none per learner), the code chemin's ">" encoded, in coc's own scope.
    assert client.asked == [(INS, ""), (COC_SLA1, COC), (COC_SLA2, COC)]


def test_session_1_is_the_result_of_a_learner_who_did_not_sit_the_resit():
    publication = {"codeChemin": "A>B>C", "objetFeuille": {"code": "C"}, "bareme": 100, "noteSession1": "55"}
    _client, pegase = backend({INS: {"inscriptions": ENROLMENTS["inscriptions"][:1]}, COC_SLA1: [publication]})

    [_year, line], _missing = pegase._cursus("21900001")

    assert (line.grade, line.grade_scale, line.result) == (Decimal("55"), 100, "")


def test_without_a_coc_url_results_are_not_asked():
    client, pegase = backend({INS: ENROLMENTS}, coc_url="")

    lines, missing = pegase._cursus("21900001")

    assert [line.code for line in lines] == ["SLA1", "SLA2", "SLA3"]
    assert not missing
    assert client.asked == [(INS, "")]


@pytest.mark.parametrize(
    "failure",
    [StudentRecordsUnavailable("Pégase …: HTTP 500"), {"message": "not a list"}],
    ids=["outage", "not-a-list"],
)
def test_results_that_fail_leave_the_cursus_without_results(failure, caplog):
    _client, pegase = backend({INS: ENROLMENTS, COC_SLA1: PUBLICATIONS, COC_SLA2: failure})

    with caplog.at_level(logging.WARNING, logger="applications.pegase"):
        lines, missing = pegase._cursus("21900001")

    assert missing  # a refresh keeps the cursus imported before, with its results
    assert lines == (
        SisCursusLine(2019, "SLA1", "Licence 1 SV"),
        SisCursusLine(2020, "SLA2", "Licence 2 SV"),
        SisCursusLine(2021, "SLA3", "Licence 3 SV"),
    )
    assert "the results of learner 21900001 were not read, cursus imported without them" in caplog.text


def test_an_enrolment_outage_is_still_an_outage():
    # The enrolments themselves failing must not erase the cursus imported before (eCandidat swallows it).
    _client, pegase = backend({INS: StudentRecordsUnavailable("HTTP 503")})

    with pytest.raises(StudentRecordsUnavailable):
        pegase._cursus("21900001")


# --- the import ------------------------------------------------------------------------------------------------------


def test_the_import_copies_the_results(candidate):
    student = dataclasses.replace(
        SIS_STUDENT,
        cursus=(
            SisCursusLine(2020, "SLA1", "Licence 1", "ADM", "AB", grade=Decimal("14.5"), grade_scale=20),
            SisCursusLine(2021, "SLA2", "Licence 2"),
        ),
    )

    assert import_from_sis(candidate=candidate, actor=None, student=student)

    rows = InternalCursus.objects.filter(candidate=candidate).order_by("academic_year")
    assert [(r.code, r.result, r.mention, r.grade, r.grade_scale) for r in rows] == [
        ("SLA1", "ADM", "AB", Decimal("14.500"), 20),
        ("SLA2", "", "", None, None),
    ]


def test_the_csv_results_reach_the_dossier(candidate):
    candidate.user.student_number = "21900009"
    candidate.user.save()
    text = csv_text((*CSV_COLUMNS, *OPTIONAL_COLUMNS), {"cursus_note": "14.5", "cursus_bareme": "20"})
    store_sis_records(students=parse_csv(text).students, actor=None)

    assert import_from_sis(candidate=candidate, actor=None)

    row = InternalCursus.objects.get(candidate=candidate)
    assert (row.result, row.mention, row.grade, row.grade_scale) == ("ADM", "AB", Decimal("14.5"), 20)


# --- display ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("grade", "scale", "french", "english"),
    [
        (Decimal("14.500"), 20, "14,5 / 20", "14.5 / 20"),
        (Decimal("12.000"), 20, "12 / 20", "12 / 20"),
        (Decimal("55.25"), None, "55,25", "55.25"),
        (None, 20, "", ""),
    ],
)
def test_grade_label(grade, scale, french, english):
    row = InternalCursus(academic_year=2020, code="X", label="X", grade=grade, grade_scale=scale)

    with translation.override("fr"):
        assert row.grade_label == french
    with translation.override("en"):
        assert row.grade_label == english


def results(candidate):
    InternalCursusFactory(
        candidate=candidate,
        code="SLA1-S1",
        label="Semestre 1",
        result="ADM",
        mention="AB",
        grade=Decimal("14.5"),
        grade_scale=20,
    )
    InternalCursusFactory(candidate=candidate, code="SLA1", label="Licence 1")  # no results: nothing shown


def test_the_candidate_reads_the_results_in_french(owner_client, candidate, django_assert_num_queries):
    results(candidate)

    with django_assert_num_queries(6):  # as without results (test_views_dossier)
        response = owner_client.get(reverse("applications:internal_cursus"), language="fr")

    page = response.content.decode()
    assert '<th scope="col" role="columnheader">Note / barème</th>' in page
    assert '<td role="cell" data-label="Note / barème">14,5 / 20</td>' in page
    assert '<span lang="fr">ADM</span>' in page
    assert '<span lang="fr">AB</span>' in page
    assert '<td role="cell" data-label="Note / barème"></td>' in page  # the line without results


@pytest.fixture
def application(centre, commission, campaign):
    formation = FormationFactory(centre=centre, commission=commission, code="M1BIO", title="Master Biologie")
    application = make_application(formation, campaign=campaign)
    results(application.candidate)
    return application


def test_staff_read_the_results_on_the_review_page(client, centre_manager, application, django_assert_num_queries):
    client.force_login(centre_manager)

    with django_assert_num_queries(REVIEW_PAGE_QUERIES):  # the review page's count, results or not
        response = client.get(change_url(application), language="fr")

    page = response.content.decode()
    assert "2023/2024 — SLA1-S1 Semestre 1 · ADM · AB · note 14,5 / 20</li>" in page
    assert "2023/2024 — SLA1 Licence 1</li>" in page


def test_staff_read_the_results_in_the_back_office_dossier(client, centre_manager, application):
    client.force_login(centre_manager)

    response = client.get(
        reverse("admin:applications_candidate_change", args=[application.candidate.pk]), language="fr"
    )

    page = response.content.decode()
    assert "Note / barème" in page
    assert "14,5 / 20" in page
    assert "internal_cursus-0-grade" not in page  # read-only: the SIS is corrected, not this copy


def test_the_dossier_pdf_shows_the_results(application):
    with translation.override("fr"), build_dossier_pdf(application) as output:
        reader = PdfReader(io.BytesIO(output.read()))

    text = " ".join(" ".join(page.extract_text() for page in reader.pages).split())
    assert "2023/2024 - SLA1-S1 Semestre 1 ADM AB note 14,5 / 20" in text
    assert "2023/2024 - SLA1 Licence 1 " in text


def test_the_export_lists_the_results(application):
    column = export_columns.COLUMNS["internal_cursus"]

    with translation.override("fr"):
        value = column.value(application)

    assert value.splitlines() == [
        "2023/2024 SLA1 Licence 1",
        "2023/2024 SLA1-S1 Semestre 1 ADM AB note 14,5 / 20",
    ]
