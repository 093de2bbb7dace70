"""Four account fixes (task accountsfix):

1. A CAS login typed in another case (``Lucas.Bernard``) is the same student: the identity is stored and looked up in
   lower case (``accounts.cas.student_identity``), and accounts 0019 lower-cased the CAS identities stored before,
   leaving (and logging) any that would collide and every OpenID Connect ``sub``.
2. A list-valued ``supannEtuId`` claim (a Keycloak multivalued mapper) is the number, not ``"['21912345']"``.
3. The staff enrolment link's URL is rate limited with the codes typed on the page, and takes a mailed link only.
4. « Modifier mon adresse mail » compares the two fields as the service stores addresses.
"""

import importlib
import logging
import re

import pytest
from allauth.socialaccount.models import SocialAccount
from django.apps import apps as django_apps
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts import cas
from accounts.claims import single_value
from accounts.models import StaffEnrolmentToken, User
from accounts.staff_enrolment import issue_enrolment_code, mail_enrolment_link, redeem_enrolment_secret
from accounts.tests.ent import cas_return, ent_return
from accounts.tests.factories import CandidateUserFactory, StaffFactory
from accounts.tests.personas import PASSWORD
from ecandidat.exceptions import BusinessRuleError
from ecandidat.models import OutboundEmail

pytestmark = pytest.mark.django_db

LUCAS = "lucas.bernard@etudiant.univ-perp.fr"
LUCAS_ATTRIBUTES = {"mail": [LUCAS], "sn": ["Bernard"], "givenName": ["Lucas"]}
ENROLMENT = "/compte/gestion/activation/"
TOO_MANY_FR = "Trop de tentatives. Réessayez plus tard."
INVALID_FR = "Ce lien ou ce code d&#x27;activation n&#x27;est pas valide."


def _migration():
    return importlib.import_module("accounts.migrations.0019_lowercase_cas_identities")


def _updates(queries) -> int:
    return len([query for query in queries.captured_queries if query["sql"].startswith("UPDATE")])


# --- 1. A CAS login in another case ---


def test_a_cas_login_in_another_case_reaches_the_same_account(
    client, cas_ent, ent_candidate, django_assert_num_queries
):
    """The reviewer's case: ``lucas.bernard`` types ``Lucas.Bernard`` on the CAS form."""
    cas_ent.return_value = ("Lucas.Bernard", LUCAS_ATTRIBUTES, None)

    # As a login typed in lower case (test_login_history): staff account of that login?, site, app, identity and its
    # account, campaign open?, account?, address validated?, authenticator?, the new session (4), last_login, SIS
    # dossier (3), the session saved (3), the CAS ticket row, the history (2), the session saved again (3), the pair;
    # the session of the browser that pressed the ENT button read (1), its old row read and deleted at the login (2).
    back = cas_return(client, "ST-1")
    with django_assert_num_queries(32):
        response = client.get(reverse("accounts:cas_callback"), back)

    assert response.status_code == 302
    assert response.url != reverse("socialaccount_signup")
    assert client.session["_auth_user_id"] == str(ent_candidate.pk)
    assert list(SocialAccount.objects.values_list("uid", "user")) == [("lucas.bernard", ent_candidate.pk)]


def test_a_student_creates_one_account_whatever_the_case_of_the_login(
    client, cas_ent, campaign, django_capture_on_commit_callbacks
):
    """A first CAS login stores the identity in lower case; the same student back with another case is not offered
    « Création de compte » again (the second numéro de dossier the reviewer created)."""
    cas_ent.return_value = ("Lucas.Bernard", LUCAS_ATTRIBUTES, None)
    response = client.get(reverse("accounts:cas_callback"), cas_return(client, "ST-1"))
    assert response.url == reverse("socialaccount_signup")
    data = {"last_name": "Bernard", "first_name": "Lucas", "email": LUCAS, "email2": LUCAS}
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("socialaccount_signup"), data)
    (student,) = User.objects.filter(campaign=campaign)
    assert SocialAccount.objects.get().uid == "lucas.bernard"
    assert SocialAccount.objects.get().extra_data["sub"] == "lucas.bernard"

    client.logout()
    cas_ent.return_value = ("LUCAS.BERNARD", LUCAS_ATTRIBUTES, None)
    response = client.get(reverse("accounts:cas_callback"), cas_return(client, "ST-2"))

    assert response.url != reverse("socialaccount_signup")
    assert list(User.objects.filter(campaign=campaign)) == [student]
    assert SocialAccount.objects.count() == 1


def test_a_staff_login_keeps_the_staff_accounts_username_as_its_identity(client, cas_ent, db):
    """The staff path is unchanged: the identity is the staff account's username, capitals included."""
    staff = StaffFactory(username="Sophie.Gestion", email="sophie.gestion@univ-perp.fr")
    cas_ent.return_value = ("SOPHIE.GESTION", {"mail": ["sophie.gestion@univ-perp.fr"]}, None)

    client.get(reverse("accounts:cas_callback"), cas_return(client, "ST-1"))

    assert client.session["_auth_user_id"] == str(staff.pk)
    assert list(SocialAccount.objects.values_list("uid", flat=True)) == ["Sophie.Gestion"]


def _cas_identity(user, uid: str) -> SocialAccount:
    """An identity as the CAS callback stored it before the fix: its flat claims, ``sub`` the login as typed."""
    return SocialAccount.objects.create(
        user=user, provider="ent", uid=uid, extra_data=cas.claims_from_attributes(uid, {"mail": [user.email]})
    )


def test_the_migration_lowercases_the_cas_identities_and_leaves_collisions_and_openid_connect(
    campaign, settings, caplog
):
    settings.ENT_PROTOCOL = "cas"
    typed = _cas_identity(CandidateUserFactory(campaign=campaign), "Lucas.Bernard")
    accented = _cas_identity(CandidateUserFactory(campaign=campaign), "Élodie.Durand")
    by_hand = SocialAccount.objects.create(
        user=CandidateUserFactory(campaign=campaign), provider="ent", uid="Hand.Made"
    )
    # The bug's aftermath: the account created twice; the lower-case identity is the one logins reach.
    first = _cas_identity(CandidateUserFactory(campaign=campaign), "zoe.martin")
    second = _cas_identity(CandidateUserFactory(campaign=campaign), "Zoe.Martin")
    # The same login in two cases, neither in lower case: neither is chosen.
    twin_a = _cas_identity(CandidateUserFactory(campaign=campaign), "Paul.Petit")
    twin_b = _cas_identity(CandidateUserFactory(campaign=campaign), "PAUL.PETIT")
    # OpenID Connect: an opaque sub, case-sensitive, whatever ENT_PROTOCOL says now.
    oidc = SocialAccount.objects.create(
        user=CandidateUserFactory(campaign=campaign),
        provider="ent",
        uid="AbC-9f",
        extra_data={"id_token": {"sub": "AbC-9f"}, "userinfo": {"sub": "AbC-9f"}},
    )
    # Staff: named by the staff account's username, which the staff path looks up as it is.
    staff = _cas_identity(StaffFactory(username="Sophie.Gestion"), "Sophie.Gestion")

    with caplog.at_level(logging.WARNING), CaptureQueriesContext(connection) as queries:
        _migration().lowercase_cas_identities(django_apps, None)

    uids = dict(SocialAccount.objects.values_list("pk", "uid"))
    assert uids == {
        typed.pk: "lucas.bernard",
        accented.pk: "élodie.durand",
        by_hand.pk: "hand.made",
        first.pk: "zoe.martin",
        second.pk: "Zoe.Martin",
        twin_a.pk: "Paul.Petit",
        twin_b.pk: "PAUL.PETIT",
        oidc.pk: "AbC-9f",
        staff.pk: "Sophie.Gestion",
    }
    assert _updates(queries) == 3
    warnings = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
    assert any("Zoe.Martin" in message and "zoe.martin" in message for message in warnings)
    assert any("Paul.Petit" in message and "PAUL.PETIT" in message for message in warnings)

    with CaptureQueriesContext(connection) as queries:
        _migration().lowercase_cas_identities(django_apps, None)  # nothing left to change
    assert _updates(queries) == 0


def test_the_migrations_run_on_the_models_as_they_were(campaign):
    """As ``migrate`` runs them: with the historical models of their own state (no schema changed since)."""
    loader = MigrationLoader(connection)
    typed = _cas_identity(CandidateUserFactory(campaign=campaign, student_number="['21912345']"), "Lucas.Bernard")

    _migration().lowercase_cas_identities(
        loader.project_state(("accounts", "0019_lowercase_cas_identities")).apps, None
    )
    importlib.import_module("accounts.migrations.0020_student_numbers_from_lists").student_numbers_from_lists(
        loader.project_state(("accounts", "0020_student_numbers_from_lists")).apps, None
    )

    typed.refresh_from_db()
    assert (typed.uid, typed.user.student_number) == ("lucas.bernard", "21912345")


def test_the_migration_leaves_an_identity_linked_by_hand_while_the_ent_speaks_openid_connect(campaign, settings):
    settings.ENT_PROTOCOL = "oidc"
    by_hand = SocialAccount.objects.create(user=CandidateUserFactory(campaign=campaign), provider="ent", uid="AbC-9f")
    typed = _cas_identity(CandidateUserFactory(campaign=campaign), "Lucas.Bernard")  # from CAS days: its claims say

    _migration().lowercase_cas_identities(django_apps, None)

    by_hand.refresh_from_db()
    typed.refresh_from_db()
    assert (by_hand.uid, typed.uid) == ("AbC-9f", "lucas.bernard")


def test_after_the_migration_the_login_in_any_case_reaches_the_account(client, cas_ent, campaign):
    student = CandidateUserFactory(campaign=campaign, email=LUCAS)
    _cas_identity(student, "Lucas.Bernard")
    _migration().lowercase_cas_identities(django_apps, None)
    cas_ent.return_value = ("lucas.BERNARD", LUCAS_ATTRIBUTES, None)

    client.get(reverse("accounts:cas_callback"), cas_return(client, "ST-1"))

    assert client.session["_auth_user_id"] == str(student.pk)


# --- 2. A list-valued supannEtuId ---


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (["21912345"], "21912345"),
        (["21912345", "21900000"], "21912345"),
        ([21912345], "21912345"),
        (21912345, "21912345"),
        (" 21912345 ", "21912345"),
        ({"value": "21912345"}, ""),
        ([{"value": "21912345"}], ""),
        (True, ""),
        ([], ""),
        (None, ""),
    ],
)
def test_a_claim_is_read_as_one_value(value, expected):
    assert single_value(value, name="supannEtuId") == expected


def test_a_claim_that_is_no_value_is_logged(caplog):
    with caplog.at_level(logging.WARNING, logger="accounts.claims"):
        assert single_value({"value": "21912345"}, name="supannEtuId") == ""

    assert "ENT claim supannEtuId ignored: a dict" in caplog.text


@pytest.mark.parametrize(
    ("claim", "expected"),
    [(["21912345"], "21912345"), (21912345, "21912345"), ({"value": "21912345"}, "")],
    ids=["list", "int", "dict"],
)
def test_the_student_number_of_an_openid_connect_account(
    client, campaign, oidc_ent, claim, expected, caplog, django_capture_on_commit_callbacks
):
    email = "estelle.etu@etudiant.univ-perp.fr"
    _request, response = ent_return(client, "ent-sub-42", email, claims={"supannEtuId": claim})
    assert response.url == reverse("socialaccount_signup")
    data = {"last_name": "Etudiante", "first_name": "Estelle", "email": email, "email2": email}

    with caplog.at_level(logging.WARNING, logger="accounts.claims"), django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("socialaccount_signup"), data)

    assert User.objects.get(campaign=campaign).student_number == expected
    assert ("ENT claim supannEtuId ignored" in caplog.text) == (expected == "")


def test_the_migration_gives_the_accounts_created_before_the_number_they_meant(campaign, caplog):
    stored = {
        "['21912345']": "21912345",
        "[21912346]": "21912346",
        str(["21912347", "21900000"])[:20]: "21912347",  # cut at 20 characters, as the account kept it
        "[{'value': '2191234": "[{'value': '2191234",  # an object: left, logged
        "21912348": "21912348",
        "": "",
    }
    accounts = {text: CandidateUserFactory(campaign=campaign, student_number=text) for text in stored}
    migration = importlib.import_module("accounts.migrations.0020_student_numbers_from_lists")

    with caplog.at_level(logging.WARNING), CaptureQueriesContext(connection) as queries:
        migration.student_numbers_from_lists(django_apps, None)

    assert {text: User.objects.get(pk=user.pk).student_number for text, user in accounts.items()} == stored
    assert _updates(queries) == 3
    assert "[{'value': '2191234" in caplog.text


def test_cas_attributes_are_read_the_same_way():
    claims = cas.claims_from_attributes("estelle.martin", {"mail": [{"x": 1}], "supannEtuId": [21900001]})

    assert claims["supannEtuId"] == "21900001"
    assert claims["email"] == ""
    assert claims["email_verified"] is False


# --- 3. The staff enrolment link's URL ---


@pytest.fixture
def french(client):
    client.language = "fr"
    return client


def _log_in_with_password(client, username="gestionnaire"):
    response = client.post(reverse("account_login"), {"login": username, "password": PASSWORD})
    assert response.status_code == 302


def _link_of(email: OutboundEmail) -> str:
    return re.search(r"https?://[^/\s]+(/compte/gestion/activation/[^/\s]+/)", email.body).group(1)


def test_after_five_wrong_codes_the_link_is_refused_too(french, centre_manager, django_assert_num_queries):
    mail_enrolment_link(user=centre_manager, actor=centre_manager)
    link = _link_of(OutboundEmail.objects.get(code="STAFF_ENROLMENT"))
    _log_in_with_password(french)
    for _attempt in range(5):
        french.post(ENROLMENT, {"action": "code", "code": "ABCD-EFGH-JKMN"})

    # session, user, savepoint, release: the limit says no before any token is read
    with django_assert_num_queries(4):
        response = french.post(link)

    assert response.url == ENROLMENT
    assert TOO_MANY_FR in french.get(ENROLMENT).content.decode()
    assert StaffEnrolmentToken.objects.get().used_at is None
    assert "staff_enrolment_grant" not in french.session


def test_wrong_links_count_against_the_codes_typed(french, centre_manager, central_manager):
    code = issue_enrolment_code(user=centre_manager, actor=central_manager)
    _log_in_with_password(french)
    for attempt in range(5):
        french.post(f"{ENROLMENT}wrong-secret-{attempt}/")

    response = french.post(ENROLMENT, {"action": "code", "code": code})

    assert TOO_MANY_FR in response.content.decode()
    assert StaffEnrolmentToken.objects.get().used_at is None


def test_a_code_posted_to_the_link_url_is_refused(french, centre_manager, central_manager):
    code = issue_enrolment_code(user=centre_manager, actor=central_manager)
    _log_in_with_password(french)

    for secret in (code, code.replace("-", ""), code.lower()):
        response = french.post(f"{ENROLMENT}{secret}/", follow=True)
        assert INVALID_FR in response.content.decode()

    assert StaffEnrolmentToken.objects.get().used_at is None
    assert french.get(reverse("mfa_activate_totp")).url == ENROLMENT
    # The code still opens the activation where it is typed.
    assert french.post(ENROLMENT, {"action": "code", "code": code}).url == reverse("mfa_activate_totp")


def test_a_mailed_link_is_not_a_code(centre_manager):
    mail_enrolment_link(user=centre_manager, actor=centre_manager)
    secret = _link_of(OutboundEmail.objects.get(code="STAFF_ENROLMENT")).split("/")[-2]

    with pytest.raises(BusinessRuleError):
        redeem_enrolment_secret(user=centre_manager, secret=secret, ip=None, channel=StaffEnrolmentToken.Channel.CODE)
    token = redeem_enrolment_secret(
        user=centre_manager, secret=secret, ip=None, channel=StaffEnrolmentToken.Channel.MAIL
    )
    assert token.used_at is not None


# --- 4. « Modifier mon adresse mail »: the same mailbox in two spellings ---


def test_the_confirmation_in_the_ascii_form_of_the_domain_matches(
    client, candidate_user, django_capture_on_commit_callbacks, django_assert_num_queries
):
    client.force_login(candidate_user)
    data = {"email": "neuf@école.fr", "email2": "Neuf@xn--cole-9oa.fr"}

    # As test_email_change's change (its 27 queries, the history line « modifiée par le candidat » included).
    with django_capture_on_commit_callbacks(execute=True), django_assert_num_queries(27):
        response = client.post(reverse("accounts:email_change"), data)

    assert response.status_code == 302
    assert response.url == reverse("accounts:email_change_done")
    candidate_user.refresh_from_db()
    assert candidate_user.email == "neuf@école.fr"


def test_two_different_addresses_are_still_refused(client, candidate_user, django_assert_num_queries):
    client.force_login(candidate_user)

    with django_assert_num_queries(4):  # session, user, savepoint, release: nothing written
        response = client.post(
            reverse("accounts:email_change"), {"email": "neuf@école.fr", "email2": "neuf@xn--cole-9ob.fr"}
        )

    assert response.status_code == 200
    assert "The two e-mail addresses are different." in response.content.decode()
