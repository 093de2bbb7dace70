"""Staff reach the back office (/gestion/) with a password plus a TOTP code, or through the ENT (staff_access).

The flows go through the real pages (allauth's login, MFA and activation views); ``force_login(user, mfa=False)``
gives a session without a second factor. Pages are asserted in French, as staff see them.
"""

import re

import pytest
from allauth.account.internal.flows.login import record_authentication
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from allauth.socialaccount.models import SocialAccount
from django.test import RequestFactory
from django.urls import reverse
from playwright.sync_api import expect

from accounts.staff_enrolment import issue_enrolment_code
from accounts.tests.ent import ent_providers, ent_return
from accounts.tests.factories import StaffMembershipFactory
from accounts.tests.mfa import totp_code
from accounts.tests.personas import PASSWORD
from ecandidat.models import OutboundEmail
from ecandidat.tests.plugins.browser import assert_no_serious_axe_violations

ADMIN = "/gestion/"
ACTIVATE_MESSAGE = (
    "La gestion donne accès aux données personnelles des candidats : les comptes du personnel ont donc besoin "
    "d&#x27;un second facteur."
)


@pytest.fixture
def client(client):
    client.language = "fr"
    return client


@pytest.fixture
def staff_with_totp(centre_manager):
    """The centre manager, whose authenticator app is active (with its recovery codes); returns the app's secret."""
    secret = generate_totp_secret()
    TOTP.activate(centre_manager, secret)
    RecoveryCodes.activate(centre_manager)
    return secret


def _log_in_with_password(client, username="gestionnaire", password=PASSWORD):
    return client.post(f"{reverse('account_login')}?next={ADMIN}", {"login": username, "password": password})


def _secret_on_page(html: str) -> str:
    return re.search(r'id="authenticator_secret" value="([A-Z2-7=]+)"', html).group(1)


# --- Staff without an authenticator app ---


def _enrol_with_a_code(client, user):
    """The enrolment step (accounts.staff_enrolment, tested in test_staff_enrolment.py): a code of the central
    office, typed on the enrolment page, lets this session open the activation page."""
    central = StaffMembershipFactory(central=True).user
    code = issue_enrolment_code(user=user, actor=central)
    response = client.post(reverse("accounts:staff_enrolment"), {"action": "code", "code": code})
    assert response.url == reverse("mfa_activate_totp")


def test_staff_without_totp_is_sent_to_enrolment_with_the_reason(client, centre_manager, django_assert_num_queries):
    _log_in_with_password(client)

    # session, user, request savepoint and release, session save (3): the admin decides from the session alone
    with django_assert_num_queries(4):
        response = client.get(ADMIN)
    assert response.status_code == 302
    with django_assert_num_queries(5):  # the same, plus: is an authenticator app active?
        response = client.get(response.url)

    assert response.status_code == 302
    assert response.url == reverse("accounts:staff_enrolment")
    page = client.get(response.url).content.decode()
    assert ACTIVATE_MESSAGE in page
    assert "Confirmez votre compte du personnel" in page


def test_activation_page_shows_the_qr_code_and_a_labelled_field(client, centre_manager, django_assert_num_queries):
    _log_in_with_password(client)
    _enrol_with_a_code(client, centre_manager)

    # session, user, savepoint, e-mail verified?, app already active?, release, session save (3)
    with django_assert_num_queries(9):
        response = client.get(reverse("mfa_activate_totp"))

    html = response.content.decode()
    assert response.status_code == 200
    assert 'src="data:image/svg+xml;base64,' in html
    assert 'alt="QR code à scanner avec votre application d\'authentification"' in html
    assert '<label for="id_code">Code de l&#x27;authentificateur *</label>' in html
    assert 'autocomplete="one-time-code"' in html
    assert _secret_on_page(html)


@pytest.mark.django_db(transaction=True)  # the second factor is recorded on commit, as in production
def test_activation_with_a_real_code_opens_the_back_office(client, centre_manager):
    _log_in_with_password(client)
    _enrol_with_a_code(client, centre_manager)
    secret = _secret_on_page(client.get(reverse("mfa_activate_totp")).content.decode())

    wrong = client.post(reverse("mfa_activate_totp"), {"code": "000000" if totp_code(secret) != "000000" else "1"})
    assert wrong.status_code == 200
    assert "Code incorrect." in wrong.content.decode()
    assert client.get(ADMIN).status_code == 302

    response = client.post(reverse("mfa_activate_totp"), {"code": totp_code(secret)})

    assert response.status_code == 302
    assert response.url == reverse("mfa_view_recovery_codes")
    assert Authenticator.objects.filter(user=centre_manager, type=Authenticator.Type.TOTP).exists()
    codes_page = client.get(response.url).content.decode()
    assert "Codes de récupération" in codes_page
    assert f'href="{ADMIN}"' in codes_page
    assert client.get(ADMIN).status_code == 200


def test_recovery_codes_page_query_count(client, centre_manager, staff_with_totp, django_assert_num_queries):
    client.force_login(centre_manager)

    # session, user, savepoint, recovery codes (read, then allauth's bookkeeping update), release, session save (3)
    with django_assert_num_queries(6):
        response = client.get(reverse("mfa_view_recovery_codes"))

    assert response.status_code == 200
    assert response.content.decode().count("<li><code>") == 10


def test_mfa_index_page_query_count(client, centre_manager, staff_with_totp, django_assert_num_queries):
    client.force_login(centre_manager)

    # session, user, savepoint, authenticators, any active?, release, session save (3)
    with django_assert_num_queries(6):
        response = client.get(reverse("mfa_index"))

    html = response.content.decode()
    assert response.status_code == 200
    assert "Une application d'authentification protège votre compte." in html
    assert "10 codes de récupération restants." in html


# --- Staff with an authenticator app, logging in by password ---


def test_staff_with_totp_must_type_the_code(client, centre_manager, staff_with_totp, django_assert_num_queries):
    response = _log_in_with_password(client)

    assert response.status_code == 302
    assert response.url == reverse("mfa_authenticate")
    assert "_auth_user_id" not in client.session  # not logged in before the code
    # session, savepoint, the user of the login stage, app active?, release, session save (3)
    with django_assert_num_queries(8):
        page = client.get(response.url)
    assert page.status_code == 200
    assert "Authentification à deux facteurs" in page.content.decode()

    wrong = client.post(reverse("mfa_authenticate"), {"code": "123"})

    html = wrong.content.decode()
    assert wrong.status_code == 200
    assert "Code incorrect." in html
    assert 'aria-invalid="true"' in html
    assert 'aria-describedby="id_code_error"' in html
    assert '<ul class="errorlist" id="id_code_error"><li>Code incorrect.</li></ul>' in html
    assert "_auth_user_id" not in client.session

    response = client.post(reverse("mfa_authenticate"), {"code": totp_code(staff_with_totp)})

    assert response.status_code == 302
    assert response.url == ADMIN
    assert client.get(ADMIN).status_code == 200


def test_a_recovery_code_replaces_the_app_code_once(client, centre_manager, staff_with_totp):
    code = RecoveryCodes(Authenticator.objects.get(user=centre_manager, type="recovery_codes")).get_unused_codes()[0]
    _log_in_with_password(client)

    client.post(reverse("mfa_authenticate"), {"code": code})

    assert client.get(ADMIN).status_code == 200
    client.post(reverse("account_logout"))
    _log_in_with_password(client)
    assert "Code incorrect." in client.post(reverse("mfa_authenticate"), {"code": code}).content.decode()


def test_wrong_codes_are_rate_limited(client, centre_manager, staff_with_totp):
    _log_in_with_password(client)
    for _attempt in range(5):
        assert "Code incorrect." in client.post(reverse("mfa_authenticate"), {"code": "123"}).content.decode()

    response = client.post(reverse("mfa_authenticate"), {"code": totp_code(staff_with_totp)})

    assert "Trop de tentatives de connexion échouées. Réessayez plus tard." in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_session_without_second_factor_confirms_with_a_code(client, centre_manager, staff_with_totp):
    client.force_login(centre_manager, mfa=False)  # e.g. logged in while STAFF_MFA_REQUIRED was off

    response = client.get(ADMIN, follow=True)

    assert response.redirect_chain[-1][0] == f"{reverse('mfa_reauthenticate')}?next=%2Fgestion%2F"
    assert "Saisissez le code de votre application d&#x27;authentification pour accéder à la gestion." in (
        response.content.decode()
    )
    response = client.post(
        reverse("mfa_reauthenticate"), {"code": totp_code(staff_with_totp), "next": ADMIN}, follow=True
    )
    assert response.redirect_chain[-1][0] == ADMIN
    assert response.status_code == 200


def test_outside_next_url_falls_back_to_the_admin_index(client, centre_manager, staff_with_totp):
    client.force_login(centre_manager, mfa=False)

    response = client.get(f"{ADMIN}login/?next=https://evil.example/")

    assert response.url == f"{reverse('mfa_reauthenticate')}?next=%2Fgestion%2F"


# --- Staff through the ENT ---


def _log_in_through_the_ent(client, settings, user):
    """allauth's end of an ENT login (what the OpenID Connect callback calls once the ENT has answered): the staff
    member's ENT identity is already linked to their account."""
    settings.SOCIALACCOUNT_PROVIDERS = ent_providers("https://ent.example/identity/o")
    SocialAccount.objects.create(user=user, provider="ent", uid="ent-sub-staff")
    return ent_return(client, "ent-sub-staff", user.email)[1]


def test_staff_logged_in_through_the_ent_enters_without_totp(client, settings, centre_manager):
    response = _log_in_through_the_ent(client, settings, centre_manager)

    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(centre_manager.pk)
    assert not Authenticator.objects.filter(user=centre_manager).exists()
    assert client.get(ADMIN).status_code == 200


def test_another_provider_is_not_a_second_factor(client, centre_manager):
    client.force_login(centre_manager, mfa=False)
    session = client.session
    request = RequestFactory().get("/")
    request.session = session
    record_authentication(request, centre_manager, "socialaccount", provider="autre", uid="x")
    session.save()

    assert client.get(ADMIN).status_code == 302


# --- Candidates, and the setting off ---


def test_candidate_is_unaffected(client, candidate_user):
    response = client.post(reverse("account_login"), {"login": candidate_user.username, "password": PASSWORD})

    assert response.status_code == 302
    assert response.url == reverse("applications:start")  # no second-factor step
    assert client.get(reverse("home")).status_code == 200
    response = client.get(ADMIN, follow=True)
    assert response.status_code == 403  # the back office stays closed to candidates, as before
    assert all(reverse("mfa_activate_totp") not in url for url, _status in response.redirect_chain)


def test_setting_off_lets_staff_in_with_a_password_alone(client, settings, centre_manager):
    settings.STAFF_MFA_REQUIRED = False

    _log_in_with_password(client)

    assert client.get(ADMIN).status_code == 200


# --- Brute force on the admin login ---


def test_admin_login_form_is_allauths_rate_limited_one(client, centre_manager):
    response = client.post(f"{ADMIN}login/", {"username": "gestionnaire", "password": PASSWORD})
    assert response.status_code == 302
    assert response.url.startswith(reverse("account_login"))  # Django's own admin form never checks a password
    assert "_auth_user_id" not in client.session

    for _attempt in range(5):
        page = _log_in_with_password(client, password="mauvais-mot-de-passe")
        assert page.status_code == 200
        assert "_auth_user_id" not in client.session
    response = _log_in_with_password(client)

    assert "Trop de tentatives de connexion échouées. Réessayez plus tard." in response.content.decode()
    assert "_auth_user_id" not in client.session


# --- In the browser: the activation pages, with axe-core ---


@pytest.mark.browser
def test_first_staff_login_activates_the_app_in_the_browser(live_server, transactional_db, browser_page, centre):
    manager = StaffMembershipFactory(centre=centre, user__username="gestionnaire").user
    page = browser_page
    page.goto(f"{live_server.url}{ADMIN}")
    page.get_by_label("Utilisateur").fill("gestionnaire")
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Connexion", exact=True).click()

    page.get_by_role("heading", name="Confirmez votre compte du personnel").wait_for()
    assert "les comptes du personnel ont donc besoin d'un second facteur" in page.locator(".messages").inner_text()
    assert_no_serious_axe_violations(page)
    page.get_by_role("button", name="M'envoyer le lien").click()
    page.get_by_text("Un lien a été envoyé à votre adresse mail.").wait_for()
    body = OutboundEmail.objects.get(code="STAFF_ENROLMENT").body
    page.goto(f"{live_server.url}{re.search(r'/compte/gestion/activation/[^/\s]+/', body).group(0)}")
    page.get_by_role("button", name="Continuer").click()
    page.get_by_role("heading", name="Activer une application d'authentification").wait_for()
    assert_no_serious_axe_violations(page)
    secret = page.get_by_label("Clé secrète").input_value()
    page.get_by_label("Code de l'authentificateur").fill("000000" if totp_code(secret) != "000000" else "1")
    page.get_by_role("button", name="Activer").click()
    expect(page.get_by_label("Code de l'authentificateur")).to_have_accessible_description("Code incorrect.")
    assert_no_serious_axe_violations(page)
    page.get_by_label("Code de l'authentificateur").fill(totp_code(secret))
    page.get_by_role("button", name="Activer").click()

    page.get_by_role("heading", name="Codes de récupération").wait_for()
    assert page.locator(".recovery-codes li").count() == 10
    assert_no_serious_axe_violations(page)
    page.get_by_role("link", name="Aller à la gestion").click()
    page.get_by_role("heading", name="Gestion").wait_for()
    assert Authenticator.objects.filter(user=manager, type=Authenticator.Type.TOTP).exists()
