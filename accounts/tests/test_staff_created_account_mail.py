"""Review findings on the mail of an account staff create for a candidate (issue 12, « Créer le compte d'un
candidat »):

F1. the candidate got « J'ai oublié mes identifiants » (CPT_MIN_ID_OUBLIE): a link valid 2 hours, « if you did not ask
    for this, ignore this e-mail », in the staff member's page language. They now get CPT_MIN_CREATE, saying the
    institution created the account, with the link that validates the address then leads to choosing a password,
    valid as long as an unvalidated account lives (UNVALIDATED_ACCOUNT_DAYS), in the account's language;
F2. CPT_MIN_CREATE said « 1 jours » / "1 days" with ``UNVALIDATED_ACCOUNT_DAYS=1``.
"""

import datetime
from contextlib import nullcontext

import pytest
from allauth.account.models import EmailAddress
from django.urls import reverse
from django.utils import timezone, translation

from accounts import services
from accounts.models import User
from ecandidat import mail_templates, notifications
from ecandidat.emails import render_email
from ecandidat.models import OutboundEmail

pytestmark = pytest.mark.django_db

SITE = "https://ecandidat.univ.example"
CREATE_ACCOUNT = "admin:applications_application_on_behalf_account"
NEW_PASSWORD = "Un-mot-de-passe-solide-42"


def _create(client, manager, *, language: str, queries=None):
    client.force_login(manager)
    data = {"email": "nina.roux@example.org", "last_name": "Roux", "first_name": "Nina"}
    with queries or nullcontext():
        response = client.post(reverse(CREATE_ACCOUNT), data, language=language)
    assert response.status_code == 302
    return User.objects.get(email="nina.roux@example.org")


def _link(mail: OutboundEmail) -> str:
    line = next(line for line in mail.body.splitlines() if line.startswith(SITE + "/"))
    return line.removeprefix(SITE)


@pytest.fixture
def site_url(settings):
    settings.SITE_URL = SITE


# --- F1 -------------------------------------------------------------------------------------------------------------


def test_staff_browsing_in_english_send_the_account_creation_mail_in_the_candidates_language(
    client, centre_manager, campaign, site_url, django_assert_num_queries
):
    # The page's queries, as before the fix (the account's language read instead of the past campaigns' addresses
    # released: the link does that): session, staff and rights, the campaign, the checks of the address, the
    # numéro de dossier, the account and its address, the account's language, the mail's text and outbox row, the
    # history (with savepoints).
    user = _create(client, centre_manager, language="en", queries=django_assert_num_queries(22))

    mail = OutboundEmail.objects.get()
    assert (mail.code, mail.to, mail.language) == ("CPT_MIN_CREATE", "nina.roux@example.org", "fr")
    assert mail.subject == "Création de votre compte eCandidat"
    assert "a créé pour vous un compte eCandidat" in mail.body
    assert user.username in mail.body
    assert "sous 5 jours" in mail.body
    for sentence in ("origine", "ignorez", "did not ask", "2 heures", "2 hours"):
        assert sentence not in mail.body
    # Created with its address to validate: the candidate proves it by the link (as at signup).
    assert not EmailAddress.objects.get(user=user).verified


def test_the_link_still_works_three_days_later_validates_the_address_and_sets_the_password_once(
    client, centre_manager, campaign, site_url, time_machine, django_assert_num_queries
):
    user = _create(client, centre_manager, language="en")
    link = _link(OutboundEmail.objects.get())
    client.logout()
    time_machine.move_to(timezone.now() + datetime.timedelta(days=3))  # the 2-hour reset link had expired

    # The maintenance switch, the address to validate, the site, whether another account holds it validated, its
    # account (allauth asks whether it can be confirmed), with a savepoint.
    with django_assert_num_queries(7):
        page = client.get(link, language="fr")
    assert page.status_code == 200
    assert page.context["confirmation"] is not None
    # As a signup's link: the address validated (and released from past campaigns' accounts), then the way to the
    # password (no ENT identity, no password yet).
    with django_assert_num_queries(12):
        confirmed = client.post(link, language="fr")
    assert confirmed.status_code == 302
    assert EmailAddress.objects.get(user=user).verified
    password_page = client.get(confirmed["Location"], follow=True, language="fr")
    assert 'name="password1"' in password_page.content.decode()
    done = client.post(
        password_page.redirect_chain[-1][0] if password_page.redirect_chain else confirmed["Location"],
        {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
        language="fr",
    )
    assert done.status_code == 302
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)

    # Single use: the same link no longer validates anything.
    again = client.get(link, language="fr")
    assert again.context["confirmation"] is None
    reposted = client.post(link, language="fr")
    assert "/password/" not in reposted.get("Location", "")
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)


def test_the_link_is_refused_once_an_unvalidated_account_would_be_purged(
    client, centre_manager, campaign, site_url, time_machine, settings
):
    _create(client, centre_manager, language="fr")
    link = _link(OutboundEmail.objects.get())
    client.logout()
    time_machine.move_to(timezone.now() + datetime.timedelta(days=settings.UNVALIDATED_ACCOUNT_DAYS, hours=1))

    assert client.get(link, language="fr").context["confirmation"] is None


def test_an_institution_writing_in_english_sends_english(client, centre_manager, campaign, site_url, settings):
    """The account has no dossier yet: its language is the institution's (``account_language``), here English,
    whatever the staff member's page (French)."""
    settings.LANGUAGE_CODE = "en"

    _create(client, centre_manager, language="fr")

    mail = OutboundEmail.objects.get()
    assert (mail.code, mail.language) == ("CPT_MIN_CREATE", "en")
    assert "has created an eCandidat account for you" in mail.body
    assert "did not ask" not in mail.body


def test_the_candidates_own_signup_mail_does_not_say_the_institution_created_it(
    client, campaign, site_url, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("account_signup"),
            {
                "email": "seule@example.org",
                "email2": "seule@example.org",
                "first_name": "Léa",
                "last_name": "Seule",
            },
            language="fr",
        )

    mail = OutboundEmail.objects.get(code="CPT_MIN_CREATE")
    assert "a été créé" in mail.body
    assert "pour vous" not in mail.body


# --- F2 -------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("days", "language", "expected", "wrong"),
    [
        (1, "fr", "sous 1 jour sont supprimés", "1 jours"),
        (1, "en", "within 1 day are deleted", "1 days"),
        (5, "fr", "sous 5 jours sont supprimés", None),
        (5, "en", "within 5 days are deleted", None),
    ],
)
def test_the_delay_before_deletion_agrees_with_its_number(
    settings, campaign, candidates_manager, days, language, expected, wrong, django_capture_on_commit_callbacks
):
    settings.UNVALIDATED_ACCOUNT_DAYS = days
    settings.LANGUAGE_CODE = language

    services.create_candidate_account(
        email="nina@example.org", first_name="Nina", last_name="Roux", actor=candidates_manager
    )

    body = OutboundEmail.objects.get().body
    assert expected in body
    if wrong:
        assert wrong not in body


@pytest.mark.parametrize("language", ["fr", "en"])
def test_the_staff_editable_text_and_its_preview_keep_the_delay(language, settings):
    """The central office's starting text (the files in the override syntax) prints the delay as the files do."""
    settings.UNVALIDATED_ACCOUNT_DAYS = 1
    mail_type = notifications.get("CPT_MIN_CREATE")
    subject, body = mail_templates.file_version(mail_type, language)
    assert "${unvalidated_delay}" in body
    context = {**mail_type.sample_context(), "created_by_staff": True}
    with translation.override(language):
        overridden = mail_templates.render_override(subject, body, mail_type, context)
    from_files = render_email(mail_type.template_base, context, language=language)
    assert overridden[1].strip() == from_files[1].strip()
    assert ("sous 5 jours" if language == "fr" else "within 5 days") in overridden[1]  # the sample: 5 days
