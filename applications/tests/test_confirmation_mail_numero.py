"""The confirmation mail (CANDIDATURE_CONFIRM) gives the candidate's numéro de dossier, which the administrative
registration instructions it carries ask for (« avec votre numéro de dossier »): in the files, in French and in
English, in the mail sent through the outbox, and in the central office's texts still equal to the old files
(ecandidat 0012, both ways); a text an institution changed is left alone."""

import importlib

import pytest
from django.apps import apps

from applications.services import candidature as services
from applications.tests.factories_candidature import (
    ApplicationFactory,
    DecisionFactory,
    DecisionTypeFactory,
    complete_candidate,
)
from ecandidat import notifications
from ecandidat.mail_templates import file_version
from ecandidat.models import MailTemplate, OutboundEmail
from offers.enums import Avis
from offers.tests.factories import FormationFactory

pytestmark = pytest.mark.django_db

MIGRATION = importlib.import_module("ecandidat.migrations.0012_confirmation_mail_numero_dossier")
INSTRUCTIONS = "Connectez-vous à l'application d'inscription administrative avec votre numéro de dossier."


@pytest.fixture
def favourable(campaign, commission):
    formation = FormationFactory(
        centre=commission.centre,
        commission=commission,
        favourable_decision_type=DecisionTypeFactory(avis=Avis.FAVOURABLE),
        registration_instructions=INSTRUCTIONS,
    )
    candidate = complete_candidate(user__campaign=campaign, preferred_language="fr")
    application = ApplicationFactory(candidate=candidate, formation=formation, complete=True)
    DecisionFactory(application=application, decision_type=DecisionTypeFactory(avis=Avis.FAVOURABLE), validated=True)
    return application


@pytest.mark.parametrize(
    ("language", "line"),
    [("fr", "Votre identifiant (numéro de dossier) : "), ("en", "Your identifier (dossier number): ")],
)
def test_the_confirmation_mail_sent_gives_the_numero_de_dossier(
    favourable, language, line, django_capture_on_commit_callbacks
):
    user = favourable.candidate.user
    favourable.candidate.preferred_language = language
    favourable.candidate.save(update_fields=["preferred_language"])

    with django_capture_on_commit_callbacks(execute=True):
        services.confirm_application(application=favourable, actor=user)

    mail = OutboundEmail.objects.get(code="CANDIDATURE_CONFIRM")
    assert (mail.to, mail.language) == (user.email, language)
    assert f"{line}{user.username}\n" in mail.body
    assert INSTRUCTIONS in mail.body


@pytest.mark.parametrize("language", ["fr", "en"])
def test_the_editors_starting_text_gives_the_numero_de_dossier(language):
    _subject, body = file_version(notifications.get("CANDIDATURE_CONFIRM"), language)

    assert "${numero_dossier}" in body


def test_the_migration_adds_the_line_only_to_untouched_texts_and_takes_it_back(db):
    """A row still equal to the files' old text (the admin's textarea sends CRLF) gets the line; an edited one keeps
    every character; going back restores the old text."""
    edited = MIGRATION.OLD["en"].replace("Hello", "Dear")
    untouched = MailTemplate.objects.create(
        code="CANDIDATURE_CONFIRM",
        language="fr",
        subject="Confirmation",
        body=MIGRATION.OLD["fr"].replace("\n", "\r\n"),
        in_service=False,
    )
    changed = MailTemplate.objects.create(code="CANDIDATURE_CONFIRM", language="en", subject="Confirmed", body=edited)
    other = MailTemplate.objects.create(code="CANDIDATURE_DESIST", language="fr", subject="Désistement", body="Bye.")

    MIGRATION.add_numero_dossier(apps, None)

    untouched.refresh_from_db()
    assert (untouched.body, untouched.subject, untouched.in_service) == (MIGRATION.NEW["fr"], "Confirmation", False)
    assert "${numero_dossier}" in untouched.body
    assert MailTemplate.objects.get(pk=changed.pk).body == edited
    assert MailTemplate.objects.get(pk=other.pk).body == "Bye."

    MIGRATION.remove_numero_dossier(apps, None)

    assert MailTemplate.objects.get(pk=untouched.pk).body == MIGRATION.OLD["fr"]
    assert MailTemplate.objects.get(pk=changed.pk).body == edited


def test_a_central_office_text_equal_to_the_old_files_renders_the_numero_once_migrated(
    favourable, django_capture_on_commit_callbacks
):
    MailTemplate.objects.create(
        code="CANDIDATURE_CONFIRM", language="fr", subject="Candidature confirmée", body=MIGRATION.OLD["fr"]
    )
    MIGRATION.add_numero_dossier(apps, None)

    with django_capture_on_commit_callbacks(execute=True):
        services.confirm_application(application=favourable, actor=favourable.candidate.user)

    body = OutboundEmail.objects.get(code="CANDIDATURE_CONFIRM").body
    assert f"Votre identifiant (numéro de dossier) : {favourable.candidate.user.username}" in body


@pytest.mark.parametrize("language", ["fr", "en"])
def test_the_migrations_texts_are_the_files(language):
    """NEW is what the files give now (the French from the catalogue), so that a migrated row renders as the files."""
    assert file_version(notifications.get("CANDIDATURE_CONFIRM"), language)[1] == MIGRATION.NEW[language]
