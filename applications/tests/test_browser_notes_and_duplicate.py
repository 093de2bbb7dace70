"""Deleting an internal note and "Dupliquer la dernière décision" in Chromium, at 320, 375 and 1,280 px: no page
scrolls sideways, axe-core finds nothing serious, and both work without JavaScript (a disclosure, a link)."""

import datetime

import pytest
from django.conf import settings
from django.utils import timezone
from playwright.sync_api import expect

from accounts.tests.mfa import Client
from applications.models import ApplicationNote, Decision
from applications.services import review, staff
from applications.tests.factories_candidature import DecisionTypeFactory, make_application
from ecandidat.tests.plugins.browser import assert_no_serious_axe_violations
from offers.enums import Avis
from offers.tests.factories import FormationFactory

pytestmark = pytest.mark.browser

WIDTHS = (320, 375, 1280)
PAGE_TOO_WIDE = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"


def _log_in(page, live_server, user) -> None:
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


@pytest.fixture
def setup(live_server, transactional_db, campaign, centre, commission, commission_member):
    formation = FormationFactory(
        centre=centre,
        commission=commission,
        code="M2ISER",
        title="Master 2 Ingénierie des systèmes énergétiques renouvelables",
        preselection_place="Bâtiment U, salle 12",
    )
    application = make_application(formation, campaign=campaign)
    preselection = DecisionTypeFactory(avis=Avis.PRESELECTION, label="Présélection")
    staff.record_decision(
        application,
        decision_type=preselection,
        actor=commission_member,
        preselection_at=timezone.make_aware(datetime.datetime(2027, 6, 3, 9, 30)),
        preselection_place="Salle B204",
        comment="Apporter le portfolio",
    )
    review.add_note(application=application, actor=commission_member, text="Entretien à prévoir " * 20)
    return live_server, application, commission_member


@pytest.mark.parametrize("javascript", [True, False])
def test_delete_a_note(setup, chromium_browser, javascript):
    live_server, application, member = setup
    context = chromium_browser.new_context(locale="fr-FR", java_script_enabled=javascript)
    try:
        page = context.new_page()
        _log_in(page, live_server, member)
        url = f"{live_server.url}/gestion/applications/application/{application.pk}/change/"
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 812 if width < 1000 else 900})
            page.goto(url + "#notes")
            page.reload()  # the same address again would not load it: the disclosure opened at the last width
            page.get_by_text("Supprimer…").click()  # the disclosure opens without a script
            button = page.get_by_role("button", name="Supprimer la note du ")
            expect(button).to_be_visible()
            assert page.evaluate(PAGE_TOO_WIDE) <= 0, width
            if javascript and width == 320:
                assert_no_serious_axe_violations(page)

        button.click()
        page.get_by_text("Note supprimée.").wait_for()

        assert not ApplicationNote.objects.exists()
        expect(page.get_by_text("Note interne supprimée par membre")).to_be_visible()
    finally:
        context.close()


@pytest.mark.parametrize("javascript", [True, False])
def test_duplicate_the_last_decision(setup, chromium_browser, javascript):
    live_server, application, member = setup
    context = chromium_browser.new_context(locale="fr-FR", java_script_enabled=javascript)
    try:
        page = context.new_page()
        _log_in(page, live_server, member)
        url = f"{live_server.url}/gestion/applications/application/{application.pk}/operation/enter_decision/"
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 812 if width < 1000 else 900})
            page.goto(url)
            assert page.get_by_label("Lieu de présélection").input_value() == "Bâtiment U, salle 12"  # the formation's
            page.get_by_role("link", name="Dupliquer la dernière décision").click()
            assert page.get_by_label("Lieu de présélection").input_value() == "Salle B204"
            assert page.get_by_label("Date de présélection").input_value() == "2027-06-03"
            assert page.get_by_label("Heure de présélection").input_value() == "09:30"
            assert page.evaluate(PAGE_TOO_WIDE) <= 0, width
            if javascript and width == 320:
                assert page.get_by_label("Lieu de présélection").is_visible()  # the kind chosen shows its fields
                assert_no_serious_axe_violations(page)

        page.get_by_label("Lieu de présélection").fill("Amphi 2")
        page.get_by_role("button", name="Confirmer", exact=True).click()
        page.wait_for_url(f"**/application/{application.pk}/change/**")

        assert list(Decision.objects.order_by("pk").values_list("preselection_place", flat=True)) == [
            "Salle B204",
            "Amphi 2",
        ]
    finally:
        context.close()
