from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from premura.accounts.models import APIToken, User


@admin.register(User)
class AgentAdmin(UserAdmin):  # type: ignore[type-arg]
    list_display = ("email", "display_name", "role", "is_active")
    ordering = ("email",)
    fieldsets = (
        *UserAdmin.fieldsets,  # type: ignore[misc]
        ("Premura", {"fields": ("role", "display_name", "language", "timezone")}),
    )


@admin.register(APIToken)
class APITokenAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("prefix", "name", "user", "created_at", "last_used_at", "revoked_at")
    readonly_fields = ("token_hash", "prefix")
