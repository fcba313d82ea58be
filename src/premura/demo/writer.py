"""Bulk writing of the demo tables: COPY on PostgreSQL, executemany on SQLite, a transaction a batch."""

from __future__ import annotations

import datetime as dt
import functools
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection, models, transaction

from premura.contacts.models import Contact, Identity, Organization
from premura.conversations.models import Conversation, ConversationEvent, Message

DAY = 86400.0
YEAR_DAYS = 365


# --- Writing -----------------------------------------------------------------------------------

Rows = dict[str, list[tuple[Any, ...]]]


@dataclass(frozen=True)
class Table:
    """A bulk-loaded table: its real name and the columns a row fills, in order."""

    name: str
    columns: tuple[str, ...]

    @classmethod
    def of(cls, model: type[models.Model], fields: Sequence[str]) -> Table:
        """The table of `model` with the columns of `fields` (model field names)."""
        meta = model._meta
        columns = []
        for name in fields:
            field = meta.get_field(name)
            if not isinstance(field, models.Field):
                raise TypeError(f"{model.__name__}.{name} is not a concrete field")
            columns.append(field.column)
        return cls(meta.db_table, tuple(columns))


LabelLink = Conversation.labels.through
TABLES: dict[str, Table] = {
    "organizations": Table.of(Organization, ("id", "name", "domain", "notes", "created_at")),
    "contacts": Table.of(
        Contact,
        (
            "id",
            "name",
            "email",
            "phone",
            "organization",
            "language",
            "attributes",
            "notes",
            "created_at",
            "updated_at",
        ),
    ),
    "identities": Table.of(
        Identity, ("id", "contact", "kind", "scope", "external_id", "created_at")
    ),
    "conversations": Table.of(
        Conversation,
        (
            "id",
            "contact",
            "inbox",
            "team",
            "assignee",
            "status",
            "priority",
            "language",
            "subject",
            "thread_key",
            "snoozed_until",
            "last_sequence",
            "created_at",
            "first_customer_message_at",
            "first_response_at",
            "last_customer_message_at",
            "last_agent_message_at",
            "last_activity_at",
            "resolved_at",
            "reopened_count",
        ),
    ),
    "labels": Table.of(LabelLink, ("id", "conversation", "label")),
    "messages": Table.of(
        Message,
        (
            "id",
            "conversation",
            "inbox",
            "sequence",
            "direction",
            "kind",
            "author_user",
            "author_contact",
            "text",
            "html",
            "provider_message_id",
            "sent_at",
            "created_at",
            "delivery_id",
            "delivery_state",
            "delivery_error",
            "delivery_attempts",
            "delivery_updated_at",
        ),
    ),
    "events": Table.of(
        ConversationEvent,
        (
            "id",
            "conversation",
            "kind",
            "actor_user",
            "actor_contact",
            "message",
            "payload",
            "created_at",
        ),
    ),
}
# Parents before children, so that foreign keys hold even where they are checked at once.
TABLE_ORDER = (
    "organizations",
    "contacts",
    "identities",
    "conversations",
    "labels",
    "messages",
    "events",
)


class Writer:
    """Writes rows of the bulk tables to the default database, one transaction per batch."""

    def __init__(self) -> None:
        """Connect and pick the value formats of the database in use."""
        connection.ensure_connection()
        self.vendor = connection.vendor
        self.seconds: dict[str, float] = dict.fromkeys(TABLE_ORDER, 0.0)
        self.seconds["commit"] = 0.0
        if self.vendor == "postgresql":
            # psycopg's C dumper formats datetimes faster than Python formats strings.
            from_timestamp = functools.partial(dt.datetime.fromtimestamp, tz=dt.UTC)

            def ts(seconds: float | None) -> Any:
                """An aware UTC datetime for epoch seconds."""
                return None if seconds is None else from_timestamp(seconds)

        else:
            # Django keeps SQLite datetimes as naive UTC text.
            epoch = dt.datetime(1970, 1, 1)  # noqa: DTZ001 - UTC by construction

            def ts(seconds: float | None) -> Any:
                """Naive UTC text for epoch seconds, as Django writes it to SQLite."""
                return (
                    None
                    if seconds is None
                    else (epoch + dt.timedelta(seconds=seconds)).isoformat(" ")
                )

        self.ts: Callable[[float | None], Any] = ts
        uuids = _uuid4_strings(dashes=self.vendor == "postgresql")
        self.uuid: Callable[[], str] = functools.partial(next, uuids)

    def next_ids(self) -> dict[str, int]:
        """The first free id of every bulk table."""
        ids = {}
        with connection.cursor() as cursor:
            for key, table in TABLES.items():
                cursor.execute(
                    f"SELECT COALESCE(MAX(id), 0) FROM {connection.ops.quote_name(table.name)}"
                )
                ids[key] = int(cursor.fetchone()[0]) + 1
        return ids

    def write(self, rows: Rows) -> None:
        """Write one batch of rows in one transaction and move the id sequences past them."""
        with transaction.atomic():
            for key in TABLE_ORDER:
                if rows.get(key):
                    started = time.perf_counter()
                    self._insert(TABLES[key], rows[key])
                    self.seconds[key] += time.perf_counter() - started
            started = time.perf_counter()
            if self.vendor == "postgresql":
                self._advance_sequences([key for key in TABLE_ORDER if rows.get(key)])
        self.seconds["commit"] += time.perf_counter() - started

    def _insert(self, table: Table, rows: list[tuple[Any, ...]]) -> None:
        """COPY the rows on PostgreSQL, executemany on SQLite."""
        raw: Any = connection.connection
        quote = connection.ops.quote_name
        columns = ", ".join(quote(column) for column in table.columns)
        if self.vendor == "postgresql":
            with (
                raw.cursor() as cursor,
                cursor.copy(f"COPY {quote(table.name)} ({columns}) FROM STDIN") as copy,
            ):
                for row in rows:
                    copy.write_row(row)
        else:
            marks = ", ".join("?" * len(table.columns))
            raw.executemany(f"INSERT INTO {quote(table.name)} ({columns}) VALUES ({marks})", rows)

    def _advance_sequences(self, keys: list[str]) -> None:
        """Move the id sequences past the explicit ids just written."""
        with connection.cursor() as cursor:
            for key in keys:
                name = TABLES[key].name
                cursor.execute(
                    "SELECT setval(pg_get_serial_sequence(%s, 'id'), "
                    f"(SELECT MAX(id) FROM {connection.ops.quote_name(name)}))",
                    [name],
                )


# --- Reference data ----------------------------------------------------------------------------


def _uuid4_strings(*, dashes: bool) -> Iterator[str]:
    """Fresh random UUID4s as text, drawn from os.urandom in blocks (uuid.uuid4() is slower).

    Without dashes for SQLite, where Django stores a UUIDField as 32 hex digits.
    """
    while True:
        block = os.urandom(16 * 4096).hex()
        for start in range(0, len(block), 32):
            h = block[start : start + 32]
            variant = "89ab"[int(h[16], 16) & 3]
            if dashes:
                yield f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{variant}{h[17:20]}-{h[20:]}"
            else:
                yield f"{h[:12]}4{h[13:16]}{variant}{h[17:]}"
