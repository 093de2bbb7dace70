"""List filters of the back office that name centres, commissions or formations: only those the user may see.

Django's filter on a foreign key (``list_filter = ["centre"]``) lists every row of the related table, so a manager
scoped to one centre read the names of all the others beside a list that was itself scoped. ``VisibleRelatedFilter``
is Django's filter (same title, parameter ``centre__id__exact``, "empty" choice for a nullable key) with its choices
limited by the related model's ``visible_to(user)``, the scope the applications list's own filters use
(``applications.admin.filters``). The choices stay one query (the scope is a subquery of it); the central office's
are unchanged. Centres, commissions and formations are named in French by the staff: the choices are marked
``lang="fr"`` (``ecandidat.admin_base.FrenchChoices``, RGAA 8.7).

Use: ``list_filter = [("centre", VisibleRelatedFilter)]``.
"""

from django.contrib import admin
from django.db.models import Q

from ecandidat.admin_base import FrenchChoices
from ecandidat.staff import is_central


class VisibleRelatedFilter(FrenchChoices, admin.RelatedFieldListFilter):
    """Django's foreign-key filter offering only the related rows ``<related model>.objects.visible_to(user)``."""

    def field_choices(self, field, request, model_admin):
        if is_central(request.user):  # superusers too: every row
            return super().field_choices(field, request, model_admin)
        ordering = self.field_admin_ordering(field, request, model_admin)
        visible = field.related_model._default_manager.visible_to(request.user).values("pk")
        return field.get_choices(include_blank=False, ordering=ordering, limit_choices_to=Q(pk__in=visible))
