"""The back office's forms with long but valid labels, in Chromium, on a wide screen and on a phone: a centre of
187 characters, a commission of 173 and a formation title of 196, all within their columns. Django's admin keeps a
form's select to the row's width only under 768 px (responsive.css): at 1,280 and 1,024 px a new formation's
« pre-fill » list pushed the page 427 and 663 px sideways, the list of formations of « Créer une candidature pour un
candidat » 623 and 1,215 px, and the centre's, commission's and formation's lists of a tag, a staff membership and a
decision letter ran up to 1,245 px past their row (Django's ``.form-row`` hides what overflows: their end and their
arrow were cut off). static/css/admin_phone.css keeps them to their row at every width. The centre's and commission's
lists of a formation and a commission are Django's autocompletes, read with and without JavaScript (without it,
the plain select Django renders).
"""

import pytest
from django.conf import settings

from accounts.tests.factories import StaffMembershipFactory
from accounts.tests.mfa import Client
from offers.tests.factories import CommissionFactory, FormationFactory

pytestmark = pytest.mark.browser

CENTRE_LABEL = (
    "Centre de candidature de l'UFR des Sciences et Techniques des Activités Physiques et Sportives, de la Santé "
    "publique, de l'Environnement et des Territoires ruraux du campus de Saint-Denis"
)
COMMISSION_LABEL = (
    "Commission pédagogique du master Ingénierie des systèmes énergétiques renouvelables et du stockage distribué, "
    "parcours international en alternance et formation continue 2027"
)
FORMATION_TITLE = (
    "MASTER 2 - INGÉNIERIE DES SYSTÈMES ÉNERGÉTIQUES RENOUVELABLES ET STOCKAGE DISTRIBUÉ PARCOURS INTERNATIONAL EN "
    "ALTERNANCE FORMATION CONTINUE ET VALIDATION DES ACQUIS DE L'EXPÉRIENCE PROFESSIONNELLE"
)
WIDTHS = (1280, 1024, 320)

# How far the page runs past the window, and, for each select, how far it runs past its box: its form row (Django's
# ``.form-row`` hides what overflows it), or the page's content for the « pre-fill » list, which has no row.
MEASURE_JS = """
(ids) => ({
  page: document.documentElement.scrollWidth - document.documentElement.clientWidth,
  selects: ids.map((id) => {
    const select = document.getElementById(id);
    if (!select) return [id, null];
    const box = select.closest('.form-row') || document.getElementById('content');
    const right = Math.min(box.getBoundingClientRect().right, document.documentElement.clientWidth);
    return [id, Math.round(select.getBoundingClientRect().right - right)];
  }),
})
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
def test_long_labels_keep_the_forms_within_the_window(
    live_server, transactional_db, chromium_browser, campaign, centre, central_manager, javascript
):
    centre.label = CENTRE_LABEL
    centre.save(update_fields=["label"])
    commission = CommissionFactory(centre=centre, label=COMMISSION_LABEL)
    formation = FormationFactory(centre=centre, commission=commission, title=FORMATION_TITLE)
    membership = StaffMembershipFactory(commission_member=True, commission=commission, user__username="membre")
    assert (len(CENTRE_LABEL), len(COMMISSION_LABEL), len(FORMATION_TITLE)) == (187, 173, 196)
    pages = {
        "/gestion/offers/formation/add/": ["id_prefill_centre", "id_centre", "id_commission"],
        f"/gestion/offers/formation/{formation.pk}/change/": ["id_centre", "id_commission"],
        "/gestion/applications/application/pour-le-candidat/candidature/": ["id_formation"],
        f"/gestion/offers/commission/{commission.pk}/change/": ["id_centre"],
        "/gestion/offers/commission/add/": ["id_centre"],
        "/gestion/applications/tag/add/": ["id_centre"],
        "/gestion/accounts/staffmembership/add/": ["id_centre", "id_commission"],
        f"/gestion/accounts/staffmembership/{membership.pk}/change/": ["id_centre", "id_commission"],
        "/gestion/offers/decisionlettertemplate/add/": ["id_centre", "id_formation"],
    }
    context = chromium_browser.new_context(locale="fr-FR", java_script_enabled=javascript)
    context.set_default_timeout(10_000)
    page = context.new_page()
    _log_in_staff(page, live_server, central_manager)

    problems = []
    try:
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 900})
            for path, ids in pages.items():
                response = page.goto(live_server.url + path)
                assert response is not None
                assert response.status == 200, path
                measured = page.evaluate(MEASURE_JS, ids)
                if measured["page"] > 0:
                    problems.append(f"{width}px {path}: the page is {measured['page']} px too wide")
                for select, past in measured["selects"]:
                    assert past is not None, f"{path}: no #{select}"
                    if past > 0:
                        problems.append(f"{width}px {path}: #{select} runs {past} px past its row")
    finally:
        context.close()
    assert problems == [], "\n".join(problems)
