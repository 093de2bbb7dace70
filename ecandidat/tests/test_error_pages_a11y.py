"""The standalone error pages (the expired form, the bad request) have the skip link and the language switch of the
other pages (RGAA 12.7; the switch as on 403 and 404, which extend base.html), rendered as Django renders them
with DEBUG off: through the test client, the CSRF failure by Django's ``csrf_failure``."""

import re

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains

SKIP_LINK = '<a class="skip-link" href="#main">Aller au contenu</a>'
SWITCH = '<form action="/i18n/setlang/" method="post" class="lang-switch">'


def token_of(response) -> str:
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', response.content.decode())[1]


@pytest.mark.django_db
def test_the_expired_page_has_the_skip_link_and_a_language_switch_that_works(
    candidate_user, campaign, django_assert_num_queries
):
    assert not settings.DEBUG
    client = Client(enforce_csrf_checks=True)
    client.force_login(candidate_user)
    form_page = "http://testserver" + reverse("applications:application_list")

    with django_assert_num_queries(2):  # session, user
        response = client.post(reverse("session_keepalive"), HTTP_REFERER=form_page)

    assertContains(response, "<h1>Votre page avait expiré</h1>", status_code=403)
    assertContains(response, SKIP_LINK, count=1, status_code=403)
    assertContains(response, '<main id="main" class="error-page" tabindex="-1">', status_code=403)
    assertContains(response, SWITCH, count=1, status_code=403)
    assertContains(response, '<label for="language-select">Langue</label>', status_code=403)
    assertContains(response, '<option value="en" lang="en" >English</option>', status_code=403)
    # Back to the page the form was sent from, not to the form's action (POST only: a GET there is a blank 405).
    assertContains(response, f'<input type="hidden" name="next" value="{form_page}">', status_code=403)
    # The form's token goes with the cookie the same response set: the switch is not refused as the page was.
    switched = client.post(
        reverse("set_language"), {"language": "en", "next": form_page, "csrfmiddlewaretoken": token_of(response)}
    )
    assert switched.status_code == 302
    assert switched["Location"] == form_page
    assert switched.cookies[settings.LANGUAGE_COOKIE_NAME].value == "en"


@pytest.mark.django_db
def test_without_a_referer_the_expired_pages_switch_goes_back_home(candidate_user, campaign):
    client = Client(enforce_csrf_checks=True)
    client.force_login(candidate_user)

    response = client.post(reverse("session_keepalive"))

    assertContains(response, '<input type="hidden" name="next" value="/">', status_code=403)


@pytest.mark.django_db
def test_a_views_bad_request_page_has_the_skip_link_and_the_language_switch(settings, django_assert_num_queries):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 2  # a form of too many fields: the view reading it answers 400
    client = Client()

    with django_assert_num_queries(3):  # anonymous, no session row: the request's savepoint, rolled back
        response = client.post(reverse("set_language"), {"language": "en", "next": "/", "other": "x"})

    assertContains(response, "<h1>Requête incorrecte</h1>", status_code=400)
    assertContains(response, SKIP_LINK, count=1, status_code=400)
    assertContains(response, '<main id="main" class="error-page" tabindex="-1">', status_code=400)
    assertContains(response, SWITCH, count=1, status_code=400)
    assertContains(response, 'name="csrfmiddlewaretoken"', count=1, status_code=400)
    assert settings.CSRF_COOKIE_NAME in response.cookies  # the switch's token has its cookie


@pytest.mark.django_db
def test_a_bad_request_refused_before_the_csrf_middleware_has_the_skip_link_but_no_switch(
    client, django_assert_num_queries
):
    """A NUL in the query string is refused before the session and CSRF middleware: no cookie would come with a
    switch's token, its form would only be refused in turn (« Votre page avait expiré »)."""
    with django_assert_num_queries(0):
        response = client.get("/?q=%00")

    assertContains(response, "<h1>Requête incorrecte</h1>", status_code=400)
    assertContains(response, SKIP_LINK, count=1, status_code=400)
    assertNotContains(response, "lang-switch", status_code=400)
