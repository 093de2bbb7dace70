"""A decision letter whose text was deleted before it was built, seen by its candidate on a phone: the page its
mail links and the recap say it is not available and whom to ask (French), without sideways scrolling, axe-core
clean (0 serious, 0 critical)."""

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from applications.services import staff
from applications.tests.factories_candidature import decision_type, make_application
from ecandidat.tests.plugins.browser import assert_no_serious_axe_violations, log_in_browser
from offers.enums import Avis
from offers.models import DecisionLetterTemplate
from offers.tests.factories import FormationFactory

pytestmark = pytest.mark.browser

NOT_AVAILABLE = "La lettre de décision de cette candidature n'est pas disponible."


def test_the_letter_not_available_on_a_phone(
    live_server, transactional_db, browser_page, campaign, centre, commission, centre_manager, mocker
):
    mocker.patch("applications.tasks.build_decision_letter.delay_on_commit")  # never built
    commission.email = "master-info@univ.example"
    commission.save()
    text = DecisionLetterTemplate.objects.create(
        kind=DecisionLetterTemplate.Kind.ADMISSION, centre=centre, title="Lettre d'admission", body="Bienvenue."
    )
    application = make_application(FormationFactory(centre=centre, commission=commission), campaign=campaign)
    decision = staff.record_decision(application, decision_type=decision_type(Avis.FAVOURABLE), actor=centre_manager)
    staff.validate_decision(decision, actor=centre_manager)
    text.delete()
    page = browser_page
    page.set_viewport_size({"width": 320, "height": 640})
    log_in_browser(page, live_server, application.candidate.user)

    page.goto(live_server.url + reverse("applications:letter", args=[application.public_id]))
    expect(page.locator("main")).to_contain_text(NOT_AVAILABLE)
    expect(page.locator("main")).to_contain_text("master-info@univ.example")
    assert page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth") == 0
    assert_no_serious_axe_violations(page)

    page.locator("main a.button").click()
    expect(page.locator("main")).to_contain_text(NOT_AVAILABLE)
    assert page.locator('main a[href$="/lettre/"]').count() == 0
    assert_no_serious_axe_violations(page)
