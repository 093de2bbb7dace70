"""The back office's history (Django's LogEntry, the « Historique » page of a row) names a changed field by the
model's words, stored untranslated and translated when shown: Django stored the form's capitalised label
(« Question in French »), which no catalogue translates, so the French history read « Modification de Question in
French. ». Applied to every ModelAdmin at once (``ecandidat/admin.py``; the rule in test_consistency.py)."""

import json
from types import SimpleNamespace
from typing import Any

import pytest
from django.contrib import admin
from django.contrib.admin.models import LogEntry
from django.utils import translation

from ecandidat.faq import save_faq_entry
from ecandidat.models import FaqEntry
from ecandidat.templatetags.admin_history import history_line

pytestmark = pytest.mark.django_db
ADMIN = "/gestion/ecandidat/faqentry/"


def _entry() -> FaqEntry:
    return save_faq_entry(
        entry=FaqEntry(order=1, question_fr="Comment déposer une pièce ?", answer_fr="Par l'onglet « Pièces »."),
        actor=None,
    )


def test_the_history_names_the_changed_fields_in_the_language_of_the_reader(
    client, central_manager, django_assert_num_queries
):
    entry = _entry()
    client.force_login(central_manager)
    posted = {
        "order": 1,
        "question_fr": "Comment déposer un fichier ?",
        "answer_fr": entry.answer_fr,
        "question_en": "",
        "answer_en": "",
    }  # "in service" unticked

    assert client.post(f"{ADMIN}{entry.pk}/change/", posted).status_code == 302

    stored = LogEntry.objects.get(object_id=str(entry.pk))
    assert stored.change_message == '[{"changed": {"fields": ["in service", "question in French"]}}]'
    history = f"{ADMIN}{entry.pk}/history/"
    client.get(history)
    # session, user, the row, the scope (memberships), its history's count, Django's permissions (two: the sidebar),
    # the history's rows, and the savepoint pair
    with django_assert_num_queries(10):
        french = client.get(history, language="fr")
    english = client.get(history, language="en")
    # Each field named by its label, quoted: Django's French read « Modification de en service » (QA).
    assert "Modification de «\xa0En service\xa0» et «\xa0Question en français\xa0»." in french.text
    assert "Changed “In service” and “Question in French”." in english.text
    assert "Modification de en service" not in french.text


def _row_form(**labels):
    return SimpleNamespace(fields={name: SimpleNamespace(label=label) for name, label in labels.items()})


def test_an_inline_rows_fields_are_named_in_the_models_words_too():
    """Django's inline rows (« Modification de Question in English pour … ») are stored as the object's own fields;
    a form field the model does not have keeps its label."""
    model_admin = admin.site._registry[FaqEntry]
    form = SimpleNamespace(changed_data=["order"], fields={"order": SimpleNamespace(label="Order")})
    row = FaqEntry(pk=3, question_fr="Q ?")
    formset: Any = SimpleNamespace(
        model=FaqEntry,
        forms=[_row_form(question_en="Question in English", note="Note for the row")],
        new_objects=[],
        changed_objects=[(row, ["question_en", "note"])],
        deleted_objects=[],
    )

    message = model_admin.construct_change_message(None, form, [formset])

    assert message == [
        {"changed": {"fields": ["order"]}},
        {"changed": {"name": "FAQ entry", "object": str(row), "fields": ["question in English", "Note for the row"]}},
    ]
    assert LogEntry(change_message=json.dumps(message)).get_change_message() == (
        "Modification de ordre. Modification de question en anglais et Note for the row pour l'objet question de la "
        f"FAQ «\xa0{row}\xa0»."
    )


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        (
            "fr",
            (
                "Modification de «\xa0Heure\xa0» et «\xa0Ordre\xa0». Modification de «\xa0Question en anglais\xa0» "
                "pour l'objet question de la FAQ «\xa0Q ?\xa0». Ajout."
            ),
        ),
        ("en", "Changed “Heure” and “Order”. Changed “Question in English” for FAQ entry “Q ?”. Added."),
    ],
)
def test_a_history_line_quotes_every_label_whatever_its_first_letter(language, expected):
    """« Modification de en service », « de heure », « de ordre »: French elides before a vowel and a mute h, and a
    label in quotes reads right before any of them, in every language. A label not in the catalogue (a form's
    own field) is shown as stored; a message written as a text is left as it is (marked French on an English page:
    test_admin_history_lang.py)."""
    stored = [
        {"changed": {"fields": ["Heure", "order"]}},
        {"changed": {"name": "FAQ entry", "object": "Q ?", "fields": ["question in English"]}},
        {"added": {}},
    ]

    with translation.override(language):
        line = history_line(LogEntry(change_message=json.dumps(stored)))
        text = history_line(LogEntry(change_message="Rattachés : CV"))

    assert line == expected
    assert text == ("Rattachés : CV" if language == "fr" else '<span lang="fr">Rattachés : CV</span>')
