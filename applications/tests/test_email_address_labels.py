"""The account's address is named « Adresse mail » on the French back office wherever Django builds its label from
a model (allauth's ``EmailAddress`` list and form, the users' list, the candidates' accounts): the project's
catalogue (locale/fragments/core.po, "email address") wins over Django's « adresse électronique » and allauth's
« adresse e-mail »; the English pages keep "Email address"."""

import pytest
from django.conf import settings
from django.urls import reverse

pytestmark = pytest.mark.django_db

PAGES = [
    reverse("admin:account_emailaddress_changelist"),
    reverse("admin:account_emailaddress_add"),
    reverse("admin:accounts_user_changelist"),
    reverse("admin:accounts_candidateaccount_changelist"),
]


@pytest.mark.parametrize("url", PAGES)
@pytest.mark.parametrize(
    ("language", "label", "not_shown"), [("fr", "dresse mail", "mail address"), ("en", "mail address", "dresse mail")]
)
def test_the_address_is_labelled_in_the_pages_language(admin_client, candidate_user, url, language, label, not_shown):
    admin_client.cookies[settings.LANGUAGE_COOKIE_NAME] = language

    response = admin_client.get(url)

    assert response.status_code == 200
    html = response.content.decode().lower()
    assert label in html
    assert not_shown not in html
