"""A centre manager limited to one commission, in Chromium: the administrator's membership page at 320 px (the
choice, its refusal next to the field, axe-core), then the manager's list with the dossier of their commission
only, and the other commission's dossier not found."""

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from applications.enums import DossierStatus
from applications.tests.factories_candidature import make_application
from applications.tests.helpers import change_url, staff_login, staff_with_authenticator_app
from ecandidat.tests.plugins.browser import assert_no_serious_axe_violations
from offers.tests.factories import CentreFactory, CommissionFactory, FormationFactory

pytestmark = pytest.mark.browser


def test_a_manager_of_one_commission(live_server, transactional_db, new_browser_page, campaign):
    centre = CentreFactory(label="UFR Sciences")
    mine = CommissionFactory(centre=centre, label="Commission Informatique")
    other = CommissionFactory(centre=centre, label="Commission Mathématiques")
    own = make_application(FormationFactory(centre=centre, commission=mine), campaign=campaign)
    foreign = make_application(
        FormationFactory(centre=centre, commission=other), campaign=campaign, status=DossierStatus.COMPLETE
    )
    manager, manager_secret = staff_with_authenticator_app(centre=centre, all_commissions=False)
    membership = manager.staff_memberships.get()
    membership.commissions.set([mine])
    central, central_secret = staff_with_authenticator_app(central=True)
    central.is_superuser = True  # staff rights are the administrators' (Django permissions), as on a real site
    central.save(update_fields=["is_superuser"])

    page = new_browser_page()
    staff_login(page, live_server, central, central_secret)
    page.set_viewport_size({"width": 320, "height": 812})
    page.goto(live_server.url + reverse("admin:accounts_staffmembership_changelist"))
    expect(page.get_by_text("Gestionnaire (commissions : Commission Informatique)")).to_be_visible()
    page.goto(live_server.url + reverse("admin:accounts_staffmembership_change", args=[membership.pk]))
    every = page.get_by_label("toutes les commissions du centre")
    expect(every).not_to_be_checked()
    every.check()
    page.get_by_role("button", name="Enregistrer", exact=True).click()
    expect(page.get_by_text("Décochez « toutes les commissions du centre »")).to_be_visible()
    assert_no_serious_axe_violations(page)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 320, f"the membership page is {width} px wide"
    membership.refresh_from_db()
    assert not membership.all_commissions

    page = new_browser_page()
    staff_login(page, live_server, manager, manager_secret)
    page.goto(live_server.url + reverse("admin:applications_application_changelist"))
    expect(page.get_by_role("link", name=own.candidate.user.username)).to_be_visible()
    expect(page.get_by_text(foreign.candidate.user.username)).to_have_count(0)
    assert page.goto(live_server.url + change_url(foreign)).status == 404
