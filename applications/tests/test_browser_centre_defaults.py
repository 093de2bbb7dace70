"""« Ajouter formation » pre-filled with a centre's default values, without JavaScript, on a phone (320 px): the
centre chosen above the form, the page asked again, the form's dates filled; axe-core finds nothing serious."""

import datetime

import pytest
from django.conf import settings
from django.urls import reverse

from accounts.tests.factories import StaffMembershipFactory
from accounts.tests.mfa import Client
from ecandidat.tests.plugins.browser import serious_axe_violations
from offers.tests.factories import CentreFactory

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("javascript", [False, True])
def test_a_manager_of_two_centres_prefills_a_new_formation_on_a_phone(
    live_server, transactional_db, chromium_browser, javascript
):
    CentreFactory(label="IUT de Perpignan")  # not theirs: not offered
    centre = CentreFactory(label="UFR Sciences", default_opens_on=datetime.date(2027, 3, 1))
    membership = StaffMembershipFactory(centre=centre, user__username="gestionnaire")
    other = CentreFactory(label="UFR Lettres")
    StaffMembershipFactory(centre=other, user=membership.user)
    client = Client()
    client.force_login(membership.user)
    context = chromium_browser.new_context(
        locale="fr-FR", java_script_enabled=javascript, viewport={"width": 320, "height": 640}
    )
    context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": live_server.url,
            }
        ]
    )
    page = context.new_page()
    try:
        page.goto(live_server.url + reverse("admin:offers_formation_add"))
        assert page.locator("#id_opens_on").input_value() == ""  # two centres: none chosen
        offered = page.locator("#id_prefill_centre option").all_inner_texts()
        assert offered == ["UFR Lettres", "UFR Sciences"]

        page.get_by_label("Pré-remplir avec les valeurs par défaut du centre").select_option(label="UFR Sciences")
        page.get_by_role("button", name="Pré-remplir").click()
        page.wait_for_url(f"**?centre={centre.pk}")

        assert page.locator("#id_opens_on").input_value() == "01/03/2027"
        assert page.get_by_text(
            "Le formulaire est pré-rempli avec les valeurs par défaut de UFR Sciences"
        ).is_visible()
        box = page.locator("form.prefill-centre").bounding_box()
        assert box is not None
        assert box["x"] + box["width"] <= 320  # the chooser fits the phone
        if javascript:  # axe-core runs in the page
            assert serious_axe_violations(page) == []
    finally:
        context.close()
