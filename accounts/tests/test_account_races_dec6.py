"""Review findings of 6 December on candidate accounts:

1. the validation link of last campaign's account, still valid (UNVALIDATED_ACCOUNT_DAYS), took the address back
   from this campaign's account: the release un-validated the active account's address, which could then no longer
   log in, and the dead account was validated;
2. a double click on « Définir un mot de passe » was a 500 (the second request found the password set);
3. a double submit of « Modifier mon adresse mail » sent two validation mails, the first one's link dead.
"""

import re

import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth.hashers import make_password
from django.urls import reverse
from django.utils import translation

from accounts import services
from accounts.models import User
from accounts.tests.factories import CandidateUserFactory
from ecandidat.models import OutboundEmail
from offers.tests.factories import CampaignFactory

ADDRESS = "estelle.durand@example.org"
SIGNUP = {"last_name": "Durand", "first_name": "Estelle", "email": ADDRESS, "email2": ADDRESS}
PASSWORD = "une-phrase-de-passe-solide-2026"
ANNUAL = "Accounts are annual: create a new account for the current campaign."
NEW = "nouvelle.adresse@example.org"


def _link(body: str) -> str:
    return re.search(r"https?://\S+", body).group(0)


def _sign_up(client, mailoutbox, capture) -> str:
    """Sign up with ADDRESS in the active campaign; the validation link mailed."""
    with capture(execute=True):
        response = client.post(reverse("account_signup"), SIGNUP)
    assert response.url == reverse("account_email_verification_sent")
    return _link(mailoutbox[-1].body)


def _next_campaign(campaign):
    """Campaign N+1 becomes the active one; N is a past campaign."""
    campaign.is_active = False
    campaign.save(update_fields=["is_active"])
    return CampaignFactory(is_active=True)


# --- 1. An old campaign's validation link ----------------------------------------------------------------------


def test_last_campaigns_link_leaves_this_campaigns_validated_account_alone(
    client, campaign, mailoutbox, django_capture_on_commit_callbacks, django_assert_num_queries
):
    old_link = _sign_up(client, mailoutbox, django_capture_on_commit_callbacks)
    old_account = User.objects.get(campaign=campaign)
    new_campaign = _next_campaign(campaign)
    new_link = _sign_up(client, mailoutbox, django_capture_on_commit_callbacks)
    new_account = User.objects.get(campaign=new_campaign)
    # This campaign's account is validated and gets its password (the page the validation leads to).
    response = client.post(new_link)
    form_page = client.get(response.url)
    client.post(form_page.url, {"password1": PASSWORD, "password2": PASSWORD})
    client.logout()

    # savepoint, the address, its account with its campaign (a past one: refused, nothing released), release
    with django_assert_num_queries(4):
        response = client.post(old_link)

    assert (response.status_code, response.url) == (302, reverse("account_login"))
    assert ANNUAL in [str(message) for message in response.wsgi_request._messages]
    assert EmailAddress.objects.get(user=new_account).verified
    assert not EmailAddress.objects.get(user=old_account).verified
    client.post(reverse("account_login"), {"login": new_account.username, "password": PASSWORD})
    assert client.session["_auth_user_id"] == str(new_account.pk)


def test_last_campaigns_link_opened_first_leaves_the_address_to_this_campaigns_account(
    client, campaign, mailoutbox, django_capture_on_commit_callbacks
):
    """The candidate signed up again but has not validated yet: the old link validated the dead account, and this
    campaign's link then failed (« déjà confirmé par un autre compte »)."""
    old_link = _sign_up(client, mailoutbox, django_capture_on_commit_callbacks)
    old_account = User.objects.get(campaign=campaign)
    new_campaign = _next_campaign(campaign)
    new_link = _sign_up(client, mailoutbox, django_capture_on_commit_callbacks)
    new_account = User.objects.get(campaign=new_campaign)

    response = client.post(old_link)

    assert response.url == reverse("account_login")
    assert not EmailAddress.objects.get(user=old_account).verified
    response = client.post(new_link)
    assert "/password/reset/key/" in response.url
    assert EmailAddress.objects.get(user=new_account).verified


def test_the_french_page_says_accounts_are_annual(client, campaign, mailoutbox, django_capture_on_commit_callbacks):
    old_link = _sign_up(client, mailoutbox, django_capture_on_commit_callbacks)
    _next_campaign(campaign)

    with translation.override("fr"):
        expected = translation.gettext(ANNUAL)

    response = client.post(old_link, follow=True, language="fr")

    assert expected != ANNUAL
    assert expected in response.content.decode()


def test_the_release_never_takes_an_address_from_the_active_campaign(campaign):
    current = CandidateUserFactory(campaign=campaign, email=ADDRESS)  # validated
    last_year = CandidateUserFactory(campaign=CampaignFactory(is_active=False), email=ADDRESS, verified_email=False)

    released = services.release_email_from_past_campaigns(email=ADDRESS, user=last_year)

    assert released == 0
    assert EmailAddress.objects.get(user=current).verified


def test_the_release_still_takes_an_address_from_another_past_campaign(campaign):
    two_years_ago = CandidateUserFactory(campaign=CampaignFactory(is_active=False), email=ADDRESS)  # validated then
    current = CandidateUserFactory(campaign=campaign, email=ADDRESS, verified_email=False)

    released = services.release_email_from_past_campaigns(email=ADDRESS, user=current)

    assert released == 1
    assert not EmailAddress.objects.get(user=two_years_ago).verified


# --- 2. « Définir un mot de passe » clicked twice ----------------------------------------------------------------

PASSWORD_SET = reverse("accounts:password_set")
SECOND_CLICK = "un-autre-mot-de-passe-2026"


def test_the_second_click_finds_the_password_set_and_answers_as_the_first(
    client, ent_student, monkeypatch, django_assert_num_queries
):
    client.force_login(ent_student)
    client.get(PASSWORD_SET)  # the parameters' memory filled
    may_set_password = services.may_set_password

    def first_click_saves_meanwhile(user):
        # The first request sets the password after this one checked the account had none.
        allowed = may_set_password(user)
        User.objects.filter(pk=user.pk).update(password=make_password(PASSWORD))
        return allowed

    monkeypatch.setattr(services, "may_set_password", first_click_saves_meanwhile)

    # session, account, savepoint, the first click's password (the test's update); the service's savepoint, the
    # account locked (a password: refused), rollback, release; the account's password read again; the session kept
    # with the new hash: a new key (exists? savepoint, insert, release), the old one read and deleted; release; the
    # session saved (savepoint, update, release)
    with django_assert_num_queries(19):
        response = client.post(PASSWORD_SET, {"password1": SECOND_CLICK, "password2": SECOND_CLICK}, language="fr")

    assert response.status_code == 302
    assert response.url == reverse("account_change_password")  # the success's own page
    assert [str(message) for message in response.wsgi_request._messages] == ["Votre mot de passe est déjà défini."]
    ent_student.refresh_from_db()
    assert ent_student.check_password(PASSWORD)  # the first click's
    assert client.get(reverse("accounts:email_change")).status_code == 200  # this session still logged in


# --- 3. « Modifier mon adresse mail » submitted twice -------------------------------------------------------------


def test_the_same_change_twice_sends_one_mail_whose_link_works(
    client, candidate_user, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        first = services.change_email(user=candidate_user, new_email=NEW, actor=candidate_user)
        second = services.change_email(user=candidate_user, new_email=NEW.upper(), actor=candidate_user)

    assert (first, second) == (True, True)
    assert OutboundEmail.objects.filter(code="CPT_MIN_MODIF_MAIL").count() == 1
    assert OutboundEmail.objects.filter(code="CPT_MIN_MODIF_MAIL_ANCIEN").count() == 1
    (validation,) = [mail for mail in mailoutbox if mail.to == [NEW]]
    response = client.post(_link(validation.body))
    assert response.status_code == 302
    assert EmailAddress.objects.get(user=candidate_user).verified


def test_the_second_change_only_reads(candidate_user, django_assert_num_queries):
    services.change_email(user=candidate_user, new_email=NEW, actor=candidate_user)

    # savepoint, the account locked, its address waiting for validation? (yes: nothing else), release
    with django_assert_num_queries(4):
        assert services.change_email(user=candidate_user, new_email=NEW, actor=candidate_user) is True


@pytest.mark.parametrize("verified", [True, False])
def test_another_address_waiting_is_still_replaced(candidate_user, verified, mailoutbox):
    services.change_email(user=candidate_user, new_email=NEW, actor=candidate_user)
    EmailAddress.objects.filter(user=candidate_user).update(verified=verified)

    services.change_email(user=candidate_user, new_email="troisieme@example.org", actor=candidate_user)

    candidate_user.refresh_from_db()
    assert candidate_user.email == "troisieme@example.org"
    assert OutboundEmail.objects.filter(code="CPT_MIN_MODIF_MAIL").count() == 2
