"""The one inbound pipeline every channel uses (docs/architecture.md §1).

A channel adapter turns a provider payload into an `InboundMessage` and calls `ingest()`, which,
in one transaction:

1. stores the raw payload, first, with `INSERT … ON CONFLICT DO NOTHING`: when (inbox, provider
   message id) was stored before, it returns the stored message at once (a replay), or takes over
   the payload an earlier failed attempt kept;
2. resolves the contact by its channel identities (creating it when new), threads the message
   into the caller's thread, the contact's open case in that inbox or a case resolved within the
   reopen window (reopening it), or a new case; appends the message, its attachments and events;
   writes the routing task row.

When anything fails, the transaction rolls back and the raw payload is written again on its own,
marked "failed" with the error, so a bug loses nothing; a crash loses only a message whose sender
got no answer and sends it again. Idempotency rests on unique constraints, never on
check-then-insert: a concurrent duplicate waits on the raw payload's unique index, then finds the
stored message.

The statements are SQL built once per process (`statements.py`); on PostgreSQL an existing case
is found and moved forward in one UPDATE, and the message, its events and its task row are
written in one statement (docs/architecture.md §6).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.utils import timezone

from premura.contacts.services import ContactInfo, lookup_statement, resolve_contact
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
    "ConversationDeleted",
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
    # An email's inline part, referred to as cid:<content_id> in its HTML.
    content_id: str = ""
    inline: bool = False


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
    # The case the channel found for this message (an email's In-Reply-To / References or the
    # reference in its subject): the message threads there, even from another inbox, while the
    # case exists; otherwise as usual.
    conversation_id: int | None = None
    # Sent by a machine (auto-reply, bounce, list mail): stored, routed, never auto-answered.
    automated: bool = False
    # Suspected spam: opens a case of its own with status "spam", not routed.
    spam: bool = False
    # Rows of the channel's own that belong with the message (an email's Message-ID for
    # threading), written in the message's statement: given the message, it returns them.
    with_message: Callable[[Message], Sequence[statements.Rows]] | None = field(
        default=None, compare=False
    )


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


class ConversationDeleted(Exception):
    """The message belonged to a case an admin deleted: it is not imported again."""


def _already_ingested(inbox: Inbox, provider_message_id: str) -> Message | None:
    if not provider_message_id:
        return None
    return (
        Message.objects.select_related("conversation__contact")
        .filter(inbox=inbox, provider_message_id=provider_message_id)
        .first()
    )


def ingest(
    inbox: Inbox,
    inbound: InboundMessage,
    raw: RawPayload | None = None,
    *,
    savepoint: bool = True,
) -> IngestResult:
    """Store an inbound customer message in its case; safe to call again with the same message.

    Inside a caller's transaction, `savepoint=False` saves the two round trips of a savepoint
    (an IMAP fetcher committing messages in groups): any failure then spoils the caller's
    transaction, which the caller rolls back and retries; no failed payload is kept.
    """
    for attachment in inbound.attachments:
        check_size(len(attachment.content))
    if not savepoint and connection.in_atomic_block:
        with statements.one_cursor(), transaction.atomic(savepoint=False):
            result = _ingest_in_transaction(inbox, inbound, raw)
    else:
        try:
            with statements.one_cursor(), transaction.atomic():
                result = _ingest_in_transaction(inbox, inbound, raw)
        except IntegrityError:
            existing = _already_ingested(inbox, inbound.provider_message_id)
            if existing is None:
                _keep_failed(inbox, inbound, raw, "integrity error")
                raise
            return IngestResult(existing, created=False)
        except Exception as exc:
            _keep_failed(inbox, inbound, raw, repr(exc))
            raise
    if result is None:
        raise ConversationDeleted(inbound.provider_message_id)
    return result


_RAW = statements.table(RawInbound)
_RAW_COLUMNS = (
    "inbox_id, provider_message_id, content_type, body, headers, state, error, attempts,"
    " received_at"
)
# The conflict target repeats the partial index's condition as Django wrote it: SQLite only
# matches a partial unique index on the same expression.
_RAW_INSERT = (
    f"INSERT INTO {_RAW} ({_RAW_COLUMNS})"  # noqa: S608 - table name from the model
    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
)
_RAW_CONFLICT = (
    ' ON CONFLICT ("inbox_id", "provider_message_id") WHERE NOT ("provider_message_id" = \'\')'
)


def _raw_params(
    inbox: Inbox, inbound: InboundMessage, raw: RawPayload, state: str, error: str, at: dt.datetime
) -> list[Any]:
    return [
        inbox.pk,
        inbound.provider_message_id,
        raw.content_type[:100],
        raw.body,
        json.dumps(raw.headers),
        state,
        error,
        1 if state == RawInbound.State.FAILED else 0,
        statements.db().ops.adapt_datetimefield_value(at),
    ]


def _store_raw(
    inbox: Inbox, inbound: InboundMessage, raw: RawPayload, now: dt.datetime
) -> int | None:
    """Store the raw payload, first thing in the case's transaction; None when stored before.

    One statement, `INSERT … ON CONFLICT DO NOTHING RETURNING id`: a payload already stored (a
    replay, or an earlier attempt that failed) inserts nothing and returns no id. A concurrent
    duplicate waits here for the first one's transaction, then finds its message.
    """
    conflict = f"{_RAW_CONFLICT} DO NOTHING" if inbound.provider_message_id else ""
    sql = f"{_RAW_INSERT}{conflict} RETURNING id"
    with statements.cursor() as cursor:
        cursor.execute(sql, _raw_params(inbox, inbound, raw, RawInbound.State.RECEIVED, "", now))
        row = cursor.fetchone()
    return None if row is None else int(row[0])


def _store_raw_and_look_up(
    inbox: Inbox, inbound: InboundMessage, raw: RawPayload, now: dt.datetime
) -> tuple[int | None, list[tuple[Any, ...]]]:
    """PostgreSQL: `_store_raw` and the contact lookup in one statement: (raw id, lookup rows).

    The lookup reads the raw payload's new id, so it runs after the INSERT, never before: every
    message takes the payload's unique entry first and the contact's lock second, the order two
    concurrent copies of one message must agree on. A payload stored before looks nothing up.
    """
    lookup, lookup_params = lookup_statement(inbound.contact, when="r.id IS NOT NULL")
    conflict = f"{_RAW_CONFLICT} DO NOTHING" if inbound.provider_message_id else ""
    sql = (
        f"WITH raw AS ({_RAW_INSERT}{conflict} RETURNING id)"  # noqa: S608 - names from the models
        " SELECT r.id, f.* FROM (SELECT (SELECT id FROM raw) AS id) r"
        f" LEFT JOIN LATERAL ({lookup}) f ON true"
    )
    params = _raw_params(inbox, inbound, raw, RawInbound.State.RECEIVED, "", now)
    with statements.cursor() as cursor:
        cursor.execute(sql, [*params, *lookup_params])
        rows = cursor.fetchall()
    raw_id = rows[0][0]
    looked_up = [row[1:] for row in rows if row[1] is not None]
    return (None if raw_id is None else int(raw_id)), looked_up


def _take_stored_raw(inbox: Inbox, provider_message_id: str) -> int | None:
    """The payload an earlier, failed attempt kept: this attempt processes it (and locks it)."""
    sql = (
        f"UPDATE {_RAW} SET state = %s, error = ''"  # noqa: S608 - table name from the model
        " WHERE inbox_id = %s AND provider_message_id = %s AND state <> %s RETURNING id"
    )
    with statements.cursor() as cursor:
        cursor.execute(
            sql,
            [RawInbound.State.RECEIVED, inbox.pk, provider_message_id, RawInbound.State.DELETED],
        )
        row = cursor.fetchone()
    return None if row is None else int(row[0])


def _keep_failed(inbox: Inbox, inbound: InboundMessage, raw: RawPayload | None, error: str) -> None:
    """After a failure, keep the raw payload as `failed` with the error, in its own transaction.

    The case's transaction rolled back with the payload it had stored; this writes it again (or,
    when an earlier attempt kept it, counts one more attempt), so a bug loses nothing.
    """
    if raw is None:
        return
    params = _raw_params(inbox, inbound, raw, RawInbound.State.FAILED, error[:2000], timezone.now())
    conflict = ""
    if inbound.provider_message_id:
        conflict = (
            f"{_RAW_CONFLICT} DO UPDATE SET state = excluded.state, error = excluded.error,"
            f" attempts = {_RAW}.attempts + 1"
        )
    sql = f"{_RAW_INSERT}{conflict}"
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, params)
    except DatabaseError:
        logger.exception("could not keep the failed inbound payload of inbox %s", inbox.pk)


_CONVERSATION = statements.table(Conversation)
_CONVERSATION_FIELDS = tuple(f.attname for f in Conversation._meta.concrete_fields)
_THREAD_WHERE = '"inbox_id" = %s AND "thread_key" = %s'
_CASE_WHERE = '"id" = %s'
_OPEN_CASE_WHERE = (
    '"contact_id" = %s AND "inbox_id" = %s AND "thread_key" = \'\''
    ' AND ("status" IN (%s, %s, %s) OR ("status" = \'resolved\' AND "resolved_at" >= %s))'
    ' ORDER BY "last_activity_at" DESC, "id" DESC'
)
# One statement finds the case (locked), takes the next sequence number, wakes or reopens it, and
# hands out the message's id; `old` keeps the status it had, for the events. Every SET expression
# reads the row as it was before this UPDATE.
_ADVANCE = (
    f"UPDATE {_CONVERSATION} AS c SET"  # noqa: S608 - names from the model
    ' "last_sequence" = c."last_sequence" + 1,'
    ' "last_customer_message_at" = %s,'
    ' "last_activity_at" = GREATEST(c."last_activity_at", %s),'
    ' "first_customer_message_at" = COALESCE(c."first_customer_message_at", %s),'
    " \"status\" = 'open',"
    ' "snoozed_until" = CASE WHEN c."status" = \'open\' THEN c."snoozed_until" END,'
    ' "reopened_count" = c."reopened_count"'
    " + CASE WHEN c.\"status\" = 'resolved' THEN 1 ELSE 0 END,"
    ' "resolved_at" = CASE WHEN c."status" = \'resolved\' THEN NULL ELSE c."resolved_at" END'
    f' FROM (SELECT "id", "status" FROM {_CONVERSATION} WHERE {{where}} LIMIT 1 FOR UPDATE) AS old'
    f' WHERE c."id" = old."id"'
    f' RETURNING {statements.columns(Conversation, _CONVERSATION_FIELDS, "c")}, old."status",'
    f" {statements.next_id_sql(Message)}"
)
_ADVANCE_SQL = {
    where: _ADVANCE.format(where=where) for where in (_THREAD_WHERE, _CASE_WHERE, _OPEN_CASE_WHERE)
}


def _find_params(
    inbox: Inbox,
    contact: Contact,
    inbound: InboundMessage,
    now: dt.datetime,
    *,
    named_case: bool = True,
) -> tuple[str, list[Any]]:
    """Which case this message threads into: the one the channel named, the caller's thread, or
    the contact's open case."""
    if named_case and inbound.conversation_id is not None:
        return _CASE_WHERE, [inbound.conversation_id]
    if inbound.thread_key:
        return _THREAD_WHERE, [inbox.pk, inbound.thread_key]
    cutoff = now - dt.timedelta(days=settings.PREMURA_REOPEN_WINDOW_DAYS)
    stored_cutoff = statements.db().ops.adapt_datetimefield_value(cutoff)
    return _OPEN_CASE_WHERE, [contact.pk, inbox.pk, *OPEN_STATUSES, stored_cutoff]


def _advance_existing(
    inbox: Inbox,
    contact: Contact,
    inbound: InboundMessage,
    now: dt.datetime,
    at: dt.datetime,
    *,
    named_case: bool = True,
) -> tuple[Conversation, str, int | None] | None:
    """Move the case this message threads into forward: (case, its status before, message id).

    None when there is no such case. PostgreSQL does it in one statement that also takes the
    message's id; elsewhere the case is read, then updated (SQLite runs one writer at a time).
    """
    db = statements.db()
    where, params = _find_params(inbox, contact, inbound, now, named_case=named_case)
    if db.vendor == "postgresql":
        with statements.cursor() as cursor:
            cursor.execute(_ADVANCE_SQL[where], [at, at, at, *params])
            row = cursor.fetchone()
        if row is None:
            return None
        width = len(_CONVERSATION_FIELDS)
        conversation = statements.instance(Conversation, _CONVERSATION_FIELDS, row[:width])
        return conversation, row[width], int(row[width + 1])
    sql = (
        f"SELECT {statements.columns(Conversation, _CONVERSATION_FIELDS)}"  # noqa: S608 - names from the model
        f" FROM {_CONVERSATION} WHERE {where} LIMIT 1"
    )
    if db.features.has_select_for_update:
        sql += " FOR UPDATE"
    with statements.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    conversation = statements.instance(Conversation, _CONVERSATION_FIELDS, row)
    status = conversation.status
    _advance(conversation, at)
    return conversation, status, None


def _advance(conversation: Conversation, at: dt.datetime) -> None:
    """What `_ADVANCE_SQL` does, for databases without UPDATE … FROM … RETURNING of old values."""
    update_fields = ["last_sequence", "last_customer_message_at", "last_activity_at"]
    if conversation.status == Conversation.Status.RESOLVED:
        conversation.reopened_count += 1
        conversation.resolved_at = None
        update_fields += ["reopened_count", "resolved_at"]
    if conversation.status != Conversation.Status.OPEN:
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


_THREAD_CONFLICT = (
    ' ON CONFLICT ("inbox_id", "thread_key") WHERE NOT ("thread_key" = \'\') DO NOTHING'
)


def _open_conversation(
    inbox: Inbox, contact: Contact, inbound: InboundMessage, at: dt.datetime
) -> tuple[Conversation, int | None] | None:
    """A new case, born with its first message: (case, the message's id on PostgreSQL).

    None when a concurrent message with the same thread key opened it a moment ago (the INSERT
    waited for that transaction, then skipped).
    """
    conversation = Conversation(
        contact=contact,
        inbox=inbox,
        thread_key=inbound.thread_key[:255],
        subject=inbound.subject[:300],
        language=inbound.language or contact.language,
        status=Conversation.Status.SPAM if inbound.spam else Conversation.Status.OPEN,
        created_at=at,
        last_activity_at=at,
        first_customer_message_at=at,
        last_customer_message_at=at,
        last_sequence=1,
    )
    db = statements.db()
    sql, fields = statements.insert_sql(Conversation, 1)
    sql += _THREAD_CONFLICT if inbound.thread_key else ""
    sql += ' RETURNING "id"'
    if db.vendor == "postgresql":
        sql += f", {statements.next_id_sql(Message)}"
    with statements.cursor() as cursor:
        cursor.execute(sql, statements.params([conversation], fields, db))
        row = cursor.fetchone()
    if row is None:
        return None
    conversation.pk = row[0]
    statements.saved(conversation)
    return conversation, (int(row[1]) if len(row) > 1 else None)


def _customer_event(
    conversation: Conversation,
    contact: Contact,
    kind: str,
    payload: dict[str, Any],
    at: dt.datetime,
    message: Message | None = None,
) -> dict[str, Any]:
    """An event the customer's message caused (a row written with the message)."""
    return {
        "conversation_id": conversation.pk,
        "kind": kind,
        "actor_contact_id": contact.pk,
        "message_id": None if message is None else message.pk,
        "payload": payload,
        "created_at": at,
    }


def _thread(
    inbox: Inbox,
    contact: Contact,
    new_contact: bool,
    inbound: InboundMessage,
    now: dt.datetime,
    at: dt.datetime,
) -> tuple[Conversation, bool, list[dict[str, Any]], int | None]:
    """Thread the message: (case, whether it is new, the events that caused, message id or None)."""
    for _attempt in range(3):
        found = None
        if inbound.spam:
            pass  # suspected spam never joins a real case
        elif inbound.conversation_id is not None:
            found = _advance_existing(inbox, contact, inbound, now, at)
            if found is None and (inbound.thread_key or not new_contact):
                # The named case is gone (deleted): thread as if none had been named.
                found = _advance_existing(inbox, contact, inbound, now, at, named_case=False)
        # A customer met a moment ago has no case yet (unless the caller's thread key names one).
        elif inbound.thread_key or not new_contact:
            found = _advance_existing(inbox, contact, inbound, now, at)
        if found is not None:
            conversation, status, message_id = found
            return conversation, False, _wake_events(conversation, contact, status, at), message_id
        opened = _open_conversation(inbox, contact, inbound, at)
        if opened is not None:
            conversation, message_id = opened
            created = _customer_event(
                conversation,
                contact,
                ConversationEvent.Kind.CREATED,
                {"inbox": inbox.pk, "channel": inbox.kind},
                at,
            )
            return conversation, True, [created], message_id
    raise RuntimeError(f"could not thread message {inbound.provider_message_id!r}")


def _wake_events(
    conversation: Conversation, contact: Contact, status: str, at: dt.datetime
) -> list[dict[str, Any]]:
    """The events of a customer message moving a case that was not open."""
    events = []
    if status == Conversation.Status.RESOLVED:
        events.append(
            _customer_event(
                conversation, contact, ConversationEvent.Kind.REOPENED, {"from": "resolved"}, at
            )
        )
    if status != Conversation.Status.OPEN:
        events.append(
            _customer_event(
                conversation,
                contact,
                ConversationEvent.Kind.STATUS_CHANGED,
                {"from": status, "to": Conversation.Status.OPEN},
                at,
            )
        )
    return events


def _ingest_in_transaction(
    inbox: Inbox, inbound: InboundMessage, raw: RawPayload | None
) -> IngestResult | None:
    now = timezone.now()
    at = (inbound.sent_at or now) if inbound.historical else now
    raw_id = None
    looked_up = None
    if raw is not None:
        if statements.db().vendor == "postgresql":
            raw_id, looked_up = _store_raw_and_look_up(inbox, inbound, raw, now)
        else:
            raw_id = _store_raw(inbox, inbound, raw, now)
        if raw_id is None:
            # Seen before: a replay (answer with the stored message) or an earlier failed attempt.
            existing = _already_ingested(inbox, inbound.provider_message_id)
            if existing is not None:
                return IngestResult(existing, created=False)
            raw_id, looked_up = _take_stored_raw(inbox, inbound.provider_message_id), None
            if raw_id is None:
                # Only a deleted case's tombstone is left. Nothing was written: the transaction
                # ends cleanly (the caller's too) and ingest() says so.
                return None
    else:
        existing = _already_ingested(inbox, inbound.provider_message_id)
        if existing is not None:
            return IngestResult(existing, created=False)
    contact, new_contact = resolve_contact(inbound.contact, looked_up=looked_up)
    conversation, created, events, message_id = _thread(
        inbox, contact, new_contact, inbound, now, at
    )
    message = Message(
        id=message_id,
        conversation=conversation,
        inbox=inbox,
        sequence=conversation.last_sequence,
        direction=Message.Direction.INBOUND,
        kind=Message.Kind.CUSTOMER,
        author_contact=contact,
        text=inbound.text,
        html=sanitize_html(inbound.html),
        provider_message_id=inbound.provider_message_id[:255],
        automated=inbound.automated,
        raw_id=raw_id,
        sent_at=inbound.sent_at,
        created_at=at,
    )
    rows: list[list[Message] | statements.Rows] = [[message]]
    if message.pk is None:  # no id handed out beforehand: insert it to learn it
        statements.insert([message])
        rows = []
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
    rows.append(statements.Rows(ConversationEvent, events))
    if inbound.with_message is not None:
        rows.extend(inbound.with_message(message))
    # Routing runs after commit, from a task row written in this transaction.
    enqueue = not inbound.historical and not inbound.spam
    if enqueue:
        task = statements.task_row(route_conversation, conversation.pk, message.pk, created)
        if task is not None:
            rows.append(task)
            enqueue = False
    # PostgreSQL: the message, its events and the task row in one statement.
    statements.insert_all(rows)
    if enqueue:
        route_conversation.enqueue(conversation.pk, message.pk, created)
    for item in inbound.attachments:
        store_attachment(
            message,
            item.filename,
            item.content,
            item.declared_content_type,
            content_id=item.content_id,
            inline=item.inline,
        )
    conversation.contact = contact
    return IngestResult(message, created=True)
