"""The candidate is told when the helpdesk removes their account's second factor (CPT_MIN_DOUBLE_AUTH_RETIREE,
``accounts.services.remove_candidate_second_factor``).

Before, the removal sent nothing: a caller who talked the helpdesk into removing someone else's second factor (with
their password already in hand) got into the account, and its owner never heard of it. Every other change of how an
account is entered tells its owner (the former address hears of an address change: CPT_MIN_MODIF_MAIL_ANCIEN).
"""

import datetime

import pytest
import time_machine
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import translation

from accounts.services import remove_candidate_second_factor
from applications.tests.factories import CandidateFactory
from ecandidat import notifications
from ecandidat.models import MailTemplate, OutboundEmail

pytestmark = pytest.mark.django_db

NOTICE = "CPT_MIN_DOUBLE_AUTH_RETIREE"
# 13:32 UTC: 14:32 in Paris (TIME_ZONE), in winter.
WHEN = datetime.datetime(2027, 1, 15, 13, 32, tzinfo=datetime.UTC)
SITE = "https://ecandidat.univ.example"


@pytest.fixture(autouse=True)
def _site(settings):
    settings.SITE_URL = SITE
    settings.INSTITUTION_CONTACT_EMAIL = "assistance@univ.example"


def _protected(campaign, language: str, *, recovery_codes: bool = True):
    """A candidate whose dossier keeps ``language``, with an authenticator app (and its recovery codes)."""
    candidate = CandidateFactory(
        user__campaign=campaign, user__first_name="Inès", user__last_name="Protégée", preferred_language=language
    )
    TOTP.activate(candidate.user, generate_totp_secret())
    if recovery_codes:
        RecoveryCodes.activate(candidate.user)
    return candidate.user


@pytest.mark.parametrize(("candidate_language", "staff_language"), [("en", "fr"), ("fr", "en")])
def test_the_candidate_is_told_in_their_language_once_the_removal_commits(
    campaign, candidates_manager, candidate_language, staff_language, mailoutbox, django_capture_on_commit_callbacks
):
    user = _protected(campaign, candidate_language)

    with (
        time_machine.travel(WHEN, tick=False),
        translation.override(staff_language),  # the helpdesk's page: not the candidate's language
        django_capture_on_commit_callbacks(execute=True) as callbacks,
    ):
        assert remove_candidate_second_factor(user=user, actor=candidates_manager) == 2

    notice = OutboundEmail.objects.get()
    assert (notice.code, notice.to, notice.about_id, notice.language) == (
        NOTICE,
        user.email,
        user.pk,
        candidate_language,
    )
    assert len(callbacks) == 1  # its sending, scheduled on commit
    assert [(message.to, message.subject) for message in mailoutbox] == [([user.email], notice.subject)]
    numero = user.username
    if candidate_language == "en":
        assert notice.subject == "The second factor of your eCandidat account has been removed"
        assert notice.body.startswith("Hello Inès Protégée,\n")
        assert (
            f"The helpdesk removed the second factor of your eCandidat account (dossier number {numero}) on "
            "15 January 2027 at 14:32: the authenticator app and the recovery codes." in notice.body
        )
        assert "You may activate a new authenticator app from your account." in notice.body
        assert "change your password and contact the helpdesk at once, by writing to assistance@univ.example" in (
            notice.body
        )
    else:
        assert notice.subject == "Le second facteur de votre compte eCandidat a été retiré"
        assert notice.body.startswith("Bonjour Inès Protégée,\n")
        assert (
            f"L'assistance a retiré le second facteur de votre compte eCandidat (numéro de dossier {numero}) le "
            "15 janvier 2027 à 14:32 : l'application d'authentification et les codes de récupération." in notice.body
        )
        assert "changez votre mot de passe et contactez sans attendre l'assistance en écrivant à " in notice.body
        assert "assistance@univ.example" in notice.body
    assert f"{SITE}/\n" in notice.body


def test_the_notice_names_only_what_was_removed(campaign, candidates_manager):
    user = _protected(campaign, "en", recovery_codes=False)

    assert remove_candidate_second_factor(user=user, actor=candidates_manager) == 1

    body = OutboundEmail.objects.get(code=NOTICE).body
    assert ": the authenticator app.\n" in body
    assert "recovery codes" not in body


def test_nothing_is_sent_when_nothing_was_removed(campaign, candidates_manager, django_capture_on_commit_callbacks):
    """A double submit's second request (or another member of staff was first) removes 0 rows: no second notice."""
    user = _protected(campaign, "fr")
    remove_candidate_second_factor(user=user, actor=candidates_manager)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert remove_candidate_second_factor(user=user, actor=candidates_manager) == 0

    assert callbacks == []
    assert OutboundEmail.objects.filter(code=NOTICE).count() == 1


class _AfterTheRemoval(Exception):
    pass


def _remove_then_fail(*, user, actor) -> None:
    """The removal, then a failure in the same outer transaction (a caller's later step): all of it rolls back."""
    with transaction.atomic():
        assert remove_candidate_second_factor(user=user, actor=actor) == 2
        raise _AfterTheRemoval


def test_nothing_is_sent_when_the_removal_rolls_back(
    campaign, candidates_manager, mailoutbox, django_capture_on_commit_callbacks
):
    user = _protected(campaign, "fr")

    with django_capture_on_commit_callbacks(execute=True) as callbacks, pytest.raises(_AfterTheRemoval):
        _remove_then_fail(user=user, actor=candidates_manager)

    assert Authenticator.objects.filter(user=user).count() == 2  # the removal rolled back…
    assert not OutboundEmail.objects.exists()  # …and its notice with it
    assert callbacks == []
    assert mailoutbox == []


def test_the_notice_is_a_security_mail_the_central_office_cannot_switch_off(campaign, candidates_manager):
    assert NOTICE in notifications.ALWAYS_ON_CODES
    assert notifications.get(NOTICE).required == ("removed_factors",)
    switched_off = MailTemplate(code=NOTICE, language="fr", subject="s", body="${removed_factors}", in_service=False)
    with pytest.raises(ValidationError) as error:
        switched_off.full_clean()
    assert list(error.value.message_dict) == ["in_service"]
    with pytest.raises(ValidationError) as error:  # its text must say what was removed
        MailTemplate(code=NOTICE, language="fr", subject="s", body="Bonjour").full_clean()
    assert list(error.value.message_dict) == ["body"]
    with pytest.raises(IntegrityError), transaction.atomic():  # the database refuses it too (ecandidat 0017)
        switched_off.save()

    # The central office's own text, in service, is what the candidate reads.
    MailTemplate.objects.create(
        code=NOTICE, language="fr", subject="Sécurité de votre compte", body="Retiré : ${removed_factors}."
    )
    remove_candidate_second_factor(user=_protected(campaign, "fr"), actor=candidates_manager)

    notice = OutboundEmail.objects.get(code=NOTICE)
    assert (notice.subject, notice.body.strip()) == (
        "Sécurité de votre compte",
        "Retiré : l'application d'authentification et les codes de récupération.",
    )


@pytest.mark.parametrize(
    ("language", "factors"),
    [
        ("fr", "le 15 janvier 2027 à 14:32 : l'application d'authentification et les codes de récupération."),
        ("en", "on 15 January 2027 at 14:32: the authenticator app and the recovery codes."),
    ],
)
def test_the_back_office_lists_and_previews_it_with_its_samples(
    client, central_manager, language, factors, django_assert_num_queries
):
    client.force_login(central_manager)
    chooser = client.get(reverse("admin:ecandidat_mailtemplate_add"), language="fr").content.decode()
    assert NOTICE in chooser
    assert "Second facteur retiré par l&#x27;assistance, avis au candidat" in chooser
    assert "L&#x27;assistance retire le second facteur du compte d&#x27;un candidat" in chooser
    assert f"preview/?code={NOTICE}&amp;language={language}" in chooser

    # Session, user, the request's savepoint and its release, the staff scope, Django's permissions (2: the
    # sidebar), the lookup of an override for (code, language): as every mail's preview.
    with django_assert_num_queries(8):
        response = client.get(reverse("admin:ecandidat_mailtemplate_preview"), {"code": NOTICE, "language": language})

    assert response.status_code == 200
    assert factors in response.context["body"]
    assert not OutboundEmail.objects.exists()
