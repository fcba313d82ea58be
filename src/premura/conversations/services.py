"""What agents do in a case: reply, write notes, assign, change team, status, priority, labels.

Every function checks the caller may act (conversations.visibility), locks the conversation row,
writes with update_fields, appends its ConversationEvent and enqueues follow-up work in the same
transaction.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from premura.conversations.attachments import check_size, store_attachment
from premura.conversations.models import (
    Attachment,
    Conversation,
    ConversationEvent,
    Label,
    Mention,
    Message,
    RawInbound,
)
from premura.conversations.sanitize import sanitize_html
from premura.conversations.visibility import can_read, require_act

if TYPE_CHECKING:
    from premura.accounts.models import User
    from premura.routing.models import Team


@dataclass(frozen=True)
class OutgoingAttachment:
    """A file an agent attaches to a reply."""

    filename: str
    content: bytes
    declared_content_type: str = ""


def _lock(conversation: Conversation) -> Conversation:
    return (
        Conversation.objects.select_for_update(of=("self",))
        .select_related("inbox", "team")
        .get(pk=conversation.pk)
    )


def _event(
    conversation: Conversation,
    kind: str,
    actor: User | None,
    payload: dict[str, Any],
    message: Message | None = None,
    at: dt.datetime | None = None,
) -> ConversationEvent:
    return ConversationEvent.objects.create(
        conversation=conversation,
        kind=kind,
        actor_user=actor,
        message=message,
        payload=payload,
        created_at=at or timezone.now(),
    )


def _append_message(
    conversation: Conversation,
    *,
    kind: str,
    author: User | None,
    text: str,
    html: str,
    attachments: Sequence[OutgoingAttachment],
    now: dt.datetime,
) -> Message:
    conversation.last_sequence += 1
    message = Message(
        conversation=conversation,
        inbox_id=conversation.inbox_id,
        sequence=conversation.last_sequence,
        direction=Message.Direction.OUTBOUND,
        kind=kind,
        author_user=author,
        text=text,
        html=sanitize_html(html),
        created_at=now,
    )
    if kind != Message.Kind.NOTE:
        message.delivery_state = Message.Delivery.QUEUED
        message.next_attempt_at = now
        message.delivery_updated_at = now
    message.save(force_insert=True)
    for item in attachments:
        store_attachment(message, item.filename, item.content, item.declared_content_type)
    return message


def reply(
    conversation: Conversation,
    author: User | None,
    text: str,
    *,
    html: str = "",
    attachments: Sequence[OutgoingAttachment] = (),
    kind: str = Message.Kind.AGENT,
) -> Message:
    """Send a reply to the customer through the conversation's channel, via the outbox.

    The message row (delivery state "queued") and its delivery task commit together; nothing is
    sent from the caller's request.
    """
    from premura.conversations.tasks import deliver_message

    if not text.strip() and not html.strip() and not attachments:
        raise ValueError("a reply needs text or an attachment")
    for item in attachments:
        check_size(len(item.content))
    if author is not None:
        require_act(author, conversation)
    with transaction.atomic():
        conversation = _lock(conversation)
        now = timezone.now()
        message = _append_message(
            conversation,
            kind=kind,
            author=author,
            text=text,
            html=html,
            attachments=attachments,
            now=now,
        )
        fields = ["last_sequence"]
        # An automatic message (an acknowledgement) answers nobody: the case keeps waiting for a
        # person, so neither the agent's last answer nor the activity moves.
        if kind != Message.Kind.AUTOMATIC:
            conversation.last_agent_message_at = now
            conversation.last_activity_at = now
            fields += ["last_agent_message_at", "last_activity_at"]
        if kind == Message.Kind.AGENT and conversation.first_response_at is None:
            conversation.first_response_at = now
            fields.append("first_response_at")
        conversation.save(update_fields=fields)
        _event(
            conversation,
            ConversationEvent.Kind.MESSAGE_OUT,
            author,
            {"sequence": message.sequence, "kind": kind},
            message=message,
            at=now,
        )
        deliver_message.using(queue_name="outbox").enqueue(message.pk)
    return message


def with_signature(text: str, author: User) -> str:
    """A reply's text with its author's signature below it (replies carry it, notes never do)."""
    signature = author.signature.strip()
    if not signature:
        return text
    return f"{text.rstrip()}\n\n{signature}"


# An "@" that starts a mention: not inside a word or an email address (mario@example.it).
_MENTION_START = re.compile(r"(?<![\w.+\-@])@")
_BLANKS = re.compile(r"[ \t\u00a0]+")
# Beyond this many "@" in one note the rest are ignored: a note is not a mailing list.
MAX_MENTIONS_SCANNED = 100


def mention_keys(agents: Iterable[User]) -> list[tuple[str, User]]:
    """What an `@` may be followed by to name each agent, longest first.

    An agent is named by their email address, its local part ("giulia.rossi"), their display or
    full name ("Giulia Rossi") or its first word ("Giulia"), compared case-insensitively; a key
    that would name two agents names neither.
    """
    owners: dict[str, set[int]] = {}
    by_key: dict[str, User] = {}
    for agent in agents:
        email = agent.email.lower()
        names = {email, email.split("@", 1)[0]}
        for name in (agent.display_name, agent.get_full_name()):
            words = name.lower().split()
            if words:
                names.update((" ".join(words), words[0]))
        for key in names:
            if key:
                owners.setdefault(key, set()).add(agent.pk)
                by_key[key] = agent
    keys = [(key, by_key[key]) for key, ids in owners.items() if len(ids) == 1]
    keys.sort(key=lambda item: len(item[0]), reverse=True)
    return keys


def mention_handles(agents: Iterable[User]) -> dict[int, str]:
    """The shortest unambiguous thing to type after `@` for each agent (to help typing)."""
    agents = list(agents)
    local_parts = Counter(agent.email.lower().split("@", 1)[0] for agent in agents)
    handles = {}
    for agent in agents:
        email = agent.email.lower()
        local = email.split("@", 1)[0]
        handles[agent.pk] = local if local and local_parts[local] == 1 else email
    return handles


def find_mentions(text: str, agents: Iterable[User]) -> list[User]:
    """The agents a text names with `@`, in order of first mention, each once."""
    keys = mention_keys(agents)
    found: dict[int, User] = {}
    for count, match in enumerate(_MENTION_START.finditer(text)):
        if count >= MAX_MENTIONS_SCANNED:
            break
        rest = _BLANKS.sub(" ", text[match.end() : match.end() + 300]).lower()
        for key, agent in keys:
            if not rest.startswith(key):
                continue
            after = rest[len(key) : len(key) + 1]
            if after and (after.isalnum() or after == "_"):
                continue
            found.setdefault(agent.pk, agent)
            break
    return list(found.values())


def _mentioned(conversation: Conversation, author: User, text: str) -> list[User]:
    """Active agents named in a note who may read the conversation (never the author)."""
    if "@" not in text:
        return []
    from premura.accounts.models import User

    agents = User.objects.filter(is_active=True).exclude(pk=author.pk)
    return [
        agent
        for agent in find_mentions(text, agents.order_by("id")[:5000])
        if can_read(agent, conversation)
    ]


def add_note(conversation: Conversation, author: User, text: str) -> Message:
    """A private note for colleagues; the customer never sees it.

    Agents named with `@` get a Mention row (their Mentions view) in the same transaction;
    mentions of unknown or inactive agents, or of agents who may not read the conversation, are
    plain text.
    """
    if not text.strip():
        raise ValueError("a note needs text")
    require_act(author, conversation)
    with transaction.atomic():
        conversation = _lock(conversation)
        now = timezone.now()
        message = _append_message(
            conversation,
            kind=Message.Kind.NOTE,
            author=author,
            text=text,
            html="",
            attachments=(),
            now=now,
        )
        conversation.save(update_fields=["last_sequence"])
        mentioned = _mentioned(conversation, author, text)
        if mentioned:
            Mention.objects.bulk_create(
                Mention(message=message, conversation=conversation, user=agent, created_at=now)
                for agent in mentioned
            )
        payload: dict[str, Any] = {"sequence": message.sequence}
        if mentioned:
            payload["mentions"] = [agent.pk for agent in mentioned]
        _event(conversation, ConversationEvent.Kind.NOTE, author, payload, message, now)
    return message


def _hand_over(
    conversation: Conversation,
    actor: User | None,
    *,
    field: str,
    new: int | None,
    kind: str,
    handover_note: str,
) -> Conversation:
    """Change the assignee or the team, with the event (and handover note) that records it."""
    if actor is not None:
        require_act(actor, conversation)
    with transaction.atomic():
        conversation = _lock(conversation)
        previous = getattr(conversation, f"{field}_id")
        if previous == new:
            return conversation
        setattr(conversation, f"{field}_id", new)
        conversation.save(update_fields=[field])
        payload: dict[str, Any] = {"from": previous, "to": new}
        if handover_note:
            payload["handover_note"] = handover_note
        _event(conversation, kind, actor, payload)
    return conversation


def assign(
    conversation: Conversation,
    actor: User | None,
    *,
    assignee: User | None,
    handover_note: str = "",
) -> Conversation:
    """Give the conversation to an agent (or to nobody)."""
    return _hand_over(
        conversation,
        actor,
        field="assignee",
        new=assignee.pk if assignee is not None else None,
        kind=ConversationEvent.Kind.ASSIGNED,
        handover_note=handover_note,
    )


def set_team(
    conversation: Conversation,
    actor: User | None,
    *,
    team: Team | None,
    handover_note: str = "",
) -> Conversation:
    """Move the conversation to a team (routing does this with actor None)."""
    return _hand_over(
        conversation,
        actor,
        field="team",
        new=team.pk if team is not None else None,
        kind=ConversationEvent.Kind.TEAM_CHANGED,
        handover_note=handover_note,
    )


def set_status(
    conversation: Conversation,
    actor: User | None,
    status: str,
    *,
    snoozed_until: dt.datetime | None = None,
) -> Conversation:
    """Open, set pending, snooze until a date, resolve or close a conversation."""
    if status not in Conversation.Status.values:
        raise ValueError(f"unknown status {status!r}")
    if status == Conversation.Status.SNOOZED:
        if snoozed_until is None or snoozed_until <= timezone.now():
            raise ValueError("snoozing needs a future date (snoozed_until)")
    elif snoozed_until is not None:
        raise ValueError("snoozed_until only goes with status snoozed")
    if actor is not None:
        require_act(actor, conversation)
    with transaction.atomic():
        conversation = _lock(conversation)
        previous = conversation.status
        if previous == status and conversation.snoozed_until == snoozed_until:
            return conversation
        now = timezone.now()
        conversation.status = status
        conversation.snoozed_until = snoozed_until
        fields = ["status", "snoozed_until"]
        if status in (Conversation.Status.RESOLVED, Conversation.Status.CLOSED):
            if conversation.resolved_at is None:
                conversation.resolved_at = now
                fields.append("resolved_at")
        elif conversation.resolved_at is not None:
            conversation.resolved_at = None
            fields.append("resolved_at")
            if previous == Conversation.Status.RESOLVED:
                conversation.reopened_count += 1
                fields.append("reopened_count")
        conversation.save(update_fields=fields)
        payload: dict[str, Any] = {"from": previous, "to": status}
        if snoozed_until is not None:
            payload["snoozed_until"] = snoozed_until.isoformat()
        _event(conversation, ConversationEvent.Kind.STATUS_CHANGED, actor, payload, at=now)
    return conversation


def set_priority(conversation: Conversation, actor: User | None, priority: int) -> Conversation:
    """Change the priority (0 none … 4 urgent)."""
    if priority not in Conversation.Priority.values:
        raise ValueError(f"unknown priority {priority!r}")
    if actor is not None:
        require_act(actor, conversation)
    with transaction.atomic():
        conversation = _lock(conversation)
        previous = conversation.priority
        if previous == priority:
            return conversation
        conversation.priority = priority
        conversation.save(update_fields=["priority"])
        _event(
            conversation,
            ConversationEvent.Kind.PRIORITY_CHANGED,
            actor,
            {"from": previous, "to": priority},
        )
    return conversation


def change_labels(
    conversation: Conversation,
    actor: User | None,
    *,
    add: Iterable[str] = (),
    remove: Iterable[str] = (),
) -> list[str]:
    """Add and remove labels by name (new names create the label); returns the labels after."""
    add = [name.strip()[:60] for name in add if name.strip()]
    remove = [name.strip() for name in remove if name.strip()]
    if actor is not None:
        require_act(actor, conversation)
    with transaction.atomic():
        conversation = _lock(conversation)
        before = set(conversation.labels.values_list("name", flat=True))
        for name in add:
            label, _created = Label.objects.get_or_create(name=name)
            conversation.labels.add(label)
        if remove:
            conversation.labels.remove(*Label.objects.filter(name__in=remove))
        after = set(conversation.labels.values_list("name", flat=True))
        if after != before:
            _event(
                conversation,
                ConversationEvent.Kind.LABELS_CHANGED,
                actor,
                {"added": sorted(after - before), "removed": sorted(before - after)},
            )
    return sorted(after)


def wake_snoozed(now: dt.datetime | None = None) -> int:
    """Reopen snoozed conversations whose time has come; returns how many."""
    now = now or timezone.now()
    ids = list(
        Conversation.objects.filter(status=Conversation.Status.SNOOZED, snoozed_until__lte=now)
        .order_by("snoozed_until")
        .values_list("id", flat=True)[:500]
    )
    for conversation in Conversation.objects.filter(pk__in=ids):
        set_status(conversation, None, Conversation.Status.OPEN)
    return len(ids)


# --- labels (the settings pages) ----------------------------------------------------------------
# Events record label names, not ids, so renaming or deleting a label leaves every conversation's
# history as it was written.


def create_label(name: str, color: str) -> Label:
    """Create a label agents can put on conversations."""
    # A savepoint: a duplicate name fails here and leaves the caller's transaction usable.
    with transaction.atomic():
        return Label.objects.create(name=name[:60], color=color)


def update_label(label: Label, *, name: str, color: str) -> Label:
    """Rename a label or change its colour; conversations keep it."""
    label.name = name[:60]
    label.color = color
    with transaction.atomic():
        label.save(update_fields=["name", "color"])
    return label


def delete_label(label: Label) -> int:
    """Delete a label, taking it off every conversation; returns on how many it was."""
    with transaction.atomic():
        used = Label.conversations.through.objects.filter(label_id=label.pk).count()
        label.delete()
    return used


def delete_conversation(conversation: Conversation, actor: User) -> str:
    """Delete a case for good (admins only): its messages, events and files go; each inbound
    message leaves a tombstone, so a mailbox re-fetch or a provider's retry never imports it
    again. Returns the deleted case's reference."""
    if not actor.is_admin:
        raise PermissionDenied("only admins delete conversations")
    reference = conversation.reference
    note = f"{reference} deleted by agent {actor.pk} at {timezone.now().isoformat()}"
    with transaction.atomic():
        conversation = _lock(conversation)
        inbound = Message.objects.filter(
            conversation=conversation, direction=Message.Direction.INBOUND
        ).exclude(provider_message_id="")
        RawInbound.objects.filter(pk__in=inbound.filter(raw__isnull=False).values("raw_id")).update(
            state=RawInbound.State.DELETED, body=b"", headers={}, error=note
        )
        now = timezone.now()
        RawInbound.objects.bulk_create(
            [
                RawInbound(
                    inbox_id=inbox_id,
                    provider_message_id=provider_id,
                    body=b"",
                    state=RawInbound.State.DELETED,
                    error=note,
                    received_at=now,
                )
                for inbox_id, provider_id in inbound.filter(raw__isnull=True).values_list(
                    "inbox_id", "provider_message_id"
                )
            ],
            ignore_conflicts=True,
        )
        files = [a.file.name for a in Attachment.objects.filter(message__conversation=conversation)]
        conversation.delete()
        transaction.on_commit(lambda: _delete_files(files))
    return reference


def _delete_files(names: list[str]) -> None:
    from django.core.files.storage import default_storage

    for name in names:
        default_storage.delete(name)
