"""'Saisir un avis' in Chromium: only the fields of the chosen kind of avis are shown (static/js/decision_form.js),
and without JavaScript every field is there."""

import pytest

from applications.tests.factories_candidature import DecisionTypeFactory, make_application
from applications.tests.helpers import staff_login, staff_with_authenticator_app
from ecandidat.tests.plugins.browser import assert_no_serious_axe_violations
from offers.enums import Avis
from offers.tests.factories import CommissionFactory, FormationFactory

pytestmark = pytest.mark.browser

KIND_FIELDS = {
    "Motivation (avis défavorable)": "DE",
    "Rang (liste complémentaire)": "LC",
    "Date de présélection": "PR",
    "Heure de présélection": "PR",
    "Lieu de présélection": "PR",
}


@pytest.fixture
def setup(live_server, transactional_db, campaign, settings):
    settings.MFA_TOTP_TOLERANCE = 1
    commission = CommissionFactory()
    for avis, label in [
        (Avis.FAVOURABLE, "Favorable"),
        (Avis.UNFAVOURABLE, "Défavorable"),
        (Avis.COMPLEMENTARY_LIST, "Liste complémentaire"),
        (Avis.PRESELECTION, "Présélection"),
    ]:
        DecisionTypeFactory(avis=avis, label=label)
    formation = FormationFactory(centre=commission.centre, commission=commission)
    application = make_application(formation, campaign=campaign)
    member, secret = staff_with_authenticator_app(commission_member=True, commission=commission)
    return live_server, application, member, secret


def _shown(page) -> set[str]:
    return {label for label in KIND_FIELDS if page.get_by_label(label).is_visible()}


def test_only_the_fields_of_the_chosen_kind_are_shown(setup, browser_page):
    live_server, application, member, secret = setup
    staff_login(browser_page, live_server, member, secret)
    browser_page.goto(f"{live_server.url}/gestion/applications/application/{application.pk}/operation/enter_decision/")
    decision = browser_page.get_by_label("Avis :", exact=True)

    assert _shown(browser_page) == set()  # no kind chosen yet
    for option, expected in [
        ("Défavorable", {"Motivation (avis défavorable)"}),
        ("Liste complémentaire", {"Rang (liste complémentaire)"}),
        ("Présélection", {"Date de présélection", "Heure de présélection", "Lieu de présélection"}),
        ("Favorable", set()),
    ]:
        decision.select_option(label=option)
        assert _shown(browser_page) == expected, option
    assert browser_page.get_by_label("Commentaire").is_visible()  # every kind's
    assert_no_serious_axe_violations(browser_page)
    # « Décision après appel » is a 24 × 24 px target at 1,280 px, not Django's 13 px box (WCAG 2.5.8).
    browser_page.set_viewport_size({"width": 1280, "height": 900})
    appeal = browser_page.get_by_label("Décision après appel").bounding_box()
    assert appeal is not None
    assert appeal["width"] >= 24, appeal
    assert appeal["height"] >= 24, appeal

    # A form sent back with an error shows the fields of the kind it was sent with.
    decision.select_option(label="Liste complémentaire")
    browser_page.get_by_role("button", name="Confirmer", exact=True).click()
    # Beside the field (the error summary's link to it says « Rang (liste complémentaire) : » first).
    browser_page.get_by_text("Un avis liste complémentaire nécessite un rang.", exact=True).wait_for()
    assert _shown(browser_page) == {"Rang (liste complémentaire)"}


def test_without_javascript_every_field_is_shown(setup, chromium_browser):
    live_server, application, member, secret = setup
    context = chromium_browser.new_context(locale="fr-FR", java_script_enabled=False)
    try:
        page = context.new_page()
        staff_login(page, live_server, member, secret)
        page.goto(f"{live_server.url}/gestion/applications/application/{application.pk}/operation/enter_decision/")

        assert _shown(page) == set(KIND_FIELDS)
        # Django's theme button draws its name and icon from its script: without it, it was a 0×0 button with no
        # name that Tab stopped on after « Déconnexion », doing nothing. It is not a stop now.
        stops = []
        for _ in range(12):
            page.keyboard.press("Tab")
            stops.append(page.evaluate("document.activeElement.className + ':' + document.activeElement.textContent"))
        assert not [stop for stop in stops if "theme-toggle" in stop], stops
    finally:
        context.close()
