"""The one inbound pipeline every channel uses (docs/architecture.md §1).

A channel adapter turns a provider payload into an `InboundMessage` and calls `ingest()`, which:

1. returns the stored message at once when (inbox, provider message id) was already ingested
   (the raw insert's ON CONFLICT tells, in the same statement);
2. stores the raw payload, committed on its own, so a bug further on loses nothing (a raw row
   is processed once a message points at it; a failure marks it "failed" with the error);
3. in one transaction: resolves the contact by its channel identity (creating it when new), threads
   the message into the caller's thread, the contact's open case in that inbox or a case resolved
   within the reopen window (reopening it), or a new case; appends the message, its attachments
   and events; enqueues routing as a task row in the same transaction.

Idempotency rests on unique constraints, never on check-then-insert: a concurrent duplicate fails
on `message_unique_provider_id` and gets the stored message back.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from premura.contacts.services import ContactInfo, resolve_contact
from premura.conversations import statements
from premura.conversations.attachments import check_size, store_attachment
from premura.conversations.models import (
    OPEN_STATUSES,
    Conversation,
    ConversationEvent,
    Message,
    RawInbound,
)
from premura.conversations.sanitize import sanitize_html
from premura.routing.tasks import route_conversation

if TYPE_CHECKING:
    from premura.channels.models import Inbox
    from premura.contacts.models import Contact

logger = logging.getLogger(__name__)

__all__ = [
    "ContactInfo",
    "InboundAttachment",
    "InboundMessage",
    "IngestResult",
    "RawPayload",
    "ingest",
]


@dataclass(frozen=True)
class InboundAttachment:
    """A file that came with an inbound message."""

    filename: str
    content: bytes
    declared_content_type: str = ""


@dataclass(frozen=True)
class InboundMessage:
    """What a channel adapter hands to ingest: the message, normalised."""

    provider_message_id: str
    contact: ContactInfo
    text: str = ""
    html: str = ""
    subject: str = ""
    sent_at: dt.datetime | None = None
    thread_key: str = ""
    language: str = ""
    attachments: tuple[InboundAttachment, ...] = ()
    # Imported history (a mailbox backfill): stored with its own dates, triggers nothing.
    historical: bool = False


@dataclass(frozen=True)
class RawPayload:
    """The provider's payload exactly as received."""

    body: bytes
    content_type: str = ""
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class IngestResult:
    """The stored message; `created` is False when it had already been ingested."""

    message: Message
    created: bool

    @property
    def conversation(self) -> Conversation:
        return self.message.conversation

    @property
    def contact(self) -> Contact:
        return self.message.conversation.contact


def _already_ingested(inbox: Inbox, provider_message_id: str) -> Message | None:
    if not provider_message_id:
        return None
    return (
        Message.objects.select_related("conversation__contact")
        .filter(inbox=inbox, provider_message_id=provider_message_id)
        .first()
    )


def _store_raw(inbox: Inbox, inbound: InboundMessage, raw: RawPayload) -> RawInbound | None:
    """Commit the raw payload on its own; returns the new row, or None when it was stored before.

    One statement, `INSERT … ON CONFLICT DO NOTHING RETURNING id`: a payload already stored (a
    replay, or an earlier attempt that failed further on) inserts nothing and returns no id.
    """
    table = RawInbound._meta.db_table
    received_at = timezone.now()
    params: list[Any] = [
        inbox.pk,
        inbound.provider_message_id,
        raw.content_type[:100],
        raw.body,
        json.dumps(raw.headers),
        str(RawInbound.State.RECEIVED),
        "",
        0,
        received_at,
    ]
    conflict = ""
    if inbound.provider_message_id:
        # The conflict target repeats the partial index's condition as Django wrote it: SQLite
        # only matches a partial unique index on the same expression.
        conflict = (
            ' ON CONFLICT ("inbox_id", "provider_message_id")'
            " WHERE NOT (\"provider_message_id\" = '') DO NOTHING"
        )
    sql = (
        f"INSERT INTO {table} (inbox_id, provider_message_id, content_type, body, headers, state,"  # noqa: S608 - table name from the model
        f" error, attempts, received_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s){conflict}"
        " RETURNING id"
    )
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    return RawInbound(
        id=row[0],
        inbox=inbox,
        provider_message_id=inbound.provider_message_id,
        content_type=raw.content_type[:100],
        headers=raw.headers,
        received_at=received_at,
    )


def ingest(inbox: Inbox, inbound: InboundMessage, raw: RawPayload | None = None) -> IngestResult:
    """Store an inbound customer message in its case; safe to call again with the same message."""
    for attachment in inbound.attachments:
        check_size(len(attachment.content))
    raw_row = None
    if raw is not None:
        raw_row = _store_raw(inbox, inbound, raw)
        if raw_row is None:
            # Seen before: a replay (answer with the stored message) or an earlier failed attempt.
            existing = _already_ingested(inbox, inbound.provider_message_id)
            if existing is not None:
                return IngestResult(existing, created=False)
            raw_row = RawInbound.objects.defer("body").get(
                inbox=inbox, provider_message_id=inbound.provider_message_id
            )
    else:
        existing = _already_ingested(inbox, inbound.provider_message_id)
        if existing is not None:
            return IngestResult(existing, created=False)
    try:
        with transaction.atomic():
            message = _ingest_in_transaction(inbox, inbound, raw_row)
    except IntegrityError:
        existing = _already_ingested(inbox, inbound.provider_message_id)
        if existing is None:
            _mark_raw_failed(raw_row, "integrity error")
            raise
        return IngestResult(existing, created=False)
    except Exception as exc:
        _mark_raw_failed(raw_row, repr(exc))
        raise
    return IngestResult(message, created=True)


def _mark_raw_failed(raw_row: RawInbound | None, error: str) -> None:
    if raw_row is None:
        return
    RawInbound.objects.filter(pk=raw_row.pk).update(
        state=RawInbound.State.FAILED, error=error[:2000], attempts=raw_row.attempts + 1
    )


def _find_conversation(
    inbox: Inbox, contact: Contact, inbound: InboundMessage, now: dt.datetime
) -> Conversation | None:
    """The case this message threads into, locked; None when it opens a new one.

    Written as SQL once: this runs for every inbound message, and building the same query with
    the ORM costs ten times the CPU (docs/architecture.md §6).
    """
    if inbound.thread_key:
        sql, params = _THREAD_SQL, [inbox.pk, inbound.thread_key]
    else:
        cutoff = now - dt.timedelta(days=settings.PREMURA_REOPEN_WINDOW_DAYS)
        stored_cutoff = connection.ops.adapt_datetimefield_value(cutoff)
        sql, params = _OPEN_CASE_SQL, [contact.pk, inbox.pk, *OPEN_STATUSES, stored_cutoff]
    if connection.features.has_select_for_update:
        sql += " FOR UPDATE"
    return next(iter(Conversation.objects.raw(sql, params)), None)


_CONVERSATION = Conversation._meta.db_table
_THREAD_SQL = f'SELECT * FROM "{_CONVERSATION}" WHERE "inbox_id" = %s AND "thread_key" = %s LIMIT 1'  # noqa: S608
_OPEN_CASE_SQL = (
    f'SELECT * FROM "{_CONVERSATION}"'  # noqa: S608 - the table name comes from the model
    ' WHERE "contact_id" = %s AND "inbox_id" = %s AND "thread_key" = \'\''
    ' AND ("status" IN (%s, %s, %s) OR ("status" = \'resolved\' AND "resolved_at" >= %s))'
    ' ORDER BY "last_activity_at" DESC, "id" DESC LIMIT 1'
)


def _customer_event(
    conversation: Conversation,
    contact: Contact,
    kind: str,
    payload: dict[str, Any],
    at: dt.datetime,
    message: Message | None = None,
) -> ConversationEvent:
    """An event the customer's message caused (written in bulk at the end of ingest)."""
    return ConversationEvent(
        conversation=conversation,
        kind=kind,
        actor_contact=contact,
        message=message,
        payload=payload,
        created_at=at,
    )


def _new_conversation(
    inbox: Inbox, contact: Contact, inbound: InboundMessage, at: dt.datetime
) -> tuple[Conversation, bool]:
    # Born with its first message: one INSERT, no UPDATE after it.
    conversation = Conversation(
        contact=contact,
        inbox=inbox,
        thread_key=inbound.thread_key[:255],
        subject=inbound.subject[:300],
        language=inbound.language or contact.language,
        created_at=at,
        last_activity_at=at,
        first_customer_message_at=at,
        last_customer_message_at=at,
        last_sequence=1,
    )
    if not inbound.thread_key:
        conversation.save(force_insert=True)
        return conversation, True
    try:
        with transaction.atomic():
            conversation.save(force_insert=True)
    except IntegrityError:
        # Another message with the same thread key opened it a moment ago.
        existing = Conversation.objects.select_for_update().get(
            inbox=inbox, thread_key=inbound.thread_key
        )
        return existing, False
    return conversation, True


def _advance(
    conversation: Conversation, contact: Contact, at: dt.datetime, events: list[ConversationEvent]
) -> None:
    """Take the next sequence number in an existing case, waking or reopening it."""
    update_fields = ["last_sequence", "last_customer_message_at", "last_activity_at"]
    if conversation.status == Conversation.Status.RESOLVED:
        conversation.reopened_count += 1
        update_fields += ["reopened_count", "resolved_at"]
        conversation.resolved_at = None
        events.append(
            _customer_event(
                conversation, contact, ConversationEvent.Kind.REOPENED, {"from": "resolved"}, at
            )
        )
    if conversation.status != Conversation.Status.OPEN:
        events.append(
            _customer_event(
                conversation,
                contact,
                ConversationEvent.Kind.STATUS_CHANGED,
                {"from": conversation.status, "to": Conversation.Status.OPEN},
                at,
            )
        )
        conversation.status = Conversation.Status.OPEN
        conversation.snoozed_until = None
        update_fields += ["status", "snoozed_until"]
    if conversation.first_customer_message_at is None:
        conversation.first_customer_message_at = at
        update_fields.append("first_customer_message_at")
    conversation.last_sequence += 1
    conversation.last_customer_message_at = at
    conversation.last_activity_at = max(at, conversation.last_activity_at)
    statements.update(conversation, update_fields)


def _ingest_in_transaction(
    inbox: Inbox, inbound: InboundMessage, raw_row: RawInbound | None
) -> Message:
    now = timezone.now()
    at = (inbound.sent_at or now) if inbound.historical else now
    contact, new_contact = resolve_contact(inbound.contact)
    # A customer met a moment ago has no case yet (unless the caller's thread key names one).
    conversation = (
        None
        if new_contact and not inbound.thread_key
        else _find_conversation(inbox, contact, inbound, now)
    )
    events: list[ConversationEvent] = []
    created = False
    if conversation is None:
        conversation, created = _new_conversation(inbox, contact, inbound, at)
        if created:
            events.append(
                _customer_event(
                    conversation,
                    contact,
                    ConversationEvent.Kind.CREATED,
                    {"inbox": inbox.pk, "channel": inbox.kind},
                    at,
                )
            )

    if not created:
        _advance(conversation, contact, at, events)

    message = Message(
        conversation=conversation,
        inbox=inbox,
        sequence=conversation.last_sequence,
        direction=Message.Direction.INBOUND,
        kind=Message.Kind.CUSTOMER,
        author_contact=contact,
        text=inbound.text,
        html=sanitize_html(inbound.html),
        provider_message_id=inbound.provider_message_id[:255],
        raw=raw_row,
        sent_at=inbound.sent_at,
        created_at=at,
    )
    statements.insert([message])
    if raw_row is not None and raw_row.state == RawInbound.State.FAILED:
        # An earlier attempt failed; this one succeeds: the row is processed now.
        RawInbound.objects.filter(pk=raw_row.pk).update(state=RawInbound.State.RECEIVED, error="")
    for item in inbound.attachments:
        store_attachment(message, item.filename, item.content, item.declared_content_type)
    events.append(
        _customer_event(
            conversation,
            contact,
            ConversationEvent.Kind.MESSAGE_IN,
            {"sequence": message.sequence, "channel": inbox.kind},
            at,
            message,
        )
    )
    statements.insert(events)
    message.conversation = conversation
    conversation.contact = contact
    if not inbound.historical:
        route_conversation.enqueue(conversation.pk, message.pk, created)
    return message
