from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from entserver.models import User


@admin.register(User)
class EntUserAdmin(UserAdmin):
    fieldsets = [*UserAdmin.fieldsets, ("ENT", {"fields": ["student_number"]})]
    list_display = ["username", "student_number", "first_name", "last_name", "email", "is_staff"]
