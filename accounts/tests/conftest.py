import pytest

from accounts.tests.ldap_peer import ldap, ldap_url  # noqa: F401 (the staff directory peer's fixtures)


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
