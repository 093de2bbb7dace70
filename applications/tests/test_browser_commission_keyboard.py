"""The commission's list of applications with the keyboard alone, at 375 and 1,280 px: from the main content, Tab
reaches the first row before any filter, as the page shows them (the filters on the right of the results, or below
them on a phone). Tab went through every filter first (one link per formation), and on a phone down past the rows
and back up (RGAA 12.8, WCAG 2.4.3)."""

import pytest

from accounts.tests.mfa import log_in_staff_browser
from applications.tests.factories_candidature import make_application
from offers.tests.factories import FormationFactory

pytestmark = pytest.mark.browser

FOCUS_JS = """() => { const e = document.activeElement;
  return {inFilters: !!e.closest('#changelist-filter'), row: e.classList.contains('action-select')}; }"""


@pytest.mark.parametrize("width", [375, 1280])
def test_tab_reaches_the_rows_before_the_filters(
    live_server, transactional_db, browser_page, commission_member, campaign, centre, commission, width
):
    formations = [FormationFactory(centre=centre, commission=commission) for _ in range(8)]
    make_application(formations[0], campaign=campaign)
    page = browser_page
    log_in_staff_browser(page, live_server, commission_member)
    page.set_viewport_size({"width": width, "height": 812})
    page.goto(live_server.url + "/gestion/applications/application/")

    page.keyboard.press("Tab")  # « Skip to main content », then into the main content
    page.keyboard.press("Enter")
    seen = []
    for _ in range(120):
        page.keyboard.press("Tab")
        seen.append(page.evaluate(FOCUS_JS))
        if seen[-1]["row"]:
            break

    assert seen[-1]["row"], "Tab never reached the first row"
    assert not any(focus["inFilters"] for focus in seen)
    results = page.locator("#result_list").bounding_box()
    filters = page.locator("#changelist-filter").bounding_box()
    assert results is not None
    assert filters is not None
    if width >= 1024:
        assert filters["x"] >= results["x"] + results["width"]  # on the right, as before
    else:
        assert filters["y"] >= results["y"] + results["height"]  # below the results
    assert page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth") <= 0
