"""A commission member's list of applications on a phone, in Chromium without JavaScript: with 31 dossiers each row is
a card and Django's filters come after them (« Par décision → Aucun avis » was 12,923 px down at 375 px, no link to
it). The link « Filtres » at the top of the results brings the filters into the window and gives them the focus; their
« Retour aux résultats » brings the results back. At 1,280 px, where the filters are beside the list, neither link
shows. No page scrolls sideways at 320 px."""

import pytest
from django.conf import settings

from accounts.tests.mfa import Client
from applications.tests.factories_candidature import make_application
from offers.tests.factories import FormationFactory

pytestmark = pytest.mark.browser

LIST = "/gestion/applications/application/"
JUMP = "p.filter-jump > a[href='#changelist-filter']"
BACK = "#changelist-filter p.results-jump > a[href='#changelist-form']"
# Where an element is in the window, and which element has the focus.
BOX_JS = """(selector) => { const box = document.querySelector(selector).getBoundingClientRect();
  return {top: box.top, bottom: box.bottom, height: box.height, width: box.width, window: window.innerHeight,
          focused: document.activeElement.id, scrolled: window.scrollY}; }"""
PAGE_OVERFLOW_JS = "document.documentElement.scrollWidth - document.documentElement.clientWidth"


def _log_in_staff(context, live_server, user) -> None:
    """A staff session with its second factor recorded, set in the browser context."""
    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url}])


@pytest.fixture
def page_without_javascript(chromium_browser, live_server, commission_member):
    context = chromium_browser.new_context(locale="fr-FR", java_script_enabled=False)
    context.set_default_timeout(10_000)
    _log_in_staff(context, live_server, commission_member)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture
def dossiers(campaign, centre, commission):
    formations = [FormationFactory(centre=centre, commission=commission) for _ in range(3)]
    return [make_application(formations[number % 3], campaign=campaign) for number in range(31)]


def test_on_a_phone_the_link_brings_the_filters_and_back(
    live_server, transactional_db, page_without_javascript, dossiers
):
    page = page_without_javascript
    page.set_viewport_size({"width": 375, "height": 812})
    response = page.goto(live_server.url + LIST + "?to_check=no")
    assert response is not None
    assert response.status == 200

    link = page.locator(JUMP)
    assert link.inner_text().strip() == "Filtres (1 actif)"
    before = page.evaluate(BOX_JS, JUMP)
    assert before["top"] < before["window"]  # in the first screen, above the cards
    assert before["height"] >= 44
    assert before["width"] >= 44
    assert page.evaluate(BOX_JS, "#changelist-filter")["top"] > 10 * before["window"]  # far below: 31 cards

    link.click()
    page.wait_for_function("location.hash === '#changelist-filter'")
    filters = page.evaluate(BOX_JS, "#changelist-filter")
    assert 0 <= filters["top"] < filters["window"]
    assert filters["focused"] == "changelist-filter"
    assert page.get_by_role("link", name="Aucun avis").count() == 1

    back = page.locator(BACK)
    assert back.inner_text().strip() == "Retour aux résultats"
    box = page.evaluate(BOX_JS, BACK)
    assert 0 <= box["top"] < box["window"]
    assert box["height"] >= 44
    back.click()
    page.wait_for_function("location.hash === '#changelist-form'")
    results = page.evaluate(BOX_JS, "#changelist-form")
    assert 0 <= results["top"] < results["window"]
    assert results["focused"] == "changelist-form"


@pytest.mark.parametrize("width", [768, 1280])
def test_beside_the_list_no_link(live_server, transactional_db, page_without_javascript, dossiers, width):
    page = page_without_javascript
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(live_server.url + LIST)

    assert page.locator(JUMP).count() == 1
    assert not page.locator(JUMP).is_visible()
    assert not page.locator(BACK).is_visible()
    assert page.locator("#changelist-filter").is_visible()  # the filters themselves, beside the list


@pytest.mark.parametrize("width", [320, 375, 767])
def test_no_sideways_scroll_on_a_phone(live_server, transactional_db, page_without_javascript, dossiers, width):
    page = page_without_javascript
    page.set_viewport_size({"width": width, "height": 812})
    page.goto(live_server.url + LIST + "?decision=none&to_check=no")

    assert page.locator(JUMP).is_visible()
    assert page.locator(JUMP).inner_text().strip() == "Filtres (2 actifs)"
    assert page.evaluate(PAGE_OVERFLOW_JS) <= 0
