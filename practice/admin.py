"""Django admin for the SaaS operator (superusers). Practice staff use the practice pages instead.

The operator works across practices, so tenant-owned models are listed with their unscoped
manager here, deliberately; audit rows are read-only.
"""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from practice.models import AccessEvent, AuditLogEntry, Location, Membership, Practice, User


class UnscopedAdmin(admin.ModelAdmin):
    def get_queryset(self, request):
        return self.model.all_objects.all()


@admin.register(Practice)
class PracticeAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "timezone", "is_active", "created_at")
    search_fields = ("name", "slug")
    list_filter = ("is_active",)


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ("email",)
    list_display = ("email", "full_name", "is_active", "is_staff", "date_joined")
    search_fields = ("email", "full_name")
    fieldsets = (
        (None, {"fields": ("email", "password", "full_name")}),
        ("Status", {"fields": ("is_active", "is_staff", "is_superuser")}),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "full_name", "password1", "password2")}),)
    readonly_fields = ("last_login", "date_joined")


@admin.register(Location)
class LocationAdmin(UnscopedAdmin):
    list_display = ("name", "practice", "place_of_service", "is_active")
    list_filter = ("practice",)


@admin.register(Membership)
class MembershipAdmin(UnscopedAdmin):
    list_display = ("user", "practice", "role", "is_active", "is_licensed")
    list_filter = ("practice", "role", "is_active")
    raw_id_fields = ("user", "supervisor")


class ReadOnlyAuditAdmin(UnscopedAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


if admin.site.is_registered(AuditLogEntry):  # django-auditlog registers its (editable) admin
    admin.site.unregister(AuditLogEntry)


@admin.register(AuditLogEntry)
class AuditLogEntryAdmin(ReadOnlyAuditAdmin):
    list_display = ("timestamp", "practice", "actor", "content_type", "object_pk", "action", "seq")
    list_filter = ("practice", "action")


@admin.register(AccessEvent)
class AccessEventAdmin(ReadOnlyAuditAdmin):
    list_display = ("occurred_at", "practice", "user", "action", "object_type", "object_id", "seq")
    list_filter = ("practice", "action")
