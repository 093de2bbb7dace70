"""Review findings on the addresses of candidate accounts:

1. a staff account's validated address given to a candidate account (signup, « Modifier mon adresse mail ») left
   it for ever unvalidated: allauth refuses to validate an address another account holds as validated, yet the
   failed validation still led to « choisir votre mot de passe »;
2. « J'ai oublié mes identifiants » mailed nothing to a returning candidate whose new account is not validated yet
   (allauth found last year's validated account only), nor to an address only a past campaign's account uses;
3. a Unicode lookalike of an address (``a@examplｅ.org``, a full-width e) counted as another address, whereas the
   mail reaches the same mailbox (Django writes the domain in IDNA).
"""

import datetime
import re

import pytest
from allauth.account.models import EmailAddress, EmailConfirmationHMAC
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext

from accounts import services
from accounts.models import User
from accounts.tests.factories import CandidateUserFactory
from accounts.tests.personas import PASSWORD
from ecandidat.exceptions import BusinessRuleError
from ecandidat.models import OutboundEmail
from offers.tests.factories import CampaignFactory

SIGNUP = {"last_name": "Dupont", "first_name": "Marie"}
STAFF_SIGNUP_SENTENCE = (
    "Someone tried to create an eCandidat candidate account with this e-mail address, but it is the address of a "
    "staff account: a candidate account needs another address, a personal one."
)
STAFF_CHANGE_SENTENCE = (
    "Someone tried to use this e-mail address for an eCandidat candidate account, but it is the address of a staff "
    "account: a candidate account needs another address, a personal one."
)
LOOKALIKE = "estelle.durand@examplｅ.org"  # a full-width "ｅ" (U+FF45): Django delivers it to example.org
DELIVERED = "estelle.durand@example.org"


def _in_french(msgid: str) -> str:
    """The sentence as a mail in French writes it (the catalogue's translation, or the msgid until it has one)."""
    with translation.override("fr"):
        return gettext(msgid)


def _signup(client, email: str, email2: str | None = None):
    return client.post(reverse("account_signup"), {**SIGNUP, "email": email, "email2": email2 or email})


def _past_campaign():
    today = timezone.localdate()
    return CampaignFactory(
        is_active=False, starts_on=today - datetime.timedelta(days=400), ends_on=today - datetime.timedelta(days=200)
    )


# --- 1. A staff account's validated address ---------------------------------------------------------------------


def test_signup_with_a_staff_address_creates_nothing_and_tells_its_owner(
    client, campaign, central_manager, mailoutbox, django_capture_on_commit_callbacks, django_assert_num_queries
):
    staff_address = central_manager.email  # validated (the factory's EmailAddress)

    # savepoint, active campaign (is signup open?, then the form's), address taken? (campaign or staff: one query);
    # the mail (no owner's language to read: a staff account's): savepoint, override in service?, outbox row, release;
    # release; the session (exists?, savepoint, written, release)
    with django_capture_on_commit_callbacks(execute=True), django_assert_num_queries(13):
        response = _signup(client, staff_address.upper())

    # The neutral page of any signup...
    assert (response.status_code, response.url) == (302, reverse("account_email_verification_sent"))
    assert not EmailAddress.objects.filter(user__campaign=campaign).exists()
    assert not User.objects.filter(campaign=campaign).exists()
    # ...and the staff member reads, in the institution's language, that a candidate account needs another address.
    row = OutboundEmail.objects.get()
    assert (row.code, row.to, row.language) == ("CPT_MIN_EXISTE", staff_address, "fr")
    assert _in_french(STAFF_SIGNUP_SENTENCE) in mailoutbox[0].body
    assert "/accounts/password/reset/" in mailoutbox[0].body


def test_a_staff_accounts_address_not_validated_stays_free(client, campaign, central_manager, mailoutbox):
    # The rule is allauth's: only a validated address is unique, so only it makes the candidate account useless.
    EmailAddress.objects.filter(user=central_manager).update(verified=False)

    _signup(client, central_manager.email)

    assert User.objects.filter(campaign=campaign, email=central_manager.email).exists()
    assert OutboundEmail.objects.get().code == "CPT_MIN_CREATE"


def test_changing_to_a_staff_address_is_refused_neutrally(
    client,
    candidate_user,
    central_manager,
    mailoutbox,
    django_capture_on_commit_callbacks,
    django_assert_num_queries,
):
    staff_address = central_manager.email
    old = candidate_user.email
    client.force_login(candidate_user)

    # session, user, request savepoint, service savepoint, locked user + campaign, address taken? (one query: a
    # staff account's, so no owner's language to read), back-office mail text?, outbox row, release, logout (session
    # read, deleted), release
    with django_capture_on_commit_callbacks(execute=True), django_assert_num_queries(12):
        response = client.post(reverse("accounts:email_change"), {"email": staff_address, "email2": staff_address})

    # The answer of any change (logged out, "check your e-mail")...
    assert (response.status_code, response.url) == (302, reverse("accounts:email_change_done"))
    # ...but the account keeps its validated address: its owner can log in again.
    candidate_user.refresh_from_db()
    assert candidate_user.email == old
    assert EmailAddress.objects.get(user=candidate_user).verified
    row = OutboundEmail.objects.get()
    assert (row.code, row.to, row.language) == ("CPT_MIN_MODIF_MAIL_EXISTE", staff_address, "fr")
    assert _in_french(STAFF_CHANGE_SENTENCE) in mailoutbox[0].body
    client.post(reverse("account_login"), {"login": candidate_user.username, "password": PASSWORD})
    assert client.session["_auth_user_id"] == str(candidate_user.pk)


def test_the_helpdesk_changing_to_a_staff_address_is_refused(campaign, candidate_user, candidates_manager):
    taken_by = services.email_taken_in_campaign(email=candidates_manager.email.upper(), campaign=campaign)

    changed = services.change_email(user=candidate_user, new_email=candidates_manager.email, actor=candidates_manager)

    assert taken_by == services.AddressTakenBy.STAFF
    assert changed is False
    assert OutboundEmail.objects.get().code == "CPT_MIN_MODIF_MAIL_EXISTE"


def test_a_failed_validation_hands_out_no_password_link(client, campaign, central_manager, django_assert_num_queries):
    """An account that got a staff address before the rule (or took it at the same moment): allauth refuses the
    validation, and the page must not lead to « choisir votre mot de passe » (a login would ask for the validation
    again, and fail again): the login page, with allauth's message."""
    stuck = CandidateUserFactory(campaign=campaign, email=central_manager.email, verified_email=False)
    stuck.set_unusable_password()
    stuck.save(update_fields=["password"])
    key = EmailConfirmationHMAC(EmailAddress.objects.get(user=stuck)).key

    # savepoint, the address, its account, past campaigns' accounts release it (none), the address again (allauth),
    # another account validated it? (yes: refused), release
    with django_assert_num_queries(7):
        response = client.post(reverse("account_confirm_email", args=[key]))

    assert response.status_code == 302
    assert "/password/reset/key/" not in response.url
    assert response.url == reverse("account_login")
    assert not EmailAddress.objects.get(user=stuck).verified


def test_a_successful_validation_still_leads_to_choosing_the_password(client, campaign):
    account = CandidateUserFactory(campaign=campaign, verified_email=False)
    account.set_unusable_password()
    account.save(update_fields=["password"])
    key = EmailConfirmationHMAC(EmailAddress.objects.get(user=account)).key

    response = client.post(reverse("account_confirm_email", args=[key]))

    assert "/password/reset/key/" in response.url


# --- 2. « J'ai oublié mes identifiants » for a returning candidate -----------------------------------------------


def test_a_returning_candidate_whose_new_account_waits_for_validation_gets_its_link(
    client, campaign, mailoutbox, django_capture_on_commit_callbacks, django_assert_num_queries
):
    last_year = CandidateUserFactory(campaign=_past_campaign(), email=DELIVERED)  # validated last year
    this_year = CandidateUserFactory(campaign=campaign, email=DELIVERED, verified_email=False)

    # savepoint, the address's accounts (one query), allauth's reads of the account's addresses (2), the account's
    # campaign (annual accounts), the mail's override in service?, the outbox row, release
    with django_capture_on_commit_callbacks(execute=True), django_assert_num_queries(8):
        response = client.post(reverse("account_reset_password"), {"email": DELIVERED})

    assert response.status_code == 302
    row = OutboundEmail.objects.get()
    assert (row.code, row.to) == ("CPT_MIN_ID_OUBLIE", DELIVERED)
    assert this_year.username in mailoutbox[0].body
    assert last_year.username not in mailoutbox[0].body
    # The link lets this year's account choose its password.
    link = re.search(r"https?://\S+/password/reset/key/\S+", mailoutbox[0].body).group(0)
    form_page = client.get(link)
    new_password = "une-phrase-de-passe-solide"
    client.post(form_page.url, {"password1": new_password, "password2": new_password})
    this_year.refresh_from_db()
    assert this_year.check_password(new_password)


def test_an_address_only_a_past_campaign_uses_gets_unknown_account(
    client, campaign, mailoutbox, django_capture_on_commit_callbacks, django_assert_num_queries
):
    CandidateUserFactory(campaign=_past_campaign(), email=DELIVERED)

    # savepoint, the address's accounts (none of this campaign), the mail's override in service?, the outbox row,
    # release
    with django_capture_on_commit_callbacks(execute=True), django_assert_num_queries(5):
        client.post(reverse("account_reset_password"), {"email": DELIVERED})

    row = OutboundEmail.objects.get()
    assert (row.code, row.to) == ("CPT_MIN_INCONNU", DELIVERED)
    assert "/accounts/signup/" in mailoutbox[0].body


def test_staff_still_get_their_link(client, central_manager, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("account_reset_password"), {"email": central_manager.email.upper()})

    row = OutboundEmail.objects.get()
    assert (row.code, row.to) == ("CPT_MIN_ID_OUBLIE", central_manager.email)


def test_the_page_is_the_same_whatever_the_address_names(client, campaign, django_capture_on_commit_callbacks):
    CandidateUserFactory(campaign=campaign, email=DELIVERED, verified_email=False)
    pages = []
    for address in (DELIVERED, "personne@example.org"):
        with django_capture_on_commit_callbacks(execute=True):
            pages.append(client.post(reverse("account_reset_password"), {"email": address}, follow=True))

    assert pages[0].redirect_chain == pages[1].redirect_chain
    assert [row.code for row in OutboundEmail.objects.order_by("pk")] == ["CPT_MIN_ID_OUBLIE", "CPT_MIN_INCONNU"]


# --- 3. One address, whatever its spelling -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        (LOOKALIKE, DELIVERED),
        ("Estelle.Durand@EXAMPLE.org", DELIVERED),
        ("estelle@exam\u00adple.org", "estelle@example.org"),  # a soft hyphen: dropped by the delivery too
        ("estelle@ＥＸＡＭＰＬＥ．ＯＲＧ", "estelle@example.org"),  # full-width letters and dot
        ("estelle@École.fr", "estelle@école.fr"),  # a genuine internationalised domain keeps its letters
        ("estelle@e\u0301cole.fr", "estelle@école.fr"),  # the same, its accent typed as a combining character
        ("estelle@xn--cole-9oa.fr", "estelle@école.fr"),  # its ASCII form: the same mailbox
        ("estelle@examplе.org", "estelle@examplе.org"),  # a Cyrillic "е": another domain, another mailbox
        ("pas-une-adresse", "pas-une-adresse"),
    ],
)
def test_normalize_email_gives_the_mailbox_the_mail_reaches(typed, stored):
    assert services.normalize_email(typed) == stored


def test_signup_with_a_lookalike_of_an_address_of_the_campaign_creates_nothing(
    client, campaign, mailoutbox, django_capture_on_commit_callbacks, django_assert_num_queries
):
    existing = CandidateUserFactory(campaign=campaign, email=DELIVERED)

    # savepoint, active campaign (is signup open?, then the form's), address taken? (the normalised address); the
    # mail: savepoint, its owner (active campaign, their language), override in service?, outbox row, release;
    # release; the session (exists?, savepoint, written, release)
    with django_capture_on_commit_callbacks(execute=True), django_assert_num_queries(15):
        response = _signup(client, LOOKALIKE)

    assert (response.status_code, response.url) == (302, reverse("account_email_verification_sent"))
    assert list(User.objects.filter(campaign=campaign)) == [existing]
    row = OutboundEmail.objects.get()
    assert (row.code, row.to) == ("CPT_MIN_EXISTE", DELIVERED)
    assert mailoutbox[0].to == [DELIVERED]


def test_signup_stores_the_address_the_mail_reaches(client, campaign, mailoutbox, django_capture_on_commit_callbacks):
    # The confirmation typed plainly: the same address.
    with django_capture_on_commit_callbacks(execute=True):
        response = _signup(client, LOOKALIKE, email2=DELIVERED)

    assert response.status_code == 302
    account = User.objects.get(campaign=campaign)
    assert account.email == DELIVERED
    assert EmailAddress.objects.get(user=account).email == DELIVERED
    assert mailoutbox[0].to == [DELIVERED]


def test_an_internationalised_domain_keeps_working(client, campaign, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = _signup(client, "Marie.Dupont@École.fr")

    assert response.status_code == 302
    address = EmailAddress.objects.get()
    assert address.email == address.user.email == "marie.dupont@école.fr"
    row = OutboundEmail.objects.get()
    assert (row.code, row.to) == ("CPT_MIN_CREATE", "marie.dupont@école.fr")
    assert mailoutbox[0].to == ["marie.dupont@école.fr"]
    assert mailoutbox[0].message()["To"] == "marie.dupont@xn--cole-9oa.fr"  # as Django delivers it
    # Validated by its link, then found by the same address at « J'ai oublié mes identifiants ».
    client.post(re.search(r"https?://\S+", mailoutbox[0].body).group(0))
    assert EmailAddress.objects.get().verified
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("account_reset_password"), {"email": "marie.dupont@xn--cole-9oa.fr"})
    assert OutboundEmail.objects.order_by("pk").last().code == "CPT_MIN_ID_OUBLIE"


def test_changing_to_a_lookalike_of_another_accounts_address_is_refused(
    campaign, candidate_user, django_capture_on_commit_callbacks
):
    CandidateUserFactory(campaign=campaign, email=DELIVERED)

    with django_capture_on_commit_callbacks(execute=True):
        changed = services.change_email(user=candidate_user, new_email=LOOKALIKE, actor=candidate_user)

    assert changed is False
    row = OutboundEmail.objects.get()
    assert (row.code, row.to) == ("CPT_MIN_MODIF_MAIL_EXISTE", DELIVERED)


def test_staff_creating_an_account_with_a_lookalike_is_refused(campaign, candidates_manager):
    CandidateUserFactory(campaign=campaign, email=DELIVERED)

    with pytest.raises(
        BusinessRuleError, match=gettext("An account of this campaign already uses this e-mail address.")
    ):
        services.create_candidate_account(
            email=LOOKALIKE, first_name="Estelle", last_name="Durand", actor=candidates_manager
        )


def test_a_lookalike_logs_in_to_the_account_of_the_address(client, campaign):
    account = CandidateUserFactory(campaign=campaign, email=DELIVERED)

    response = client.post(reverse("account_login"), {"login": LOOKALIKE, "password": PASSWORD})

    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(account.pk)


def test_a_lookalike_gets_the_link_of_the_account_of_the_address(
    client, campaign, mailoutbox, django_capture_on_commit_callbacks
):
    account = CandidateUserFactory(campaign=campaign, email=DELIVERED)

    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("account_reset_password"), {"email": LOOKALIKE})

    row = OutboundEmail.objects.get()
    assert (row.code, row.to) == ("CPT_MIN_ID_OUBLIE", DELIVERED)
    assert account.username in mailoutbox[0].body


def test_a_lookalike_of_ones_own_address_is_ones_own(client, campaign):
    """« Modifier mon adresse mail » with one's own address written with a full-width letter: refused next to the
    field as one's own address, not taken as a new one (which logged the candidate out to validate it again)."""
    owner = CandidateUserFactory(campaign=campaign, email=DELIVERED)
    client.force_login(owner)

    response = client.post(reverse("accounts:email_change"), {"email": LOOKALIKE, "email2": LOOKALIKE})

    assert response.status_code == 200
    assert response.context["form"].errors["email"] == ["This is already the e-mail address of your account."]
    assert client.session["_auth_user_id"] == str(owner.pk)
    assert not OutboundEmail.objects.exists()


# --- 4. Addresses longer than the columns once normalised -----------------------------------------------------------

LONG = "a@" + ".".join(["b" * 63] * 4) + ".org"  # 261 characters: valid for the e-mail field (320), not stored (254)
EXPANDS = "a@" + "㎒" * 21 + ".org"  # 27 characters typed; « ㎒ » is « mhz » in IDNA: 69 stored
EXPANDS_PAST = "a@" + ".".join(["㎒" * 21] * 4) + ".org"  # 93 characters typed, 261 once normalised
TOO_LONG = "Ensure this value has at most 254 characters (it has 261)."


def test_the_normalised_length_is_what_is_checked():
    assert len(LONG) == 261
    assert len(EXPANDS_PAST) == 93
    assert len(services.normalize_email(EXPANDS_PAST)) == 261
    assert services.check_stored_length(EXPANDS) == "a@" + "mhz" * 21 + ".org"


@pytest.mark.parametrize("address", [LONG, EXPANDS_PAST], ids=["typed-261", "normalised-261"])
def test_signup_with_an_address_too_long_once_stored_is_refused_beside_the_field(
    client, campaign, address, django_assert_num_queries
):
    """PostgreSQL refused the row (DataError, a 500); SQLite, which keeps any length, hid it from the suite."""
    # The savepoint pair, the active campaign (is signup open?, then the form's); no address looked up
    with django_assert_num_queries(4):
        response = _signup(client, address)

    assert response.status_code == 200
    assert response.context["form"].errors["email"] == [TOO_LONG]
    assert not User.objects.filter(campaign=campaign).exists()


@pytest.mark.parametrize("address", [LONG, EXPANDS_PAST], ids=["typed-261", "normalised-261"])
def test_reset_with_an_address_too_long_once_stored_is_refused_beside_the_field(client, campaign, address):
    response = client.post(reverse("account_reset_password"), {"email": address})

    assert response.status_code == 200
    assert response.context["form"].errors["email"] == [TOO_LONG]
    assert not OutboundEmail.objects.exists()  # « compte inconnu » not written to an address no column takes


def test_an_email_change_too_long_once_stored_is_refused_beside_the_field(client, campaign):
    owner = CandidateUserFactory(campaign=campaign, email=DELIVERED)
    client.force_login(owner)

    response = client.post(reverse("accounts:email_change"), {"email": EXPANDS_PAST, "email2": EXPANDS_PAST})

    assert response.status_code == 200
    assert response.context["form"].errors["email"] == [TOO_LONG]
    owner.refresh_from_db()
    assert owner.email == DELIVERED
