"""The ENT settings that settings.base derives from the environment (production has no other source).

Regression: the Content-Security-Policy allowed forms to post to our own origin only. The ENT button posts to
/accounts/oidc/ent/login/, which redirects to the ENT's authorization page, and browsers apply ``form-action`` to
that redirect too: in Chromium the button did nothing (test_browser_accounts found it).
"""

import runpy

import pytest
from django.conf import settings as django_settings
from django.urls import reverse
from django.utils.csp import CSP

BASE_SETTINGS = django_settings.BASE_DIR / "ecandidat" / "settings" / "base.py"


def _production_settings(monkeypatch, ent_server_url: str | None) -> dict:
    if ent_server_url is None:
        monkeypatch.delenv("ENT_SERVER_URL", raising=False)
    else:
        monkeypatch.setenv("ENT_SERVER_URL", ent_server_url)
    return runpy.run_path(str(BASE_SETTINGS))


def test_forms_may_lead_to_the_ent_origin(monkeypatch):
    production = _production_settings(monkeypatch, "https://ent.univ-perp.fr/idp/oidc")

    assert production["SECURE_CSP"]["form-action"] == [CSP.SELF, "https://ent.univ-perp.fr"]
    assert production["SOCIALACCOUNT_PROVIDERS"]["openid_connect"]["APPS"][0]["settings"]["server_url"] == (
        "https://ent.univ-perp.fr/idp/oidc"
    )


def test_without_ent_forms_stay_on_our_origin(monkeypatch):
    production = _production_settings(monkeypatch, None)

    assert production["SECURE_CSP"]["form-action"] == [CSP.SELF]
    assert production["SOCIALACCOUNT_PROVIDERS"]["openid_connect"]["APPS"] == []


@pytest.mark.django_db
def test_login_page_policy_lets_the_ent_button_reach_the_ent(client, settings, monkeypatch):
    production = _production_settings(monkeypatch, "https://ent.univ-perp.fr")
    for name in ("ENT_SERVER_URL", "SOCIALACCOUNT_PROVIDERS", "SECURE_CSP"):
        setattr(settings, name, production[name])

    response = client.get(reverse("account_login"))

    assert 'action="/accounts/oidc/ent/login/"' in response.content.decode()
    assert "form-action 'self' https://ent.univ-perp.fr" in response.headers["Content-Security-Policy"]
