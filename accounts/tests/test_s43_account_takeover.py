"""Account takeovers closed in review s43.

1. An ENT account (no password) changes its e-mail address only after a login less than 5 minutes old, else it logs
   in through the ENT again (the rule of « Définir un mot de passe »): allauth's reauthentication lets an account
   without a password through.
2. A staff password alone never opens the back office: allauth's « connect » (add a third-party identity to the
   account logged in) is refused, and its « connections » pages answer 404, so nobody ties their own ENT identity to
   a staff account to log in with it as the second factor.
3. Addresses are stored as allauth looks them up (lower case): « J'ai oublié mes identifiants » finds an account whose
   address was changed to a mixed-case one.
4. The nightly purge of accounts never used counts from the latest address given or validation link mailed, not from
   the account's creation.
5. Logging in with an address: a candidate's unverified address (anyone may sign up with any address) no longer
   shadows the staff member who has it; the answers stay the same whichever account the address names.
"""

import datetime
import importlib
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from allauth.account.models import EmailAddress
from allauth.socialaccount.models import SocialAccount
from django.apps import apps as django_apps
from django.urls import reverse
from django.utils import timezone

from accounts import services
from accounts.models import PreviousEmailAddress, User
from accounts.tests.ent import ent_providers, oidc_callback_state
from accounts.tests.factories import CandidateUserFactory, StaffFactory, StaffMembershipFactory
from accounts.tests.personas import PASSWORD
from ecandidat.models import OutboundEmail

EMAIL_CHANGE = reverse("accounts:email_change")
ADMIN = reverse("admin:index")
LOGIN = reverse("account_login")
CALLBACK = "/accounts/oidc/ent/login/callback/"
FRENCH = {"language": "fr"}
NEW = "nouvelle.adresse@example.org"


# --- 1. An ENT account's address: a recent login, else the ENT again ---


@pytest.fixture
def ent_configured(settings):
    settings.ENT_SERVER_URL = "https://ent.example/identity/o"
    settings.SOCIALACCOUNT_PROVIDERS = ent_providers(settings.ENT_SERVER_URL)


def test_an_ent_account_logged_in_long_ago_logs_in_through_the_ent_again_before_changing_its_address(
    client, ent_student, ent_configured, time_machine, django_capture_on_commit_callbacks
):
    """Someone who finds an ENT session left open cannot move the account to their own address (then use « J'ai
    oublié mes identifiants » to give it a password of their own)."""
    old_email = ent_student.email
    client.force_login(ent_student)
    time_machine.move_to(timezone.now() + datetime.timedelta(minutes=6))

    page = client.get(EMAIL_CHANGE, **FRENCH).content.decode().replace("&#x27;", "'")
    with django_capture_on_commit_callbacks(execute=True):
        posted = client.post(EMAIL_CHANGE, {"email": NEW, "email2": NEW}, **FRENCH)

    assert "<h1>Modifier mon adresse mail</h1>" in page
    assert "reconnectez-vous par l'ENT" in page
    assert f'name="next" value="{EMAIL_CHANGE}"' in page
    assert 'name="email2"' not in page
    assert posted.status_code == 200
    assert 'name="email2"' not in posted.content.decode()
    ent_student.refresh_from_db()
    assert ent_student.email == old_email
    assert EmailAddress.objects.get(user=ent_student).verified
    assert not OutboundEmail.objects.exists()
    assert client.session["_auth_user_id"] == str(ent_student.pk)  # nothing done, not even the logout

    client.force_login(ent_student)  # the ENT login again (a new authentication record)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(EMAIL_CHANGE, {"email": NEW, "email2": NEW})
    assert response.url == reverse("accounts:email_change_done")
    ent_student.refresh_from_db()
    assert ent_student.email == NEW


def test_an_ent_account_just_logged_in_changes_its_address_at_once(
    client, ent_student, ent_configured, django_assert_num_queries
):
    client.force_login(ent_student)

    with django_assert_num_queries(4):  # session, account, the request's savepoint pair: the rule reads the session
        response = client.get(EMAIL_CHANGE)

    assert response.status_code == 200
    assert 'name="email2"' in response.content.decode()


def test_an_account_with_a_password_still_confirms_it(client, candidate_user, time_machine):
    client.post(LOGIN, {"login": candidate_user.username, "password": PASSWORD})
    time_machine.move_to(timezone.now() + datetime.timedelta(minutes=6))

    response = client.get(EMAIL_CHANGE)

    assert response.url.startswith(reverse("account_reauthenticate"))


# --- 2. No « connect »: a staff password alone never gets an ENT identity, nor the back office ---


@pytest.fixture
def password_staff(db, settings):
    """A centre manager with a password and no authenticator app yet, outside the directory (the ENT does not name
    them: ``preferred_username`` below is the intruder's own)."""
    settings.STAFF_MFA_REQUIRED = True
    return StaffMembershipFactory(user__username="gestionnaire").user


def _ent_claims(sub: str) -> dict:
    return {
        "sub": sub,
        "preferred_username": "intrus",
        "email": "intrus@etudiant.univ-perp.fr",
        "email_verified": True,
    }


def _connect_state(client, mocker, claims: dict) -> str:
    """allauth's OpenID Connect button with ``process=connect`` (add the identity to the account logged in), the ENT
    stubbed as ``ent.oidc_callback_state`` stubs it; the state to come back to the callback with."""
    oidc_callback_state(client, mocker, claims)  # the stubs (and a login state, unused)
    to_ent = client.post(reverse("openid_connect_login", args=["ent"]), {"process": "connect"})
    return parse_qs(urlsplit(to_ent["Location"]).query)["state"][0]


def test_connecting_an_ent_identity_to_a_staff_account_logged_in_with_its_password_is_refused(
    client, oidc_ent, password_staff, mocker
):
    client.post(f"{LOGIN}?next={ADMIN}", {"login": "gestionnaire", "password": PASSWORD})
    assert client.session["_auth_user_id"] == str(password_staff.pk)
    assert client.get(ADMIN).status_code == 302  # the password alone: no back office

    state = _connect_state(client, mocker, _ent_claims("intrus-42"))
    response = client.get(CALLBACK, {"code": "c", "state": state}, **FRENCH)

    assert response.status_code == 302
    assert not SocialAccount.objects.exists()
    assert client.session["_auth_user_id"] == str(password_staff.pk)  # the session as it was
    page = client.get(response.url, follow=True, **FRENCH)
    page = page.content.decode().replace("&#x27;", "'")
    assert "Il n'est pas possible de lier ici une identité ENT à un compte" in page
    assert client.get(ADMIN).status_code == 302  # still no second factor

    # The intruder's own ENT login then opens nothing of the staff member's.
    intruder = type(client)()
    state = oidc_callback_state(intruder, mocker, _ent_claims("intrus-42"))
    intruder.get(CALLBACK, {"code": "c", "state": state})
    assert intruder.session.get("_auth_user_id") != str(password_staff.pk)
    assert intruder.get(ADMIN).status_code == 302


def test_connecting_is_refused_for_a_candidate_too(client, oidc_ent, candidate_user, mocker):
    client.post(LOGIN, {"login": candidate_user.username, "password": PASSWORD})

    state = _connect_state(client, mocker, _ent_claims("quelquun-7"))
    response = client.get(CALLBACK, {"code": "c", "state": state})

    assert response.status_code == 302
    assert not SocialAccount.objects.exists()


@pytest.mark.parametrize("path", ["/accounts/3rdparty/", "/accounts/social/connections/"])
@pytest.mark.parametrize("persona", ["candidate_user", "centre_manager"])
def test_the_third_party_connections_pages_are_not_offered(client, request, path, persona, django_assert_num_queries):
    client.force_login(request.getfixturevalue(persona))

    with django_assert_num_queries(2):  # session, account (LoginRequiredMiddleware's), then the 404
        assert client.get(path).status_code == 404
    assert client.post(path, {"account": "1"}).status_code == 404


@pytest.mark.parametrize("path", ["/accounts/3rdparty/", "/accounts/social/connections/"])
def test_anonymous_visitors_go_to_the_login_as_for_any_account_page(client, db, path):
    response = client.get(path)

    assert response.status_code == 302
    assert response.url.startswith(LOGIN)


def test_the_other_third_party_pages_stay(client, candidate_user):
    """allauth's ENT signup and login error pages live under the same prefix."""
    client.force_login(candidate_user)

    assert client.get(reverse("socialaccount_login_error")).status_code == 401  # allauth's answer, not a 404


# --- 3. Addresses stored as allauth looks them up ---


@pytest.mark.parametrize("actor", ["candidate", "helpdesk"])
def test_a_mixed_case_address_is_stored_in_lower_case_and_the_forgotten_credentials_find_it(
    client, candidate_user, actor, mailoutbox, django_capture_on_commit_callbacks
):
    typed = "  Nouvelle.Adresse@Example.ORG "
    who = candidate_user if actor == "candidate" else StaffMembershipFactory(candidates_manager=True).user

    with django_capture_on_commit_callbacks(execute=True):
        assert services.change_email(user=candidate_user, new_email=typed, actor=who)

    candidate_user.refresh_from_db()
    address = EmailAddress.objects.get(user=candidate_user)
    assert (candidate_user.email, address.email) == (NEW, NEW)
    assert OutboundEmail.objects.get(code="CPT_MIN_MODIF_MAIL").to == NEW  # the former address gets its notice
    client.post(re.search(r"https?://\S+", mailoutbox[0].body).group(0))  # the validation link
    assert EmailAddress.objects.get(user=candidate_user).verified

    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("account_reset_password"), {"email": "Nouvelle.Adresse@example.org"})

    reset = OutboundEmail.objects.filter(code="CPT_MIN_ID_OUBLIE").get()
    assert reset.to == "nouvelle.adresse@example.org"


def test_the_same_address_in_other_capitals_is_still_refused_by_the_form(client, candidate_user):
    client.force_login(candidate_user)

    response = client.post(EMAIL_CHANGE, {"email": candidate_user.email.upper(), "email2": candidate_user.email})

    assert "This is already the e-mail address of your account." in response.content.decode()


def _lowercase_migration():
    return importlib.import_module("accounts.migrations.0015_lowercase_email_addresses")


def test_the_data_migration_lowers_the_addresses_stored_with_capitals(campaign):
    changed = CandidateUserFactory(campaign=campaign, email="Jean.Dupont@Example.org")
    EmailAddress.objects.filter(user=changed).update(email="Jean.Dupont@Example.org")
    staff = StaffFactory(email="Sophie.Gestion@Univ-Perp.fr")
    EmailAddress.objects.filter(user=staff).update(email="Sophie.Gestion@Univ-Perp.fr")
    # Two rows that would become one verified address: the second is left as it is (no constraint broken).
    first = CandidateUserFactory(campaign=campaign, email="double@example.org")
    twin = CandidateUserFactory(campaign=campaign, email="twin@example.org")
    EmailAddress.objects.filter(user=twin).update(email="DOUBLE@example.org")
    untouched = CandidateUserFactory(campaign=campaign)

    _lowercase_migration().lowercase_addresses(django_apps, None)

    changed.refresh_from_db()
    staff.refresh_from_db()
    assert changed.email == "jean.dupont@example.org"
    assert EmailAddress.objects.get(user=changed).email == "jean.dupont@example.org"
    assert staff.email == "Sophie.Gestion@Univ-Perp.fr"  # the directory's spelling, refreshed every night
    assert EmailAddress.objects.get(user=staff).email == "sophie.gestion@univ-perp.fr"
    assert EmailAddress.objects.get(user=first).email == "double@example.org"
    assert EmailAddress.objects.get(user=twin).email == "DOUBLE@example.org"
    assert EmailAddress.objects.get(user=untouched).email == untouched.email
    _lowercase_migration().lowercase_addresses(django_apps, None)  # idempotent


# --- 4. The purge counts from the latest address given or link mailed ---


def _joined_days_ago(user: User, days: int) -> None:
    User.objects.filter(pk=user.pk).update(date_joined=timezone.now() - datetime.timedelta(days=days))


def test_an_old_account_whose_address_the_helpdesk_corrects_keeps_its_five_days(
    campaign, time_machine, django_capture_on_commit_callbacks
):
    helpdesk = StaffMembershipFactory(candidates_manager=True).user
    with django_capture_on_commit_callbacks(execute=True):
        account = services.create_candidate_account(
            email="mal.tapee@example.org", first_name="Paul", last_name="Papier", actor=helpdesk
        )
    _joined_days_ago(account, 30)  # created by staff a month ago, never used

    with django_capture_on_commit_callbacks(execute=True):
        services.change_email(user=account, new_email="bonne.adresse@example.org", actor=helpdesk)

    assert services.purge_unvalidated_accounts() == 0  # the night after: the new link is valid 5 days
    time_machine.move_to(timezone.now() + datetime.timedelta(days=4))
    assert services.purge_unvalidated_accounts() == 0
    time_machine.move_to(timezone.now() + datetime.timedelta(days=2))
    assert services.purge_unvalidated_accounts() == 1
    assert not User.objects.filter(pk=account.pk).exists()


def test_a_link_sent_again_keeps_the_account_for_its_five_days(
    campaign, time_machine, django_capture_on_commit_callbacks
):
    account = CandidateUserFactory(campaign=campaign, verified_email=False)
    _joined_days_ago(account, 10)
    helpdesk = StaffMembershipFactory(candidates_manager=True).user

    with django_capture_on_commit_callbacks(execute=True):
        services.resend_email_validation(user=account, actor=helpdesk)

    assert services.purge_unvalidated_accounts() == 0
    time_machine.move_to(timezone.now() + datetime.timedelta(days=6))
    assert services.purge_unvalidated_accounts() == 1


def test_a_link_to_an_address_the_account_no_longer_has_does_not_keep_it(campaign):
    account = CandidateUserFactory(campaign=campaign, verified_email=False)
    _joined_days_ago(account, 10)
    OutboundEmail.objects.create(to="ancienne@example.org", code="CPT_MIN_MODIF_MAIL", language="fr", subject="s")
    OutboundEmail.objects.create(to=account.email, code="CPT_MIN_EXISTE", language="fr", subject="s")

    assert services.purge_unvalidated_accounts() == 1


def test_an_address_replaced_recently_keeps_the_account_even_without_its_mail(campaign):
    account = CandidateUserFactory(campaign=campaign, verified_email=False)
    _joined_days_ago(account, 10)
    PreviousEmailAddress.objects.create(user=account, email="ancienne@example.org")

    assert services.purge_unvalidated_accounts(dry_run=True) == 0
    PreviousEmailAddress.objects.update(replaced_at=timezone.now() - datetime.timedelta(days=6))
    assert services.purge_unvalidated_accounts(dry_run=True) == 1


# --- 5. Logging in with an address a stranger signed up with ---


@pytest.fixture
def staff_with_address(db, settings):
    settings.STAFF_MFA_REQUIRED = True
    return StaffFactory(username="sophie.gestion", email="sophie.gestion@univ-perp.fr")


def _error(response) -> str:
    return " ".join(str(error) for error in response.context["form"].non_field_errors())


def test_a_candidate_signed_up_with_a_staff_address_does_not_block_its_login(client, campaign, staff_with_address):
    CandidateUserFactory(campaign=campaign, email="Sophie.Gestion@univ-perp.fr", verified_email=False)

    response = client.post(LOGIN, {"login": "sophie.gestion@univ-perp.fr", "password": PASSWORD})

    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(staff_with_address.pk)


def test_a_verified_candidate_address_still_names_the_candidate(client, campaign, staff_with_address):
    EmailAddress.objects.filter(user=staff_with_address).update(verified=False)  # a staff row typed by hand
    candidate = CandidateUserFactory(campaign=campaign, email="sophie.gestion@univ-perp.fr")

    client.post(LOGIN, {"login": "sophie.gestion@univ-perp.fr", "password": PASSWORD})

    assert client.session["_auth_user_id"] == str(candidate.pk)


def test_an_unverified_candidate_alone_keeps_its_address(client, campaign, django_capture_on_commit_callbacks):
    candidate = CandidateUserFactory(campaign=campaign, email="seul@example.org", verified_email=False)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(LOGIN, {"login": "seul@example.org", "password": PASSWORD})

    assert response.url == reverse("account_email_verification_sent")  # its own account: validate the address
    assert OutboundEmail.objects.get().to == candidate.email


def test_the_answer_to_a_wrong_password_is_the_same_whoever_has_the_address(client, campaign, staff_with_address):
    """No oracle: a wrong password gets the same answer whether the address names the staff
    member (a stranger's unverified candidate account beside), a verified candidate, or nobody."""
    CandidateUserFactory(campaign=campaign, email="sophie.gestion@univ-perp.fr", verified_email=False)
    CandidateUserFactory(campaign=campaign, email="valide@example.org")
    answers = []
    for login in ("sophie.gestion@univ-perp.fr", "valide@example.org", "personne@example.org"):
        response = client.post(LOGIN, {"login": login, "password": "mauvais-mot-de-passe"})
        answers.append((response.status_code, _error(response)))

    assert answers[0] == answers[1] == answers[2]
    assert answers[0] == (200, "The user or the password is not correct.")
