"""A form tapped twice on a phone on a slow line (static/js/forms.js): the first tap's request is on its way, the
second one posted the form again, and the page shown was the second answer's (« déjà transmise », « déjà candidaté »)
instead of the first's. A form sent once now ignores further submits until its answer replaces the page; a form
that came back with errors is sent again freely (a new page), a submit another script cancelled is not a sending,
and a page shown again from the back-forward cache is released.

forms.js is loaded with the error summary: the login form after a first refusal is such a page, open to anyone.
"""

import re

import pytest
from django.urls import reverse
from playwright.sync_api import Request, Route, expect

pytestmark = pytest.mark.browser

BUTTON = "form[action$='/login/'] button[type=submit]"


@pytest.fixture
def form_with_errors(live_server, transactional_db, browser_page):
    """The login page come back with errors (its summary, and forms.js); every later POST is counted and answered
    « 204 No Content », which leaves the page as it is: as on a line too slow for the first answer to come before
    the second tap."""
    page = browser_page
    url = live_server.url + reverse("account_login")
    page.goto(url)
    page.locator(BUTTON).click()
    expect(page.locator("#error-summary")).to_be_focused()
    posts: list[Request] = []

    def answer(route: Route) -> None:
        if route.request.method != "POST":
            route.continue_()
            return
        posts.append(route.request)
        route.fulfill(status=204)

    page.route(re.compile(re.escape(url) + "$"), answer)
    return page, posts


def _tap(page) -> None:
    """A tap on « Connexion », even once it says it is disabled (aria-disabled: a finger taps it all the same)."""
    page.locator(BUTTON).click(force=True)


def _disabled(page):
    return page.locator(BUTTON).get_attribute("aria-disabled")


def test_a_form_that_came_back_with_errors_is_sent_once_for_two_taps(form_with_errors):
    page, posts = form_with_errors
    page.locator("#id_login").fill("candidat@example.org")

    _tap(page)
    page.wait_for_timeout(350)
    _tap(page)
    page.wait_for_timeout(500)

    assert len(posts) == 1
    assert _disabled(page) == "true"


def test_a_page_shown_again_from_the_back_forward_cache_can_be_sent_again(form_with_errors):
    page, posts = form_with_errors
    _tap(page)
    page.wait_for_timeout(300)
    assert _disabled(page) == "true"

    page.evaluate("window.dispatchEvent(new PageTransitionEvent('pageshow', {persisted: true}))")

    assert _disabled(page) is None
    _tap(page)
    page.wait_for_timeout(500)
    assert len(posts) == 2


def test_a_submit_another_script_cancelled_is_no_sending(form_with_errors):
    page, posts = form_with_errors
    # Another script says no to the first submit (a confirmation answered « Annuler »).
    page.evaluate(
        "document.addEventListener('submit', function no(e) { e.preventDefault();"
        " document.removeEventListener('submit', no); })"
    )
    _tap(page)
    page.wait_for_timeout(300)
    assert posts == []
    assert _disabled(page) is None

    _tap(page)
    page.wait_for_timeout(500)
    assert len(posts) == 1
