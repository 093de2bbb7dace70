import datetime
import re

import pytest
from allauth.account.models import EmailAddress
from allauth.socialaccount.adapter import get_adapter as get_social_adapter
from allauth.socialaccount.models import SocialAccount, SocialLogin
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from accounts.models import CandidateAccount, User
from accounts.services import purge_unvalidated_accounts
from accounts.tests.ent import ent_providers
from accounts.tests.factories import CandidateUserFactory, StaffFactory
from accounts.tests.personas import PASSWORD
from ecandidat.models import OutboundEmail
from offers.tests.factories import CampaignFactory

# A wrong password: savepoint, site, allauth looking the login up (user, its addresses, user twice), release.
QUERIES_WRONG_PASSWORD = 7


def test_login_page(client, db, settings, django_assert_num_queries):
    settings.ENT_SERVER_URL = ""
    with django_assert_num_queries(3):  # savepoint, site, release
        response = client.get(reverse("account_login"))
    html = response.content.decode()
    assert response.status_code == 200
    assert "I am not a student of Université de Perpignan Via Domitia" in html
    assert "Please log in with your eCandidat account" in html
    assert "User *" in html
    assert "Password *" in html
    assert "I forgot my credentials" in html
    assert "In accordance with the provisions of law 78-17" in html
    assert "Log in with the ENT" not in html  # no ENT configured
    assert 'name="remember"' not in html  # no « Se souvenir de moi »: ACCOUNT_SESSION_REMEMBER = False
    assert list(response.context["form"].fields) == ["login", "password"]


def test_candidate_logs_in_with_numero_or_email(client, candidate_user):
    response = client.post(reverse("account_login"), {"login": candidate_user.username, "password": PASSWORD})
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(candidate_user.pk)


def test_wrong_password_until_lockout(client, candidate_user):
    for _attempt in range(5):
        response = client.post(reverse("account_login"), {"login": candidate_user.username, "password": "mauvais"})
        assert response.status_code == 200
        assert "The user or the password is not correct." in response.content.decode()
    # Rate limit reached: even the right password is refused for now.
    response = client.post(reverse("account_login"), {"login": candidate_user.username, "password": PASSWORD})
    assert "_auth_user_id" not in client.session
    assert response.status_code in (200, 429)
    assert "Too many failed login attempts" in response.content.decode()


def test_unvalidated_account_cannot_log_in(client, campaign, mailoutbox, django_capture_on_commit_callbacks):
    user = CandidateUserFactory(campaign=campaign, verified_email=False)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("account_login"), {"login": user.username, "password": PASSWORD})
    assert response.status_code == 302
    assert response.url == reverse("account_email_verification_sent")
    assert "_auth_user_id" not in client.session
    assert OutboundEmail.objects.get().code == "CPT_MIN_MODIF_MAIL"


def test_a_wrong_password_is_said_with_the_pages_word_for_the_login(client, candidate_user, django_assert_num_queries):
    with django_assert_num_queries(QUERIES_WRONG_PASSWORD):
        response = client.post(
            reverse("account_login"),
            {"login": candidate_user.username, "password": "mauvais"},
            language="fr",
        )

    html = response.content.decode()
    assert "pseudo" not in html
    # In the error summary that forms.js focuses, so a screen reader reads it at once (not only the title's "Erreur").
    summary = html.split('id="error-summary"', 1)[1].split("</div>", 1)[0]
    assert "<li>Utilisateur ou mot de passe incorrect.</li>" in summary  # the field is labelled "Utilisateur *"
    # About the pair, not a field: the title counts no field (it said "Il y a un problème dans 1 champ").
    assert '<h2 id="error-summary-title">Il y a un problème</h2>' in summary
    assert "js/forms.js" in html


def test_annual_accounts_past_campaign_cannot_log_in(client, db):
    today = timezone.localdate()
    old = CampaignFactory(
        is_active=False, starts_on=today - datetime.timedelta(400), ends_on=today - datetime.timedelta(200)
    )
    user = CandidateUserFactory(campaign=old)
    response = client.post(reverse("account_login"), {"login": user.username, "password": PASSWORD}, follow=True)
    assert "_auth_user_id" not in client.session
    assert "Accounts are annual: create a new account for the current campaign." in response.content.decode()


def test_annual_accounts_campaign_dates_over(client, db):
    today = timezone.localdate()
    closed = CampaignFactory(
        is_active=True, starts_on=today - datetime.timedelta(100), ends_on=today - datetime.timedelta(1)
    )
    user = CandidateUserFactory(campaign=closed)
    response = client.post(reverse("account_login"), {"login": user.email, "password": PASSWORD}, follow=True)
    assert "_auth_user_id" not in client.session
    # The campaign of the account is the active one, closed to candidates: no other account to create.
    assert "The campaign was open to candidates until" in response.content.decode()
    assert "Accounts are annual" not in response.content.decode()


def test_email_login_picks_the_active_campaign_account(client, campaign):
    today = timezone.localdate()
    old = CampaignFactory(
        is_active=False, starts_on=today - datetime.timedelta(400), ends_on=today - datetime.timedelta(200)
    )
    CandidateUserFactory(campaign=old, email="same@example.org", verified_email=False)
    current = CandidateUserFactory(campaign=campaign, email="same@example.org")
    client.post(reverse("account_login"), {"login": "same@example.org", "password": PASSWORD})
    assert client.session["_auth_user_id"] == str(current.pk)


def test_forgotten_credentials(client, candidate_user, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("account_reset_password"), {"email": candidate_user.email.upper()}, follow=True)
    known_page = response.content.decode()
    assert "If an account uses this address" in known_page
    row = OutboundEmail.objects.get()
    assert row.code == "CPT_MIN_ID_OUBLIE"
    body = mailoutbox[0].body
    assert candidate_user.username in body
    assert "valid for 2 hours" in body
    link = re.search(r"https?://\S+", body).group(0)
    response = client.get(link)
    assert response.status_code == 302
    new = "encore-une-phrase-solide"
    response = client.post(response.url, {"password1": new, "password2": new})
    assert response.status_code == 302
    candidate_user.refresh_from_db()
    assert candidate_user.check_password(new)
    # Single use.
    assert "expired or has already been used" in client.get(link, follow=True).content.decode()


def test_the_page_after_a_new_password_is_titled_by_what_happened(client, db, django_assert_num_queries):
    with django_assert_num_queries(3):  # savepoint, site, release (as the login page)
        response = client.get(reverse("account_reset_password_from_key_done"), language="fr")

    # The title is what a screen reader says first: not "Choisissez votre mot de passe" once it is chosen.
    assert "<title>Votre mot de passe est enregistré · eCandidat" in response.content.decode()


def test_forgotten_credentials_unknown_address_same_page(client, db, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("account_reset_password"), {"email": "inconnu@example.org"}, follow=True)
    assert "If an account uses this address" in response.content.decode()
    assert OutboundEmail.objects.get().code == "CPT_MIN_INCONNU"


def test_forgotten_credentials_link_expires_after_two_hours(
    client, candidate_user, mailoutbox, django_capture_on_commit_callbacks, time_machine
):
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("account_reset_password"), {"email": candidate_user.email})
    link = re.search(r"https?://\S+", mailoutbox[0].body).group(0)
    time_machine.move_to(datetime.datetime.now().astimezone() + datetime.timedelta(hours=2, minutes=1))
    assert "expired or has already been used" in client.get(link, follow=True).content.decode()


def test_admin_login_goes_through_allauth(client, db):
    response = client.get("/gestion/")
    assert response.status_code == 302
    response = client.get(response.url)
    assert response.status_code == 302
    assert response.url.startswith(reverse("account_login"))
    assert "next=/gestion/" in response.url


def test_staff_persona_logs_into_admin(client, centre_manager):
    client.post(reverse("account_login") + "?next=/gestion/", {"login": "gestionnaire", "password": PASSWORD})
    assert client.session["_auth_user_id"] == str(centre_manager.pk)
    # Logged in; the back office also wants a second factor (accounts/tests/test_staff_mfa.py).
    assert client.get("/gestion/", follow=True).redirect_chain[-1][0] == reverse("accounts:staff_enrolment")


# --- ENT students (OpenID Connect), without the ENT process: the social login is stashed as allauth does ---


@pytest.fixture
def ent_signup(client, campaign, settings):
    settings.ENT_SERVER_URL = "https://ent.example/identity/o"
    settings.SOCIALACCOUNT_PROVIDERS = ent_providers(settings.ENT_SERVER_URL)
    claims = {
        "sub": "ent-sub-42",
        "email": "estelle.etu@etudiant.univ-perp.fr",
        "email_verified": True,
        "given_name": "Estelle",
        "family_name": "Etudiante",
        "supannEtuId": "21912345",
    }
    provider = get_social_adapter().get_provider(RequestFactory().get("/"), "ent")
    sociallogin = SocialLogin(
        provider=provider,
        user=User(email=claims["email"], first_name="Estelle", last_name="Etudiante"),
        account=SocialAccount(provider="ent", uid=claims["sub"], extra_data={"id_token": claims}),
        email_addresses=[EmailAddress(email=claims["email"], verified=True, primary=True)],
    )
    session = client.session
    session["socialaccount_sociallogin"] = sociallogin.serialize()
    session.save()
    return claims


def test_ent_first_login_shows_account_creation(client, ent_signup):
    response = client.get(reverse("socialaccount_signup"))
    html = response.content.decode()
    assert response.status_code == 200
    assert "Warning, once you have modified your account, you will be logged out." in html
    assert 'value="estelle.etu@etudiant.univ-perp.fr"' in html
    assert 'value="Etudiante"' in html
    assert "E-mail address confirmation *" in html


def test_ent_account_creation(client, ent_signup, mailoutbox, django_capture_on_commit_callbacks):
    data = {
        "last_name": "Etudiante",
        "first_name": "Estelle",
        "email": ent_signup["email"],
        "email2": ent_signup["email"],
    }
    response = client.post(reverse("socialaccount_signup"), {**data, "email2": "x@example.org"})
    assert "The two e-mail addresses are different." in response.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("socialaccount_signup"), data)
    assert response.status_code == 302
    assert "_auth_user_id" not in client.session  # logged out until the address is validated
    user = User.objects.get()
    assert user.student_number == "21912345"
    assert user.campaign.is_active
    assert SocialAccount.objects.get(user=user, provider="ent").uid == "ent-sub-42"
    assert not EmailAddress.objects.get(user=user).verified  # validated by mail, whatever the ENT says
    assert OutboundEmail.objects.get().code == "CPT_MIN_CREATE"
    body = mailoutbox[0].body
    assert "log in to eCandidat with your ENT credentials" in body
    link = re.search(r"https?://\S+", body).group(0)
    response = client.post(link)
    assert response.status_code == 302
    assert EmailAddress.objects.get(user=user).verified
    assert not response.url.startswith("/accounts/password/reset/")  # ENT students have no password to choose


# --- ENT_ACCOUNTS_PASSWORD (eCandidat CANDIDAT_IS_MDP_CONNECT_CAS): a password chosen at the account creation ---

ENT_PASSWORD = "un-mot-de-passe-etudiant-2026"


def _ent_data(claims, **extra):
    return {
        "last_name": "Etudiante",
        "first_name": "Estelle",
        "email": claims["email"],
        "email2": claims["email"],
    } | extra


def test_the_ent_account_creation_offers_an_optional_password(client, ent_signup, django_assert_num_queries):
    client.get(reverse("socialaccount_signup"))  # the parameters' memory filled
    with django_assert_num_queries(5):  # savepoint, session, active campaign, site, release
        response = client.get(reverse("socialaccount_signup"), language="fr")

    html = response.content.decode()
    assert 'name="password1"' in html
    assert 'autocomplete="new-password"' in html
    assert "Mot de passe (facultatif)" in html
    assert "ENT est indisponible" in html


def test_the_ent_student_who_chooses_a_password_logs_in_with_it_after_validation(
    client, ent_signup, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("socialaccount_signup"), _ent_data(ent_signup, password1=ENT_PASSWORD, password2=ENT_PASSWORD)
        )
    assert response.status_code == 302
    user = User.objects.get()
    assert user.check_password(ENT_PASSWORD)
    entry = LogEntry.objects.get(object_id=str(user.pk))
    assert entry.user == user  # the student is the actor
    client.post(re.search(r"https?://\S+", mailoutbox[0].body).group(0))  # the address validated

    response = client.post(reverse("account_login"), {"login": user.username, "password": ENT_PASSWORD})

    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(user.pk)


def test_without_a_password_the_ent_account_has_none(client, ent_signup):
    client.post(reverse("socialaccount_signup"), _ent_data(ent_signup))

    assert not User.objects.get().has_usable_password()
    assert not LogEntry.objects.exists()


@pytest.mark.parametrize(
    ("password1", "password2", "field"),
    [
        ("court", "court", "password1"),
        (ENT_PASSWORD, "autre-chose-2026-x", "password2"),
        ("", ENT_PASSWORD, "password1"),
    ],
)
def test_a_refused_password_is_said_next_to_its_field(client, ent_signup, password1, password2, field):
    response = client.post(
        reverse("socialaccount_signup"), _ent_data(ent_signup, password1=password1, password2=password2)
    )

    assert response.status_code == 200
    assert response.context["form"].errors[field]
    assert not User.objects.exists()


def test_a_password_like_the_students_name_is_refused(client, ent_signup):
    response = client.post(
        reverse("socialaccount_signup"),
        _ent_data(ent_signup, password1="estelle.etu@etudiant", password2="estelle.etu@etudiant"),
    )

    assert response.context["form"].errors["password1"]


def test_with_the_parameter_off_the_account_creation_asks_no_password(client, ent_signup, settings):
    settings.ENT_ACCOUNTS_PASSWORD = False

    html = client.get(reverse("socialaccount_signup")).content.decode()
    client.post(reverse("socialaccount_signup"), _ent_data(ent_signup, password1=ENT_PASSWORD, password2=ENT_PASSWORD))

    assert 'name="password1"' not in html
    assert not User.objects.get().has_usable_password()


def test_ent_never_auto_linked_to_existing_email_account(client, ent_signup, campaign):
    CandidateUserFactory(campaign=campaign, email=ent_signup["email"])
    data = {"last_name": "E", "first_name": "E", "email": ent_signup["email"], "email2": ent_signup["email"]}
    client.post(reverse("socialaccount_signup"), data)
    assert not SocialAccount.objects.exists()


# --- purge of accounts never validated ---


def test_purge_unvalidated_accounts(campaign, time_machine):
    stale = CandidateUserFactory(campaign=campaign, verified_email=False)
    fresh = CandidateUserFactory(campaign=campaign, verified_email=False)
    validated = CandidateUserFactory(campaign=campaign)
    User.objects.filter(pk__in=[stale.pk, validated.pk]).update(
        date_joined=timezone.now() - datetime.timedelta(days=6)
    )
    for account in (stale, validated):  # the helpdesk's history of both ("Comptes candidats", the users' admin)
        for model in (User, CandidateAccount):
            LogEntry.objects.create(
                user=StaffFactory(),
                content_type=ContentType.objects.get_for_model(model, for_concrete_model=False),
                object_id=str(account.pk),
                object_repr=account.username,
                action_flag=CHANGE,
                change_message=f"Lien de validation renvoyé à {account.email}",
            )
    assert purge_unvalidated_accounts(dry_run=True) == 1
    assert User.objects.filter(campaign=campaign).count() == 3
    assert LogEntry.objects.count() == 4
    assert purge_unvalidated_accounts() == 1
    assert set(User.objects.filter(campaign=campaign).values_list("pk", flat=True)) == {fresh.pk, validated.pk}
    assert set(LogEntry.objects.values_list("object_id", flat=True)) == {str(validated.pk)}  # the stale's went with it
    assert purge_unvalidated_accounts() == 0  # idempotent


def test_purge_command(campaign, capsys):
    stale = CandidateUserFactory(campaign=campaign, verified_email=False)
    User.objects.filter(pk=stale.pk).update(date_joined=timezone.now() - datetime.timedelta(days=6))
    call_command("purge_unvalidated_accounts", "--dry-run")
    assert "accounts to delete: 1" in capsys.readouterr().out
    call_command("purge_unvalidated_accounts")
    assert not User.objects.exists()


def test_the_ent_signup_stays_open_without_email_accounts(client, ent_signup, settings):
    settings.EMAIL_ACCOUNTS = False

    response = client.get(reverse("socialaccount_signup"))

    assert response.status_code == 200
    assert 'value="estelle.etu@etudiant.univ-perp.fr"' in response.content.decode()


@pytest.mark.parametrize(
    ("logged_in", "back_to", "queries"), [(False, "account_login", 3), (True, "account_change_password", 5)]
)
def test_cancelling_forgotten_credentials_goes_back_where_the_reader_came_from(
    client, candidate_user, logged_in, back_to, queries, django_assert_num_queries
):
    """A logged-in candidate reaches this page from « Mot de passe oublié ? » under the password change: « Annuler »
    brings them back there, not to the login page (which sent them on to their applications; found by the QA crawl,
    devtools/qa)."""
    if logged_in:
        client.force_login(candidate_user)
    with django_assert_num_queries(queries):
        response = client.get(reverse("account_reset_password"), language="fr")

    assert f'<a class="button" href="{reverse(back_to)}">Annuler</a>' in response.content.decode()
