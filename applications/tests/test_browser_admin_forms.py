"""Every form of the back office passes axe-core (RGAA): the add page and the list of every registered ModelAdmin,
and the change page of representative rows with inlines, visited by the central office (a superuser).

Django's own widgets are the usual culprits (Select2 autocompletes without a name, the horizontal filter's help
icons, a file input in a fieldset, the inputs of an editable list, an open Select2 list): ``ecandidat/admin_inputs.py``
(server side), ``static/js/admin_a11y.js`` and ``static/css/admin_a11y.css`` (widgets drawn in JavaScript) fix them
at their source, and this test keeps them fixed for every screen a ModelAdmin adds later. No page is excluded.
"""

import re

import pytest
from django.conf import settings
from django.contrib import admin
from django.test import RequestFactory
from django.urls import reverse
from playwright.sync_api import expect

from accounts.tests.mfa import Client
from applications.services import candidature
from applications.tests.factories_candidature import DecisionTypeFactory, complete_candidate
from ecandidat.tests.plugins.browser import serious_axe_violations
from offers.tests.factories import FormationFactory, PieceTypeFactory

pytestmark = pytest.mark.browser


def _log_in_staff(page, live_server, user) -> None:
    """A staff session with its second factor recorded, set in the page's browser context."""
    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    page.context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url}])


def _pages(superuser) -> list[str]:
    """The list and, when adding is allowed at all, the add page of every registered ModelAdmin."""
    request = RequestFactory().get("/gestion/")
    request.user = superuser
    paths = []
    for model, model_admin in admin.site._registry.items():
        info = (model._meta.app_label, model._meta.model_name)
        if model_admin.has_view_or_change_permission(request):
            paths.append(reverse("admin:{}_{}_changelist".format(*info)))
        if model_admin.has_add_permission(request):
            paths.append(reverse("admin:{}_{}_add".format(*info)))
    return paths


def _rows(campaign, centre, commission) -> list[str]:
    """Change pages of rows whose forms carry inlines, autocompletes, horizontal filters or English versions."""
    formation = FormationFactory(centre=centre, commission=commission, title="MASTER 1 - ENERGIE")
    formation.piece_types.add(PieceTypeFactory(is_common=False, label="Lettre de motivation"))
    decision_type = DecisionTypeFactory(label="Favorable", candidate_label="Avis favorable")
    candidate = complete_candidate(user__campaign=campaign, first_name="Estelle")
    application = candidature.create_application(candidate=candidate, formation=formation, actor=candidate.user)
    rows = [formation, centre, commission, decision_type, candidate, application]
    return [reverse(f"admin:{row._meta.app_label}_{row._meta.model_name}_change", args=[row.pk]) for row in rows]


def test_every_back_office_form_and_list_passes_axe(
    live_server, transactional_db, browser_page, campaign, centre, commission, admin_user
):
    page = browser_page
    paths = _pages(admin_user) + _rows(campaign, centre, commission)
    assert len(paths) > 40  # the registry was read: a change of admin site cannot empty the test
    _log_in_staff(page, live_server, admin_user)

    problems = []
    for path in paths:
        response = page.goto(live_server.url + path)
        assert response is not None, path
        assert response.status == 200, f"{path}: {response.status}"
        problems += [f"{path}: {violation}" for violation in serious_axe_violations(page)]
    assert problems == [], "\n".join(problems)


def test_autocompletes_and_horizontal_filters_are_named_by_their_labels(
    live_server, transactional_db, browser_page, centre, admin_user
):
    """Named as sighted staff see them: the field's label, also while a Select2 list is open."""
    page = browser_page
    _log_in_staff(page, live_server, admin_user)
    page.goto(live_server.url + reverse("admin:offers_formation_add"))
    centre_box = page.get_by_role("combobox", name="Centre :", exact=True)  # nothing chosen yet
    expect(centre_box).to_have_count(1)
    filter_name = re.compile(r"^Écrivez dans cette zone pour filtrer la liste des « pièces spécifiques » disponibles")
    expect(page.get_by_role("textbox", name=filter_name)).to_have_count(1)

    centre_box.click()
    # The open Select2 list's option (the page's centre chooser, above the form, has one of the same name).
    listed = page.locator("#select2-id_centre-results").get_by_role("option", name=centre.label)
    listed.wait_for()
    assert serious_axe_violations(page) == []
    listed.click()
    expect(page.get_by_role("combobox", name=f"Centre : {centre.label}", exact=True)).to_have_count(1)


@pytest.mark.parametrize(("time_zone", "warned"), [("America/Cayenne", True), ("Europe/Paris", False)])
def test_a_date_input_is_described_by_the_time_zone_warning_only_when_there_is_one(
    live_server, transactional_db, chromium_browser, campaign, admin_user, time_zone, warned
):
    """Django's calendar script warns beside a date input when the browser's time zone is not the server's, and
    Django's widget named that warning in ``aria-describedby`` whether it was there or not (an id the page lacks,
    without JavaScript or in Paris: an invalid reference, RGAA 11.10). The input is described by it once it
    exists (ecandidat/admin_inputs.py, static/js/admin_a11y.js)."""
    context = chromium_browser.new_context(locale="fr-FR", timezone_id=time_zone)
    try:
        page = context.new_page()
        _log_in_staff(page, live_server, admin_user)
        page.goto(live_server.url + reverse("admin:offers_campaign_change", args=[campaign.pk]))
        page.wait_for_load_state("load")
        warning = page.locator("#id_starts_on_timezone_warning_helptext")

        expect(warning).to_have_count(1 if warned else 0)
        described_by = (page.locator("#id_starts_on").get_attribute("aria-describedby") or "").split()
        assert ("id_starts_on_timezone_warning_helptext" in described_by) is warned
        assert all(page.locator(f"#{name}").count() == 1 for name in described_by)
        if warned:
            expect(warning).to_contain_text("fuseau horaire Europe/Paris")
    finally:
        context.close()
