"""ENT students with a password of their own (ENT_ACCOUNTS_PASSWORD, eCandidat CANDIDAT_IS_MDP_CONNECT_CAS):
"Définir un mot de passe" from the menu (allauth's set-password page in the site's layout), then the normal login
form, the ENT down or not. The choice at the account creation is tested with the ENT signup (test_views_login)."""

import datetime
import re

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation

from accounts import services
from accounts.tests.ent import ent_providers
from accounts.tests.factories import StaffFactory
from ecandidat.exceptions import BusinessRuleError
from ecandidat.models import OutboundEmail
from ecandidat.parameters import set_parameters

PAGE = reverse("accounts:password_set")
NEW = "un-nouveau-mot-de-passe-2026"
FRENCH = {"language": "fr"}


def test_an_english_reader_reads_the_dossier_number_in_english(client, ent_student, django_assert_num_queries):
    client.force_login(ent_student)

    with django_assert_num_queries(4):  # session, account, the request's savepoint pair
        html = client.get(PAGE).content.decode()  # the accounts tests' client reads English

    assert f"Your dossier number: <strong>{ent_student.username}</strong>." in html
    assert "numéro de dossier" not in html


def test_the_menu_offers_an_ent_student_to_set_a_password(client, ent_student):
    client.force_login(ent_student)

    response = client.get(PAGE, **FRENCH)

    html = response.content.decode()
    assert response.status_code == 200
    assert "<h1>Définir un mot de passe</h1>" in html
    assert f'href="{PAGE}"' in html  # the menu's link
    assert ent_student.username in html  # the numéro de dossier to log in with
    assert 'autocomplete="new-password"' in html
    assert reverse("account_change_password") not in html


def test_the_page_query_count(client, ent_student, django_assert_num_queries):
    client.force_login(ent_student)
    client.get(PAGE)  # the parameters' memory filled

    with django_assert_num_queries(4):  # session, account, the request's savepoint pair
        client.get(PAGE)


def test_setting_a_password_keeps_this_session_and_records_who(client, ent_student, django_assert_num_queries):
    client.force_login(ent_student)
    client.get(PAGE)

    # session, account, savepoint; the service's savepoint, the account locked, the password, the history's content
    # type and row, release; the session kept with the new hash: a new key (exists? savepoint, insert, release), the
    # old one read and deleted; release; the session saved (savepoint, update, release)
    with django_assert_num_queries(19):
        response = client.post(PAGE, {"password1": NEW, "password2": NEW}, **FRENCH)

    assert response.status_code == 302
    ent_student.refresh_from_db()
    assert ent_student.check_password(NEW)
    entry = LogEntry.objects.get(object_id=str(ent_student.pk))
    assert (entry.user, entry.action_flag) == (ent_student, CHANGE)
    assert "ENT" in entry.get_change_message()
    assert client.get(reverse("accounts:email_change")).status_code == 200  # still logged in
    html = client.get(reverse("home")).content.decode()
    assert reverse("account_change_password") in html  # now "Modifier mon mot de passe"
    assert f'href="{PAGE}"' not in html


@pytest.mark.parametrize("login", ["username", "email"])
def test_then_the_login_form_logs_the_student_in_without_the_ent(client, ent_student, settings, login):
    settings.ENT_SERVER_URL = ""  # the ENT is not even configured: the form alone
    services.set_candidate_password(user=ent_student, password=NEW, actor=ent_student)

    response = client.post(reverse("account_login"), {"login": getattr(ent_student, login), "password": NEW})

    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(ent_student.pk)


def test_a_weak_password_is_said_next_to_the_field_and_nothing_changes(client, ent_student):
    client.force_login(ent_student)

    response = client.post(PAGE, {"password1": "court", "password2": "court"}, **FRENCH)

    assert response.status_code == 200
    assert response.context["form"].errors["password1"]
    assert 'id="error-summary"' in response.content.decode()
    ent_student.refresh_from_db()
    assert not ent_student.has_usable_password()
    assert not LogEntry.objects.exists()


def test_two_different_passwords_are_refused(client, ent_student):
    client.force_login(ent_student)

    response = client.post(PAGE, {"password1": NEW, "password2": NEW + "x"})

    assert response.context["form"].errors["password2"]
    ent_student.refresh_from_db()
    assert not ent_student.has_usable_password()


def test_the_attempts_are_rate_limited(client, ent_student):
    """allauth's "change_password" limit (5 a minute per account) covers this page too."""
    client.force_login(ent_student)
    for _attempt in range(5):
        assert client.post(PAGE, {"password1": "court", "password2": "court"}).status_code == 200

    assert client.post(PAGE, {"password1": NEW, "password2": NEW}).status_code == 429
    ent_student.refresh_from_db()
    assert not ent_student.has_usable_password()


@pytest.mark.parametrize("method", ["get", "post"])
def test_with_the_parameter_off_there_is_no_page_nor_link(client, ent_student, settings, method):
    settings.ENT_ACCOUNTS_PASSWORD = False
    client.force_login(ent_student)

    response = getattr(client, method)(PAGE, {"password1": NEW, "password2": NEW} if method == "post" else None)

    assert response.status_code == 404
    assert f'href="{PAGE}"' not in client.get(reverse("home")).content.decode()
    ent_student.refresh_from_db()
    assert not ent_student.has_usable_password()


def test_a_password_already_set_keeps_working_when_the_parameter_goes_off(
    client, ent_student, admin_user, django_capture_on_commit_callbacks
):
    services.set_candidate_password(user=ent_student, password=NEW, actor=ent_student)
    with django_capture_on_commit_callbacks(execute=True):
        set_parameters(actor=admin_user, values={"ENT_ACCOUNTS_PASSWORD": False})

    client.post(reverse("account_login"), {"login": ent_student.username, "password": NEW})

    assert client.session["_auth_user_id"] == str(ent_student.pk)


def test_staff_get_a_404(client, db):
    staff = StaffFactory()
    staff.set_unusable_password()
    staff.save()
    client.force_login(staff)

    assert client.get(PAGE).status_code == 404


def test_an_account_with_a_password_is_sent_to_change_it(client, candidate_user):
    client.force_login(candidate_user)

    response = client.get(PAGE)

    assert response.status_code == 302
    assert response.url == reverse("account_change_password")


def test_anonymous_goes_to_the_login(client, db):
    response = client.get(PAGE)

    assert response.status_code == 302
    assert response.url.startswith(reverse("account_login"))


def test_allauths_own_address_leads_here(client, ent_student):
    client.force_login(ent_student)

    response = client.get("/accounts/password/set/")

    assert response.status_code == 302
    assert response.url == PAGE


# --- the service ---


def test_the_service_refuses_staff_an_existing_password_and_the_parameter_off(ent_student, candidate_user, settings):
    staff = StaffFactory()
    staff.set_unusable_password()
    staff.save()
    with pytest.raises(BusinessRuleError):
        services.set_candidate_password(user=staff, password=NEW, actor=staff)
    with pytest.raises(BusinessRuleError):
        services.set_candidate_password(user=candidate_user, password=NEW, actor=candidate_user)
    settings.ENT_ACCOUNTS_PASSWORD = False
    with pytest.raises(BusinessRuleError):
        services.set_candidate_password(user=ent_student, password=NEW, actor=ent_student)
    ent_student.refresh_from_db()
    assert not ent_student.has_usable_password()
    assert not LogEntry.objects.exists()


def test_may_set_password(ent_student, candidate_user, settings):
    assert services.may_set_password(ent_student)
    assert not services.may_set_password(candidate_user)
    settings.ENT_ACCOUNTS_PASSWORD = False
    assert not services.may_set_password(ent_student)


def test_setting_a_password_keeps_this_session_and_ends_the_others(client, ent_student):
    """As « Modifier mon mot de passe »: the account's other sessions (another browser, another device) end."""
    other_device = Client()
    other_device.force_login(ent_student)
    client.force_login(ent_student)

    client.post(PAGE, {"password1": NEW, "password2": NEW})

    assert client.get(reverse("accounts:email_change")).status_code == 200
    assert other_device.get(reverse("accounts:email_change")).status_code == 302


def test_a_login_older_than_five_minutes_logs_in_through_the_ent_again_first(
    client, ent_student, settings, time_machine
):
    """Someone who finds a session left open cannot give the account a password of their own."""
    settings.ENT_SERVER_URL = "https://ent.example/identity/o"
    settings.SOCIALACCOUNT_PROVIDERS = ent_providers(settings.ENT_SERVER_URL)
    client.force_login(ent_student)
    time_machine.move_to(timezone.now() + datetime.timedelta(minutes=6))

    page = client.get(PAGE, **FRENCH).content.decode()
    client.post(PAGE, {"password1": NEW, "password2": NEW})

    page = page.replace("&#x27;", "'")
    assert "reconnectez-vous par l'ENT" in page
    assert f'name="next" value="{PAGE}"' in page
    assert "Se connecter avec l'ENT" in page
    assert 'name="password1"' not in page
    ent_student.refresh_from_db()
    assert not ent_student.has_usable_password()
    client.force_login(ent_student)  # the ENT login again (a new authentication record)
    assert 'name="password1"' in client.get(PAGE).content.decode()


# --- « J'ai oublié mes identifiants » (allauth's password reset) and the parameter ---

RESET = reverse("account_reset_password")
INVALID_LINK = "expired or has already been used"


def _ask_for_credentials(client, email, capture):
    with capture(execute=True):
        return client.post(RESET, {"email": email}, follow=True)


def _reset_link(body: str) -> str | None:
    match = re.search(r"https?://\S+/accounts/password/reset/key/\S+", body)
    return match.group(0) if match else None


def test_parameter_off_an_ent_account_is_mailed_the_way_in_not_a_link(
    client, ent_student, settings, mailoutbox, django_capture_on_commit_callbacks
):
    settings.ENT_ACCOUNTS_PASSWORD = False

    page = _ask_for_credentials(client, ent_student.email, django_capture_on_commit_callbacks)

    assert "If an account uses this address" in page.content.decode()  # the page any address gets
    assert OutboundEmail.objects.get().code == "CPT_MIN_ID_OUBLIE_ENT"
    body = mailoutbox[0].body
    assert _reset_link(body) is None
    assert "/accounts/password/reset/" not in body
    assert "Log in to eCandidat with your ENT credentials" in body
    assert f"{settings.SITE_URL}{reverse('account_login')}" in body
    assert ent_student.username in body


def _without_csrf_token(response) -> str:
    return re.sub(r'csrfmiddlewaretoken" value="[^"]+"', "", response.content.decode())


def test_parameter_off_the_page_is_the_same_as_for_an_unknown_address(
    client, ent_student, settings, django_capture_on_commit_callbacks
):
    """No enumeration: what the sender sees does not tell an ENT account from an unknown address."""
    settings.ENT_ACCOUNTS_PASSWORD = False

    known = _ask_for_credentials(client, ent_student.email, django_capture_on_commit_callbacks)
    unknown = _ask_for_credentials(client, "personne@example.org", django_capture_on_commit_callbacks)

    assert known.redirect_chain == unknown.redirect_chain
    assert _without_csrf_token(known) == _without_csrf_token(unknown)


def test_parameter_off_the_request_query_count(
    client, ent_student, settings, django_assert_num_queries, django_capture_on_commit_callbacks
):
    settings.ENT_ACCOUNTS_PASSWORD = False
    client.get(RESET)  # the parameters' memory filled

    # savepoint, site; the rate limit; the address's accounts (allauth); the campaign (annual accounts), the ENT
    # identity; the mail's template override, the outbox row; release
    with django_assert_num_queries(9), django_capture_on_commit_callbacks(execute=False):
        response = client.post(RESET, {"email": ent_student.email})

    assert response.status_code == 302


def test_parameter_off_a_link_mailed_while_it_was_on_no_longer_works(
    client, ent_student, settings, mailoutbox, django_capture_on_commit_callbacks
):
    _ask_for_credentials(client, ent_student.email, django_capture_on_commit_callbacks)
    link = _reset_link(mailoutbox[0].body)
    assert link is not None
    form_page = client.get(link).url  # the key moves to the session; the form's address
    settings.ENT_ACCOUNTS_PASSWORD = False

    opened = client.get(link, follow=True)
    posted = client.post(form_page, {"password1": NEW, "password2": NEW})

    assert INVALID_LINK in opened.content.decode()
    assert INVALID_LINK in posted.content.decode()
    ent_student.refresh_from_db()
    assert not ent_student.has_usable_password()


def test_parameter_on_the_link_gives_an_ent_account_its_password(
    client, ent_student, mailoutbox, django_capture_on_commit_callbacks
):
    _ask_for_credentials(client, ent_student.email, django_capture_on_commit_callbacks)

    link = _reset_link(mailoutbox[0].body)
    response = client.post(client.get(link).url, {"password1": NEW, "password2": NEW})

    assert OutboundEmail.objects.get().code == "CPT_MIN_ID_OUBLIE"
    assert response.status_code == 302
    ent_student.refresh_from_db()
    assert ent_student.check_password(NEW)


def test_parameter_off_but_the_ent_closed_to_candidates_the_link_is_the_only_way_in(
    client, ent_student, settings, mailoutbox, django_capture_on_commit_callbacks
):
    """ENT_CANDIDATE_LOGIN off: the ENT no longer logs candidates in, so refusing the link would lock them out."""
    settings.ENT_ACCOUNTS_PASSWORD = False
    settings.ENT_CANDIDATE_LOGIN = False
    _ask_for_credentials(client, ent_student.email, django_capture_on_commit_callbacks)

    link = _reset_link(mailoutbox[0].body)
    client.post(client.get(link).url, {"password1": NEW, "password2": NEW})

    ent_student.refresh_from_db()
    assert ent_student.check_password(NEW)


def test_parameter_off_an_e_mail_account_still_gets_its_link(
    client, candidate_user, settings, mailoutbox, django_capture_on_commit_callbacks
):
    settings.ENT_ACCOUNTS_PASSWORD = False

    _ask_for_credentials(client, candidate_user.email, django_capture_on_commit_callbacks)

    assert _reset_link(mailoutbox[0].body) is not None


def test_may_reset_password(ent_student, candidate_user, settings):
    assert services.may_reset_password(ent_student)
    settings.ENT_ACCOUNTS_PASSWORD = False
    assert not services.may_reset_password(ent_student)
    assert services.may_reset_password(candidate_user)
    settings.ENT_CANDIDATE_LOGIN = False
    assert services.may_reset_password(ent_student)
    ent_student.is_active = False
    assert not services.may_reset_password(ent_student)


def test_the_history_is_in_the_institutions_language_whatever_the_candidates(ent_student):
    """A candidate browsing in English wrote "Password chosen…" into the back office's history."""
    translation.activate("en")

    services.set_candidate_password(user=ent_student, password=NEW, actor=ent_student)

    entry = LogEntry.objects.get(object_id=str(ent_student.pk))
    assert entry.change_message == "Mot de passe choisi (compte créé par l'ENT)"
