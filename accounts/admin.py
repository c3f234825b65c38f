from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from accounts.models import User


@admin.register(User)
class PlatformUserAdmin(UserAdmin):
    fieldsets = (*UserAdmin.fieldsets,
                 ("Platform", {"fields": ("display_name", "phone", "is_federation_admin")}))
    list_display = ("username", "display_name", "phone", "is_federation_admin", "is_active")
