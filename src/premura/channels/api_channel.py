"""The API channel: other systems post customer messages in, agent replies go out as webhooks.

Inbound: `POST /api/v1/inboxes/{id}/messages` (channels/api.py) becomes an InboundMessage here.
Outbound: an agent reply is POSTed as JSON to the inbox's webhook URL, signed with HMAC-SHA256 of
the raw body under the inbox's webhook secret (`X-Premura-Signature: sha256=<hex>`). The
`X-Premura-Delivery` id is the same on every retry of one message, so receivers can drop repeats.
The contract is written down in docs/api.md.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import httpx
from django.conf import settings
from django.urls import reverse

from premura.contacts.models import Identity
from premura.contacts.services import ContactInfo, IdentityKey
from premura.conversations.ingest import InboundAttachment, InboundMessage
from premura.conversations.models import Message
from premura.conversations.outbox import DeliveryError, SendResult

USER_AGENT = "Premura-Webhook/1"
# Answers that mean "try again later"; any other 4xx is the receiver refusing the message for good.
RETRYABLE_STATUS = {408, 409, 425, 429}


def contact_key(inbox_id: int, identifier: str) -> IdentityKey:
    """The identity of a caller's customer id: scoped to the inbox, callers' ids may collide."""
    return IdentityKey(Identity.Kind.API, identifier, scope=str(inbox_id))


def to_inbound(inbox_id: int, payload: dict[str, Any]) -> InboundMessage:
    """Turn a validated POST body into an InboundMessage (attachments already decoded)."""
    contact = payload["contact"]
    return InboundMessage(
        provider_message_id=payload["message_id"],
        contact=ContactInfo(
            identity=contact_key(inbox_id, contact["identifier"]),
            name=contact.get("name") or "",
            email=contact.get("email") or "",
            phone=contact.get("phone") or "",
        ),
        text=payload.get("text") or "",
        html=payload.get("html") or "",
        sent_at=payload.get("sent_at"),
        thread_key=payload.get("thread") or "",
        attachments=tuple(
            InboundAttachment(a["filename"], a["content"], a.get("content_type") or "")
            for a in payload.get("attachments") or ()
        ),
    )


def sign(secret: str, body: bytes) -> str:
    """The X-Premura-Signature header value for a body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def webhook_body(message: Message) -> dict[str, Any]:
    """The JSON document POSTed for an agent reply."""
    conversation = message.conversation
    contact = conversation.contact
    identifier = (
        Identity.objects.filter(
            contact=contact, kind=Identity.Kind.API, scope=str(message.inbox_id)
        )
        .values_list("external_id", flat=True)
        .first()
    )
    base = settings.PREMURA_BASE_URL.rstrip("/")
    author = message.author_user
    return {
        "event": "message.created",
        "delivery_id": str(message.delivery_id),
        "inbox_id": message.inbox_id,
        "message": {
            "id": message.pk,
            "sequence": message.sequence,
            "kind": message.kind,
            "text": message.text,
            "html": message.html,
            "created_at": message.created_at.isoformat(),
            "author": {"name": str(author)} if author is not None else None,
            "attachments": [
                {
                    "id": a.pk,
                    "filename": a.filename,
                    "content_type": a.content_type,
                    "size": a.size,
                    "url": base
                    + reverse(
                        "api-1:inbox_attachment",
                        kwargs={"inbox_id": message.inbox_id, "attachment_id": a.pk},
                    ),
                }
                for a in message.attachments.all()
            ],
        },
        "conversation": {
            "id": conversation.pk,
            "reference": conversation.reference,
            "thread": conversation.thread_key or None,
        },
        "contact": {
            "id": contact.pk,
            "identifier": identifier,
            "name": contact.name,
            "email": contact.email,
            "phone": contact.phone,
        },
    }


def send(message: Message) -> SendResult:
    """Deliver an agent reply to the inbox's webhook URL."""
    inbox = message.inbox
    if not inbox.webhook_url:
        raise DeliveryError(
            "this API inbox has no webhook URL to deliver replies to", permanent=True
        )
    body = json.dumps(webhook_body(message), ensure_ascii=False, separators=(",", ":")).encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Premura-Event": "message.created",
        "X-Premura-Delivery": str(message.delivery_id),
        "X-Premura-Signature": sign(inbox.webhook_secret, body),
    }
    try:
        response = httpx.post(
            inbox.webhook_url,
            content=body,
            headers=headers,
            timeout=settings.PREMURA_OUTBOX_TIMEOUT_SECONDS,
            follow_redirects=False,
        )
    except httpx.TimeoutException as exc:
        raise DeliveryError(f"webhook timed out: {exc}") from exc
    except httpx.HTTPError as exc:
        raise DeliveryError(f"webhook unreachable: {exc}") from exc
    if 200 <= response.status_code < 300:
        return SendResult(provider_message_id=_provider_id(response))
    reason = f"webhook answered HTTP {response.status_code}: {response.text[:300]}"
    permanent = 400 <= response.status_code < 500 and response.status_code not in RETRYABLE_STATUS
    raise DeliveryError(reason, permanent=permanent)


def _provider_id(response: httpx.Response) -> str:
    """The receiver may answer {"message_id": "..."} to tell us its id for the message."""
    try:
        data = response.json()
    except ValueError:
        return ""
    if isinstance(data, dict):
        value = data.get("message_id") or data.get("id")
        if isinstance(value, str | int):
            return str(value)[:255]
    return ""
