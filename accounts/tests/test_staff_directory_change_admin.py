"""« Mises à jour des personnels par l'annuaire » in words (review): the values changed one field a line, in French
(the page showed the stored JSON, « {"is_active": [true, false]} »), the batch by its label (not the command's
name), and « Fait par » naming the batch or the ENT login when no person acted (it read « - »)."""

import re

import pytest
from django.urls import reverse

from accounts import directory
from accounts.tests.factories import StaffFactory
from ecandidat import admin as ecandidat_admin
from ecandidat.models import StaffDirectoryChange

LIST = reverse("admin:ecandidat_staffdirectorychange_changelist")
LIST_QUERIES = 9  # session, user, savepoint, memberships, count, 2 permissions, the page's rows, release


def _deactivated(user, *, batch="refresh_staff_directory"):
    return StaffDirectoryChange.objects.create(
        user=user,
        kind=StaffDirectoryChange.Kind.DEACTIVATED,
        changes={"is_active": [True, False]},
        comment="plus personnel dans l'annuaire",
        batch=batch,
    )


def _refreshed(user, *, batch="refresh_staff_directory"):
    return StaffDirectoryChange.objects.create(
        user=user,
        kind=StaffDirectoryChange.Kind.REFRESHED,
        changes={"email": ["a@x.fr", "j@x.fr"], "first_name": ["", "Jeanne"], "last_name": ["D", "Doe"]},
        batch=batch,
    )


def _detail(change):
    return reverse("admin:ecandidat_staffdirectorychange_change", args=[change.pk])


def _row(page, field):
    """The label and the value of one row of the detail page, as « Label : value »."""
    found = re.search(
        rf'field-{field}">\s*<div class="flex-container">\s*<label>(.*?)</label>\s*<div class="readonly">(.*?)</div>',
        page,
        re.DOTALL,
    )
    assert found, field
    return f"{found[1]} {found[2]}".replace("\xa0", " ")  # Django's label: « Fait par\xa0: »


@pytest.fixture
def central_client(client, central_manager):
    client.force_login(central_manager)
    return client


def test_the_list_says_the_values_changed_in_french_one_field_a_line(central_client):
    _deactivated(StaffFactory(username="paul.parti"))
    _refreshed(StaffFactory(username="jeanne.doe"))

    page = central_client.get(LIST, language="fr").text

    assert "Compte actif : oui → non" in page
    assert "Prénom : (vide) → Jeanne<br>Nom : D → Doe<br>Adresse mail : a@x.fr → j@x.fr" in page
    assert "Mise à jour des informations des gestionnaires" in page
    assert '{"' not in page
    assert "[true, false]" not in page


def test_the_detail_page_names_the_batch_and_who_made_the_change(central_client):
    change = _refreshed(StaffFactory(username="jeanne.doe"))

    page = central_client.get(_detail(change), language="fr").text

    assert _row(page, "changes_shown") == (
        "Valeurs modifiées : Prénom : (vide) → Jeanne<br>Nom : D → Doe<br>Adresse mail : a@x.fr → j@x.fr"
    )
    assert _row(page, "made_by") == "Fait par : traitement « Mise à jour des informations des gestionnaires »"
    assert _row(page, "source") == (
        'Batch : Mise à jour des informations des gestionnaires <span class="quiet">(refresh_staff_directory)</span>'
    )
    assert '{"' not in page


@pytest.mark.parametrize("batch", ["ent_login", "cas_login"])
def test_a_change_made_at_an_ent_login_says_so(central_client, batch):
    change = _deactivated(StaffFactory(username="paul.parti"), batch=batch)

    page = central_client.get(_detail(change), language="fr").text

    assert _row(page, "made_by") == "Fait par : le titulaire du compte, à sa connexion par l&#x27;ENT"
    assert _row(page, "source") == f'Batch : Connexion par l&#x27;ENT <span class="quiet">({batch})</span>'
    assert _row(page, "changes_shown") == "Valeurs modifiées : Compte actif : oui → non"


def test_a_change_made_by_a_person_names_them(central_client, central_manager):
    change = StaffDirectoryChange.objects.create(
        user=StaffFactory(username="paul.parti"),
        kind=StaffDirectoryChange.Kind.DEACTIVATED,
        changes={"is_active": [True, False]},
        actor=central_manager,
    )

    page = central_client.get(_detail(change), language="fr").text

    account_page = reverse("admin:accounts_user_change", args=[central_manager.pk])
    assert _row(page, "made_by") in (
        f"Fait par : {central_manager}",
        f'Fait par : <a href="{account_page}">{central_manager}</a>',
    )


def test_values_are_escaped(central_client):
    change = StaffDirectoryChange.objects.create(
        user=StaffFactory(username="jeanne.doe"),
        kind=StaffDirectoryChange.Kind.REFRESHED,
        changes={"last_name": ["<b>D</b>", "Doe"]},
        batch="refresh_staff_directory",
    )

    page = central_client.get(_detail(change), language="fr").text

    assert _row(page, "changes_shown") == "Valeurs modifiées : Nom : &lt;b&gt;D&lt;/b&gt; → Doe"
    assert "<b>D</b>" not in page


@pytest.mark.parametrize("rows", [1, 5])
def test_the_list_costs_the_same_whatever_its_length(central_client, django_assert_num_queries, rows):
    for number in range(rows):
        user = StaffFactory(username=f"personnel{number}")
        (_refreshed if number % 2 else _deactivated)(
            user, batch="ent_login" if number % 3 else "refresh_staff_directory"
        )

    with django_assert_num_queries(LIST_QUERIES):
        page = central_client.get(LIST, language="fr").text

    assert page.count("Compte actif : oui → non") == (rows + 1) // 2
    assert '{"' not in page


def test_the_admin_knows_the_ent_logins_batch_by_its_name():
    """The admin spells the ENT login's batch name itself (``ecandidat`` may not import ``accounts``): the same."""
    assert ecandidat_admin.LOGIN_REFRESH == directory.LOGIN_REFRESH
