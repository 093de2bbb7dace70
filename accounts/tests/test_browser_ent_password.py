"""In Chromium at 375 px: a student whose account came from the ENT logs in through the development ENT (OpenID
Connect, a separate process), chooses a password from the menu (« Définir un mot de passe »), logs out, and the ENT
being down, logs in with the numéro de dossier and that password (ENT_ACCOUNTS_PASSWORD, eCandidat
CANDIDAT_IS_MDP_CONNECT_CAS)."""

import re
import runpy
from urllib.parse import urlsplit

import pytest
from allauth.socialaccount.models import SocialAccount
from django.conf import settings as django_settings
from django.contrib.admin.models import LogEntry
from django.contrib.sites.models import Site
from django.core.cache import cache

from accounts.tests.factories import CandidateUserFactory
from ecandidat.tests.plugins.browser import assert_no_serious_axe_violations
from ecandidat.tests.plugins.services import ENT_CLIENT_ID, ENT_CLIENT_SECRET, ENT_PASSWORD, free_port

pytestmark = pytest.mark.browser

BASE_SETTINGS = django_settings.BASE_DIR / "ecandidat" / "settings" / "base.py"
# What settings.base derives from ENT_SERVER_URL at import (the provider, the CSP's form-action for the ENT button).
ENT_SETTINGS = (
    "ENT_SERVER_URL",
    "ENT_CLIENT_ID",
    "ENT_CLIENT_SECRET",
    "ENT_ORIGIN",
    "SOCIALACCOUNT_PROVIDERS",
    "SECURE_CSP",
)
CHOSEN = "une-phrase-de-passe-de-lucas"


@pytest.fixture(autouse=True)
def _clear_rate_limits():
    cache.clear()
    Site.objects.clear_cache()
    yield
    cache.clear()


def _configure_ent(settings, monkeypatch, server_url: str) -> None:
    """The app configured for an ENT as production is: settings.base run again with the ENT's variables."""
    monkeypatch.setenv("ENT_SERVER_URL", server_url)
    monkeypatch.setenv("ENT_CLIENT_ID", ENT_CLIENT_ID)
    monkeypatch.setenv("ENT_CLIENT_SECRET", ENT_CLIENT_SECRET)
    production = runpy.run_path(str(BASE_SETTINGS))
    for name in ENT_SETTINGS:
        setattr(settings, name, production[name])


def _history(user) -> list[tuple[int, str]]:
    return list(
        LogEntry.objects.filter(object_id=str(user.pk)).order_by("pk").values_list("user_id", "change_message")
    )


def test_an_ent_student_sets_a_password_then_logs_in_with_it_while_the_ent_is_down(
    live_server, transactional_db, browser_page, campaign, ent_server, settings, monkeypatch
):
    _configure_ent(settings, monkeypatch, ent_server.base_url)
    student = CandidateUserFactory(
        campaign=campaign, email="lucas.bernard@etudiant.univ-perp.fr", first_name="Lucas", last_name="BERNARD"
    )
    student.set_unusable_password()
    student.save()
    SocialAccount.objects.create(user=student, provider="ent", uid="lucas.bernard")
    page = browser_page
    page.set_viewport_size({"width": 375, "height": 812})
    app = f"http://127.0.0.1:{urlsplit(live_server.url).port}"  # the ENT admits loopback redirect URIs

    # Through the ENT, as every day.
    page.goto(app + "/accounts/login/")
    page.get_by_role("button", name="Se connecter avec l'ENT", exact=True).click()
    page.wait_for_url(re.compile(re.escape(ent_server.base_url) + r"/accounts/login/"))
    page.locator("input[name=login]").fill("lucas.bernard")
    page.locator("input[name=password]").fill(ENT_PASSWORD)
    page.locator("input[name=password]").press("Enter")
    page.wait_for_url(re.compile(re.escape(app) + r"/candidat/"))  # logged in: the dossier's next step
    assert page.locator(".whoami").text_content() == "Lucas BERNARD"  # (hidden on a phone by the header's CSS)

    # The menu, folded on a phone: « Définir un mot de passe » (no « Modifier mon mot de passe »: there is none).
    page.locator("nav.site-nav summary").click()
    nav = page.locator("nav.site-nav")
    assert nav.get_by_role("link", name="Modifier mon mot de passe", exact=True).count() == 0
    nav.get_by_role("link", name="Définir un mot de passe", exact=True).click()
    page.get_by_role("heading", name="Définir un mot de passe").wait_for()
    assert student.username in page.locator("main").inner_text()  # the numéro de dossier to log in with
    assert page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth") == 0
    assert_no_serious_axe_violations(page)

    # A password refused by the rules: said next to its field, in French.
    page.get_by_label("Mot de passe *", exact=True).fill("court")
    page.get_by_label("Confirmation du mot de passe *", exact=True).fill("court")
    page.get_by_role("button", name="Enregistrer", exact=True).click()
    page.locator("main .errorlist").first.wait_for()
    assert_no_serious_axe_violations(page)
    page.get_by_label("Mot de passe *", exact=True).fill(CHOSEN)
    page.get_by_label("Confirmation du mot de passe *", exact=True).fill(CHOSEN)
    page.get_by_role("button", name="Enregistrer", exact=True).click()
    page.locator(".messages").get_by_text("Mot de passe défini", exact=False).wait_for()
    student.refresh_from_db()
    assert student.check_password(CHOSEN)
    # The account's history (« Comptes candidats »): the ENT login, then the password chosen, both by the student.
    assert _history(student) == [
        (student.pk, "Connexion par l'ENT (OpenID Connect)"),
        (student.pk, "Mot de passe choisi (compte créé par l'ENT)"),
    ]

    # The night before the deadline the ENT is down (nothing listens on its port): the form is the way in.
    page.get_by_role("button", name="Déconnexion", exact=True).click()
    page.wait_for_url(app + "/")
    _configure_ent(settings, monkeypatch, f"http://127.0.0.1:{free_port()}/openid")
    page.goto(app + "/accounts/login/")
    page.get_by_label("Utilisateur *", exact=True).fill(student.username)
    page.get_by_label("Mot de passe *", exact=True).fill(CHOSEN)
    page.locator("main form").get_by_role("button", name="Connexion", exact=True).click()
    page.wait_for_url(re.compile(re.escape(app) + r"/candidat/"))  # logged in: the dossier's next step
    assert page.locator(".whoami").text_content() == "Lucas BERNARD"  # (hidden on a phone by the header's CSS)
    assert page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth") == 0
    page.locator("nav.site-nav summary").click()
    assert nav.get_by_role("link", name="Modifier mon mot de passe", exact=True).is_visible()
    assert _history(student)[-1] == (student.pk, "Connexion par mot de passe")
