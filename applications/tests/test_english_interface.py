"""The site read in English by an international candidate: what the English reader gets, and that the French reader
still gets the guide's French (h11's walk of the English interface)."""

import datetime
import html
import re

import pytest
from django.contrib.contenttypes.models import ContentType
from django.contrib.messages import get_messages
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone, translation
from pytest_django.asserts import assertContains

from accounts.tests.factories import CandidateUserFactory
from applications import services
from applications.models import Candidate, PieceSubmission
from applications.notifications import format_date
from applications.services.dossier import open_dossier_at_login
from applications.tests.factories import STUDENT
from applications.tests.factories_candidature import (
    ApplicationFactory,
    PieceSubmissionFactory,
    complete_candidate,
    make_application,
)
from applications.tests.helpers import change_url, english_date
from offers.tests.factories import FormationFactory, PieceTypeFactory

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
        response = client.get(reverse("applications:personal_details"), language=language)

    assert response.context["form"]["preferred_language"].value() == selected
    assert f'<option value="{selected}" selected>' in response.content.decode()


@pytest.mark.parametrize("language", ["en", "fr"])
def test_an_ent_students_dossier_keeps_the_language_of_the_login(campaign, language):
    services.store_sis_records(students=[STUDENT], actor=None)
    user = CandidateUserFactory(campaign=campaign, student_number="21900001")
    request = RequestFactory().get("/")
    request.LANGUAGE_CODE = language

    open_dossier_at_login(None, request=request, user=user)

    assert Candidate.objects.get(user=user).preferred_language == language


# --- Dates: the English pages wrote 15/01/2027 (French order) beside 01/15/2027 (Django's American short date) ------


@pytest.fixture
def application(campaign, commission):
    # After the formation's application window (the factory's closes today + 30 days), whatever the day.
    return_deadline = timezone.localdate() + datetime.timedelta(days=40)
    formation = FormationFactory(
        centre=commission.centre,
        commission=commission,
        title="MASTER 1 - ENERGIE",
        return_deadline=return_deadline,
        confirmation_date=return_deadline + datetime.timedelta(days=30),
    )
    return ApplicationFactory(candidate=complete_candidate(user__campaign=campaign), formation=formation)


@pytest.mark.parametrize("language", ["en", "fr"])
def test_the_recap_writes_its_dates_in_the_readers_language(client, application, django_assert_num_queries, language):
    written = english_date if language == "en" else (lambda day: f"{day:%d/%m/%Y}")
    deadline = written(application.formation.return_deadline)
    confirmation = written(application.formation.confirmation_date)
    client.force_login(application.candidate.user)

    with django_assert_num_queries(7):
        response = client.get(reverse("applications:detail", args=[application.public_id]), language=language)

    assertContains(response, f"<dd><strong>{deadline}</strong></dd>", html=True)
    assertContains(response, f"<dd><strong>{confirmation}</strong></dd>", html=True)
    # The pieces' sentence and the table of pieces (applications.pieces) say the same date the same way.
    assertContains(response, f"by {deadline}." if language == "en" else f"avant le {deadline}.")


@pytest.mark.parametrize(
    ("language", "shown"), [("en", "From 1 Nov 2026 to 7 Jan 2027"), ("fr", "Du 01/11/2026 au 07/01/2027")]
)
def test_the_catalogue_writes_its_dates_in_the_readers_language(
    client, commission, empty_pages_cache, django_assert_num_queries, language, shown
):
    FormationFactory(
        centre=commission.centre,
        commission=commission,
        opens_on=datetime.date(2026, 11, 1),
        closes_on=datetime.date(2027, 1, 7),
        return_deadline=datetime.date(2027, 1, 7),
    )

    with django_assert_num_queries(1):
        response = client.get(reverse("offers:catalogue"), language=language)

    assertContains(response, shown)


def test_a_mails_date_is_written_in_the_mails_language_not_the_senders():
    """A staff member reading the back office in French changes an English candidate's deadline: the mail's context
    is built in French, the mail is rendered in English."""
    with translation.override("fr"):
        value = format_date(datetime.date(2027, 1, 7))
        assert str(value) == "07/01/2027"
    with translation.override("en"):
        assert str(value) == "7 Jan 2027"


# --- "Label : message": the French space before the colon was written in the English pages too ---------------------


@pytest.mark.parametrize(
    ("language", "line"),
    [
        ("en", "Date of birth: This field is required."),
        ("fr", "Date de naissance : Ce champ est obligatoire."),
    ],
)
def test_the_error_summary_follows_the_typography_of_its_language(
    client, candidate_user, django_assert_num_queries, language, line
):
    client.force_login(candidate_user)

    with django_assert_num_queries(5):  # session, user, the dossier (none), the lists the form reads
        response = client.post(reverse("applications:personal_details"), {"birth_name": "SMITH"}, language=language)

    summary = response.content.decode().split('id="error-summary"')[1].split("</ul>")[0]
    assert f'<a href="#id_birth_date">{line}</a>' in summary


@pytest.mark.parametrize(
    ("language", "message"),
    [("en", "Cover letter: Choose a file to upload."), ("fr", "Lettre : Choisissez un fichier à déposer.")],
)
def test_a_pieces_message_follows_the_typography_of_its_language(
    client, campaign, commission, django_assert_num_queries, language, message
):
    piece = PieceTypeFactory(label="Lettre", label_en="Cover letter")
    formation = FormationFactory(centre=commission.centre, commission=commission)
    formation.piece_types.add(piece)
    application = ApplicationFactory(candidate=complete_candidate(user__campaign=campaign), formation=formation)
    client.force_login(application.candidate.user)

    with django_assert_num_queries(4):  # session, user, the application, the piece (nothing sent: no write)
        response = client.post(reverse("pieces:upload", args=[application.public_id, piece.pk]), language=language)

    assert [str(m) for m in get_messages(response.wsgi_request)] == [message]


@pytest.mark.parametrize(("language", "line"), [("en", "Cover letter: lettre.pdf"), ("fr", "Lettre : lettre.pdf")])
def test_the_transmit_page_lists_the_pieces_in_the_typography_of_its_language(
    client, application, django_assert_num_queries, language, line
):
    piece = PieceTypeFactory(is_common=True, is_unique=True, label="Lettre", label_en="Cover letter")
    PieceSubmissionFactory(application=application, piece_type=piece, document__original_name="lettre.pdf")
    client.force_login(application.candidate.user)

    with django_assert_num_queries(9):
        response = client.get(reverse("applications:transmit", args=[application.public_id]), language=language)

    items = response.content.decode().split('class="transmit__list"')[1].split("</ul>")[0]
    assert line in " ".join(re.sub(r"<[^>]+>", "", items).split())


# --- The back office in English (staff may choose it) ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "status", "born"),
    [
        ("en", "Dossier status: Received", "Born 17 May 2002"),
        ("fr", "Statut du dossier : Réceptionné", "Né(e) le 17/05/2002"),
    ],
)
def test_the_reading_page_follows_the_typography_of_its_language(
    client, centre_manager, commission, campaign, django_assert_num_queries, language, status, born
):
    application = make_application(
        FormationFactory(centre=commission.centre, commission=commission), campaign=campaign
    )
    Candidate.objects.filter(pk=application.candidate_id).update(birth_date=datetime.date(2002, 5, 17))
    client.force_login(centre_manager)
    ContentType.objects.clear_cache()  # warm, as the reading page's own tests do (test_admin_review.py)
    ContentType.objects.get_for_model(PieceSubmission)

    with django_assert_num_queries(34):  # as test_admin_review.QUERIES_PAGE
        response = client.get(change_url(application), language=language)

    text = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.content.decode())).split())
    assert status in text
    assert born in text  # English names the month (17/05/2002 read as 5 Dec in America); French unchanged
