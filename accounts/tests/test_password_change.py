"""A candidate changes their password ("Modifier mon mot de passe", allauth's page in the site's layout)."""

from django.test import Client
from django.urls import reverse

from accounts.tests.factories import CandidateUserFactory
from accounts.tests.personas import PASSWORD

PAGE = reverse("account_change_password")
NEW = "un-nouveau-mot-de-passe-2026"
FRENCH = {"language": "fr"}


def test_the_page_is_in_the_site_layout_and_linked_from_the_menu(client, candidate_user, django_assert_num_queries):
    client.force_login(candidate_user)

    with django_assert_num_queries(4):  # session, account, the request's savepoint pair
        response = client.get(PAGE, **FRENCH)

    html = response.content.decode()
    assert response.status_code == 200
    assert "<h1>Modifier mon mot de passe</h1>" in html
    assert 'autocomplete="current-password"' in html
    assert "placeholder" not in html  # the labels are enough (RGAA 11.1): allauth's grey copies are dropped
    assert 'aria-describedby="id_password1_helptext"' in html
    assert '<div class="help" id="id_password1_helptext">' in html  # the element the field points at
    assert f'href="{PAGE}"' in html  # the menu's link
    assert "Vos autres sessions" in html


def test_a_wrong_current_password_is_said_next_to_it_and_changes_nothing(client, candidate_user):
    client.force_login(candidate_user)

    response = client.post(PAGE, {"oldpassword": "pas-le-bon", "password1": NEW, "password2": NEW}, **FRENCH)

    assert response.status_code == 200
    assert response.context["form"].errors["oldpassword"] == ["Ce n'est pas votre mot de passe actuel."]
    candidate_user.refresh_from_db()
    assert candidate_user.check_password(PASSWORD)


def test_the_change_keeps_this_session_and_ends_the_others(client, candidate_user):
    other_device = Client()
    other_device.force_login(candidate_user)
    client.force_login(candidate_user)

    response = client.post(PAGE, {"oldpassword": PASSWORD, "password1": NEW, "password2": NEW}, **FRENCH)

    assert response.status_code == 302
    candidate_user.refresh_from_db()
    assert candidate_user.check_password(NEW)
    assert client.get(reverse("accounts:email_change")).status_code == 200
    assert other_device.get(reverse("accounts:email_change")).status_code == 302


def test_anonymous_goes_to_the_login(client, db):
    response = client.get(PAGE)

    assert response.status_code == 302
    assert response.url.startswith(reverse("account_login"))


def test_an_ent_account_without_a_password_gets_no_link(client, campaign):
    student = CandidateUserFactory(campaign=campaign)
    student.set_unusable_password()
    student.save()
    client.force_login(student)

    html = client.get(reverse("home"), **FRENCH).content.decode()

    assert f'href="{PAGE}"' not in html
