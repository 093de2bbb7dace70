"""What the back office's inputs say about themselves, given once for every ModelAdmin and inline rather than field by
field (RGAA, the project's accessibility standard):

- **language** (criterion 8.7, a change of language is indicated): the input of a model field named ``*_en`` (the
  English version of a text: a formation's ``title_en``, a decision type's ``mail_body_en``…) carries
  ``lang="en"``, so that a screen reader reads what staff type there in English and the browser checks its spelling
  in English. When the
  back office itself is not in French (staff chose English), the French version of such a text (``title`` beside
  ``title_en``, a field named ``*_fr``, or one its model names in ``FRENCH_TEXTS``: a decision letter's text)
  carries ``lang="fr"``; in French it needs none, the page already is;
- **description** (criterion 11.10, an error is tied to its field): Django's admin date and time inputs set their
  ``aria-describedby`` to the time zone warning that its JavaScript may add beside them, in place of the ids of the
  field's error and help text that Django's forms give every other input ("Ce champ est obligatoire." was not read
  with the input; without JavaScript, or when the browser's time zone is the server's, the input named only an id
  the page does not have, an invalid reference): they keep the field's ids, and name the warning in
  ``data-timezone-warning``, which ``static/js/admin_a11y.js`` adds to ``aria-describedby`` once the warning is on
  the page;
- **name** (criterion 11.1, every field has a label): a file input, which Django's admin puts in a ``<fieldset>``
  whose ``<legend>`` is not its label, is named by its field's label; the inputs of an editable list
  (``list_editable``), which have no label at all, are named by their column and their row ("Ordre — Lettre de
  motivation").

A text whose language is a column of its row rather than its field's name (a mail text, ``MailTemplate.language``)
is marked by its own form with ``mark_language``.

Django has no setting for either: ``install`` (called by ``EcandidatConfig.ready``) wraps
``BaseModelAdmin.formfield_for_dbfield``, the hook through which every model field of an admin form (and of an
inline, and of an editable list) becomes a form field, and ``ModelAdmin.get_changelist_form``, the form of each row
of an editable list; and ``AdminReadonlyField.contents``, so that a field shown read-only carries the language its
input would (``marked_readonly_contents``). A ModelAdmin overriding either still calls Django's through
``super()``. A test renders the forms (``applications/tests/test_admin_inputs.py``) and a browser test runs axe-core
on every admin form.
"""

from functools import wraps
from typing import Any

from django import forms
from django.contrib.admin.helpers import AdminReadonlyField
from django.contrib.admin.options import BaseModelAdmin, InlineModelAdmin, ModelAdmin, TabularInline
from django.contrib.admin.widgets import AdminSplitDateTime, DateTimeWidgetContextMixin
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

ENGLISH_SUFFIX = "_en"
FRENCH_SUFFIX = "_fr"


class IsoDateInput(forms.DateInput):
    """A back-office ``<input type="date">``: the browser's date picker takes and gives ``YYYY-MM-DD`` only, and
    drops any other value. A ``DateInput`` without ``format`` renders an initial date in the first of
    ``DATE_INPUT_FORMATS`` (« 24/12/2026 » in French): the field showed empty and the date was lost on the next
    save. Django parses ISO in every language (it adds ISO to ``DATE_INPUT_FORMATS``)."""

    input_type = "date"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs, format="%Y-%m-%d")


def language_of(db_field: models.Field) -> str | None:
    """The language of a text a model field holds when its name says so: ``en`` for ``*_en``, ``fr`` for ``*_fr``,
    for the field whose English version sits beside it (``title`` when the model has ``title_en``) and for a field
    its model names in ``FRENCH_TEXTS`` (texts written in French only)."""
    name = db_field.name
    if name.endswith(ENGLISH_SUFFIX):
        return "en"
    if name.endswith(FRENCH_SUFFIX):
        return "fr"
    model = getattr(db_field, "model", None)
    if name in getattr(model, "FRENCH_TEXTS", ()):  # a model's texts written in French only (a decision letter)
        return "fr"
    if model is not None and any(field.name == name + ENGLISH_SUFFIX for field in model._meta.get_fields()):
        return "fr"
    return None


def other_language(language: str | None) -> str | None:
    """``language`` when the page is in another language, else None (the page's ``lang`` already says it)."""
    if language and not (get_language() or "").startswith(language):
        return language
    return None


def mark_language(widget: forms.Widget, language: str | None) -> None:
    """``lang`` on an input whose text is in ``language``, when the page is in another language."""
    if language := other_language(language):
        widget.attrs["lang"] = language


def readonly_language(field: AdminReadonlyField) -> str | None:
    """The language of a read-only field's text (``language_of`` its model field), None for a field the model does
    not have (a ModelAdmin's method)."""
    model = getattr(getattr(field.form, "_meta", None), "model", None)
    name = field.field["name"]
    if model is None or not isinstance(name, str):
        return None
    try:
        return language_of(model._meta.get_field(name))
    except FieldDoesNotExist:
        return None


def marked_readonly_contents(field: AdminReadonlyField, contents: SafeString) -> SafeString:
    """A read-only field's text (a page its reader may not change: a centre's decision letter read by a manager of
    some of its commissions) in a ``<span>`` carrying its language, as its input would (``describe``)."""
    language = other_language(readonly_language(field))
    if language is None or contents == field.empty_value_display:
        return contents
    return format_html('<span lang="{}">{}</span>', language, contents)


class KeepsFieldDescriptions:
    """An admin date or time input described by its field's error and help text (the ids the form gives it), then by
    Django's time zone warning once its JavaScript has added it (``data-timezone-warning``, read by
    ``static/js/admin_a11y.js``)."""

    def get_context(self, name: str, value: Any, attrs: dict | None) -> dict:
        context = super().get_context(name, value, attrs)  # type: ignore[misc]
        field_ids = (attrs or {}).get("aria-describedby")
        # A date and time (AdminSplitDateTime) is two inputs, each named by Django after the field's warning.
        for widget in context["widget"].get("subwidgets") or [context["widget"]]:
            widget_attrs = widget["attrs"]
            warning = widget_attrs.pop("aria-describedby", None)
            if warning:
                widget_attrs["data-timezone-warning"] = warning
            if field_ids:
                widget_attrs["aria-describedby"] = field_ids
        return context


_DESCRIBED_WIDGETS: dict[type, type] = {}


def keep_field_descriptions(widget: forms.Widget) -> None:
    """Make an admin date or time input (Django's ``DateTimeWidgetContextMixin``) keep its field's descriptions."""
    if not isinstance(widget, (DateTimeWidgetContextMixin, AdminSplitDateTime)) or isinstance(
        widget, KeepsFieldDescriptions
    ):
        return
    kind = type(widget)
    if kind not in _DESCRIBED_WIDGETS:
        _DESCRIBED_WIDGETS[kind] = type(kind.__name__, (KeepsFieldDescriptions, kind), {})
    widget.__class__ = _DESCRIBED_WIDGETS[kind]


def describe(db_field: models.Field, formfield: forms.Field | None) -> forms.Field | None:
    """Set the input's ``lang`` (when its language differs from the page's), for a file its name, and for a date or
    a time the ids of its error and help text."""
    if formfield is None:
        return None
    widget = formfield.widget
    mark_language(widget, language_of(db_field))
    if isinstance(widget, forms.FileInput) and formfield.label:
        widget.attrs.setdefault("aria-label", formfield.label)
    keep_field_descriptions(widget)
    return formfield


class RowNamedInputs(forms.BaseForm):
    """The form of one row of an editable list: each input named by its column and its row."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        instance = getattr(self, "instance", None)
        if instance is None or instance.pk is None:
            return
        for field in self.fields.values():
            if field.label and not field.widget.is_hidden:
                field.widget.attrs.setdefault("aria-label", f"{field.label} — {instance}")


class ColumnNamedInputs(forms.BaseForm):
    """The form of one row of a tabular inline (a dossier's stages, cursus…), whose cells have no label: each input
    named by its column and, once saved, its row; the empty row Django's "Ajouter" copies, by its column."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        instance = getattr(self, "instance", None)
        saved = instance is not None and instance.pk is not None
        for field in self.fields.values():
            name_by_column(field, instance if saved else None)


def name_by_column(field: forms.Field, row: object | None) -> None:
    if field.label and not field.widget.is_hidden:
        field.widget.attrs.setdefault("aria-label", f"{field.label} — {row}" if row is not None else str(field.label))


class ColumnNamedDeletion(forms.BaseFormSet):
    """The formset of a tabular inline: its "Supprimer" box, added to each saved row after the row's form is made,
    named by its column and its row too."""

    def add_fields(self, form: forms.BaseForm, index: int | None) -> None:
        super().add_fields(form, index)
        instance = getattr(form, "instance", None)
        if "DELETE" in form.fields and instance is not None and instance.pk is not None:
            name_by_column(form.fields["DELETE"], instance)


class GoneRowMessage(forms.BaseModelFormSet):
    """The formset of any inline: a row that someone else deleted between the page's load and its save says so,
    above the inline's rows (the admin no longer draws a row that is gone). Django checks the row's hidden id
    against the rows that still exist and gives « Sélectionnez un choix valide. Ce choix ne fait pas partie de ceux
    disponibles. » to a field nobody sees: the page said only « Corrigez les erreurs ci-dessous. »."""

    def add_fields(self, form: forms.ModelForm, index: int | None) -> None:
        super().add_fields(form, index)
        field = form.fields.get(self._pk_name())
        if isinstance(field, forms.ModelChoiceField):
            field.error_messages = {
                **field.error_messages,
                "invalid_choice": _(
                    "This row was deleted by someone else after the page was opened: reload the page to see the "
                    "current rows, then make your changes again."
                ),
            }

    def full_clean(self) -> None:
        super().full_clean()
        if not self.is_bound:
            return
        # The admin draws a saved row only if it still exists: the error goes above the inline's rows, once.
        pk_name, above = self._pk_name(), self.non_form_errors()
        for form in self.forms:
            for message in form.errors.pop(pk_name, []):
                if message not in above:
                    above.append(message)

    def _pk_name(self) -> str:
        assert self.model is not None  # an inline's formset always has its model
        return self.model._meta.pk.name


def install() -> None:
    """Wrap Django's two hooks, once (``ready`` may run twice in a process that reloads apps)."""
    if installed():
        return
    formfield_for_dbfield = BaseModelAdmin.formfield_for_dbfield
    get_changelist_form = ModelAdmin.get_changelist_form
    get_formset = InlineModelAdmin.get_formset

    @wraps(formfield_for_dbfield)
    def described_formfield_for_dbfield(self, db_field, request, **kwargs):
        return describe(db_field, formfield_for_dbfield(self, db_field, request, **kwargs))

    @wraps(get_changelist_form)
    def row_named_changelist_form(self, request, **kwargs):
        form = get_changelist_form(self, request, **kwargs)
        return type(form.__name__, (RowNamedInputs, form), {})

    readonly_contents = AdminReadonlyField.contents

    @wraps(readonly_contents)
    def marked_contents(self):
        return marked_readonly_contents(self, readonly_contents(self))

    @wraps(get_formset)
    def column_named_formset(self, request, obj=None, **kwargs):
        formset = get_formset(self, request, obj, **kwargs)
        formset = type(formset.__name__, (GoneRowMessage, formset), {})
        if not isinstance(self, TabularInline):
            return formset
        form = type(formset.form.__name__, (ColumnNamedInputs, formset.form), {})
        return type(formset.__name__, (ColumnNamedDeletion, formset), {"form": form})

    described_formfield_for_dbfield.ecandidat_admin_inputs = True  # type: ignore[attr-defined]
    BaseModelAdmin.formfield_for_dbfield = described_formfield_for_dbfield  # type: ignore[method-assign]
    ModelAdmin.get_changelist_form = row_named_changelist_form  # type: ignore[method-assign]
    InlineModelAdmin.get_formset = column_named_formset  # type: ignore[method-assign]
    AdminReadonlyField.contents = marked_contents  # type: ignore[method-assign]


def installed() -> bool:
    return getattr(BaseModelAdmin.formfield_for_dbfield, "ecandidat_admin_inputs", False)
