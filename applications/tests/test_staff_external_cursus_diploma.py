"""The staff's inline of a candidate's external cursus (the dossier's page in the back office): the diploma is chosen
from the list the candidate chooses from (``ReferenceOtherDiploma``), named in the institution's language as the
review page and the exports print it; it was typed as a raw code. Who only reads the dossier reads the label."""

import re

import pytest
from django.urls import reverse

from applications.models import ExternalCursus, ReferenceOtherDiploma
from applications.models.reference import forget_reference_lists
from applications.tests.factories import AddressFactory, ExternalCursusFactory
from applications.tests.factories_candidature import make_application
from applications.tests.helpers import dossier_form_data
from offers.tests.factories import FormationFactory

pytestmark = pytest.mark.django_db

BTS = "Brevet de technicien supérieur (BTS)"
FIELD = "external_cursus-0-diploma"
# The dossier's page of a centre manager, whatever the number of cursus rows (the diplomas: one query per process).
PAGE_QUERIES = 18


@pytest.fixture
def application(centre, commission, campaign):
    application = make_application(FormationFactory(centre=centre, commission=commission), campaign=campaign)
    AddressFactory(candidate=application.candidate)
    return application


def _url(application):
    return reverse("admin:applications_candidate_change", args=[application.candidate.pk])


def _select(html: str, name: str) -> str:
    found = re.search(rf'<select name="{name}".*?</select>', html, re.S)
    assert found, f"no list {name}"
    return found.group(0)


@pytest.mark.parametrize(
    ("language", "lang"),
    [("fr", ""), ("en", ' lang="fr"')],
)
def test_staff_choose_the_diploma_from_the_candidates_list(client, centre_manager, application, language, lang):
    ExternalCursusFactory(candidate=application.candidate, diploma="BTS")
    client.force_login(centre_manager)

    html = client.get(_url(application), language=language).text
    diplomas = _select(html, FIELD)

    assert f'<option value="BTS" selected{lang}>{BTS}</option>' in diplomas
    # The institution's label, not the English one a candidate reading English sees (« Foreign diploma »).
    assert f'<option value="ETR"{lang}>Diplôme étranger</option>' in diplomas
    assert 'name="external_cursus-0-diploma" type="text"' not in html


def test_a_manager_changes_the_diploma(client, centre_manager, application):
    cursus = ExternalCursusFactory(candidate=application.candidate, diploma="BTS")
    client.force_login(centre_manager)
    data = dossier_form_data(client.get(_url(application)))
    data[FIELD] = "LIC"

    response = client.post(_url(application), data)

    assert response.status_code == 302
    cursus.refresh_from_db()
    assert cursus.diploma == "LIC"


@pytest.mark.parametrize(
    ("language", "message"),
    [("fr", "Choisissez un diplôme dans la liste."), ("en", "Choose a diploma from the list.")],
)
def test_a_code_off_the_list_is_refused_next_to_the_diploma(client, centre_manager, application, language, message):
    cursus = ExternalCursusFactory(candidate=application.candidate, diploma="BTS")
    client.force_login(centre_manager)
    data = dossier_form_data(client.get(_url(application)))
    data[FIELD] = "XYZ"

    response = client.post(_url(application), data, language=language)

    assert response.status_code == 200
    assert message in response.text
    cursus.refresh_from_db()
    assert cursus.diploma == "BTS"


def test_a_diploma_hidden_since_stays_offered_to_its_holder(client, centre_manager, application):
    ReferenceOtherDiploma.objects.filter(code="DEUG").update(visible=False)
    forget_reference_lists()
    ExternalCursusFactory(candidate=application.candidate, diploma="DEUG")
    ExternalCursusFactory(candidate=application.candidate, diploma="BTS", year=2023)
    client.force_login(centre_manager)

    html = client.get(_url(application), language="fr").text

    deug = "Diplôme d'études universitaires générales (DEUG)".replace("'", "&#x27;")
    holders = re.findall(r'<select name="(external_cursus-\d-diploma)"', html)
    offered = {name: 'value="DEUG"' in _select(html, name) for name in holders}
    assert sorted(offered.values()) == [False, True]  # only in the row that holds it
    assert f'<option value="DEUG" selected>{deug}</option>' in html


def test_who_only_reads_the_dossier_reads_the_diplomas_label(client, read_only_staff, application):
    ExternalCursusFactory(candidate=application.candidate, diploma="BTS")
    client.force_login(read_only_staff)

    html = client.get(_url(application), language="fr").text

    assert BTS in html
    assert "<select" not in html.split('id="external_cursus-group"')[1].split("</fieldset>")[0]


def test_the_page_costs_the_same_queries_with_more_cursus(
    client, centre_manager, application, django_assert_num_queries
):
    client.force_login(centre_manager)
    ExternalCursusFactory(candidate=application.candidate, diploma="BTS")
    client.get(_url(application))  # the diplomas read once for the process

    with django_assert_num_queries(PAGE_QUERIES):
        one = client.get(_url(application), language="fr")
    ExternalCursusFactory(candidate=application.candidate, diploma="LIC", year=2023)
    ExternalCursusFactory(candidate=application.candidate, diploma="ETR", year=2024, country="MA", department="")
    with django_assert_num_queries(PAGE_QUERIES):
        three = client.get(_url(application), language="fr")

    assert one.text.count('value="BTS" selected') == 1
    assert len(re.findall(r'<select name="external_cursus-\d-diploma"', three.text)) == 3
    assert ExternalCursus.objects.count() == 3
