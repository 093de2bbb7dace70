"""The page where staff enter the answers to the complementary questions in the candidate's place passes axe-core
(RGAA), also with an error next to its field, and saves in a real browser."""

import pytest
from django.conf import settings
from django.urls import reverse
from playwright.sync_api import expect

from accounts.tests.mfa import Client
from applications.models import QuestionAnswer
from applications.tests.factories_candidature import ApplicationFactory, complete_candidate
from ecandidat.tests.plugins.browser import serious_axe_violations
from offers.models import Question
from offers.tests.factories import FormationFactory

pytestmark = pytest.mark.browser


def test_the_page_passes_axe_with_and_without_errors_and_saves(
    live_server, transactional_db, browser_page, campaign, centre, commission, centre_manager
):
    formation = FormationFactory(centre=centre, commission=commission)
    # Conditional: its "Non concerné" box (a conditional Yes/No question has it among its radios).
    project = Question.objects.create(
        code="PROJET", label="Projet", candidate_label="Votre projet ?", is_conditional=True, order=1
    )
    sea = Question.objects.create(
        code="MER",
        label="Mer",
        candidate_label="Déjà embarqué ?",
        kind=Question.Kind.BOOLEAN,
        is_conditional=True,
        order=2,
    )
    formation.questions.add(project, sea)
    application = ApplicationFactory(candidate=complete_candidate(user__campaign=campaign), formation=formation)
    page = browser_page
    client = Client()
    client.force_login(centre_manager)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    page.context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url}])

    page.goto(live_server.url + reverse("admin:applications_application_change", args=[application.pk]))
    page.get_by_role("link", name="Saisir les réponses aux questions").click()
    assert serious_axe_violations(page) == []
    page.get_by_label("Réponse du candidat").fill("Océanographe")
    page.get_by_role("checkbox", name="Cette question ne concerne pas le candidat").check()
    page.get_by_role("button", name="Enregistrer").click()
    expect(page.get_by_role("alert").filter(has_text="pas les deux")).to_have_count(1)
    assert serious_axe_violations(page) == []

    page.get_by_role("checkbox", name="Cette question ne concerne pas le candidat").uncheck()
    page.get_by_role("radio", name="Oui").check()
    page.get_by_role("button", name="Enregistrer").click()
    expect(page.get_by_text("Les réponses ont été enregistrées pour le candidat.")).to_have_count(1)
    assert set(QuestionAnswer.objects.values_list("answer", flat=True)) == {"Océanographe", "O"}

    # "Oui" replaced by "Non concerné", the third radio of the question's group.
    page.get_by_role("link", name="Saisir les réponses aux questions").click()
    page.get_by_role("radio", name="Cette question ne concerne pas le candidat").check()
    expect(page.get_by_role("radio", name="Oui")).not_to_be_checked()
    page.get_by_role("button", name="Enregistrer").click()
    expect(page.get_by_text("Les réponses ont été enregistrées pour le candidat.")).to_have_count(1)
    assert QuestionAnswer.objects.get(question=sea).not_concerned
    assert QuestionAnswer.objects.get(question=sea).answer == ""
