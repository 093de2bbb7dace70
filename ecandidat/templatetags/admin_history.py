"""A history line of the back office (Django's LogEntry, the « Historique » page of a row) that names each changed
field by its label, quoted: Django writes « Changed {fields}. », which its French catalogue makes « Modification de
{fields}. », and French does not say « Modification de en service » (nor « de heure »). Quoted, every label reads
alike in every language (« Modification de « En service » et « Question en français ». »), as our other history
lines name a label (« « %(label)s » a retrouvé sa valeur par défaut »). ``templates/admin/object_history.html``
shows the lines through it; Django itself is left as it is."""

import json

from django import template
from django.conf import settings
from django.contrib.admin.models import LogEntry
from django.utils.html import format_html
from django.utils.text import capfirst
from django.utils.translation import get_language, gettext

register = template.Library()


def _written_text(message: str) -> str:
    """A message written as a text (not Django's JSON): written in the institution's language on purpose
    (``settings.LANGUAGE_CODE``, e.g. ``accounts.services.record_staff_address``), so marked with it for a reader of
    another language (RGAA 8.7: « Adresse … » read by an English screen reader's voice); as it is otherwise."""
    institution = settings.LANGUAGE_CODE
    if not message or (get_language() or institution).split("-")[0] == institution.split("-")[0]:
        return message
    return format_html('<span lang="{}">{}</span>', institution, message)


@register.filter
def history_line(entry: LogEntry) -> str:
    """``entry.get_change_message()`` with the changed fields' names (stored untranslated: ``history_in_model_words``)
    translated, capitalised as the form's label and quoted; a message written as a text is shown as it is, marked
    with the institution's language when the page is in another (``_written_text``)."""
    stored = entry.change_message
    if not stored or stored[0] != "[":
        return _written_text(entry.get_change_message())
    try:
        parts = json.loads(stored)
    except json.JSONDecodeError:
        return _written_text(entry.get_change_message())
    for part in parts:
        changed = part.get("changed") if isinstance(part, dict) else None
        if isinstance(changed, dict) and isinstance(changed.get("fields"), list):
            changed["fields"] = [
                gettext("“%(label)s”") % {"label": capfirst(gettext(name))} for name in changed["fields"]
            ]
    # Django's own wording of the parts; a quoted label is no msgid, so its gettext leaves it as it is.
    return LogEntry(change_message=json.dumps(parts)).get_change_message()
