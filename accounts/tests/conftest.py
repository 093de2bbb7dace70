from urllib.parse import urlsplit

import pytest
from allauth.socialaccount.models import SocialAccount
from django.contrib.sites.models import Site
from django.core.cache import cache

from accounts import cas
from accounts.tests.ent import STUB_ENT, ent_providers
from accounts.tests.factories import CandidateUserFactory
from accounts.tests.ldap_peer import ldap, ldap_url  # noqa: F401 (the staff directory peer's fixtures)
from ecandidat import faq
from ecandidat.home_message import CACHE_KEY
from ecandidat.tests.plugins.services import ENT_CLIENT_ID, ENT_CLIENT_SECRET

STUB_CAS = "https://cas.univ-perp.fr/cas/"


@pytest.fixture(autouse=True)
def _clear_rate_limits():
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


@pytest.fixture
def ent_candidate(campaign):
    """A candidate of the active campaign whose account is linked to the ENT identity ``lucas.bernard``."""
    user = CandidateUserFactory(campaign=campaign, email="lucas.bernard@etudiant.univ-perp.fr")
    SocialAccount.objects.create(user=user, provider="ent", uid="lucas.bernard")
    return user


@pytest.fixture
def oidc_ent(settings):
    """The ENT over OpenID Connect at ``STUB_ENT`` (its answers stubbed by ``ent.oidc_callback_state``)."""
    settings.ENT_PROTOCOL = "oidc"
    settings.ENT_SERVER_URL = STUB_ENT
    settings.SOCIALACCOUNT_PROVIDERS = ent_providers(STUB_ENT, client_id="ecandidat-univ", pkce=True)


@pytest.fixture
def cas_ent(settings, mocker):
    """The ENT over CAS, its server stubbed: ``verify_ticket`` answers what the test sets (``.return_value``)."""
    settings.ENT_PROTOCOL = "cas"
    settings.ENT_SERVER_URL = settings.CAS_SERVER_URL = STUB_CAS
    settings.SOCIALACCOUNT_PROVIDERS = ent_providers(STUB_CAS)  # base.py declares the "ent" app whatever the protocol
    client = mocker.Mock()
    client.get_login_url.return_value = f"{STUB_CAS}login"
    mocker.patch.object(cas, "get_cas_client", return_value=client)
    return client.verify_ticket


@pytest.fixture
def ent_student(campaign):
    """An account created through the ENT: linked to its ENT identity, no password."""
    student = CandidateUserFactory(campaign=campaign, first_name="Estelle", last_name="Etudiante")
    student.set_unusable_password()
    student.save()
    SocialAccount.objects.create(user=student, provider="ent", uid="estelle.etudiante")
    return student
