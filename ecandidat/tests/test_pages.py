import datetime
import re

import pytest
from django.urls import reverse
from pytest_django.asserts import assertContains


@pytest.mark.django_db
def test_home_announces_the_maintenance_window_in_the_guides_words(client, django_assert_num_queries, settings):
    with django_assert_num_queries(0):
        response = client.get(reverse("home"), language="fr")

    assertContains(response, "L'application est indisponible pour cause de maintenance tous les jours de 22h45 à 06h")
    assertContains(response, "Assistance")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("language", "words"), [("en", "Accounts are annual"), ("fr", "Les comptes sont annuels")]
)  # the English home said "yearly", the signup pages "annual": one word, as the French has
def test_home_says_accounts_are_annual_in_the_signup_pages_words(client, django_assert_num_queries, language, words):
    with django_assert_num_queries(0):
        response = client.get(reverse("home"), language=language)

    assertContains(response, words, count=2)


@pytest.mark.django_db
def test_home_window_follows_the_configuration(client, settings):
    settings.MAINTENANCE_START = datetime.time(23, 0)
    settings.MAINTENANCE_END = datetime.time(5, 30)

    response = client.get(reverse("home"), language="fr")

    assertContains(response, "tous les jours de 23h à 05h30")


@pytest.mark.django_db
def test_english_is_selectable(client):
    response = client.post(reverse("set_language"), {"language": "en", "next": "/"})
    assert response.status_code == 302

    response = client.get(reverse("home"))

    assertContains(response, "The application is unavailable for maintenance every day from 22:45 to 06:00")
    assertContains(response, '<html lang="en">', html=False)


@pytest.mark.django_db
def test_assistance_serves_the_candidates_guide(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get(reverse("assistance"))

    assertContains(response, "Je transmets ma candidature")
    assertContains(response, "Vous ne pouvez déposer qu'un seul fichier par pièce justificative demandée.")


@pytest.mark.django_db
def test_the_guide_s_headings_come_under_the_assistance_page_s_single_h1(client):
    """RGAA 9.1: one <h1> ("Assistance"); the guide's title is an <h2> and its steps <h3>, their anchors kept."""
    html = client.get(reverse("assistance")).content.decode()

    assert re.findall(r"<h1[ >]", html) == ["<h1>"]
    assert re.search(r"<h2[^>]*>Guide utilisateur eCandidat</h2>", html)
    assert '<h3 id="je-transmets-ma-candidature">Je transmets ma candidature</h3>' in html
    assert 'href="#je-transmets-ma-candidature"' in html


@pytest.mark.django_db
def test_every_table_of_the_guide_is_read_as_a_table(client):
    """The formations' table of « J'effectue ma candidature » was a header without rows, its rows printed as one
    paragraph of « | » (the markdown had the tree of the offer between them)."""
    html = client.get(reverse("assistance")).content.decode()

    assert not re.search(r"<p>[^<]*\|[^<]*</p>", html)
    for table in re.findall(r"<table>.*?</table>", html, re.DOTALL):
        assert "<tbody>" in table
    assert "<td>MASTER 1 - BEE Parc. Biodiversité et développement durable</td>" in html
    # No link that goes nowhere: « cf. Je transmets ma candidature » leads to that step.
    assert 'href="#"' not in html
    assert 'cf. « <a href="#je-transmets-ma-candidature">Je transmets ma candidature</a> »' in html


@pytest.mark.django_db
def test_each_guide_table_scrolls_in_its_own_keyboard_reachable_box(client):
    """On a 320 px phone a guide table is wider than the screen: it scrolls in its own box, named after its section
    and reachable with the keyboard, instead of the whole guide scrolling sideways (the browser side is
    test_browser_candidate_phone.py)."""
    html = client.get(reverse("assistance")).content.decode()

    boxes = re.findall(r'<div class="guide__table" role="region" tabindex="0" aria-label="([^"]*)"><table>', html)
    assert len(boxes) == html.count("<table>") == 9
    assert boxes[0] == "Tableau 1 du guide, section « J&#x27;effectue ma candidature »"
    assert html.count('class="guide__table"') == html.count("</table></div>")


@pytest.mark.django_db
def test_healthz_ok_when_database_answers(client):
    response = client.get(reverse("healthz"))

    assert response.status_code == 200
    assert response.json()["checks"]["database"] == "ok"


@pytest.mark.django_db
def test_healthz_503_when_database_fails(client, mocker):
    mocker.patch("ecandidat.views.connection.cursor", side_effect=RuntimeError("down"))

    response = client.get(reverse("healthz"))

    assert response.status_code == 503
    assert response.json()["status"] == "error"


@pytest.mark.django_db
def test_healthz_reports_an_unreachable_broker_as_degraded_not_down(client, settings, django_assert_num_queries):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"

    with django_assert_num_queries(1):  # SELECT 1
        response = client.get(reverse("healthz"))

    # Pages keep working and mails wait in the outbox: the load balancer must keep this node.
    assert response.status_code == 200
    assert response.json() == {
        "status": "degraded",
        "checks": {"database": "ok", "broker": "error: ConnectionError"},
    }


@pytest.mark.django_db
def test_healthz_database_down_is_an_error_even_with_the_broker_down(client, settings, mocker):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    mocker.patch("ecandidat.views.connection.cursor", side_effect=RuntimeError("down"))

    response = client.get(reverse("healthz"))

    assert response.status_code == 503
    assert response.json()["status"] == "error"


@pytest.mark.django_db
def test_pages_send_security_headers(client):
    response = client.get(reverse("home"))

    assert "default-src 'self'" in response["Content-Security-Policy"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Frame-Options"] == "DENY"


@pytest.mark.django_db
def test_back_office_needs_a_login(client):
    response = client.get("/gestion/")

    assert response.status_code == 302


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("language", "office"),
    [
        ("en", 'by contacting <span lang="en">the Training and Studies Management sub-directorate</span> at'),
        ("fr", 'en contactant <span lang="fr">la sous direction Gestion de la formation et des Etudes</span> à'),
    ],
)
def test_the_personal_data_notice_names_the_office_in_the_pages_language(
    client, django_assert_num_queries, language, office
):
    """The English notice said "by contacting la sous direction Gestion de la formation et des Etudes"."""
    with django_assert_num_queries(0):
        response = client.get(reverse("personal_data"), language=language)

    assertContains(response, office, html=False)


@pytest.mark.django_db
def test_an_office_without_an_english_name_is_marked_french_in_the_english_notice(
    client, settings, django_assert_num_queries
):
    settings.PERSONAL_DATA_OFFICE = "le service de la scolarité"
    settings.PERSONAL_DATA_OFFICE_EN = ""

    with django_assert_num_queries(0):
        response = client.get(reverse("personal_data"), language="en")

    assertContains(response, 'by contacting <span lang="fr">le service de la scolarité</span> at', html=False)


@pytest.mark.django_db
def test_french_by_default_whatever_the_browser_asks_and_english_once_chosen(client, django_assert_num_queries):
    # A browser set to English (Playwright's and many phones' default) still gets the French pages and the guide's
    # labels; the switch's choice is what changes the language, and it stays chosen.
    with django_assert_num_queries(0):
        asked = client.get(reverse("home"), headers={"Accept-Language": "en-US,en;q=0.9"})
    assert (asked["Content-Language"], "Offre de formation" in asked.content.decode()) == ("fr", True)
    assert "Accept-Language" not in asked.get("Vary", "")

    client.post(reverse("set_language"), {"language": "en", "next": "/"})
    chosen = client.get(reverse("home"), headers={"Accept-Language": "fr"})
    assert (chosen["Content-Language"], "Training offer" in chosen.content.decode()) == ("en", True)

    client.cookies["django_language"] = "xx"  # a language not offered: the default
    assert client.get(reverse("home"))["Content-Language"] == "fr"
