from django.contrib import admin
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from accounts import staff_access
from accounts.models import StaffMembership, User


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ["username", "email", "last_name", "first_name", "campaign", "is_staff", "is_active"]
    list_filter = ["is_staff", "is_active", "campaign"]
    list_select_related = ["campaign"]
    show_full_result_count = False
    fieldsets = [*(DjangoUserAdmin.fieldsets or ()), (None, {"fields": ["campaign", "student_number"]})]
    search_fields = ["username", "email", "last_name", "first_name", "student_number"]


@admin.register(StaffMembership)
class StaffMembershipAdmin(admin.ModelAdmin):
    """Staff rights: central office (no centre nor commission), centre manager or read-only member of a centre,
    commission member (reads, enters decisions). The back office scopes every list and action from these rows."""

    list_display = ["user", "role", "centre", "commission", "created_at"]
    list_filter = ["role", "centre"]
    list_select_related = ["user", "centre", "commission"]
    raw_id_fields = ["user"]
    autocomplete_fields = ["centre", "commission"]
    search_fields = ["user__username", "user__last_name", "user__email"]
    show_full_result_count = False


@login_not_required
def admin_login(request, extra_context=None):
    """The back office logs in through allauth's login page, so that its rate limits (login_failed) and the
    annual-account rule apply there too. A staff member already logged in but without a second factor (see
    accounts.staff_access) is sent to the authenticator app instead."""
    if request.user.is_authenticated and not request.user.is_staff:
        raise PermissionDenied
    next_url = request.GET.get(REDIRECT_FIELD_NAME) or reverse("admin:index")
    if staff_access.needs_second_factor(request):
        return staff_access.second_factor_redirect(request, next_url)
    return redirect_to_login(next_url, login_url=reverse("account_login"))


# The default site is patched rather than replaced by an AdminSite subclass (mypy forbids assigning to methods).
admin.site.login = admin_login  # type: ignore[method-assign]
admin.site.has_permission = staff_access.may_enter_back_office  # type: ignore[method-assign]
