"""A staff membership's « Commissions du centre » (accounts.admin.StaffMembershipForm: a plain multiple list, not
Django's two-column chooser) with a long commission, in Chromium, on a wide screen and on a phone. Each option
reads « centre — commission », 363 characters with a 187-character centre and a 173-character commission: the list
grew to its longest option and Django's ``.form-row`` hid what ran past the row (the end of the list and its
scrollbar). static/css/admin_phone.css keeps it to its row at every width, its options wrapping so that a long
label is read whole, and leaves Django's two-column chooser (a formation's pieces, forms and questions) as it was:
its two columns side by side at 1,280 px.
"""

import pytest
from django.conf import settings

from accounts.models import StaffRole
from accounts.tests.factories import StaffMembershipFactory
from accounts.tests.mfa import Client
from offers.tests.factories import CentreFactory, CommissionFactory, FormationFactory, PieceTypeFactory

pytestmark = pytest.mark.browser

CENTRE_LABEL = (
    "Centre de candidature de l'UFR des Sciences et Techniques des Activités Physiques et Sportives, de la Santé "
    "publique, de l'Environnement et des Territoires ruraux du campus de Saint-Denis"
)
COMMISSION_LABEL = (
    "Commission pédagogique du master Ingénierie des systèmes énergétiques renouvelables et du stockage distribué, "
    "parcours international en alternance et formation continue 2027"
)
PIECE_LABEL = (
    "Attestation de réussite ou relevé de notes du dernier diplôme obtenu, traduit en français par un traducteur "
    "assermenté lorsque le diplôme a été délivré à l'étranger"
)
WIDTHS = (1280, 1024, 320)

# How far the page runs past the window; how far the list runs past its form row (or the window, if narrower);
# how far its content runs past its own box (an option of one line as wide as its label: the list scrolls
# sideways, or its end is hidden); the height of its longest option (several lines when it wraps); and its own
# height (Chromium makes a list as high as its number of rows times its highest option).
MEASURE_LIST_JS = """
() => {
  const select = document.getElementById('id_commissions');
  if (!select) return null;
  const row = select.closest('.form-row');
  const right = Math.min(row.getBoundingClientRect().right, document.documentElement.clientWidth);
  const heights = Array.from(select.options, (option) => option.getBoundingClientRect().height);
  return {
    page: document.documentElement.scrollWidth - document.documentElement.clientWidth,
    pastRow: Math.round(select.getBoundingClientRect().right - right),
    pastList: select.scrollWidth - select.clientWidth,
    optionHeight: Math.max(...heights),
    shortOptionHeight: Math.min(...heights),
    height: Math.round(select.getBoundingClientRect().height),
    windowHeight: window.innerHeight,
  };
}
"""

# Django's two-column chooser: the boxes of the available and the chosen columns, and of their form row.
MEASURE_CHOOSER_JS = """
() => {
  const box = (element) => {
    if (!element) return null;
    const rect = element.getBoundingClientRect();
    return {left: rect.left, right: rect.right, top: rect.top, width: rect.width};
  };
  const selector = document.querySelector('.field-piece_types .selector');
  if (!selector) return null;
  return {
    available: box(selector.querySelector('.selector-available')),
    chosen: box(selector.querySelector('.selector-chosen')),
    row: box(selector.closest('.form-row')),
    page: document.documentElement.scrollWidth - document.documentElement.clientWidth,
  };
}
"""


def _log_in_staff(page, live_server, user) -> None:
    """A staff session with its second factor recorded, set in the page's browser context."""
    client = Client()
    client.force_login(user)
    page.context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": live_server.url,
            }
        ]
    )


@pytest.mark.parametrize("javascript", [True, False], ids=["javascript", "no-javascript"])
def test_the_commissions_list_keeps_to_its_row(
    live_server, transactional_db, chromium_browser, campaign, centre, central_manager, javascript
):
    centre.label = CENTRE_LABEL
    centre.save(update_fields=["label"])
    commission = CommissionFactory(centre=centre, label=COMMISSION_LABEL)
    CommissionFactory(centre=CentreFactory(label="UFR Lettres"), label="Commission L3")  # an option of one line
    membership = StaffMembershipFactory(centre=centre, role=StaffRole.CENTRE_MANAGER, all_commissions=False)
    membership.commissions.set([commission])
    assert len(f"{centre} — {commission}") == 363
    paths = ["/gestion/accounts/staffmembership/add/", f"/gestion/accounts/staffmembership/{membership.pk}/change/"]
    context = chromium_browser.new_context(locale="fr-FR", java_script_enabled=javascript)
    context.set_default_timeout(10_000)
    page = context.new_page()
    _log_in_staff(page, live_server, central_manager)

    problems = []
    try:
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 900})
            for path in paths:
                response = page.goto(live_server.url + path)
                assert response is not None
                assert response.status == 200, path
                measured = page.evaluate(MEASURE_LIST_JS)
                assert measured is not None, f"{path}: no #id_commissions"
                if measured["page"] > 0:
                    problems.append(f"{width}px {path}: the page is {measured['page']} px too wide")
                if measured["pastRow"] > 0:
                    problems.append(f"{width}px {path}: the list runs {measured['pastRow']} px past its row")
                if measured["pastList"] > 0:
                    problems.append(f"{width}px {path}: the options run {measured['pastList']} px past the list")
                # The long option wraps: at least two lines, where « UFR Lettres — Commission L3 » holds on one.
                if measured["optionHeight"] < 1.8 * measured["shortOptionHeight"]:
                    problems.append(f"{width}px {path}: the long option is one line ({measured['optionHeight']} px)")
                # The wrapped option does not make the list higher than half the window: the list scrolls.
                if measured["height"] > measured["windowHeight"] / 2:
                    problems.append(f"{width}px {path}: the list is {measured['height']} px high")
    finally:
        context.close()
    assert problems == [], "\n".join(problems)


def test_the_two_column_chooser_keeps_its_columns_side_by_side(
    live_server, transactional_db, chromium_browser, campaign, centre, central_manager
):
    """A formation's pieces (filter_horizontal), one of them long, at 1,280 px: the available and the chosen
    columns side by side, each of a fair width, within the row."""
    centre.label = CENTRE_LABEL
    centre.save(update_fields=["label"])
    commission = CommissionFactory(centre=centre, label=COMMISSION_LABEL)
    formation = FormationFactory(centre=centre, commission=commission)
    PieceTypeFactory(label=PIECE_LABEL)
    formation.piece_types.add(PieceTypeFactory())
    context = chromium_browser.new_context(locale="fr-FR")
    context.set_default_timeout(10_000)
    page = context.new_page()
    _log_in_staff(page, live_server, central_manager)
    try:
        page.set_viewport_size({"width": 1280, "height": 900})
        response = page.goto(f"{live_server.url}/gestion/offers/formation/{formation.pk}/change/")
        assert response is not None
        assert response.status == 200
        page.wait_for_selector(".field-piece_types .selector-chosen")
        measured = page.evaluate(MEASURE_CHOOSER_JS)
    finally:
        context.close()
    assert measured is not None
    available, chosen, row = measured["available"], measured["chosen"], measured["row"]
    assert measured["page"] <= 0
    assert abs(available["top"] - chosen["top"]) < 1, measured  # one beside the other, not one under the other
    assert available["right"] < chosen["left"], measured
    assert available["width"] > 250, measured
    assert chosen["width"] > 250, measured
    assert abs(available["width"] - chosen["width"]) < 1, measured  # Django's two equal columns
    assert available["left"] >= row["left"], measured
    assert chosen["right"] <= row["right"], measured
