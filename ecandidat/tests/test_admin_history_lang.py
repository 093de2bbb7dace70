"""A history line written as a text (not Django's JSON change message) is in the institution's language on purpose
(« Adresse … enregistrée comme adresse vérifiée du compte. », ``settings.LANGUAGE_CODE``): the English « Historique »
page marks it ``lang="fr"`` (RGAA 8.7), so that a screen reader reads it with a French voice; a French page, and a
line Django writes in the reader's language, need no mark. Before the fix the English page showed the French text
unmarked."""

import json

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.utils import translation

from ecandidat.faq import save_faq_entry
from ecandidat.models import FaqEntry
from ecandidat.templatetags.admin_history import history_line

pytestmark = pytest.mark.django_db
ADMIN = "/gestion/ecandidat/faqentry/"
WRITTEN = "Adresse scolarite@univ.example enregistrée comme adresse <vérifiée> du compte."
ESCAPED = "Adresse scolarite@univ.example enregistrée comme adresse &lt;vérifiée&gt; du compte."


def _written_line(entry: FaqEntry, user_pk: int) -> LogEntry:
    return LogEntry.objects.create(
        user_id=user_pk,
        content_type=ContentType.objects.get_for_model(FaqEntry),
        object_id=str(entry.pk),
        object_repr=str(entry),
        action_flag=CHANGE,
        change_message=WRITTEN,
    )


def test_the_english_history_page_marks_a_line_written_in_french(client, central_manager):
    entry = save_faq_entry(entry=FaqEntry(order=1, question_fr="Comment ?", answer_fr="Ainsi."), actor=None)
    actor = get_user_model().objects.get(pk=central_manager.pk)
    _written_line(entry, actor.pk)
    client.force_login(actor)
    history = f"{ADMIN}{entry.pk}/history/"

    english = client.get(history, language="en").content.decode()
    french = client.get(history, language="fr").content.decode()

    assert f'<td><span lang="fr">{ESCAPED}</span></td>' in english
    assert f"<td>{ESCAPED}</td>" in french
    assert 'lang="fr">Adresse' not in french


@pytest.mark.parametrize(
    ("message", "language", "expected"),
    [
        ("Renvoyé.", "en", '<span lang="fr">Renvoyé.</span>'),
        ("[Pas du JSON", "en", '<span lang="fr">[Pas du JSON</span>'),
        ("Renvoyé.", "fr", "Renvoyé."),
        ("", "en", ""),
        # Django's own message, in the reader's words: no mark.
        (json.dumps([{"added": {}}]), "en", "Added."),
    ],
)
def test_only_a_written_text_read_in_another_language_is_marked(message, language, expected):
    with translation.override(language):
        line = history_line(LogEntry(change_message=message))

    assert str(line) == expected
