"""The diplomas of another cursus in English (``ReferenceOtherDiploma.label_en``, README "The staff's texts in
English"): a candidate reading English chooses « Foreign diploma » and « Other diploma » in the external cursus form
and reads them on their pages and in the dossier PDF; a diploma left untranslated shows its French title, marked
``lang="fr"``. Staff documents (the review page, the exports) keep the French labels."""

import importlib
import io

import pytest
from django.apps import apps
from django.urls import reverse
from django.utils import translation
from pypdf import PdfReader
from pytest_django.asserts import assertContains, assertNotContains

from applications import export_columns
from applications.dossier_pdf import build_dossier_pdf
from applications.forms import ExternalCursusForm, stored_values
from applications.models import ExternalCursus, ReferenceOtherDiploma
from applications.models.reference import (
    BUILT_IN_OTHER_DIPLOMAS,
    BUILT_IN_OTHER_DIPLOMAS_IN_ENGLISH,
    forget_reference_lists,
)
from applications.tests.factories import ExternalCursusFactory
from applications.tests.factories_candidature import make_application
from applications.tests.helpers import REVIEW_PAGE_QUERIES, change_url
from ecandidat.staff_text import StaffText
from offers.tests.factories import FormationFactory

pytestmark = pytest.mark.django_db

ADD = "applications:external_cursus_add"
LIST = "applications:external_cursus_list"
MIGRATION = importlib.import_module("applications.migrations.0027_referenceotherdiploma_label_en")


def diploma_options(form: ExternalCursusForm) -> list[tuple[str, object]]:
    return [(value, label) for value, label in form.fields["diploma"].choices if value]


# --- the migration's data ------------------------------------------------------------------------------------------


def test_the_migration_gives_english_labels_to_the_kinds_of_diploma_and_none_to_the_french_titles():
    english = dict(ReferenceOtherDiploma.objects.values_list("code", "label_en"))

    assert english["ETR"] == "Foreign diploma"
    assert english["AUTRE"] == "Other diploma"
    assert english == {
        code: BUILT_IN_OTHER_DIPLOMAS_IN_ENGLISH.get(code, "") for code, _label in BUILT_IN_OTHER_DIPLOMAS
    }
    assert english["BTS"] == english["BUT"] == english["LIC"] == english["MAS"] == english["DOC"] == ""


def test_the_migrations_copy_matches_the_built_in_lists():
    french = dict(BUILT_IN_OTHER_DIPLOMAS)

    assert {
        code: (french[code], english) for code, english in BUILT_IN_OTHER_DIPLOMAS_IN_ENGLISH.items()
    } == MIGRATION.ENGLISH_LABELS


def test_the_migration_leaves_a_row_the_central_office_renamed_or_translated():
    ReferenceOtherDiploma.objects.update(label_en="")
    ReferenceOtherDiploma.objects.filter(code="DU").update(label="Diplôme universitaire (DU, DIU)")
    ReferenceOtherDiploma.objects.filter(code="ETR").update(label_en="Diploma from abroad")
    ReferenceOtherDiploma.objects.filter(code="AUTRE").update(label_en="")

    MIGRATION.fill_english_labels(apps, None)

    english = dict(ReferenceOtherDiploma.objects.values_list("code", "label_en"))
    assert (english["DU"], english["ETR"], english["AUTRE"], english["ING"]) == (
        "",  # renamed since: the English label might say something else
        "Diploma from abroad",  # kept
        "Other diploma",
        "Engineering degree",
    )


# --- the candidate's form ------------------------------------------------------------------------------------------


def test_the_form_offers_the_english_labels_in_english_in_english_order():
    with translation.override("en"):
        options = diploma_options(ExternalCursusForm())

    labels = dict(options)
    assert labels["ETR"] == StaffText("Foreign diploma", "en")
    assert labels["AUTRE"] == StaffText("Other diploma", "en")
    assert labels["BTS"] == StaffText("Brevet de technicien supérieur (BTS)", "fr")  # a title: untranslated
    shown = [str(label) for _code, label in options]
    assert shown.index("Engineering degree") < shown.index("Foreign diploma") < shown.index("Licence")
    assert shown.index("Licence") < shown.index("Other diploma") < shown.index("University diploma (DU)")


def test_the_form_offers_the_french_labels_in_french_in_their_order():
    with translation.override("fr"):
        options = diploma_options(ExternalCursusForm())

    assert all(label.lang == "fr" for _code, label in options)
    assert dict(options)["ETR"] == StaffText("Diplôme étranger", "fr")
    assert dict(options)["AUTRE"] == StaffText("Autre diplôme", "fr")
    assert [code for code, _label in options] == list(
        ReferenceOtherDiploma.objects.filter(visible=True).order_by("label").values_list("code", flat=True)
    )


def test_the_page_in_english_marks_the_untranslated_titles_french(owner_client, django_assert_num_queries):
    # Session, user, candidate, the version of the list of cursus, the list of diplomas (once per process), the
    # page's own: as in French.
    with django_assert_num_queries(7):
        response = owner_client.get(reverse(ADD))

    assertContains(response, '<option value="ETR">Foreign diploma</option>', html=False)
    assertContains(response, '<option value="AUTRE">Other diploma</option>', html=False)
    assertContains(response, '<option value="BTS" lang="fr">Brevet de technicien supérieur (BTS)</option>')


def test_the_page_in_french_shows_the_french_labels_unmarked(owner_client, django_assert_num_queries):
    owner_client.language = "fr"

    with django_assert_num_queries(7):
        response = owner_client.get(reverse(ADD))

    assertContains(response, '<option value="ETR">Diplôme étranger</option>', html=False)
    assertContains(response, '<option value="AUTRE">Autre diplôme</option>', html=False)
    assertNotContains(response, "Foreign diploma")
    assertNotContains(response, '<option value="BTS" lang=')  # the page is French already


def test_the_english_choice_saves_the_code(owner_client, candidate):
    response = owner_client.post(
        reverse(ADD),
        {"year": "2024", "label": "Bachelor of Science", "diploma": "ETR", "obtained": "O", "country": "GB"}
        | {"mention": "", "department": "", "city": "", "school": "University of Leeds"},
    )

    assert response.status_code == 302
    assert ExternalCursus.objects.get(candidate=candidate).diploma == "ETR"


def test_a_concurrent_change_shows_the_stored_diploma_in_the_readers_language(candidate):
    row = ExternalCursusFactory(candidate=candidate, diploma="AUTRE", country="GB", school="Leeds")

    with translation.override("en"):
        values = dict(stored_values(ExternalCursusForm(instance=row), row))

    assert values["Diploma"] == StaffText("Other diploma", "en")


# --- the candidate's page, the dossier PDF, staff documents ---------------------------------------------------------


@pytest.mark.parametrize("language", ["en", "fr"])
@pytest.mark.parametrize("french_rows", [1, 4])
def test_the_lists_queries_do_not_grow_with_the_rows_nor_change_with_the_language(
    owner_client, candidate, django_assert_num_queries, language, french_rows
):
    owner_client.language = language
    ExternalCursusFactory(candidate=candidate, diploma="ETR", country="GB", school="University of Leeds")
    ExternalCursusFactory.create_batch(french_rows, candidate=candidate, diploma="BTS", department="66", city="X")

    # The same in both languages and for any number of rows: the list of diplomas is read once (once per process).
    with django_assert_num_queries(7):
        response = owner_client.get(reverse(LIST))

    assertContains(response, '<span lang="fr">Brevet de technicien supérieur (BTS)</span>', count=french_rows)
    if language == "en":
        assertContains(response, '<span lang="en">Foreign diploma</span>', count=1)


def test_the_list_in_french_shows_the_french_label(owner_client, candidate):
    owner_client.language = "fr"
    ExternalCursusFactory(candidate=candidate, diploma="ETR", country="GB", school="University of Leeds")

    response = owner_client.get(reverse(LIST))

    assertContains(response, '<span lang="fr">Diplôme étranger</span>')
    assertNotContains(response, "Foreign diploma")


@pytest.fixture
def application(centre, commission, campaign):
    formation = FormationFactory(centre=centre, commission=commission, code="M1BIO", title="Master Biologie")
    application = make_application(formation, campaign=campaign)
    ExternalCursusFactory(
        candidate=application.candidate,
        year=2024,
        label="Bachelor of Science",
        diploma="ETR",
        country="GB",
        school="University of Leeds",
    )
    return application


def pdf_text(application, language: str) -> str:
    with translation.override(language), build_dossier_pdf(application) as output:
        reader = PdfReader(io.BytesIO(output.read()))
    return " ".join(" ".join(page.extract_text() for page in reader.pages).split())


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", "2024 - Bachelor of Science (Foreign diploma) - University of Leeds (United Kingdom)"),
        ("fr", "2024 - Bachelor of Science (Diplôme étranger) - University of Leeds (Royaume-Uni)"),
    ],
)
def test_the_dossier_pdf_follows_its_readers_language(application, language, expected):
    assert expected in pdf_text(application, language)


def test_a_rows_label_for_staff_stays_french_and_for_the_reader_follows_the_page():
    row = ExternalCursus(diploma="ETR")

    with translation.override("en"):
        assert (row.diploma_label, row.shown_diploma_label) == ("Diplôme étranger", StaffText("Foreign diploma", "en"))
    with translation.override("fr"):
        assert row.shown_diploma_label == StaffText("Diplôme étranger", "fr")
    assert ExternalCursus(diploma="").shown_diploma_label.lang == ""  # nothing to mark


def test_the_export_column_keeps_the_french_label_in_english(application):
    with translation.override("en"):
        assert export_columns.COLUMNS["last_diploma_type"].value(application) == "Diplôme étranger"


def test_the_review_page_in_english_keeps_the_french_label(client, centre_manager, application):
    client.force_login(centre_manager)
    client.get(change_url(application))  # the per-process lists read once

    response = client.get(change_url(application))

    assertContains(response, "Bachelor of Science · Diplôme étranger · University of Leeds")
    assertNotContains(response, "Foreign diploma")


def test_the_review_pages_queries_are_unchanged(client, centre_manager, application, django_assert_num_queries):
    client.force_login(centre_manager)
    client.get(change_url(application))

    with django_assert_num_queries(REVIEW_PAGE_QUERIES):
        client.get(change_url(application))


# --- the back office -------------------------------------------------------------------------------------------------


def test_the_central_office_gives_a_diploma_its_english_label(client, central_manager, candidate):
    client.force_login(central_manager)
    row = ReferenceOtherDiploma.objects.get(code="DEUST")
    change = reverse("admin:applications_referenceotherdiploma_change", args=[row.pk])

    form = client.get(change)
    assertContains(form, 'name="label_en"')
    assertContains(form, 'lang="en"')  # ecandidat.admin_inputs: what staff type there is read as English
    response = client.post(
        change, {"label": row.label, "label_en": "DEUST (two-year science degree)", "visible": "on"}
    )

    assert response.status_code == 302
    row.refresh_from_db()
    assert row.label_en == "DEUST (two-year science degree)"
    assertContains(
        client.get(reverse("admin:applications_referenceotherdiploma_changelist") + "?q=two-year"),
        "DEUST (two-year science degree)",
    )
    # Offered at once in this process (the others within MEMO_SECONDS).
    client.force_login(candidate.user)
    assertContains(client.get(reverse(ADD)), '<option value="DEUST">DEUST (two-year science degree)</option>')


def test_the_memo_is_read_once_for_many_labels(django_assert_num_queries):
    forget_reference_lists()
    with django_assert_num_queries(1), translation.override("en"):
        labels = [str(ExternalCursus(diploma=code).shown_diploma_label) for code in ("ETR", "AUTRE", "BTS", "NOPE")]

    assert labels == ["Foreign diploma", "Other diploma", "Brevet de technicien supérieur (BTS)", "NOPE"]
