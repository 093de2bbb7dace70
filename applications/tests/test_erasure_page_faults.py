"""The account deletion page (``applications.admin.erasure``) when the service fails on a row of the account that
appeared while it was being deleted: ``ProtectedError`` (an application created meanwhile: ``Application.created_by``
protects the account) or ``IntegrityError``. The service's transaction rolled back, nothing is deleted; the page
caught only ``BusinessRuleError`` and the central office got a 500 page. It now shows the form again with a message
saying so (in French), and the staff member tries again."""

import logging

import pytest
from django.db import IntegrityError
from django.db.models import ProtectedError
from django.urls import reverse
from django.utils import translation
from django.utils.html import escape

from accounts.models import AccountDeletion, User
from applications.models import Candidate
from applications.services import erasure
from applications.tests.factories_candidature import complete_candidate

pytestmark = pytest.mark.django_db

PAGE = "admin:applications_candidate_delete_account"
CHANGED = "Le compte a changé pendant la suppression ; rien n'a été supprimé. Réessayez."
# The page posted: session, user, the request's savepoint, scope, permissions (2), the lookup, whether it is a staff
# account; then, the service failing, the page again: the dossier, the counts (applications, stored files, mails:
# the previous addresses, those another account uses, the count), and the savepoint's release.
QUERIES = 15


def _failing(error: Exception):
    def fail(**kwargs):
        raise error

    return fail


@pytest.mark.parametrize(
    "error",
    [
        ProtectedError("Cannot delete some instances of model 'User'", set()),
        IntegrityError('insert or update on table "applications_application" violates foreign key constraint'),
    ],
    ids=["protected", "integrity"],
)
def test_a_row_that_appeared_meanwhile_is_told_not_a_500(
    client, campaign, central_manager, monkeypatch, caplog, django_assert_num_queries, error
):
    candidate = complete_candidate(user__campaign=campaign)
    numero = candidate.user.username
    monkeypatch.setattr(erasure, "delete_candidate_account", _failing(error))
    client.force_login(central_manager)
    caplog.set_level(logging.WARNING, logger="applications.admin.erasure")

    with translation.override("fr"), django_assert_num_queries(QUERIES):
        response = client.post(
            reverse(PAGE),
            {"numero": numero, "what": "account", "notify": "on", "confirmation": numero},
            language="fr",
        )

    assert response.status_code == 200
    with translation.override("fr"):
        assert escape(CHANGED) in response.content.decode()  # « n'a » written n&#x27;a
    assert response.context["form"].non_field_errors() == [CHANGED]
    assert User.objects.filter(pk=candidate.user_id).exists()
    assert Candidate.objects.filter(pk=candidate.pk).exists()
    assert not AccountDeletion.objects.exists()
    assert [record.getMessage() for record in caplog.records] == [
        f"deletion of account {candidate.user_id} refused: the account changed meanwhile"
    ]
