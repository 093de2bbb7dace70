"""The external cursus (cursus post-bac) with its diploma of another cursus, and in France its département, commune
and school (ecandidat-features §1.3): the candidate's form without JavaScript, the staff review page, the dossier PDF
and the export."""

import io

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation
from pypdf import PdfReader
from pytest_django.asserts import assertContains, assertNotContains

from applications import export_columns
from applications.dossier_pdf import build_dossier_pdf
from applications.forms import ExternalCursusForm
from applications.models import ExternalCursus, ReferenceCommune, ReferenceOtherDiploma, ReferenceSchool
from applications.models.reference import forget_reference_lists
from applications.tests.factories import ExternalCursusFactory
from applications.tests.factories_candidature import make_application
from applications.tests.helpers import REVIEW_PAGE_QUERIES, change_url
from offers.tests.factories import FormationFactory

pytestmark = pytest.mark.django_db

ADD = "applications:external_cursus_add"
LIST = "applications:external_cursus_list"
CURSUS = {
    "year": "2023",
    "label": "Licence 3 Biologie",
    "diploma": "LIC",
    "obtained": "O",
    "mention": "",
    "country": "FR",
    "department": "66",
    "city": "Perpignan",
    "school": "Université de Perpignan",
}


@pytest.fixture
def communes():
    """The SIS's communes: Perpignan under two postal codes, Argelès in the same département, Montpellier in 34."""
    ReferenceCommune.objects.bulk_create(
        [
            ReferenceCommune(code="66136-1", label="PERPIGNAN", insee_code="66136", postal_code="66000"),
            ReferenceCommune(code="66136-2", label="PERPIGNAN", insee_code="66136", postal_code="66100"),
            ReferenceCommune(code="66008", label="ARGELES-SUR-MER", insee_code="66008", postal_code="66700"),
            ReferenceCommune(code="34172", label="MONTPELLIER", insee_code="34172", postal_code="34000"),
        ]
    )
    forget_reference_lists()


def post(client, url_name=ADD, **changes):
    return client.post(reverse(url_name), {**CURSUS, **changes})


# --- the reference list and the migration -------------------------------------------------------------------------


def test_the_migration_seeds_the_diplomas_of_other_cursus():
    assert ReferenceOtherDiploma.objects.filter(visible=True).count() >= 20
    assert ReferenceOtherDiploma.objects.get(code="BTS").label == "Brevet de technicien supérieur (BTS)"


def test_a_row_entered_before_keeps_valid_and_reads_without_the_new_fields(candidate):
    row = ExternalCursusFactory(candidate=candidate, country="ES", school="Universidad de Barcelona")

    row.full_clean()
    assert (row.department, row.city, row.diploma, row.place_label, row.diploma_label) == ("", "", "", "", "")


def test_the_database_refuses_a_place_in_france_for_a_cursus_abroad(candidate):
    with pytest.raises(IntegrityError), transaction.atomic():
        ExternalCursusFactory(candidate=candidate, country="ES", department="66")


# --- the form, without the SIS's communes (typed city) --------------------------------------------------------------


def test_a_cursus_in_france_is_saved_with_its_diploma_department_and_city(owner_client, candidate):
    response = post(owner_client)

    assert response.status_code == 302
    row = ExternalCursus.objects.get(candidate=candidate)
    assert (row.diploma, row.department, row.city, row.city_insee_code) == ("LIC", "66", "Perpignan", "")
    assert row.diploma_label == "Licence"
    assert row.place_label == "Perpignan, Pyrénées-Orientales (66)"


def test_the_diploma_is_optional(owner_client, candidate):
    assert post(owner_client, diploma="").status_code == 302
    assert ExternalCursus.objects.get(candidate=candidate).diploma == ""


def test_a_cursus_in_france_needs_its_department_and_city(owner_client, candidate):
    response = post(owner_client, department="", city="")

    assert response.status_code == 200
    assertContains(response, 'id="id_department_error"')
    assertContains(response, "Give the department for a cursus in France.")
    assertContains(response, 'id="id_city_error"')
    assert not ExternalCursus.objects.exists()


def test_errors_are_beside_their_field_and_described(owner_client):
    response = post(owner_client, department="", city="")
    html = response.content.decode()

    select = html[html.index('<select name="department"') :].split(">")[0]
    assert 'aria-invalid="true"' in select
    assert "id_department_error" in select


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("department", "99", "Choose a department from the list."),
        ("diploma", "NOPE", "Choose a diploma from the list."),
    ],
)
def test_a_value_outside_the_lists_is_refused_with_its_message(owner_client, field, value, message):
    response = post(owner_client, **{field: value})

    assert response.status_code == 200
    assertContains(response, f'id="id_{field}_error"')
    assertContains(response, message)
    assert not ExternalCursus.objects.exists()


def test_a_cursus_abroad_keeps_no_place_in_france(owner_client, candidate):
    # A département chosen before the country changed, without JavaScript to clear it.
    response = post(owner_client, country="ES", department="66", city="Perpignan", school="Universidad de Barcelona")

    assert response.status_code == 302
    row = ExternalCursus.objects.get(candidate=candidate)
    assert (row.country, row.department, row.city, row.school) == ("ES", "", "", "Universidad de Barcelona")


def test_a_hidden_diploma_stays_offered_to_the_row_that_holds_it(owner_client, candidate):
    ReferenceOtherDiploma.objects.filter(code="DEUG").update(visible=False)
    forget_reference_lists()
    row = ExternalCursusFactory(candidate=candidate, diploma="DEUG", department="66", city="Perpignan")
    url = reverse("applications:external_cursus_edit", kwargs={"public_id": row.public_id})

    assertContains(owner_client.get(url), '<option value="DEUG" selected lang="fr">')  # no English label: French
    assertNotContains(owner_client.get(reverse(ADD)), 'value="DEUG"')
    assert owner_client.post(url, {**CURSUS, "diploma": "DEUG"}).status_code == 302


# --- the form with the SIS's communes: the "Validate the department" step -------------------------------------------


def test_without_javascript_the_department_step_lists_its_cities(owner_client, candidate, communes):
    page = owner_client.get(reverse(ADD))
    assertContains(page, 'name="choose_department"')
    assertContains(page, "Choose the department first and validate it")
    assertNotContains(page, 'value="66136"')

    step = post(owner_client, city="", choose_department="1")

    assert step.status_code == 200
    assert not ExternalCursus.objects.exists()  # the step saves nothing
    assertNotContains(step, "_error")  # and shows no error yet
    html = step.content.decode()
    assert html.count('<option value="66136">PERPIGNAN</option>') == 1  # one line per commune, not per postal code
    assert 'value="66008"' in html
    assert 'value="34172"' not in html
    assertContains(step, 'value="Licence 3 Biologie"')  # what was typed comes back

    saved = post(owner_client, city="66136")

    assert saved.status_code == 302
    row = ExternalCursus.objects.get(candidate=candidate)
    assert (row.department, row.city, row.city_insee_code) == ("66", "PERPIGNAN", "66136")


def test_a_city_of_another_department_is_refused_beside_the_field(owner_client, communes):
    response = post(owner_client, city="34172")

    assert response.status_code == 200
    assertContains(response, 'id="id_city_error"')
    assertContains(response, "This city is not in the department Pyrénées-Orientales (66)")
    assert not ExternalCursus.objects.exists()


@pytest.mark.parametrize("city", ["", "Perpignan", "99999"])
def test_the_city_must_come_from_the_list(owner_client, communes, city):
    response = post(owner_client, city=city)

    assertContains(response, "Choose the city from the list of the department&#x27;s cities.")
    assert not ExternalCursus.objects.exists()


def test_editing_shows_the_saved_city_selected(owner_client, candidate, communes):
    row = ExternalCursusFactory(
        candidate=candidate, department="66", city="PERPIGNAN", city_insee_code="66136", diploma="BTS"
    )

    response = owner_client.get(reverse("applications:external_cursus_edit", kwargs={"public_id": row.public_id}))

    assertContains(response, '<option value="66136" selected>PERPIGNAN</option>', html=False)
    assertContains(response, '<option value="66" selected>66 - Pyrénées-Orientales</option>')


def test_the_pages_queries(owner_client, candidate, communes, django_assert_num_queries):
    # Session, user, candidate, the version of the list of cursus (``rows_version``), then the lists read once per
    # process (diplomas, communes and schools loaded?, countries), then the page's own.
    with django_assert_num_queries(10):
        owner_client.get(reverse(ADD))
    with django_assert_num_queries(6):  # the lists read already; + the communes of the département
        post(owner_client, city="", choose_department="1")
    ExternalCursusFactory.create_batch(3, candidate=candidate, diploma="BTS", department="66", city="PERPIGNAN")
    with django_assert_num_queries(6):  # the rows and their diplomas' labels: no query per row
        response = owner_client.get(reverse(LIST))
    assertContains(response, "Brevet de technicien supérieur (BTS)", count=3)
    assertContains(response, "PERPIGNAN, Pyrénées-Orientales (66)", count=3)


# --- the school by its UAI ------------------------------------------------------------------------------------------


@pytest.fixture
def schools(communes):
    ReferenceSchool.objects.create(
        code="0660437S", label="UNIVERSITE DE PERPIGNAN", department="66", commune_insee_code="66136"
    )
    forget_reference_lists()


def test_a_school_typed_as_its_uai_is_named_and_kept(owner_client, candidate, schools):
    assert post(owner_client, city="66136", school="0660437s").status_code == 302

    row = ExternalCursus.objects.get(candidate=candidate)
    assert (row.school, row.school_uai) == ("UNIVERSITE DE PERPIGNAN", "0660437S")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"school": "0000000X"}, "No school has this UAI number."),
        (
            {"department": "34", "city": "34172", "school": "0660437S"},
            "This school is in the department Pyrénées-Orientales (66), not Hérault (34).",
        ),
    ],
)
def test_a_wrong_uai_is_refused_beside_the_school(owner_client, schools, changes, message):
    response = post(owner_client, **{"city": "66136", **changes})

    assertContains(response, 'id="id_school_error"')
    assertContains(response, message)
    assert not ExternalCursus.objects.exists()


# --- who may -------------------------------------------------------------------------------------------------------


def test_another_candidate_gets_404_even_on_the_department_step(client, candidate, other_candidate):
    row = ExternalCursusFactory(candidate=candidate)
    client.force_login(other_candidate.user)
    url = reverse("applications:external_cursus_edit", kwargs={"public_id": row.public_id})

    assert client.post(url, {**CURSUS, "choose_department": "1"}).status_code == 404


@pytest.mark.parametrize("persona", ["centre_manager", "commission_member", "central_manager"], indirect=True)
def test_staff_get_404_on_the_candidate_form(client, persona):
    client.force_login(persona)

    assert client.post(reverse(ADD), {**CURSUS, "choose_department": "1"}).status_code == 404


def test_the_department_step_keeps_the_form_unbound():
    form = ExternalCursusForm.department_step({**CURSUS, "city": "x"})

    assert not form.is_bound
    assert form.chosen_department == "66"


# --- staff review page, dossier PDF, export -------------------------------------------------------------------------


@pytest.fixture
def application(centre, commission, campaign):
    formation = FormationFactory(centre=centre, commission=commission, code="M1BIO", title="Master Biologie")
    application = make_application(formation, campaign=campaign)
    ExternalCursusFactory(
        candidate=application.candidate,
        year=2023,
        label="Licence 3 Biologie",
        diploma="LIC",
        department="66",
        city="PERPIGNAN",
        city_insee_code="66136",
        school="Université de Perpignan",
    )
    return application


@pytest.mark.parametrize("persona", ["centre_manager", "commission_member", "central_manager"], indirect=True)
def test_staff_review_page_shows_the_diploma_and_place(client, persona, application):
    client.force_login(persona)

    response = client.get(change_url(application))

    assertContains(
        response, "Licence 3 Biologie · Licence · Université de Perpignan, PERPIGNAN, Pyrénées-Orientales (66)"
    )


def test_the_dossier_pdf_shows_the_diploma_and_place(application):
    with translation.override("fr"), build_dossier_pdf(application) as output:
        reader = PdfReader(io.BytesIO(output.read()))

    text = " ".join(" ".join(page.extract_text() for page in reader.pages).split())
    assert "2023 - Licence 3 Biologie (Licence) - Université de Perpignan, PERPIGNAN, Pyrénées-Orientales (66)" in text


def test_the_export_columns_of_the_last_cursus(application):
    values = {
        key: export_columns.COLUMNS[key].value(application)
        for key in ("last_diploma_type", "last_diploma_department", "last_diploma_city", "last_diploma_school")
    }

    assert values == {
        "last_diploma_type": "Licence",
        "last_diploma_department": "Pyrénées-Orientales (66)",
        "last_diploma_city": "PERPIGNAN",
        "last_diploma_school": "Université de Perpignan",
    }


@pytest.mark.parametrize("rows", [1, 4])
def test_staff_review_page_queries_do_not_grow_with_the_rows(client, centre_manager, application, rows):
    ExternalCursusFactory.create_batch(rows - 1, candidate=application.candidate, diploma="BTS", department="34")
    client.force_login(centre_manager)
    client.get(change_url(application))  # the per-process lists read once

    with CaptureQueriesContext(connection) as queries:
        response = client.get(change_url(application))

    assert response.status_code == 200
    assert len(queries) == REVIEW_PAGE_QUERIES  # as without the new fields: no query per row
    assertContains(response, "Hérault (34)", count=rows - 1)


# --- the list of diplomas in the back office -------------------------------------------------------------------------

DIPLOMAS = "admin:applications_referenceotherdiploma_changelist"


def test_central_office_keeps_the_list_of_diplomas(client, central_manager, django_assert_num_queries):
    client.force_login(central_manager)
    row = ReferenceOtherDiploma.objects.get(code="BTS")
    change = reverse("admin:applications_referenceotherdiploma_change", args=[row.pk])

    with django_assert_num_queries(9):
        response = client.get(reverse(DIPLOMAS))
    assert response.status_code == 200
    assertContains(client.get(reverse(DIPLOMAS) + "?q=BTS"), "Brevet de technicien supérieur")

    other_diploma_label_before = ExternalCursus(diploma="BTS").diploma_label
    response = client.post(change, {"code": "CHANGED", "label": "BTS (brevet)", "visible": "on"})

    assert response.status_code == 302
    row.refresh_from_db()
    assert (row.code, row.label) == ("BTS", "BTS (brevet)")  # the code dossiers hold stays
    assert other_diploma_label_before == "Brevet de technicien supérieur (BTS)"
    assert ExternalCursus(diploma="BTS").diploma_label == "BTS (brevet)"  # offered at once in this process
    delete = reverse("admin:applications_referenceotherdiploma_delete", args=[row.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403  # hidden, never deleted: dossiers hold the code
    assert ReferenceOtherDiploma.objects.filter(pk=row.pk).exists()


@pytest.mark.parametrize("persona", ["centre_manager", "commission_member", "read_only"], indirect=True)
def test_other_staff_cannot_open_the_list_of_diplomas(client, persona):
    client.force_login(persona)

    # A manager keeps Django's 403; the readers, never offered the list, do not find it (as an outsider).
    assert client.get(reverse(DIPLOMAS)).status_code == (403 if persona.username == "gestionnaire" else 404)


def test_the_example_of_a_title_is_marked_french_in_english(owner_client):
    """The help's example is a French diploma's title: an English page marks it (RGAA 8.7), the help stays tied to
    its input."""
    english = owner_client.get(reverse(ADD)).content.decode()
    french = owner_client.get(reverse(ADD), language="fr").content.decode()

    assert (
        '<div class="helptext" id="id_label_helptext">As written on the diploma or the transcript, e.g. '
        '<span lang="fr">Licence Sciences de la vie</span>.</div>'
    ) in english
    assert 'aria-describedby="id_label_helptext"' in english
    assert '<span lang="fr">Licence Sciences de la vie</span>.</div>' in french  # marked in French too: harmless
