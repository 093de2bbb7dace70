"""A stranger's e-mail signup with a student's predictable university address no longer blocks the student's ENT
account: at « Création de compte », the address the ENT gave, held in the campaign only by an account that never
validated it and has no password, gives way (``accounts.forms.SocialSignupForm``, ``services.unvalidated_holder_of``).
That account is deleted as the purge deletes one (its mails and history with it), the new account's history says so.
Only when the ENT vouches for the address (``email_verified`` true, as the CAS path always says): an address an
OpenID Connect ENT passes on unverified (a profile its user filled in) takes nothing from anyone. A validated account,
or one with a password, keeps its address as before: the same page, its owner mailed; the e-mail signup is unchanged.

Through the views: the stranger's e-mail signup, then the student's ENT return over OpenID Connect (the ENT stubbed,
``ent.oidc_callback_state``) and « Création de compte »; at the end, the same against the development ENT."""

import logging
import re

import pytest
import requests
from allauth.account.models import EmailAddress
from allauth.socialaccount.models import SocialAccount
from django.contrib.admin.models import LogEntry
from django.test import Client
from django.urls import reverse

from accounts.models import NumeroDossierHistory, User
from accounts.tests.ent import cas_return, oidc_callback_state, oidc_login
from accounts.tests.factories import CandidateUserFactory, StaffFactory
from ecandidat.models import OutboundEmail, StaffDirectoryChange

INES = "ines.garcia@etudiant.univ-perp.fr"
CLAIMS = {
    "sub": "ines.garcia",
    "email": INES,
    "email_verified": True,
    "given_name": "Inès",
    "family_name": "GARCIA",
    "supannEtuId": "21900003",
}
SIGNUP = reverse("account_signup")
ENT_SIGNUP = reverse("socialaccount_signup")
CALLBACK = reverse("ent_oidc_callback", args=["ent"])
SENT = reverse("account_email_verification_sent")
FRENCH = {"language": "fr"}
ENT_FORM = {"last_name": "GARCIA", "first_name": "Inès", "email": INES, "email2": INES}
HISTORY_FR = (
    "Adresse {email} reprise au compte {numero}, supprimé : l'adresse n'y a jamais été validée et le compte "
    "n'avait pas de mot de passe"
)
# The ENT signup posted, the address free (unchanged by the fix): the session, savepoints, the campaign checked, the
# form's check of the address, the numéro drawn, the account, its ENT identity, its address, the validation mail
# queued, the session saved.
QUERIES_FREE = 29
# The address held by a stranger's unvalidated account: as QUERIES_FREE, and the holder looked up (1) and deleted as
# the purge deletes an account (``services._delete_accounts``: a savepoint, its mails and their history, its history,
# then Django's deletion of the row, which reads every relation to an account: 64 in all), and the new account's
# history line (1). Only on this path, which the stranger's signup opens.
QUERIES_SQUATTED = 95
# The address held by a validated account: as before the fix (16), and the holder looked up (1), which finds none.
QUERIES_VALIDATED = 17
# The address held by a stranger's unvalidated account, but the ENT does not vouch for it: as before the fix, the
# holder not even looked up.
QUERIES_UNVERIFIED = 16


def _stranger_signs_up(email: str = INES) -> User:
    """The stranger's e-mail signup (« Eve Squat ») with the student's address: the usual « check your mail »."""
    data = {"last_name": "Squat", "first_name": "Eve", "email": email, "email2": email}
    response = Client().post(SIGNUP, data)
    assert response.status_code == 302
    assert response.url == SENT
    return User.objects.get(email=email)


def _ent_return(client, mocker, claims: dict = CLAIMS) -> None:
    """Inès logs in at the ENT (stubbed) for the first time: « Création de compte », pre-filled from the ENT."""
    state = oidc_callback_state(client, mocker, claims)
    response = client.get(CALLBACK, {"code": "c", "state": state})
    assert response.status_code == 302
    assert response.url == ENT_SIGNUP
    page = client.get(ENT_SIGNUP).content.decode()
    assert f'value="{INES}"' in page
    assert 'value="GARCIA"' in page


def _outbox() -> list[tuple[str, str]]:
    return list(OutboundEmail.objects.order_by("pk").values_list("code", "to"))


def test_a_strangers_unvalidated_account_gives_way_to_the_students_ent_account(
    client, oidc_ent, campaign, mocker, caplog, django_assert_num_queries
):
    squatter = _stranger_signs_up()
    assert _outbox() == [("CPT_MIN_CREATE", INES)]
    _ent_return(client, mocker)

    with caplog.at_level(logging.WARNING, logger="accounts.services"), django_assert_num_queries(QUERIES_SQUATTED):
        response = client.post(ENT_SIGNUP, ENT_FORM, **FRENCH)

    assert response.status_code == 302
    assert response.url == SENT
    (student,) = User.objects.filter(campaign=campaign)
    assert student.pk != squatter.pk
    assert (student.first_name, student.last_name, student.email) == ("Inès", "GARCIA", INES)
    assert student.student_number == "21900003"
    assert SocialAccount.objects.get(provider="ent", uid="ines.garcia").user == student
    assert not EmailAddress.objects.get(user=student).verified  # validated by mail, as every ENT account
    assert not User.objects.filter(pk=squatter.pk).exists()
    assert NumeroDossierHistory.objects.filter(numero=squatter.username).exists()  # never issued again
    # The stranger's mail went with its account; the student's validation mail is the only one, no « compte existant ».
    assert _outbox() == [("CPT_MIN_CREATE", INES)]
    assert OutboundEmail.objects.get().about == student
    assert "CPT_MIN_EXISTE" not in {row.code for row in OutboundEmail.objects.all()}
    (entry,) = LogEntry.objects.filter(object_id=str(student.pk))
    assert entry.user == student
    assert entry.change_message == HISTORY_FR.format(email=INES, numero=squatter.username)
    assert not LogEntry.objects.filter(object_id=str(squatter.pk)).exists()
    assert f"unvalidated account {squatter.pk} ({squatter.username}) deleted" in caplog.text
    assert "ines.garcia" in caplog.text

    # The link of the mail validates the student's address: the ENT account is usable.
    link = re.search(r"https?://\S+", OutboundEmail.objects.get().body).group(0)
    client.post(link)
    assert EmailAddress.objects.get(user=student).verified


def _without_email_verified() -> dict:
    return {name: value for name, value in CLAIMS.items() if name != "email_verified"}


@pytest.mark.parametrize(
    "claims",
    [
        pytest.param({**CLAIMS, "email_verified": False}, id="email_verified-false"),
        pytest.param(_without_email_verified(), id="email_verified-missing"),
        pytest.param({**CLAIMS, "email_verified": "false"}, id="email_verified-the-text-false"),
    ],
)
def test_an_address_the_ent_does_not_vouch_for_takes_nothing_from_a_strangers_account(
    client, oidc_ent, campaign, mocker, django_assert_num_queries, claims
):
    """An OpenID Connect ENT that lets its users put any address in their profile passes it on unverified: whoever
    typed someone else's address there must not delete that person's pending e-mail signup and take the address.
    As before the fix: the same page, the address's owner mailed, nothing deleted, no account created."""
    owner = _stranger_signs_up()
    _ent_return(client, mocker, claims)

    with django_assert_num_queries(QUERIES_UNVERIFIED):
        response = client.post(ENT_SIGNUP, ENT_FORM, **FRENCH)

    assert response.status_code == 302
    assert response.url == SENT  # the same page: no enumeration
    assert list(User.objects.filter(campaign=campaign)) == [owner]
    assert EmailAddress.objects.get(user=owner).email == INES
    assert not SocialAccount.objects.exists()
    assert not LogEntry.objects.exists()
    assert _outbox() == [("CPT_MIN_CREATE", INES), ("CPT_MIN_EXISTE", INES)]


def test_over_cas_the_directory_address_gives_way_as_well(client, cas_ent, campaign):
    """The CAS path always vouches for the directory's address (``accounts.cas.claims_from_attributes``)."""
    squatter = _stranger_signs_up()
    attributes = {"mail": [INES], "givenName": ["Inès"], "sn": ["GARCIA"], "supannEtuId": ["21900003"]}
    cas_ent.return_value = ("ines.garcia", attributes, None)
    response = client.get(reverse("accounts:cas_callback"), cas_return(client, "ST-1"))
    assert response.url == ENT_SIGNUP

    response = client.post(ENT_SIGNUP, ENT_FORM)

    assert response.url == SENT
    (student,) = User.objects.filter(campaign=campaign)
    assert student.pk != squatter.pk
    assert SocialAccount.objects.get(provider="ent", uid="ines.garcia").user == student
    assert _outbox() == [("CPT_MIN_CREATE", INES)]
    assert not User.objects.filter(pk=squatter.pk).exists()
    (entry,) = LogEntry.objects.filter(object_id=str(student.pk))
    assert entry.change_message == HISTORY_FR.format(email=INES, numero=squatter.username)


def test_without_a_holder_the_ent_account_creation_costs_what_it_did(
    client, oidc_ent, campaign, mocker, django_assert_num_queries
):
    _ent_return(client, mocker)

    with django_assert_num_queries(QUERIES_FREE):
        response = client.post(ENT_SIGNUP, ENT_FORM)

    assert response.url == SENT
    assert SocialAccount.objects.get(uid="ines.garcia").user.email == INES
    assert not LogEntry.objects.exists()


def test_an_unvalidated_account_another_row_protects_keeps_its_address_nothing_half_written(
    client, oidc_ent, campaign, mocker, caplog
):
    """A row still protects the holder (as a purge keeps it): nothing of the deletion nor of the new account stays,
    and the creation takes the path of an address already used (the same page, « compte existant » to the address)."""
    squatter = _stranger_signs_up()
    StaffDirectoryChange.objects.create(user=squatter, kind=StaffDirectoryChange.Kind.REFRESHED, batch="test")
    _ent_return(client, mocker)

    with caplog.at_level(logging.WARNING, logger="accounts.services"):
        response = client.post(ENT_SIGNUP, ENT_FORM)

    assert response.status_code == 302
    assert response.url == SENT
    assert list(User.objects.filter(campaign=campaign)) == [squatter]
    assert EmailAddress.objects.get(user=squatter).email == INES
    assert not SocialAccount.objects.exists()
    assert not LogEntry.objects.exists()
    assert _outbox() == [("CPT_MIN_CREATE", INES), ("CPT_MIN_EXISTE", INES)]
    assert f"unvalidated account {squatter.pk} kept for ENT identity ines.garcia" in caplog.text


def test_a_validated_account_keeps_its_address_and_its_owner_is_mailed(
    client, oidc_ent, campaign, mocker, django_assert_num_queries
):
    owner = CandidateUserFactory(campaign=campaign, email=INES)
    _ent_return(client, mocker)

    with django_assert_num_queries(QUERIES_VALIDATED):
        response = client.post(ENT_SIGNUP, ENT_FORM)

    assert response.status_code == 302
    assert response.url == SENT  # the same page: no enumeration
    assert list(User.objects.filter(campaign=campaign)) == [owner]
    assert not SocialAccount.objects.exists()
    assert _outbox() == [("CPT_MIN_EXISTE", INES)]


def test_an_unvalidated_account_with_a_password_keeps_its_address(client, oidc_ent, campaign, mocker):
    """Its owner chose a password through « J'ai oublié mes identifiants »: not an account nobody can use."""
    holder = CandidateUserFactory(campaign=campaign, email=INES, verified_email=False)
    assert holder.has_usable_password()
    _ent_return(client, mocker)

    response = client.post(ENT_SIGNUP, ENT_FORM)

    assert response.url == SENT
    assert list(User.objects.filter(campaign=campaign)) == [holder]
    assert not SocialAccount.objects.exists()
    assert _outbox() == [("CPT_MIN_EXISTE", INES)]


def test_an_unvalidated_account_keeps_an_address_a_staff_account_has_validated(client, oidc_ent, campaign, mocker):
    """A staff member validated it (allauth keeps a validated address unique): the student's account could never
    validate it either, so it is not created; the account made before the staff member's address was set keeps it."""
    holder = CandidateUserFactory(campaign=campaign, email=INES, verified_email=False)
    holder.set_unusable_password()
    holder.save()
    StaffFactory(email=INES)
    _ent_return(client, mocker)

    response = client.post(ENT_SIGNUP, ENT_FORM)

    assert response.url == SENT
    assert list(User.objects.filter(campaign=campaign)) == [holder]
    assert not SocialAccount.objects.exists()


def test_only_the_address_the_ent_gave_is_taken_from_an_unvalidated_account(client, oidc_ent, campaign, mocker):
    """The student who types another address instead of the ENT's cannot delete whoever's account holds it."""
    other = "anne.martin@example.org"
    holder = _stranger_signs_up(other)
    _ent_return(client, mocker)

    response = client.post(ENT_SIGNUP, {**ENT_FORM, "email": other, "email2": other})

    assert response.url == SENT
    assert list(User.objects.filter(campaign=campaign)) == [holder]
    assert not SocialAccount.objects.exists()
    assert _outbox()[-1] == ("CPT_MIN_EXISTE", other)


def test_an_unvalidated_ent_account_of_another_identity_keeps_its_address(client, oidc_ent, campaign, mocker):
    holder = CandidateUserFactory(campaign=campaign, email=INES, verified_email=False)
    holder.set_unusable_password()
    holder.save()
    SocialAccount.objects.create(user=holder, provider="ent", uid="ines.garcia.2")
    _ent_return(client, mocker)

    client.post(ENT_SIGNUP, ENT_FORM)

    assert list(User.objects.filter(campaign=campaign)) == [holder]
    assert list(SocialAccount.objects.values_list("uid", flat=True)) == ["ines.garcia.2"]


def test_the_email_signup_still_leaves_an_unvalidated_account_its_address(campaign):
    squatter = _stranger_signs_up()

    response = Client().post(SIGNUP, {"last_name": "Garcia", "first_name": "Ines", "email": INES, "email2": INES})

    assert response.url == SENT
    assert list(User.objects.filter(campaign=campaign)) == [squatter]
    assert _outbox() == [("CPT_MIN_CREATE", INES), ("CPT_MIN_EXISTE", INES)]


# --- the reviewer's proof, against the development ENT (its own process) ---


def _csrf(html: str) -> str:
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_dev_ent_the_student_creates_her_account_over_a_strangers_signup(oidc_app, campaign):
    stranger = requests.Session()
    page = stranger.get(f"{oidc_app}{SIGNUP}", timeout=10)
    data = {"last_name": "Squat", "first_name": "Eve", "email": INES, "email2": INES}
    squat = stranger.post(
        f"{oidc_app}{SIGNUP}",
        data={"csrfmiddlewaretoken": _csrf(page.text), **data},
        headers={"Referer": page.url},
        timeout=10,
    )
    assert squat.url == f"{oidc_app}{SENT}"
    squatter = User.objects.get(email=INES)

    ines = requests.Session()
    form = oidc_login(oidc_app, "ines.garcia", session=ines)
    assert form.url == f"{oidc_app}{ENT_SIGNUP}"
    assert f'value="{INES}"' in form.text
    created = ines.post(
        form.url,
        data={"csrfmiddlewaretoken": _csrf(form.text), **ENT_FORM},
        headers={"Referer": form.url},
        timeout=10,
    )

    assert created.url == f"{oidc_app}{SENT}"
    (student,) = User.objects.filter(campaign=campaign)
    assert student.pk != squatter.pk
    assert (student.first_name, student.last_name, student.student_number) == ("Inès", "GARCIA", "21900003")
    assert SocialAccount.objects.get(provider="ent", uid="ines.garcia").user == student
    assert list(OutboundEmail.objects.values_list("code", "to", "about")) == [("CPT_MIN_CREATE", INES, student.pk)]
