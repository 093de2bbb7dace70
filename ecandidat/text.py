"""Text from people, before it is stored. PostgreSQL refuses the NUL character (0x00) in text: no keyboard types it,
but a forged request or an odd paste can carry it, and the database would answer with an error (a 500). Form fields
refuse it already (Django's ``ProhibitNullCharactersValidator``); the values that services take straight from a
request (answers, comments, notes) are checked with :func:`check_savable`, and query strings by
``ecandidat.middleware.RefuseNulInQueryString``.
"""

import re

from django import forms
from django.core.exceptions import ValidationError
from django.utils.deconstruct import deconstructible
from django.utils.text import Truncator
from django.utils.translation import gettext, gettext_lazy

from ecandidat.exceptions import BusinessRuleError, FieldRuleError

NUL = "\x00"

# Characters no keyboard types into a field and that change what others read: the C0 and C1 controls (a vertical
# tab, an escape, a line break in a one-line field: a forged request or an odd paste) and the bidirectional
# embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069: "ABC\u202eFDP.EXE" reads "ABCEXE.PDF"). NUL has
# Django's own validator and message; the tab is harmless. A text of several lines keeps its line ends.
# In a one-line field, also the invisible format characters a paste carries, that no script needs and that show
# nothing: the soft hyphen (U+00AD), the zero-width space (U+200B), the word joiner and invisible operators
# (U+2060-U+2064), the BOM (U+FEFF). A name made of them looked empty on every page and in every mail; one with them
# was another name to the searches. Not the zero-width non-joiner and joiner (U+200C, U+200D: a Persian name needs
# them, « مهرناز »), nor the direction marks (U+200E, U+200F, U+061C: some keyboards add them): a name of those alone
# has no letter, which the names' own validator refuses (``require_a_letter``). Pégase's texts lose the characters
# refused here (``applications.pegase._clean``), so that its values pass these fields.
ONE_LINE_CONTROLS = re.compile("[\x01-\x08\x0a-\x1f\x7f-\x9f\xad\u200b\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")
_MULTILINE_CONTROLS = re.compile("[\x01-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


@deconstructible
class RefuseInvisibleControls:
    """A form field's validator: refuse the invisible control and direction characters above, with a message next
    to the field. ``multiline`` for a textarea (its line ends are text)."""

    code = "invisible_control"
    message = gettext_lazy(
        "This text contains an invisible character (a control or writing-direction character): remove it, then save "
        "again."
    )

    def __init__(self, *, multiline: bool = False):
        self.multiline = multiline

    def __call__(self, value: object) -> None:
        pattern = _MULTILINE_CONTROLS if self.multiline else ONE_LINE_CONTROLS
        if isinstance(value, str) and pattern.search(value):
            raise ValidationError(self.message, code=self.code)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RefuseInvisibleControls) and other.multiline == self.multiline


NO_LETTER_MESSAGE = gettext_lazy("Type a name with at least one letter.")


def require_a_letter(value: object) -> None:
    """A form field's validator for a person's name (Nom, Prénom): at least one letter, of any script. A name of
    punctuation, digits, a lone combining accent (U+0301) or marks that show nothing (a right-to-left mark, a
    zero-width joiner) names nobody; the refusal is next to the field. A value with a character
    ``RefuseInvisibleControls`` refuses gets only that refusal: one thing to correct."""
    if not isinstance(value, str) or not value or ONE_LINE_CONTROLS.search(value):
        return
    if not any(character.isalpha() for character in value):
        raise ValidationError(NO_LETTER_MESSAGE, code="no_letter")


def refuse_invisible_controls(form: forms.BaseForm) -> None:
    """In a form's ``clean``: the refusal of :class:`RefuseInvisibleControls` next to each text field the person can
    change (enabled, visible) whose value holds such a character. A disabled field (locked by the student records)
    keeps the value it holds whatever it is; a hidden one (a version stamp) is not text anyone typed."""
    for name, field in form.fields.items():
        if field.disabled or field.widget.is_hidden or name in form.errors or not isinstance(field, forms.CharField):
            continue
        try:
            RefuseInvisibleControls(multiline=isinstance(field.widget, forms.Textarea))(form.cleaned_data.get(name))
        except ValidationError as error:
            form.add_error(name, error)


# Django's history keeps an object's name (``LogEntry.object_repr``) in 200 characters, cut from ``str(obj)``.
LOGGED_NAME_LENGTH = 200


def check_savable(value: str, *, field: str | None = None) -> None:
    """Refuse ``value`` when the database could not store it: ``FieldRuleError`` naming ``field`` (the view shows
    the message next to it), or ``BusinessRuleError`` without one."""
    if NUL not in value:
        return
    message = gettext("This text contains a character that cannot be saved (NUL): remove it, then save again.")
    if field is not None:
        raise FieldRuleError(message, field=field)
    raise BusinessRuleError(message)


def logged_name(text: str) -> str:
    """An object's name (its ``str``) as Django's history can keep it whole: the whole text up to 200 characters
    (``LogEntry.object_repr``), a longer one cut with « … » rather than by Django, mid-word and without a sign. The
    history, the « Historique » page's title and Django's « Suppression de … » messages then name the object whole;
    a list that wants it shorter cuts it itself."""
    return Truncator(text).chars(LOGGED_NAME_LENGTH)


def is_number(value: str, *, max_digits: int = 18) -> bool:
    """Whether ``value`` is written with ASCII digits only, at most ``max_digits`` of them (18 fit a database bigint):
    an id or a page number from a query string. ``str.isdigit`` alone also takes "²", which ``int()`` refuses (a 500),
    and twenty digits overflow the database's integer."""
    return value.isascii() and value.isdigit() and len(value) <= max_digits
