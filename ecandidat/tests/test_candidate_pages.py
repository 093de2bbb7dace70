"""Issue 13: accessibility statement, legal notice, the institution's colours, French error pages in the site's
layout, the footer, "Rester connecté"."""

import importlib

import pytest
from django.core.exceptions import BadRequest, ImproperlyConfigured, PermissionDenied
from django.test import Client
from django.urls import reverse
from django.views.defaults import bad_request, permission_denied, server_error
from pytest_django.asserts import assertContains, assertNotContains

import ecandidat.settings.base as base


@pytest.mark.django_db
def test_accessibility_statement_names_its_status_checks_and_contact(client, django_assert_num_queries, settings):
    with django_assert_num_queries(0):
        response = client.get(reverse("accessibility"))

    assertContains(response, "<title>Déclaration d'accessibilité · eCandidat", html=False)
    assertContains(response, "<strong>non conforme</strong>", html=True)
    for criterion in ("Critère 10.11", "Critère 13.1", "Critères 11.10 et 11.11", "Critère 11.13", "Critère 8.7"):
        assertContains(response, criterion)
    assertContains(response, "axe-core")
    assertContains(response, "1<sup>er</sup> décembre 2026", html=False)  # the last audit, back office included
    assertNotContains(response, "n'a pas été évaluée")
    assertContains(response, "Défenseur des droits")
    assertContains(response, f"mailto:{settings.INSTITUTION_CONTACT_EMAIL}")


@pytest.mark.django_db
def test_legal_notice_names_publisher_director_and_host(client, django_assert_num_queries, settings):
    settings.LEGAL_PUBLICATION_DIRECTOR = "Mme Dupont, présidente"
    settings.LEGAL_HOST = "Renater, 23-25 rue Daviel, 75013 Paris"

    with django_assert_num_queries(0):
        response = client.get(reverse("legal_notice"))

    assertContains(response, "<h1>Mentions légales</h1>", html=True)
    assertContains(response, "Mme Dupont, présidente")
    assertContains(response, "Renater, 23-25 rue Daviel, 75013 Paris")


@pytest.mark.django_db
def test_english_mode_marks_the_french_legal_text(client):
    client.post(reverse("set_language"), {"language": "en", "next": "/"})

    response = client.get(reverse("legal_notice"))

    assertContains(response, '<html lang="en">', html=False)
    assertContains(response, "This page is the legal text, in French.")
    assertContains(response, '<div lang="fr">', html=False)


@pytest.mark.django_db
def test_footer_links_the_pages_every_public_service_must_have(client):
    response = client.get(reverse("home"))

    footer = response.content.decode().split('<footer class="site-footer">')[1]
    assert 'href="/accessibilite/">Accessibilité : non conforme</a>' in footer
    assert 'href="/mentions-legales/">Mentions légales</a>' in footer
    assert 'href="/donnees-personnelles/">Données personnelles</a>' in footer


@pytest.mark.django_db
def test_theme_stylesheet_carries_the_institutions_colour(client, settings, django_assert_num_queries):
    settings.INSTITUTION_BRAND_COLOUR = "#a0147c"

    with django_assert_num_queries(0):
        response = client.get(reverse("theme_css"))

    assert response["Content-Type"] == "text/css"
    assert response.content.decode() == ":root { --brand: #a0147c; --brand-dark: #780f5d; }\n"


def test_a_malformed_brand_colour_stops_the_start(monkeypatch):
    monkeypatch.setenv("INSTITUTION_BRAND_COLOUR", "red;} body{display:none")
    with pytest.raises(ImproperlyConfigured, match="INSTITUTION_BRAND_COLOUR"):
        importlib.reload(base)
    monkeypatch.delenv("INSTITUTION_BRAND_COLOUR")
    importlib.reload(base)


@pytest.mark.django_db
def test_logo_is_shown_with_the_institution_as_its_text(client, settings):
    settings.INSTITUTION_LOGO_URL = "/static/logo-universite.svg"

    response = client.get(reverse("home"))

    assertContains(
        response,
        f'<img class="site-header__logo" src="/static/logo-universite.svg" alt="{settings.INSTITUTION_NAME}">',
        html=True,
    )


@pytest.mark.django_db
def test_404_is_french_in_the_sites_layout_with_a_way_back(client, settings, django_assert_num_queries):
    settings.DEBUG = False

    with django_assert_num_queries(0):
        response = client.get("/nulle-part/")

    assert response.status_code == 404
    assertContains(response, "<h1>Page introuvable</h1>", status_code=404, html=True)
    assertContains(response, 'href="/">Retour à l\'accueil</a>', status_code=404, html=False)
    assertContains(response, '<nav class="site-nav"', status_code=404, html=False)


@pytest.mark.django_db
def test_404_for_a_logged_in_candidate_offers_their_applications(candidate_user, client, campaign):
    client.force_login(candidate_user)

    response = client.get("/nulle-part/")

    assertContains(response, "Mes candidatures", status_code=404)


def test_500_is_french_and_needs_neither_database_nor_request(rf):
    response = server_error(rf.get("/"))  # renders 500.html without any context

    assert response.status_code == 500
    html = response.content.decode()
    assert '<html lang="fr">' in html
    assert "<h1>Erreur du serveur</h1>" in html
    assert 'href="/">Retour à l\'accueil</a>' in html
    # As on every page (RGAA 12.7): the skip link, to the main region, which takes the focus.
    assert '<a class="skip-link" href="#main">Aller au contenu</a>' in html
    assert '<main id="main" class="error-page" tabindex="-1">' in html


@pytest.mark.django_db
def test_csrf_failure_says_nothing_was_saved(candidate_user, campaign):
    client = Client(enforce_csrf_checks=True)
    client.force_login(candidate_user)

    response = client.post(reverse("session_keepalive"))

    assert response.status_code == 403
    assertContains(response, '<html lang="fr">', status_code=403)  # French unless the reader chose English
    assertContains(response, "<title>Page expirée · eCandidat</title>", status_code=403)
    assertContains(response, "Votre page avait expiré", status_code=403)
    assertContains(response, "n'a pas été enregistré", status_code=403)
    assertContains(response, 'href="/">Retour à l\'accueil</a>', status_code=403)


@pytest.mark.django_db
def test_stay_logged_in_renews_the_session(candidate_user, client, campaign, settings, django_assert_num_queries):
    client.force_login(candidate_user)

    # session, user (savepoint and release around the view: ATOMIC_REQUESTS); session save (update; the
    # savepoint and release of the session's own atomic block)
    with django_assert_num_queries(7):
        response = client.post(reverse("session_keepalive"))

    assert response.json() == {"expires_in": settings.SESSION_COOKIE_AGE}
    assert response["Cache-Control"].startswith("max-age=0")


@pytest.mark.django_db
def test_stay_logged_in_after_the_end_goes_to_the_login(client):
    response = client.post(reverse("session_keepalive"))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


@pytest.mark.django_db
def test_logged_in_pages_carry_the_session_warning(candidate_user, client, campaign, settings):
    client.force_login(candidate_user)

    response = client.get(reverse("home"))

    # The countdown is what the session has left: the login a moment ago may already be a second old.
    left = int(response.content.decode().split('data-session-age="')[1].split('"')[0])
    assert settings.SESSION_COOKIE_AGE - 5 <= left <= settings.SESSION_COOKIE_AGE
    assertContains(response, "Rester connecté")


@pytest.mark.django_db
def test_anonymous_pages_have_no_session_warning(client):
    assertNotContains(client.get(reverse("home")), "session-warning")


@pytest.mark.django_db
def test_403_is_french_in_the_sites_layout_with_a_way_back(rf, candidate_user):
    request = rf.get("/gestion/quelque-chose/")
    request.user = candidate_user
    request.resolver_match = None

    response = permission_denied(request, PermissionDenied())

    html = response.content.decode()
    assert response.status_code == 403
    assert "<h1>Accès refusé</h1>" in html
    assert 'href="/">Retour à l\'accueil</a>' in html
    # As on every page (RGAA 12.7): the skip link, to the main region, which takes the focus.
    assert '<a class="skip-link" href="#main">Aller au contenu</a>' in html
    assert '<main id="main" tabindex="-1">' in html
    assert '<nav class="site-nav"' in html


def test_400_is_french_and_standalone(rf):
    response = bad_request(rf.get("/"), BadRequest())  # renders 400.html without any context

    assert response.status_code == 400
    html = response.content.decode()
    assert "<h1>Requête incorrecte</h1>" in html
    assert '<html lang="fr">' in html
