"""The authentication backends (accounts/backends.py): Django's and allauth's, the account of each logged-in request
read by a prepared query."""

import pytest
from django.contrib.auth import BACKEND_SESSION_KEY
from django.urls import reverse

from accounts.backends import AuthenticationBackend, ModelBackend
from accounts.tests.factories import CandidateUserFactory
from accounts.tests.personas import PASSWORD

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("backend", [ModelBackend, AuthenticationBackend])
def test_get_user_is_djangos_rule(backend, campaign):
    user = CandidateUserFactory()
    assert backend().get_user(user.pk) == user
    assert backend().get_user(user.pk + 1000) is None
    user.is_active = False
    user.save()
    assert backend().get_user(user.pk) is None  # user_can_authenticate refuses inactive accounts


def test_a_candidate_logged_in_through_allauth_stays_logged_in(client, campaign, django_assert_num_queries):
    user = CandidateUserFactory()
    response = client.post(reverse("account_login"), {"login": user.username, "password": PASSWORD})
    assert response.status_code == 302
    assert client.session[BACKEND_SESSION_KEY] in (
        "accounts.backends.ModelBackend",
        "accounts.backends.AuthenticationBackend",
    )

    with django_assert_num_queries(3):  # session, account, the candidate's applications
        assert client.get(reverse("applications:application_list")).status_code == 200


def test_a_session_naming_a_backend_no_longer_listed_is_logged_out(client, campaign):
    user = CandidateUserFactory()
    client.force_login(user)
    session = client.session
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"  # opened before this change
    session.save()

    response = client.get(reverse("applications:application_list"))

    assert response.status_code == 302
    assert response.url.startswith(reverse("account_login"))
