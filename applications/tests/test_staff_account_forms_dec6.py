"""The staff's account forms, fixes of 6 December: « Créer un compte candidat » (applications/admin/on_behalf.py) and
the helpdesk's address change (applications/admin/account_email.py) check the address as it is stored (« ㎒ » is
« mhz »: PostgreSQL refused the row, a 500); the account creation refuses a name without a letter or made of
invisible characters; the helpdesk's change ends every session of the account."""

import pytest
from allauth.account.models import EmailAddress
from django.core.cache import cache
from django.urls import reverse

from accounts import services as accounts_services
from accounts.models import User
from accounts.tests.factories import CandidateUserFactory
from accounts.tests.mfa import Client
from ecandidat.models import OutboundEmail

pytestmark = pytest.mark.django_db

ACCOUNT = "admin:applications_application_on_behalf_account"
DATA = {"email": "nina.roux@example.org", "last_name": "Roux", "first_name": "Nina"}
# 246 characters typed, within the field's 254; 708 once normalised (each « ㎒ » is « mhz » in IDNA).
GROWS = "a@" + ".".join(["㎒" * 21] * 11) + ".fr"
TOO_LONG = "Ensure this value has at most 254 characters (it has 708)."
NO_LETTER = "Type a name with at least one letter."
INVISIBLE = "This text contains an invisible character"


@pytest.fixture(autouse=True)
def _no_rate_limit_history():
    cache.clear()  # allauth's limits live in the cache, per address
    yield
    cache.clear()


@pytest.fixture
def newcomer(campaign):
    """An account without a dossier: its address is changed from « Comptes candidats »."""
    return CandidateUserFactory(campaign=campaign, first_name="Léa", last_name="Nouvelle", email="lea@example.org")


def _email_page(account):
    return reverse("admin:accounts_candidateaccount_account_email", args=[account.pk])


def test_the_address_grows_when_stored():
    assert (len(GROWS), len(accounts_services.normalize_email(GROWS))) == (246, 708)


# --- « Créer un compte candidat » ----------------------------------------------------------------------------------


def test_an_account_address_too_long_once_stored_is_refused_next_to_the_field(
    client, centre_manager, campaign, django_assert_num_queries
):
    client.force_login(centre_manager)

    # session, user, scope, Django's permissions (2: the sidebar), the savepoint pair; nothing written
    with django_assert_num_queries(7):
        response = client.post(reverse(ACCOUNT), {**DATA, "email": GROWS})

    assert response.status_code == 200
    assert response.context["form"].errors == {"email": [TOO_LONG]}
    assert not User.objects.filter(campaign=campaign).exists()
    assert not OutboundEmail.objects.exists()


INVISIBLE_NAMES = {"zero-width-space": "\u200b", "bom": "\ufeff", "soft-hyphen": "\u00ad", "word-joiner": "\u2060"}
NAMES_WITHOUT_A_LETTER = {"lone-accent": "\u0301", "rlm": "\u200f", "zero-width-joiner": "\u200d", "dash": "-"}


@pytest.mark.parametrize("field", ["last_name", "first_name"])
@pytest.mark.parametrize(
    ("value", "refusal"),
    [(value, INVISIBLE) for value in INVISIBLE_NAMES.values()]
    + [(value, NO_LETTER) for value in NAMES_WITHOUT_A_LETTER.values()],
    ids=[*INVISIBLE_NAMES, *NAMES_WITHOUT_A_LETTER],
)
def test_a_name_with_no_letter_is_refused_next_to_the_field(
    client, centre_manager, campaign, field, value, refusal, django_assert_num_queries
):
    client.force_login(centre_manager)

    with django_assert_num_queries(7):  # as a refused address: nothing written
        response = client.post(reverse(ACCOUNT), {**DATA, field: value})

    assert response.status_code == 200
    (message,) = response.context["form"].errors[field]
    assert message.startswith(refusal)
    assert not User.objects.filter(campaign=campaign).exists()


def test_a_name_in_another_script_is_taken(client, centre_manager, campaign):
    client.force_login(centre_manager)

    response = client.post(reverse(ACCOUNT), {**DATA, "last_name": "Ōta"})

    assert response.status_code == 302
    assert User.objects.get(campaign=campaign).last_name == "Ōta"


# --- the helpdesk's address change ---------------------------------------------------------------------------------


def test_a_new_address_too_long_once_stored_is_refused_next_to_the_field(
    client, candidates_manager, newcomer, django_assert_num_queries
):
    client.force_login(candidates_manager)

    # session, user, scope, the account, Django's permissions (2: the sidebar), the savepoint pair; nothing written
    with django_assert_num_queries(8):
        response = client.post(_email_page(newcomer), {"email": GROWS, "email2": GROWS})

    assert response.status_code == 200
    assert response.context["form"].errors == {"email": [TOO_LONG]}
    newcomer.refresh_from_db()
    assert (newcomer.email, newcomer.session_generation) == ("lea@example.org", 0)
    assert not OutboundEmail.objects.exists()


def test_the_accounts_own_address_in_another_spelling_is_refused(client, candidates_manager, newcomer):
    """A full-width letter: the same mailbox. Taken as a new address, it made the account validate it again."""
    client.force_login(candidates_manager)
    lookalike = "lea@examplｅ.org"

    response = client.post(_email_page(newcomer), {"email": lookalike, "email2": "LEA@example.org"})

    assert response.status_code == 200
    assert response.context["form"].errors == {"email": ["This is already the address of the account."]}
    assert EmailAddress.objects.get(user=newcomer).verified
    assert not OutboundEmail.objects.exists()


def test_the_two_addresses_are_compared_as_stored(client, candidates_manager, newcomer):
    client.force_login(candidates_manager)

    response = client.post(_email_page(newcomer), {"email": "neuve@examplｅ.org", "email2": "Neuve@example.org"})

    assert response.status_code == 302
    newcomer.refresh_from_db()
    assert newcomer.email == "neuve@example.org"


def test_the_helpdesks_change_logs_the_candidate_out_everywhere(client, candidates_manager, newcomer):
    """The account is unusable until the new address is validated: the candidate's open sessions end too."""
    candidate_browser = Client()
    candidate_browser.force_login(newcomer)
    page = reverse("accounts:email_change")
    assert candidate_browser.get(page).status_code == 200
    client.force_login(candidates_manager)

    response = client.post(_email_page(newcomer), {"email": "neuve@example.org", "email2": "neuve@example.org"})

    assert response.status_code == 302
    logged_out = candidate_browser.get(page)
    assert logged_out.status_code == 302
    assert logged_out.url.startswith(reverse("account_login"))
    assert "_auth_user_id" not in candidate_browser.session
    assert client.get(_email_page(newcomer)).status_code == 200  # the helpdesk's own session goes on
