"""The helpdesk's mails to an account without a dossier are in the language its owner signed up in.

The finding: the only language an account kept was its dossier's (``Candidate.preferred_language``), so a candidate
who signed up with the site in English got the validation link sent again by the helpdesk, the helpdesk's change of
their address and the notice to their former address in French, while their own requests were in English. The
account now keeps the language of the signup page (``User.language``, set by ``AccountAdapter.save_user``), after
the dossier's."""

import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import translation

from accounts import services
from accounts.models import User
from accounts.tests.factories import CandidateUserFactory
from accounts.tests.mfa import Client
from applications.tests.factories import CandidateFactory
from ecandidat.models import OutboundEmail

pytestmark = pytest.mark.django_db

ADDRESS = "amelia.brown@example.org"
SIGNUP = {"last_name": "Brown", "first_name": "Amelia", "email": ADDRESS, "email2": ADDRESS}
PAGES = [("en", "fr"), ("fr", "en")]  # (the candidate's signup page, the helpdesk agent's page)


@pytest.fixture(autouse=True)
def _no_rate_limit_history():
    cache.clear()  # allauth's limits live in the cache, per address
    yield
    cache.clear()


def _sign_up(language, capture) -> User:
    with capture(execute=True):
        response = Client().post(reverse("account_signup"), SIGNUP, language=language)
    assert response.status_code == 302
    return User.objects.get(email=ADDRESS)


def _helpdesk(candidates_manager, language) -> Client:
    client = Client()
    client.language = language
    client.force_login(candidates_manager)
    return client


def _mails() -> list[tuple[str, str, str]]:
    return list(OutboundEmail.objects.order_by("pk").values_list("code", "to", "language"))


@pytest.mark.parametrize("page", ["en", "fr"])
def test_the_account_keeps_the_language_of_its_signup_page(campaign, page, django_capture_on_commit_callbacks):
    account = _sign_up(page, django_capture_on_commit_callbacks)

    assert account.language == page
    assert _mails() == [("CPT_MIN_CREATE", ADDRESS, page)]
    assert services.account_language(account) == page


@pytest.mark.parametrize(("candidate_page", "agent_page"), PAGES)
def test_the_validation_link_sent_again_is_in_the_signup_language(
    campaign, candidates_manager, candidate_page, agent_page, django_capture_on_commit_callbacks
):
    account = _sign_up(candidate_page, django_capture_on_commit_callbacks)
    client = _helpdesk(candidates_manager, agent_page)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("admin:accounts_candidateaccount_resend_validation", args=[account.pk]))

    assert response.status_code == 302
    assert _mails() == [("CPT_MIN_CREATE", ADDRESS, candidate_page)] * 2


@pytest.mark.parametrize(("candidate_page", "agent_page"), PAGES)
def test_the_helpdesks_address_change_is_in_the_signup_language(
    campaign, candidates_manager, candidate_page, agent_page, django_capture_on_commit_callbacks
):
    account = _sign_up(candidate_page, django_capture_on_commit_callbacks)
    client = _helpdesk(candidates_manager, agent_page)
    url = reverse("admin:accounts_candidateaccount_account_email", args=[account.pk])

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"email": "amelia.b@example.org", "email2": "amelia.b@example.org"})

    assert response.status_code == 302
    assert _mails()[1:] == [
        ("CPT_MIN_MODIF_MAIL", "amelia.b@example.org", candidate_page),
        ("CPT_MIN_MODIF_MAIL_ANCIEN", ADDRESS, candidate_page),
    ]


@pytest.mark.parametrize(("kept", "dossier", "expected"), [("en", "fr", "fr"), ("fr", "en", "en"), ("en", None, "en")])
def test_the_dossiers_language_comes_first(campaign, kept, dossier, expected):
    account = CandidateUserFactory(campaign=campaign, email=ADDRESS, language=kept)
    if dossier:
        CandidateFactory(user=account, preferred_language=dossier)

    assert services.account_language(account) == expected
    assert services.owner_language(email=ADDRESS.upper(), campaign=campaign) == expected


def test_an_account_that_kept_no_language_is_written_to_in_the_institutions(campaign, settings):
    """Accounts made before the field, and by staff (« Créer un compte candidat »: the agent's page is not the
    candidate's): as before, the institution's language."""
    account = CandidateUserFactory(campaign=campaign, email=ADDRESS)

    assert account.language == ""
    with translation.override("en"):
        assert services.account_language(account) == settings.LANGUAGE_CODE == "fr"


def test_an_account_created_by_the_helpdesk_keeps_no_language(campaign, candidates_manager):
    with translation.override("en"):  # the agent's page
        account = services.create_candidate_account(
            email=ADDRESS, first_name="Amelia", last_name="Brown", actor=candidates_manager
        )

    assert account.language == ""
    assert OutboundEmail.objects.get().language == "fr"


def test_an_address_already_used_is_told_to_its_owner_in_their_signup_language(
    campaign, django_capture_on_commit_callbacks
):
    """« Compte existant » to the owner of an address without a dossier: the language they signed up in, not the
    French page of whoever typed their address again."""
    _sign_up("en", django_capture_on_commit_callbacks)

    with django_capture_on_commit_callbacks(execute=True):
        Client().post(reverse("account_signup"), SIGNUP, language="fr")

    assert _mails() == [("CPT_MIN_CREATE", ADDRESS, "en"), ("CPT_MIN_EXISTE", ADDRESS, "en")]
