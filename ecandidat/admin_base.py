"""The access rules the back office's ModelAdmins share, written once (house-style §12).

Django's groups and permissions gate the setup screens; the staff scope (``ecandidat.staff``) decides everything
else. Mix these into a ``ModelAdmin`` or an inline, before the Django class:

- ``ReadOnly``: nobody adds, changes or deletes rows here (services and batches write them);
- ``CentralOfficeOnly``: only the central office sees the page, and may do what the other rules leave;
- ``StaffReads``: every member of staff sees the page (read-only by default, with ``ReadOnly``);
- ``InStaffScope``: the list, the autocompletes and every lookup go through the model's ``visible_to(user)``;
- ``NotFoundOutsideScope``: a row outside the list's queryset is not found (404), rather than the admin's redirect;
- ``AccountAsText``: a read-only ``user`` field names the account without Django's link to its page, unless the
  viewer may open that page (staff other than superusers got a 403 from the link).

Custom staff views are plain functions with Django's view decorators, mounted with ``bound_view``; they take
their object through ``ecandidat.staff.object_in_scope_or_404``.
"""

import re
from collections.abc import Callable
from functools import wraps
from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.contrib.admin import helpers
from django.core.exceptions import SuspiciousOperation, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import get_language, gettext_lazy

from ecandidat.staff import is_central, scope_of

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


def bound_view(model_admin: Any, view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """A staff view written as a plain function, ``view(request, *args, model_admin, **kwargs)`` (so Django's view
    decorators such as ``require_POST`` apply), behind the admin site's login, permission and CSRF checks."""

    @wraps(view)
    def bound(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return view(request, *args, model_admin=model_admin, **kwargs)

    return model_admin.admin_site.admin_view(bound)


class ForgedSelection(SuspiciousOperation):
    """An admin action posted with a selected row that is not an id of the list's model (a 400, logged under
    ``django.security.ForgedSelection``)."""


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
                pk.to_python(value)
            except ValidationError:
                raise ForgedSelection(f"selected value {value[:40]!r} is not an id") from None
        return response_action(model_admin, request, queryset, *args, **kwargs)

    return checked


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
