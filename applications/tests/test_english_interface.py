"""The site read in English by an international candidate: what the English reader gets, and that the French reader
still gets the guide's French (h11's walk of the English interface)."""

import pytest
from django.test import RequestFactory
from django.urls import reverse

from accounts.tests.factories import CandidateUserFactory
from applications import services
from applications.models import Candidate
from applications.services.dossier import open_dossier_at_login
from applications.tests.factories import STUDENT

pytestmark = pytest.mark.django_db


# --- The preferred language (the language of the mails) of a new dossier ------------------------------------------


@pytest.mark.parametrize(("language", "selected"), [("en", "en"), ("fr", "fr")])
def test_a_new_dossier_offers_the_language_the_candidate_reads(
    client, candidate_user, django_assert_num_queries, language, selected
):
    """An English reader who fills in "Personal details" and does not notice "Preferred language" got French mails:
    the field started on French whatever the page's language."""
    client.force_login(candidate_user)

    with django_assert_num_queries(5):
        response = client.get(reverse("applications:personal_details"), HTTP_ACCEPT_LANGUAGE=language)

    assert response.context["form"]["preferred_language"].value() == selected
    assert f'<option value="{selected}" selected>' in response.content.decode()


def test_an_ent_students_dossier_keeps_the_language_of_the_login(campaign):
    services.store_sis_records(students=[STUDENT], actor=None)
    user = CandidateUserFactory(campaign=campaign, student_number="21900001")
    request = RequestFactory().get("/")
    request.LANGUAGE_CODE = "en"

    open_dossier_at_login(None, request=request, user=user)

    assert Candidate.objects.get(user=user).preferred_language == "en"


def test_an_ent_students_dossier_is_french_when_the_login_is_french(campaign):
    services.store_sis_records(students=[STUDENT], actor=None)
    user = CandidateUserFactory(campaign=campaign, student_number="21900001")
    request = RequestFactory().get("/")
    request.LANGUAGE_CODE = "fr"

    open_dossier_at_login(None, request=request, user=user)

    assert Candidate.objects.get(user=user).preferred_language == "fr"
