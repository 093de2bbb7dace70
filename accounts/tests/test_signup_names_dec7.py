"""The names typed at signup are names: letters and marks of any script, spaces, hyphens, apostrophes and full
stops. They open the account-creation mail (CPT_MIN_CREATE) sent to an address nobody has validated yet: a first
name « Marie. URGENT: validez ici https://evil.example/… » made the university's server mail any address with a
stranger's text and link at its top (7 December review)."""

import re

import pytest
from django.urls import reverse
from django.utils import translation
from django.utils.html import escape

from accounts.forms import SignupForm
from accounts.models import User
from ecandidat.models import OutboundEmail

SIGNUP = {
    "last_name": "Dupont",
    "first_name": "Marie",
    "email": "victim@example.org",
    "email2": "victim@example.org",
}
PHISHING = "Marie. URGENT: validez ici https://evil.example/ecandidat/login sinon suppression"
REFUSED = "Only letters, spaces, hyphens, apostrophes and full stops are allowed in a name, not “{}”."


def _field_error(html: str, field: str) -> str:
    """The text of the error list the page shows beside ``field`` (its id is the one the input's aria-describedby
    names)."""
    match = re.search(rf'id="id_{field}_error"[^>]*>(.*?)</ul>', html, flags=re.DOTALL)
    assert match is not None, f"no error beside {field}"
    return re.sub(r"<[^>]+>", "", match.group(1)).strip()


@pytest.mark.parametrize("field", ["first_name", "last_name"])
def test_a_name_with_a_link_is_refused_beside_the_field_and_nothing_is_mailed(
    client, campaign, field, mailoutbox, django_capture_on_commit_callbacks, django_assert_num_queries
):
    with django_capture_on_commit_callbacks(execute=True), django_assert_num_queries(6):
        response = client.post(reverse("account_signup"), {**SIGNUP, field: PHISHING})

    assert response.status_code == 200
    assert response.context["form"].errors[field] == [REFUSED.format(": /")]
    assert _field_error(response.content.decode(), field) == escape(REFUSED.format(": /"))
    assert not User.objects.exists()
    assert not OutboundEmail.objects.exists()
    assert mailoutbox == []


# The form alone (its address check reads the active campaign).
REFUSED_NAMES = {
    "digit": ("Marie2", "2"),
    "colon": ("Marie:", ":"),
    "slash": ("Ma/rie", "/"),
    "at": ("marie@evil", "@"),
    "phone-number": ("Marie 06 12 34 56 78", "0 6 1 2 3 4 5 7 8"),
    "symbols": ("Marie <b> & $", "< > & $"),
    "underscore": ("Marie_Dupont", "_"),
}


@pytest.mark.parametrize(("value", "characters"), REFUSED_NAMES.values(), ids=REFUSED_NAMES.keys())
def test_a_name_with_other_characters_is_refused_naming_them(campaign, value, characters):
    with translation.override("en"):
        form = SignupForm(data={**SIGNUP, "first_name": value})

        assert form.errors["first_name"] == [REFUSED.format(characters)]


NAMES = ["O'Brien", "O’Brien", "Jean-Pierre", "J.-P. de La Tour", "Nguyễn", "محمد", "李", "Zoé\u0301", "Ōta"]


@pytest.mark.parametrize("value", NAMES)
@pytest.mark.parametrize("field", ["first_name", "last_name"])
def test_names_of_any_script_are_taken(client, campaign, field, value, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("account_signup"), {**SIGNUP, field: value})

    assert response.status_code == 302
    assert getattr(User.objects.get(), field) == value
    assert len(mailoutbox) == 1


def test_a_name_without_a_letter_gets_only_that_refusal(campaign):
    with translation.override("en"):
        form = SignupForm(data={**SIGNUP, "first_name": "123", "last_name": "-/-"})

        assert form.errors["first_name"] == ["Type a name with at least one letter."]
        assert form.errors["last_name"] == ["Type a name with at least one letter."]


def test_the_french_refusal(client, campaign):
    response = client.post(reverse("account_signup"), {**SIGNUP, "first_name": PHISHING}, language="fr")

    (message,) = response.context["form"].errors["first_name"]
    assert message == (
        "Un nom ne peut comporter que des lettres, des espaces, des traits d'union, des apostrophes et des points, "
        "pas « : / »."
    )
