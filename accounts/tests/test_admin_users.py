"""The users' page of the back office shows whether a staff account was made from the LDAP directory
(``User.from_directory``): the nightly refresh deactivates such an account when its owner leaves the directory, even
if a password was chosen since. Read-only (only the directory sets it), and a filter of the list."""

import pytest
from django.contrib.admin.sites import site
from django.urls import reverse

from accounts.models import User
from accounts.tests.factories import StaffFactory

pytestmark = pytest.mark.django_db
USERS = reverse("admin:accounts_user_changelist")
HELP = "Compte de personnel créé depuis l'annuaire LDAP : désactivé quand son titulaire quitte l'annuaire."


@pytest.fixture
def from_directory(db):
    return StaffFactory(username="paul.annuaire", from_directory=True)


@pytest.fixture
def local(db):
    return StaffFactory(username="jean.local", from_directory=False)


def test_a_superuser_reads_the_mark_on_the_accounts_page_without_changing_it(
    client, admin_user, from_directory, django_assert_num_queries
):
    page = reverse("admin:accounts_user_change", args=[from_directory.pk])
    client.force_login(admin_user)
    client.get(page)

    # session, user, the account, its groups and permissions, the maintenance switch (the "add" link), the
    # savepoint pair, and the choices of groups, permissions and campaigns: the mark is read with the account
    with django_assert_num_queries(11):
        response = client.get(page, language="fr")

    assert response.status_code == 200
    assert "from_directory" not in response.context["adminform"].form.fields  # read-only: never posted
    html = response.content.decode()
    mark = html[html.index('class="form-row field-from_directory"') :]
    assert mark.index("<label>Créé depuis l&#x27;annuaire") < mark.index(HELP) < mark.index('alt="Oui"')
    assert "Staff account made from the LDAP directory" in client.get(page, language="en").content.decode()


def test_a_superuser_filters_the_list_on_the_mark(
    client, admin_user, from_directory, local, django_assert_num_queries
):
    client.force_login(admin_user)
    client.get(USERS)

    # session, user, the campaigns (their filter), the count, the maintenance switch, the rows, the savepoint pair:
    # the filter on the mark costs none
    with django_assert_num_queries(8):
        response = client.get(USERS, {"from_directory__exact": "1"}, language="fr")

    assert response.status_code == 200
    assert "Par créé depuis l&#x27;annuaire" in response.content.decode()
    assert [user.username for user in response.context["cl"].result_list] == ["paul.annuaire"]


@pytest.mark.parametrize("persona", ["central_manager", "centre_manager", "commission_member", "read_only_staff"])
def test_other_staff_do_not_open_the_accounts_page(client, request, persona, from_directory):
    client.force_login(request.getfixturevalue(persona))
    # The readers (no central office, no manager) do not find the pages, as an outsider; the others keep the 403.
    refused = 404 if persona in {"commission_member", "read_only_staff"} else 403

    assert client.get(reverse("admin:accounts_user_change", args=[from_directory.pk])).status_code == refused
    assert client.get(USERS).status_code == refused


def test_an_address_typed_on_the_accounts_page_is_stored_as_the_mailbox_it_reaches(admin_user, local, rf):
    """An internationalised domain typed in its ASCII form (as a directory or a mail client shows it) is stored as
    logins and resets look it up (``directory_spelling``: the domain as ``normalize_email`` writes it, the capitals of
    the local part kept); before, it stayed ``xn--…`` and a login by that address found no account."""
    request = rf.get("/")
    request.user = admin_user
    model_admin = site.get_model_admin(User)
    form_class = model_admin.get_form(request, local)
    initial = form_class(instance=local).initial
    data = {key: value for key, value in initial.items() if value is not None and key != "password"}
    data.update(email="Jean.Local@xn--cole-9oa.fr", groups=[], user_permissions=[])

    form = form_class(data=data, instance=local)
    form.is_valid()  # the other fields' widgets (split dates) are not this test's: only the address is read

    assert "email" not in form.errors
    assert form.cleaned_data["email"] == "Jean.Local@école.fr"
