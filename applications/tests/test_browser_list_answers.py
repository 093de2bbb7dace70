"""The applications list says the candidate's answer and the cancellation in its decision cell (« Favorable (validé)
— Désistée »), and still fits 1,280 px without sideways scrolling, and a phone, its rows stacked (admin_phone.css)."""

import pytest
from django.conf import settings

from accounts.tests.mfa import log_in_staff_browser
from applications.enums import DossierStatus
from applications.services import candidature, staff
from applications.tests.factories_candidature import DecisionTypeFactory, complete_candidate
from ecandidat.tests.plugins.browser import serious_axe_violations
from offers.enums import Avis
from offers.tests.factories import FormationFactory

pytestmark = pytest.mark.browser

LONG_TITLE = (
    "MASTER 2 - INGÉNIERIE DES SYSTÈMES ÉNERGÉTIQUES RENOUVELABLES ET STOCKAGE DISTRIBUÉ PARCOURS INTERNATIONAL"
)
# How far the page, or the list inside its own box, scrolls sideways (0: it fits).
SIDEWAYS_JS = """
() => {
  const page = document.documentElement.scrollWidth - document.documentElement.clientWidth;
  const box = document.querySelector('#changelist .results');
  return Math.max(page, box ? box.scrollWidth - box.clientWidth : 0);
}
"""

CELLS = {
    "fr": [
        "Favorable (validé) — Désistée",
        "Favorable (validé) — Confirmée",
        "Liste complémentaire (à valider)",
        "Annulée",
    ],
    "en": [
        "Favorable (validated) — Withdrawn",
        "Favorable (validated) — Confirmed",
        "Liste complémentaire (to validate)",
        "Cancelled",
    ],
}


def _the_answers(campaign, centre, commission, manager):
    formation = FormationFactory(centre=centre, commission=commission, code="M2ISER", title=LONG_TITLE)
    favourable = DecisionTypeFactory(avis=Avis.FAVOURABLE, label="Favorable", candidate_label="Avis favorable")
    waiting = DecisionTypeFactory(avis=Avis.COMPLEMENTARY_LIST, label="Liste complémentaire")
    applications = []
    for name in ("ARNAUD-DE-LA-CHAPELLE-ST-MARC", "BERTIN", "CHEVALIER", "DURAND-LEFÈVRE"):
        candidate = complete_candidate(user__campaign=campaign, birth_name=name, first_name="Marie-Ségolène")
        applications.append(
            candidature.create_application(candidate=candidate, formation=formation, actor=candidate.user)
        )
    withdrawn, confirmed, listed, cancelled = applications
    for application in (withdrawn, confirmed):
        staff.set_dossier_status(application, target=DossierStatus.COMPLETE, actor=manager)
        decision = staff.record_decision(application, decision_type=favourable, actor=manager)
        staff.validate_decision(decision, actor=manager)
    candidature.withdraw_application(application=withdrawn, actor=withdrawn.candidate.user)
    candidature.confirm_application(application=confirmed, actor=confirmed.candidate.user)
    staff.set_dossier_status(listed, target=DossierStatus.COMPLETE, actor=manager)
    staff.record_decision(listed, decision_type=waiting, actor=manager, rank=1)
    candidature.cancel_application(application=cancelled, actor=cancelled.candidate.user)


@pytest.mark.parametrize("language", ["fr", "en"])
@pytest.mark.parametrize("width", [375, 1280])
def test_the_decision_cell_says_the_answer_and_the_list_fits(
    live_server, transactional_db, browser_page, campaign, centre, commission, centre_manager, width, language
):
    _the_answers(campaign, centre, commission, centre_manager)
    page = browser_page
    log_in_staff_browser(page, live_server, centre_manager)
    page.context.add_cookies([{"name": settings.LANGUAGE_COOKIE_NAME, "value": language, "url": live_server.url}])
    page.set_viewport_size({"width": width, "height": 900})

    page.goto(live_server.url + "/gestion/applications/application/?o=1")  # by name: the rows in a known order

    cells = [text.strip().replace("\xa0", " ") for text in page.locator("td.field-decision").all_inner_texts()]
    assert cells == CELLS[language]
    assert page.evaluate(SIDEWAYS_JS) <= 0
    if width < 1000:  # stacked: each cell under its column's name
        label = page.locator("td.field-decision").first.get_attribute("data-label")
        assert label == {"fr": "Décision", "en": "Decision"}[language]
        # Each line of the value beside the column's name, none under it (the name takes 40 % of the card).
        for cell in page.locator("td.field-decision").all():
            box, value = cell.bounding_box(), cell.locator(".card-value").bounding_box()
            assert box is not None
            assert value is not None
            assert value["x"] > box["x"] + box["width"] * 0.4
        assert serious_axe_violations(page) == []
    page.locator("#result_list").screenshot(path=f"/tmp/h39-list-{width}-{language}.png")
