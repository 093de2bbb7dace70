"""The bac reform (ecandidat-features §1.3): spécialités terminale 1 and 2 and de première abandonnée, asked for the
bac général from 2021 only, options 1–4 and the school's UAI; their reference list refreshed from Pégase's
``SpecialitesBacGeneral``; their import from the SIS (Pégase JSON, CSV columns); their display (candidate, review
page, dossier PDF, export) without one more query; the Apogée OPI file's columns (siscol-pegase-apogee.md §3.2)."""

import io

import pytest
from django.core.management import call_command
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import translation
from pypdf import PdfReader
from pytest_django.asserts import assertContains, assertNotContains

from applications import export_columns
from applications.dossier_pdf import build_dossier_pdf
from applications.forms import BaccalaureateForm
from applications.models import (
    Baccalaureate,
    Candidate,
    ReferenceBacSeries,
    ReferenceBacSpeciality,
    ReferenceSchool,
    SisRecord,
)
from applications.models.reference import BUILT_IN_BAC_SPECIALITIES, forget_reference_lists
from applications.opi.apogee import COLUMNS
from applications.opi.services import transfer_opis
from applications.pegase import PegaseBackend
from applications.services import import_from_sis, store_sis_records
from applications.services.dossier import open_dossier
from applications.services.reference import refresh_reference_data
from applications.sis import CSV_COLUMNS, OPTIONAL_COLUMNS, SisBaccalaureate, parse_csv
from applications.sis_backend import get_backend
from applications.tests.factories import STUDENT as SIS_STUDENT
from applications.tests.factories import AddressFactory, BaccalaureateFactory, CandidateFactory, CandidateUserFactory
from applications.tests.factories_candidature import make_application
from applications.tests.helpers import REVIEW_PAGE_QUERIES, change_url, configure_pegase, start_pegase_peer
from applications.tests.opi.helpers import DAY1, admit, confirm, make_candidate, parse
from ecandidat.batches import Report
from ecandidat.tests.plugins.browser import assert_no_serious_axe_violations, log_in_browser
from offers.tests.factories import FormationFactory

pytestmark = pytest.mark.django_db

BAC = {"mode": "add", "series": "GEN", "year": "2022", "country": "FR", "department": "66"}
REFORM = {"speciality_1": "MATHS", "speciality_2": "PC", "dropped_speciality": "SVT"}


def form(**values) -> BaccalaureateForm:
    bound = BaccalaureateForm(data={**BAC, **values})
    bound.is_valid()
    return bound


def errors_in_french(**values) -> dict:
    """The form's errors as a French candidate reads them (validated in French, as the page does)."""
    with translation.override("fr"):
        bound = form(**values)
        return {name: [str(message) for message in messages] for name, messages in bound.errors.items()}


# --- the form: the reform rule and the French messages -------------------------------------------------------------


def test_a_bac_general_from_2021_takes_its_three_specialities_and_options():
    bound = form(**REFORM, option_1="Latin", option_2="Section européenne anglais")

    assert bound.errors == {}
    assert {name: bound.changes()[name] for name in (*REFORM, "option_1", "option_2", "option_3")} == {
        **REFORM,
        "option_1": "Latin",
        "option_2": "Section européenne anglais",
        "option_3": "",
    }


def test_the_specialities_stay_optional():
    assert form().errors == {}


def test_two_identical_final_year_specialities_are_refused_next_to_the_second():
    errors = errors_in_french(speciality_1="MATHS", speciality_2="MATHS")

    assert errors == {"speciality_2": ["Choisissez deux spécialités de terminale différentes."]}


@pytest.mark.parametrize("dropped", ["MATHS", "PC"])
def test_the_dropped_speciality_differs_from_both_final_year_ones(dropped):
    errors = errors_in_french(speciality_1="MATHS", speciality_2="PC", dropped_speciality=dropped)

    assert errors == {
        "dropped_speciality": [
            "La spécialité de première abandonnée doit être différente de vos deux spécialités de terminale."
        ]
    }


@pytest.mark.parametrize(
    ("series", "year"),
    [("GEN", "2020"), ("S", "2019"), ("STMG", "2023"), ("PRO", "2022")],
    ids=["general-before-the-reform", "old-series", "technological", "vocational"],
)
def test_specialities_are_refused_outside_the_reform(series, year):
    errors = errors_in_french(series=series, year=year, speciality_1="MATHS", dropped_speciality="SVT")

    message = (
        "Les spécialités ne concernent que le baccalauréat général obtenu à partir de 2021 : laissez ce champ vide."
    )
    assert errors == {"speciality_1": [message], "dropped_speciality": [message]}


def test_options_concern_every_bac():
    assert form(series="S", year="2019", option_1="Latin").errors == {}


def test_an_unknown_speciality_is_refused():
    assert "speciality_1" in form(speciality_1="ZZZ").errors


def test_without_the_sis_list_the_built_in_specialities_are_offered():
    choices = BaccalaureateForm().fields["speciality_1"].choices

    assert [code for code, _label in choices] == ["", *(code for code, _label in BUILT_IN_BAC_SPECIALITIES)]
    with translation.override("fr"):
        assert dict(choices)["NSI"] == "Numérique et sciences informatiques"


@pytest.fixture
def sis_lists():
    """The SIS's series and spécialités as refresh_reference_data leaves them, and this process's memo emptied."""
    ReferenceBacSeries.objects.create(code="0021", label="BACCALAUREAT GENERAL", first_year=2021)
    ReferenceBacSeries.objects.create(code="S", label="SCIENTIFIQUE", first_year=1995, last_year=2021)
    ReferenceBacSpeciality.objects.create(code="101", label="MATHEMATIQUES", first_year=2021)
    ReferenceBacSpeciality.objects.create(code="103", label="SCIENCES ECONOMIQUES ET SOCIALES", first_year=2021)
    ReferenceBacSpeciality.objects.create(code="199", label="ANCIENNE SPECIALITE", visible=False)
    forget_reference_lists()


def test_the_sis_lists_replace_the_built_in_ones(sis_lists):
    bound = BaccalaureateForm(data={**BAC, "series": "0021", "speciality_1": "101", "speciality_2": "103"})

    assert bound.is_valid(), bound.errors
    assert bound.reform_series == ["0021"]  # the series whose label says "général"
    assert dict(bound.fields["speciality_1"].choices) == {
        "": "- Select an option -",
        "101": "MATHEMATIQUES",
        "103": "SCIENCES ECONOMIQUES ET SOCIALES",
    }
    assert "speciality_1" in form(series="S", year="2020", speciality_1="101").errors  # not the bac général


def test_a_speciality_the_sis_hid_since_stays_offered_to_the_dossier_holding_it(sis_lists, candidate):
    bac = BaccalaureateFactory(candidate=candidate, series="0021", year=2022, speciality_1="199")

    bound = BaccalaureateForm(instance=bac)

    assert ("199", "ANCIENNE SPECIALITE") in bound.fields["speciality_1"].choices
    assert bound.initial["speciality_1"] == "199"


# --- the school's UAI ------------------------------------------------------------------------------------------------


def test_a_school_typed_as_its_uai_keeps_the_number(candidate):
    ReferenceSchool.objects.create(code="0660014A", label="LYCEE FRANCOIS ARAGO", commune_insee_code="66136")
    forget_reference_lists()

    bound = form(school="0660014a")

    assert bound.errors == {}
    assert (bound.changes()["school"], bound.changes()["school_uai"]) == ("LYCEE FRANCOIS ARAGO", "0660014A")


def test_the_uai_stays_while_the_school_does_and_goes_with_it(candidate):
    bac = BaccalaureateFactory(candidate=candidate, school="LYCEE FRANCOIS ARAGO", school_uai="0660014A")
    data = {**BAC, "school": "LYCEE FRANCOIS ARAGO"}

    kept = BaccalaureateForm(data=data, instance=bac)
    changed = BaccalaureateForm(data={**data, "school": "Lycée Jean Lurçat"}, instance=bac)

    assert kept.is_valid()
    assert changed.is_valid()
    assert (kept.changes()["school_uai"], changed.changes()["school_uai"]) == ("0660014A", "")


# --- the page ----------------------------------------------------------------------------------------------------


def test_the_page_saves_the_specialities(owner_client, candidate):
    response = owner_client.post(reverse("applications:baccalaureate"), {**BAC, **REFORM, "option_1": "Latin"})

    assert response.status_code == 302
    bac = Baccalaureate.objects.get(candidate=candidate)
    assert (bac.speciality_1, bac.speciality_2, bac.dropped_speciality, bac.options) == (
        "MATHS",
        "PC",
        "SVT",
        ["Latin"],
    )


def test_the_page_shows_the_message_next_to_the_field_in_french(owner_client, candidate):
    response = owner_client.post(
        reverse("applications:baccalaureate"),
        {**BAC, "speciality_1": "SES", "speciality_2": "SES"},
        language="fr",
    )

    page = response.content.decode()
    assert '<ul class="errorlist" id="id_speciality_2_error">' in page
    assert "Choisissez deux spécialités de terminale différentes." in page
    # The help text and the error describe the field.
    assert 'aria-describedby="bac-specialities-help id_speciality_2_error"' in page
    # A field without an error points at no error list (an id absent from the page is invalid HTML).
    assert 'aria-describedby="bac-specialities-help" id="id_speciality_1"' in page
    assert "id_speciality_1_error" not in page
    assert not Baccalaureate.objects.filter(candidate=candidate).exists()


def test_an_unbound_form_points_at_no_error_list(owner_client, candidate):
    page = owner_client.get(reverse("applications:baccalaureate") + "?avec-bac=1", language="fr").content.decode()

    assert 'aria-describedby="bac-specialities-help" id="id_speciality_1"' in page
    assert "_error" not in page


def test_the_form_tells_when_to_fill_the_specialities_and_works_without_javascript(owner_client, candidate):
    response = owner_client.get(reverse("applications:baccalaureate") + "?avec-bac=1", language="fr")

    page = response.content.decode()
    assert "<legend>Spécialités</legend>" in page
    assert "Uniquement pour le baccalauréat général obtenu à partir de 2021 (réforme du bac)" in page
    assert '<label for="id_dropped_speciality">Spécialité de première abandonnée' in page
    assert '<label for="id_option_4">Option 4' in page
    # Shown to all without JavaScript (no hidden attribute); the script hides them where they make no sense.
    assert '<fieldset id="bac-specialities">' in page
    assert 'data-reform-series="GEN" data-reform-year="2021"' in page
    assert "js/bac.js" in page


def test_the_page_keeps_its_query_count_with_specialities(owner_client, candidate, django_assert_num_queries):
    AddressFactory(candidate=candidate)
    BaccalaureateFactory(candidate=candidate, year=2022, **REFORM, option_1="Latin")

    with django_assert_num_queries(5):  # as without them (test_views_dossier)
        response = owner_client.get(reverse("applications:baccalaureate"))

    assertContains(response, 'value="MATHS" selected')


def test_a_dossier_from_the_sis_shows_them_read_only(owner_client, candidate, django_assert_num_queries):
    AddressFactory(candidate=candidate)
    BaccalaureateFactory(
        candidate=candidate, year=2022, **REFORM, option_1="Latin", option_3="Grec", department="66", sis_locked=True
    )

    with django_assert_num_queries(5):
        response = owner_client.get(reverse("applications:baccalaureate"), language="fr")

    page = response.content.decode()
    assert "<dt>Département</dt><dd>Pyrénées-Orientales (66)</dd>" in page  # it printed "66"
    assert "<dt>Spécialité terminale 1</dt><dd>Mathématiques</dd>" in page
    assert "<dt>Spécialité terminale 2</dt><dd>Physique-chimie</dd>" in page
    assert "<dt>Spécialité de première abandonnée</dt><dd>Sciences de la vie et de la Terre</dd>" in page
    assert "<dt>Options</dt><dd>Latin, Grec</dd>" in page
    assertNotContains(response, 'name="speciality_1"')


def test_a_bac_without_specialities_shows_none_of_their_lines(owner_client, candidate):
    BaccalaureateFactory(candidate=candidate, series="S", year=2019, sis_locked=True)

    response = owner_client.get(reverse("applications:baccalaureate"))

    assertNotContains(response, "Final-year speciality")
    assertNotContains(response, "Options of the baccalaureate")


# --- the database -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "values",
    [
        {"speciality_1": "MATHS", "speciality_2": "MATHS"},
        {"speciality_1": "MATHS", "speciality_2": "PC", "dropped_speciality": "PC"},
        {"speciality_2": "PC", "dropped_speciality": "PC"},
    ],
)
def test_the_database_refuses_a_speciality_twice(candidate, values):
    with pytest.raises(IntegrityError), transaction.atomic():
        BaccalaureateFactory(candidate=candidate, year=2022, **values)


def test_no_bac_has_no_speciality(candidate):
    with pytest.raises(IntegrityError), transaction.atomic():
        Baccalaureate.objects.create(candidate=candidate, has_bac=False, speciality_1="MATHS")


# --- import: CSV backend -------------------------------------------------------------------------------------------

STUDENT = {
    "cod_etu": "21900009",
    "civilite": "Mme",
    "nom_patronymique": "MARTIN",
    "prenom": "Estelle",
    "date_naissance": "14/03/2003",
    "pays_naissance": "FR",
    "bac_serie": "GEN",
    "bac_annee": "2021",
}
REFORM_CSV = {
    "bac_uai": "0660014a",
    "bac_specialite_1": "maths",
    "bac_specialite_2": "NSI",
    "bac_specialite_premiere": "PC",
    "bac_option_1": "LATIN",
    "bac_option_4": "EURO",
}


def csv_text(columns, values: dict) -> str:
    row = {**STUDENT, **values}
    return "\n".join([";".join(columns), ";".join(row.get(column, "") for column in columns)])


def test_csv_with_the_bac_reform_columns():
    result = parse_csv(csv_text((*CSV_COLUMNS, *OPTIONAL_COLUMNS), REFORM_CSV))

    assert result.errors == []
    assert result.students[0].baccalaureate == SisBaccalaureate(
        series="GEN",
        year=2021,
        school_uai="0660014A",
        speciality_1="MATHS",
        speciality_2="NSI",
        dropped_speciality="PC",
        option_1="LATIN",
        option_4="EURO",
    )


def test_csv_without_the_bac_reform_columns_keeps_loading():
    result = parse_csv(csv_text(CSV_COLUMNS, {}))

    assert result.errors == []
    assert result.students[0].baccalaureate == SisBaccalaureate(series="GEN", year=2021)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"bac_specialite_1": "ZZZ"}, "line 2: bac_specialite_1 is not a known speciality code"),
        ({"bac_specialite_premiere": "X"}, "line 2: bac_specialite_premiere is not a known speciality code"),
        (
            {"bac_specialite_1": "SES", "bac_specialite_2": "SES"},
            "line 2: bac_specialite_1, bac_specialite_2 and bac_specialite_premiere must differ",
        ),
        ({"bac_uai": "LYCEE"}, "line 2: bac_uai must be a UAI number: 7 digits and a letter, e.g. 0660014A"),
    ],
)
def test_a_malformed_bac_reform_column_refuses_the_student_with_its_line(values, message):
    result = parse_csv(csv_text((*CSV_COLUMNS, *OPTIONAL_COLUMNS), values))

    assert (result.errors, result.students) == ([message], [])


def test_the_csv_specialities_reach_the_dossier_read_only(candidate):
    candidate.user.student_number = "21900009"
    candidate.user.save()
    text = csv_text((*CSV_COLUMNS, *OPTIONAL_COLUMNS), REFORM_CSV)
    store_sis_records(students=parse_csv(text).students, actor=None)

    assert import_from_sis(candidate=candidate, actor=None)

    bac = Baccalaureate.objects.get(candidate=candidate)
    assert (bac.sis_locked, bac.school_uai, bac.speciality_1, bac.speciality_2, bac.dropped_speciality) == (
        True,
        "0660014A",
        "MATHS",
        "NSI",
        "PC",
    )
    assert bac.options == ["LATIN", "EURO"]


def test_a_record_stored_before_the_specialities_existed_still_loads(candidate):
    data = SIS_STUDENT.to_json()
    for key in ("school_uai", "speciality_1", "speciality_2", "dropped_speciality", *Baccalaureate.OPTION_FIELDS):
        del data["baccalaureate"][key]
    SisRecord.objects.create(student_number=SIS_STUDENT.student_number, data=data)
    candidate.user.student_number = SIS_STUDENT.student_number
    candidate.user.save()

    assert import_from_sis(candidate=candidate, actor=None)

    assert Baccalaureate.objects.get(candidate=candidate).speciality_1 == ""


# --- import: Pégase ------------------------------------------------------------------------------------------------


def pegase_bac(**schooling) -> SisBaccalaureate | None:
    backend = PegaseBackend(client=None, etablissement="E", ref_url="r", idt_url="i", ins_url="n")
    base = {"anneeObtentionBac": 2022, "typeSerieBac": {"code": "0021"}, "paysBac": {"code": "100"}}
    return backend._baccalaureate({**base, **schooling}, {"100": "FR"})


def test_pegase_first_and_second_specialities_are_the_final_year_ones():
    bac = pegase_bac(
        premiereSpecialiteBac={"code": "101", "libelleCourt": "MATHEMATIQUES"},
        deuxiemeSpecialiteBac={"code": "103"},
        etablissementBac={"code": "0660014A"},
    )

    assert (bac.speciality_1, bac.speciality_2, bac.dropped_speciality, bac.school_uai) == (
        "101",
        "103",
        "",
        "0660014A",
    )


def test_pegase_nulls_empty_strings_and_a_repeated_speciality():
    assert pegase_bac(premiereSpecialiteBac=None, deuxiemeSpecialiteBac={"code": ""}).speciality_1 == ""
    twice = pegase_bac(premiereSpecialiteBac={"code": "101"}, deuxiemeSpecialiteBac={"code": "101"})
    assert (twice.speciality_1, twice.speciality_2) == ("101", "")  # a dossier holds a spécialité once
    assert pegase_bac(etablissementBac={"code": "ETB-42"}).school_uai == ""  # not a UAI: not sent as COD_ETB


@pytest.fixture
def peer(settings, fresh_pegase_memory):
    process, url = start_pegase_peer("--page-size", "2")  # the spécialités span several pages
    try:
        configure_pegase(settings, url)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.mark.integration
def test_refresh_reads_pegase_specialities_nomenclature(peer):
    call_command("refresh_reference_data", stdout=io.StringIO())

    rows = {row.code: (row.label, row.visible, row.first_year) for row in ReferenceBacSpeciality.objects.all()}
    assert rows == {
        "101": ("MATHEMATIQUES", True, 2021),
        "102": ("PHYSIQUE-CHIMIE", True, 2021),  # libelleAffichage "": the long label
        "103": ("SCIENCES ECONOMIQUES ET SOCIALES", True, 2021),
        "104": ("NUMERIQUE ET SCIENCES INFORMATIQUES", True, 2021),
        "105": ("EDUCATION PHYSIQUE, PRATIQUES ET CULTURE SPORTIVES", True, 2023),
        "199": ("ANCIENNE SPECIALITE D'ESSAI", False, 2021),  # temoinVisible false: kept, not offered
    }  # the row without a code is skipped
    choices = BaccalaureateForm().fields["speciality_2"].choices
    assert [code for code, _label in choices] == ["", "105", "101", "104", "102", "103"]  # by label


@pytest.mark.integration
def test_a_row_pegase_stops_sending_is_hidden_and_still_named(peer, candidate):
    ReferenceBacSpeciality.objects.create(code="OLD", label="SPECIALITE RETIREE")
    BaccalaureateFactory(candidate=candidate, year=2022, speciality_1="OLD")

    call_command("refresh_reference_data", stdout=io.StringIO())

    assert ReferenceBacSpeciality.objects.get(code="OLD").visible is False
    assert Baccalaureate.objects.get(candidate=candidate).speciality_1_label == "SPECIALITE RETIREE"


@pytest.mark.integration
def test_a_pegase_student_dossier_gets_the_specialities(campaign, peer):
    report = Report()
    refresh_reference_data(backend=get_backend(), report=report)
    assert report.errors == []
    user = CandidateUserFactory(campaign=campaign, username="lbernard", student_number="21900002")

    open_dossier(user=user, actor=user)  # what the candidate's first login does

    bac = Candidate.objects.select_related("baccalaureate").get(user=user).baccalaureate
    assert (bac.sis_locked, bac.series, bac.school_uai) == (True, "0021", "0110022X")
    assert (bac.speciality_1_label, bac.speciality_2_label) == ("MATHEMATIQUES", "SCIENCES ECONOMIQUES ET SOCIALES")


# --- display ---------------------------------------------------------------------------------------------------------


@pytest.fixture
def application(centre, commission, campaign):
    formation = FormationFactory(centre=centre, commission=commission, code="L1ECO", title="Licence Économie")
    application = make_application(formation, campaign=campaign)
    BaccalaureateFactory(
        candidate=application.candidate,
        year=2022,
        school="LYCEE FRANCOIS ARAGO",
        school_uai="0660014A",
        **REFORM,
        option_1="Latin",
        option_2="Euro anglais",
    )
    return application


def test_staff_read_them_on_the_review_page(client, centre_manager, application, django_assert_num_queries):
    client.force_login(centre_manager)

    with django_assert_num_queries(REVIEW_PAGE_QUERIES):  # the review page's count, spécialités or not
        response = client.get(change_url(application), language="fr")

    page = response.content.decode()
    assert "<dt>Spécialité terminale 1</dt><dd>Mathématiques</dd>" in page
    assert "<dt>Spécialité de première abandonnée</dt><dd>Sciences de la vie et de la Terre</dd>" in page
    assert "<dt>Options</dt><dd>Latin, Euro anglais</dd>" in page
    assert "· UAI 0660014A</dd>" in page


def test_the_dossier_pdf_shows_them(application):
    with translation.override("fr"), build_dossier_pdf(application) as output:
        reader = PdfReader(io.BytesIO(output.read()))

    text = " ".join(" ".join(page.extract_text() for page in reader.pages).split())
    assert "Spécialité terminale 1 Mathématiques" in text
    assert "Spécialité terminale 2 Physique-chimie" in text
    assert "Spécialité de première abandonnée Sciences de la vie et de la Terre" in text
    assert "Options Latin, Euro anglais" in text


def test_the_export_columns(application):
    with translation.override("fr"):
        values = {
            str(column.label): column.value(application)
            for key, column in export_columns.COLUMNS.items()
            if key.startswith("bac_")
        }

    assert values == {
        "Série du bac": "Baccalauréat général",
        "Année du bac": 2022,
        "Mention du bac": "",
        "Établissement du bac": "LYCEE FRANCOIS ARAGO",
        "Pays du bac": "France",
        "Département du bac": "",
        "Ville du bac": "",
        "UAI de l’établissement du bac": "0660014A",
        "Spécialité 1 du bac": "Mathématiques",
        "Spécialité 2 du bac": "Physique-chimie",
        "Spécialité de première abandonnée du bac": "Sciences de la vie et de la Terre",
        "Options du bac": "Latin, Euro anglais",
    }


def test_the_export_reads_the_sis_labels_once_whatever_the_rows(application, sis_lists, django_assert_num_queries):
    Baccalaureate.objects.filter(candidate=application.candidate).update(speciality_1="101", speciality_2="199")
    row = type(application).objects.select_related("candidate__baccalaureate").get(pk=application.pk)

    with django_assert_num_queries(1):  # the SIS's spécialités, hidden ones included; then from memory
        values = [export_columns.COLUMNS[key].value(row) for key in ("bac_speciality_1", "bac_speciality_2")] * 2

    assert values == ["MATHEMATIQUES", "ANCIENNE SPECIALITE"] * 2


# --- Apogée OPI file -------------------------------------------------------------------------------------------------


@pytest.fixture
def _apogee(pegase_opi):
    pegase_opi.OPI_BACKEND = "apogee"


@pytest.fixture
def opi_formation(centre, commission):
    return FormationFactory(
        centre=centre,
        commission=commission,
        code="M1ENER",
        apogee_cge="PER",
        apogee_step_code="M1ENE",
        apogee_step_version="101",
    )


@pytest.fixture
def opi_candidate(campaign):
    return make_candidate(campaign)  # a bac GEN of 2019, département 66, mention AB


def opi_rows(candidate, formation, manager, decision_type, time_machine) -> list[dict]:
    time_machine.move_to(DAY1)
    confirm(admit(candidate, formation, manager=manager, decision_type=decision_type))
    (_name, text), *_others = transfer_opis(Report()).files.items()
    _header, rows = parse(text)
    return rows


def test_the_apogee_bac_columns_follow_the_web_service_order():
    # DonneesOpiDTO10's bac: codBac, codDep, codEtb, codMention, daaObtBacOba, spécialités, options.
    assert COLUMNS[COLUMNS.index("COD_BAC") : COLUMNS.index("COD_PAY_ADR")] == [
        "COD_BAC",
        "COD_DEP_BAC",
        "COD_ETB",
        "COD_MNB",
        "DAA_OBT_BAC_OBA",
        "COD_SPE1_BAC_TER",
        "COD_SPE2_BAC_TER",
        "COD_SPE_BAC_PRE",
        "COD_OPT1_BAC",
        "COD_OPT2_BAC",
        "COD_OPT3_BAC",
        "COD_OPT4_BAC",
    ]


@pytest.mark.usefixtures("_apogee")
def test_the_apogee_file_carries_the_school_specialities_and_options(
    opi_candidate, opi_formation, centre_manager, opi_type, time_machine
):
    Baccalaureate.objects.filter(candidate=opi_candidate).update(
        year=2022, school_uai="0660014A", **REFORM, option_1="LATIN", option_2="Euro;anglais", option_4="GREC"
    )

    [row] = opi_rows(opi_candidate, opi_formation, centre_manager, opi_type, time_machine)

    assert {column: row[column] for column in BAC_COLUMNS} == {
        "COD_BAC": "GEN",
        "COD_DEP_BAC": "066",
        "COD_ETB": "0660014A",
        "COD_MNB": "AB",
        "DAA_OBT_BAC_OBA": "2022",
        "COD_SPE1_BAC_TER": "MATHS",
        "COD_SPE2_BAC_TER": "PC",
        "COD_SPE_BAC_PRE": "SVT",
        "COD_OPT1_BAC": "LATIN",
        "COD_OPT2_BAC": "Euro anglais",  # the file has no quote character: a ";" becomes a space
        "COD_OPT3_BAC": "",
        "COD_OPT4_BAC": "GREC",
    }
    assert row["COD_ETP"] == "M1ENE"  # the wish columns follow, unchanged


@pytest.mark.usefixtures("_apogee")
def test_without_a_bac_the_bac_columns_are_empty(opi_candidate, opi_formation, centre_manager, opi_type, time_machine):
    Baccalaureate.objects.filter(candidate=opi_candidate).delete()
    Baccalaureate.objects.create(candidate=opi_candidate, has_bac=False)

    [row] = opi_rows(opi_candidate, opi_formation, centre_manager, opi_type, time_machine)

    assert [row[column] for column in BAC_COLUMNS] == [""] * 12


BAC_COLUMNS = COLUMNS[COLUMNS.index("COD_BAC") : COLUMNS.index("COD_OPT4_BAC") + 1]


# --- the page in a browser: static/js/bac.js -----------------------------------------------------------------------


@pytest.mark.browser
def test_the_specialities_are_asked_for_a_bac_general_from_2021_only(
    live_server, transactional_db, browser_page, campaign
):
    page = browser_page
    candidate = CandidateFactory(user__campaign=campaign)
    AddressFactory(candidate=candidate)
    log_in_browser(page, live_server, candidate.user)
    page.goto(live_server.url + reverse("applications:baccalaureate") + "?avec-bac=1")
    group = page.locator("#bac-specialities")

    page.select_option("#id_series", "GEN")
    page.fill("#id_year", "2019")
    assert group.is_hidden()
    page.fill("#id_year", "2022")
    assert group.is_visible()
    page.select_option("#id_country", "FR")
    page.select_option("#id_speciality_1", "MATHS")
    page.select_option("#id_speciality_2", "SES")
    page.fill("#id_option_1", "Latin")
    assert_no_serious_axe_violations(page)
    page.locator("main form.panel button[type=submit]").click()
    page.locator(".message--success").first.wait_for()

    bac = Baccalaureate.objects.get(candidate=candidate)
    assert (bac.speciality_1, bac.speciality_2, bac.option_1) == ("MATHS", "SES", "Latin")

    # Another series hides them and leaves them out of the POST: the bac keeps none.
    page.goto(live_server.url + reverse("applications:baccalaureate"))
    assert group.is_visible()
    page.select_option("#id_series", "STMG")
    assert group.is_hidden()
    page.locator("main form.panel button[type=submit]").click()
    page.locator(".message--success").first.wait_for()

    bac.refresh_from_db()
    assert (bac.series, bac.speciality_1, bac.speciality_2, bac.option_1) == ("STMG", "", "", "Latin")
