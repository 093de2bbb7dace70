"""The commission's screen in Chromium: a commission member reads which dossier statuses their commission shows
(eCandidat issue #64) and finds the hidden dossier nowhere; a centre manager sees the rows in SVA alert tinted by
their level, the level said in words beside it. axe-core runs on each list (no serious or critical violation).
Screenshots go to the test's temporary directory, or to ``COMMISSION_SCREEN_SHOTS`` when it names one."""

import datetime
import os
import pathlib

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from applications.enums import DossierStatus, SvaColour
from applications.models import SvaAlertLevel
from applications.tests.factories_candidature import make_application
from applications.tests.helpers import staff_login, staff_with_authenticator_app
from ecandidat.tests.plugins.browser import assert_no_serious_axe_violations
from offers.models import Commission
from offers.tests.factories import CommissionFactory, FormationFactory

pytestmark = pytest.mark.browser


def _shots(tmp_path) -> pathlib.Path:
    directory = os.environ.get("COMMISSION_SCREEN_SHOTS")
    return pathlib.Path(directory) if directory else tmp_path


@pytest.fixture
def applications_of_the_commission(campaign):
    commission = CommissionFactory(label="Jury Énergie")
    Commission.objects.filter(pk=commission.pk).update(shows_waiting=False)
    formation = FormationFactory(centre=commission.centre, commission=commission, code="M1ENER")
    today = timezone.localdate()
    old = make_application(
        formation, campaign=campaign, status=DossierStatus.RECEIVED, received_on=today - datetime.timedelta(days=45)
    )
    waiting = make_application(formation, campaign=campaign, status=DossierStatus.WAITING)
    return commission, old, waiting


def test_the_commission_reads_what_it_sees_and_managers_see_the_alerts(
    browser_page, live_server, settings, tmp_path, applications_of_the_commission
):
    settings.SVA_ALERT_DATE = "REC"
    SvaAlertLevel.objects.create(days=30, colour=SvaColour.ORANGE)
    commission, old, waiting = applications_of_the_commission
    member, member_secret = staff_with_authenticator_app(commission_member=True, commission=commission)
    page = browser_page
    page.set_viewport_size({"width": 1280, "height": 900})

    staff_login(page, live_server, member, member_secret)
    page.goto(f"{live_server.url}/gestion/applications/application/")

    note = page.get_by_role("note")
    expect(note).to_contain_text("Dossiers affichés : Réceptionné, Incomplet, Complet")
    expect(note).to_contain_text("masqués à la commission par son paramétrage")
    expect(page.get_by_role("link", name=old.candidate.user.username, exact=True)).to_be_visible()
    expect(page.get_by_role("link", name=waiting.candidate.user.username, exact=True)).to_have_count(0)
    row = page.locator("#result_list tbody tr", has=page.get_by_role("link", name=old.candidate.user.username))
    expect(row).to_have_class("sva-row sva-row--orange")
    expect(row).to_contain_text("45 j (seuil de 30 j atteint)")
    assert_no_serious_axe_violations(page)
    page.screenshot(path=str(_shots(tmp_path) / "commission-screen-list.png"), full_page=True)

    response = page.goto(f"{live_server.url}/gestion/applications/application/{waiting.pk}/change/")
    assert response is not None
    assert response.status == 404


def test_a_phone_reads_the_statement(browser_page, live_server, tmp_path, applications_of_the_commission):
    commission, _old, _waiting = applications_of_the_commission
    member, member_secret = staff_with_authenticator_app(commission_member=True, commission=commission)
    page = browser_page
    page.set_viewport_size({"width": 320, "height": 800})

    staff_login(page, live_server, member, member_secret)
    page.goto(f"{live_server.url}/gestion/applications/application/")

    note = page.get_by_role("note")
    expect(note).to_be_visible()
    box = note.bounding_box()
    assert box is not None
    assert box["x"] >= 0
    assert box["x"] + box["width"] <= 320 + 0.5
    page.screenshot(path=str(_shots(tmp_path) / "commission-screen-phone.png"), full_page=True)


def test_the_commission_form_in_the_back_office(browser_page, live_server, tmp_path, commission):
    manager, secret = staff_with_authenticator_app(centre=commission.centre)
    page = browser_page
    page.set_viewport_size({"width": 1280, "height": 900})

    staff_login(page, live_server, manager, secret)
    page.goto(f"{live_server.url}/gestion/offers/commission/{commission.pk}/change/")
    group = page.get_by_role("group", name="Dossiers affichés à ses membres")
    for label in ("En attente", "Incomplet"):
        group.get_by_label(label).uncheck()
    page.get_by_role("button", name="Enregistrer", exact=True).click()

    expect(page.locator(".messagelist .success")).to_be_visible()
    expect(page.locator("td.field-dossiers_shown", has_text="Réceptionné, Complet")).to_be_visible()
    assert_no_serious_axe_violations(page)
    page.screenshot(path=str(_shots(tmp_path) / "commission-screen-commissions.png"), full_page=True)
    commission.refresh_from_db()
    assert commission.shown_status_fields == ["shows_received", "shows_complete"]
