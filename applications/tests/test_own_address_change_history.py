"""A candidate with a dossier who changes their own address (« Modifier mon adresse mail »): the line goes to the
dossier's history, where the helpdesk's changes of such an account's address are written (from the dossier's page),
as well as to the account's, beside its logins. Nothing said it before: the helpdesk saw an address to validate."""

import pytest
from django.contrib.admin.models import LogEntry
from django.core.cache import cache
from django.urls import reverse

from accounts.tests.mfa import Client
from applications.tests.factories import CandidateFactory
from ecandidat.models import OutboundEmail

pytestmark = pytest.mark.django_db

NEW = "nouvelle.adresse@example.org"
OWN_CHANGE = "Adresse mail du compte : {old} → {new} (modifiée par le candidat, à valider par le lien envoyé)"


@pytest.fixture(autouse=True)
def _no_rate_limit_history():
    cache.clear()  # allauth's limits live in the cache
    yield
    cache.clear()


def test_the_own_change_of_an_account_with_a_dossier_is_in_the_dossiers_history(
    client, campaign, candidates_manager, django_capture_on_commit_callbacks, django_assert_num_queries
):
    candidate = CandidateFactory(user__campaign=campaign, preferred_language="en")
    account = candidate.user
    old = account.email
    client.force_login(account)

    # The page's 27 queries without a dossier (accounts/tests/test_email_change.py), and the dossier's line.
    with django_capture_on_commit_callbacks(execute=True), django_assert_num_queries(28):
        response = client.post(reverse("accounts:email_change"), {"email": NEW, "email2": NEW})

    assert response.status_code == 302
    line = OWN_CHANGE.format(old=old, new=NEW)
    rows = LogEntry.objects.order_by("content_type__model").values_list(
        "content_type__model", "object_id", "user_id", "change_message"
    )
    assert list(rows) == [
        ("candidate", str(candidate.pk), account.pk, line),
        ("candidateaccount", str(account.pk), account.pk, line),
    ]
    assert OutboundEmail.objects.get(code="CPT_MIN_MODIF_MAIL").language == "en"  # the page's, as before
    helpdesk = Client()
    helpdesk.force_login(candidates_manager)
    page = helpdesk.get(reverse("admin:applications_candidate_history", args=[candidate.pk]))
    assert page.status_code == 200
    assert line in page.content.decode()
