"""The ENT student's journey (review of 2026-12-07). « Informations perso. » of a student whose état civil comes from
the student records system stacked three notices that contradicted each other and the form: "come back at any time
to change", "cannot be changed, contact your scolarité", and once applied "can no longer be changed, except your
phone numbers and language, contact the office in charge of your application", above an editable phone and language.
The page now says once what the guide says ("Vous pouvez modifier certaines informations", errors to "votre
scolarité"). The year of an internal cursus read "2021" in the dossier PDF, the export and the back office, and
"2021/2022" on the student's page."""

import io
import re

import pytest
from django.urls import reverse
from django.utils import translation
from pypdf import PdfReader
from pytest_django.asserts import assertContains, assertNotContains

from applications import export_columns
from applications.dossier_pdf import build_dossier_pdf
from applications.models import Candidate
from applications.tests.factories import AddressFactory, BaccalaureateFactory, InternalCursusFactory
from applications.tests.factories_candidature import application_of, make_application
from offers.tests.factories import FormationFactory

pytestmark = pytest.mark.django_db

PERSONAL = reverse("applications:personal_details")
# The page's count for a complete dossier (test_views_dossier's test_owner_sees_page_with_exact_queries): a dossier
# locked by the SIS, by an application or by both asks nothing more.
PAGE_QUERIES = 6

SIS_NOTICE = (
    "This information comes from the university's student records system: only your phone numbers and language can "
    'be changed. If you find errors, contact your student office (<span lang="fr">scolarité</span>).'
)
SIS_NOTICE_WITH_INE = (
    "This information comes from the university's student records system: only your INE, phone numbers and language "
    'can be changed. If you find errors, contact your student office (<span lang="fr">scolarité</span>).'
)
FRENCH_SIS_NOTICE = (
    "Ces informations proviennent du logiciel de scolarité de l'université : seuls vos numéros de téléphone et "
    "votre langue sont modifiables. Si vous constatez des erreurs, contactez votre scolarité."
)
# What the page said besides, and what contradicted the editable phone and language.
GENERIC_SIS_NOTICE = "comes from the university's student records system and cannot be changed"
APPLICATION_WARNING = "You have an application: your personal details can no longer be changed"
COME_BACK = "You can come back at any time to change or complete the information you entered."


def _complete(candidate) -> None:
    """A dossier past its steps: the page shows its "come back at any time" line, not the stepper."""
    AddressFactory(candidate=candidate)
    BaccalaureateFactory(candidate=candidate)


def _lock(candidate, *, ine_from_sis=True) -> None:
    """The dossier as the student records' import leaves it: the état civil locked, the INE too if the SIS gave it."""
    Candidate.objects.filter(pk=candidate.pk).update(
        sis_locked=True, ine_from_sis=ine_from_sis, ine="1234567890V" if ine_from_sis else ""
    )


@pytest.fixture
def formation(centre, commission):
    return FormationFactory(centre=centre, commission=commission, code="M1BIO", title="Master Biologie")


def _assert_one_sis_notice(response, notice=SIS_NOTICE) -> None:
    assertContains(response, notice, count=1, html=False)
    assertContains(response, "student records system", count=1)
    assertNotContains(response, GENERIC_SIS_NOTICE)
    assertNotContains(response, APPLICATION_WARNING)
    assertNotContains(response, COME_BACK)


# --- F1: one notice for the SIS-locked student --------------------------------------------------------------------


def test_a_sis_student_without_an_application_reads_one_notice(owner_client, candidate, django_assert_num_queries):
    _complete(candidate)
    _lock(candidate)

    with django_assert_num_queries(PAGE_QUERIES):
        response = owner_client.get(PERSONAL)

    _assert_one_sis_notice(response)
    fields = response.context["form"].fields
    assert not fields["phone"].disabled
    assert not fields["mobile"].disabled
    assert not fields["preferred_language"].disabled
    assert fields["birth_name"].disabled
    assert fields["ine"].disabled


def test_a_sis_student_with_an_application_reads_the_same_notice(
    owner_client, candidate, formation, django_assert_num_queries
):
    _complete(candidate)
    _lock(candidate)
    application_of(candidate.user, formation)

    with django_assert_num_queries(PAGE_QUERIES):
        response = owner_client.get(PERSONAL)

    _assert_one_sis_notice(response)
    assert not response.context["form"].fields["phone"].disabled


def test_the_notice_is_the_guides_in_french(owner_client, candidate, formation):
    _complete(candidate)
    _lock(candidate)
    application_of(candidate.user, formation)

    response = owner_client.get(PERSONAL, language="fr")

    assertContains(response, FRENCH_SIS_NOTICE, count=1)
    assertNotContains(response, "Vous avez une candidature")
    assertNotContains(response, "ne sont pas modifiables : si vous constatez des erreurs")
    assertNotContains(response, "Vous pouvez revenir à tout moment")


def test_an_ine_the_sis_did_not_give_is_named_as_changeable_until_the_student_applies(
    owner_client, candidate, formation, django_assert_num_queries
):
    _complete(candidate)
    _lock(candidate, ine_from_sis=False)

    with django_assert_num_queries(PAGE_QUERIES):
        response = owner_client.get(PERSONAL)

    _assert_one_sis_notice(response, SIS_NOTICE_WITH_INE)
    assert not response.context["form"].fields["ine"].disabled

    application_of(candidate.user, formation)
    response = owner_client.get(PERSONAL)

    _assert_one_sis_notice(response)  # the application locks the INE too
    assert response.context["form"].fields["ine"].disabled


def test_a_candidate_not_from_the_sis_keeps_the_application_warning(
    owner_client, candidate, formation, django_assert_num_queries
):
    _complete(candidate)
    application_of(candidate.user, formation)

    with django_assert_num_queries(PAGE_QUERIES):
        response = owner_client.get(PERSONAL)

    assertContains(response, APPLICATION_WARNING, count=1)
    assertNotContains(response, "student records system")
    assertNotContains(response, COME_BACK)  # "no longer be changed" is not a page to come back to change
    assert response.context["form"].fields["birth_name"].disabled


def test_a_candidate_not_from_the_sis_without_an_application_can_still_come_back(owner_client, candidate):
    _complete(candidate)

    response = owner_client.get(PERSONAL)

    assertContains(response, COME_BACK, count=1)
    assertNotContains(response, APPLICATION_WARNING)
    assertNotContains(response, "student records system")


# --- F2: the internal cursus' year as the student reads it ---------------------------------------------------------


@pytest.fixture
def application(formation, campaign):
    application = make_application(formation, campaign=campaign)
    InternalCursusFactory(candidate=application.candidate, academic_year=2021, code="SLA1", label="Licence 1")
    return application


def test_the_dossier_pdf_writes_the_academic_year(application):
    with translation.override("fr"), build_dossier_pdf(application) as output:
        reader = PdfReader(io.BytesIO(output.read()))

    text = " ".join(" ".join(page.extract_text() for page in reader.pages).split())
    assert "2021/2022 - SLA1 Licence 1" in text
    assert "2021 - SLA1" not in text


def test_the_export_writes_the_academic_year(application):
    column = export_columns.COLUMNS["internal_cursus"]

    with translation.override("fr"):
        value = column.value(application)

    assert value.splitlines() == ["2021/2022 SLA1 Licence 1"]


def test_the_back_office_dossier_writes_the_academic_year(client, centre_manager, application):
    client.force_login(centre_manager)

    response = client.get(
        reverse("admin:applications_candidate_change", args=[application.candidate.pk]), language="fr"
    )

    page = response.content.decode()
    assert re.search(r'<td class="field-year">\s*<p>2021/2022</p>', page)
    assert re.search(r'<th class="column-year">Année universitaire\s*</th>', page)
