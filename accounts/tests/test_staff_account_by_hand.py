"""A staff account typed by hand in the back office (the only way without a directory, ``LDAP_URL`` empty) opens the
back office at its owner's first login: the address the central office typed is recorded as the account's verified,
primary address (``accounts.services.record_staff_address``, the directory's rule), so no candidate's validation link
(CPT_MIN_MODIF_MAIL) is mailed and the login does not stop on /accounts/confirm-email/. A changed address replaces
the one verified before; a candidate's account saved in the back office still waits for its owner's validation."""

import re

import pytest
from allauth.account.models import EmailAddress
from django.contrib.admin.models import CHANGE, LogEntry
from django.urls import reverse
from django.utils import timezone

from accounts.models import StaffMembership, StaffRole, User
from accounts.services import VALIDATION_MAIL_CODES
from accounts.tests.factories import CandidateUserFactory, StaffFactory
from accounts.tests.mfa import Client, totp_code
from ecandidat.models import OutboundEmail

pytestmark = pytest.mark.django_db

ADMIN = "/gestion/"
ENROLMENT = "/compte/gestion/activation/"
USER_ADD = reverse("admin:accounts_user_add")
MEMBERSHIP_ADD = reverse("admin:accounts_staffmembership_add")
NEW_PASSWORD = "Revue-gestion-2026!"


def _change_page(user: User) -> str:
    return reverse("admin:accounts_user_change", args=[user.pk])


def _change_data(user: User, **changes) -> dict:
    """The account's page as it is posted: its fields as they stand, with ``changes``."""
    joined = timezone.localtime(user.date_joined)
    data = {
        "username": user.username,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "date_joined_0": joined.strftime("%d/%m/%Y"),
        "date_joined_1": joined.strftime("%H:%M:%S"),
        "campaign": user.campaign_id or "",
        "student_number": user.student_number,
        "is_active": "on",
    }
    if user.is_staff:
        data["is_staff"] = "on"
    data.update(changes)
    return {name: value for name, value in data.items() if value is not None}


def _addresses(user: User) -> list[tuple[str, bool, bool]]:
    return list(EmailAddress.objects.filter(user=user).values_list("email", "verified", "primary"))


def _validation_mails() -> list[str]:
    return list(OutboundEmail.objects.filter(code__in=VALIDATION_MAIL_CODES).values_list("code", flat=True))


def _type_the_staff_account_by_hand(client, django_assert_num_queries, centre) -> User:
    """What the central office does without a directory: « Ajouter utilisateur », then the account's page (address,
    « Statut équipe »), then « Ajouter rôle du personnel »."""
    # session, user, three savepoints and their releases, the username's uniqueness (as typed, then case aside), the
    # insert, the content type and the history line: nothing about an address yet (the account is not staff)
    with django_assert_num_queries(13):
        response = client.post(
            USER_ADD,
            {
                "username": "gest.revue",
                "usable_password": "true",
                "password1": NEW_PASSWORD,
                "password2": NEW_PASSWORD,
            },
        )
    assert response.status_code == 302
    user = User.objects.get(username="gest.revue")
    assert response.url == _change_page(user)
    assert (user.is_staff, user.campaign_id, _addresses(user)) == (False, None, [])

    # session, user, the savepoints, the account, its groups and permissions, the username's uniqueness, the update,
    # its groups and permissions again, Django's history line; the address: the account's rows (none), whether
    # another account verified it, the insert, its history line
    with django_assert_num_queries(20):
        response = client.post(
            _change_page(user), _change_data(user, email="Gest.Revue@univ-perp.fr", is_staff="on"), language="fr"
        )
    assert response.status_code == 302
    assert response.url == reverse("admin:accounts_user_changelist")

    response = client.post(
        MEMBERSHIP_ADD, {"user": user.pk, "role": "CTR", "centre": centre.pk, "all_commissions": "on"}
    )
    assert response.status_code == 302
    assert StaffMembership.objects.filter(user=user, role=StaffRole.CENTRE_MANAGER, centre=centre).exists()
    return user


def _log_in(username: str) -> tuple[Client, object]:
    owner = Client()
    owner.language = "fr"
    response = owner.post(f"{reverse('account_login')}?next={ADMIN}", {"login": username, "password": NEW_PASSWORD})
    return owner, response


@pytest.mark.parametrize(
    "second_factor",
    [
        pytest.param(False, id="password"),
        # allauth sends authenticator_added on commit, as in production, before the session is saved
        pytest.param(True, id="password-and-app", marks=pytest.mark.django_db(transaction=True)),
    ],
)
def test_a_staff_account_typed_by_hand_opens_the_back_office_without_a_mailed_link(
    admin_client,
    admin_user,
    centre,
    settings,
    second_factor,
    django_assert_num_queries,
):
    settings.LDAP_URL = ""  # no directory: the back office is the only way to create the account
    settings.STAFF_MFA_REQUIRED = second_factor
    user = _type_the_staff_account_by_hand(admin_client, django_assert_num_queries, centre)

    assert _addresses(user) == [("gest.revue@univ-perp.fr", True, True)]
    line = LogEntry.objects.get(object_id=str(user.pk), action_flag=CHANGE, change_message__startswith="Adresse")
    assert (line.user, line.change_message) == (
        admin_user,
        "Adresse gest.revue@univ-perp.fr enregistrée comme l'adresse vérifiée du compte.",
    )

    if second_factor:  # the central office hands over an enrolment code (no mailed link either)
        page = admin_client.post(
            reverse("admin:accounts_user_changelist"),
            {"action": "issue_enrolment_codes", "_selected_action": [user.pk]},
        )
        code = re.search(r'<code class="enrolment-code">([A-Z0-9-]+)</code>', page.content.decode()).group(1)

    owner, response = _log_in("gest.revue")

    assert response.status_code == 302
    assert response.url == ADMIN  # not /accounts/confirm-email/
    if second_factor:
        assert owner.get(ADMIN).status_code == 302  # the app first
        assert owner.post(ENROLMENT, {"action": "code", "code": code}).url == reverse("mfa_activate_totp")
        html = owner.get(reverse("mfa_activate_totp")).content.decode()
        secret = re.search(r'id="authenticator_secret" value="([A-Z2-7=]+)"', html).group(1)
        owner.post(reverse("mfa_activate_totp"), {"code": totp_code(secret)})
    assert owner.get(ADMIN).status_code == 200
    assert owner.session["_auth_user_id"] == str(user.pk)
    assert _validation_mails() == []


def test_a_staff_address_changed_in_the_back_office_replaces_the_verified_one(
    admin_client, admin_user, django_assert_num_queries
):
    staff = StaffFactory(username="gest.ancien", email="ancien@univ-perp.fr", password=NEW_PASSWORD)
    staff.refresh_from_db()
    assert _addresses(staff) == [("ancien@univ-perp.fr", True, True)]
    admin_client.get(_change_page(staff))

    # as for a new account (20), + the old address deleted: the rows to delete read, their confirmations, the row
    with django_assert_num_queries(23):
        response = admin_client.post(_change_page(staff), _change_data(staff, email="nouveau@univ-perp.fr"))

    assert response.status_code == 302
    assert _addresses(staff) == [("nouveau@univ-perp.fr", True, True)]  # the old address no longer verified
    owner, response = _log_in("nouveau@univ-perp.fr")
    assert response.url == ADMIN
    assert _validation_mails() == []

    # Saved again unchanged: nothing more to record (the account's rows read, no write, no history line)
    lines = LogEntry.objects.filter(object_id=str(staff.pk)).count()
    staff.refresh_from_db()
    admin_client.post(_change_page(staff), _change_data(staff))
    assert _addresses(staff) == [("nouveau@univ-perp.fr", True, True)]
    assert LogEntry.objects.filter(object_id=str(staff.pk)).count() == lines + 1  # Django's « Aucun champ modifié »


def test_an_address_another_account_verified_is_left_to_confirm(admin_client, admin_user):
    StaffFactory(username="titulaire", email="partagee@univ-perp.fr")
    staff = StaffFactory(username="gest.second", email="second@univ-perp.fr")

    admin_client.post(_change_page(staff), _change_data(staff, email="partagee@univ-perp.fr"))

    assert _addresses(staff) == [("partagee@univ-perp.fr", False, True)]
    line = LogEntry.objects.get(object_id=str(staff.pk), action_flag=CHANGE, change_message__startswith="Adresse")
    assert (line.user, line.change_message) == (
        admin_user,
        "Adresse partagee@univ-perp.fr à confirmer par mail : un autre compte l'a déjà vérifiée.",
    )

    # Saved again for another field: the address is where it was, and the history says nothing more about it.
    staff.refresh_from_db()
    admin_client.post(_change_page(staff), _change_data(staff, first_name="Claire"))

    assert _addresses(staff) == [("partagee@univ-perp.fr", False, True)]
    assert LogEntry.objects.filter(object_id=str(staff.pk), change_message__startswith="Adresse").count() == 1


def test_a_candidate_account_saved_in_the_back_office_still_waits_for_its_owner(
    admin_client, campaign, django_assert_num_queries
):
    candidate = CandidateUserFactory(email="candidat@example.org", verified_email=False)
    admin_client.get(_change_page(candidate))

    # Django's save alone (the campaign's choice and the address's uniqueness in it): no query about allauth's rows
    with django_assert_num_queries(19):
        response = admin_client.post(_change_page(candidate), _change_data(candidate, email="autre@example.org"))

    assert response.status_code == 302
    assert not EmailAddress.objects.filter(user=candidate, verified=True).exists()
    assert not EmailAddress.objects.filter(email="autre@example.org").exists()
