"""A candidate answers a favourable decision on a phone, without JavaScript: the date to answer by is on screen
next to "Confirmer" / "Désister", and each reason of the withdrawal page is a target of at least 44 px."""

import datetime

import pytest

from applications.models import Application
from applications.tests.factories_candidature import (
    ApplicationFactory,
    DecisionFactory,
    DecisionTypeFactory,
    complete_candidate,
)
from ecandidat.tests.plugins.browser import log_in_browser
from offers.enums import Avis
from offers.tests.factories import FormationFactory

pytestmark = pytest.mark.browser


def _page_overflow(page) -> int:
    return page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")


@pytest.mark.parametrize("width", [320, 375])
def test_withdrawing_on_a_phone_without_javascript(live_server, transactional_db, chromium_browser, campaign, width):
    formation = FormationFactory(confirmation_date=datetime.date(2027, 2, 16))
    candidate = complete_candidate(user__campaign=campaign)
    application = ApplicationFactory(candidate=candidate, formation=formation, complete=True)
    DecisionFactory(application=application, decision_type=DecisionTypeFactory(avis=Avis.FAVOURABLE), validated=True)
    context = chromium_browser.new_context(
        locale="fr-FR", java_script_enabled=False, viewport={"width": width, "height": 812}
    )
    context.set_default_timeout(10_000)
    try:
        page = context.new_page()
        log_in_browser(page, live_server, candidate.user)
        page.goto(f"{live_server.url}/candidat/candidatures/{application.public_id}/")
        answer = page.locator("#recap-answer").locator("..")
        assert answer.get_by_text("Répondez au plus tard le 16/02/2027, ce jour compris.").is_visible()
        for name in ("Confirmer", "Désister"):
            assert answer.get_by_role("link", name=name).bounding_box()["height"] >= 44
        assert _page_overflow(page) == 0

        answer.get_by_role("link", name="Désister").click()
        reasons = page.locator("main fieldset label")
        assert reasons.count() == 6
        for reason in reasons.all():
            box = reason.bounding_box()
            assert box["height"] >= 44, reason.inner_text()
            assert box["x"] >= 0
            assert box["x"] + box["width"] <= width + 0.5
        assert _page_overflow(page) == 0
        # A tap on the words of a reason, away from the small radio button, chooses it.
        page.get_by_text("Raisons personnelles").click(position={"x": 120, "y": 5})
        assert page.get_by_label("Raisons personnelles").is_checked()
        page.locator("main form button[type=submit]").click()

        assert page.get_by_text("Vous vous êtes désisté(e) de cette formation.").first.is_visible()
    finally:
        context.close()
    application = Application.objects.get(pk=application.pk)
    assert application.accepted is False
