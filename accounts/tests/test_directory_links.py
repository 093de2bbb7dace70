"""« Ajouter depuis l'annuaire » above the users' and the staff rights' lists: the central office's, when a directory
is configured (the page itself is tested over real LDAP in test_directory.py)."""

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db

FROM_DIRECTORY = reverse("admin:accounts_user_from_directory")
MEMBERSHIPS = reverse("admin:accounts_staffmembership_changelist")
USERS = reverse("admin:accounts_user_changelist")
LINK = f'<a href="{FROM_DIRECTORY}">Ajouter depuis l’annuaire</a>'


@pytest.fixture
def with_directory(settings):
    settings.LDAP_URL = "ldap://ldap.example"  # never contacted: the lists only check that one is configured


@pytest.mark.parametrize(
    ("persona", "status", "linked"),
    [
        ("central_manager", 200, True),
        ("centre_manager", 200, False),  # reads its centre's staff; adding accounts is the central office's
        ("commission_member", 404, False),  # writes none of the setup: not found, as an outsider
    ],
)
def test_the_staff_rights_list_links_to_the_directory_for_the_central_office(
    client, request, with_directory, persona, status, linked
):
    client.force_login(request.getfixturevalue(persona))

    response = client.get(MEMBERSHIPS, language="fr")

    assert response.status_code == status
    assert (LINK in response.content.decode()) is linked


def test_the_users_list_links_to_the_directory_for_a_superuser(client, admin_user, with_directory):
    client.force_login(admin_user)

    assert LINK in client.get(USERS, language="fr").content.decode()


def test_no_link_without_a_directory(client, central_manager, admin_user, settings):
    settings.LDAP_URL = ""
    client.force_login(central_manager)
    assert FROM_DIRECTORY not in client.get(MEMBERSHIPS, language="fr").content.decode()
    client.force_login(admin_user)
    assert FROM_DIRECTORY not in client.get(USERS, language="fr").content.decode()


def test_the_link_costs_no_query(client, central_manager, settings, django_assert_num_queries):
    client.force_login(central_manager)
    settings.LDAP_URL = ""
    client.get(MEMBERSHIPS)
    # session, user, scope, the centre filter's centres, the count, Django's permissions (two), the rows, their
    # commissions, and the savepoint pair
    with django_assert_num_queries(11) as without:
        client.get(MEMBERSHIPS)
    settings.LDAP_URL = "ldap://ldap.example"
    with django_assert_num_queries(len(without.captured_queries)):
        assert FROM_DIRECTORY in client.get(MEMBERSHIPS).content.decode()
