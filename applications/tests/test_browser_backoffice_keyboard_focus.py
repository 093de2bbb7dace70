"""A commission member entering avis with the keyboard only, in Chromium at 1,280 and 375 px (RGAA 10.7, 11.10):
after an action's message, Shift+Tab up the dossier page never puts the focused control under the sticky messages
(static/css/admin_review.css); an avis refused puts the focus on the error summary, whose link leads to the field
in error (static/js/admin_a11y.js), and without JavaScript the page comes back to the summary's anchor, the next Tab
on its link."""

import pytest

from accounts.tests.mfa import log_in_staff_browser
from applications.enums import EventKind
from applications.history import record_event
from applications.tests.factories_candidature import DecisionTypeFactory, make_application
from offers.enums import Avis
from offers.tests.factories import FormationFactory

pytestmark = pytest.mark.browser

WIDTHS = [1280, 375]
ACTIVE = "() => document.activeElement.id || document.activeElement.tagName.toLowerCase()"
# The focused element and the messages box overlap on the screen (the focus inside the box itself aside).
UNDER_MESSAGES = """() => { const e = document.activeElement, m = document.querySelector('.review-messages');
  if (!m || m.contains(e)) return null;
  const r = e.getBoundingClientRect(), b = m.getBoundingClientRect();
  if (r.width === 0 && r.height === 0) return null;
  const name = e.id || e.tagName.toLowerCase() + ' ' + (e.innerText || e.value || '').slice(0, 30);
  return r.bottom > b.top && r.top < b.bottom ? name : null; }"""
TABBABLE = """[...document.querySelectorAll(
    'a[href], button, input:not([type=hidden]), select, textarea, summary, [tabindex="0"]'
  )].filter(e => e.getClientRects().length && !e.disabled)"""
LAST_FOCUSABLE = f"() => {{ const all = {TABBABLE}; all[all.length - 1].focus(); }}"
# The page read up with the arrows or the wheel until the control before the focused one is half out of the window,
# its lower half under the messages: Shift+Tab scrolls it just enough to be whole in the window (to its top edge).
PREVIOUS_HALF_OUT = f"""() => {{ const all = {TABBABLE}, i = all.indexOf(document.activeElement);
  const previous = all[i - 1];
  if (i < 1 || previous.closest('.review-messages')) return;
  const r = previous.getBoundingClientRect(); window.scrollBy(0, r.top + r.height / 2); }}"""


@pytest.fixture
def dossier(live_server, transactional_db, campaign, centre, commission, commission_member):
    for avis, label in [(Avis.FAVOURABLE, "Favorable"), (Avis.UNFAVOURABLE, "Défavorable")]:
        DecisionTypeFactory(avis=avis, label=label)
    formation = FormationFactory(centre=centre, commission=commission)
    application = make_application(formation, campaign=campaign)
    for index in range(30):  # a long history: the page scrolls at 1,280 px too
        record_event(application, actor=application.candidate.user, kind=EventKind.FORMS_REMINDER, comment=f"{index}")
    return application, commission_member


def _dossier_page(page, live_server, dossier, width):
    application, member = dossier
    page.set_viewport_size({"width": width, "height": 900})
    log_in_staff_browser(page, live_server, member)
    page.goto(f"{live_server.url}/gestion/applications/application/{application.pk}/change/")


def _refuse_an_unfavourable_avis_without_reason(page, select: str) -> None:
    """At the keyboard: « Défavorable » chosen with the arrows, Tab to « Confirmer », Enter (no motive: refused)."""
    page.focus(select)
    # « Défavorable »: the first option after the empty « --------- » choice (options sorted by label).
    page.keyboard.press("ArrowDown")
    assert page.evaluate("document.activeElement.selectedOptions[0].text") == "Défavorable"
    for _ in range(20):  # without JavaScript, every kind's fields are on the way
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.value") == "Confirmer":
            break
    else:
        pytest.fail("Tab never reached « Confirmer »")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.title().startswith("Erreur")


@pytest.mark.parametrize("width", WIDTHS)
def test_shift_tab_up_the_dossier_never_focuses_under_the_sticky_messages(dossier, browser_page, live_server, width):
    page = browser_page
    _dossier_page(page, live_server, dossier, width)
    page.select_option("#decision-entry-decision_type", label="Favorable")
    with page.expect_navigation():
        page.click("#decision-entry input.default")  # confirmed: a success message, in the sticky box
    assert page.locator(".review-messages .success").is_visible()

    page.evaluate(LAST_FOCUSABLE)
    covered = []
    for _ in range(200):
        page.evaluate(PREVIOUS_HALF_OUT)
        page.keyboard.press("Shift+Tab")
        if page.evaluate("document.activeElement.classList.contains('review-messages')"):
            break  # the box itself: everything above it is above it in the page too
        if hidden := page.evaluate(UNDER_MESSAGES):
            covered.append(hidden)
    else:
        pytest.fail("Shift+Tab never reached the messages")
    assert covered == []


@pytest.mark.parametrize("width", WIDTHS)
def test_a_refused_avis_on_the_dossier_focuses_the_summary_then_the_field(dossier, browser_page, live_server, width):
    page = browser_page
    _dossier_page(page, live_server, dossier, width)

    _refuse_an_unfavourable_avis_without_reason(page, "#decision-entry-decision_type")

    assert page.url.endswith("#operation-errors")
    assert page.evaluate(ACTIVE) == "operation-errors"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.getAttribute('href')") == "#decision-entry-refusal_reason"
    page.keyboard.press("Enter")
    assert page.evaluate(ACTIVE) == "decision-entry-refusal_reason"
    assert page.evaluate("document.activeElement.getAttribute('aria-invalid')") == "true"


@pytest.mark.parametrize("width", WIDTHS)
def test_without_javascript_the_next_tab_starts_from_the_summary(dossier, chromium_browser, live_server, width):
    context = chromium_browser.new_context(locale="fr-FR", java_script_enabled=False)
    context.set_default_timeout(10_000)
    try:
        page = context.new_page()
        _dossier_page(page, live_server, dossier, width)

        _refuse_an_unfavourable_avis_without_reason(page, "#decision-entry-decision_type")

        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.getAttribute('href')") == "#decision-entry-refusal_reason"
    finally:
        context.close()


def test_a_refused_avis_on_its_own_page_focuses_the_summary_then_the_field(dossier, browser_page, live_server):
    application, member = dossier
    page = browser_page
    log_in_staff_browser(page, live_server, member)
    page.goto(f"{live_server.url}/gestion/applications/application/{application.pk}/operation/enter_decision/")

    _refuse_an_unfavourable_avis_without_reason(page, "#id_decision_type")

    assert page.evaluate(ACTIVE) == "operation-errors"
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    assert page.evaluate(ACTIVE) == "id_refusal_reason"
