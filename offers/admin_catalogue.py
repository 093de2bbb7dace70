"""Centre managers edit their own catalogue in the back office (issue 11, ecandidat-features §2.8): the formations
of their centres (dates, pieces and forms requested, commission) and their commissions (contact, alerts), without
anyone granting Django permissions by hand. The central office keeps everything.

Rights come from the staff scope (``ecandidat.staff``): a centre manager (CTR) may view, add and change the rows of
the centres they manage; a manager of some commissions of a centre, the rows of those commissions (their
commissions, their formations and the formations' letters), reading the centre's own letters; deleting stays with
the central office (Django permissions). The choices offered (centre,
commission, pieces, forms) are limited to the manager's centres (the centre of a row of the whole centre, such as a
tag or a commission, to the centres they manage wholly), so a forged POST is refused by the form's own validation.
"""

from typing import TYPE_CHECKING

from django import forms
from django.contrib.admin import ActionLocation
from django.contrib.admin.widgets import AutocompleteSelect
from django.db.models import Q
from django.http import Http404

from ecandidat.staff import is_central, scope_of
from offers.models import Centre, Commission, ComplementaryForm, PieceType, Question

if TYPE_CHECKING:
    from django.contrib.admin import ModelAdmin

    _ModelAdminBase = ModelAdmin
else:
    _ModelAdminBase = object


class AutocompleteSelectWithoutScript(AutocompleteSelect):
    """The admin's autocomplete, whose ``<select>`` holds every row rather than the chosen one only: without
    JavaScript it is a plain drop-down one can choose from (Django's was empty: no formation nor commission could be
    created); with it, Select2 searches the same rows through the autocomplete view, as before. One query, whatever
    the number of rows (centres, commissions, diploma types: tens to a few hundred)."""

    def optgroups(self, name, value, attrs=None):
        return forms.Select.optgroups(self, name, value, attrs)


class ManagedByCentre(_ModelAdminBase):
    """Mixed into a ModelAdmin whose model has a ``centre`` foreign key.

    A manager limited to some commissions of a centre (``ecandidat.staff``) adds and changes only the rows of those
    commissions (``commission_lookup``: the row's commission id); a row of the centre as a whole (``centre_wide``:
    the field left empty on such rows) is read, not changed; ``limited_may_add`` False keeps adding with the
    managers of the whole centre (a commission is the centre's). A model with no commission at all
    (``commission_lookup = None``, e.g. tags) is the centre's as a whole: such a manager reads its rows and
    changes none."""

    commission_lookup: str | None = "commission_id"
    centre_wide: str | None = None
    limited_may_add = True

    def _whole_centre_rows(self) -> bool:
        """The model's rows are their centre's as a whole: no commission of their own (tags), or added by the
        managers of the whole centre only (commissions)."""
        return self.commission_lookup is None or not self.limited_may_add

    def _managed(self, request) -> frozenset[int]:
        return scope_of(request.user).managed_centres

    def _is_manager(self, request) -> bool:
        return scope_of(request.user).is_manager

    def _changeable(self, request) -> Q:
        """The rows the user changes: of the centres they manage wholly, of the commissions they manage."""
        scope = scope_of(request.user)
        if self.commission_lookup is None:
            return Q(centre_id__in=sorted(scope.managed_centres))
        return scope.manages(centre="centre_id", commission=self.commission_lookup)

    def _readable(self, request) -> Q:
        """The rows the user reads: those they change, and the centre-wide rows of the centres they manage a
        commission of."""
        scope = scope_of(request.user)
        readable = self._changeable(request)
        if self.commission_lookup is None and scope.partly_managed_centres:
            readable |= Q(centre_id__in=sorted(scope.partly_managed_centres))
        elif self.centre_wide and scope.partly_managed_centres:
            readable |= Q(centre_id__in=sorted(scope.partly_managed_centres), **{f"{self.centre_wide}__isnull": True})
        return readable

    def _commission_of(self, obj) -> int | None:
        if self.commission_lookup is None:
            return None
        value = obj
        for name in self.commission_lookup.split("__"):
            if value is None:
                return None
            value = getattr(value, name)
        return value

    def _owns(self, request, obj) -> bool:
        if obj is None or obj.centre_id in self._managed(request):
            return True
        return self._commission_of(obj) in scope_of(request.user).managed_commissions

    def _reads(self, request, obj) -> bool:
        if self._owns(request, obj):
            return True
        centre_wide = self.commission_lookup is None or (
            self.centre_wide is not None and getattr(obj, f"{self.centre_wide}_id") is None
        )
        return centre_wide and obj.centre_id in scope_of(request.user).partly_managed_centres

    def has_module_permission(self, request):
        return super().has_module_permission(request) or is_central(request.user) or self._is_manager(request)

    def has_view_permission(self, request, obj=None):
        return (
            super().has_view_permission(request, obj)
            or is_central(request.user)
            or (self._is_manager(request) and self._reads(request, obj))
        )

    def has_change_permission(self, request, obj=None):
        return (
            super().has_change_permission(request, obj)
            or is_central(request.user)
            or (self._is_manager(request) and self._owns(request, obj))
        )

    def has_add_permission(self, request):
        scope = scope_of(request.user)
        may_add = bool(scope.managed_centres) or (self.limited_may_add and bool(scope.managed_commissions))
        return super().has_add_permission(request) or is_central(request.user) or may_add

    def _unrestricted(self, request) -> bool:
        return is_central(request.user) or request.user.is_superuser

    def get_autocomplete_fields(self, request):
        # The autocompletes read the Centre and Commission admins, which centre managers cannot open: plain
        # drop-downs of their own centres instead.
        return super().get_autocomplete_fields(request) if self._unrestricted(request) else ()

    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if obj is None and not self._unrestricted(request):
            raise Http404  # another centre's row: not found, rather than the admin's redirect
        return obj

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if self._unrestricted(request):
            return queryset
        return queryset.filter(self._readable(request))

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if not self._unrestricted(request):
            scope = scope_of(request.user)
            centres = sorted(scope.managed_centres | scope.partly_managed_centres)
            if db_field.name == "centre":
                if self._whole_centre_rows():
                    # A row of the centre as a whole is created in (or moved to) a centre the user manages wholly,
                    # not one where they manage some commissions only (they could not change it there).
                    centres = sorted(scope.managed_centres)
                kwargs["queryset"] = Centre.objects.filter(pk__in=centres)
                kwargs["required"] = True  # institution-wide rows (no centre) stay with the central office
            elif db_field.name == "commission":
                kwargs["queryset"] = Commission.objects.filter(scope.manages(centre="centre_id", commission="pk"))
        elif db_field.name in self.get_autocomplete_fields(request) and "widget" not in kwargs:
            kwargs["widget"] = AutocompleteSelectWithoutScript(db_field, self.admin_site, using=kwargs.get("using"))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if not self._unrestricted(request):
            scope = scope_of(request.user)
            centres = sorted(scope.managed_centres | scope.partly_managed_centres)
            mine = Q(centre__isnull=True) | Q(centre_id__in=centres)
            if db_field.name == "piece_types":
                kwargs["queryset"] = PieceType.objects.filter(mine)
            elif db_field.name == "forms":
                kwargs["queryset"] = ComplementaryForm.objects.filter(mine)
            elif db_field.name == "questions":
                kwargs["queryset"] = Question.objects.filter(mine, is_common=False)
        return super().formfield_for_manytomany(db_field, request, **kwargs)


class ScopedByCentre(_ModelAdminBase):
    """Mixed into the ModelAdmin of rows of a centre or of the whole institution (``centre`` left empty), whose page
    Django permissions open: piece types, complementary forms and complementary questions. Outside the central office,
    a user given those permissions reads the institution's rows and those of the centres they manage wholly or in
    part (the choices of their formations' form), and adds, changes and deletes only the rows of the centres they
    manage wholly (a row is its centre's as a whole); another centre's row is not found, and the centre offered is
    one of theirs."""

    def _unrestricted(self, request) -> bool:
        return is_central(request.user) or request.user.is_superuser

    def _changes(self, request, obj) -> bool:
        return self._unrestricted(request) or obj is None or obj.centre_id in scope_of(request.user).managed_centres

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if self._unrestricted(request):
            return queryset
        scope = scope_of(request.user)
        centres = sorted(scope.managed_centres | scope.partly_managed_centres)
        return queryset.filter(Q(centre__isnull=True) | Q(centre_id__in=centres))

    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if obj is None and not self._unrestricted(request):
            raise Http404  # another centre's row: not found, rather than the admin's redirect
        return obj

    def has_add_permission(self, request):
        may_add = self._unrestricted(request) or bool(scope_of(request.user).managed_centres)
        return super().has_add_permission(request) and may_add

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and self._changes(request, obj)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and self._changes(request, obj)

    def get_actions(self, request, action_location=ActionLocation.CHANGE_LIST):
        actions = super().get_actions(request, action_location)
        if not self._unrestricted(request):
            actions.pop("delete_selected", None)  # the list also holds rows they only read
        return actions

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "centre" and not self._unrestricted(request):
            kwargs["queryset"] = Centre.objects.filter(pk__in=sorted(scope_of(request.user).managed_centres))
            kwargs["required"] = True  # institution-wide rows (no centre) stay with the central office
        return super().formfield_for_foreignkey(db_field, request, **kwargs)
