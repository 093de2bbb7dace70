"""« Ajouter depuis l'annuaire » and ``manage.py staff_from_directory`` refuse a person whose ENT identity is a
candidate account's (fix of December 7th): a staff member who signed up through the ENT before their staff account
existed. Created anyway (as before, silently), the staff account never got that identity (``link_ent_identity``
never moves one) and every ENT login of its owner opened the candidate account: no way in, no message. Now nothing is
created, and the message, next to the uid, names the candidate account (number, address) and how to resolve it;
nothing of the candidate is deleted nor detached. Over the slapd peer (``jdupont`` has the alias ``jean.dupont``)."""

import pytest
from allauth.socialaccount.models import SocialAccount
from django.core.management import CommandError, call_command

from accounts import directory
from accounts.models import User
from accounts.tests.factories import CandidateUserFactory, StaffFactory
from ecandidat.exceptions import BusinessRuleError

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

FROM_DIRECTORY = "/gestion/accounts/user/from-directory/"


@pytest.fixture
def candidate(campaign):
    """The staff member's mistaken candidate account, holding the ENT identity of the CAS login ``jdupont``."""
    user = CandidateUserFactory(campaign=campaign, email="jean.dupont@univ-perp.fr")
    SocialAccount.objects.create(user=user, provider="ent", uid="jdupont")
    return user


@pytest.mark.parametrize("typed", ["jdupont", "jean.dupont", "JDupont", "jean.dupont@univ-perp.fr"])
def test_the_service_refuses_and_names_the_candidate_account(ldap, candidate, typed):
    with pytest.raises(directory.EntIdentityOfCandidate) as refused:
        directory.create_staff_from_directory(identifier=typed, actor=None)

    assert isinstance(refused.value, BusinessRuleError)
    assert refused.value.field == "identifier"
    assert candidate.username in str(refused.value)
    assert "jean.dupont@univ-perp.fr" in str(refused.value)
    assert User.objects.get() == candidate  # no staff account
    assert SocialAccount.objects.get().user_id == candidate.pk  # the candidate keeps everything


def test_an_identity_named_by_the_entrys_alias_is_refused_too(ldap, campaign):
    """A CAS login typed as the alias (before aliases were resolved) stored the identity ``jean.dupont``."""
    candidate = CandidateUserFactory(campaign=campaign, email="jd@example.org")
    SocialAccount.objects.create(user=candidate, provider="ent", uid="jean.dupont")

    with pytest.raises(directory.EntIdentityOfCandidate, match=str(candidate.username)):
        directory.create_staff_from_directory(identifier="jdupont", actor=None)
    assert not User.objects.filter(is_staff=True).exists()


def test_other_peoples_identities_and_staff_identities_do_not_stop_the_addition(ldap, campaign):
    student = CandidateUserFactory(campaign=campaign)
    SocialAccount.objects.create(user=student, provider="ent", uid="lucas.bernard")
    other_staff = StaffFactory(username="someone")
    SocialAccount.objects.create(user=other_staff, provider="ent", uid="someone")

    user = directory.create_staff_from_directory(identifier="jdupont", actor=None)

    assert user.username == "jdupont"


def test_the_command_refuses_with_the_candidate_account(ldap, candidate):
    with pytest.raises(CommandError) as refused:
        call_command("staff_from_directory", "jdupont")

    message = str(refused.value)
    assert f"compte candidat {candidate.username} (jean.dupont@univ-perp.fr)" in message  # the institution's language
    assert "« Comptes sociaux »" in message
    assert not User.objects.filter(username="jdupont").exists()


def test_the_back_office_says_it_next_to_the_uid(ldap, client, central_manager, candidate, django_assert_num_queries):
    client.force_login(central_manager)

    # The session, the user; the request's savepoint; the scope; the existence check and the identity with its owner
    # (one join), in their savepoint rolled back (5); the admin page's permissions (2); release.
    with django_assert_num_queries(12):
        response = client.post(FROM_DIRECTORY, {"identifier": "jean.dupont"}, language="fr")

    assert response.status_code == 200
    errors = response.context["form"].errors
    assert list(errors) == ["identifier"]  # next to the field that caused it
    message = errors["identifier"][0]
    assert message.startswith("L’identité ENT « jdupont » est déjà liée au compte candidat ")
    assert f"{candidate.username} (jean.dupont@univ-perp.fr)" in message
    assert "le compte candidat et ses dossiers restent" in message
    assert not User.objects.filter(username="jean.dupont").exists()
    assert not User.objects.filter(username="jdupont").exists()
    assert SocialAccount.objects.get().user_id == candidate.pk


def test_once_the_identity_is_removed_the_staff_member_is_added_and_the_ent_login_reaches_them(
    ldap, client, central_manager, candidate
):
    SocialAccount.objects.filter(user=candidate).delete()  # the superuser's « Comptes sociaux » step
    client.force_login(central_manager)

    response = client.post(FROM_DIRECTORY, {"identifier": "jdupont"})

    assert response.status_code == 302
    staff = User.objects.get(username="jdupont")
    assert directory.link_ent_identity(provider="ent", uid=None, login="jdupont").user_id == staff.pk
    assert User.objects.filter(pk=candidate.pk).exists()  # the candidate account stays
