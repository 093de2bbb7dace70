"""Centre managers edit their own catalogue in the back office (issue 11, ecandidat-features §2.8): the formations
of their centres (dates, pieces and forms requested, commission) and their commissions (contact, alerts), without
anyone granting Django permissions by hand. The central office keeps everything.

Rights come from the staff scope (``ecandidat.staff``): a centre manager (CTR) may view, add and change the rows of
the centres they manage; deleting stays with the central office (Django permissions). The choices offered (centre,
commission, pieces, forms) are limited to the manager's centres, so a forged POST is refused by the form's own
validation.
"""

from typing import TYPE_CHECKING

from django.db.models import Q
from django.http import Http404

from ecandidat.staff import is_central, scope_of
from offers.models import Centre, Commission, ComplementaryForm, PieceType, Question

if TYPE_CHECKING:
    from django.contrib.admin import ModelAdmin

    _ModelAdminBase = ModelAdmin
else:
    _ModelAdminBase = object


class ManagedByCentre(_ModelAdminBase):
    """Mixed into a ModelAdmin whose model has a ``centre`` foreign key."""

    def _managed(self, request) -> frozenset[int]:
        return scope_of(request.user).managed_centres

    def _owns(self, request, obj) -> bool:
        return obj is None or obj.centre_id in self._managed(request)

    def has_module_permission(self, request):
        return super().has_module_permission(request) or is_central(request.user) or bool(self._managed(request))

    def has_view_permission(self, request, obj=None):
        return (
            super().has_view_permission(request, obj)
            or is_central(request.user)
            or (bool(self._managed(request)) and self._owns(request, obj))
        )

    def has_change_permission(self, request, obj=None):
        return (
            super().has_change_permission(request, obj)
            or is_central(request.user)
            or (bool(self._managed(request)) and self._owns(request, obj))
        )

    def has_add_permission(self, request):
        return super().has_add_permission(request) or is_central(request.user) or bool(self._managed(request))

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
        return queryset.filter(centre_id__in=sorted(self._managed(request)))

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if not self._unrestricted(request):
            managed = sorted(self._managed(request))
            if db_field.name == "centre":
                kwargs["queryset"] = Centre.objects.filter(pk__in=managed)
                kwargs["required"] = True  # institution-wide rows (no centre) stay with the central office
            elif db_field.name == "commission":
                kwargs["queryset"] = Commission.objects.filter(centre_id__in=managed)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if not self._unrestricted(request):
            mine = Q(centre__isnull=True) | Q(centre_id__in=sorted(self._managed(request)))
            if db_field.name == "piece_types":
                kwargs["queryset"] = PieceType.objects.filter(mine)
            elif db_field.name == "forms":
                kwargs["queryset"] = ComplementaryForm.objects.filter(mine)
            elif db_field.name == "questions":
                kwargs["queryset"] = Question.objects.filter(mine, is_common=False)
        return super().formfield_for_manytomany(db_field, request, **kwargs)
