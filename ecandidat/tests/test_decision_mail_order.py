"""The decision mails that carry both links give the decision letter's before the application's, in French and in
English, in the files, in the editor's starting text, and in the central office's texts still equal to the old files
(ecandidat 0011); a text an institution changed is left alone."""

import importlib
import re

import pytest
from django.apps import apps

from ecandidat import emails, notifications
from ecandidat.mail_templates import file_version
from ecandidat.models import MailTemplate

MIGRATION = importlib.import_module("ecandidat.migrations.0011_favourable_mail_letter_first")
LETTER, RECAP = "https://ecandidat.example/lettre/", "https://ecandidat.example/candidature/"
# Every mail with both variables: each must say them in that order.
BOTH = [n.code for n in notifications.registered() if {"letter_url", "recap_url"} <= set(n.names)]


def test_the_decision_mails_are_the_ones_with_both_links():
    assert sorted(BOTH) == ["AVIS_DEFAVORABLE", "AVIS_FAVORABLE"]


@pytest.mark.parametrize("language", ["fr", "en"])
@pytest.mark.parametrize("attached", [True, False], ids=["letter attached", "letter linked"])
@pytest.mark.parametrize("code", BOTH)
def test_the_files_give_the_letter_first(db, code, language, attached):
    context = dict.fromkeys(notifications.get(code).names, "")
    context.update(letter_url=LETTER, letter_attached=attached, recap_url=RECAP, confirmation_date="")

    _subject, body, _html = emails.render(code, context, language=language)

    assert LETTER in body
    assert body.index(LETTER) < body.index(RECAP)


@pytest.mark.parametrize("language", ["fr", "en"])
@pytest.mark.parametrize("code", BOTH)
def test_the_editors_starting_text_gives_the_letter_first(code, language):
    _subject, body = file_version(notifications.get(code), language)

    assert body.index("${letter_url}") < body.index("${recap_url}")


def test_the_migration_moves_only_the_untouched_old_texts(db):
    """A row still equal to the files' old text (saved from the editor's starting text, e.g. to take the mail out of
    service; the admin's textarea sends CRLF) gets the new order; an edited one keeps every character."""
    edited = MIGRATION.OLD["en"].replace("Hello", "Dear")
    untouched = MailTemplate.objects.create(
        code="AVIS_FAVORABLE",
        language="fr",
        subject="Avis",
        body=MIGRATION.OLD["fr"].replace("\n", "\r\n"),
        in_service=False,
    )
    changed = MailTemplate.objects.create(code="AVIS_FAVORABLE", language="en", subject="Decision", body=edited)
    other = MailTemplate.objects.create(code="AVIS_DEFAVORABLE", language="fr", subject="Avis", body="Refus.")

    MIGRATION.letter_first(apps, None)

    untouched.refresh_from_db()
    assert (untouched.body, untouched.subject, untouched.in_service) == (MIGRATION.NEW["fr"], "Avis", False)
    assert MailTemplate.objects.get(pk=changed.pk).body == edited
    assert MailTemplate.objects.get(pk=other.pk).body == "Refus."

    MIGRATION.letter_last(apps, None)

    assert MailTemplate.objects.get(pk=untouched.pk).body == MIGRATION.OLD["fr"]


@pytest.mark.parametrize("language", ["fr", "en"])
def test_the_migrations_texts_are_the_files(language):
    """NEW is what the files gave then (the French from the catalogue), so that a migrated row renders as the files:
    they have since only added the hour the site closes (``${deadline_hour}``, empty without a maintenance window)."""
    body = file_version(notifications.get("AVIS_FAVORABLE"), language)[1]
    closing = re.search(r"\{if\(\$deadline_hour\)\}.*?\{endif\(\$deadline_hour\)\}", body)
    assert closing is not None
    assert body.replace(closing.group(0), "") == MIGRATION.NEW[language]
