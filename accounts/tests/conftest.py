import pytest


# The allauth settings this app needs (to be added to ecandidat/settings/base.py, see the report).
ACCOUNTS_SETTINGS = {
    "ACCOUNT_ADAPTER": "accounts.adapters.AccountAdapter",
    "SOCIALACCOUNT_ADAPTER": "accounts.adapters.SocialAccountAdapter",
    "ACCOUNT_FORMS": {
        "login": "accounts.forms.LoginForm",
        "signup": "accounts.forms.SignupForm",
        "reset_password": "accounts.forms.ResetPasswordForm",
    },
    "SOCIALACCOUNT_FORMS": {"signup": "accounts.forms.SocialSignupForm"},
    "ACCOUNT_EMAIL_CONFIRMATION_EXPIRE_DAYS": 5,
}


@pytest.fixture(autouse=True)
def _accounts_settings(settings):
    for name, value in ACCOUNTS_SETTINGS.items():
        setattr(settings, name, value)


@pytest.fixture(autouse=True)
def _clear_rate_limits():
    from django.contrib.sites.models import Site
    from django.core.cache import cache

    cache.clear()
    Site.objects.clear_cache()  # deterministic query counts, whatever ran before
    yield
    cache.clear()


@pytest.fixture
def client(client):
    """Pages in English until the French catalogue is merged (msgids are English)."""
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client
