"""A form posted as the maintenance starts (the nightly window or the switch) gets the maintenance page (503): what
the candidate typed is kept in the browser (static/js/session.js) and put back in the form after the maintenance;
« Rester connecté » answered by the maintenance page says so, not that the session has ended."""

import pytest
from django.urls import reverse
from django.utils import translation
from playwright.sync_api import expect

from applications.models import Address
from applications.tests.factories_candidature import complete_candidate
from ecandidat.maintenance import set_switch
from ecandidat.tests.plugins.browser import assert_no_serious_axe_violations, log_in_browser

KEPT = (
    "Ce que vous aviez saisi est gardé dans ce navigateur : il sera remis dans le formulaire quand vous y reviendrez, "
    "une fois la maintenance terminée."
)
RESTORED = (
    "Ce que vous aviez saisi avant la maintenance a été remis dans le formulaire ci-dessous : vérifiez-le, "
    "puis enregistrez."
)
GOING_INTO_MAINTENANCE = (
    "L'application passe en maintenance : ce que vous avez saisi est gardé dans ce navigateur et sera remis dans le "
    "formulaire après la maintenance."
)


@pytest.mark.django_db
def test_the_maintenance_page_carries_the_hidden_note_and_the_maintenance_text(
    candidate_user, client, campaign, admin_user, django_assert_num_queries, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):  # published: cache and this process's memory
        set_switch(is_on=True, actor=admin_user)
    client.force_login(candidate_user)

    # session, user: the switch is read from this process's memory
    with translation.override("fr"), django_assert_num_queries(2):
        response = client.get(reverse("applications:address"), language="fr")

    html = response.content.decode()
    assert response.status_code == 503
    assert '<p id="maintenance-draft" class="message message--warning" role="status" hidden' in html
    assert f'data-text="{KEPT}"' in html
    # The script that shows it runs on the page: the session warning of the logged-in pages.
    assert 'id="session-warning"' in html
    assert 'src="/static/js/session.js"' in html
    assert f'data-maintenance="{GOING_INTO_MAINTENANCE}"' in html.replace("&#x27;", "'")
    assert f'data-text-maintenance="{RESTORED}"' in html


@pytest.mark.browser
def test_a_form_posted_as_the_maintenance_starts_comes_back_after_it(
    live_server, transactional_db, browser_page, campaign, admin_user
):
    candidate = complete_candidate(user__campaign=campaign)
    page = browser_page
    log_in_browser(page, live_server, candidate.user)
    page.goto(live_server.url + "/candidat/adresse/")
    page.locator("#id_line2").fill("Bâtiment C, appartement 12")

    set_switch(is_on=True, message="Intervention technique.", actor=admin_user)
    page.locator("main form[method=post] button[type=submit]").click()

    note = page.locator("#maintenance-draft")
    expect(note).to_have_text(KEPT)
    assert "Intervention technique." in page.locator("main").inner_text()
    assert_no_serious_axe_violations(page)
    assert not Address.objects.filter(line2="Bâtiment C, appartement 12").exists()  # the view never ran

    # Once the maintenance is over, the address form has what was typed, and says so.
    set_switch(is_on=False, actor=admin_user)
    page.goto(live_server.url + "/candidat/adresse/")
    assert page.locator("#id_line2").input_value() == "Bâtiment C, appartement 12"
    expect(page.locator("#session-restored")).to_have_text(RESTORED)

    # Put back once: the next visit shows the saved address, nothing more.
    page.reload()
    assert page.locator("#id_line2").input_value() != "Bâtiment C, appartement 12"
    expect(page.locator("#session-restored")).to_be_hidden()


@pytest.mark.browser
def test_a_post_answered_normally_keeps_no_draft(live_server, transactional_db, browser_page, campaign):
    candidate = complete_candidate(user__campaign=campaign)
    page = browser_page
    log_in_browser(page, live_server, candidate.user)
    page.goto(live_server.url + "/candidat/adresse/")
    page.locator("#id_line2").fill("Bâtiment C")

    page.locator("main form[method=post] button[type=submit]").click()
    page.wait_for_load_state()

    assert page.evaluate("window.sessionStorage.length") == 0


@pytest.mark.browser
def test_stay_logged_in_answered_by_the_maintenance_page_does_not_say_the_session_ended(
    live_server, transactional_db, browser_page, campaign, admin_user, settings
):
    settings.SESSION_COOKIE_AGE = 45 * 60
    candidate = complete_candidate(user__campaign=campaign)
    page = browser_page
    page.clock.install()
    log_in_browser(page, live_server, candidate.user)
    page.goto(live_server.url + "/candidat/adresse/")
    page.locator("#id_line2").fill("Bâtiment C, appartement 12")
    page.clock.fast_forward("43:01")
    warning = page.locator("#session-warning")
    warning.wait_for()

    set_switch(is_on=True, actor=admin_user)
    page.get_by_role("button", name="Rester connecté").click()

    expect(page.locator("#session-warning-text")).to_have_text(GOING_INTO_MAINTENANCE)
    assert "session" not in warning.inner_text()
    expect(page.locator("[data-session-login]")).to_be_hidden()
    expect(page.locator("#session-warning-text")).to_be_focused()

    # After the maintenance (the session still open), the page opened again has what was typed.
    set_switch(is_on=False, actor=admin_user)
    page.goto(live_server.url + "/candidat/adresse/")
    assert page.locator("#id_line2").input_value() == "Bâtiment C, appartement 12"
    expect(page.locator("#session-restored")).to_have_text(RESTORED)
