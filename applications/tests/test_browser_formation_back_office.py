"""A centre manager's formations in the back office, in Chromium at 375 and 1,280 px: the list's action select keeps
to the list (it ran under the filters, its arrow hidden), the mass edit of dates refuses dates given out of order
next to the date, and the formation's page says the confirmation date after a waiting-list promotion comes last,
next to that date, and its chooser of pieces shows a long piece's whole label, wrapped in the list; nothing scrolls
the page sideways and axe-core finds nothing serious."""

import datetime

import pytest
from django.conf import settings
from django.urls import reverse

from accounts.tests.factories import StaffMembershipFactory
from accounts.tests.mfa import Client
from ecandidat.tests.plugins.browser import serious_axe_violations
from offers.models import Formation
from offers.tests.factories import CentreFactory, FormationFactory, PieceTypeFactory

pytestmark = pytest.mark.browser

WAITING_LIST_LAST = (
    "La date de confirmation après passage en liste principale doit être égale ou postérieure à la date limite de "
    "retour, à la date du jury, à la date de publication et à la date de confirmation."
)
PAGE_OVERFLOW = "document.documentElement.scrollWidth - document.documentElement.clientWidth"
LONG_PIECE = "Relevé de notes de toutes les années post-bac, avec le détail des unités d'enseignement"
# Each option of a chooser's list: its text, and how far it runs past the list's visible width (a list that scrolls
# sideways, or an option wider than the list).
OPTIONS_JS = """(select) => [...select.options].map((option) => [
  option.text, Math.max(select.scrollWidth, option.scrollWidth, option.getBoundingClientRect().width)
    - select.clientWidth])"""


@pytest.fixture
def manager_page(live_server, transactional_db, chromium_browser):
    centre = CentreFactory(label="UFR Sciences Exactes et Expérimentales")
    membership = StaffMembershipFactory(centre=centre, user__username="gestionnaire")
    for n in range(2):
        FormationFactory(centre=centre, code=f"M{n}ENER", title=f"MASTER {n} - ENERGIE Parc. Matériaux solaires")
    client = Client()
    client.force_login(membership.user)
    contexts = []

    def open_page(width):
        context = chromium_browser.new_context(locale="fr-FR", viewport={"width": width, "height": 900})
        contexts.append(context)
        cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
        context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url}])
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


@pytest.mark.parametrize("width", [375, 1280])
def test_the_action_select_keeps_to_the_list_and_dates_out_of_order_are_refused_next_to_the_date(
    live_server, manager_page, width
):
    page = manager_page(width)
    page.goto(live_server.url + reverse("admin:offers_formation_changelist"))

    actions = page.locator("#changelist .actions").bounding_box()
    select = page.locator("select[name=action]").bounding_box()
    assert actions is not None
    assert select is not None
    assert select["x"] + select["width"] <= actions["x"] + actions["width"] + 1
    assert page.evaluate(PAGE_OVERFLOW) == 0

    page.locator("#action-toggle").check()
    page.locator("select[name=action]").select_option("set_dates")
    page.get_by_role("button", name="Exécuter").click()
    page.locator("#id_confirmation_date").fill("2030-01-02")
    page.locator("#id_waiting_list_confirmation_date").fill("2030-01-01")
    page.get_by_role("button", name="Confirmer").click()

    error = page.locator("#id_waiting_list_confirmation_date_error")
    assert error.inner_text() == WAITING_LIST_LAST
    described_by = page.locator("#id_waiting_list_confirmation_date").get_attribute("aria-describedby") or ""
    assert "id_waiting_list_confirmation_date_error" in described_by.split()
    assert page.evaluate(PAGE_OVERFLOW) == 0
    assert serious_axe_violations(page) == []
    assert not Formation.objects.filter(waiting_list_confirmation_date__isnull=False).exists()


def test_the_formation_page_refuses_a_waiting_list_confirmation_before_the_confirmation(live_server, manager_page):
    formation = Formation.objects.get(code="M0ENER")
    page = manager_page(375)
    page.goto(live_server.url + reverse("admin:offers_formation_change", args=[formation.pk]))

    early = formation.confirmation_date - datetime.timedelta(days=1)
    page.locator("#id_waiting_list_confirmation_date").fill(early.strftime("%d/%m/%Y"))
    page.get_by_role("button", name="Enregistrer et continuer les modifications").click()

    error = page.locator("#id_waiting_list_confirmation_date_error")
    assert error.inner_text() == WAITING_LIST_LAST
    assert error.is_visible()
    assert page.evaluate(PAGE_OVERFLOW) == 0
    formation.refresh_from_db()
    assert formation.waiting_list_confirmation_date is None


@pytest.mark.parametrize("width", [375, 1280])
def test_the_pieces_chooser_shows_a_long_pieces_whole_label(live_server, manager_page, width):
    """QA: the chooser (filter_horizontal) cut a long piece's label off: its name stops at 80 characters, and an
    option does not wrap in Chromium's list, which scrolled sideways to read the rest."""
    formation = Formation.objects.get(code="M0ENER")
    PieceTypeFactory(label=LONG_PIECE)
    PieceTypeFactory(label="CV")
    page = manager_page(width)
    page.goto(live_server.url + reverse("admin:offers_formation_change", args=[formation.pk]))

    available = page.locator("#id_piece_types_from")
    assert available.evaluate(OPTIONS_JS) == [[LONG_PIECE, 0], ["CV", 0]]
    available.select_option(label=LONG_PIECE)
    page.locator("#id_piece_types_add").click()  # to the chosen pieces: Django's script draws it again
    assert page.locator("#id_piece_types_to").evaluate(OPTIONS_JS) == [[LONG_PIECE, 0]]
    assert page.evaluate(PAGE_OVERFLOW) == 0
    assert serious_axe_violations(page) == []
