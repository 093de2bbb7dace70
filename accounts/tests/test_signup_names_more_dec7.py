"""More real names the signup forms take (7 December, after the names were limited to letters and a few punctuation
characters): the Catalan middle dot (« Gal·la »), the Japanese middle dot (« ジョン・スミス »), the Unicode hyphens,
the opening single quote and the modifier letter apostrophe typed as apostrophes; and the space separators a Mac
keyboard (Option-space) or a pasted text gives (no-break, narrow no-break, ideographic spaces), stored and mailed as a
plain space. A digit, a colon, a slash, an « @ » or another symbol is still refused."""

import pytest
from django.urls import reverse
from django.utils import translation

from accounts.forms import SignupForm
from accounts.models import User
from accounts.tests.ent import ent_providers, ent_return

SIGNUP = {
    "last_name": "Dupont",
    "first_name": "Marie",
    "email": "marie.dupont@example.org",
    "email2": "marie.dupont@example.org",
}
REFUSED = "Only letters, spaces, hyphens, apostrophes and full stops are allowed in a name, not “{}”."

NAMES = {
    "catalan-middle-dot": "Gal·la",
    "catalan-middle-dots": "Mar·cel·lí",
    "katakana-middle-dot": "ジョン・スミス",
    "non-breaking-hyphen": "Jean\u2011Pierre",
    "hyphen": "Jean\u2010Pierre",
    "opening-single-quote": "O‘Brien",
    "modifier-letter-apostrophe": "Haʼapai",
}
# The space separators (Unicode category Zs) besides the plain space, and what the form keeps of each.
SPACES = {
    "no-break-space": ("Jean\u00a0Pierre", "Jean Pierre"),
    "narrow-no-break-space": ("Jean\u202fPierre", "Jean Pierre"),
    "ideographic-space": ("ジョン\u3000スミス", "ジョン スミス"),
    "figure-space": ("Anne\u2007Marie", "Anne Marie"),
    "em-space": ("de\u2003La\u2003Tour", "de La Tour"),
}


@pytest.mark.parametrize("value", NAMES.values(), ids=NAMES.keys())
@pytest.mark.parametrize("field", ["first_name", "last_name"])
def test_names_with_these_punctuation_characters_are_taken(campaign, field, value):
    form = SignupForm(data={**SIGNUP, field: value})

    assert form.is_valid(), form.errors
    assert form.cleaned_data[field] == value


@pytest.mark.parametrize(("value", "plain"), SPACES.values(), ids=SPACES.keys())
@pytest.mark.parametrize("field", ["first_name", "last_name"])
def test_a_space_separator_is_taken_as_a_plain_space(campaign, field, value, plain):
    form = SignupForm(data={**SIGNUP, field: value})

    assert form.is_valid(), form.errors
    assert form.cleaned_data[field] == plain


def test_a_name_with_a_no_break_space_is_stored_and_mailed_with_a_plain_space(
    client, campaign, mailoutbox, django_capture_on_commit_callbacks, django_assert_num_queries
):
    """A real signup POST (its 26 queries, measured): the account and its mail hold plain spaces."""
    data = {**SIGNUP, "first_name": "Jean\u00a0Pierre", "last_name": "de\u202fLa\u3000Tour"}
    with django_capture_on_commit_callbacks(execute=True), django_assert_num_queries(26):
        response = client.post(reverse("account_signup"), data)

    assert response.status_code == 302
    user = User.objects.get()
    assert user.first_name == "Jean Pierre"
    assert user.last_name == "de La Tour"
    (mail,) = mailoutbox
    assert "\u00a0" not in mail.body
    assert "Jean Pierre" in mail.body


def test_the_ent_signup_stores_a_plain_space(client, campaign, settings, django_capture_on_commit_callbacks):
    """The « Création de compte » after the first ENT login builds the same name fields."""
    settings.ENT_SERVER_URL = "https://ent.example/identity/o"
    settings.SOCIALACCOUNT_PROVIDERS = ent_providers(settings.ENT_SERVER_URL, pkce=True)
    email = "jean.pierre@etudiant.univ-perp.fr"
    ent_return(client, "jean.pierre", email, claims={"email": email})
    data = {"last_name": "Gal·la\u00a0i\u3000Ruiz", "first_name": "Jean\u2011Pierre", "email": email, "email2": email}

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("socialaccount_signup"), data)

    assert response.status_code == 302
    user = User.objects.get()
    assert user.last_name == "Gal·la i Ruiz"
    assert user.first_name == "Jean\u2011Pierre"


# URL-ish names and other symbols: refused as before, naming the characters to remove.
REFUSED_NAMES = {
    "link": ("Marie\u00a0https://evil.example", ": /"),
    "address": ("marie\u3000@evil", "@"),
    "digit-after-a-no-break-space": ("Marie\u00a02", "2"),
    "colon-and-slash": ("Ma·rie:/", ": /"),
    "bullet": ("Marie\u2022Dupont", "\u2022"),
    "double-quote": ("Marie\u201cDupont", "\u201c"),
}


@pytest.mark.parametrize(("value", "characters"), REFUSED_NAMES.values(), ids=REFUSED_NAMES.keys())
@pytest.mark.parametrize("field", ["first_name", "last_name"])
def test_url_ish_names_and_symbols_are_still_refused(campaign, field, value, characters):
    with translation.override("en"):
        form = SignupForm(data={**SIGNUP, field: value})

        assert form.errors[field] == [REFUSED.format(characters)]
