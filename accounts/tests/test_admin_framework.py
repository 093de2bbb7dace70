"""The frameworks' own back-office pages in French: permission names, second factors, the yes/no icons and the search
box (accounts/admin_framework.py, ecandidat/admin_wording.py)."""

import pytest
from allauth.mfa.models import Authenticator
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import translation
from pytest_django.asserts import assertContains, assertNotContains

from accounts.admin_framework import permission_label
from accounts.models import StaffSecondFactor
from accounts.tests.factories import UserFactory
from ecandidat.checks import check_admin_wording

FRENCH = {"language": "fr"}


def _totp(user):
    return Authenticator.objects.create(user=user, type=Authenticator.Type.TOTP, data={"secret": "x"})


def test_permission_names_read_in_french_from_the_codename(db):
    change_user = Permission.objects.select_related("content_type").get(codename="change_user")

    with translation.override("fr"):
        assert permission_label(change_user) == "Comptes et personnel | utilisateurs : modifier"
    with translation.override("en"):
        assert permission_label(change_user) == "Accounts and staff | users : change"


def test_the_group_page_lists_permissions_in_french(db, client, django_assert_num_queries):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    page = reverse("admin:auth_group_add")
    client.get(page, **FRENCH)  # warm the content types' cache

    # session, account, the menu's maintenance switch (in a savepoint pair), permissions with their content types
    with django_assert_num_queries(6):
        response = client.get(page, **FRENCH)

    assertContains(response, "Offre de formation | pièces justificatives : modifier")
    assertNotContains(response, "Can change")


def test_yes_no_icons_say_oui_non_and_the_search_box_rechercher(db, client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))

    response = client.get(reverse("admin:accounts_user_changelist"), **FRENCH)

    assertContains(response, 'alt="Oui"')
    assertNotContains(response, 'alt="True"')
    assertNotContains(response, 'alt="False"')
    assertContains(response, 'alt="Termes recherchés"')
    assertContains(response, "Rechercher dans : utilisateurs")


def test_the_admin_wording_check_is_quiet_once_installed():
    assert check_admin_wording(None) == []


def test_second_factors_are_listed_in_french_for_the_central_office_only(
    client, central_manager, centre_manager, django_assert_num_queries
):
    _totp(centre_manager)
    page = reverse("admin:accounts_staffsecondfactor_changelist")
    client.force_login(central_manager)

    # session, account, scope, the menu's Django permissions (2), a savepoint pair, the count, one page of factors
    # with their users
    with django_assert_num_queries(9):
        response = client.get(page, **FRENCH)

    assertContains(response, "Seconds facteurs du personnel")
    assertContains(response, "Authentificateur TOTP")
    assertContains(response, "gestionnaire")
    assertContains(response, "jamais")
    assert client.get(reverse("admin:accounts_staffsecondfactor_add")).status_code == 403

    client.force_login(centre_manager)
    assert client.get(page).status_code == 403


@pytest.mark.parametrize("persona", ["commission_member", "read_only_staff", "candidate_user"])
def test_outsiders_do_not_reach_second_factors(client, request, persona):
    user = request.getfixturevalue(persona)
    client.force_login(user)

    response = client.get(reverse("admin:accounts_staffsecondfactor_changelist"))

    # Staff who write none of the setup do not find the page, as an outsider; a candidate goes to the login page.
    assert response.status_code == (302 if persona == "candidate_user" else 404)
    assert "Authentificateur" not in response.content.decode()


def test_the_central_office_deletes_a_lost_second_factor_and_the_history_says_who(
    client, central_manager, centre_manager
):
    factor = _totp(centre_manager)
    client.force_login(central_manager)

    response = client.post(
        reverse("admin:accounts_staffsecondfactor_delete", args=[factor.pk]), {"post": "yes"}, **FRENCH
    )

    assert response.status_code == 302
    assert not Authenticator.objects.filter(pk=factor.pk).exists()
    entry = LogEntry.objects.get(object_id=str(factor.pk))
    assert entry.user == central_manager
    assert entry.is_deletion()


def test_only_a_superuser_deletes_a_superusers_second_factor(client, central_manager):
    superuser = UserFactory(is_staff=True, is_superuser=True, username="root")
    factor = _totp(superuser)
    client.force_login(central_manager)

    single = client.post(reverse("admin:accounts_staffsecondfactor_delete", args=[factor.pk]), {"post": "yes"})
    bulk = client.post(
        reverse("admin:accounts_staffsecondfactor_changelist"),
        {"action": "delete_selected", "_selected_action": [factor.pk], "post": "yes"},
    )

    assert single.status_code == 403
    assert bulk.status_code == 403
    assert StaffSecondFactor.objects.filter(pk=factor.pk).exists()


def test_candidates_factors_are_not_listed_as_staff_ones(client, central_manager, candidate_user):
    _totp(candidate_user)
    client.force_login(central_manager)

    response = client.get(reverse("admin:accounts_staffsecondfactor_changelist"))

    assertNotContains(response, candidate_user.username)


def test_social_applications_and_tokens_are_not_in_the_back_office(db, client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))

    index = client.get(reverse("admin:index")).content.decode()

    assert "/socialaccount/socialapp/" not in index
    assert "/socialaccount/socialtoken/" not in index
    assert "/socialaccount/socialaccount/" in index  # the ENT links stay readable
