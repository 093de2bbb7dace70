"""ENT_CANDIDATE_LOGIN off (eCandidat CANDIDAT_IS_CONNECT_CAS): the candidates' pages no longer offer the ENT, an ENT
return of a candidate is refused with a French message on the login page, staff keep the ENT for the back office.
The CAS path against the development ENT is in test_cas_protocol; OpenID Connect against it is at the end."""

import datetime
import re
import time

import pytest
import requests
from allauth.socialaccount.models import SocialAccount
from django.contrib.admin.models import LogEntry
from django.urls import reverse

from accounts.models import User
from accounts.tests.ent import ent_providers, ent_return, oidc_login
from accounts.tests.factories import CandidateUserFactory, StaffFactory
from ecandidat.parameters import set_parameters
from offers.tests.factories import CampaignFactory

LOGIN = reverse("account_login")
ADMIN = reverse("admin:index")
FRENCH = {"language": "fr"}
REFUSED_FR = "Les candidats ne se connectent plus par l'ENT"
ENT_BUTTON = "Log in with the ENT"


@pytest.fixture
def ent_configured(settings):
    settings.ENT_SERVER_URL = "https://ent.example/identity/o"
    settings.SOCIALACCOUNT_PROVIDERS = ent_providers(settings.ENT_SERVER_URL, pkce=True)


@pytest.fixture
def ent_closed(ent_configured, settings):
    settings.ENT_CANDIDATE_LOGIN = False


def test_the_login_page_offers_the_ent_to_candidates_by_default(client, db, ent_configured):
    html = client.get(LOGIN).content.decode()

    assert ENT_BUTTON in html
    assert "I am not a student of" in html


def test_closed_the_login_page_has_no_ent_button_and_says_how_students_log_in(
    client, db, ent_closed, django_assert_num_queries
):
    with django_assert_num_queries(3):  # savepoint, site, release: the parameter comes from the memory
        response = client.get(LOGIN, **FRENCH)

    html = response.content.decode()
    assert "Se connecter avec l'ENT" not in html
    assert "J'ai un compte eCandidat" in html
    assert "Les étudiants de l'université aussi" in html


def test_closed_the_back_offices_login_still_offers_the_ent_to_staff(client, db, ent_closed):
    html = client.get(f"{LOGIN}?next={ADMIN}").content.decode()

    assert ENT_BUTTON in html
    assert f'value="{ADMIN}"' in html  # the ENT button carries the back office as its next page


def test_a_change_on_the_parameters_page_applies_at_once(
    client, admin_user, ent_configured, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        set_parameters(actor=admin_user, values={"ENT_CANDIDATE_LOGIN": False})

    assert ENT_BUTTON not in client.get(LOGIN).content.decode()


def test_the_admin_sends_staff_to_the_login_page_with_the_ent(client, db, ent_closed):
    response = client.get(ADMIN, follow=True)

    assert ENT_BUTTON in response.content.decode()


def test_closed_the_signup_choice_offers_no_ent(client, campaign, ent_closed, settings):
    html = client.get(reverse("signup_choice"), **FRENCH).content.decode()
    settings.EMAIL_ACCOUNTS = False
    neither = client.get(reverse("signup_choice"), **FRENCH).content.decode()

    assert "Se connecter avec l'ENT" not in html
    assert reverse("account_signup") in html
    assert "Aucun compte ne peut être créé ici pour le moment." in neither


# --- the ENT's return (OpenID Connect; allauth's flow as test_staff_mfa drives it) ---


def _ent_return(client, uid: str, email: str = "x@etudiant.univ-perp.fr"):
    """The return of the ENT for identity ``uid``, as allauth's OpenID Connect callback completes it."""
    return ent_return(client, uid, email, claims={"email": email})


def test_closed_a_known_students_ent_return_is_refused_with_a_message(client, campaign, ent_closed):
    student = CandidateUserFactory(campaign=campaign)
    SocialAccount.objects.create(user=student, provider="ent", uid="lucas.bernard")

    request, response = _ent_return(client, "lucas.bernard")

    assert response.status_code == 302
    assert response.url == LOGIN
    assert "_auth_user_id" not in request.session
    (message,) = [str(m) for m in request._messages]
    assert message.startswith(REFUSED_FR)  # the site's language, French
    assert "« J'ai oublié mes identifiants »" in message


def test_closed_a_new_students_ent_return_creates_nothing(client, campaign, ent_closed):
    request, response = _ent_return(client, "estelle.martin")

    assert response.url == LOGIN
    assert "socialaccount_sociallogin" not in request.session  # no "Création de compte" pending
    assert not SocialAccount.objects.exists()
    assert not User.objects.exists()


def test_closed_staff_still_log_in_through_the_ent(client, db, ent_closed):
    staff = StaffFactory(username="sophie.gestion")
    SocialAccount.objects.create(user=staff, provider="ent", uid="sophie.gestion")

    request, response = _ent_return(client, "sophie.gestion")

    assert response.status_code == 302
    assert request.session["_auth_user_id"] == str(staff.pk)


def test_open_a_known_student_logs_in_through_the_ent(client, campaign, ent_configured):
    student = CandidateUserFactory(campaign=campaign)
    SocialAccount.objects.create(user=student, provider="ent", uid="lucas.bernard")

    request, _response = _ent_return(client, "lucas.bernard")

    assert request.session["_auth_user_id"] == str(student.pk)


def test_open_a_student_of_a_past_campaign_creates_this_campaigns_account_through_the_ent(
    client, campaign, ent_configured, django_capture_on_commit_callbacks
):
    """Accounts are annual: last year's ENT student is offered « Création de compte » for the active campaign (it
    used to say « créez un nouveau compte » and send every ENT login back to last year's account); the new account
    takes the ENT identity over, last year's keeps its dossier and says so in its history."""
    past = CampaignFactory(code="C2025", archive_on=campaign.starts_on)
    email = "lucas.bernard@etudiant.univ-perp.fr"
    old = CandidateUserFactory(campaign=past, is_active=False, email=email)
    SocialAccount.objects.create(user=old, provider="ent", uid="lucas.bernard")

    request, response = _ent_return(client, "lucas.bernard", email)

    assert response.status_code == 302
    assert response.url == reverse("socialaccount_signup")
    assert "_auth_user_id" not in request.session
    assert SocialAccount.objects.get(uid="lucas.bernard").user == old  # nothing changed until the account is saved
    data = {"last_name": "Bernard", "first_name": "Lucas", "email": email, "email2": email}
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("socialaccount_signup"), data, **FRENCH)

    assert response.status_code == 302
    new = User.objects.get(campaign=campaign)
    assert new.username != old.username
    assert SocialAccount.objects.get(uid="lucas.bernard").user == new
    old.refresh_from_db()
    assert old.campaign == past
    (entry,) = LogEntry.objects.filter(object_id=str(old.pk))
    assert entry.user == new
    assert entry.change_message == (
        f"Identité ENT lucas.bernard reprise par le compte {new.username} de la campagne {campaign.code}"
    )


def test_open_a_student_of_a_past_campaign_is_told_when_this_one_opens(client, ent_configured, db):
    """Between the archiving and the opening to candidates, the ENT login says when to come back."""
    active = CampaignFactory(is_active=True, starts_on=datetime.date.today() + datetime.timedelta(days=3))
    past = CampaignFactory(code="C2025", starts_on=active.starts_on - datetime.timedelta(days=365))
    old = CandidateUserFactory(campaign=past, is_active=False)
    SocialAccount.objects.create(user=old, provider="ent", uid="lucas.bernard")

    request, response = _ent_return(client, "lucas.bernard")

    assert "_auth_user_id" not in request.session
    assert "revenez à cette date pour créer votre compte" in response.content.decode()
    assert SocialAccount.objects.get(uid="lucas.bernard").user == old


def test_closed_an_account_creation_left_open_is_refused(client, campaign, ent_configured, settings):
    _ent_return(client, "estelle.martin")  # still open: the "Création de compte" form is pending
    settings.ENT_CANDIDATE_LOGIN = False

    response = client.post(
        reverse("socialaccount_signup"),
        {"last_name": "M", "first_name": "E", "email": "e@etudiant.fr", "email2": "e@etudiant.fr"},
        **FRENCH,
    )

    assert response.status_code == 200
    assert REFUSED_FR in response.content.decode().replace("&#x27;", "'")
    assert not User.objects.exists()


def test_closed_a_student_without_a_password_gets_one_by_the_forgotten_credentials_link(
    client, campaign, ent_closed, mailoutbox, django_capture_on_commit_callbacks
):
    """The way in the message names: « J'ai oublié mes identifiants » mails an ENT account a link too."""
    student = CandidateUserFactory(campaign=campaign, email="lucas.bernard@etudiant.univ-perp.fr")
    student.set_unusable_password()
    student.save()

    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("account_reset_password"), {"email": student.email})

    assert len(mailoutbox) == 1
    assert "/accounts/password/reset/key/" in mailoutbox[0].body


# --- OpenID Connect over real sockets: the live server against the development ENT process ---


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_oidc_closed_a_student_is_refused_and_staff_get_in(oidc_app, campaign, settings):
    settings.ENT_CANDIDATE_LOGIN = False
    student = CandidateUserFactory(campaign=campaign, email="lucas.bernard@etudiant.univ-perp.fr")
    SocialAccount.objects.create(user=student, provider="ent", uid="lucas.bernard")
    staff = StaffFactory(username="sophie.gestion")
    SocialAccount.objects.create(user=staff, provider="ent", uid="sophie.gestion")

    refused = oidc_login(oidc_app, "lucas.bernard")
    staff_in = oidc_login(oidc_app, "sophie.gestion", next_url=ADMIN)

    assert refused.status_code == 200
    assert refused.url == f"{oidc_app}{LOGIN}"
    assert REFUSED_FR in refused.text.replace("&#x27;", "'")
    assert "Se connecter avec l'ENT" not in refused.text.replace("&#x27;", "'")
    assert staff_in.status_code == 200
    assert staff_in.url == f"{oidc_app}{ADMIN}"


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_oidc_a_stale_session_logs_in_through_the_ent_again_and_comes_back_to_set_a_password(
    oidc_app, campaign, settings
):
    """« Définir un mot de passe » after more than ACCOUNT_REAUTHENTICATION_TIMEOUT (3 seconds here): the ENT button
    of the page logs the student in again (the ENT remembers them: no form) and brings them back to it."""
    settings.ACCOUNT_REAUTHENTICATION_TIMEOUT = 3
    student = CandidateUserFactory(campaign=campaign, email="lucas.bernard@etudiant.univ-perp.fr")
    student.set_unusable_password()
    student.save()
    SocialAccount.objects.create(user=student, provider="ent", uid="lucas.bernard")
    session = requests.Session()
    oidc_login(oidc_app, "lucas.bernard", session=session)
    page = f"{oidc_app}{reverse('accounts:password_set')}"
    time.sleep(3.2)

    stale = session.get(page, timeout=10)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', stale.text).group(1)
    back = session.post(
        f"{oidc_app}/accounts/oidc/ent/login/",
        data={"csrfmiddlewaretoken": token, "next": reverse("accounts:password_set")},
        headers={"Referer": page},
        timeout=10,
    )

    assert 'name="password1"' not in stale.text
    assert back.url == page
    assert 'name="password1"' in back.text
