"""The back-office pages of the frameworks' own models, made to read like the rest (French, and only what helps).

- **Permissions**, on the pages of a group and of a user: Django stores their names in English when it creates them
  ("Can change piece type"); they are shown as "Offre de formation | Pièces justificatives : modifier", from the
  codename and the model's translated names (``permission_label``).
- **Second factors** (allauth's ``Authenticator``): listed as "Seconds facteurs du personnel" under the staff
  accounts, through a proxy model. Nobody adds or edits one here (the staff member activates their app); the
  central office deletes one for a staff member who lost their phone, which is recorded in the admin's history
  with its author. Only a superuser deletes a superuser's.
- **Social applications and tokens** are not shown: the ENT's application is configured in the settings
  (``SOCIALACCOUNT_PROVIDERS``), where a second one added in the database would make the ENT login fail with two
  applications for one provider, and tokens are not stored (``SOCIALACCOUNT_STORE_TOKENS = False``).
"""

from allauth.mfa.models import Authenticator
from allauth.socialaccount.models import SocialApp, SocialToken
from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin as DjangoGroupAdmin
from django.contrib.auth.models import Group, Permission
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from accounts.models import StaffSecondFactor
from ecandidat.admin_base import CentralOfficeOnly, ReadOnly
from ecandidat.staff import is_central

_ACTIONS = {
    "add": pgettext_lazy("permission", "add"),
    "change": pgettext_lazy("permission", "change"),
    "delete": pgettext_lazy("permission", "delete"),
    "view": pgettext_lazy("permission", "view"),
}


def permission_label(permission: Permission) -> str:
    """ "<app> | <models> : <action>" in the language of the request, for Django's four permissions of a model; a
    custom permission keeps its own name, translated if the catalogue has it."""
    model = permission.content_type.model_class()
    if model is None:  # a model removed since its permissions were created
        return f"{permission.content_type} | {permission.name}"
    action, _sep, model_name = permission.codename.partition("_")
    app = model._meta.app_config.verbose_name
    if action in _ACTIONS and model_name == model._meta.model_name:
        return f"{app} | {model._meta.verbose_name_plural} : {_ACTIONS[action]}"
    return f"{app} | {model._meta.verbose_name_plural} : {gettext(permission.name)}"


class PermissionLabels:
    """Mixed into the group and user pages: the permission lists read ``permission_label``."""

    def formfield_for_manytomany(self, db_field, request=None, **kwargs):
        formfield = super().formfield_for_manytomany(db_field, request=request, **kwargs)  # type: ignore[misc]
        if formfield is not None and db_field.remote_field.model is Permission:
            formfield.queryset = formfield.queryset.select_related("content_type")
            formfield.label_from_instance = permission_label
        return formfield


admin.site.unregister(Group)


@admin.register(Group)
class GroupAdmin(PermissionLabels, DjangoGroupAdmin):
    pass


admin.site.unregister(Authenticator)


@admin.register(StaffSecondFactor)
class StaffSecondFactorAdmin(ReadOnly, CentralOfficeOnly, admin.ModelAdmin):
    list_display = ["staff_member", "kind", "activated_at", "last_used"]
    list_filter = ["type"]
    list_select_related = ["user"]
    search_fields = ["user__username", "user__last_name", "user__email"]
    show_full_result_count = False
    fields = ("staff_member", "kind", "activated_at", "last_used")
    readonly_fields = fields

    @admin.display(description=_("staff member"), ordering="user__username")
    def staff_member(self, obj):
        return obj.user

    @admin.display(description=_("kind"), ordering="type")
    def kind(self, obj):
        return obj.get_type_display()

    @admin.display(description=_("activated on"), ordering="created_at")
    def activated_at(self, obj):
        return obj.created_at

    @admin.display(description=_("last used on"), ordering="last_used_at")
    def last_used(self, obj):
        return obj.last_used_at or gettext("never")

    def get_queryset(self, request):
        return super().get_queryset(request).filter(user__is_staff=True)

    def has_delete_permission(self, request, obj=None):
        if not is_central(request.user):
            return False
        return obj is None or not obj.user.is_superuser or request.user.is_superuser

    def get_deleted_objects(self, objs, request):
        # A central officer's bulk delete must not reach a superuser's second factor either.
        deleted, model_count, perms_needed, protected = super().get_deleted_objects(objs, request)
        if not request.user.is_superuser and any(obj.user.is_superuser for obj in objs):
            perms_needed = {*perms_needed, gettext("a superuser's second factor")}
        return deleted, model_count, perms_needed, protected


for _model in (SocialApp, SocialToken):
    admin.site.unregister(_model)
