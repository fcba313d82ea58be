from __future__ import annotations

from django.contrib import admin

from premura.conversations.models import Conversation, Message, RawInbound


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("id", "status", "inbox", "team", "assignee", "last_activity_at")
    list_filter = ("status",)
    raw_id_fields = ("contact", "assignee")
    show_full_result_count = False


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("id", "conversation", "sequence", "direction", "kind", "delivery_state")
    list_filter = ("delivery_state",)
    raw_id_fields = ("conversation", "author_user", "author_contact", "raw")
    show_full_result_count = False


@admin.register(RawInbound)
class RawInboundAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("id", "inbox", "provider_message_id", "state", "received_at")
    list_filter = ("state",)
    show_full_result_count = False
