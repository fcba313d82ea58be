"""The SQL behind the search module, one builder per database; `api` picks the one in use.

Each builder returns a subquery of ids ("SELECT …" and its parameters) that the api module puts
under `pk IN (…)`, so the caller's filters, ordering and slicing still apply on top of it. User
text reaches the database only as bound parameters (PostgreSQL) or as double-quoted FTS5 strings
made of word characters (SQLite), never as query syntax of its own.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any, Protocol

from django.db import connection

from premura.contacts.models import Contact, Identity
from premura.conversations.models import Conversation, Message
from premura.search.query import FOLD, MIN_PREFIX, Query, Unit, stems

Sql = tuple[str, list[Any]]

MESSAGES = Message._meta.db_table
CONVERSATIONS = Conversation._meta.db_table
CONTACTS = Contact._meta.db_table
IDENTITIES = Identity._meta.db_table


class Backend(Protocol):
    """Builds the SQL of a search for one database."""

    def term(self, query: Query) -> Sql | None:
        """The text condition in this database's terms (embedded in the SQL below), or None
        when `query` has no word to look for."""

    def estimate(self, query: Query, term: Sql) -> tuple[int, int]:
        """About how many messages match `term`, and how many there are (one quick query)."""

    def matching_ids(self, term: Sql) -> Sql:
        """Ids of the conversations with a message or a subject matching `term`."""

    def row_checks(self, term: Sql) -> list[Sql]:
        """Conditions on one conversation row, `{table}` standing for its alias: its subject
        matches `term`; one of its messages does (checked last: the costlier)."""

    def contact_words(self, words: Sequence[str], *, prefix: bool) -> Sql | None:
        """Ids of contacts whose name, email or phone hold every word (or a word starting so)."""


# A word found in more messages than `common(total)` is "common": the search then walks the
# caller's ordering and checks each conversation's messages, stopping when the page is full,
# instead of collecting every matching conversation first. Collecting costs about one heap read
# per matching message; walking, one probe per conversation until a page (26) has matched, i.e.
# 26 * total / matches probes: the two are even near sqrt(26 * total) matches. The threshold is
# twice that, because a walk has no upper bound when the caller's filters exclude most matches
# (an English word in an Italian team's queue), while collecting is bounded by the matches.
PAGE = 26
MAX_COUNTED = 50_000


def common(total: int) -> int:
    """How many matching messages make a word common in a table of `total` messages."""
    return max(2000, 2 * int(math.sqrt(PAGE * max(total, 0))))


def union(*parts: Sql | None) -> Sql | None:
    """The union of the non-empty subqueries (duplicates are harmless under IN)."""
    present = [part for part in parts if part and part[0]]
    if not present:
        return None
    return " UNION ALL ".join(sql for sql, _ in present), [
        p for _, params in present for p in params
    ]


def _marks(values: Sequence[str]) -> str:
    return ", ".join(["%s"] * len(values))


def exact_contacts(emails: Sequence[str], phones: Sequence[str], identities: Sequence[str]) -> Sql:
    """Ids of contacts with one of these emails or phones, or an identity with one of these ids."""
    parts: list[Sql] = []
    if emails:
        parts.append((f"SELECT id FROM {CONTACTS} WHERE email IN ({_marks(emails)})", [*emails]))  # noqa: S608 - names from the models, values bound
    if phones:
        parts.append((f"SELECT id FROM {CONTACTS} WHERE phone IN ({_marks(phones)})", [*phones]))  # noqa: S608
    if identities:
        sql = f"SELECT contact_id FROM {IDENTITIES} WHERE external_id IN ({_marks(identities)})"  # noqa: S608
        parts.append((sql, [*identities]))
    return union(*parts) or ("", [])


# --- PostgreSQL --------------------------------------------------------------------------------

# Each word matches when either language's stemming of it matches: the vectors hold both.
_TSQUERY_UNIT = (
    "(websearch_to_tsquery('italian'::regconfig, %s)"
    " || websearch_to_tsquery('english'::regconfig, %s))"
)
# The contact document: name, email and phone, accents folded and the punctuation of emails and
# phone numbers turned into spaces, so "rossi" and "example" are words of giulia.rossi@example.com.
CONTACT_FOLD_FROM = "@._+-" + "ÀÁÂÄÈÉÊËÌÍÎÏÒÓÔÖÙÚÛÜàáâäèéêëìíîïòóôöùúûüÇçÑñ"
CONTACT_FOLD_TO = "     " + "AAAAEEEEIIIIOOOOUUUUaaaaeeeeiiiioooouuuuCcNn"
CONTACT_VECTOR = (
    "to_tsvector('simple'::regconfig, translate("
    f"name || ' ' || email || ' ' || phone, '{CONTACT_FOLD_FROM}', '{CONTACT_FOLD_TO}'))"
)


# A lexeme no text holds (the parser never makes one with an underscore and digits like this).
_ABSENT = "premura_0_absent"


class PostgresBackend:
    """Full-text search with the italian and english configurations over stored tsvectors."""

    def _unit(self, unit: Unit) -> Sql:
        text = unit.text.translate(FOLD)
        if unit.phrase:
            text = f'"{text}"'
        return _TSQUERY_UNIT, [text, text]

    def tsquery(self, query: Query) -> Sql | None:
        """The tsquery expression of `query`, or None when it has no word to look for."""
        if not query.groups:
            return None
        parts: list[str] = []
        params: list[Any] = []
        for group in query.groups:
            units = [self._unit(unit) for unit in group]
            parts.append("(" + " || ".join(sql for sql, _ in units) + ")")
            params += [p for _, unit_params in units for p in unit_params]
        for unit in query.excluded:
            sql, unit_params = self._unit(unit)
            parts.append(f"!!{sql}")
            params += unit_params
        return "(" + " && ".join(parts) + ")", params

    def term(self, query: Query) -> Sql | None:
        return self.tsquery(query)

    def estimate(self, query: Query, term: Sql) -> tuple[int, int]:
        # The planner's estimates from the column's statistics: one planning round trip, far
        # cheaper than counting a common word. A lexeme missing from the statistics' most common
        # ones gets a made-up estimate that grows with the table, so it is compared with the
        # estimate for a lexeme that cannot exist: no more than that means "rare".
        sql, params = term
        with connection.cursor() as cursor:
            cursor.execute(
                f"EXPLAIN (FORMAT JSON) SELECT 1 FROM {MESSAGES} WHERE search_vector @@ {sql}"  # noqa: S608 - names from the models, values bound
                f" UNION ALL SELECT 1 FROM {MESSAGES} WHERE search_vector @@ '{_ABSENT}'"
                f" UNION ALL SELECT 1 FROM {MESSAGES}",
                params,
            )
            plan = cursor.fetchone()[0]
        if isinstance(plan, str):
            plan = json.loads(plan)
        matching, absent, every = (int(p["Plan Rows"]) for p in plan[0]["Plan"]["Plans"])
        # Each word is looked up in two languages, so a rare one counts as two absent lexemes.
        alternatives = max(len(group) for group in query.groups)
        if matching <= 2 * alternatives * absent * 1.1:
            return 0, every
        return matching, every

    def matching_ids(self, term: Sql) -> Sql:
        sql, params = term
        return (
            f"SELECT conversation_id FROM {MESSAGES} WHERE search_vector @@ {sql}"  # noqa: S608 - names from the models, values bound
            f" UNION ALL SELECT id FROM {CONVERSATIONS} WHERE search_vector @@ {sql}",
            params + params,
        )

    def row_checks(self, term: Sql) -> list[Sql]:
        sql, params = term
        # OFFSET 0 keeps the EXISTS a per-row probe (message_sequence_unique, then the stored
        # vector); without it PostgreSQL may hash every matching message up front.
        return [
            ("{table}.search_vector @@ " + sql, params),
            (
                f"EXISTS (SELECT 1 FROM {MESSAGES} search_m WHERE search_m.conversation_id"  # noqa: S608
                f" = {{table}}.id AND search_m.search_vector @@ {sql} OFFSET 0)",
                params,
            ),
        ]

    def contact_words(self, words: Sequence[str], *, prefix: bool) -> Sql | None:
        if not words:
            return None
        lexemes = []
        for word in words:
            folded = word.translate(FOLD)
            lexemes.append(
                f"'{folded}':*" if prefix and len(folded) >= MIN_PREFIX else f"'{folded}'"
            )
        return (
            f"SELECT id FROM {CONTACTS} WHERE {CONTACT_VECTOR}"  # noqa: S608 - constants, values bound
            " @@ to_tsquery('simple'::regconfig, %s)",
            [" & ".join(lexemes)],
        )


# --- SQLite ------------------------------------------------------------------------------------


def _fts_string(token: str) -> str:
    # Tokens are word characters only; doubling quotes keeps that true even if it ever changed.
    return '"' + token.replace('"', '""') + '"'


class SQLiteBackend:
    """FTS5 external-content tables kept in sync by triggers (migrations/0001_initial.py)."""

    def _unit(self, unit: Unit) -> str:
        if unit.phrase or len(unit.tokens) > 1:
            # A phrase: its words in order, each under its stem like a single word.
            return " + ".join(self._word(token, phrase=True) for token in unit.tokens)
        return self._word(unit.tokens[0], phrase=False)

    def _word(self, token: str, *, phrase: bool) -> str:
        prefixes = stems(token)
        if not prefixes:
            return _fts_string(token)
        # A stem that starts another one already covers it.
        prefixes = [p for p in prefixes if not any(o != p and p.startswith(o) for o in prefixes)]
        if phrase or len(prefixes) == 1:
            return _fts_string(min(prefixes, key=len)) + "*"
        return "(" + " OR ".join(_fts_string(p) + "*" for p in prefixes) + ")"

    def match(self, query: Query) -> str | None:
        """The FTS5 MATCH expression of `query`, or None when it has no word to look for."""
        if not query.groups:
            return None
        positive = " AND ".join(
            "(" + " OR ".join(self._unit(unit) for unit in group) + ")" for group in query.groups
        )
        return positive + "".join(f" NOT ({self._unit(unit)})" for unit in query.excluded)

    def term(self, query: Query) -> Sql | None:
        match = self.match(query)
        return None if match is None else ("%s", [match])

    def estimate(self, query: Query, term: Sql) -> tuple[int, int]:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT (SELECT count(*) FROM (SELECT 1 FROM search_message_fts"  # noqa: S608
                " WHERE search_message_fts MATCH %s LIMIT %s)),"
                f" (SELECT coalesce(max(id), 0) FROM {MESSAGES})",
                [*term[1], MAX_COUNTED],
            )
            matching, every = cursor.fetchone()
        return int(matching), int(every)

    def matching_ids(self, term: Sql) -> Sql:
        return (
            f"SELECT conversation_id FROM {MESSAGES} WHERE id IN"  # noqa: S608 - values bound
            " (SELECT rowid FROM search_message_fts WHERE search_message_fts MATCH %s)"
            " UNION ALL SELECT rowid FROM search_conversation_fts"
            " WHERE search_conversation_fts MATCH %s",
            term[1] * 2,
        )

    def row_checks(self, term: Sql) -> list[Sql]:
        # SQLite runs each uncorrelated IN (…) once and keeps its rows for the probes.
        return [
            (
                "{table}.id IN (SELECT rowid FROM search_conversation_fts"
                " WHERE search_conversation_fts MATCH %s)",
                term[1],
            ),
            (
                f"EXISTS (SELECT 1 FROM {MESSAGES} search_m WHERE search_m.conversation_id"  # noqa: S608
                " = {table}.id AND search_m.id IN (SELECT rowid FROM search_message_fts"
                " WHERE search_message_fts MATCH %s))",
                term[1],
            ),
        ]

    def contact_words(self, words: Sequence[str], *, prefix: bool) -> Sql | None:
        if not words:
            return None
        terms = [
            _fts_string(word) + ("*" if prefix and len(word) >= MIN_PREFIX else "")
            for word in words
        ]
        return (
            "SELECT rowid FROM search_contact_fts WHERE search_contact_fts MATCH %s",
            [" AND ".join(terms)],
        )
