"""What each agent has read: the inbox's unread markers."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class ReadMarker(models.Model):
    """The last message sequence an agent has seen in a conversation.

    A conversation is unread for an agent when its `last_sequence` is past the marker (or when
    there is no marker). One row per agent and conversation they opened, updated in place.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    conversation = models.ForeignKey(
        "conversations.Conversation", on_delete=models.CASCADE, related_name="+"
    )
    last_read_sequence = models.PositiveIntegerField(default=0)
    read_at = models.DateTimeField()

    class Meta:
        verbose_name = _("read marker")
        verbose_name_plural = _("read markers")
        constraints = [
            models.UniqueConstraint(fields=["user", "conversation"], name="readmarker_unique"),
        ]
        indexes = [
            # The command palette's "recently opened" conversations of an agent.
            models.Index(fields=["user", "-read_at"], name="readmarker_recent_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} read {self.conversation_id} up to {self.last_read_sequence}"
