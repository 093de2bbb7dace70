"""Accounts fixes of 6 December: a password reset lifts the login lockout of the account (typed as its address or its
numéro de dossier), an address change ends every session of the account (not only the browser that changed it), and
a name made only of invisible characters, punctuation or a lone accent is refused at signup."""

import re

import pytest
from allauth.core import ratelimit
from allauth.core.internal.ratelimit import get_cache_key, get_rates
from django.conf import settings as django_settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.cache import cache
from django.urls import reverse

from accounts.adapters import AccountAdapter
from accounts.models import User
from accounts.tests.mfa import Client
from accounts.tests.personas import PASSWORD
from ecandidat.models import OutboundEmail

LOCKED = "Too many failed login attempts. Try again later."
NEW_PASSWORD = "une-toute-nouvelle-phrase"
NEW = "nouvelle.adresse@example.org"
SIGNUP = {
    "last_name": "Durand",
    "first_name": "Estelle",
    "email": "estelle.durand@example.org",
    "email2": "estelle.durand@example.org",
}
NO_LETTER = "Type a name with at least one letter."
INVISIBLE = "This text contains an invisible character"


def _log_in(client, login, password=PASSWORD):
    return client.post(reverse("account_login"), {"login": login, "password": password})


def _link(body: str) -> str:
    return re.search(r"https?://\S+", body).group(0)


# --- 1. A password reset lifts the account's login lockout ---------------------------------------------------------


@pytest.mark.parametrize(("typed", "queries"), [("email", 23), ("username", 22)])
def test_a_new_password_by_the_mailed_link_logs_in_at_once_after_a_lockout(
    client, candidate_user, typed, queries, mailoutbox, django_capture_on_commit_callbacks, django_assert_num_queries
):
    """Five wrong passwords typed with the address lock the account under its numéro de dossier (the login form
    turns the address into it); allauth's reset forgot only the counters of the addresses: the candidate who had just
    chosen a new password read « Trop de tentatives de connexion infructueuses » for 5 minutes."""
    login = getattr(candidate_user, typed)
    for _attempt in range(5):
        assert LOCKED not in _log_in(client, login, "mauvais-mot-de-passe").content.decode()
    assert LOCKED in _log_in(client, login).content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("account_reset_password"), {"email": candidate_user.email})
    key_page = client.get(_link(mailoutbox[-1].body))
    assert key_page.status_code == 302
    reset = client.post(key_page.url, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert reset.status_code == 302

    # The session of the reset; savepoint; the address's account (login form: an address only); the account
    # (allauth's backend), its campaign (may log in?), a validated address?, an authenticator app?; the new session
    # (exists?, savepoint, insert, release), the reset's read and deleted; last login; the dossier opened at login
    # (savepoint, none, release); the history row and its content type; release; the session saved (savepoint,
    # update, release)
    with django_assert_num_queries(queries):
        response = _log_in(client, login, NEW_PASSWORD)

    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(candidate_user.pk)


def test_the_lockout_of_another_account_stays(client, candidate_user, other_candidate_user, mailoutbox):
    """Only the account whose password was reset is unlocked."""
    for _attempt in range(5):
        _log_in(client, other_candidate_user.email, "mauvais-mot-de-passe")

    client.post(reverse("account_reset_password"), {"email": candidate_user.email})
    key_page = client.get(_link(OutboundEmail.objects.get(code="CPT_MIN_ID_OUBLIE").body))
    client.post(key_page.url, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})

    assert LOCKED in _log_in(client, other_candidate_user.email).content.decode()


def test_the_reset_forgets_the_accounts_counter_not_the_ips(rf, candidate_user):
    """Whoever opened the link keeps their failures from this address (30 in 5 minutes, per IP)."""
    request = rf.post(reverse("account_login"))
    adapter = AccountAdapter()
    adapter.request = request
    key = adapter._get_login_attempts_cache_key(request, username=candidate_user.username)
    for _attempt in range(5):
        assert ratelimit.consume(request, action="login_failed", key=key)
    assert not ratelimit.consume(request, action="login_failed", key=key, dry_run=True)

    adapter.clear_failed_logins(candidate_user)

    assert ratelimit.consume(request, action="login_failed", key=key, dry_run=True)
    per_ip = next(rate for rate in get_rates(app="allauth.account", action="login_failed") if rate.per == "ip")
    ip_key = get_cache_key(request, app="allauth.account", action="login_failed", rate=per_ip)
    assert len(cache.get(ip_key, [])) == 5


# --- 2. An address change ends every session of the account ---------------------------------------------------------


def test_an_address_change_logs_out_the_accounts_other_browsers(
    client, candidate_user, other_candidate_user, django_capture_on_commit_callbacks, django_assert_num_queries
):
    """« Modifier mon adresse mail » logged out the browser it was made in only: another one kept using the account
    with the address not validated yet."""
    other_browser, someone_else = Client(), Client()
    other_browser.force_login(candidate_user)
    someone_else.force_login(other_candidate_user)
    client.force_login(candidate_user)
    page = reverse("accounts:email_change")
    assert other_browser.get(page).status_code == 200

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(page, {"email": NEW, "email2": NEW})
    assert response.status_code == 302

    # session, user: its hash no longer matches, the session is deleted (read again, deleted); no savepoint (the
    # login's redirect comes before the view)
    with django_assert_num_queries(4):
        response = other_browser.get(page)

    assert response.status_code == 302
    assert response.url.startswith(reverse("account_login"))
    assert "_auth_user_id" not in other_browser.session
    assert someone_else.get(page).status_code == 200  # another account's session goes on
    candidate_user.refresh_from_db()
    assert (candidate_user.email, candidate_user.session_generation) == (NEW, 1)


def test_a_refused_address_change_ends_no_session(client, candidate_user, other_candidate_user):
    """An address another account of the campaign uses changes nothing (the answer the candidate sees is the same)."""
    other_browser = Client()
    other_browser.force_login(candidate_user)
    client.force_login(candidate_user)

    client.post(
        reverse("accounts:email_change"), {"email": other_candidate_user.email, "email2": other_candidate_user.email}
    )

    assert other_browser.get(reverse("accounts:email_change")).status_code == 200
    candidate_user.refresh_from_db()
    assert candidate_user.session_generation == 0


def test_sessions_opened_before_the_deploy_stay(candidate_user):
    """Generation 0, every account's when the column is added: the hash is Django's own, so the sessions opened
    before the deploy stay logged in."""
    assert candidate_user.session_generation == 0
    assert candidate_user.get_session_auth_hash() == AbstractBaseUser.get_session_auth_hash(candidate_user)
    candidate_user.session_generation = 1
    assert candidate_user.get_session_auth_hash() != AbstractBaseUser.get_session_auth_hash(candidate_user)


def test_a_session_survives_a_secret_key_rotation_after_an_address_change(client, candidate_user, settings):
    User.objects.filter(pk=candidate_user.pk).update(session_generation=2)
    client.force_login(User.objects.get(pk=candidate_user.pk))
    settings.SECRET_KEY_FALLBACKS = [django_settings.SECRET_KEY]
    settings.SECRET_KEY = "another-secret-key-" + "x" * 40

    assert client.get(reverse("accounts:email_change")).status_code == 200


# --- 4. A name with no letter ---------------------------------------------------------------------------------------

INVISIBLE_NAMES = {
    "zero-width-space": "\u200b",
    "bom": "\ufeff",
    "soft-hyphen": "\u00ad",
    "word-joiner": "\u2060",
    "invisible-times": "\u2062",
    "soft-hyphen-in-a-name": "Du\u00adrand",
    "zero-width-space-in-a-name": "Du\u200brand",
}


@pytest.mark.parametrize("field", ["last_name", "first_name"])
@pytest.mark.parametrize("value", INVISIBLE_NAMES.values(), ids=INVISIBLE_NAMES.keys())
def test_signup_refuses_invisible_format_characters_in_names(
    client, campaign, field, value, django_assert_num_queries
):
    with django_assert_num_queries(6):  # as any refused signup: nothing written
        response = client.post(reverse("account_signup"), {**SIGNUP, field: value})

    assert response.status_code == 200
    (message,) = response.context["form"].errors[field]
    assert message.startswith(INVISIBLE)
    assert not User.objects.exists()
    assert not OutboundEmail.objects.exists()


NAMES_WITHOUT_A_LETTER = {
    "lone-accent": "\u0301",
    "rlm": "\u200f",
    "lrm": "\u200e",
    "arabic-letter-mark": "\u061c",
    "zero-width-non-joiner": "\u200c",
    "zero-width-joiner": "\u200d",
    "marks-and-accent": "\u200f\u0301\u200c",
    "dash": "-",
    "digits": "123",
    "dot": ".",
}


@pytest.mark.parametrize("field", ["last_name", "first_name"])
@pytest.mark.parametrize("value", NAMES_WITHOUT_A_LETTER.values(), ids=NAMES_WITHOUT_A_LETTER.keys())
def test_signup_refuses_a_name_without_a_letter(client, campaign, field, value, django_assert_num_queries):
    with django_assert_num_queries(6):
        response = client.post(reverse("account_signup"), {**SIGNUP, field: value})

    assert response.status_code == 200
    assert response.context["form"].errors[field] == [NO_LETTER]
    assert not User.objects.exists()


# The zero-width non-joiner a Persian name needs and the right-to-left mark some keyboards add: kept, as the dossier
# keeps them (applications/tests/test_views_dossier.py).
@pytest.mark.parametrize(
    "value", ["N'Guyen-Lê", "Ōta", "Αλέξανδρος", "Zoé\u0301", "\u0645\u0647\u0631\u200c\u0646\u0627\u0632\u200f"]
)
def test_signup_takes_names_of_any_script(client, campaign, value):
    response = client.post(reverse("account_signup"), {**SIGNUP, "last_name": value})

    assert response.status_code == 302
    assert User.objects.get().last_name == value


def test_the_french_refusal(client, campaign):
    response = client.post(reverse("account_signup"), {**SIGNUP, "first_name": "-"}, language="fr")

    assert response.context["form"].errors["first_name"] == ["Saisissez un nom comportant au moins une lettre."]
