from urllib.parse import urlsplit

import pytest

from accounts.tests.ent import ent_providers
from accounts.tests.ldap_peer import ldap, ldap_url  # noqa: F401 (the staff directory peer's fixtures)
from ecandidat.tests.plugins.services import ENT_CLIENT_ID, ENT_CLIENT_SECRET


@pytest.fixture(autouse=True)
def _clear_rate_limits():
    from django.contrib.sites.models import Site
    from django.core.cache import cache

    from ecandidat import faq
    from ecandidat.home_message import CACHE_KEY

    cache.clear()
    cache.set(CACHE_KEY, ("", ""), 300)  # as the root conftest: the home page finds "no message" cached
    cache.set(faq.CACHE_KEY, (), 300)  # and the Assistance page an empty FAQ
    Site.objects.clear_cache()  # deterministic query counts, whatever ran before
    yield
    cache.clear()


@pytest.fixture
def client(client):
    """Pages in English until the French catalogue is merged (msgids are English)."""
    client.language = "en"
    return client


@pytest.fixture
def oidc_app(live_server, ent_server, settings, campaign):
    """ecandidat (the live server) logging students in through the development ENT over OpenID Connect; its base URL,
    through 127.0.0.1: the ENT admits loopback redirect URIs on any port."""
    settings.ENT_PROTOCOL = "oidc"
    settings.ENT_SERVER_URL = ent_server.base_url
    settings.SOCIALACCOUNT_PROVIDERS = ent_providers(
        ent_server.base_url, client_id=ENT_CLIENT_ID, secret=ENT_CLIENT_SECRET, pkce=True
    )
    return f"http://127.0.0.1:{urlsplit(live_server.url).port}"
