"""« Compte existant » (CPT_MIN_EXISTE, and CPT_MIN_MODIF_MAIL_EXISTE when a candidate changes their address to one
in use) goes to the owner of the address in the language their dossier keeps (``Candidate.preferred_language``),
else the institution's (French): it went out in the language of whoever typed the address. What that person sees
stays the same whether the address has an account or not."""

import re

import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import translation

from accounts import services
from accounts.tests.factories import CandidateUserFactory
from accounts.tests.mfa import Client
from applications.tests.factories import CandidateFactory
from ecandidat.models import OutboundEmail

pytestmark = pytest.mark.django_db

ADDRESS = "estelle.durand@example.org"
SIGNUP = {"last_name": "Durand", "first_name": "Estelle", "email": ADDRESS.upper(), "email2": ADDRESS.upper()}
SUBJECTS = {"fr": "Votre compte eCandidat existe déjà", "en": "Your eCandidat account already exists"}


@pytest.fixture(autouse=True)
def _no_rate_limit_left_by_other_tests():
    cache.clear()  # allauth counts the signups per address in the cache (20 an hour)
    yield
    cache.clear()


def _without_tokens(html: str) -> str:
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", html)


def _sign_up(client, language, capture):
    client.language = language  # the pages the signup leads to too
    with capture(execute=True):
        return client.post(reverse("account_signup"), SIGNUP, language=language, follow=True)


@pytest.mark.parametrize(
    ("owner_reads", "signer_reads", "mail_in"),
    [
        ("en", "fr", "en"),  # the owner's language, not the French of whoever signed up
        ("fr", "en", "fr"),
        (None, "en", "fr"),  # an account without a dossier: the institution's
    ],
)
def test_the_mail_is_in_the_language_of_the_owner(
    client, campaign, mailoutbox, django_capture_on_commit_callbacks, owner_reads, signer_reads, mail_in
):
    owner = CandidateUserFactory(campaign=campaign, email=ADDRESS)
    if owner_reads:
        CandidateFactory(user=owner, preferred_language=owner_reads)

    page = _sign_up(client, signer_reads, django_capture_on_commit_callbacks)

    row = OutboundEmail.objects.get(code="CPT_MIN_EXISTE")
    assert (row.language, row.subject) == (mail_in, SUBJECTS[mail_in])
    assert mailoutbox[0].to == [ADDRESS]
    assert mailoutbox[0].subject.endswith(SUBJECTS[mail_in])
    assert signer_reads == page.wsgi_request.LANGUAGE_CODE
    assert f'<html lang="{signer_reads}"' in page.text  # the page stays in the signer's language


@pytest.mark.parametrize("language", ["fr", "en"])
def test_the_page_is_the_same_whether_the_address_has_an_account_or_not(
    campaign, django_capture_on_commit_callbacks, language
):
    fresh = _sign_up(Client(), language, django_capture_on_commit_callbacks)  # creates the address's account
    taken = _sign_up(Client(), language, django_capture_on_commit_callbacks)  # someone else, the same address

    assert [row.code for row in OutboundEmail.objects.order_by("pk")] == ["CPT_MIN_CREATE", "CPT_MIN_EXISTE"]
    assert taken.redirect_chain == fresh.redirect_chain
    assert taken.status_code == fresh.status_code == 200
    assert _without_tokens(taken.text) == _without_tokens(fresh.text)


@pytest.mark.parametrize(("owner_reads", "mail_in"), [("en", "en"), ("fr", "fr"), (None, "fr")])
def test_an_address_change_to_an_address_in_use_mails_its_owner_in_their_language(
    campaign, django_capture_on_commit_callbacks, owner_reads, mail_in
):
    owner = CandidateUserFactory(campaign=campaign, email=ADDRESS)
    if owner_reads:
        CandidateFactory(user=owner, preferred_language=owner_reads)
    other = "en" if mail_in == "fr" else "fr"  # the candidate who changes their address reads the other language
    candidate = CandidateFactory(user=CandidateUserFactory(campaign=campaign), preferred_language=other)

    with translation.override(other), django_capture_on_commit_callbacks(execute=True):
        changed = services.change_email(user=candidate.user, new_email=ADDRESS, actor=candidate.user)

    assert changed is False
    assert OutboundEmail.objects.get(code="CPT_MIN_MODIF_MAIL_EXISTE").language == mail_in
