"""The back office's « Modifier le mot de passe » page (``accounts.admin.AdminPasswordChangeForm``): Django 6.1 writes
the warning under « Authentification par mot de passe » as a plain English string; ours is translated."""

import pytest
from django.urls import reverse

from accounts.tests.factories import StaffFactory

pytestmark = pytest.mark.django_db
ENGLISH = "If disabled, the current password for this user will be lost."
FRENCH = "Si elle est désactivée, le mot de passe actuel de cet utilisateur sera perdu."


@pytest.fixture
def page(db):
    staff = StaffFactory(username="jean.motdepasse")
    staff.set_password("an-old-password-2026")
    staff.save()
    return reverse("admin:auth_user_password_change", args=[staff.pk])


@pytest.mark.parametrize(("language", "shown", "hidden"), [("fr", FRENCH, ENGLISH), ("en", ENGLISH, FRENCH)])
def test_the_warning_is_in_the_pages_language(
    client, admin_user, page, language, shown, hidden, django_assert_num_queries
):
    client.force_login(admin_user)
    client.get(page)

    # session, user, the savepoint pair, the account whose password changes, the maintenance switch (the header)
    with django_assert_num_queries(6):
        response = client.get(page, language=language)

    assert response.status_code == 200
    body = response.content.decode()
    assert f'<li class="warning">{shown}</li>' in body
    assert hidden not in body
    assert "Authentification par mot de passe" in body if language == "fr" else "Password-based authentication" in body


def test_a_staff_member_who_is_not_a_superuser_gets_no_page(client, page):
    manager = StaffFactory(username="gestion.autre")
    client.force_login(manager)

    assert client.get(page).status_code in (403, 404)
