"""The pages of work built in the background, in Chromium (static/js/job_progress.js): while the work runs, its
progress is updated in place, not by reloading the page (which sent the focus and the screen reader back to the top
every 3 s: RGAA 13.1; WCAG 2.2.1, 2.2.2). On a large export's page the focus stays on the link it was on, the count
changes, the update can be paused and resumed, and it stops by itself once the file is ready; on a release's page the
focus stays on the pause button while the count changes."""

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from accounts.tests.mfa import Client
from applications.admin import export_columns, release
from applications.models import ExportJob, ReleaseJob
from applications.tests.factories_candidature import make_application
from ecandidat.tests.plugins.browser import assert_no_serious_axe_violations
from offers.tests.factories import FormationFactory

pytestmark = pytest.mark.browser

PAUSE = "Suspendre l'actualisation automatique"
RESUME = "Reprendre l'actualisation automatique"


def _log_in_staff(page, live_server, user) -> None:
    """A staff session with its second factor recorded, set in the page's browser context."""
    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    page.context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url}])


def test_the_progress_is_updated_in_place_and_can_be_paused(
    live_server,
    transactional_db,
    browser_page,
    centre_manager,
    centre,
    commission,
    campaign,
    live_server_idle,
    monkeypatch,
):
    monkeypatch.setattr(export_columns, "REFRESH_SECONDS", 1)  # read by the page at each request
    application = make_application(FormationFactory(centre=centre, commission=commission), campaign=campaign)
    job = ExportJob.objects.create(
        requested_by=centre_manager,
        status=ExportJob.Status.RUNNING,
        done=2,
        total=10,
        progress_at=timezone.now(),
        application_ids=[application.pk],  # the file is handed out while they are in the requester's scope
    )
    page = browser_page
    _log_in_staff(page, live_server, centre_manager)

    def advance(**fields) -> None:
        live_server_idle()  # the server's thread shares the test's database connection
        ExportJob.objects.filter(pk=job.pk).update(progress_at=timezone.now(), **fields)

    page.goto(live_server.url + reverse("admin:applications_application_export_job", args=[job.public_id]))
    count = page.locator("#export-count")
    expect(count).to_have_text("2 / 10 dossiers")
    pause = page.get_by_role("button", name=PAUSE, exact=True)
    expect(pause).to_be_visible()
    assert_no_serious_axe_violations(page)
    page.evaluate("window.notReloaded = true")

    # The focus on the « Actualiser » link, inside the region being updated: it stays there.
    reload_link = page.locator("#job-progress").get_by_role("link", name="Actualiser", exact=True)
    reload_link.focus()
    page.evaluate("window.focusedLink = document.activeElement")
    advance(done=5)
    expect(count).to_have_text("5 / 10 dossiers")
    expect(page.locator("#export-progress")).to_have_attribute("value", "5")
    expect(reload_link).to_be_focused()
    # The same element, not one drawn anew: only what changed was written, so the screen reader stays on it.
    assert page.evaluate("document.activeElement === window.focusedLink") is True
    assert page.evaluate("window.notReloaded") is True  # updated in place, never reloaded

    # Paused: nothing changes any more, the focus stays on the button, which now offers to resume.
    pause.focus()
    page.keyboard.press("Enter")
    resume = page.get_by_role("button", name=RESUME, exact=True)
    expect(resume).to_be_focused()
    advance(done=7)
    page.wait_for_timeout(2500)  # more than two updates' time
    expect(count).to_have_text("5 / 10 dossiers")

    # Resumed: updated at once, the focus on the button; stopped by itself once the file is ready, the focus then
    # on the link to the file, as the button is gone.
    page.keyboard.press("Enter")
    expect(count).to_have_text("7 / 10 dossiers")
    expect(pause).to_be_focused()
    advance(done=10, status=ExportJob.Status.DONE, file="exports/candidatures.csv", size=2048)
    download = page.get_by_role("link", name="Télécharger le fichier", exact=True)
    expect(download).to_be_focused()
    expect(count).to_have_text("10 / 10 dossiers")
    expect(page.locator("#job-progress")).to_have_attribute("data-job-state", "finished")
    expect(page.get_by_role("button", name=PAUSE)).to_have_count(0)
    expect(page.get_by_role("link", name="Actualiser")).to_have_count(0)
    assert page.evaluate("window.notReloaded") is True
    live_server_idle()


def test_a_release_keeps_the_focus_on_the_pause_button_while_it_advances(
    live_server, transactional_db, browser_page, centre_manager, live_server_idle, monkeypatch
):
    monkeypatch.setattr(release, "REFRESH_SECONDS", 1)
    job = ReleaseJob.objects.create(
        requested_by=centre_manager, status=ReleaseJob.Status.RUNNING, total=4, done=1, progress_at=timezone.now()
    )
    page = browser_page
    _log_in_staff(page, live_server, centre_manager)
    page.goto(live_server.url + reverse("admin:applications_application_release", args=[job.public_id]))
    region = page.locator("#job-progress")
    expect(region).to_contain_text("1 avis validé et envoyé sur 4")
    assert_no_serious_axe_violations(page)
    pause = page.get_by_role("button", name=PAUSE, exact=True)
    pause.focus()
    page.evaluate("window.notReloaded = true")

    live_server_idle()
    ReleaseJob.objects.filter(pk=job.pk).update(done=3, progress_at=timezone.now())

    expect(region).to_contain_text("3 avis validés et envoyés sur 4")
    expect(pause).to_be_focused()
    assert page.evaluate("window.notReloaded") is True
    live_server_idle()
