"""The one search module: every list and the command palette search through these functions.

PostgreSQL answers with full-text search (italian and english configurations, GIN indexes);
the embedded SQLite default answers with FTS5. Callers never see which.

Both functions return the queryset they are given, narrowed by one condition, so the caller's
visibility filters, ordering and cursor slicing apply on top, in the same single statement.
`conversations_matching` first runs one quick query to choose its plan (see its docstring);
`contacts_matching` runs none.
"""

from __future__ import annotations

import time
from typing import Any

from django.db import connection
from django.db.models import BooleanField, Expression, Q, QuerySet
from django.db.models.expressions import RawSQL

from premura.contacts.models import Contact
from premura.contacts.services import normalize_email, normalize_phone
from premura.conversations.models import Conversation
from premura.search.backends import (
    CONTACTS,
    CONVERSATIONS,
    MESSAGES,
    Backend,
    PostgresBackend,
    Sql,
    SQLiteBackend,
    common,
    exact_contacts,
    union,
)
from premura.search.query import Query, parse

__all__ = ["contacts_matching", "conversations_matching", "rebuild"]

_PHONE_CHARACTERS = set("0123456789+-./() ")
# A literal id typed like the ids it is compared with, so PostgreSQL can flatten the union.
_BIGINT = "CAST(%s AS bigint)"


def _backend() -> Backend:
    if connection.vendor == "postgresql":
        return PostgresBackend()
    if connection.vendor == "sqlite":
        return SQLiteBackend()
    raise NotImplementedError(f"no search backend for {connection.vendor}")


def _contact_ids(backend: Backend, query: Query, *, prefix: bool) -> Sql | None:
    """Contacts whose words, email, phone or identities match what was typed."""
    text = query.text
    emails: list[str] = []
    phones: list[str] = []
    identities: list[str] = []
    if text and " " not in text and len(text) <= 255:
        identities.append(text)
        if "@" in text:
            emails.append(normalize_email(text))
            identities.append(normalize_email(text))
    digits = sum(ch.isdigit() for ch in text)
    if digits >= 6 and set(text) <= _PHONE_CHARACTERS:
        try:
            phone = normalize_phone(text)
        except ValueError:
            pass
        else:
            # Messaging apps know a customer by the number without its "+".
            phones.append(phone)
            identities += [phone, phone[1:]]
    words = query.words if query.groups and not query.excluded else []
    return union(
        backend.contact_words(words, prefix=prefix),
        exact_contacts(emails, phones, list(dict.fromkeys(identities))),
    )


# Which plan a query takes, per process: the answer comes from the table's statistics, which
# change only when they are gathered again, and an agent paging through a search asks again and
# again. Kept ESTIMATE_SECONDS; either plan finds the same rows, only the speed differs.
ESTIMATE_SECONDS = 60.0
_ESTIMATES_KEPT = 512
_estimates: dict[tuple[str, str, tuple[Any, ...]], tuple[float, bool]] = {}


def forget_estimates() -> None:
    """Plan each query afresh (after a bulk load and ANALYZE; between tests)."""
    _estimates.clear()


def _is_common(backend: Backend, query: Query, term: Sql) -> bool:
    key = (connection.alias, term[0], tuple(term[1]))
    now = time.monotonic()
    kept = _estimates.get(key)
    if kept is not None and now - kept[0] < ESTIMATE_SECONDS:
        return kept[1]
    matching, total = backend.estimate(query, term)
    answer = matching > common(total)
    if len(_estimates) >= _ESTIMATES_KEPT:
        _estimates.clear()
    _estimates[key] = (now, answer)
    return answer


class _RowCheck(Expression):
    """A condition in SQL on the row of the query it filters, `{table}` naming that row's alias.

    The alias is read when the query is compiled, so the condition stays right when the
    caller's queryset is relabelled (used as a subquery, combined with others).
    """

    conditional = True
    output_field = BooleanField()

    def __init__(self, sql: str, params: list[Any]) -> None:
        super().__init__()
        self.sql = sql
        self.params = params

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        table = compiler.quote_name_unless_alias(compiler.query.base_table)
        return self.sql.replace("{table}", table), list(self.params)


def conversations_matching(queryset: QuerySet[Conversation], text: str) -> QuerySet[Conversation]:
    """The conversations of `queryset` with a message, subject or contact matching `text`.

    Words match in either language ("rimborsi" finds "rimborso", "refunds" finds "refund"),
    accents aside; "quoted phrases", `or` and `-excluded` words work as in web search. A reference
    ("PRM-000123", "#123", "123") also finds that conversation. Returns no rows for text with
    nothing to look for.

    Runs one quick query (how common the words are) to choose between two plans: for a rare
    word, collect the few matching conversations from the indexes; for a common one, walk the
    caller's ordering and check each conversation, which stops as soon as the page is full.
    """
    query = parse(text)
    backend = _backend()
    term = backend.term(query)
    contacts = _contact_ids(backend, query, prefix=False)
    reference = query.reference
    if term is not None and _is_common(backend, query, term):
        subject, messages = (_RowCheck(sql, params) for sql, params in backend.row_checks(term))
        # Cheapest first: PostgreSQL evaluates OR in the order written.
        condition = Q(subject)
        if reference is not None:
            condition |= Q(pk=reference)
        if contacts is not None:
            condition |= Q(contact_id__in=RawSQL(*contacts))  # noqa: S611 - values bound
        return queryset.filter(condition | Q(messages))
    by_contact: Sql | None = None
    if contacts is not None:
        by_contact = (
            f"SELECT id FROM {CONVERSATIONS} WHERE contact_id IN ({contacts[0]})",  # noqa: S608
            contacts[1],
        )
    ids = union(
        backend.matching_ids(term) if term is not None else None,
        by_contact,
        (f"SELECT {_BIGINT}", [reference]) if reference is not None else None,
    )
    if ids is None:
        return queryset.none()
    # The SQL is built from constants; what was typed only travels as parameters.
    return queryset.filter(pk__in=RawSQL(ids[0], ids[1]))  # noqa: S611


def contacts_matching(queryset: QuerySet[Contact], text: str) -> QuerySet[Contact]:
    """The contacts of `queryset` whose name, email, phone or identities match `text`.

    Every word must start a word of the name, email or phone ("giu ros" finds Giulia Rossi); a
    whole email, a phone number in any format that parses, or a channel's external id finds the
    contact exactly.
    """
    ids = _contact_ids(_backend(), parse(text), prefix=True)
    if ids is None:
        return queryset.none()
    # The SQL is built from constants; what was typed only travels as parameters.
    return queryset.filter(pk__in=RawSQL(ids[0], ids[1]))  # noqa: S611


def rebuild() -> None:
    """Bring the search indexes up to date after writes that bypassed them; safe to run anytime.

    SQLite: rebuilds the FTS5 tables from their content tables (triggers keep them in sync for
    every write through SQL, so this is only needed after writes with the triggers absent).
    PostgreSQL: the vectors are computed by the database on every write; this refreshes the
    planner's statistics on them, which it needs to choose a plan for common and rare words
    after a bulk load.
    """
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            for table in ("search_message_fts", "search_conversation_fts", "search_contact_fts"):
                cursor.execute(f"INSERT INTO {table}({table}) VALUES ('rebuild')")  # noqa: S608
        elif connection.vendor == "postgresql":
            for table in (MESSAGES, CONVERSATIONS, CONTACTS):
                cursor.execute(f"ANALYZE {connection.ops.quote_name(table)}")
