"""ENT returns that are not a login: the person lands on the login page with a French message, nothing created.

- OpenID Connect: an ENT that does not answer at the callback (its token endpoint refusing, slow, in error), a return
  without its ``state``, with a ``state`` already used, with ``error=``: allauth catches these itself and showed its
  own 401 page (« Échec de la connexion via réseau social »), no way back and no word about the ENT
  (``accounts.adapters.SocialAccountAdapter.on_authentication_error``).
- A ``sub`` that is no identity (missing, not a string, empty, longer than the identity column, with a control
  character): refused before allauth builds the login (``accounts.oidc.EntOpenIDConnectAdapter``), where it was a
  500 (too long, missing; a NUL on PostgreSQL) or an identity named ``['x9']``. A staff claim with a control character
  or longer than the username column names no staff account (``_link_directory_staff``): a NUL was a 500 on
  PostgreSQL. A CAS login likewise (``accounts.cas.callback``).
- Names, address and student number read as one value (``SocialAccountAdapter.populate_user``,
  ``accounts.claims.single_value``): an object was a 500, a list pre-filled « ['Anne', 'Marie'] », a NUL in
  ``supannEtuId`` a 500 at the account creation on PostgreSQL.

The NUL cases need PostgreSQL (SQLite stores a NUL): ``integration``, run with DATABASE_URL.
"""

import logging

import pytest
import requests
from allauth.socialaccount.models import SocialAccount
from allauth.socialaccount.providers.openid_connect.views import OpenIDConnectOAuth2Adapter
from django.db import connection
from django.urls import reverse

from accounts import directory
from accounts.claims import single_value
from accounts.models import User
from accounts.tests.ent import cas_return, oidc_callback_state
from accounts.tests.factories import StaffFactory

CALLBACK = "/accounts/oidc/ent/login/callback/"
CAS_CALLBACK = reverse("accounts:cas_callback")
LOGIN = reverse("account_login")
SIGNUP = reverse("socialaccount_signup")
FRENCH = {"language": "fr"}
UNREACHABLE_FR = (
    "L'ENT ne répond pas pour le moment : réessayez dans quelques minutes, ou connectez-vous avec votre mot de passe "
    "(numéro de dossier ou adresse mail)."
)
NOT_COMPLETED_FR = "La connexion par l’ENT n’a pas abouti : reconnectez-vous."
CAS_FAILED_FR = "L’ENT n’a pas pu confirmer votre connexion. Veuillez réessayer."
EMAIL = "anne.etudiante@etudiant.univ-perp.fr"

pytestmark = pytest.mark.django_db


def _claims(sub="a1b2-c3", **extra) -> dict:
    return {"sub": sub, "email": EMAIL, "email_verified": True, **extra}


def _messages_on_login_page(client, response) -> list[str]:
    assert response.status_code == 302
    assert response["Location"] == LOGIN
    page = client.get(LOGIN, **FRENCH)
    assert page.status_code == 200
    return [str(m) for m in page.context["messages"]]


def _nothing_created() -> None:
    assert not User.objects.exists()
    assert not SocialAccount.objects.exists()


# --- F1: the callback's own failures ---


@pytest.mark.parametrize(
    "error",
    [requests.ConnectionError("refused"), requests.Timeout("slow"), requests.HTTPError("503 Service Unavailable")],
    ids=["refused", "slow", "in-error"],
)
def test_an_ent_that_does_not_answer_at_the_callback_sends_back_to_the_login_page(
    client, oidc_ent, campaign, mocker, error, caplog, django_assert_num_queries
):
    state = oidc_callback_state(client, mocker, _claims())
    mocker.patch.object(OpenIDConnectOAuth2Adapter, "get_access_token_data", side_effect=error)

    # The session read; the request's savepoint; the ENT app (3); the state consumed (3); release; the session
    # saved (3, with the message).
    with caplog.at_level(logging.WARNING), django_assert_num_queries(12):
        response = client.get(CALLBACK, {"code": "c", "state": state}, **FRENCH)

    assert _messages_on_login_page(client, response) == [UNREACHABLE_FR]
    assert "ENT login failed (OpenID Connect, ent)" in caplog.text
    assert "_auth_user_id" not in client.session
    _nothing_created()


def test_a_callback_without_state_sends_back_to_the_login_page(client, oidc_ent, campaign, mocker):
    oidc_callback_state(client, mocker, _claims())

    response = client.get(CALLBACK, {"code": "c"}, **FRENCH)

    assert _messages_on_login_page(client, response) == [NOT_COMPLETED_FR]
    _nothing_created()


def test_a_state_used_already_sends_back_to_the_login_page(client, oidc_ent, campaign, mocker):
    state = oidc_callback_state(client, mocker, _claims())
    first = client.get(CALLBACK, {"error": "server_error", "state": state}, **FRENCH)
    assert _messages_on_login_page(client, first) == [NOT_COMPLETED_FR]

    response = client.get(CALLBACK, {"code": "c", "state": state}, **FRENCH)

    assert _messages_on_login_page(client, response) == [NOT_COMPLETED_FR]
    assert "_auth_user_id" not in client.session
    _nothing_created()


@pytest.mark.parametrize("error", ["server_error"])  # access_denied, a cancel: test_ent_login_cancelled.py
def test_an_ent_error_sends_back_to_the_login_page(client, oidc_ent, campaign, mocker, error):
    state = oidc_callback_state(client, mocker, _claims())

    response = client.get(CALLBACK, {"error": error, "state": state}, **FRENCH)

    assert _messages_on_login_page(client, response) == [NOT_COMPLETED_FR]
    _nothing_created()


# --- F2: a sub that names nobody ---


@pytest.mark.parametrize(
    "sub",
    [None, ["x9"], 42, "", "x" * 192, "a1\x07b2", "a1\nb2"],
    ids=["missing", "list", "number", "empty", "too-long", "bell", "newline"],
)
def test_a_sub_that_is_no_identity_is_refused(client, oidc_ent, campaign, mocker, sub, caplog):
    claims = _claims(sub)
    if sub is None:
        del claims["sub"]
    state = oidc_callback_state(client, mocker, claims)

    with caplog.at_level(logging.WARNING):
        response = client.get(CALLBACK, {"code": "c", "state": state}, **FRENCH)

    assert _messages_on_login_page(client, response) == [NOT_COMPLETED_FR]
    assert "ENT login failed (OpenID Connect, ent)" in caplog.text
    _nothing_created()


def test_the_longest_sub_the_column_takes_still_logs_in(client, oidc_ent, campaign, mocker):
    state = oidc_callback_state(client, mocker, _claims("x" * 191))

    response = client.get(CALLBACK, {"code": "c", "state": state}, **FRENCH)

    assert response["Location"] == SIGNUP


@pytest.mark.integration
def test_a_sub_with_a_nul_is_refused_on_postgresql(client, oidc_ent, campaign, mocker):
    assert connection.vendor == "postgresql", "integration tests run on PostgreSQL (DATABASE_URL)"
    state = oidc_callback_state(client, mocker, _claims("a1\x00b2"))

    response = client.get(CALLBACK, {"code": "c", "state": state}, **FRENCH)

    assert _messages_on_login_page(client, response) == [NOT_COMPLETED_FR]
    _nothing_created()


@pytest.fixture
def staff(db):
    return StaffFactory(username="sophie.gestion", email="sophie.gestion@univ-perp.fr", from_directory=True)


@pytest.mark.parametrize(
    "login", ["sophie.gestion\x07", "sophie.gestion" + "x" * 137], ids=["control-character", "longer-than-username"]
)
def test_a_staff_claim_that_names_no_account_is_not_looked_up(client, oidc_ent, campaign, staff, mocker, login):
    state = oidc_callback_state(client, mocker, _claims(preferred_username=login))
    link = mocker.spy(directory, "link_ent_identity")

    response = client.get(CALLBACK, {"code": "c", "state": state}, **FRENCH)

    link.assert_not_called()
    assert response["Location"] == SIGNUP  # the candidates' path
    assert not SocialAccount.objects.exists()


@pytest.mark.integration
def test_a_staff_claim_with_a_nul_is_the_candidates_path_on_postgresql(client, oidc_ent, campaign, staff, mocker):
    assert connection.vendor == "postgresql", "integration tests run on PostgreSQL (DATABASE_URL)"
    state = oidc_callback_state(client, mocker, _claims(preferred_username="sophie.gestion\x00"))

    response = client.get(CALLBACK, {"code": "c", "state": state}, **FRENCH)

    assert response["Location"] == SIGNUP
    assert client.get(SIGNUP, **FRENCH).status_code == 200
    assert not SocialAccount.objects.exists()


@pytest.mark.parametrize("login", ["x" * 192, "lucas\x07bernard", "lucas\tbernard"], ids=["too-long", "bell", "tab"])
def test_a_cas_login_that_is_no_identity_is_refused(
    client, cas_ent, campaign, login, caplog, django_assert_num_queries
):
    cas_ent.return_value = (login, {"mail": [EMAIL]}, None)
    query = cas_return(client, "ST-1")

    # The session read; the request's savepoint; release; the session saved (3, the state gone, the message).
    with caplog.at_level(logging.WARNING), django_assert_num_queries(6):
        response = client.get(CAS_CALLBACK, query, **FRENCH)

    assert _messages_on_login_page(client, response) == [CAS_FAILED_FR]
    assert "CAS login refused" in caplog.text
    _nothing_created()


@pytest.mark.integration
def test_a_cas_login_with_a_nul_is_refused_on_postgresql(client, cas_ent, campaign):
    assert connection.vendor == "postgresql", "integration tests run on PostgreSQL (DATABASE_URL)"
    cas_ent.return_value = ("lucas\x00bernard", {"mail": [EMAIL]}, None)

    response = client.get(CAS_CALLBACK, cas_return(client, "ST-1"), **FRENCH)

    assert _messages_on_login_page(client, response) == [CAS_FAILED_FR]
    _nothing_created()


# --- F4: names and numbers read as one value ---


def _signup_form(client, mocker, claims):
    state = oidc_callback_state(client, mocker, claims)
    response = client.get(CALLBACK, {"code": "c", "state": state}, **FRENCH)
    assert response["Location"] == SIGNUP
    page = client.get(SIGNUP, **FRENCH)
    assert page.status_code == 200
    return page.context["form"]


def test_a_name_that_is_an_object_is_no_name(client, oidc_ent, campaign, mocker):
    form = _signup_form(client, mocker, _claims(family_name={"value": "Martin"}, given_name="Anne"))

    assert (form.initial.get("first_name"), form.initial.get("last_name") or "") == ("Anne", "")
    assert not SocialAccount.objects.exists()


def test_names_sent_as_lists_are_their_first_value(client, oidc_ent, campaign, mocker):
    form = _signup_form(client, mocker, _claims(family_name=["Martin"], given_name=["Anne", "Marie"]))

    assert (form.initial.get("first_name"), form.initial.get("last_name")) == ("Anne", "Martin")


def test_a_name_with_a_control_character_is_no_name(client, oidc_ent, campaign, mocker):
    form = _signup_form(client, mocker, _claims(family_name="Mar\x07tin", given_name="Anne"))

    assert (form.initial.get("last_name") or "") == ""


@pytest.mark.integration
def test_a_student_number_with_a_nul_is_not_kept_on_postgresql(
    client, oidc_ent, campaign, mocker, django_capture_on_commit_callbacks
):
    assert connection.vendor == "postgresql", "integration tests run on PostgreSQL (DATABASE_URL)"
    _signup_form(client, mocker, _claims(given_name="Anne", family_name="Martin", supannEtuId="2191\x002345"))
    data = {"last_name": "Martin", "first_name": "Anne", "email": EMAIL, "email2": EMAIL}

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(SIGNUP, data, **FRENCH)

    assert response.status_code == 302
    assert User.objects.get(campaign=campaign).student_number == ""


@pytest.mark.integration
def test_a_claim_with_a_nul_is_left_out_at_a_known_identitys_login_on_postgresql(
    client, oidc_ent, ent_candidate, mocker, caplog
):
    assert connection.vendor == "postgresql", "integration tests run on PostgreSQL (DATABASE_URL)"
    claims = _claims("lucas.bernard", email=ent_candidate.email, supannEtuId="2191\x002345", given_name="Lucas")
    state = oidc_callback_state(client, mocker, claims)

    with caplog.at_level(logging.WARNING):
        response = client.get(CALLBACK, {"code": "c", "state": state}, **FRENCH)

    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(ent_candidate.pk)
    extra_data = SocialAccount.objects.get().extra_data
    assert "supannEtuId" not in extra_data["id_token"]
    assert extra_data["id_token"]["given_name"] == "Lucas"
    assert "claims holding a NUL left out: 'supannEtuId'" in caplog.text


@pytest.mark.integration
def test_a_cas_student_number_with_a_nul_is_not_kept_on_postgresql(
    client, cas_ent, campaign, django_capture_on_commit_callbacks
):
    assert connection.vendor == "postgresql", "integration tests run on PostgreSQL (DATABASE_URL)"
    attributes = {"mail": [EMAIL], "givenName": ["Anne"], "sn": ["Martin"], "supannEtuId": ["2191\x002345"]}
    cas_ent.return_value = ("anne.martin", attributes, None)
    response = client.get(CAS_CALLBACK, cas_return(client, "ST-1"), **FRENCH)
    assert response["Location"] == SIGNUP
    data = {"last_name": "Martin", "first_name": "Anne", "email": EMAIL, "email2": EMAIL}

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(SIGNUP, data, **FRENCH)

    assert response.status_code == 302
    assert User.objects.get(campaign=campaign).student_number == ""
    assert "supannEtuId" not in SocialAccount.objects.get().extra_data


@pytest.mark.parametrize("value", ["2191\x002345", ["2191\x002345"], "Mar\x07tin", "a\nb", "Anne\ud800"])
def test_a_claim_with_a_control_character_is_no_value(value, caplog):
    with caplog.at_level(logging.WARNING, logger="accounts.claims"):
        assert single_value(value, name="supannEtuId") == ""

    assert "ENT claim supannEtuId ignored: a control character" in caplog.text
