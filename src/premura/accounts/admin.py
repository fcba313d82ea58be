"""Agents, roles, personal API tokens."""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from premura.accounts import two_factor
from premura.accounts.models import APIToken, User
from premura.accounts.services import unlock_sign_in


@admin.register(User)
class AgentAdmin(UserAdmin):  # type: ignore[type-arg]
    list_display = ("email", "display_name", "role", "is_active", "two_factor_enabled")
    ordering = ("email",)
    readonly_fields = ("two_factor_enabled",)
    fieldsets = (
        *UserAdmin.fieldsets,  # type: ignore[misc]
        (
            "Premura",
            {"fields": ("role", "display_name", "language", "timezone", "two_factor_enabled")},
        ),
    )
    actions = ("reset_two_factor", "unlock_sign_in")

    @admin.action(description=_("Reset two-factor sign-in (lost phone)"))
    def reset_two_factor(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        agents = list(queryset)
        for agent in agents:
            two_factor.reset(agent)
        self.message_user(
            request,
            ngettext(
                "Two-factor sign-in reset for %(count)d agent.",
                "Two-factor sign-in reset for %(count)d agents.",
                len(agents),
            )
            % {"count": len(agents)},
            messages.SUCCESS,
        )

    @admin.action(description=_("Unlock sign-in after too many failed attempts"))
    def unlock_sign_in(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        emails = list(queryset.values_list("email", flat=True))
        for email in emails:
            unlock_sign_in(email)
        self.message_user(
            request,
            ngettext(
                "Sign-in unlocked for %(count)d agent.",
                "Sign-in unlocked for %(count)d agents.",
                len(emails),
            )
            % {"count": len(emails)},
            messages.SUCCESS,
        )


@admin.register(APIToken)
class APITokenAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("prefix", "name", "user", "created_at", "last_used_at", "revoked_at")
    readonly_fields = ("token_hash", "prefix")
