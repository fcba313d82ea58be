"""API channel endpoints (inbox token) and inbox administration (admins' personal token)."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from ninja import Field, NinjaAPI, Router, Schema, Status
from ninja.security import HttpBearer
from pydantic import (
    ModelWrapValidatorHandler,
    ValidationInfo,
    field_validator,
    model_validator,
)

from premura.api.auth import AgentToken, require_admin
from premura.api.errors import APIError
from premura.channels import api_channel
from premura.channels.models import Inbox
from premura.channels.services import create_api_inbox, inbox_for_token
from premura.contacts.services import normalize_email, normalize_phone
from premura.conversations.attachments import AttachmentTooLarge
from premura.conversations.downloads import attachment_response
from premura.conversations.ingest import ConversationDeleted, RawPayload, ingest
from premura.conversations.models import Attachment, Message
from premura.conversations.outbox import apply_receipt
from premura.conversations.schemas import (
    ConversationRef,
    MessageOut,
    conversation_ref,
    message_dict,
)
from premura.routing.models import Team

router = Router(tags=["API channel"])
admin_router = Router(tags=["Inboxes"], auth=AgentToken())


class InboxToken(HttpBearer):
    """`Authorization: Bearer prm_in_…` for the inbox named in the path."""

    def authenticate(self, request: HttpRequest, token: str) -> Inbox | None:
        inbox = inbox_for_token(token)
        if inbox is None:
            return None
        match = request.resolver_match
        path_inbox = match.kwargs.get("inbox_id") if match is not None else None
        if str(inbox.pk) != str(path_inbox):
            raise APIError(404, "not_found", "No such inbox for this token.")
        return inbox


def _with_offset(value: dt.datetime | None) -> dt.datetime | None:
    """Times from other systems must say their offset: a naive time is ambiguous."""
    if value is not None and value.tzinfo is None:
        raise ValueError("needs a time zone offset (e.g. 2026-11-23T10:00:00+01:00)")
    return value


class _Input(Schema):
    """A request body schema validated as plain pydantic.

    ninja's Schema wraps what it validates in a getter that reads model instances; request
    bodies are dicts, and the wrapping costs twice the validation itself on the hot path.
    """

    @model_validator(mode="wrap")
    @classmethod
    def _run_root_validator(
        cls, values: Any, handler: ModelWrapValidatorHandler[Any], info: ValidationInfo
    ) -> Any:
        return handler(values)


class ContactIn(_Input):
    identifier: str = Field(
        ..., min_length=1, max_length=255, description="Your id for the customer"
    )
    name: str = Field("", max_length=200)
    email: str = Field("", max_length=254)
    phone: str = Field("", max_length=40)

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        if not value:
            return ""
        try:
            validate_email(value)
        except DjangoValidationError as exc:
            raise ValueError("not a valid email address") from exc
        return normalize_email(value)

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str) -> str:
        return _normalized_phone(value, settings.PREMURA_DEFAULT_PHONE_REGION) if value else ""


# Parsing and validating a phone number costs more than a tenth of a millisecond; a customer
# writing again sends the same number (a number that is not valid raises, and is not remembered).
_normalized_phone = lru_cache(maxsize=8192)(normalize_phone)


class AttachmentIn(_Input):
    filename: str = Field(..., min_length=1, max_length=255)
    content_type: str = Field("", max_length=100)
    data_base64: str


class InboundMessageIn(_Input):
    message_id: str = Field(
        ..., min_length=1, max_length=255, description="Your unique id for this message"
    )
    contact: ContactIn
    text: str = Field("", max_length=200_000)
    html: str = Field("", max_length=1_000_000)
    sent_at: dt.datetime | None = None
    thread: str = Field("", max_length=255, description="Your key for the conversation")
    attachments: list[AttachmentIn] = Field(default_factory=list, max_length=50)

    @field_validator("sent_at")
    @classmethod
    def _aware(cls, value: dt.datetime | None) -> dt.datetime | None:
        return _with_offset(value)

    @model_validator(mode="after")
    def _something_to_say(self) -> InboundMessageIn:
        if not self.text.strip() and not self.html.strip() and not self.attachments:
            raise ValueError("a message needs text, html or an attachment")
        return self


class ContactBrief(Schema):
    id: int
    name: str
    email: str
    phone: str


class IngestOut(Schema):
    message: MessageOut
    conversation: ConversationRef
    contact: ContactBrief


def _decode_attachments(items: list[AttachmentIn]) -> list[dict[str, Any]]:
    decoded = []
    for index, item in enumerate(items):
        try:
            content = base64.b64decode(item.data_base64, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise APIError(
                422,
                "validation_error",
                "An attachment is not valid base64.",
                [{"loc": ["body", "attachments", index, "data_base64"], "msg": "not valid base64"}],
            ) from exc
        decoded.append(
            {"filename": item.filename, "content_type": item.content_type, "content": content}
        )
    return decoded


@router.post(
    "/inboxes/{inbox_id}/messages",
    auth=InboxToken(),
    response={200: IngestOut, 201: IngestOut},
    url_name="inbox_messages",
    summary="Post a customer message into an API inbox",
)
def post_message(request: HttpRequest, inbox_id: int, payload: InboundMessageIn) -> HttpResponse:
    """Idempotent on `message_id`: a replay answers 200 with the stored message and writes nothing."""
    inbox: Inbox = request.auth  # type: ignore[attr-defined]
    data = payload.dict()
    data["attachments"] = _decode_attachments(payload.attachments)
    inbound = api_channel.to_inbound(inbox.pk, data)
    raw = RawPayload(body=request.body, content_type=request.content_type or "")
    try:
        result = ingest(inbox, inbound, raw)
    except AttachmentTooLarge as exc:
        raise APIError(413, "attachment_too_large", str(exc)) from exc
    except ConversationDeleted as exc:
        raise APIError(
            410, "conversation_deleted", "This message belonged to a deleted conversation."
        ) from exc
    message = result.message
    attachments = (
        list(message.attachments.all()) if (payload.attachments or not result.created) else []
    )
    contact = result.contact
    body = {
        "message": message_dict(message, attachments),
        "conversation": conversation_ref(result.conversation),
        "contact": {
            "id": contact.pk,
            "name": contact.name,
            "email": contact.email,
            "phone": contact.phone,
        },
    }
    # The body has exactly IngestOut's fields (tests/channels/test_api_channel.py checks it):
    # rendered directly, without validating it again through the schema, which cost about a
    # tenth of the CPU of an inbound message.
    return _api().create_response(request, body, status=201 if result.created else 200)


def _api() -> NinjaAPI:
    from premura.api.api import api  # the API imports this module: look it up when used

    return api


class ReceiptIn(_Input):
    message_id: int = Field(
        ..., description="Premura's id of the message (message.id in the webhook)"
    )
    status: str = Field(..., pattern="^(sent|delivered|read|failed)$")
    error: str = Field("", max_length=2000)
    timestamp: dt.datetime | None = None

    @field_validator("timestamp")
    @classmethod
    def _aware(cls, value: dt.datetime | None) -> dt.datetime | None:
        return _with_offset(value)


class ReceiptOut(Schema):
    message_id: int
    delivery_state: str
    applied: bool


@router.post(
    "/inboxes/{inbox_id}/receipts",
    auth=InboxToken(),
    response=ReceiptOut,
    url_name="inbox_receipts",
    summary="Report that a reply was delivered, read or failed",
)
def post_receipt(request: HttpRequest, inbox_id: int, payload: ReceiptIn) -> dict[str, Any]:
    inbox: Inbox = request.auth  # type: ignore[attr-defined]
    message = (
        Message.objects.filter(
            pk=payload.message_id, inbox=inbox, direction=Message.Direction.OUTBOUND
        )
        .exclude(kind=Message.Kind.NOTE)
        .first()
    )
    if message is None:
        raise APIError(404, "not_found", "No outbound message with this id in this inbox.")
    applied = apply_receipt(message, payload.status, error=payload.error, at=payload.timestamp)
    message.refresh_from_db(fields=["delivery_state"])
    return {"message_id": message.pk, "delivery_state": message.delivery_state, "applied": applied}


@router.get(
    "/inboxes/{inbox_id}/attachments/{attachment_id}",
    auth=InboxToken(),
    url_name="inbox_attachment",
    summary="Download an attachment of a message in this inbox",
)
def inbox_attachment(request: HttpRequest, inbox_id: int, attachment_id: int) -> FileResponse:
    attachment = get_object_or_404(
        Attachment.objects.select_related("message"), pk=attachment_id, message__inbox_id=inbox_id
    )
    if attachment.message.kind == Message.Kind.NOTE:
        raise APIError(404, "not_found", "Not found.")
    return attachment_response(attachment)


# --- Administration --------------------------------------------------------------------------


class InboxOut(Schema):
    id: int
    name: str
    kind: str
    team_id: int | None
    is_active: bool
    webhook_url: str
    created_at: dt.datetime


class InboxCreateIn(Schema):
    name: str = Field(..., min_length=1, max_length=120)
    kind: str = Field("api", pattern="^api$")
    webhook_url: str = Field("", max_length=500)
    team_id: int | None = None

    @field_validator("webhook_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("webhook_url must be an http(s) URL")
        return value


class InboxCreatedOut(InboxOut):
    token: str
    webhook_secret: str


def inbox_dict(inbox: Inbox) -> dict[str, Any]:
    return {
        "id": inbox.pk,
        "name": inbox.name,
        "kind": inbox.kind,
        "team_id": inbox.team_id,
        "is_active": inbox.is_active,
        "webhook_url": inbox.webhook_url,
        "created_at": inbox.created_at,
    }


@admin_router.get("/inboxes", response=list[InboxOut], summary="List inboxes")
def list_inboxes(request: HttpRequest) -> list[dict[str, Any]]:
    require_admin(request)
    return [inbox_dict(i) for i in Inbox.objects.order_by("id")[:1000]]


@admin_router.post("/inboxes", response={201: InboxCreatedOut}, summary="Create an API inbox")
def create_inbox(request: HttpRequest, payload: InboxCreateIn) -> Status[dict[str, Any]]:
    """The token and webhook secret are in this answer only; they are never shown again."""
    require_admin(request)
    team = None
    if payload.team_id is not None:
        team = Team.objects.filter(pk=payload.team_id).first()
        if team is None:
            raise APIError(
                422, "validation_error", "No team with this id.", [{"loc": ["body", "team_id"]}]
            )
    created = create_api_inbox(payload.name, webhook_url=payload.webhook_url, team=team)
    return Status(
        201,
        {
            **inbox_dict(created.inbox),
            "token": created.token,
            "webhook_secret": created.webhook_secret,
        },
    )


@admin_router.get("/inboxes/{inbox_id}", response=InboxOut, summary="Get an inbox")
def get_inbox(request: HttpRequest, inbox_id: int) -> dict[str, Any]:
    require_admin(request)
    return inbox_dict(get_object_or_404(Inbox, pk=inbox_id))
