from django.contrib import admin

from banks.models import Bank, BankEvent, Branch, Domain, StaffMembership


class DomainInline(admin.TabularInline):
    model = Domain
    extra = 0


@admin.register(Bank)
class BankAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "schema_name", "region", "is_active")
    inlines = [DomainInline]
    readonly_fields = ("schema_name",)


@admin.register(Branch)
class BranchAdmin(admin.ModelAdmin):
    list_display = ("bank", "code", "name", "county", "is_pickup_point")
    list_filter = ("bank",)


@admin.register(StaffMembership)
class StaffMembershipAdmin(admin.ModelAdmin):
    list_display = ("user", "bank", "role", "branch", "is_active")
    list_filter = ("bank", "role")


@admin.register(BankEvent)
class BankEventAdmin(admin.ModelAdmin):
    list_display = ("created_at", "bank", "action", "actor")
    readonly_fields = ("bank", "actor", "action", "detail", "created_at")
