"""An account of the campaign that holds the student's address without ever having validated it and without a
password keeps it at the ENT's « Création de compte » when it has a dossier: a paper dossier staff opened for the
candidate (``accounts.services.create_candidate_account``, then the dossier and its application). The dossier
(``Candidate``, which protects its account) keeps the account out of ``accounts.services.unvalidated_holder_of``:
nothing is deleted, not even tried, the student's account is not created, the same page as for any address already
used, its owner mailed (CPT_MIN_EXISTE). The other holders are tested in accounts/tests/test_ent_signup_squat.py
(accounts' tests cannot build a dossier)."""

import logging

import pytest
from allauth.account.models import EmailAddress
from allauth.socialaccount.models import SocialAccount
from django.contrib.admin.models import LogEntry
from django.urls import reverse

from accounts.models import User
from accounts.services import create_candidate_account, unvalidated_holder_of
from accounts.tests.ent import STUB_ENT, ent_providers, oidc_callback_state
from accounts.tests.factories import StaffFactory
from applications.models import Application, Candidate
from applications.tests.factories import CandidateFactory
from applications.tests.factories_candidature import ApplicationFactory
from ecandidat.models import OutboundEmail
from offers.tests.factories import FormationFactory

pytestmark = pytest.mark.django_db

INES = "ines.garcia@etudiant.univ-perp.fr"
CLAIMS = {
    "sub": "ines.garcia",
    "email": INES,
    "email_verified": True,
    "given_name": "Inès",
    "family_name": "GARCIA",
    "supannEtuId": "21900003",
}
ENT_SIGNUP = reverse("socialaccount_signup")
CALLBACK = reverse("ent_oidc_callback", args=["ent"])
SENT = reverse("account_email_verification_sent")
ENT_FORM = {"last_name": "GARCIA", "first_name": "Inès", "email": INES, "email2": INES}
# The ENT signup posted, the address held by an account with a dossier: as for a validated holder (accounts'
# QUERIES_VALIDATED: the form's check of the address, the holder looked up, which finds none, « compte existant »
# queued, the session). Were the dossier's account taken for an unvalidated holder, its deletion would be tried (a
# savepoint, its mails and history, Django's collection of its relations up to the protecting dossier) and undone,
# then the student's account tried and refused by the campaign's unique address: many more.
QUERIES_DOSSIER_HOLDER = 17


@pytest.fixture
def oidc_ent(settings):
    """The ENT over OpenID Connect at ``STUB_ENT`` (its answers stubbed by ``accounts.tests.ent.oidc_callback_state``),
    as accounts' tests configure it."""
    settings.ENT_PROTOCOL = "oidc"
    settings.ENT_SERVER_URL = STUB_ENT
    settings.SOCIALACCOUNT_PROVIDERS = ent_providers(STUB_ENT, client_id="ecandidat-univ", pkce=True)


@pytest.fixture
def paper_dossier(campaign):
    """The account staff created for Inès's paper application (no password, its address to validate, CPT_MIN_CREATE
    mailed, its history), with her dossier and an application."""
    staff = StaffFactory()
    holder = create_candidate_account(email=INES, first_name="Inès", last_name="Garcia", actor=staff)
    dossier = CandidateFactory(user=holder, first_name="Inès", birth_name="GARCIA")
    ApplicationFactory(candidate=dossier, formation=FormationFactory(), campaign=campaign)
    return holder


def _ent_return(client, mocker) -> None:
    """Inès logs in at the ENT (stubbed) for the first time: « Création de compte », pre-filled from the ENT."""
    state = oidc_callback_state(client, mocker, CLAIMS)
    response = client.get(CALLBACK, {"code": "c", "state": state})
    assert response.status_code == 302
    assert response.url == ENT_SIGNUP
    assert f'value="{INES}"' in client.get(ENT_SIGNUP).content.decode()


def _outbox() -> list[tuple[int, str, str]]:
    return list(OutboundEmail.objects.order_by("pk").values_list("pk", "code", "to"))


def test_an_unvalidated_password_less_account_with_a_dossier_keeps_the_address_the_ent_gave(
    client, oidc_ent, campaign, paper_dossier, mocker, caplog, django_assert_num_queries
):
    holder = paper_dossier
    # Everything else of an account that gives way: the campaign's, its address never validated, no password, never
    # logged in, no ENT identity, not staff; only its dossier protects it.
    assert holder.campaign == campaign
    assert not holder.has_usable_password()
    assert holder.last_login is None
    assert not EmailAddress.objects.get(user=holder).verified
    assert not SocialAccount.objects.exists()
    assert unvalidated_holder_of(email=INES, campaign=campaign) is None
    outbox_before = _outbox()
    assert [code for _, code, _ in outbox_before] == ["CPT_MIN_CREATE"]
    assert OutboundEmail.objects.get().about == holder
    history_before = list(LogEntry.objects.order_by("pk").values_list("pk", "object_id", "change_message"))
    assert [object_id for _, object_id, _ in history_before] == [str(holder.pk)]
    _ent_return(client, mocker)

    with (
        caplog.at_level(logging.WARNING, logger="accounts.services"),
        django_assert_num_queries(QUERIES_DOSSIER_HOLDER),
    ):
        response = client.post(ENT_SIGNUP, ENT_FORM)

    assert response.status_code == 302
    assert response.url == SENT  # the same page as for a free address: no enumeration
    # No deletion, not even tried and undone: the account, its address, its dossier, its application, its mail and
    # its history are all there, and the service logged nothing.
    assert list(User.objects.filter(campaign=campaign)) == [holder]
    assert list(EmailAddress.objects.filter(email=INES).values_list("user", "verified")) == [(holder.pk, False)]
    assert Candidate.objects.get().user == holder
    assert Application.objects.get().candidate.user == holder
    assert list(LogEntry.objects.order_by("pk").values_list("pk", "object_id", "change_message")) == history_before
    assert "unvalidated account" not in caplog.text
    # The student's account is not created, nor its ENT identity; the address's owner is mailed « compte existant ».
    assert not SocialAccount.objects.exists()
    (existe,) = _outbox()[len(outbox_before) :]
    assert _outbox() == [*outbox_before, existe]
    assert existe[1:] == ("CPT_MIN_EXISTE", INES)
