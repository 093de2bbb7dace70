"""« Créer un compte candidat » (applications/admin/on_behalf.py) takes the names the signup takes, with the same
rules and messages (``accounts.forms.NameField``, ``accounts.forms.name_characters``): the names open the account's
creation mail (CPT_MIN_CREATE), sent to an address nobody has validated yet, so a name holding a link or a sentence
is refused beside its field and nothing is created nor mailed; a name of any script with a name's punctuation is
taken, each space separator (a no-break space…) stored and mailed as a plain space (7 December)."""

import re

import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils.html import escape

from accounts.models import User
from ecandidat.models import OutboundEmail

pytestmark = pytest.mark.django_db

ACCOUNT = "admin:applications_application_on_behalf_account"
DATA = {"email": "nina.roux@example.org", "last_name": "Roux", "first_name": "Nina"}
PHISHING = "Marie. URGENT : validez ici https://evil.example"
# The signup's refusal (accounts/tests/test_signup_names_dec7.py), in English and in the catalogue's French.
REFUSED = "Only letters, spaces, hyphens, apostrophes and full stops are allowed in a name, not “{}”."
REFUSED_FR = (
    "Un nom ne peut comporter que des lettres, des espaces, des traits d'union, des apostrophes et des points, pas "
    "« {} »."
)


@pytest.fixture(autouse=True)
def _no_rate_limit_history():
    cache.clear()  # allauth's limits live in the cache, per address
    yield
    cache.clear()


def _field_error(html: str, field: str) -> str:
    """The text of the alert the page shows beside ``field`` (``on_behalf.html``: « id_<field>-errors »)."""
    match = re.search(rf'<div id="id_{field}-errors" role="alert">(.*?)</div>', html, flags=re.DOTALL)
    assert match is not None, f"no error beside {field}"
    return re.sub(r"<[^>]+>", "", match.group(1)).strip()


@pytest.mark.parametrize("field", ["last_name", "first_name"])
def test_a_name_with_a_link_is_refused_beside_the_field_and_nothing_is_created(
    client, centre_manager, campaign, field, mailoutbox, django_capture_on_commit_callbacks, django_assert_num_queries
):
    client.force_login(centre_manager)

    # session, user, scope, Django's permissions (2: the sidebar), the savepoint pair; nothing written
    with django_capture_on_commit_callbacks(execute=True), django_assert_num_queries(7):
        response = client.post(reverse(ACCOUNT), {**DATA, field: PHISHING}, language="en")

    assert response.status_code == 200
    assert response.context["form"].errors == {field: [REFUSED.format(": /")]}
    assert _field_error(response.content.decode(), field) == escape(REFUSED.format(": /"))
    assert not User.objects.filter(campaign=campaign).exists()
    assert not OutboundEmail.objects.exists()
    assert mailoutbox == []


def test_the_refusal_is_the_signups_french_one(client, centre_manager, campaign, django_assert_num_queries):
    client.force_login(centre_manager)

    with django_assert_num_queries(7):
        response = client.post(reverse(ACCOUNT), {**DATA, "first_name": "Marie 06 12"}, language="fr")

    assert response.status_code == 200
    assert response.context["form"].errors == {"first_name": [REFUSED_FR.format("0 6 1 2")]}
    assert not User.objects.filter(campaign=campaign).exists()
    assert not OutboundEmail.objects.exists()


def test_an_invisible_character_gets_only_its_own_refusal(client, centre_manager, campaign):
    """One thing to correct: a zero-width space beside a colon is refused as invisible, not for the colon too."""
    client.force_login(centre_manager)

    response = client.post(reverse(ACCOUNT), {**DATA, "last_name": "Roux\u200b:"}, language="en")

    (message,) = response.context["form"].errors["last_name"]
    assert message.startswith("This text contains an invisible character")
    assert not User.objects.filter(campaign=campaign).exists()


NAMES = {
    "no-break-space": ("Jean\u00a0Pierre", "Roux", "Jean Pierre", "Roux"),
    "catalan-middle-dot": ("Gal·la", "Gal·la\u202fi\u3000Ruiz", "Gal·la", "Gal·la i Ruiz"),
    "katakana-middle-dot": ("ジョン・スミス", "ジョン\u3000スミス", "ジョン・スミス", "ジョン スミス"),
}


@pytest.mark.parametrize(("first_name", "last_name", "stored_first", "stored_last"), NAMES.values(), ids=NAMES.keys())
def test_a_name_of_any_script_is_taken_and_stored_with_plain_spaces(
    client,
    centre_manager,
    campaign,
    first_name,
    last_name,
    stored_first,
    stored_last,
    django_capture_on_commit_callbacks,
    django_assert_num_queries,
):
    client.force_login(centre_manager)
    data = {**DATA, "first_name": first_name, "last_name": last_name}

    # As a name without these characters (accounts/tests/test_staff_created_account_mail.py): session, staff and
    # rights, the campaign, the checks of the address, the numéro de dossier, the account and its address, the
    # account's language, the mail's text and outbox row, the history (with savepoints).
    with django_capture_on_commit_callbacks(execute=True), django_assert_num_queries(22):
        response = client.post(reverse(ACCOUNT), data, language="en")

    assert response.status_code == 302
    user = User.objects.get(campaign=campaign)
    assert (user.first_name, user.last_name) == (stored_first, stored_last)
    mail = OutboundEmail.objects.get(to="nina.roux@example.org")
    assert mail.body.startswith(f"Bonjour {stored_first} {stored_last},\n")  # the mail opens with the plain spaces
    assert not any(space in mail.body for space in ("\u00a0", "\u202f", "\u3000"))
