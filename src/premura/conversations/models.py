"""A case and everything that happened in it: messages, attachments, events, raw payloads."""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

REFERENCE_PREFIX = "PRM-"


def format_reference(conversation_id: int) -> str:
    """The human reference of a case, as customers and agents quote it: PRM-000123."""
    return f"{REFERENCE_PREFIX}{conversation_id:06d}"


def parse_reference(text: str) -> int | None:
    """The conversation id in a reference like "PRM-000123" (case-insensitive), or None."""
    text = text.strip().upper()
    if text.startswith(REFERENCE_PREFIX) and text[len(REFERENCE_PREFIX) :].isdigit():
        return int(text[len(REFERENCE_PREFIX) :])
    return None


# No database-level foreign key to the inbox on the rows every inbound message writes (raw
# payload, message, new case): PostgreSQL would take a KEY SHARE lock on the inbox's one row at
# every commit, and all concurrent messages of a busy inbox sharing that lock cost about a tenth
# of the throughput (bench/ingest.py). Inboxes are never deleted while they have messages
# (PROTECT), and only ingest() and the services write these rows, always with a real inbox id.
INBOX_ROW_LOCKS = False


class Label(models.Model):
    """A tag agents put on conversations ("refund", "vip" …)."""

    name = models.CharField(_("name"), max_length=60, unique=True)
    color = models.CharField(_("color"), max_length=7, default="#6b7280")

    class Meta:
        ordering = ["name"]
        verbose_name = _("label")
        verbose_name_plural = _("labels")

    def __str__(self) -> str:
        return self.name


class Conversation(models.Model):
    """A case: one customer, one inbox, from first message to resolution (and reopening)."""

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        PENDING = "pending", _("Pending")
        SNOOZED = "snoozed", _("Snoozed")
        RESOLVED = "resolved", _("Resolved")
        CLOSED = "closed", _("Closed")
        # Suspected spam (the contact form's scoring): kept for review, never routed.
        SPAM = "spam", _("Spam")

    class Priority(models.IntegerChoices):
        NONE = 0, _("None")
        LOW = 1, _("Low")
        MEDIUM = 2, _("Medium")
        HIGH = 3, _("High")
        URGENT = 4, _("Urgent")

    # These four foreign keys have no index of their own: each leads a composite index below.
    contact = models.ForeignKey(
        "contacts.Contact", on_delete=models.PROTECT, related_name="conversations", db_index=False
    )
    inbox = models.ForeignKey(
        "premura_channels.Inbox",
        on_delete=models.PROTECT,
        related_name="conversations",
        db_constraint=INBOX_ROW_LOCKS,
        db_index=False,
    )
    team = models.ForeignKey(
        "routing.Team",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="conversations",
        db_index=False,
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_conversations",
        db_index=False,
    )
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.OPEN
    )
    priority = models.SmallIntegerField(
        _("priority"), choices=Priority.choices, default=Priority.NONE
    )
    labels = models.ManyToManyField(Label, blank=True, related_name="conversations")
    language = models.CharField(_("language"), max_length=8, blank=True)
    subject = models.CharField(_("subject"), max_length=300, blank=True)
    # The caller's own key for this conversation (API channel "thread", chat session …).
    thread_key = models.CharField(max_length=255, blank=True, default="")
    snoozed_until = models.DateTimeField(null=True, blank=True)
    # Highest message sequence number so far; the next message takes last_sequence + 1.
    last_sequence = models.PositiveIntegerField(default=0)

    created_at = models.DateTimeField(db_index=False)
    first_customer_message_at = models.DateTimeField(null=True, blank=True)
    first_response_at = models.DateTimeField(
        null=True, blank=True, help_text=_("First reply written by a person")
    )
    last_customer_message_at = models.DateTimeField(null=True, blank=True)
    last_agent_message_at = models.DateTimeField(null=True, blank=True)
    last_activity_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)
    reopened_count = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("conversation")
        verbose_name_plural = _("conversations")
        constraints = [
            models.UniqueConstraint(
                fields=["inbox", "thread_key"],
                condition=~Q(thread_key=""),
                name="conversation_thread_key_unique",
            ),
        ]
        indexes = [
            models.Index(fields=["-last_activity_at", "-id"], name="conv_activity_idx"),
            models.Index(fields=["status", "-last_activity_at", "-id"], name="conv_status_idx"),
            models.Index(
                fields=["team", "status", "-last_activity_at", "-id"], name="conv_team_idx"
            ),
            models.Index(
                fields=["assignee", "status", "-last_activity_at", "-id"], name="conv_assignee_idx"
            ),
            models.Index(fields=["inbox", "-last_activity_at", "-id"], name="conv_inbox_idx"),
            models.Index(fields=["contact", "-last_activity_at"], name="conv_contact_idx"),
            models.Index(
                fields=["snoozed_until"],
                condition=Q(status="snoozed"),
                name="conv_snoozed_idx",
            ),
        ]

    def __str__(self) -> str:
        return self.reference

    @property
    def reference(self) -> str:
        return format_reference(self.pk or 0)

    @property
    def is_active(self) -> bool:
        return self.status in OPEN_STATUSES


OPEN_STATUSES = (
    Conversation.Status.OPEN,
    Conversation.Status.PENDING,
    Conversation.Status.SNOOZED,
)


class RawInbound(models.Model):
    """A provider payload exactly as it arrived, stored before anything else happens.

    Processed once a message points at it (`Message.raw`); "failed" records why ingest stopped.
    """

    class State(models.TextChoices):
        RECEIVED = "received", _("Received")
        FAILED = "failed", _("Failed")
        # Its case was deleted: the body is gone, the row stays so the message is never
        # imported again (a mailbox re-fetch, a provider's retry).
        DELETED = "deleted", pgettext_lazy("raw payload state", "Deleted")

    inbox = models.ForeignKey(
        "premura_channels.Inbox",
        on_delete=models.CASCADE,
        related_name="raw_inbound",
        db_constraint=INBOX_ROW_LOCKS,
    )
    provider_message_id = models.CharField(max_length=255, blank=True, default="")
    content_type = models.CharField(max_length=100, blank=True)
    body = models.BinaryField()
    headers = models.JSONField(default=dict, blank=True)
    state = models.CharField(max_length=16, choices=State.choices, default=State.RECEIVED)
    error = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("raw inbound payload")
        verbose_name_plural = _("raw inbound payloads")
        constraints = [
            models.UniqueConstraint(
                fields=["inbox", "provider_message_id"],
                condition=~Q(provider_message_id=""),
                name="raw_inbound_unique_provider_id",
            ),
        ]
        indexes = [
            models.Index(
                fields=["received_at"], condition=Q(state="failed"), name="raw_failed_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.inbox_id}:{self.provider_message_id or self.pk}"


class Message(models.Model):
    """One message of a case, inbound or outbound; outbound ones are also the outbox."""

    class Direction(models.TextChoices):
        INBOUND = "in", _("Inbound")
        OUTBOUND = "out", _("Outbound")

    class Kind(models.TextChoices):
        CUSTOMER = "customer", _("Customer")
        AGENT = "agent", _("Agent")
        NOTE = "note", _("Private note")
        AUTOMATIC = "automatic", _("Automatic")
        BOT = "bot", _("Bot")

    class Delivery(models.TextChoices):
        NONE = "", _("Not applicable")
        QUEUED = "queued", _("Queued")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        DELIVERED = "delivered", _("Delivered")
        READ = "read", _("Read")
        FAILED = "failed", _("Failed")

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="messages", db_index=False
    )
    # Copied from the conversation so that (inbox, provider_message_id) can be unique.
    inbox = models.ForeignKey(
        "premura_channels.Inbox",
        on_delete=models.PROTECT,
        related_name="+",
        db_constraint=INBOX_ROW_LOCKS,
    )
    sequence = models.PositiveIntegerField()
    direction = models.CharField(max_length=3, choices=Direction.choices)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    author_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    author_contact = models.ForeignKey(
        "contacts.Contact", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    text = models.TextField(blank=True)
    # Sanitised with nh3 before it is stored; never the provider's HTML as received.
    html = models.TextField(blank=True)
    provider_message_id = models.CharField(max_length=255, blank=True, default="")
    # Sent by a machine (an auto-reply, a bounce, list mail): never answered automatically.
    automated = models.BooleanField(default=False, db_default=False)
    raw = models.ForeignKey(
        RawInbound,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    sent_at = models.DateTimeField(
        null=True, blank=True, help_text=_("When the sender says it was sent")
    )
    created_at = models.DateTimeField()

    # Outbox: delivery state of an outbound message.
    delivery_id = models.UUIDField(default=uuid.uuid4, editable=False)
    delivery_state = models.CharField(
        max_length=16, choices=Delivery.choices, blank=True, default=""
    )
    delivery_error = models.TextField(blank=True)
    delivery_attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    delivery_updated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        constraints = [
            models.UniqueConstraint(
                fields=["conversation", "sequence"], name="message_sequence_unique"
            ),
            models.UniqueConstraint(
                fields=["inbox", "provider_message_id"],
                condition=~Q(provider_message_id=""),
                name="message_unique_provider_id",
            ),
        ]
        indexes = [
            models.Index(
                fields=["delivery_state", "next_attempt_at"],
                condition=Q(delivery_state__in=["queued", "sending"]),
                name="message_outbox_idx",
            ),
            # The conversation key is indexed by message_sequence_unique; most messages have no raw
            # payload (outbound, imported), so only the others are indexed by it.
            models.Index(fields=["raw"], condition=Q(raw__isnull=False), name="message_raw_idx"),
            # The API channel's receivers dedupe on delivery ids; support looks messages up by it.
            models.Index(
                fields=["delivery_id"],
                condition=~Q(delivery_state=""),
                name="message_delivery_id_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.conversation_id}#{self.sequence}"

    @property
    def is_public(self) -> bool:
        """Whether the customer sees this message (private notes they never see)."""
        return self.kind != self.Kind.NOTE


class Attachment(models.Model):
    """A file of a message; its type is sniffed from the bytes and it is never served inline."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="attachments")
    file = models.FileField(upload_to="attachments/%Y/%m/")
    filename = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100, help_text=_("Sniffed from the content"))
    declared_content_type = models.CharField(max_length=100, blank=True)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    # An email's inline part: the HTML refers to it as cid:<content_id>; shown in the text, not
    # listed below it.
    content_id = models.CharField(max_length=255, blank=True, default="", db_default="")
    inline = models.BooleanField(default=False, db_default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")

    def __str__(self) -> str:
        return self.filename


class ConversationEvent(models.Model):
    """Something that happened in a case. Append-only: the source of timelines, audit and KPIs."""

    class Kind(models.TextChoices):
        CREATED = "created", _("Conversation created")
        MESSAGE_IN = "message_in", _("Message received")
        MESSAGE_OUT = "message_out", _("Reply sent")
        NOTE = "note", _("Note added")
        ASSIGNED = "assigned", _("Assigned")
        TEAM_CHANGED = "team_changed", _("Team changed")
        STATUS_CHANGED = "status_changed", _("Status changed")
        PRIORITY_CHANGED = "priority_changed", _("Priority changed")
        LABELS_CHANGED = "labels_changed", _("Labels changed")
        REOPENED = "reopened", _("Reopened")
        DELIVERY_FAILED = "delivery_failed", _("Delivery failed")
        CONTACT_MERGED = "contact_merged", _("Contact merged")
        SLA_BREACHED = "sla_breached", _("SLA breached")
        SURVEY_ANSWERED = "survey_answered", _("Survey answered")
        EXTERNAL_EVENT = "external_event", _("External event")

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="events", db_index=False
    )
    kind = models.CharField(max_length=32, choices=Kind.choices)
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_contact = models.ForeignKey(
        "contacts.Contact", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    message = models.ForeignKey(
        Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    payload = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        verbose_name = _("conversation event")
        verbose_name_plural = _("conversation events")
        indexes = [
            # Also the index of the conversation foreign key.
            models.Index(fields=["conversation", "created_at", "id"], name="event_conv_idx"),
            models.Index(fields=["kind", "created_at"], name="event_kind_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.conversation_id}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None and not kwargs.get("force_insert"):
            raise ValueError("conversation events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise ValueError("conversation events are append-only")


class Mention(models.Model):
    """An agent named with `@` in a private note: it shows in their Mentions view until seen."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="mentions")
    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="mentions", db_index=False
    )
    created_at = models.DateTimeField()
    seen_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("mention")
        verbose_name_plural = _("mentions")
        constraints = [
            models.UniqueConstraint(fields=["message", "user"], name="mention_unique"),
        ]
        indexes = [
            # The Mentions view: an agent's mentions, newest first.
            models.Index(fields=["user", "-created_at"], name="mention_user_idx"),
            models.Index(fields=["conversation"], name="mention_conversation_idx"),
        ]

    def __str__(self) -> str:
        return f"@{self.user_id} in {self.conversation_id}"
