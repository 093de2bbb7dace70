"""Staff correcting a dossier in the back office get the rules of the candidate's baccalaureate and external cursus
forms, the same code (``applications.forms.BaccalaureateRules``, ``ExternalCursusRules``) with the same French
message beside the same field, and a refused save writes nothing: a series outside the list or its years, spécialités
for a bac that has none or twice the same, a school typed as an unknown UAI, a bac without its series or year, a
cursus in France without its département or commune, or one abroad keeping a French place, were saved from the
dossier's page (or refused by the database with a message at the top of the section) while the candidate's forms
refused them beside the field. Staff keep their leeway: a value left as stored still saves (an imported dossier, one
typed before a rule), and no deadline locks the page."""

import pytest
from django.urls import reverse

from applications.models import (
    Baccalaureate,
    ExternalCursus,
    ReferenceBacSeries,
    ReferenceCommune,
    ReferenceSchool,
)
from applications.models.reference import forget_reference_lists
from applications.tests.factories import BaccalaureateFactory, ExternalCursusFactory
from applications.tests.helpers import dossier_form_data

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("back_office_in_french")]

REQUIRED = "Ce champ est obligatoire."
REFORM_ONLY = (
    "Les spécialités ne concernent que le baccalauréat général obtenu à partir de 2021 : laissez ce champ vide."
)
NO_UAI = "Aucun établissement ne porte ce numéro UAI."
# The dossier page of a centre manager with cursus rows in France once the SIS's communes are loaded.
PAGE_WITH_COMMUNES = 25


@pytest.fixture
def application(dossier_to_correct):
    return dossier_to_correct  # applications/tests/conftest.py; ``corrector`` too


@pytest.fixture
def communes():
    ReferenceCommune.objects.bulk_create(
        [
            ReferenceCommune(code="66136", label="PERPIGNAN", insee_code="66136", postal_code="66000"),
            ReferenceCommune(code="66008", label="ARGELES-SUR-MER", insee_code="66008", postal_code="66700"),
            ReferenceCommune(code="34172", label="MONTPELLIER", insee_code="34172", postal_code="34000"),
        ]
    )
    forget_reference_lists()


@pytest.fixture
def schools(communes):
    ReferenceSchool.objects.create(
        code="0660014A", label="LYCEE FRANCOIS ARAGO", department="66", commune_insee_code="66136"
    )
    forget_reference_lists()


def _url(candidate):
    return reverse("admin:applications_candidate_change", args=[candidate.pk])


def _errors(response, prefix):
    (inline,) = [i for i in response.context["inline_admin_formsets"] if i.formset.prefix == prefix]
    return {name: [str(m) for m in messages] for name, messages in inline.formset.forms[0].errors.items()}


def _post(client, candidate, prefix, **changes):
    data = dossier_form_data(client.get(_url(candidate)))
    data.update({f"{prefix}-0-{name}": value for name, value in changes.items()})
    return client.post(_url(candidate), data)


# --- the baccalaureate ---------------------------------------------------------------------------------------------

BAD_BACS = [
    # Spécialités for a bac that has none: a technological series, a bac général before the reform.
    ({"series": "STMG", "speciality_1": "MATHS"}, "speciality_1", REFORM_ONLY),
    ({"year": "2019", "speciality_2": "PC"}, "speciality_2", REFORM_ONLY),
    (
        {"speciality_1": "MATHS", "speciality_2": "MATHS"},
        "speciality_2",
        "Choisissez deux spécialités de terminale différentes.",
    ),
    (
        {"speciality_1": "MATHS", "speciality_2": "PC", "dropped_speciality": "PC"},
        "dropped_speciality",
        "La spécialité de première abandonnée doit être différente de vos deux spécialités de terminale.",
    ),
    ({"series": "XYZ"}, "series", "Sélectionnez un choix valide. XYZ n’en fait pas partie."),
    ({"series": ""}, "series", REQUIRED),
    ({"year": ""}, "year", REQUIRED),
    ({"country": ""}, "country", REQUIRED),
]


@pytest.mark.parametrize(("changes", "name", "message"), BAD_BACS)
def test_a_bad_baccalaureate_is_refused_beside_its_field(client, corrector, application, changes, name, message):
    bac = BaccalaureateFactory(candidate=application.candidate, series="GEN", year=2022, department="66")
    client.force_login(corrector)

    response = _post(client, application.candidate, "baccalaureate", **changes)

    assert response.status_code == 200
    assert _errors(response, "baccalaureate")[name] == [message]
    stored = Baccalaureate.objects.get(pk=bac.pk)
    assert (stored.series, stored.year, stored.country, stored.speciality_1, stored.speciality_2) == (
        "GEN",
        2022,
        "FR",
        "",
        "",
    )
    assert not application.events.exists()


def test_a_series_outside_the_years_the_sis_gives_it_is_refused(client, centre_manager, application):
    ReferenceBacSeries.objects.create(code="S", label="BAC S", first_year=1995, last_year=2020)
    forget_reference_lists()
    BaccalaureateFactory(candidate=application.candidate, series="S", year=2019)
    client.force_login(centre_manager)

    response = _post(client, application.candidate, "baccalaureate", year="2022")

    assert _errors(response, "baccalaureate")["series"] == [
        "Cette série a été délivrée de 1995 à 2020 : vérifiez la série ou l’année."
    ]
    assert Baccalaureate.objects.get().year == 2019


def test_a_school_typed_as_an_unknown_uai_is_refused_beside_the_school(client, corrector, application, schools):
    BaccalaureateFactory(candidate=application.candidate, school="Lycée Arago")
    client.force_login(corrector)

    response = _post(client, application.candidate, "baccalaureate", school="0000000X")

    assert _errors(response, "baccalaureate")["school"] == [NO_UAI]
    assert Baccalaureate.objects.get().school == "Lycée Arago"


def test_a_school_typed_as_its_uai_is_named_placed_and_numbered(client, corrector, application, schools):
    BaccalaureateFactory(candidate=application.candidate, series="GEN", year=2022, school="Lycée Arago")
    client.force_login(corrector)

    response = _post(client, application.candidate, "baccalaureate", school="0660014a", department="", city="")

    assert response.status_code == 302, _errors(response, "baccalaureate")
    bac = Baccalaureate.objects.get()
    assert (bac.school, bac.school_uai, bac.department, bac.city) == (
        "LYCEE FRANCOIS ARAGO",
        "0660014A",
        "66",
        "PERPIGNAN",
    )
    assert "établissement : Lycée Arago → LYCEE FRANCOIS ARAGO" in application.events.get().comment
    # Another school typed by name: the number goes with the school it named.
    response = _post(client, application.candidate, "baccalaureate", school="Lycée Jean Lurçat")
    assert response.status_code == 302
    assert Baccalaureate.objects.get().school_uai == ""


def test_the_uai_is_shown_not_typed(client, centre_manager, application):
    """The number comes with the school typed as it, as on the candidate's form: a number typed apart from the
    school was never checked."""
    BaccalaureateFactory(candidate=application.candidate, school="LYCEE FRANCOIS ARAGO", school_uai="0660014A")
    client.force_login(centre_manager)
    data = dossier_form_data(client.get(_url(application.candidate)))
    data["baccalaureate-0-school_uai"] = "1234567Z"

    response = client.post(_url(application.candidate), data)

    assert response.status_code == 302
    assert Baccalaureate.objects.get().school_uai == "0660014A"


def test_a_bac_abroad_keeps_no_department(client, corrector, application):
    BaccalaureateFactory(candidate=application.candidate, department="66")
    client.force_login(corrector)

    response = _post(client, application.candidate, "baccalaureate", country="ES")

    assert response.status_code == 302
    assert (Baccalaureate.objects.get().country, Baccalaureate.objects.get().department) == ("ES", "")


def test_unticking_the_bac_empties_it_as_the_candidates_no_bac_does(client, corrector, application):
    BaccalaureateFactory(
        candidate=application.candidate, year=2022, speciality_1="MATHS", speciality_2="PC", school="Lycée Arago"
    )
    client.force_login(corrector)

    response = _post(client, application.candidate, "baccalaureate", has_bac="")

    assert response.status_code == 302, _errors(response, "baccalaureate")
    bac = Baccalaureate.objects.get()
    assert (bac.has_bac, bac.series, bac.year, bac.speciality_1, bac.school, bac.country) == (
        False,
        "",
        None,
        "",
        "",
        "",
    )


def test_a_bac_given_to_a_candidate_without_one_needs_its_series_year_and_country(client, corrector, application):
    Baccalaureate.objects.create(candidate=application.candidate, has_bac=False)
    client.force_login(corrector)

    refused = _post(client, application.candidate, "baccalaureate", has_bac="on")
    taken = _post(
        client, application.candidate, "baccalaureate", has_bac="on", series="STMG", year="2020", country="FR"
    )

    assert {name: _errors(refused, "baccalaureate")[name] for name in ("series", "year", "country")} == {
        "series": [REQUIRED],
        "year": [REQUIRED],
        "country": [REQUIRED],
    }
    assert taken.status_code == 302, _errors(taken, "baccalaureate")
    bac = Baccalaureate.objects.get()
    assert (bac.has_bac, bac.series, bac.year) == (True, "STMG", 2020)


def test_details_typed_without_ticking_the_bac_are_refused_beside_the_box(client, centre_manager, application):
    Baccalaureate.objects.create(candidate=application.candidate, has_bac=False)
    client.force_login(centre_manager)
    client.language = "en"  # the message is new: its French is built into the catalogue by the lead

    response = _post(client, application.candidate, "baccalaureate", series="STMG", year="2020")

    assert _errors(response, "baccalaureate")["has_bac"] == [
        "A candidate without the baccalaureate has none of its details: tick this box to enter them."
    ]
    assert Baccalaureate.objects.get().series == ""


def test_a_bac_stored_before_the_rules_still_saves_when_staff_correct_something_else(client, corrector, application):
    """Spécialités imported with a bac of 2019, a series the list no longer has: staff correcting the honours are
    not refused for what they did not touch."""
    Baccalaureate.objects.create(
        candidate=application.candidate, series="OLD", year=2019, country="", speciality_1="MATHS"
    )
    client.force_login(corrector)

    response = _post(client, application.candidate, "baccalaureate", mention="AB")

    assert response.status_code == 302, _errors(response, "baccalaureate")
    bac = Baccalaureate.objects.get()
    assert (bac.mention, bac.series, bac.speciality_1) == ("AB", "OLD", "MATHS")


# --- the external cursus -------------------------------------------------------------------------------------------


BAD_CURSUS = [
    ({"department": ""}, "department", "Indiquez le département pour un cursus en France."),
    ({"city": ""}, "city", "Indiquez la commune."),
    ({"department": "99"}, "department", "Choisissez un département dans la liste."),
    ({"year": "2099"}, "year", None),  # the model's bounds, as the candidate's (test_dossier_years)
]


@pytest.mark.parametrize(("changes", "name", "message"), BAD_CURSUS)
def test_a_bad_cursus_in_france_is_refused_beside_its_field(client, corrector, application, changes, name, message):
    cursus = ExternalCursusFactory(candidate=application.candidate, department="66", city="Perpignan")
    client.force_login(corrector)

    response = _post(client, application.candidate, "external_cursus", **changes)

    assert response.status_code == 200
    errors = _errors(response, "external_cursus")
    assert errors[name] == [message] if message else errors[name][0].startswith("Saisissez une année entre 1900 et")
    stored = ExternalCursus.objects.get(pk=cursus.pk)
    assert (stored.year, stored.department, stored.city) == (2022, "66", "Perpignan")
    assert not application.events.exists()


def test_a_cursus_abroad_keeps_no_place_in_france(client, corrector, application):
    ExternalCursusFactory(candidate=application.candidate, department="66", city="Perpignan")
    client.force_login(corrector)

    response = _post(client, application.candidate, "external_cursus", country="ES", school="Universidad de Madrid")

    # Was refused by the database's constraint, with a message at the top of the section ("A cursus abroad…").
    assert response.status_code == 302, _errors(response, "external_cursus")
    cursus = ExternalCursus.objects.get()
    assert (cursus.country, cursus.department, cursus.city) == ("ES", "", "")


def test_with_the_sis_communes_the_city_is_one_of_the_departments(client, corrector, application, communes):
    ExternalCursusFactory(candidate=application.candidate, department="66", city="PERPIGNAN", city_insee_code="66136")
    client.force_login(corrector)

    other_department = _post(client, application.candidate, "external_cursus", city="34172")
    taken = _post(client, application.candidate, "external_cursus", city="66008")

    assert _errors(other_department, "external_cursus")["city"] == [
        (
            "Cette commune n’est pas dans le département Pyrénées-Orientales (66) : choisissez l’une de ses "
            "communes, ou choisissez un autre département et enregistrez."
        )
    ]
    assert taken.status_code == 302, _errors(taken, "external_cursus")
    cursus = ExternalCursus.objects.get()
    assert (cursus.city, cursus.city_insee_code) == ("ARGELES-SUR-MER", "66008")
    # The history names the communes, not their codes.
    assert "commune : PERPIGNAN → ARGELES-SUR-MER" in application.events.get().comment


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"school": "0000000X"}, NO_UAI),
        (
            {"department": "34", "city": "34172", "school": "0660014A"},
            "Cet établissement est dans le département Pyrénées-Orientales (66), pas Hérault (34).",
        ),
    ],
)
def test_a_wrong_uai_is_refused_beside_the_school(client, corrector, application, schools, changes, message):
    ExternalCursusFactory(candidate=application.candidate, department="66", city="PERPIGNAN", city_insee_code="66136")
    client.force_login(corrector)

    response = _post(client, application.candidate, "external_cursus", **changes)

    assert _errors(response, "external_cursus")["school"] == [message]
    assert ExternalCursus.objects.get().school == "Lycée Arago"


def test_a_school_typed_as_its_uai_is_named_and_numbered(client, corrector, application, schools):
    ExternalCursusFactory(candidate=application.candidate, department="66", city="PERPIGNAN", city_insee_code="66136")
    client.force_login(corrector)

    response = _post(client, application.candidate, "external_cursus", school="0660014A")

    assert response.status_code == 302, _errors(response, "external_cursus")
    cursus = ExternalCursus.objects.get()
    assert (cursus.school, cursus.school_uai, cursus.city_insee_code) == ("LYCEE FRANCOIS ARAGO", "0660014A", "66136")


@pytest.mark.parametrize("with_communes", [False, True])
def test_a_cursus_stored_before_the_rules_still_saves(client, corrector, application, with_communes, request):
    """A cursus in France typed before the département and the commune were asked (its commune has no code): staff
    correcting its title are not refused for its place, which stays as stored."""
    if with_communes:
        request.getfixturevalue("communes")
    ExternalCursusFactory(candidate=application.candidate, city="Perpignan")  # no département
    client.force_login(corrector)

    response = _post(client, application.candidate, "external_cursus", label="BTS SIO option SLAM")

    assert response.status_code == 302, _errors(response, "external_cursus")
    cursus = ExternalCursus.objects.get()
    assert (cursus.label, cursus.department, cursus.city, cursus.city_insee_code) == (
        "BTS SIO option SLAM",
        "",
        "Perpignan",
        "",
    )


# --- what a refusal costs ------------------------------------------------------------------------------------------


def test_a_refused_post_writes_nothing_and_costs_what_any_refusal_costs(
    client, centre_manager, application, django_assert_num_queries
):
    BaccalaureateFactory(candidate=application.candidate, series="GEN", year=2022)
    ExternalCursusFactory(candidate=application.candidate, department="66", city="Perpignan")
    client.force_login(centre_manager)
    data = dossier_form_data(client.get(_url(application.candidate)))
    data.update(
        {
            "baccalaureate-0-series": "STMG",
            "baccalaureate-0-speciality_1": "MATHS",
            "external_cursus-0-department": "",
        }
    )

    # Session, user, the request's savepoints, the staff's rights, the dossier, its version, each section read (and
    # its uniqueness, the bac's constraint) and the applications to draw the page again, the user for the page: the
    # rules cost no query (no reference list loaded, no school looked up), and nothing is written.
    with django_assert_num_queries(32):
        response = client.post(_url(application.candidate), data)

    assert response.status_code == 200
    assert _errors(response, "baccalaureate")["speciality_1"] == [REFORM_ONLY]
    assert _errors(response, "external_cursus")["department"] == ["Indiquez le département pour un cursus en France."]
    assert Baccalaureate.objects.get().series == "GEN"
    assert ExternalCursus.objects.get().department == "66"
    assert not application.events.exists()


@pytest.mark.parametrize("rows", [1, 3])
def test_the_page_reads_a_departments_communes_once_whatever_the_rows(
    client, centre_manager, application, communes, rows, django_assert_num_queries
):
    for _row in range(rows):
        ExternalCursusFactory(
            candidate=application.candidate, department="66", city="PERPIGNAN", city_insee_code="66136"
        )
    client.force_login(centre_manager)

    # The dossier's page, its sections, the reference lists' first reading in this process (communes, schools)
    # and the communes of the Pyrénées-Orientales once for every row.
    with django_assert_num_queries(PAGE_WITH_COMMUNES):
        response = client.get(_url(application.candidate))

    html = response.content.decode()
    assert html.count('<option value="66136" selected>PERPIGNAN</option>') == rows


def test_a_new_cursus_row_says_its_communes_come_once_saved(
    client, centre_manager, application, communes, django_assert_num_queries
):
    """The staff's page has no « Valider le département » button: the help of a row without département says to
    save (the candidate's says to validate it)."""
    ExternalCursusFactory(candidate=application.candidate, department="66", city="PERPIGNAN", city_insee_code="66136")
    client.force_login(centre_manager)

    with django_assert_num_queries(PAGE_WITH_COMMUNES):
        response = client.get(_url(application.candidate))

    html = response.content.decode()
    assert "Choisissez d’abord le département et enregistrez : ses communes s’affichent alors ici." in html
    assert "et validez-le : ses communes" not in html
