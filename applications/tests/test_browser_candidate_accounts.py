"""« Comptes candidats » on a phone, in Chromium: the helpdesk reads each account as a card at 320 and 375 px, the
dates included (Django's date cells do not wrap, so their column's name ran into the value and the value past the
card), nothing to scroll sideways; the account's page offers the validation link again, and sending it is said.
axe-core finds no serious or critical violation on the list and the account's page."""

import pytest
from playwright.sync_api import expect

from accounts.tests.factories import CandidateUserFactory
from applications.tests.helpers import staff_login, staff_with_authenticator_app
from ecandidat.models import OutboundEmail
from ecandidat.tests.plugins.browser import serious_axe_violations

pytestmark = pytest.mark.browser

LIST = "/gestion/accounts/candidateaccount/"

# For each cell of the first card: its column's name, whether it wraps, and how far its content goes past it.
CELLS_JS = """
() => {
  const root = document.documentElement;
  const cells = [...document.querySelectorAll('#result_list tbody tr:first-child > *')].map((cell) => ({
    label: cell.dataset.label ?? null,
    whiteSpace: getComputedStyle(cell).whiteSpace,
    overflow: cell.scrollWidth - cell.clientWidth,
  }));
  return { page: root.scrollWidth - root.clientWidth, cells };
}
"""


def test_the_helpdesk_reads_the_accounts_as_cards_and_resends_the_link(browser_page, live_server, campaign, tmp_path):
    newcomer = CandidateUserFactory(
        campaign=campaign, last_name="Nouvelle-Dupont-de-la-Fontaine", first_name="Léa", verified_email=False
    )
    helpdesk, secret = staff_with_authenticator_app(candidates_manager=True)
    page = browser_page
    staff_login(page, live_server, helpdesk, secret)

    for width in (320, 375):
        page.set_viewport_size({"width": width, "height": 812})
        page.goto(live_server.url + LIST)
        page.screenshot(path=str(tmp_path / f"accounts-{width}.png"), full_page=True)
        layout = page.evaluate(CELLS_JS)
        assert layout["page"] <= 0, f"{width}px: the page is {layout['page']} px too wide"
        dates = [cell for cell in layout["cells"] if cell["label"] in {"Date d’inscription", "Dernière connexion"}]
        assert len(dates) == 2
        assert {cell["whiteSpace"] for cell in dates} == {"normal"}
        assert [cell for cell in layout["cells"] if cell["overflow"] > 0] == []
    assert serious_axe_violations(page) == []

    page.get_by_role("link", name=newcomer.username).click()
    assert serious_axe_violations(page) == []
    page.get_by_role("button", name="Renvoyer le lien de validation").click()

    # expect() waits for the page the click loads (is_visible() does not: it failed in CI on PostgreSQL).
    expect(page.get_by_text(f"Le lien de validation a été renvoyé à {newcomer.email}.")).to_be_visible()
    assert OutboundEmail.objects.filter(to=newcomer.email, code="CPT_MIN_CREATE").exists()
