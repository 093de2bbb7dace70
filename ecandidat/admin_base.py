"""The access rules the back office's ModelAdmins share, written once (house-style §12).

Django's groups and permissions gate the setup screens; the staff scope (``ecandidat.staff``) decides everything
else. Mix these into a ``ModelAdmin`` or an inline, before the Django class:

- ``ReadOnly``: nobody adds, changes or deletes rows here (services and batches write them);
- ``CentralOfficeOnly``: only the central office sees the page, and may do what the other rules leave;
- ``StaffReads``: every member of staff sees the page (read-only by default, with ``ReadOnly``);
- ``InStaffScope``: the list, the autocompletes and every lookup go through the model's ``visible_to(user)``;
- ``NotFoundOutsideScope``: a row outside the list's queryset is not found (404), rather than the admin's redirect;
- ``AccountAsText``: a read-only ``user`` field names the account without Django's link to its page, unless the
  viewer may open that page (staff other than superusers got a 403 from the link);
- ``FrenchChoices`` (``FrenchRelatedFilter`` for a foreign key): a list filter whose choices are the staff's French
  labels (centres, formations, commissions) marks them ``lang="fr"``; a list's French columns are its ModelAdmin's
  ``french_columns`` (``ecandidat.templatetags.result_cards``);

Custom staff views are plain functions with Django's view decorators, mounted with ``bound_view``; they take
their object through ``ecandidat.staff.object_in_scope_or_404``.
"""

import re
from collections.abc import Callable
from functools import wraps
from typing import TYPE_CHECKING, Any

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.utils import prepare_lookup_value
from django.core.exceptions import (
    EmptyResultSet,
    FieldDoesNotExist,
    FullResultSet,
    PermissionDenied,
    SuspiciousOperation,
    ValidationError,
)
from django.core.validators import validate_ipv46_address
from django.db import DEFAULT_DB_ALIAS, models
from django.db.models.constants import LOOKUP_SEP
from django.db.models.expressions import Col
from django.db.models.lookups import Lookup
from django.db.models.sql.where import WhereNode
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.html import format_html
from django.utils.text import capfirst, smart_split, unescape_string_literal
from django.utils.translation import get_language, gettext, gettext_lazy, override

from ecandidat.middleware import NulInQueryString
from ecandidat.staff import is_central, scope_of
from ecandidat.text import NUL

# The mixins are only mixed into ModelAdmins and inlines: type-check them as one.
if TYPE_CHECKING:
    from django.contrib.admin.options import BaseModelAdmin, ModelAdmin

    _AdminBase = BaseModelAdmin
    _ModelAdminBase = ModelAdmin
else:
    _AdminBase = _ModelAdminBase = object


class ReadOnly(_AdminBase):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class CentralOfficeOnly(_AdminBase):
    """Everything for the central office (superusers and SCOL memberships), nothing for anyone else; a subclass
    mixing ``ReadOnly`` in first keeps the page read-only."""

    def has_module_permission(self, request):
        return is_central(request.user)

    def has_view_permission(self, request, obj=None):
        return is_central(request.user)

    def has_add_permission(self, request, obj=None):
        return is_central(request.user)

    def has_change_permission(self, request, obj=None):
        return is_central(request.user)

    def has_delete_permission(self, request, obj=None):
        return is_central(request.user)


class StaffReads(_AdminBase):
    """Every member of staff sees the page and reads what their scope covers; writing follows the other rules."""

    def has_module_permission(self, request):
        return scope_of(request.user).is_staff_member

    def has_view_permission(self, request, obj=None):
        return scope_of(request.user).is_staff_member


class InStaffScope(_AdminBase):
    """The list, the autocompletes and every lookup through the model QuerySet's ``visible_to(user)``."""

    def get_queryset(self, request):
        queryset: Any = super().get_queryset(request)
        return queryset.visible_to(request.user)


class NotFoundOutsideScope(_ModelAdminBase):
    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if obj is None:
            raise Http404  # outside the user's scope: not found, rather than the admin's redirect
        return obj


def history_in_model_words(construct_change_message: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap ``ModelAdmin.construct_change_message`` so that the history names a changed field by the model's words.

    Django stores a changed field by its form label, capitalised (« Specific questions »), and translates it when the
    history is shown: no catalogue has that msgid, so the French history read « Modification de Specific
    questions. ». The model field's verbose name is stored instead, untranslated (a msgid: « Modification de
    questions spécifiques. »), for the object's own fields and for its inline rows' (« Modification de note pour
    … »); a field of the form only keeps its label. A ModelAdmin returning its own message (a text) keeps it.
    Applied once, to every ModelAdmin (ours and the packages'), in ``ecandidat/admin.py``."""

    @wraps(construct_change_message)
    def worded(model_admin: Any, request: HttpRequest, form: Any, formsets: Any, add: bool = False) -> Any:
        message = construct_change_message(model_admin, request, form, formsets, add)
        if not isinstance(message, list):
            return message
        changed = [part["changed"] for part in message if isinstance(part, dict) and "changed" in part]
        own = [part for part in changed if "name" not in part]
        rows = [part for part in changed if "name" in part]
        inline_rows = [
            (formset.model, formset.forms[0], fields)
            for formset in formsets or ()
            for _row, fields in formset.changed_objects
        ]
        with override(None):
            for part in own:  # at most one: the object's own fields
                part["fields"] = [history_name(model_admin.model, form, name) for name in form.changed_data]
            if len(rows) == len(inline_rows):  # in the formsets' order, as Django wrote them
                for part, (model, row_form, fields) in zip(rows, inline_rows, strict=True):
                    part["fields"] = [history_name(model, row_form, name) for name in fields]
        return message

    return worded


def history_name(model: type[models.Model], form: Any, name: str) -> str:
    """The words the history stores for the field ``name`` of ``form`` (call untranslated): the model field's
    verbose name, or the form field's label for a field the model does not have."""
    try:
        verbose_name = getattr(model._meta.get_field(name), "verbose_name", None)
    except FieldDoesNotExist:
        verbose_name = None
    if verbose_name:
        return str(verbose_name)
    field = form.fields.get(name) if hasattr(form, "fields") else None
    return str((field.label if field is not None else None) or name)


class AccountAsText(_ModelAdminBase):
    """Django shows a read-only foreign key as a link to the row's admin page without asking whether the viewer may
    open it: on a candidate's or a staff role's page, the account linked to the user admin, which answers 403 to
    everyone but superusers. Here a read-only ``user`` is the ``account`` line, its name as text, for those who may
    not view accounts (no query: the user admin's permission, asked without the row). A ModelAdmin that makes
    ``user`` read-only itself adds ``account_field(request)`` to its read-only fields; a view-only page (every field
    read-only) gets it from ``get_fields``."""

    def account_field(self, request) -> str:
        user_admin = self.admin_site._registry.get(self.model._meta.get_field("user").related_model)
        return "user" if user_admin is not None and user_admin.has_view_permission(request) else "account"

    def get_exclude(self, request, obj=None):
        exclude = list(super().get_exclude(request, obj) or ())
        if "account" in self.get_readonly_fields(request, obj):
            exclude.append("user")  # shown read-only as "account": never a form field
        return exclude

    def get_fields(self, request, obj=None):
        fields = list(super().get_fields(request, obj))
        if obj is not None and not self.has_change_permission(request, obj):
            account = self.account_field(request)
            fields = [account if name == "user" else name for name in fields]
        return fields

    @admin.display(description=gettext_lazy("account"))
    def account(self, obj):
        return str(obj.user)


class FrenchChoices:
    """Mixed into a list filter (``SimpleListFilter``, ``RelatedFieldListFilter``) whose choices are the staff's French
    labels: each is marked ``lang="fr"`` in the sidebar, so that a screen reader reading the English back office
    pronounces it as French (RGAA 8.7); "All", the empty choice and the count that "Show counts" adds stay in the
    page's language. The labels are the filter's ``lookup_choices``, in the order Django yields them after "All"."""

    lookup_choices: list[tuple[Any, Any]]

    def choices(self, changelist: Any) -> Any:
        titles = [str(title) for _value, title in self.lookup_choices]
        for index, choice in enumerate(super().choices(changelist)):  # type: ignore[misc]
            if 1 <= index <= len(titles):
                title = titles[index - 1]
                display = str(choice["display"])
                count = display[len(title) :] if display.startswith(title) else ""  # " (3)" with the counts
                choice = {**choice, "display": format_html('<span lang="fr">{}</span>{}', title, count)}
            yield choice


class FrenchRelatedFilter(FrenchChoices, admin.RelatedFieldListFilter):
    """Django's foreign-key filter for related rows named in French by the staff (a campaign, a diploma type)."""


def bound_view(model_admin: Any, view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """A staff view written as a plain function, ``view(request, *args, model_admin, **kwargs)`` (so Django's view
    decorators such as ``require_POST`` apply), behind the admin site's login, permission and CSRF checks. The view
    belongs to ``model_admin``'s list: refused to a reader who may not read that list, it is not found
    (``not_found_for_readers``)."""

    @wraps(view)
    def bound(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return view(request, *args, model_admin=model_admin, **kwargs)

    bound.model_admin = model_admin  # type: ignore[attr-defined]
    return model_admin.admin_site.admin_view(bound)


# The admin's views that such a staff member is never offered: a typed address is not found, as an outsider's.
NEVER_OFFERED_TO_READERS = frozenset({"add_view", "delete_view", "history_view"})


def not_found_for_readers(admin_view: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap ``AdminSite.admin_view`` so that the staff who write none of the back office's setup (the candidates
    managers GCA/GCAL, read-only staff, commission members: no central office, no centre manager) get a 404, as
    outsiders do, where Django's admin answers 403:

    - from a list, a change page or a staff view whose list is refused to them as a whole (the parameters, the OPI
      screen and its actions, the batches, the mail templates, the users…), on a GET as on a POST;
    - from the add, delete and history pages of a row they are never offered, typed (« ajouter un candidat »).

    A refusal on a list they do read keeps its 403: the read-only role's forged POST on a dossier, an operation on
    an application they read but may not act on. The central office, the centre managers and superusers keep
    Django's answers. A staff view belongs to its ModelAdmin's list (``bound_view``, a ModelAdmin's method); one
    mounted without it counts as refused as a whole. Applied once, in ``ecandidat/admin.py``; no query (the scope is
    read once per user object)."""

    @wraps(admin_view)
    def wrapped(view: Callable[..., Any], cacheable: bool = False) -> Callable[..., Any]:
        inner = admin_view(view, cacheable)
        model_admin = getattr(view, "__self__", None) or getattr(view, "model_admin", None)
        view_name = getattr(view, "__name__", "")

        @wraps(inner)
        def answer(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            try:
                return inner(request, *args, **kwargs)
            except PermissionDenied:
                scope = scope_of(request.user)
                if request.user.is_superuser or scope.is_central or scope.is_manager or not scope.reaches_candidates:
                    raise
                if view_name in NEVER_OFFERED_TO_READERS:
                    raise Http404 from None
                reads_the_list = isinstance(model_admin, admin.ModelAdmin) and model_admin.has_view_permission(request)
                if not reads_the_list:
                    raise Http404 from None
                raise

        return answer

    return wrapped


class ForgedSelection(SuspiciousOperation):
    """An admin action posted with a selected row that is not an id of the list's model (a 400, logged under
    ``django.security.ForgedSelection``)."""


class ForgedListQuery(SuspiciousOperation):
    """A list's filters that the list itself refuses (a field it does not have: ``?tab=x``), read by another page
    of the list (its exports): a 400, logged under ``django.security.ForgedListQuery``. The list's links only carry
    the filters it made; the list answers the same query string with Django's ``?e=1``."""


def changelist_of(model_admin: Any, request: HttpRequest) -> Any:
    """``model_admin``'s ``ChangeList`` for ``request``'s query string, or :class:`ForgedListQuery` where the list
    would refuse it (Django's ``IncorrectLookupParameters``, which only the list's own view turns into an answer:
    elsewhere, a 500).

    A filter holding NUL is a 400 (``NulInQueryString``) here too: the list's filters that an export carries in a
    form field (« Exporter avec les colonnes choisies », ``filters``) or double-encoded in ``_changelist_filters``
    never pass through ``RefuseNulInQueryString``, and PostgreSQL refused the value (a 500)."""
    if any(NUL in key or any(NUL in value for value in values) for key, values in request.GET.lists()):
        raise NulInQueryString("NUL character in the list's filters")
    try:
        return model_admin.get_changelist_instance(request)
    except IncorrectLookupParameters as error:
        raise ForgedListQuery(f"list filters refused: {str(error)[:200]}") from None


def refusing_forged_selections(response_action: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap ``ModelAdmin.response_action`` so that a selection holding a value that is not one of the model's ids
    ("abc", "") is refused before the action reads it: Django filters ``pk__in`` with it and the action fails on the
    conversion (ValueError: a 500). The list's own checkboxes only ever send ids. Applied once, to every ModelAdmin
    (ours and the packages'), in ``ecandidat/admin.py``."""

    @wraps(response_action)
    def checked(model_admin: Any, request: HttpRequest, queryset: Any, *args: Any, **kwargs: Any) -> Any:
        pk = model_admin.model._meta.pk
        for value in request.POST.getlist(helpers.ACTION_CHECKBOX_NAME):
            try:
                converted = pk.to_python(value)
            except ValidationError:
                raise ForgedSelection(f"selected value {value[:40]!r} is not an id") from None
            if out_of_range(converted):
                raise ForgedSelection(f"selected value {value[:40]!r} is not an id")
        return response_action(model_admin, request, queryset, *args, **kwargs)

    return checked


def out_of_range(value: Any) -> bool:
    """Whether ``value`` is an integer no column holds (outside 64 bits): SQLite's driver refuses to bind it
    (OverflowError, a 500 under ``make run`` and in the tests), where PostgreSQL finds no row."""
    return isinstance(value, int) and not -(2**63) <= value < 2**63


def search_words(search_term: str) -> list[str]:
    """The words the admin's list search looks for in ``search_term``, as Django reads them (``smart_split``, a
    quoted phrase unquoted), without those left blank: a lone ``'`` or ``""`` is an empty phrase."""
    words = []
    for bit in smart_split(search_term):
        if bit.startswith(('"', "'")) and bit[0] == bit[-1]:
            bit = unescape_string_literal(bit)
        if bit.strip():
            words.append(bit)
    return words


def is_blank_search(search_term: str) -> bool:
    """Whether ``search_term`` was typed (not only spaces: that is the empty box) but holds no word to look for."""
    return bool(search_term.strip()) and not search_words(search_term)


# The most a list's search looks for: each word is looked for in every search field (an OR of ``icontains``), the
# words together (an AND); a forged search of 2,000 words ran 101 s in PostgreSQL. A name, a number, an address hold
# a few words.
SEARCH_MAX_WORDS = 10
SEARCH_MAX_CHARS = 200
_TOO_LONG_TOLD = "_ecandidat_too_long_search_told"


def is_too_long_search(search_term: str) -> bool:
    """Whether ``search_term`` holds more than ``SEARCH_MAX_CHARS`` characters or ``SEARCH_MAX_WORDS`` words."""
    return len(search_term) > SEARCH_MAX_CHARS or len(search_words(search_term)) > SEARCH_MAX_WORDS


def too_long_search_message() -> str:
    return gettext(
        "Your search is too long (at most %(words)d words and %(chars)d characters): no row is looked for. "
        "Shorten it, or narrow the list with its filters."
    ) % {"words": SEARCH_MAX_WORDS, "chars": SEARCH_MAX_CHARS}


def refusing_blank_searches(get_search_results: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap ``ModelAdmin.get_search_results`` so that a search holding no word (``'``, ``""``, ``' '``) finds no row.
    Django unquotes ``'`` into an empty phrase and looks for it with ``icontains``, which every row contains: the
    list showed everything, as if the search had matched. The list's search box says why it is empty
    (``templates/admin/search_form.html``); the autocompletes find nothing. Applied once, in ``ecandidat/admin.py``.

    A search longer than ``SEARCH_MAX_WORDS`` words or ``SEARCH_MAX_CHARS`` characters finds no row either, without
    a query on it: the list says why in a message (once per request; not the autocompletes, whose answer is JSON)."""

    @wraps(get_search_results)
    def checked(model_admin: Any, request: HttpRequest, queryset: Any, search_term: str, *args: Any) -> Any:
        if is_too_long_search(search_term):
            match = getattr(request, "resolver_match", None)
            if not getattr(request, _TOO_LONG_TOLD, False) and getattr(match, "url_name", "") != "autocomplete":
                setattr(request, _TOO_LONG_TOLD, True)
                messages.error(request, too_long_search_message(), fail_silently=True)
            return queryset.none(), False
        if is_blank_search(search_term):
            return queryset.none(), False
        return get_search_results(model_admin, request, queryset, search_term, *args)

    return checked


def menu_titled_by_the_lists(
    build_app_dict: Callable[..., Any], registry: dict[type[models.Model], Any]
) -> Callable[..., Any]:
    """Wrap ``admin.site._build_app_dict`` (the menu, the home page's and each app's list of models) so that a
    ModelAdmin with a ``list_title`` is named by it rather than by its model's ``verbose_name_plural``: the model's
    name must fit Django's sentences (« Supprimer les … sélectionnés »), the menu keeps the page's title the staff
    know (« Historique des batchs »). Django sorts the entries afterwards, by these names. Applied once, in
    ``ecandidat/admin.py``, with the site's registry of ModelAdmins; no query."""

    @wraps(build_app_dict)
    def titled(request: HttpRequest, label: str | None = None) -> Any:
        app_dict = build_app_dict(request, label)
        for app in app_dict.values():
            for entry in app["models"]:
                title = getattr(registry.get(entry["model"]), "list_title", None)
                if title:
                    entry["name"] = capfirst(title)
        return app_dict

    return titled


# "de" before a word starting with a vowel (not "h": "de handicap" keeps it).
_DE_BEFORE_A_VOWEL = re.compile(r"\bde (?=[aeiouyàâéèêëîïôûüAEIOUYÀÂÉÈÊËÎÏÔÛÜ])")


def elided_french(title: str) -> str:
    """Django's French titles put "de" before the model's name whatever it is ("Ajout de étiquette", "Modification
    de utilisateur"); French elides it ("Ajout d'étiquette"). Other languages are left as they are."""
    if not (get_language() or "").startswith("fr"):
        return title
    return _DE_BEFORE_A_VOWEL.sub("d'", title)


def eliding_french_titles(render_change_form: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap ``ModelAdmin.render_change_form`` (the add, change and view pages of every ModelAdmin) so that its title
    reads as French does (:func:`elided_french`). Applied once, in ``ecandidat/admin.py``."""

    @wraps(render_change_form)
    def elided(model_admin: Any, request: HttpRequest, context: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        if isinstance(context.get("title"), str):
            context["title"] = elided_french(context["title"])
        return render_change_form(model_admin, request, context, *args, **kwargs)

    return elided


# The request whose page a form is drawn for, set on the form by ``telling_forms_their_viewer``.
VIEWER_ATTRIBUTE = "_ecandidat_viewer"


def telling_forms_their_viewer(render_change_form: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap ``ModelAdmin.render_change_form`` so that the page's form and its inline rows know who views them, for
    :func:`linking_only_what_the_viewer_may_open` (Django's read-only fields have no request). Applied once, in
    ``ecandidat/admin.py``."""

    @wraps(render_change_form)
    def told(model_admin: Any, request: HttpRequest, context: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        forms = [getattr(context.get("adminform"), "form", None)]
        for inline in context.get("inline_admin_formsets") or ():
            forms += list(inline.formset.forms)
        for form in forms:
            if form is not None:
                setattr(form, VIEWER_ATTRIBUTE, request)
        return render_change_form(model_admin, request, context, *args, **kwargs)

    return told


def linking_only_what_the_viewer_may_open(get_admin_url: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap ``AdminReadonlyField.get_admin_url``: Django draws a read-only foreign key as a link to the related row's
    admin page without asking whether the viewer may open it (a manager of some commissions, on a commission's page,
    was sent to its centre's page, a 403). The name is drawn as text when the related ModelAdmin refuses the viewer
    its list (asked without the row, as ``AccountAsText`` asks: no query), or is not registered. Applied once, in
    ``ecandidat/admin.py``."""

    @wraps(get_admin_url)
    def linked(field: Any, remote_field: Any, remote_obj: Any) -> Any:
        request = getattr(field.form, VIEWER_ATTRIBUTE, None)
        if request is not None:
            related_admin = field.model_admin.admin_site._registry.get(remote_field.model)
            if related_admin is None or not related_admin.has_view_or_change_permission(request):
                return str(remote_obj)
        return get_admin_url(field, remote_field, remote_obj)

    return linked


def keeping_convertible_choices(optgroups: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap the admin's autocomplete widget's ``optgroups`` (``AutocompleteMixin``: the ``autocomplete_fields`` of
    every ModelAdmin) so that a posted value the related model's id cannot be ("abc") is left out of the options it
    reads back. A form refused for another field is shown again with what was posted, and Django filtered the related
    rows with that value: "Field 'id' expected a number" (a 500) instead of the form's own message next to the field,
    which it still gets ("Select a valid choice"). Applied once, in ``ecandidat/admin.py``."""

    @wraps(optgroups)
    def kept(widget: Any, name: str, value: list[Any], *args: Any, **kwargs: Any) -> Any:
        remote = widget.field.remote_field
        target = remote.model._meta.get_field(getattr(remote, "field_name", None) or remote.model._meta.pk.name)
        return optgroups(widget, name, [choice for choice in value if _converts(target, choice)], *args, **kwargs)

    return kept


def _converts(field: Any, value: Any) -> bool:
    try:
        field.to_python(value)
    except ValidationError:
        return False
    return True


def refusing_out_of_range_choices(check_values: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap ``ModelMultipleChoiceField._check_values`` so that a posted id out of the integers' range (20 digits) is
    refused with the field's message for an id that names no row ("Select a valid choice. … is not one of the
    available choices."), before Django reads the rows with ``pk__in``: SQLite refuses to bind it (``OverflowError``,
    a 500), and Django catches only the values it cannot convert. Every multiple choice of rows (the tags of the
    applications' mass action, a formation's pieces, a membership's commissions), in the back office and out of it;
    a single choice already answers its message (Django checks the bounds of ``exact``). Applied once, in
    ``ecandidat/admin.py``."""

    @wraps(check_values)
    def checked(field: Any, value: Any) -> Any:
        opts = field.queryset.model._meta
        key = opts.get_field(field.to_field_name) if field.to_field_name else opts.pk
        try:
            choices = frozenset(value)
        except TypeError:
            return check_values(field, value)  # Django's own message (a list of lists)
        for choice in choices:
            try:
                converted = key.to_python(choice)
            except ValidationError:
                continue  # Django's own message (not an id)
            if out_of_range(converted):
                raise ValidationError(
                    field.error_messages["invalid_choice"], code="invalid_choice", params={"value": choice}
                )
        return check_values(field, value)

    return checked


# Comparisons PostgreSQL makes on an inet column itself, which refuse a value that is not an address; the others
# (contains, startswith…) compare its text, HOST(column).
_INET_COMPARISONS = {"exact", "gt", "gte", "lt", "lte", "in", "range"}


def refusing_forged_lookups(lookup_allowed: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap ``ModelAdmin.lookup_allowed`` so that a list's query string holding a filter the database cannot run is
    refused with a 400 (``DisallowedModelAdminLookup``) instead of failing on it (a 500), on every ModelAdmin (ours
    and the packages'). Django lets any lookup on the list's own fields through and catches only the values it
    cannot *build* a filter with (``?e=1``); these pass that step and fail later, when the list counts its rows:

    - a year out of the calendar's range on a date: ``?created_at__year=0`` (or 10000, or 25 digits), ``__iso_year``;
    - a range (``?received_on__range=1``, ``=a,b``): Django does not split its value, so the database gets one
      bound for each character (``IndexError``, ``TypeError``);
    - a regular expression (``__regex``, ``__iregex``): PostgreSQL refuses the malformed ones (``(``) and its syntax
      is not Python's, so none is checked; no link of ours filters with one;
    - a value that is not an IP address compared with an address column (``?used_from__exact=abc``);
    - an id out of the integers' range (20 digits) in a list of ids or compared with a foreign key
      (``?pk__in=…``, ``?campaign=…``): SQLite refuses to bind it (``OverflowError``), where Django checks the bounds
      only of the list's own integer fields, and only for ``exact`` and the comparisons.

    No list filter, link or saved filter of ours makes such a query string. Applied once, in ``ecandidat/admin.py``."""

    @wraps(lookup_allowed)
    def checked(model_admin: Any, lookup: str, value: Any, request: HttpRequest, *args: Any, **kwargs: Any) -> bool:
        if not lookup_allowed(model_admin, lookup, value, request, *args, **kwargs):
            return False
        return runnable_lookup(model_admin.model, lookup, value)

    return checked


def refusing_reverse_to_fields(to_field_allowed: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap ``ModelAdmin.to_field_allowed`` so that ``?_to_field=`` naming something that is not a column of the
    model (a reverse relation: ``?_to_field=events`` on the applications, ``applications`` on the dossiers) is
    refused with a 400 (``DisallowedModelAdminToField``), as Django refuses a column no relation targets, instead of
    failing on it: Django 6.1 reads ``primary_key`` of what it found, which a reverse relation has not (an
    ``AttributeError``, a 500 on every list and change page, even before the viewer's right is checked; found by
    review). Only a column can be referenced by a foreign key. Applied once, in ``ecandidat/admin.py``."""

    @wraps(to_field_allowed)
    def checked(model_admin: Any, request: HttpRequest, to_field: str) -> bool:
        try:
            field = model_admin.opts.get_field(to_field)
        except FieldDoesNotExist:
            return False
        if not getattr(field, "concrete", False):
            return False
        return to_field_allowed(model_admin, request, to_field)

    return checked


def runnable_lookup(model: type[models.Model], lookup: str, value: Any) -> bool:
    """Whether the database can filter ``model`` with ``lookup=value`` as the admin's list would (its query string's
    value: ``__in`` split on commas, ``__isnull`` read as a flag). Nothing is read: the query is only compiled, and
    its parameters are those the database would be given."""
    if lookup.rsplit(LOOKUP_SEP, 1)[-1] in {"regex", "iregex", "range"}:
        return False
    try:
        query = model._default_manager.filter(**{lookup: prepare_lookup_value(lookup, value)}).query
    except Exception:  # as Django's list: what it cannot build, it refuses itself (?e=1), or a filter of ours reads it
        return True
    try:
        _sql, params = query.get_compiler(DEFAULT_DB_ALIAS).as_sql()
    except (EmptyResultSet, FullResultSet):
        return True
    except (ValueError, TypeError, IndexError, OverflowError):
        return False
    return not any(out_of_range(param) for param in _flattened(params)) and all(
        _comparable(node) for node in _lookups(query.where)
    )


def _flattened(params: Any):
    # A query's parameters, and those inside a list or tuple (an array parameter of PostgreSQL's).
    for param in params:
        if isinstance(param, (list, tuple)):
            yield from _flattened(param)
        else:
            yield param


def _lookups(node: WhereNode):
    for child in node.children:
        if isinstance(child, WhereNode):
            yield from _lookups(child)
        elif isinstance(child, Lookup):
            yield child


def _comparable(lookup: Lookup) -> bool:
    if not (
        isinstance(lookup.lhs, Col)
        and isinstance(lookup.lhs.output_field, models.GenericIPAddressField)
        and lookup.lookup_name in _INET_COMPARISONS
    ):
        return True
    values = lookup.rhs if isinstance(lookup.rhs, (list, tuple, set)) else [lookup.rhs]
    try:
        for address in values:
            validate_ipv46_address(address)
    except ValidationError:
        return False
    return True
