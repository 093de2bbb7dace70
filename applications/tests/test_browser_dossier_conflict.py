"""Two tabs of the same candidate on the address (375 px phone and 1,280 px screen, with and without JavaScript): the
second save is refused with the message at the top of the form (announced, focused with JavaScript), the values typed
kept and the stored ones listed; saving again goes through. The page fits the screen and passes axe-core."""

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from accounts.tests.mfa import log_in_staff_browser
from applications.models import Address
from applications.tests.factories_candidature import complete_candidate, make_application
from ecandidat.tests.plugins.browser import assert_no_serious_axe_violations, log_in_browser
from offers.tests.factories import FormationFactory

pytestmark = pytest.mark.browser

ADDRESS = "/candidat/adresse/"


def _overflow(page) -> int:
    return page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")


@pytest.mark.parametrize(("width", "javascript"), [(375, False), (375, True), (1280, True)])
def test_two_tabs_on_the_address(live_server, chromium_browser, campaign, width, javascript, tmp_path):
    candidate = complete_candidate(user__campaign=campaign)
    context = chromium_browser.new_context(locale="fr-FR", java_script_enabled=javascript)
    context.set_default_timeout(10_000)
    tab_1, tab_2 = context.new_page(), context.new_page()
    try:
        for tab in (tab_1, tab_2):
            tab.set_viewport_size({"width": width, "height": 812})
        log_in_browser(tab_1, live_server, candidate.user)
        tab_1.goto(live_server.url + ADDRESS)
        tab_2.goto(live_server.url + ADDRESS)
        tab_1.locator("#id_city").fill("CANET")
        tab_1.get_by_role("button", name="Enregistrer").click()
        expect(tab_1.get_by_text("Votre adresse a été enregistrée.")).to_be_visible()

        tab_2.locator("#id_city").fill("ELNE")
        tab_2.get_by_role("button", name="Enregistrer").click()

        alert = tab_2.get_by_role("alert")
        expect(alert).to_contain_text("Cette rubrique a été modifiée par vous-même")
        expect(alert).to_contain_text("vérifiez les valeurs actuelles ci-dessous puis enregistrez à nouveau")
        if javascript:
            expect(tab_2.locator("#error-summary")).to_be_focused()
            assert_no_serious_axe_violations(tab_2)
        expect(tab_2.locator("#id_city")).to_have_value("ELNE")
        expect(tab_2.locator(".conflict dd", has_text="CANET")).to_be_visible()
        assert _overflow(tab_2) == 0
        tab_2.screenshot(path=str(tmp_path / f"conflict-{width}.png"), full_page=True)
        assert Address.objects.get(candidate=candidate).city == "CANET"

        tab_2.get_by_role("button", name="Enregistrer").click()

        expect(tab_2.get_by_text("Votre adresse a été enregistrée.")).to_be_visible()
        assert Address.objects.get(candidate=candidate).city == "ELNE"
    finally:
        context.close()


@pytest.mark.parametrize("width", [375, 1280])
def test_a_manager_correcting_the_address_the_candidate_just_changed(
    live_server, chromium_browser, campaign, centre, commission, centre_manager, width, tmp_path
):
    application = make_application(FormationFactory(centre=centre, commission=commission), campaign=campaign)
    candidate = application.candidate
    Address.objects.create(candidate=candidate, line1="1 rue du Test", postal_code="66000", city="PERPIGNAN")
    staff = chromium_browser.new_context(locale="fr-FR")
    own = chromium_browser.new_context(locale="fr-FR")
    staff.set_default_timeout(10_000)
    own.set_default_timeout(10_000)
    try:
        admin_page, candidate_page = staff.new_page(), own.new_page()
        admin_page.set_viewport_size({"width": width, "height": 900})
        log_in_staff_browser(admin_page, live_server, centre_manager)
        log_in_browser(candidate_page, live_server, candidate.user)
        admin_page.goto(live_server.url + reverse("admin:applications_candidate_change", args=[candidate.pk]))
        candidate_page.goto(live_server.url + ADDRESS)
        candidate_page.locator("#id_city").fill("ELNE")
        candidate_page.get_by_role("button", name="Enregistrer").click()
        expect(candidate_page.get_by_text("Votre adresse a été enregistrée.")).to_be_visible()

        admin_page.locator("#id_address-0-city").fill("CANET")
        admin_page.locator("input[name=_continue]").click()

        expect(admin_page.locator("#dossier-conflict")).to_contain_text("modifiée par le candidat")
        expect(admin_page.locator("#id_address-0-city")).to_have_value("CANET")
        expect(admin_page.locator(".dossier-conflict-values")).to_contain_text("ELNE")
        admin_page.screenshot(path=str(tmp_path / f"admin-conflict-{width}.png"), full_page=False)
        assert Address.objects.get(candidate=candidate).city == "ELNE"

        admin_page.locator("input[name=_continue]").click()

        expect(admin_page.locator("#dossier-conflict")).to_have_count(0)
        assert Address.objects.get(candidate=candidate).city == "CANET"
    finally:
        staff.close()
        own.close()
