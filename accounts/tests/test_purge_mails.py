"""The purge of accounts never validated (``accounts.services.purge_unvalidated_accounts``) takes their mails with
them, as the full deletion does: the signup mail, often to a mistyped address (someone else's), names the person and
their dossier number, and the outbox keeps it ``OUTBOX_RETENTION_DAYS``."""

import datetime

import pytest
from allauth.account.models import EmailAddress
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse
from django.utils import timezone

from accounts import services
from accounts.models import User
from accounts.tests.factories import CandidateUserFactory, StaffFactory, StaffMembershipFactory
from ecandidat.emails import enqueue_email
from ecandidat.models import OutboundEmail
from offers.tests.factories import CampaignFactory

pytestmark = pytest.mark.django_db


def _sign_up(client, address: str) -> User:
    data = {"last_name": "Dupont", "first_name": "Marie", "email": address, "email2": address}
    response = client.post(reverse("account_signup"), data)
    assert response.status_code == 302
    return User.objects.get(email=address, campaign__is_active=True)


def _mail(to: str) -> OutboundEmail:
    return enqueue_email(
        to=to, code="X", template_base="accounts/email/generic", context={"subject": "S", "body": "B"}
    )


def _history(row, title: str) -> LogEntry:
    return LogEntry.objects.create(
        user=StaffFactory(),
        content_type=ContentType.objects.get_for_model(row),
        object_id=str(row.pk),
        object_repr=title,
        action_flag=CHANGE,
        change_message="Renvoyé",
    )


def _past_the_purge_delay(time_machine) -> None:
    time_machine.move_to(timezone.now() + datetime.timedelta(days=6))


def test_the_signup_mail_goes_with_the_account_and_its_history(client, campaign, time_machine):
    user = _sign_up(client, "mal.tapee@example.org")
    signup_mail = OutboundEmail.objects.get(code="CPT_MIN_CREATE")
    assert user.username in signup_mail.body
    _history(signup_mail, f"CPT_MIN_CREATE → {user.email}")  # the outbox's « resend »
    _history(EmailAddress.objects.get(user=user), user.email)  # allauth's « Adresses e-mail »
    someone_else = _mail("autre@example.org")
    kept = _history(someone_else, "X → autre@example.org")
    _past_the_purge_delay(time_machine)

    assert services.purge_unvalidated_accounts() == 1

    assert not User.objects.filter(pk=user.pk).exists()
    assert not OutboundEmail.objects.filter(to__iexact=user.email).exists()
    assert not OutboundEmail.objects.filter(body__contains=user.username).exists()
    assert list(OutboundEmail.objects.all()) == [someone_else]
    assert set(LogEntry.objects.values_list("pk", flat=True)) == {kept.pk}


def test_the_signup_mail_goes_although_last_years_account_uses_the_address(client, campaign, time_machine):
    """The address cannot tell this account's mails from those of last year's account at the same address (which
    stay): the signup mail is about the account (``OutboundEmail.about``) and goes with it."""
    address = "marie.dupont@example.org"
    CandidateUserFactory(email=address, campaign=CampaignFactory(code="C2025", is_active=False))
    last_years = _mail(address)
    user = _sign_up(client, address)
    _past_the_purge_delay(time_machine)

    assert services.purge_unvalidated_accounts() == 1

    assert not OutboundEmail.objects.filter(body__contains=user.username).exists()
    assert list(OutboundEmail.objects.all()) == [last_years]


def test_the_mails_of_an_account_the_purge_keeps_stay(campaign, time_machine):
    """A validated account of the campaign is not purged: its mails stay."""
    validated = CandidateUserFactory(campaign=campaign)
    User.objects.filter(pk=validated.pk).update(date_joined=timezone.now() - datetime.timedelta(days=10))
    mail = _mail(validated.email)

    assert services.purge_unvalidated_accounts() == 0

    assert list(OutboundEmail.objects.all()) == [mail]


def test_the_mail_of_an_account_staff_created_goes_too(campaign, time_machine):
    """« Créer le compte d'un candidat »: its CPT_MIN_CREATE, with the dossier number, is about the account."""
    address = "marie.dupont@example.org"
    CandidateUserFactory(email=address, campaign=CampaignFactory(code="C2025", is_active=False))
    helpdesk = StaffMembershipFactory(candidates_manager=True).user
    user = services.create_candidate_account(email=address, first_name="Marie", last_name="Dupont", actor=helpdesk)
    assert OutboundEmail.objects.filter(body__contains=user.username).exists()
    _past_the_purge_delay(time_machine)

    assert services.purge_unvalidated_accounts() == 1

    assert not OutboundEmail.objects.filter(body__contains=user.username).exists()
