"""The language of what a reader gets: the standalone error pages (CSRF failure, 400) in the reader's language with
its ``lang``, the central office's own French words marked French on an English page (RGAA 8.7), and the lines of
the mails' lists in the mail's language (« label : détail » in French only)."""

import datetime
import zoneinfo

import pytest
import time_machine
from django.conf import settings
from django.core.exceptions import BadRequest
from django.test import Client
from django.urls import reverse
from django.utils import translation
from django.views.defaults import bad_request
from pytest_django.asserts import assertContains, assertNotContains

from ecandidat import notifications
from ecandidat.emails import render_email
from ecandidat.maintenance import set_switch
from ecandidat.models import MailTemplate

FORMS = notifications.get("CANDIDATURE_RELANCE_FORMULAIRE")
STATUT_IN = notifications.get("STATUT_IN")
REFUSED = [{"label": "Cover letter", "comment": "unreadable"}, {"label": "CV", "comment": ""}]


# --- the page expired (CSRF failure) and the bad request pages ---------------------------------------------------


@pytest.mark.django_db
def test_the_csrf_failure_page_is_in_english_for_an_english_reader(candidate_user, campaign):
    client = Client(enforce_csrf_checks=True)
    client.force_login(candidate_user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"

    response = client.post(reverse("session_keepalive"))

    assert response.status_code == 403
    assertContains(response, '<html lang="en">', status_code=403)
    assertContains(response, "<title>Page expired · eCandidat</title>", status_code=403)
    assertContains(response, "<h1>Your page had expired</h1>", status_code=403)
    assertContains(response, "What you sent was not saved", status_code=403)
    assertContains(response, 'href="/">Back to the home page</a>', status_code=403)
    assertNotContains(response, "expiré", status_code=403)


@pytest.mark.parametrize(
    ("language", "title", "text"),
    [
        ("en", "Bad request", "The server could not understand this request; nothing was saved."),
        ("fr", "Requête incorrecte", "Le serveur n'a pas pu comprendre cette demande ; rien n'a été enregistré."),
    ],
)
def test_the_bad_request_page_is_in_the_readers_language(rf, language, title, text):
    with translation.override(language):
        response = bad_request(rf.get("/"), BadRequest())  # renders 400.html without any context

    html = response.content.decode()
    assert response.status_code == 400
    assert f'<html lang="{language}">' in html
    assert f"<title>{title} · eCandidat</title>" in html
    assert f"<h1>{title}</h1>" in html
    assert text in html
    assert html.count("<p") == 3  # the text, the code, the way back: no second language any more


# --- the central office's own words (the maintenance page) ----------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("language", ["en", "fr"])
def test_the_maintenance_message_of_the_central_office_is_marked_french(client, admin_user, language):
    set_switch(is_on=True, message="Migration en cours, retour à 14h.", actor=admin_user)

    response = client.get(reverse("home"), language=language)

    assert response.status_code == 503
    assertContains(response, f'<html lang="{language}"', status_code=503)
    assertContains(
        response,
        '<p class="message message--warning" lang="fr">\n    Migration en cours, retour à 14h.',
        status_code=503,
    )


@pytest.mark.django_db
def test_the_windows_own_words_are_the_pages(client, settings):
    """Without the switch's message, the page's own sentence, in its language: not marked French."""
    settings.MAINTENANCE_WINDOW_ENFORCED = True

    with time_machine.travel(datetime.datetime(2026, 11, 28, 23, 30, tzinfo=zoneinfo.ZoneInfo("Europe/Paris"))):
        response = client.get(reverse("home"), language="en")

    assert response.status_code == 503
    window = '<p class="message message--warning">\n    The application is unavailable'
    assertContains(response, window, status_code=503)


# --- the lines of the lists in the mails --------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("language", "line"), [("en", "- Cover letter: unreadable\n- CV"), ("fr", "- Cover letter : unreadable\n- CV")]
)
def test_a_list_of_the_central_offices_own_text_is_in_the_mails_language(language, line):
    MailTemplate.objects.create(
        code="STATUT_IN", language=language, subject="Dossier ${formation_code}", body="Pieces:\n${refused_pieces}"
    )
    context = STATUT_IN.sample_context() | {"refused_pieces": REFUSED}

    with translation.override("en" if language == "fr" else "fr"):  # the request's language is not the mail's
        _subject, body, _html = render_email(STATUT_IN.template_base, context, language=language, code="STATUT_IN")

    assert f"Pieces:\n{line}" in body


@pytest.mark.parametrize(
    ("language", "line"),
    [
        ("en", "- Questionnaire de motivation: https://enquetes.univ.example/123\n"),
        ("fr", "- Questionnaire de motivation : https://enquetes.univ.example/123\n"),
    ],
)
def test_the_forms_of_the_reminder_are_listed_in_the_mails_language(language, line):
    context = FORMS.sample_context()

    _subject, body, _html = render_email(FORMS.template_base, context, language=language)

    assert line in body
