from __future__ import annotations

from django.contrib import admin

from premura.channels.models import Inbox


@admin.register(Inbox)
class InboxAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("name", "kind", "team", "is_active")
    # Secrets are never shown back, not even to superusers.
    exclude = ("credentials", "webhook_secret", "token_hash")
