from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from accounts.models import User


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ["username", "email", "last_name", "first_name", "campaign", "is_staff", "is_active"]
    list_filter = ["is_staff", "is_active", "campaign"]
    list_select_related = ["campaign"]
    show_full_result_count = False
    fieldsets = [*DjangoUserAdmin.fieldsets, (None, {"fields": ["campaign"]})]
