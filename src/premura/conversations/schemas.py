"""API shapes of conversations and messages, shared by the REST API and the API channel."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.urls import reverse
from ninja import Schema

from premura.conversations.models import Attachment, Conversation, Message


class AttachmentOut(Schema):
    id: int
    filename: str
    content_type: str
    size: int
    url: str


class MessageOut(Schema):
    id: int
    conversation_id: int
    sequence: int
    direction: str
    kind: str
    text: str
    html: str
    author_user_id: int | None
    author_contact_id: int | None
    provider_message_id: str
    sent_at: dt.datetime | None
    created_at: dt.datetime
    delivery_state: str
    delivery_error: str
    attachments: list[AttachmentOut]


class ConversationRef(Schema):
    id: int
    reference: str
    status: str


class ConversationOut(Schema):
    id: int
    reference: str
    status: str
    priority: int
    subject: str | None
    contact_id: int
    inbox_id: int
    channel: str
    team_id: int | None
    assignee_id: int | None
    labels: list[str] | None
    language: str
    thread: str | None
    snoozed_until: dt.datetime | None
    created_at: dt.datetime
    first_customer_message_at: dt.datetime | None
    first_response_at: dt.datetime | None
    last_customer_message_at: dt.datetime | None
    last_agent_message_at: dt.datetime | None
    last_activity_at: dt.datetime
    resolved_at: dt.datetime | None
    last_sequence: int
    content_visible: bool


def attachment_dict(attachment: Attachment) -> dict[str, Any]:
    return {
        "id": attachment.pk,
        "filename": attachment.filename,
        "content_type": attachment.content_type,
        "size": attachment.size,
        "url": reverse("api-1:attachment_download", kwargs={"attachment_id": attachment.pk}),
    }


def message_dict(message: Message, attachments: list[Attachment] | None = None) -> dict[str, Any]:
    if attachments is None:
        attachments = list(message.attachments.all())
    return {
        "id": message.pk,
        "conversation_id": message.conversation_id,
        "sequence": message.sequence,
        "direction": message.direction,
        "kind": message.kind,
        "text": message.text,
        "html": message.html,
        "author_user_id": message.author_user_id,
        "author_contact_id": message.author_contact_id,
        "provider_message_id": message.provider_message_id,
        "sent_at": message.sent_at,
        "created_at": message.created_at,
        "delivery_state": message.delivery_state,
        "delivery_error": message.delivery_error,
        "attachments": [attachment_dict(a) for a in attachments],
    }


def conversation_ref(conversation: Conversation) -> dict[str, Any]:
    return {
        "id": conversation.pk,
        "reference": conversation.reference,
        "status": conversation.status,
    }


def conversation_dict(
    conversation: Conversation, *, content_visible: bool, labels: list[str] | None = None
) -> dict[str, Any]:
    """A conversation for the API; content fields are None when the reader may not see them."""
    return {
        "id": conversation.pk,
        "reference": conversation.reference,
        "status": conversation.status,
        "priority": conversation.priority,
        "subject": conversation.subject if content_visible else None,
        "contact_id": conversation.contact_id,
        "inbox_id": conversation.inbox_id,
        "channel": conversation.inbox.kind,
        "team_id": conversation.team_id,
        "assignee_id": conversation.assignee_id,
        "labels": labels if content_visible else None,
        "language": conversation.language,
        "thread": (conversation.thread_key or None) if content_visible else None,
        "snoozed_until": conversation.snoozed_until,
        "created_at": conversation.created_at,
        "first_customer_message_at": conversation.first_customer_message_at,
        "first_response_at": conversation.first_response_at,
        "last_customer_message_at": conversation.last_customer_message_at,
        "last_agent_message_at": conversation.last_agent_message_at,
        "last_activity_at": conversation.last_activity_at,
        "resolved_at": conversation.resolved_at,
        "last_sequence": conversation.last_sequence,
        "content_visible": content_visible,
    }
