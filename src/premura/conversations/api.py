"""REST API for conversations and their messages (agents' personal tokens)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Prefetch, Q, QuerySet
from django.http import FileResponse, HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Field, Query, Router, Schema, Status

from premura.accounts.models import User
from premura.api.auth import AgentToken, agent
from premura.api.errors import APIError
from premura.api.pagination import decode_cursor, encode_cursor
from premura.conversations import services
from premura.conversations.attachments import AttachmentTooLarge
from premura.conversations.downloads import attachment_response
from premura.conversations.models import Attachment, Conversation, Label, Message, parse_reference
from premura.conversations.schemas import (
    ConversationOut,
    MessageOut,
    conversation_dict,
    message_dict,
)
from premura.conversations.visibility import Access, access, listable, require_read
from premura.routing.models import Team

router = Router(tags=["Conversations"], auth=AgentToken())

MAX_PAGE = 100


class ConversationFilters(Schema):
    status: str | None = Field(None, description="open, pending, snoozed, resolved, closed")
    inbox_id: int | None = None
    team_id: int | None = None
    assignee_id: int | None = Field(None, description="an agent id; 0 for unassigned")
    label: str | None = None
    priority: int | None = None
    contact_id: int | None = None
    reference: str | None = None
    cursor: str | None = None
    limit: int = Field(25, ge=1, le=MAX_PAGE)


class ConversationPage(Schema):
    items: list[ConversationOut]
    next_cursor: str | None


def _visible_labels(conversations: list[Conversation]) -> dict[int, list[str]]:
    labels: dict[int, list[str]] = {c.pk: [] for c in conversations}
    through = Conversation.labels.through.objects.filter(
        conversation_id__in=list(labels)
    ).values_list("conversation_id", "label__name")
    for conversation_id, name in through:
        labels[conversation_id].append(name)
    for names in labels.values():
        names.sort()
    return labels


def _page_dicts(user: User, conversations: list[Conversation]) -> list[dict[str, Any]]:
    labels = _visible_labels(conversations)
    return [
        conversation_dict(c, content_visible=access(user, c) >= Access.READ, labels=labels[c.pk])
        for c in conversations
    ]


def _get(user: User, conversation_id: int) -> Conversation:
    return get_object_or_404(listable(user).select_related("inbox", "team"), pk=conversation_id)


@router.get("/conversations", response=ConversationPage, summary="List conversations")
def list_conversations(request: HttpRequest, filters: Query[ConversationFilters]) -> dict[str, Any]:
    """Newest activity first; pass `next_cursor` back as `cursor` for the next page."""
    user = agent(request)
    qs: QuerySet[Conversation] = listable(user).select_related("inbox", "team")
    if filters.status:
        if filters.status not in Conversation.Status.values:
            raise APIError(422, "validation_error", f"unknown status {filters.status!r}")
        qs = qs.filter(status=filters.status)
    if filters.inbox_id is not None:
        qs = qs.filter(inbox_id=filters.inbox_id)
    if filters.team_id is not None:
        qs = qs.filter(team_id=filters.team_id)
    if filters.assignee_id is not None:
        qs = qs.filter(assignee_id=filters.assignee_id or None)
    if filters.priority is not None:
        qs = qs.filter(priority=filters.priority)
    if filters.contact_id is not None:
        qs = qs.filter(contact_id=filters.contact_id)
    if filters.label:
        qs = qs.filter(labels__name=filters.label)
    if filters.reference:
        ref = parse_reference(filters.reference)
        qs = qs.filter(pk=ref or 0)
    if filters.cursor:
        last_at, last_id = decode_cursor(filters.cursor, (dt.datetime, int))
        qs = qs.filter(
            Q(last_activity_at__lt=last_at) | Q(last_activity_at=last_at, id__lt=last_id)
        )
    rows = list(qs.order_by("-last_activity_at", "-id")[: filters.limit + 1])
    more = len(rows) > filters.limit
    rows = rows[: filters.limit]
    next_cursor = encode_cursor([rows[-1].last_activity_at, rows[-1].pk]) if more and rows else None
    return {"items": _page_dicts(user, rows), "next_cursor": next_cursor}


@router.get(
    "/conversations/{conversation_id}", response=ConversationOut, summary="Get a conversation"
)
def get_conversation(request: HttpRequest, conversation_id: int) -> dict[str, Any]:
    user = agent(request)
    conversation = _get(user, conversation_id)
    return _page_dicts(user, [conversation])[0]


@router.delete(
    "/conversations/{conversation_id}",
    response={204: None},
    summary="Delete a conversation for good (admins)",
)
def delete_conversation(request: HttpRequest, conversation_id: int) -> Status[None]:
    """Its messages, events and files go; its inbound messages are never imported again."""
    user = agent(request)
    if not user.is_admin:
        raise APIError(403, "forbidden", "Only admins delete conversations.")
    services.delete_conversation(_get(user, conversation_id), user)
    return Status(204, None)


class AssignIn(Schema):
    assignee_id: int | None = Field(None, description="an agent id, or null to unassign")
    handover_note: str = Field("", max_length=2000)


@router.post(
    "/conversations/{conversation_id}/assign",
    response=ConversationOut,
    summary="Assign to an agent",
)
def assign(request: HttpRequest, conversation_id: int, payload: AssignIn) -> dict[str, Any]:
    user = agent(request)
    conversation = _get(user, conversation_id)
    assignee = None
    if payload.assignee_id is not None:
        assignee = User.objects.filter(pk=payload.assignee_id, is_active=True).first()
        if assignee is None:
            raise APIError(422, "validation_error", "No active agent with this id.")
    conversation = services.assign(
        conversation, user, assignee=assignee, handover_note=payload.handover_note
    )
    return get_conversation(request, conversation.pk)


class TeamIn(Schema):
    team_id: int | None
    handover_note: str = Field("", max_length=2000)


@router.post(
    "/conversations/{conversation_id}/team", response=ConversationOut, summary="Move to a team"
)
def set_team(request: HttpRequest, conversation_id: int, payload: TeamIn) -> dict[str, Any]:
    user = agent(request)
    conversation = _get(user, conversation_id)
    team = None
    if payload.team_id is not None:
        team = Team.objects.filter(pk=payload.team_id).first()
        if team is None:
            raise APIError(422, "validation_error", "No team with this id.")
    services.set_team(conversation, user, team=team, handover_note=payload.handover_note)
    return get_conversation(request, conversation.pk)


class StatusIn(Schema):
    status: str
    snoozed_until: dt.datetime | None = None


@router.post(
    "/conversations/{conversation_id}/status", response=ConversationOut, summary="Change status"
)
def set_status(request: HttpRequest, conversation_id: int, payload: StatusIn) -> dict[str, Any]:
    user = agent(request)
    conversation = _get(user, conversation_id)
    if payload.snoozed_until is not None and payload.snoozed_until.tzinfo is None:
        raise APIError(422, "validation_error", "snoozed_until needs a time zone offset.")
    try:
        services.set_status(conversation, user, payload.status, snoozed_until=payload.snoozed_until)
    except ValueError as exc:
        raise APIError(422, "validation_error", str(exc)) from exc
    return get_conversation(request, conversation.pk)


class PriorityIn(Schema):
    priority: int = Field(..., ge=0, le=4)


@router.post(
    "/conversations/{conversation_id}/priority", response=ConversationOut, summary="Change priority"
)
def set_priority(request: HttpRequest, conversation_id: int, payload: PriorityIn) -> dict[str, Any]:
    user = agent(request)
    conversation = _get(user, conversation_id)
    services.set_priority(conversation, user, payload.priority)
    return get_conversation(request, conversation.pk)


class LabelsIn(Schema):
    add: list[str] = Field(default_factory=list, max_length=50)
    remove: list[str] = Field(default_factory=list, max_length=50)


@router.post(
    "/conversations/{conversation_id}/labels",
    response=ConversationOut,
    summary="Add or remove labels",
)
def change_labels(request: HttpRequest, conversation_id: int, payload: LabelsIn) -> dict[str, Any]:
    user = agent(request)
    conversation = _get(user, conversation_id)
    services.change_labels(conversation, user, add=payload.add, remove=payload.remove)
    return get_conversation(request, conversation.pk)


class MessagePage(Schema):
    items: list[MessageOut]
    last_sequence: int


@router.get(
    "/conversations/{conversation_id}/messages",
    response=MessagePage,
    summary="List messages after a sequence number",
)
def list_messages(
    request: HttpRequest,
    conversation_id: int,
    since_sequence: int = 0,
    limit: int = Query(50, ge=1, le=MAX_PAGE),  # type: ignore[type-arg]
) -> dict[str, Any]:
    """Messages with sequence > since_sequence, oldest first; poll with the last sequence you saw."""
    user = agent(request)
    conversation = _get(user, conversation_id)
    require_read(user, conversation)
    messages = list(
        Message.objects.filter(conversation=conversation, sequence__gt=since_sequence)
        .order_by("sequence")
        .prefetch_related(Prefetch("attachments", queryset=Attachment.objects.order_by("id")))[
            :limit
        ]
    )
    return {
        "items": [message_dict(m, list(m.attachments.all())) for m in messages],
        "last_sequence": conversation.last_sequence,
    }


class ReplyIn(Schema):
    text: str = Field("", max_length=200_000)
    html: str = Field("", max_length=1_000_000)


@router.post(
    "/conversations/{conversation_id}/messages",
    response={201: MessageOut},
    summary="Reply to the customer (sent through the conversation's channel)",
)
def post_reply(
    request: HttpRequest, conversation_id: int, payload: ReplyIn
) -> Status[dict[str, Any]]:
    user = agent(request)
    conversation = _get(user, conversation_id)
    try:
        message = services.reply(conversation, user, payload.text, html=payload.html)
    except AttachmentTooLarge as exc:
        raise APIError(413, "attachment_too_large", str(exc)) from exc
    except ValueError as exc:
        raise APIError(422, "validation_error", str(exc)) from exc
    return Status(201, message_dict(message, []))


class NoteIn(Schema):
    text: str = Field(..., min_length=1, max_length=100_000)


@router.post(
    "/conversations/{conversation_id}/notes",
    response={201: MessageOut},
    summary="Add a private note (never sent to the customer)",
)
def post_note(
    request: HttpRequest, conversation_id: int, payload: NoteIn
) -> Status[dict[str, Any]]:
    user = agent(request)
    conversation = _get(user, conversation_id)
    try:
        message = services.add_note(conversation, user, payload.text)
    except ValueError as exc:
        raise APIError(422, "validation_error", str(exc)) from exc
    return Status(201, message_dict(message, []))


@router.get(
    "/attachments/{attachment_id}", url_name="attachment_download", summary="Download an attachment"
)
def download_attachment(request: HttpRequest, attachment_id: int) -> FileResponse:
    user = agent(request)
    attachment = get_object_or_404(
        Attachment.objects.select_related("message__conversation__team"), pk=attachment_id
    )
    require_read(user, attachment.message.conversation)
    return attachment_response(attachment)


class LabelOut(Schema):
    id: int
    name: str
    color: str


@router.get("/labels", response=list[LabelOut], summary="List labels")
def list_labels(request: HttpRequest) -> list[dict[str, Any]]:
    agent(request)
    return [
        {"id": label.pk, "name": label.name, "color": label.color}
        for label in Label.objects.all()[:1000]
    ]
