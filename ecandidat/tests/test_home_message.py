"""The home page's message (eCandidat MSG_ACCUEIL): written by the central office, shown in the visitor's language
(English falls back to French), read from the cache, and still shown when the cache fails."""

import pytest
from django.core.cache import cache
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains

from ecandidat import cached_value
from ecandidat import home_message as module
from ecandidat.home_message import set_home_message
from ecandidat.models import HomeMessage

pytestmark = pytest.mark.django_db
ADMIN_ADD = "/gestion/ecandidat/homemessage/add/"


@pytest.fixture(autouse=True)
def _no_cached_message():
    cache.delete(module.CACHE_KEY)
    yield
    cache.delete(module.CACHE_KEY)


def test_no_message_no_panel_and_no_query_once_cached(client, django_assert_num_queries):
    client.get(reverse("home"))  # the first view reads the (absent) message once

    with django_assert_num_queries(0):
        response = client.get(reverse("home"), language="fr")

    assertNotContains(response, "home-message-title")


def test_the_central_office_writes_it_and_the_home_page_shows_it_at_once(
    client, central_manager, django_capture_on_commit_callbacks
):
    client.get(reverse("home"))  # a cached "no message"
    client.force_login(central_manager)

    with django_capture_on_commit_callbacks(execute=True):  # the cached text is replaced when the save commits
        response = client.post(
            ADMIN_ADD, {"text_fr": "Campagne ouverte jusqu'au 30 juin.\nBonne chance !", "text_en": ""}
        )
    client.logout()
    french = client.get(reverse("home"), language="fr")
    english = client.get(reverse("home"), language="en")

    assert response.status_code == 302
    assertContains(french, "Annonce")
    assertContains(french, "Campagne ouverte jusqu&#x27;au 30 juin.<br>Bonne chance !")
    assertContains(english, "Campagne ouverte jusqu&#x27;au 30 juin.")  # no English text: the French one


def test_the_english_text_when_there_is_one(client, central_manager):
    set_home_message(text_fr="Bienvenue.", text_en="Welcome.", actor=central_manager)  # nothing cached yet

    assertContains(client.get(reverse("home"), language="en"), "Welcome.")
    assertContains(client.get(reverse("home"), language="fr"), "Bienvenue.")


def test_markup_is_shown_as_text(client, central_manager):
    set_home_message(text_fr="<script>alert(1)</script>", text_en="", actor=central_manager)

    response = client.get(reverse("home"), language="fr")

    assertContains(response, "&lt;script&gt;alert(1)&lt;/script&gt;")


def test_a_failing_cache_is_skipped_and_the_database_answers(client, central_manager, monkeypatch, caplog):
    set_home_message(text_fr="Maintenance prévue samedi.", text_en="", actor=central_manager)

    def broken(*args, **kwargs):
        raise ConnectionError("Redis is down")

    monkeypatch.setattr(cached_value.cache, "get", broken)
    response = client.get(reverse("home"), language="fr")

    assertContains(response, "Maintenance prévue samedi.")
    assert "home message: cache unavailable (ConnectionError)" in caplog.text


@pytest.mark.parametrize("persona", ["centre_manager", "commission_member", "read_only_staff"])
def test_only_the_central_office_edits_it(request, client, persona):
    client.force_login(request.getfixturevalue(persona))

    response = client.post(ADMIN_ADD, {"text_fr": "Message pirate", "text_en": ""})

    assert response.status_code in (403, 404, 302)  # refused, not found (an add page), or sent to the login
    assert not HomeMessage.objects.exists()
