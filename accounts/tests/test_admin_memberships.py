"""Who sets the staff's rights in the back office (``accounts.admin.StaffMembershipAdmin``): the central office
every membership but its own kind, which only a superuser grants; a manager of a whole centre the members of the
centre's commissions, reading the rest of the centre's staff; nobody else."""

import pytest
from django.contrib.admin.models import ADDITION, DELETION, LogEntry
from django.urls import reverse

from accounts.models import StaffMembership, StaffRole
from accounts.tests.factories import StaffFactory, StaffMembershipFactory
from offers.tests.factories import CentreFactory, CommissionFactory

pytestmark = pytest.mark.django_db

LIST = reverse("admin:accounts_staffmembership_changelist")
ADD = reverse("admin:accounts_staffmembership_add")


def _change(membership):
    return reverse("admin:accounts_staffmembership_change", args=[membership.pk])


def _delete(membership):
    return reverse("admin:accounts_staffmembership_delete", args=[membership.pk])


def _errors(response):
    return response.context["adminform"].form.errors


def _listed(response):
    return {row.user.username for row in response.context["cl"].result_list}


@pytest.fixture
def colleague(db):
    return StaffFactory(username="nouveau", first_name="Nina", last_name="Nouveau")


def test_the_central_office_gives_a_centre_its_manager_and_it_is_in_the_history(
    client, central_manager, centre, colleague
):
    client.force_login(central_manager)

    response = client.post(ADD, {"user": colleague.pk, "role": "CTR", "centre": centre.pk, "all_commissions": "on"})

    assert response.status_code == 302
    membership = StaffMembership.objects.get(user=colleague)
    assert (membership.role, membership.centre) == (StaffRole.CENTRE_MANAGER, centre)
    entry = LogEntry.objects.get(object_id=str(membership.pk))
    assert (entry.user, entry.action_flag) == (central_manager, ADDITION)


def test_only_a_superuser_grants_changes_or_removes_the_central_office(
    client, central_manager, colleague, django_user_model
):
    other_central = StaffMembershipFactory(central=True, user__username="autre.scolarite")
    client.force_login(central_manager)

    refused = client.post(ADD, {"user": colleague.pk, "role": "SCOL", "all_commissions": "on"})
    read_only = client.get(_change(other_central))
    changed = client.post(_change(other_central), {"user": colleague.pk, "role": "SCOL", "all_commissions": "on"})
    removed = client.post(_delete(other_central), {"post": "yes"})

    assert refused.status_code == 200
    assert "role" in _errors(refused)
    assert not StaffMembership.objects.filter(user=colleague).exists()
    assert read_only.status_code == 200
    assert not read_only.context["has_change_permission"]
    assert (changed.status_code, removed.status_code) == (403, 403)
    assert StaffMembership.objects.get(pk=other_central.pk).user.username == "autre.scolarite"

    client.force_login(django_user_model.objects.create_superuser("root", "root@univ-perp.fr", "x"))
    response = client.post(ADD, {"user": colleague.pk, "role": "SCOL", "all_commissions": "on"})

    assert response.status_code == 302
    assert StaffMembership.objects.get(user=colleague).role == StaffRole.CENTRAL


@pytest.mark.parametrize("extra", [0, 3])
def test_a_centre_manager_reads_the_staff_of_the_centre_only(
    client,
    django_assert_num_queries,
    centre_manager,
    commission,
    commission_member,
    read_only_staff,
    other_centre_manager,
    extra,
):
    foreign_member = StaffMembershipFactory(
        commission_member=True, commission=CommissionFactory(), user__username="membre.ailleurs"
    )
    for index in range(extra):
        StaffMembershipFactory(commission_member=True, commission=commission, user__username=f"membre.{index}")
    client.force_login(centre_manager)
    client.get(LIST)

    # session, user, scope, the count, the rows, their chosen commissions, the savepoint pair, and Django's
    # permissions of the user (two: the menu's other pages)
    with django_assert_num_queries(10):
        response = client.get(LIST)

    assert response.status_code == 200
    assert [spec.title for spec in response.context["cl"].filter_specs] == ["role"]  # no list of every centre
    assert _listed(response) == {"gestionnaire", "membre", "lecture"} | {f"membre.{i}" for i in range(extra)}
    assert client.get(_change(foreign_member)).status_code == 404
    assert client.get(_change(other_centre_manager.staff_memberships.get())).status_code == 404


def test_a_centre_manager_sets_the_members_of_the_centre_commissions(
    client, centre_manager, commission, read_only_staff, colleague
):
    foreign = CommissionFactory(centre=CentreFactory(), label="Commission d'un autre centre")
    client.force_login(centre_manager)

    form = client.get(ADD).context["adminform"].form
    assert list(form.fields) == ["user", "role", "commission"]
    assert [value for value, _ in form.fields["role"].choices] == ["COM"]
    elsewhere = client.post(ADD, {"user": colleague.pk, "role": "COM", "commission": foreign.pk})
    manager = client.post(ADD, {"user": colleague.pk, "role": "CTR", "commission": commission.pk})
    added = client.post(ADD, {"user": colleague.pk, "role": "COM", "commission": commission.pk})

    assert "commission" in _errors(elsewhere)
    assert "role" in _errors(manager)
    assert added.status_code == 302
    membership = StaffMembership.objects.get(user=colleague)
    assert (membership.role, membership.commission) == (StaffRole.COMMISSION_MEMBER, commission)

    reader = read_only_staff.staff_memberships.get()
    assert client.post(_change(reader), {"user": colleague.pk, "role": "COM"}).status_code == 403
    assert client.post(_delete(reader), {"post": "yes"}).status_code == 403
    assert client.post(_delete(membership), {"post": "yes"}).status_code == 302
    assert not StaffMembership.objects.filter(pk=membership.pk).exists()
    assert LogEntry.objects.filter(object_id=str(membership.pk), action_flag=DELETION, user=centre_manager).exists()

    # Nor all at once: the bulk deletion would not ask about each row.
    bulk = client.post(LIST, {"action": "delete_selected", "_selected_action": [reader.pk], "post": "yes"})
    assert bulk.status_code == 200
    assert StaffMembership.objects.filter(pk=reader.pk).exists()


def test_a_centre_manager_adding_a_commission_member_without_a_commission_is_told_beside_the_field(
    client, centre_manager, commission, colleague
):
    """The form has no centre for them, so Django skipped the model's check of the role's scope, which names the
    centre: the database refused the row and the page was a server error."""
    client.force_login(centre_manager)

    response = client.post(ADD, {"user": colleague.pk, "role": "COM", "commission": ""})

    assert response.status_code == 200
    assert _errors(response)["commission"] == ["A commission member belongs to a commission: choose it."]
    assert not StaffMembership.objects.filter(user=colleague).exists()

    member = StaffMembershipFactory(user=colleague, commission_member=True, commission=commission)
    cleared = client.post(_change(member), {"user": colleague.pk, "role": "COM", "commission": ""})

    assert "commission" in _errors(cleared)
    member.refresh_from_db()
    assert member.commission == commission


def test_the_central_office_cannot_remove_the_central_office_in_bulk(client, central_manager):
    other_central = StaffMembershipFactory(central=True, user__username="autre.scolarite")
    client.force_login(central_manager)

    client.post(LIST, {"action": "delete_selected", "_selected_action": [other_central.pk], "post": "yes"})

    assert StaffMembership.objects.filter(pk=other_central.pk).exists()


def test_the_other_staff_do_not_see_who_has_which_rights(client, commission_member, read_only_staff, limited_manager):
    # Read-only staff and commission members write none of the setup: neither the list nor its add page is found
    # (404) for them; a manager keeps Django's 403.
    for user, status in ((commission_member, 404), (read_only_staff, 404), (limited_manager, 403)):
        client.force_login(user)
        assert client.get(LIST).status_code == status
        assert client.get(ADD).status_code == status


def test_a_row_read_only_names_the_person_without_a_link_to_a_page_that_refuses_them(
    client, django_assert_num_queries, centre_manager, read_only_staff
):
    """Django linked a read-only person to the accounts' admin page, which answers 403 to all but superusers."""
    reader = read_only_staff.staff_memberships.get()
    account_page = reverse("admin:accounts_user_change", args=[read_only_staff.pk])
    client.force_login(centre_manager)
    client.get(_change(reader))

    with django_assert_num_queries(11):
        response = client.get(_change(reader))

    assert not response.context["has_change_permission"]
    assert client.get(account_page).status_code == 403
    assert account_page not in response.content.decode()
    assert read_only_staff.username in response.content.decode()
