"""The staff directory over real LDAP: an OpenLDAP slapd with the supann-shaped fixture of devtools/ldap
(accounts/tests/ldap_peer.py)."""

import pytest
from django.core.management import CommandError, call_command

from accounts import directory
from accounts.models import User
from accounts.tests.factories import CandidateUserFactory, StaffFactory
from ecandidat.exceptions import BusinessRuleError
from ecandidat.models import StaffDirectoryChange
from ecandidat.tests.plugins.services import free_port

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


def test_find_staff_by_uid_and_by_mail(ldap):
    by_uid = directory.find_person(uid="sophie.gestion")
    by_mail = directory.find_person(email="marc.enseignant@univ-perp.fr")

    assert by_uid == directory.DirectoryPerson(
        uid="sophie.gestion",
        email="sophie.gestion@univ-perp.fr",
        first_name="Sophie",
        last_name="GESTION",
        affiliations=("staff", "employee", "member"),
    )
    assert by_mail is not None
    assert by_mail.uid == "marc.enseignant"


def test_students_former_staff_and_unknowns_are_not_staff(ldap):
    assert directory.find_person(uid="estelle.martin") is None
    assert directory.find_person(uid="paul.parti") is None
    assert directory.find_person(uid="nobody") is None


def test_filter_characters_in_the_identifier_are_escaped(ldap):
    assert directory.find_person(uid="*") is None
    assert directory.find_person(uid="sophie.gestion)(uid=*") is None


def test_a_wrong_bind_password_is_an_unavailable_directory(ldap, settings):
    settings.LDAP_BIND_PASSWORD = "wrong"

    with pytest.raises(directory.DirectoryUnavailable):
        directory.find_person(uid="sophie.gestion")


def test_anonymous_binds_read_nothing(ldap, settings):
    settings.LDAP_BIND_DN = ""
    settings.LDAP_BIND_PASSWORD = ""

    # slapd answers an anonymous search « noSuchObject », as it answers a wrong base: a search that failed, not
    # « nobody of that name » (the admin says the directory does not answer).
    with pytest.raises(directory.DirectoryUnavailable):
        directory.find_person(uid="sophie.gestion")


def test_central_administrator_adds_staff_from_the_directory(ldap, central_manager, capsys):
    call_command("staff_from_directory", "marc.enseignant@univ-perp.fr", "--by", central_manager.username)

    user = User.objects.get(username="marc.enseignant")
    assert (user.email, user.first_name, user.last_name) == ("marc.enseignant@univ-perp.fr", "Marc", "ENSEIGNANT")
    assert user.is_staff
    assert user.is_active
    assert user.campaign is None
    assert not user.has_usable_password()
    assert user.emailaddress_set.get().email == "marc.enseignant@univ-perp.fr"
    assert user.emailaddress_set.get().verified  # the directory's word: no confirmation at the first ENT login
    assert "marc.enseignant <marc.enseignant@univ-perp.fr>" in capsys.readouterr().out


def test_adding_someone_the_directory_does_not_list_as_staff_creates_nothing(ldap):
    with pytest.raises(BusinessRuleError):
        directory.create_staff_from_directory(identifier="estelle.martin", actor=None)
    with pytest.raises(CommandError, match="has no staff member 'paul.parti'"):
        call_command("staff_from_directory", "paul.parti")

    assert not User.objects.exists()


def test_adding_an_existing_account_twice_is_refused(ldap):
    directory.create_staff_from_directory(identifier="sophie.gestion", actor=None)

    with pytest.raises(BusinessRuleError, match="exists already"):
        directory.create_staff_from_directory(identifier="sophie.gestion", actor=None)
    assert User.objects.count() == 1


def test_login_refresh_updates_names_and_address(ldap):
    StaffFactory(username="sophie.gestion", email="old@univ-perp.fr", first_name="S", last_name="G")

    user = directory.staff_for_login("sophie.gestion")

    assert user is not None
    user.refresh_from_db()
    assert (user.email, user.first_name, user.last_name) == ("sophie.gestion@univ-perp.fr", "Sophie", "GESTION")
    change = StaffDirectoryChange.objects.get(user=user)
    assert (change.kind, change.batch) == ("refreshed", "ent_login")
    assert change.changes["email"] == ["old@univ-perp.fr", "sophie.gestion@univ-perp.fr"]


def test_login_deactivates_staff_the_directory_no_longer_lists(ldap):
    StaffFactory(username="paul.parti")

    with pytest.raises(directory.StaffDeactivated):
        directory.staff_for_login("paul.parti")

    user = User.objects.get(username="paul.parti")
    assert not user.is_active
    change = StaffDirectoryChange.objects.get(user=user)
    assert (change.kind, change.batch, change.changes) == ("deactivated", "ent_login", {"is_active": [True, False]})


def test_login_never_deactivates_a_superuser(ldap):
    """As the nightly refresh: an administrator missing from the directory's staff keeps the back office."""
    StaffFactory(username="paul.parti", is_superuser=True)

    assert directory.staff_for_login("paul.parti") is not None

    assert User.objects.get(username="paul.parti").is_active


def test_an_unreachable_directory_changes_nothing_at_login(settings, db):
    settings.LDAP_URL = f"ldap://127.0.0.1:{free_port()}"  # nobody listens
    staff = StaffFactory(username="sophie.gestion", email="kept@univ-perp.fr")

    assert directory.staff_for_login("sophie.gestion") == staff

    staff.refresh_from_db()
    assert staff.is_active
    assert staff.email == "kept@univ-perp.fr"


def test_candidates_are_never_staff_logins(ldap, campaign):
    CandidateUserFactory(campaign=campaign, username="SOPHIEGE")

    assert directory.staff_for_login("SOPHIEGE") is None


# --- the back office page (central office) ---

FROM_DIRECTORY = "/gestion/accounts/user/from-directory/"


def test_central_office_adds_staff_from_the_directory_in_the_back_office(
    ldap, client, central_manager, django_assert_num_queries
):
    client.force_login(central_manager)
    assert client.get(FROM_DIRECTORY).status_code == 200

    # session, user, scope, existence check, no ENT identity of a candidate under the entry's uids, insert, the
    # address verified (another account's?, the account's: none, insert), the history's content type and line (who
    # added it), session save (the message), and their savepoints
    with django_assert_num_queries(15):
        response = client.post(FROM_DIRECTORY, {"identifier": "sophie.gestion@univ-perp.fr"})

    user = User.objects.get(username="sophie.gestion")
    assert response.status_code == 302
    # The central office (not a superuser: no rights on the accounts' pages) goes straight to the first role.
    assert response.url == f"/gestion/accounts/staffmembership/add/?user={user.pk}"
    assert user.is_staff
    assert user.email == "sophie.gestion@univ-perp.fr"
    form = client.get(response.url).context["adminform"].form
    assert form["user"].value() == str(user.pk)
    assert "GESTION Sophie (sophie.gestion)" in str(form["user"])


def test_the_back_office_says_when_the_directory_has_no_such_staff_member(ldap, client, central_manager):
    client.force_login(central_manager)

    response = client.post(FROM_DIRECTORY, {"identifier": "estelle.martin"}, language="fr")

    assert response.status_code == 200
    assert "L’annuaire ne connaît aucun personnel avec cet identifiant ou cette adresse." in response.content.decode()
    assert not User.objects.filter(username="estelle.martin").exists()


def test_the_back_office_says_when_the_directory_is_down(client, central_manager, settings):
    settings.LDAP_URL = f"ldap://127.0.0.1:{free_port()}"
    client.force_login(central_manager)

    response = client.post(FROM_DIRECTORY, {"identifier": "sophie.gestion"}, language="fr")

    assert response.status_code == 200
    assert "L’annuaire ne répond pas. Veuillez réessayer plus tard." in response.content.decode()
    assert User.objects.count() == 1


def test_centre_managers_cannot_add_staff_from_the_directory(ldap, client, centre_manager):
    client.force_login(centre_manager)

    assert client.post(FROM_DIRECTORY, {"identifier": "sophie.gestion"}).status_code == 403
    assert not User.objects.filter(username="sophie.gestion").exists()
