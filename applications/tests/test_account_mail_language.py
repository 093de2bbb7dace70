"""The account mails staff trigger (a new address, the validation link sent again) are written in the candidate's
language (the dossier's ``preferred_language``, README: « la langue de ses mails »), not in the language of the staff
member's page; the candidate's own change stays in the language of their page."""

import pytest
from allauth.account.models import EmailAddress
from django.core.cache import cache
from django.urls import reverse
from django.utils import translation

from accounts.models import User
from accounts.services import change_email
from applications.tests.factories import CandidateFactory
from ecandidat.models import OutboundEmail

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_rate_limit_history():
    cache.clear()  # allauth's limits live in the cache, per address
    yield
    cache.clear()


LANGUAGES = [("en", "fr"), ("fr", "en")]  # (the candidate's, the staff member's page's)


@pytest.mark.parametrize(("candidate_language", "staff_language"), LANGUAGES)
def test_the_address_changed_by_staff_is_validated_in_the_candidates_language(
    client, candidates_manager, campaign, candidate_language, staff_language, django_capture_on_commit_callbacks
):
    candidate = CandidateFactory(user__campaign=campaign, preferred_language=candidate_language)
    client.force_login(candidates_manager)
    client.language = staff_language
    url = reverse("admin:applications_candidate_account_email", args=[candidate.pk])

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"email": "neuve@example.org", "email2": "neuve@example.org"})

    assert response.status_code == 302
    (email,) = OutboundEmail.objects.filter(to="neuve@example.org")
    assert (email.code, email.language) == ("CPT_MIN_MODIF_MAIL", candidate_language)


@pytest.mark.parametrize(("candidate_language", "staff_language"), LANGUAGES)
def test_the_link_sent_again_by_staff_is_in_the_candidates_language(
    client, candidates_manager, campaign, candidate_language, staff_language, django_capture_on_commit_callbacks
):
    candidate = CandidateFactory(user__campaign=campaign, preferred_language=candidate_language)
    EmailAddress.objects.filter(user=candidate.user).update(verified=False)
    User.objects.filter(pk=candidate.user.pk).update(last_login="2026-11-02T10:00:00Z")
    client.force_login(candidates_manager)
    client.language = staff_language

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("admin:accounts_candidateaccount_resend_validation", args=[candidate.user.pk]))

    assert response.status_code == 302
    (email,) = OutboundEmail.objects.all()
    assert (email.to, email.code, email.language) == (candidate.user.email, "CPT_MIN_MODIF_MAIL", candidate_language)


@pytest.mark.parametrize("page_language", ["fr", "en"])
def test_the_candidates_own_change_is_in_the_language_of_their_page(page_language, campaign):
    candidate = CandidateFactory(user__campaign=campaign, preferred_language="fr" if page_language == "en" else "en")

    with translation.override(page_language):
        assert change_email(user=candidate.user, new_email="neuve@example.org", actor=candidate.user) is True

    (email,) = OutboundEmail.objects.filter(to="neuve@example.org")
    assert email.language == page_language
