"""The external cursus form in a real browser on a 320 px phone: the département, then "Valider le département" and
the commune from the département's list, without JavaScript; the page fits the screen and passes axe-core."""

import pytest
from playwright.sync_api import expect

from applications.models import ExternalCursus, ReferenceCommune, ReferenceOtherDiploma
from applications.models.reference import forget_reference_lists
from applications.tests.factories_candidature import complete_candidate
from ecandidat.tests.plugins.browser import assert_no_serious_axe_violations, log_in_browser

pytestmark = pytest.mark.browser

ADD = "/candidat/cursus-externe/ajouter/"


def _overflow(page) -> int:
    return page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")


@pytest.fixture
def lists(transactional_db):
    # A transactional test flushes the rows the migration seeded: the diplomas the test uses are made again.
    ReferenceOtherDiploma.objects.get_or_create(
        code="DEUST", defaults={"label": "Diplôme d'études universitaires scientifiques et techniques (DEUST)"}
    )
    ReferenceCommune.objects.bulk_create(
        [
            ReferenceCommune(code="66136", label="PERPIGNAN", insee_code="66136", postal_code="66000"),
            ReferenceCommune(code="66008", label="ARGELES-SUR-MER", insee_code="66008", postal_code="66700"),
            ReferenceCommune(code="34172", label="MONTPELLIER", insee_code="34172", postal_code="34000"),
        ]
    )
    forget_reference_lists()  # the live server runs in this process: it reads the lists made above


@pytest.mark.parametrize("javascript", [False, True])
def test_the_cursus_form_on_a_phone(live_server, chromium_browser, campaign, lists, javascript):
    candidate = complete_candidate(user__campaign=campaign)
    context = chromium_browser.new_context(locale="fr-FR", java_script_enabled=javascript)
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        page.set_viewport_size({"width": 320, "height": 812})
        log_in_browser(page, live_server, candidate.user)
        page.goto(live_server.url + ADD)
        assert _overflow(page) == 0
        page.get_by_label("Année").fill("2023")
        page.get_by_label("Libellé et niveau").fill("DEUST Métiers de la forme")
        page.locator("#id_diploma").select_option("DEUST")
        page.get_by_label("Obtenu").select_option("O")
        page.get_by_label("Pays").select_option("FR")
        page.get_by_label("Département").select_option("66")
        page.get_by_role("button", name="Valider le département").click()

        city = page.get_by_label("Commune")
        expect(city.locator("option[value='66136']")).to_have_count(1)
        expect(city.locator("option[value='34172']")).to_have_count(0)
        expect(page.get_by_label("Libellé et niveau")).to_have_value("DEUST Métiers de la forme")
        assert _overflow(page) == 0
        if javascript:
            assert_no_serious_axe_violations(page)
        city.select_option("66136")
        page.get_by_label("Établissement").fill("Université de Perpignan")
        page.get_by_role("button", name="Enregistrer").click()

        expect(page.get_by_text("PERPIGNAN, Pyrénées-Orientales (66)")).to_be_visible()
        assert _overflow(page) == 0
        row = ExternalCursus.objects.get(candidate=candidate)
        assert (row.diploma, row.department, row.city_insee_code) == ("DEUST", "66", "66136")
    finally:
        context.close()


@pytest.mark.parametrize("javascript", [False, True])
def test_enter_in_a_text_field_saves_the_cursus(live_server, chromium_browser, campaign, lists, javascript):
    """Enter submits a form with its first submit button: it saves, and does not "Valider le département" (which
    reloads the page and saves nothing). The copy of "Enregistrer" that makes it so is hidden from assistive
    technologies and out of the tab order: they find one "Enregistrer", at the end of the form."""
    candidate = complete_candidate(user__campaign=campaign)
    context = chromium_browser.new_context(locale="fr-FR", java_script_enabled=javascript)
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        page.set_viewport_size({"width": 320, "height": 812})
        log_in_browser(page, live_server, candidate.user)
        page.goto(live_server.url + ADD)
        expect(page.get_by_role("button", name="Enregistrer")).to_have_count(1)
        page.get_by_label("Année").fill("2023")
        page.get_by_label("Libellé et niveau").fill("DEUST Métiers de la forme")
        page.locator("#id_diploma").select_option("DEUST")
        page.get_by_label("Obtenu").select_option("O")
        page.get_by_label("Pays").select_option("FR")
        page.get_by_label("Département").select_option("66")
        page.get_by_role("button", name="Valider le département").click()
        page.get_by_label("Commune").select_option("66136")
        school = page.get_by_label("Établissement")
        school.fill("Université de Perpignan")

        # The keyboard leaves the school for the visible "Enregistrer", never for the hidden copy.
        school.press("Tab")
        assert page.evaluate("document.activeElement.textContent.trim()") == "Enregistrer"
        assert page.evaluate("document.activeElement.getAttribute('aria-hidden')") is None
        school.press("Enter")

        expect(page.get_by_text("PERPIGNAN, Pyrénées-Orientales (66)")).to_be_visible()
        row = ExternalCursus.objects.get(candidate=candidate)
        assert (row.school, row.department, row.city_insee_code) == ("Université de Perpignan", "66", "66136")
    finally:
        context.close()


def test_enter_before_the_commune_saves_and_says_what_is_missing(live_server, browser_page, campaign, lists):
    """Enter with the commune not chosen yet: the form is checked as "Enregistrer" would, its message beside the
    commune, and nothing typed is lost."""
    candidate = complete_candidate(user__campaign=campaign)
    page = browser_page
    page.set_viewport_size({"width": 320, "height": 812})
    log_in_browser(page, live_server, candidate.user)
    page.goto(live_server.url + ADD)
    page.get_by_label("Année").fill("2023")
    page.get_by_label("Pays").select_option("FR")
    page.get_by_label("Département").select_option("66")
    page.get_by_label("Libellé et niveau").fill("DEUST Métiers de la forme")
    page.get_by_label("Libellé et niveau").press("Enter")

    expect(page.locator("#error-summary")).to_be_visible()
    expect(page.get_by_label("Libellé et niveau")).to_have_value("DEUST Métiers de la forme")
    assert not ExternalCursus.objects.filter(candidate=candidate).exists()
