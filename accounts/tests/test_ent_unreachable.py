"""An ENT that does not answer: the ENT button brings the person back to the login page with a French message."""

import pytest
from django.urls import reverse

from accounts.tests.ent import ent_providers
from ecandidat.tests.plugins.services import free_port

MESSAGE_FR = (
    "L'ENT ne répond pas pour le moment : réessayez dans quelques minutes, ou connectez-vous avec votre mot de passe "
    "(numéro de dossier ou adresse mail)."
)


@pytest.fixture
def ent_on_a_closed_port(settings):
    """The ENT configured on a loopback port where nothing listens: every connection is refused, as when it is down."""
    server_url = f"http://127.0.0.1:{free_port()}/openid"
    settings.SOCIALACCOUNT_PROVIDERS = ent_providers(server_url, secret="secret", pkce=True)
    return server_url


@pytest.mark.django_db
def test_ent_button_with_the_ent_down_comes_back_to_login_with_a_french_message(
    client, ent_on_a_closed_port, caplog, django_assert_num_queries
):
    with django_assert_num_queries(6):
        response = client.post(reverse("openid_connect_login", args=["ent"]), language="fr")

    assert response.status_code == 302
    assert response["Location"] == reverse("account_login")
    page = client.get(response["Location"])
    assert MESSAGE_FR in [str(m) for m in page.context["messages"]]
    assert "ENT unreachable on /accounts/oidc/ent/login/" in caplog.text


@pytest.mark.django_db
def test_other_errors_are_not_hidden(client, settings):
    # Outside the ENT views the middleware lets exceptions through (nothing to catch here: a plain page works).
    response = client.get(reverse("account_login"))

    assert response.status_code == 200
