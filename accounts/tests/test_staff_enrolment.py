"""A staff member's first authenticator app needs an enrolment secret besides the password (accounts.staff_enrolment).

The attacker of these tests holds a staff password and nothing else: they log in through the real login page and
try every way to the activation page. Pages are asserted in French, as staff see them.
"""

import datetime
import re
from io import StringIO

import pytest
from allauth.account.internal.flows.login import record_authentication
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django.core.management import CommandError, call_command
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone, translation

from accounts.models import StaffEnrolmentToken
from accounts.staff_enrolment import issue_enrolment_code, mail_enrolment_link
from accounts.tests.factories import StaffMembershipFactory
from accounts.tests.mfa import totp_code
from accounts.tests.personas import PASSWORD
from ecandidat.exceptions import BusinessRuleError
from ecandidat.models import OutboundEmail

ADMIN = "/gestion/"
ENROLMENT = "/compte/gestion/activation/"
NEEDED = "Avant d&#x27;activer une application d&#x27;authentification, confirmez que ce compte du personnel"


@pytest.fixture
def client(client):
    client.language = "fr"
    return client


def _log_in_with_password(client, username="gestionnaire"):
    response = client.post(reverse("account_login"), {"login": username, "password": PASSWORD})
    assert response.status_code == 302
    assert "_auth_user_id" in client.session


def _link_of(email: OutboundEmail) -> str:
    return re.search(r"https?://[^/\s]+(/compte/gestion/activation/[^/\s]+/)", email.body).group(1)


def _activate_the_app(client):
    """What an authenticator app does: read the secret on the activation page, answer with its current code."""
    html = client.get(reverse("mfa_activate_totp")).content.decode()
    secret = re.search(r'id="authenticator_secret" value="([A-Z2-7=]+)"', html).group(1)
    return client.post(reverse("mfa_activate_totp"), {"code": totp_code(secret)})


# --- The password alone ---


def test_password_alone_cannot_open_the_activation_page(client, centre_manager, django_assert_num_queries):
    _log_in_with_password(client)

    # session, user, session save (3): the gate answers before the view's transaction, from the session alone
    with django_assert_num_queries(2):
        response = client.get(reverse("mfa_activate_totp"))

    assert response.status_code == 302
    assert response.url == ENROLMENT
    assert NEEDED in client.get(ENROLMENT).content.decode()


def test_password_alone_cannot_post_an_activation(client, centre_manager):
    _log_in_with_password(client)
    secret = generate_totp_secret()
    session = client.session
    session["mfa.totp.secret"] = secret  # even knowing the secret allauth would have offered
    session.save()

    response = client.post(reverse("mfa_activate_totp"), {"code": totp_code(secret)})

    assert response.url == ENROLMENT
    assert not Authenticator.objects.filter(user=centre_manager).exists()
    assert client.get(ADMIN).status_code == 302


def test_enrolment_page_offers_the_mail_and_the_code(client, centre_manager, django_assert_num_queries):
    _log_in_with_password(client)

    # session, user, savepoint, app active?, release, session save (3)
    with django_assert_num_queries(5):
        response = client.get(ENROLMENT)

    html = response.content.decode()
    assert response.status_code == 200
    assert "Confirmez votre compte du personnel" in html
    assert f"({centre_manager.email})" in html
    assert "M'envoyer le lien" in html
    assert '<label for="id_code">Code d&#x27;activation *</label>' in html


@pytest.mark.parametrize("persona", ["candidate_user", "other_candidate_user"])
def test_candidates_get_404_on_the_enrolment_pages(client, request, persona, django_assert_num_queries):
    client.force_login(request.getfixturevalue(persona))

    # session, user, savepoint, rollback to it, release, session save (3)
    with django_assert_num_queries(5):
        assert client.get(ENROLMENT).status_code == 404
    assert client.post(f"{ENROLMENT}abc/").status_code == 404


def test_anonymous_visitor_is_sent_to_the_login_page(client, db):
    response = client.get(ENROLMENT)

    assert response.status_code == 302
    assert response.url.startswith(reverse("account_login"))


def test_staff_with_an_app_has_nothing_to_enrol(client, centre_manager, django_assert_num_queries):
    TOTP.activate(centre_manager, generate_totp_secret())
    client.force_login(centre_manager, mfa=False)

    with django_assert_num_queries(5):  # session, user, savepoint, app active?, release, session save (3)
        response = client.get(ENROLMENT)

    assert response.url == reverse("mfa_index")


# --- The mailed link ---


@pytest.mark.django_db(transaction=True)  # the second factor is recorded on commit, as in production
def test_the_mailed_link_opens_the_activation_once(client, centre_manager, mailoutbox):
    _log_in_with_password(client)

    response = client.post(ENROLMENT, {"action": "mail"})

    assert response.url == ENROLMENT
    assert "Un lien a été envoyé à votre adresse mail." in client.get(ENROLMENT).content.decode()
    email = OutboundEmail.objects.get(code="STAFF_ENROLMENT")
    assert email.to == centre_manager.email
    assert email.subject == "Activez le second facteur de votre compte du personnel"
    assert [m.to for m in mailoutbox] == [[centre_manager.email]]
    link = _link_of(email)
    token = StaffEnrolmentToken.objects.get()
    assert (token.channel, token.issued_by, token.used_at) == ("MAIL", centre_manager, None)
    assert link.split("/")[-2] not in token.secret_hash  # stored hashed

    assert client.get(link).status_code == 200  # a mail scanner opening the link does not use it up
    response = client.post(link)

    assert response.url == reverse("mfa_activate_totp")
    token.refresh_from_db()
    assert token.used_at is not None
    assert token.used_from == "127.0.0.1"
    assert _activate_the_app(client).url == reverse("mfa_view_recovery_codes")
    assert client.get(ADMIN).status_code == 200
    assert "staff_enrolment_grant" not in client.session  # the grant served once

    client.post(reverse("account_logout"))
    Authenticator.objects.filter(user=centre_manager).delete()
    _log_in_with_password(client)
    response = client.post(link, follow=True)
    assert "Ce lien ou ce code d&#x27;activation a déjà été utilisé" in response.content.decode()
    assert client.get(reverse("mfa_activate_totp")).url == ENROLMENT


def test_an_expired_link_is_refused(client, centre_manager, time_machine):
    _log_in_with_password(client)
    client.post(ENROLMENT, {"action": "mail"})
    link = _link_of(OutboundEmail.objects.get(code="STAFF_ENROLMENT"))

    time_machine.move_to(timezone.now() + datetime.timedelta(minutes=61))
    _log_in_with_password(client)
    response = client.post(link, follow=True)

    assert "Ce lien ou ce code d&#x27;activation a expiré" in response.content.decode()
    assert StaffEnrolmentToken.objects.get().used_at is None
    assert client.get(reverse("mfa_activate_totp")).url == ENROLMENT


def test_the_link_of_another_staff_member_is_refused(client, centre_manager, other_centre_manager):
    token_link = None
    mail_enrolment_link(user=centre_manager, actor=centre_manager)
    token_link = _link_of(OutboundEmail.objects.get(code="STAFF_ENROLMENT"))
    _log_in_with_password(client, "autre.gestionnaire")

    response = client.post(token_link, follow=True)

    assert "Ce lien ou ce code d&#x27;activation n&#x27;est pas valide." in response.content.decode()
    assert StaffEnrolmentToken.objects.get().used_at is None


def test_links_asked_for_are_rate_limited(client, centre_manager):
    _log_in_with_password(client)
    for _attempt in range(3):
        client.post(ENROLMENT, {"action": "mail"})

    response = client.post(ENROLMENT, {"action": "mail"}, follow=True)

    assert "Un lien a déjà été envoyé plusieurs fois dans la dernière heure" in response.content.decode()
    assert OutboundEmail.objects.filter(code="STAFF_ENROLMENT").count() == 3


def test_a_grant_expires_with_time(client, centre_manager, time_machine):
    _log_in_with_password(client)
    client.post(ENROLMENT, {"action": "mail"})
    client.post(_link_of(OutboundEmail.objects.get(code="STAFF_ENROLMENT")))
    assert client.get(reverse("mfa_activate_totp")).status_code == 200

    time_machine.move_to(timezone.now() + datetime.timedelta(minutes=16))
    _log_in_with_password(client)

    assert client.get(reverse("mfa_activate_totp")).url == ENROLMENT


# --- The code of the central office ---


@pytest.mark.django_db(transaction=True)
def test_central_administrator_issues_a_code_that_opens_the_activation_once(
    client, centre_manager, admin_user, django_assert_num_queries
):
    client.force_login(admin_user)  # who manages the accounts in the admin's user list
    changelist = reverse("admin:accounts_user_changelist")

    # + the user's earlier links and codes expired (one UPDATE per account)
    with django_assert_num_queries(11):
        page = client.post(changelist, {"action": "issue_enrolment_codes", "_selected_action": [centre_manager.pk]})

    html = page.content.decode()
    assert page.status_code == 200
    code = re.search(r'<code class="enrolment-code">([A-Z0-9-]+)</code>', html).group(1)
    assert "ne sert qu'une fois et expire dans 3 jours" in html
    token = StaffEnrolmentToken.objects.get()
    assert (token.user, token.channel, token.issued_by) == (centre_manager, "CODE", admin_user)
    assert code.replace("-", "") not in token.secret_hash
    client.post(reverse("account_logout"))

    _log_in_with_password(client)
    wrong = client.post(ENROLMENT, {"action": "code", "code": "ABCD-EFGH-JKMN"})
    assert "Ce lien ou ce code d&#x27;activation n&#x27;est pas valide." in wrong.content.decode()
    response = client.post(ENROLMENT, {"action": "code", "code": f" {code.lower().replace('-', ' ')} "})

    assert response.url == reverse("mfa_activate_totp")
    token.refresh_from_db()
    assert token.used_at is not None
    _activate_the_app(client)
    assert client.get(ADMIN).status_code == 200

    client.post(reverse("account_logout"))
    Authenticator.objects.filter(user=centre_manager).delete()
    _log_in_with_password(client)
    reused = client.post(ENROLMENT, {"action": "code", "code": code})
    assert "Ce lien ou ce code d&#x27;activation a déjà été utilisé" in reused.content.decode()


def test_central_office_issues_a_code_from_the_tokens_page(
    client, centre_manager, central_manager, django_assert_num_queries
):
    client.force_login(central_manager)
    add = reverse("admin:accounts_staffenrolmenttoken_add")

    # session, user, savepoint, staff scope (read once: may issue?, then the admin menu), the menu's user and group
    # permissions, release, the staff list (rendered after the view), session save (3)
    with django_assert_num_queries(8):
        page = client.get(add)
    assert page.status_code == 200
    assert "Délivrer le code" in page.content.decode()
    response = client.post(add, {"user": centre_manager.pk})

    html = response.content.decode()
    assert response.status_code == 200
    code = re.search(r'<code class="enrolment-code">([A-Z0-9-]+)</code>', html).group(1)
    token = StaffEnrolmentToken.objects.get()
    assert (token.user, token.channel, token.issued_by) == (centre_manager, "CODE", central_manager)
    listing = client.get(reverse("admin:accounts_staffenrolmenttoken_changelist")).content.decode()
    assert "code délivré par la scolarité centrale" in listing
    assert code not in listing
    client.post(reverse("account_logout"))
    _log_in_with_password(client)
    assert client.post(ENROLMENT, {"action": "code", "code": code}).url == reverse("mfa_activate_totp")


def test_only_a_superuser_issues_a_code_for_a_superuser(client, central_manager, django_user_model):
    """A code lets its holder add the account's authenticator app: the central office would have taken over a
    superuser's account with it."""
    root = django_user_model.objects.create_superuser("root", "root@univ-perp.fr", PASSWORD)
    client.force_login(central_manager)
    add = reverse("admin:accounts_staffenrolmenttoken_add")

    offered = client.get(add).context["form"].fields["user"].queryset
    response = client.post(add, {"user": root.pk})

    assert root not in offered
    assert central_manager in offered
    assert response.status_code == 200
    assert "Sélectionnez un choix valide" in response.content.decode()
    assert not StaffEnrolmentToken.objects.exists()
    with translation.override("en"), pytest.raises(BusinessRuleError, match="Only a superuser issues an enrolment"):
        issue_enrolment_code(user=root, actor=central_manager)
    assert not StaffEnrolmentToken.objects.exists()

    # A superuser may, and so may the operator on the server (manage.py issue_enrolment_code).
    other_root = django_user_model.objects.create_superuser("root2", "root2@univ-perp.fr", PASSWORD)
    assert issue_enrolment_code(user=root, actor=other_root)
    assert issue_enrolment_code(user=root, actor=None)
    client.force_login(other_root)
    assert root in client.get(add).context["form"].fields["user"].queryset
    assert StaffEnrolmentToken.objects.filter(user=root).count() == 2


@pytest.mark.parametrize("persona", ["centre_manager", "other_centre_manager", "commission_member"])
def test_other_staff_cannot_issue_nor_read_codes(client, request, persona):
    client.force_login(request.getfixturevalue(persona))

    # A commission member writes none of the setup: the list and its add page, never offered, are not found for
    # them, as for an outsider; the managers keep Django's 403.
    refused = 404 if persona == "commission_member" else 403
    assert client.get(reverse("admin:accounts_staffenrolmenttoken_add")).status_code == refused
    assert client.get(reverse("admin:accounts_staffenrolmenttoken_changelist")).status_code == refused
    assert client.post(reverse("admin:accounts_staffenrolmenttoken_add"), {"user": 1}).status_code == refused
    assert not StaffEnrolmentToken.objects.exists()


def test_an_expired_code_is_refused(client, centre_manager, central_manager, time_machine):
    code = issue_enrolment_code(user=centre_manager, actor=central_manager)

    time_machine.move_to(timezone.now() + datetime.timedelta(days=3, minutes=1))
    _log_in_with_password(client)
    response = client.post(ENROLMENT, {"action": "code", "code": code})

    assert "Ce lien ou ce code d&#x27;activation a expiré" in response.content.decode()


def test_wrong_codes_are_rate_limited(client, centre_manager, central_manager):
    code = issue_enrolment_code(user=centre_manager, actor=central_manager)
    _log_in_with_password(client)
    for _attempt in range(5):
        client.post(ENROLMENT, {"action": "code", "code": "ABCD-EFGH-JKMN"})

    response = client.post(ENROLMENT, {"action": "code", "code": code})

    assert "Trop de tentatives. Réessayez plus tard." in response.content.decode()
    assert StaffEnrolmentToken.objects.get().used_at is None


def test_only_the_central_office_issues_codes(client, centre_manager, other_centre_manager, candidate_user):
    with pytest.raises(BusinessRuleError, match="Seule la scolarité centrale"):
        issue_enrolment_code(user=centre_manager, actor=other_centre_manager)
    central = StaffMembershipFactory(central=True).user
    with pytest.raises(BusinessRuleError, match="réservés aux comptes du personnel"):
        issue_enrolment_code(user=candidate_user, actor=central)
    assert not StaffEnrolmentToken.objects.exists()

    other_centre_manager.is_superuser = False
    client.force_login(other_centre_manager)
    response = client.get(reverse("admin:accounts_user_changelist"))
    assert "issue_enrolment_codes" not in response.content.decode()


# --- Who is not concerned ---


def test_staff_logged_in_through_the_ent_activates_without_enrolment(client, centre_manager):
    client.force_login(centre_manager, mfa=False)
    session = client.session
    request = RequestFactory().get("/")
    request.session = session
    record_authentication(request, centre_manager, "socialaccount", provider="ent", uid="ent-sub")
    session.save()

    assert client.get(reverse("mfa_activate_totp")).status_code == 200


def test_candidate_may_activate_an_app_without_enrolment(client, candidate_user):
    _log_in_with_password(client, candidate_user.username)

    assert client.get(reverse("mfa_activate_totp")).status_code == 200


def test_setting_off_needs_no_enrolment(client, settings, centre_manager):
    settings.STAFF_MFA_REQUIRED = False
    _log_in_with_password(client)

    assert client.get(reverse("mfa_activate_totp")).status_code == 200


# --- From the server (the first superuser) ---


def test_the_operator_issues_a_code_on_the_server_for_the_first_superuser(client, admin_user):
    out = StringIO()
    call_command("issue_enrolment_code", admin_user.username, stdout=out)

    code = out.getvalue().strip()
    token = StaffEnrolmentToken.objects.get()
    assert (token.user, token.channel, token.issued_by) == (admin_user, "CODE", None)
    client.force_login(admin_user, mfa=False)  # a password login: no second factor in the session
    assert client.post(ENROLMENT, {"action": "code", "code": code}).url == reverse("mfa_activate_totp")
    with pytest.raises(CommandError, match="No account 'nobody'"):
        call_command("issue_enrolment_code", "nobody")


def test_the_server_refuses_a_code_for_a_candidate(candidate_user):
    with pytest.raises(CommandError, match="réservés aux comptes du personnel"):
        call_command("issue_enrolment_code", candidate_user.username)


@pytest.mark.django_db(transaction=True)
def test_the_link_records_the_visitors_address_behind_nginx(client, centre_manager, settings):
    """Behind deploy/nginx.conf.example (``TRUSTED_PROXY_COUNT=1``) the address recorded with the link's use is the
    visitor's, the one nginx appends to X-Forwarded-For, not nginx's own 127.0.0.1."""
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = 1
    _log_in_with_password(client)
    client.post(ENROLMENT, {"action": "mail"})
    link = _link_of(OutboundEmail.objects.get(code="STAFF_ENROLMENT"))

    client.post(link, HTTP_X_FORWARDED_FOR="192.0.2.44")

    assert StaffEnrolmentToken.objects.get().used_from == "192.0.2.44"


def test_a_new_code_or_link_expires_the_earlier_ones(
    client, centre_manager, central_manager, django_assert_num_queries
):
    """Found by review: a code reissued because the first went to the wrong person left the first one working for
    its three days. Only the latest link or code works; the earlier rows stay as the record."""
    first = issue_enrolment_code(user=centre_manager, actor=central_manager)
    mail_enrolment_link(user=centre_manager, actor=central_manager)
    issue_enrolment_code(user=central_manager, actor=central_manager)  # another account's: untouched
    with django_assert_num_queries(2):  # the earlier ones expired, the new one created
        latest = issue_enrolment_code(user=centre_manager, actor=central_manager)

    assert StaffEnrolmentToken.objects.filter(user=centre_manager).count() == 3
    assert StaffEnrolmentToken.objects.usable().filter(user=centre_manager).count() == 1
    assert StaffEnrolmentToken.objects.usable().filter(user=central_manager).count() == 1
    _log_in_with_password(client)
    response = client.post(ENROLMENT, {"action": "code", "code": first})
    assert "Ce lien ou ce code d&#x27;activation a expiré" in response.content.decode()
    response = client.post(ENROLMENT, {"action": "code", "code": latest})
    assert response.url == reverse("mfa_activate_totp")


def test_the_enrolment_mail_is_in_the_institutions_language_whatever_the_page(centre_manager, central_manager):
    """Found by review: a staff member browsing in English got the security mail in English; staff mails are in the
    institution's language."""
    with translation.override("en"):
        mail_enrolment_link(user=centre_manager, actor=central_manager)

    email = OutboundEmail.objects.get(code="STAFF_ENROLMENT")
    assert (email.language, email.subject) == ("fr", "Activez le second facteur de votre compte du personnel")
