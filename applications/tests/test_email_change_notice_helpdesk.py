"""The helpdesk's change of an account's address is told to the former address too
(CPT_MIN_MODIF_MAIL_ANCIEN, ``accounts/tests/test_email_change_notice.py`` for the candidate's own change), in the
owner's language, saying it was the helpdesk."""

import datetime

import pytest
import time_machine
from django.core.cache import cache
from django.utils import translation

from accounts.models import User
from applications.enums import EventKind
from applications.services.dossier import staff_change_account_email
from applications.tests.factories import CandidateFactory
from applications.tests.factories_candidature import ApplicationFactory
from ecandidat.models import OutboundEmail

pytestmark = pytest.mark.django_db

NEW = "nouvelle.adresse@example.org"
MASKED = "n•••e@example.org"
NOTICE = "CPT_MIN_MODIF_MAIL_ANCIEN"
# 13:32 UTC: 14:32 in Paris (TIME_ZONE), in winter.
WHEN = datetime.datetime(2027, 1, 15, 13, 32, tzinfo=datetime.UTC)


@pytest.fixture(autouse=True)
def _limits():
    cache.clear()  # allauth's limits live in the cache, per address
    yield
    cache.clear()


def _mails() -> list[tuple[str, str]]:
    return list(OutboundEmail.objects.order_by("pk").values_list("code", "to"))


@pytest.mark.parametrize(("candidate_language", "staff_language"), [("en", "fr"), ("fr", "en")])
def test_the_helpdesk_change_is_told_in_the_owners_language(
    campaign, candidates_manager, candidate_language, staff_language, django_capture_on_commit_callbacks
):
    candidate = CandidateFactory(user__campaign=campaign, preferred_language=candidate_language)
    old = candidate.user.email

    with (
        time_machine.travel(WHEN, tick=False),
        translation.override(staff_language),
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert staff_change_account_email(account=candidate.user, new_email=NEW, actor=candidates_manager).recorded

    assert _mails() == [("CPT_MIN_MODIF_MAIL", NEW), (NOTICE, old)]
    notice = OutboundEmail.objects.get(code=NOTICE)
    assert notice.language == candidate_language
    numero = candidate.user.username
    if candidate_language == "en":
        assert f"(dossier number {numero}) was changed by the helpdesk on 15 January 2027 at 14:32." in notice.body
        assert "by you" not in notice.body
    else:
        assert notice.subject == "L'adresse mail de votre compte eCandidat a été modifiée"
        assert (
            f"(numéro de dossier {numero}) a été modifiée par l'assistance le 15 janvier 2027 à 14:32." in notice.body
        )
        assert f"Sa nouvelle adresse est {MASKED} :" in notice.body


def test_the_same_change_submitted_twice_is_recorded_once(campaign, candidates_manager, commission):
    """A double click on the helpdesk's « Modifier l'adresse » sends two requests that both loaded the account with
    its former address; the second waits for the first's lock. It now reads the address under the lock, finds the
    change made, and records nothing (the history said « ancienne → nouvelle » twice)."""
    application = ApplicationFactory(candidate__user__campaign=campaign, formation__commission=commission)
    account = application.candidate.user
    as_loaded_by_the_second_request = User.objects.get(pk=account.pk)

    first = staff_change_account_email(account=account, new_email=NEW, actor=candidates_manager)
    second = staff_change_account_email(
        account=as_loaded_by_the_second_request, new_email=NEW, actor=candidates_manager
    )

    assert (first.refused, bool(first.recorded)) == (False, True)
    assert (second.refused, second.recorded) == (False, "")
    changes = application.events.filter(kind=EventKind.DOSSIER_CHANGED_BY_STAFF)
    assert list(changes.values_list("comment", flat=True)) == [first.recorded]
    assert OutboundEmail.objects.filter(code="CPT_MIN_MODIF_MAIL").count() == 1
