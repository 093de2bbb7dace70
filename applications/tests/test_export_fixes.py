"""Staff exports: a series the SIS no longer offers named without a query per row, the streamed CSV in the language of
the request that asked for it, the lists' filters kept when an export is refused for its size, the bac's département
named as elsewhere."""

import pytest
from django.urls import reverse
from django.utils import timezone, translation

from applications.admin import exports as list_exports
from applications.enums import Civility, DossierStatus
from applications.forms import BaccalaureateForm
from applications.models import ReferenceBacSeries
from applications.models.reference import forget_reference_lists
from applications.tests.factories import BaccalaureateFactory
from applications.tests.factories_candidature import make_application
from applications.tests.helpers import EXPORT_COLUMNS_URL, csv_rows
from offers import admin_exports
from offers.tests.factories import FormationFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def formation(centre, commission):
    return FormationFactory(centre=centre, commission=commission, code="MINFO", title="Master Informatique")


def post_columns(client, columns):
    """« Exporter avec les colonnes choisies » in CSV, from the back office in French."""
    return client.post(reverse(EXPORT_COLUMNS_URL), {"columns": columns, "fmt": "csv", "filters": ""}, language="fr")


def bac_with_hidden_series(formation, campaign):
    application = make_application(formation, campaign=campaign)
    BaccalaureateFactory(candidate=application.candidate, series="0031", year=1990)
    return application


@pytest.mark.parametrize("rows", [1, 4])
def test_a_hidden_series_costs_no_query_per_row(
    client, centre_manager, formation, campaign, rows, django_assert_num_queries
):
    """A dossier may hold a series the SIS stopped sending (hidden, not deleted): its label is read with the others,
    once, not by one query per exported row."""
    ReferenceBacSeries.objects.create(code="0031", label="BAC SCIENTIFIQUE", visible=False)
    ReferenceBacSeries.objects.create(code="0100", label="BACCALAUREAT GENERAL")
    forget_reference_lists()
    for _ in range(rows):
        bac_with_hidden_series(formation, campaign)
    client.force_login(centre_manager)

    with django_assert_num_queries(32):  # whatever the number of rows
        response = post_columns(client, ["bac_series"])
        exported = csv_rows(response)

    assert exported[1:] == [["BAC SCIENTIFIQUE"]] * rows


def test_a_hidden_series_is_still_named_and_not_offered(formation, campaign):
    """The dossier's form keeps offering the hidden series the dossier holds, with its label; not to others."""
    ReferenceBacSeries.objects.create(code="0031", label="BAC SCIENTIFIQUE", visible=False)
    ReferenceBacSeries.objects.create(code="0100", label="BACCALAUREAT GENERAL")
    forget_reference_lists()
    bac = BaccalaureateFactory(series="0031", year=1990)

    holding = BaccalaureateForm(instance=bac).fields["series"].choices
    other = BaccalaureateForm().fields["series"].choices

    assert bac.series_label == "BAC SCIENTIFIQUE"
    assert ("0031", "BAC SCIENTIFIQUE") in holding
    assert [code for code, _label in other] == ["", "0100"]


@pytest.fixture
def answered(formation, campaign):
    application = make_application(
        formation, campaign=campaign, status=DossierStatus.COMPLETE, accepted=True, answered_at=timezone.now()
    )
    candidate = application.candidate
    candidate.civility = Civility.MRS
    candidate.save()
    return application


def test_the_chosen_columns_csv_is_in_the_language_it_was_asked_in(
    client, centre_manager, answered, django_assert_num_queries
):
    """The CSV is streamed: its rows are written after the view returned, when the thread may serve a request in
    another language. Its values stay in the language of its headers, the request's."""
    client.force_login(centre_manager)

    with django_assert_num_queries(31):
        response = post_columns(client, ["civility", "dossier_status", "answer"])
        with translation.override("en"):  # the next request's language, while this one's file is read
            exported = csv_rows(response)

    assert exported == [["Civilité", "Statut du dossier", "Réponse"], ["Madame", "Complet", "Confirmée"]]


def test_the_list_csv_is_in_the_language_it_was_asked_in(client, centre_manager, answered, django_assert_num_queries):
    client.force_login(centre_manager)

    with django_assert_num_queries(18):
        response = client.get(reverse("admin:applications_application_export", args=["csv"]), language="fr")
        with translation.override("en"):
            header, row = csv_rows(response)

    values = dict(zip(header, row, strict=True))
    assert values["Statut du dossier"] == "Complet"
    assert values["Réponse"] == "Confirmée"


def test_too_long_a_list_export_goes_back_to_the_list_as_filtered(
    client, monkeypatch, centre_manager, formation, campaign, django_assert_num_queries
):
    """Refused for its size, the export goes back to the list with its filters, search and order, not to the whole
    list: the manager adds a filter to theirs."""
    for email in ("one@exemple.fr", "two@exemple.fr"):
        make_application(formation, campaign=campaign, status=DossierStatus.COMPLETE, email=email)
    monkeypatch.setattr(list_exports, "EXPORT_LIMIT", 1)
    client.force_login(centre_manager)
    query = "?dossier_status__exact=CO&o=-2&q=exemple.fr"

    with django_assert_num_queries(15):
        response = client.get(reverse("admin:applications_application_export", args=["csv"]) + query, language="fr")

    assert response.status_code == 302
    assert response["Location"] == reverse("admin:applications_application_changelist") + query
    page = client.get(response["Location"], language="fr")
    assert "2 candidatures : au plus 1 peuvent être exportées ; ajoutez des filtres." in page.content.decode()


def test_too_long_a_catalogue_export_goes_back_to_the_list_as_filtered(
    client, monkeypatch, centre_manager, formation, centre, commission, django_assert_num_queries
):
    FormationFactory(centre=centre, commission=commission, code="MINFO2")
    monkeypatch.setattr(admin_exports, "EXPORT_LIMIT", 1)
    client.force_login(centre_manager)
    query = f"?centre__id__exact={centre.pk}&q=MINFO"

    with django_assert_num_queries(10):
        response = client.get(reverse("admin:offers_formation_export") + query, language="fr")

    assert response.status_code == 302
    assert response["Location"] == reverse("admin:offers_formation_changelist") + query
    page = client.get(response["Location"], language="fr")
    assert "2 lignes : au plus 1 peuvent être exportées ; ajoutez des filtres." in page.content.decode()


def test_the_bac_department_is_named_as_on_the_dossier(client, centre_manager, formation, campaign):
    """« Pyrénées-Orientales (66) », as the dossier PDF, the candidate's page and the last cursus's column."""
    application = make_application(formation, campaign=campaign)
    BaccalaureateFactory(candidate=application.candidate, department="66", city="Perpignan")
    client.force_login(centre_manager)

    header, row = csv_rows(post_columns(client, ["bac_department"]))

    assert header == ["Département du bac"]
    assert row == ["Pyrénées-Orientales (66)"]
