"""The catalogue as a candidate uses it: in Chromium, with the keyboard, checked by axe-core."""

import re

import pytest

from ecandidat.tests.plugins.browser import assert_no_serious_axe_violations
from offers import demo

pytestmark = pytest.mark.browser

ENERGY_MASTERS = [
    "MASTER 1 - ENERGIE Parc. Matériaux et procédés solaires",
    "MASTER 2 - ENERGIE Parc. Matériaux et procédés solaires",
]


def _tab_to(page, selector: str, *, max_presses: int = 60) -> None:
    """Press Tab until the element matching ``selector`` has the focus (fails if it is never reached)."""
    for _ in range(max_presses):
        if page.evaluate("(sel) => document.activeElement === document.querySelector(sel)", selector):
            return
        page.keyboard.press("Tab")
    pytest.fail(f"{selector} never received the focus after {max_presses} Tab presses")


def test_filter_the_catalogue_and_unfold_a_branch_with_the_keyboard(live_server, transactional_db, browser_page):
    demo.seed()
    page = browser_page

    page.goto(live_server.url + "/")
    assert page.evaluate("document.styleSheets.length && document.styleSheets[0].cssRules.length > 0"), (
        "app.css did not load"
    )
    assert_no_serious_axe_violations(page)

    page.locator('nav.site-nav a[href="/offre-de-formation/"]').click()
    page.wait_for_url(re.compile(r"/offre-de-formation/$"))
    assert_no_serious_axe_violations(page)

    page.locator("#id_q").fill("énergie")
    page.locator("#id_q").press("Enter")
    page.wait_for_url(re.compile(r"\?q=%C3%A9nergie"))
    assert page.locator("#id_q").input_value() == "énergie"
    for title in ENERGY_MASTERS:
        assert page.get_by_text(title, exact=True).is_visible()
    assert_no_serious_axe_violations(page)

    # The diploma branch holding the two masters: reach its <summary> with Tab only, then fold and unfold it.
    branch = page.locator("details.catalogue__diploma", has=page.get_by_text(ENERGY_MASTERS[0], exact=True))
    assert branch.evaluate("el => el.open") is True
    branch.evaluate("el => el.querySelector(':scope > summary').setAttribute('data-test-target', '')")
    page.locator("#id_q").focus()
    _tab_to(page, "[data-test-target]")

    page.keyboard.press("Enter")
    assert branch.evaluate("el => el.open") is False
    assert not page.get_by_text(ENERGY_MASTERS[0], exact=True).is_visible()

    page.keyboard.press("Space")
    assert branch.evaluate("el => el.open") is True
    for title in ENERGY_MASTERS:
        assert page.get_by_text(title, exact=True).is_visible()
