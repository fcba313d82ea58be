"""Full-text search: tsvector columns and GIN indexes on PostgreSQL, FTS5 tables on SQLite.

PostgreSQL: messages and conversations (subject) get a stored generated `search_vector` holding
the text's italian *and* english lexemes (accents folded), each under one GIN index. Stored, not
an expression index, because a search ordered by last activity checks the newest conversations'
messages one by one, and recomputing two tsvectors per message at query time costs more than
reading them. Contacts get an expression GIN index (simple configuration, for prefix matching);
identities a btree index on their external id.

SQLite: external-content FTS5 tables over the same columns, kept in sync by triggers, which fire
for every INSERT, UPDATE and DELETE through SQL (bulk executemany included).

The translate() below must stay equal to premura.search.query.FOLD_FROM / FOLD_TO and
premura.search.backends.CONTACT_VECTOR (tests/search/test_indexes.py checks it).
"""

from __future__ import annotations

from typing import Any

from django.db import migrations

FOLD = (
    "'ÀÁÂÄÈÉÊËÌÍÎÏÒÓÔÖÙÚÛÜàáâäèéêëìíîïòóôöùúûüÇçÑñ', 'AAAAEEEEIIIIOOOOUUUUaaaaeeeeiiiioooouuuuCcNn'"
)


def vector(column: str) -> str:
    """Both languages' lexemes of `column`, accents folded first."""
    folded = f"translate({column}, {FOLD})"
    return (
        f"to_tsvector('italian'::regconfig, {folded})"
        f" || to_tsvector('english'::regconfig, {folded})"
    )


CONTACT_VECTOR = (
    "to_tsvector('simple'::regconfig, translate(name || ' ' || email || ' ' || phone, "
    "'@._+-ÀÁÂÄÈÉÊËÌÍÎÏÒÓÔÖÙÚÛÜàáâäèéêëìíîïòóôöùúûüÇçÑñ', "
    "'     AAAAEEEEIIIIOOOOUUUUaaaaeeeeiiiioooouuuuCcNn'))"
)

POSTGRESQL = [
    f"""ALTER TABLE conversations_message ADD COLUMN search_vector tsvector
        GENERATED ALWAYS AS ({vector("text")}) STORED""",
    "CREATE INDEX search_message_vector_idx ON conversations_message USING gin (search_vector)",
    # The search asks the planner how common its words are (premura.search.backends); more
    # most-common lexemes in the statistics tell "rare" from "not that common" more finely.
    "ALTER TABLE conversations_message ALTER COLUMN search_vector SET STATISTICS 500",
    f"""ALTER TABLE conversations_conversation ADD COLUMN search_vector tsvector
        GENERATED ALWAYS AS ({vector("subject")}) STORED""",
    """CREATE INDEX search_conversation_vector_idx ON conversations_conversation
        USING gin (search_vector)""",
    f"CREATE INDEX search_contact_vector_idx ON contacts_contact USING gin (({CONTACT_VECTOR}))",
    "CREATE INDEX search_identity_external_idx ON contacts_identity (external_id)",
]
POSTGRESQL_REVERSE = [
    "DROP INDEX IF EXISTS search_identity_external_idx",
    "DROP INDEX IF EXISTS search_contact_vector_idx",
    "ALTER TABLE conversations_conversation DROP COLUMN IF EXISTS search_vector",
    "ALTER TABLE conversations_message DROP COLUMN IF EXISTS search_vector",
]


def fts5(table: str, content: str, columns: str, options: str = "") -> list[str]:
    """An external-content FTS5 table over `content`, its triggers, and its first fill."""
    names = [name.strip() for name in columns.split(",")]
    new = ", ".join(f"new.{name}" for name in names)
    old = ", ".join(f"old.{name}" for name in names)
    delete = f"INSERT INTO {table}({table}, rowid, {columns}) VALUES ('delete', old.id, {old});"
    insert = f"INSERT INTO {table}(rowid, {columns}) VALUES (new.id, {new});"
    return [
        f"""CREATE VIRTUAL TABLE {table} USING fts5({columns}, content='{content}',
            content_rowid='id', tokenize='unicode61 remove_diacritics 2'{options})""",
        f"CREATE TRIGGER {table}_insert AFTER INSERT ON {content} BEGIN {insert} END",
        f"CREATE TRIGGER {table}_delete AFTER DELETE ON {content} BEGIN {delete} END",
        f"""CREATE TRIGGER {table}_update AFTER UPDATE OF {columns} ON {content}
            BEGIN {delete} {insert} END""",
        f"INSERT INTO {table}({table}) VALUES ('rebuild')",
    ]


SQLITE = [
    # columnsize=0: results are ordered by the caller (last activity), never by rank, so the
    # per-row sizes that bm25() needs are not kept; one write less per message.
    *fts5("search_message_fts", "conversations_message", "text", ", columnsize=0"),
    *fts5("search_conversation_fts", "conversations_conversation", "subject", ", columnsize=0"),
    *fts5("search_contact_fts", "contacts_contact", "name, email, phone", ", prefix='2 3'"),
    "CREATE INDEX search_identity_external_idx ON contacts_identity (external_id)",
]
SQLITE_REVERSE = [
    "DROP INDEX IF EXISTS search_identity_external_idx",
    *(
        f"DROP TRIGGER IF EXISTS {table}_{kind}"
        for table in ("search_message_fts", "search_conversation_fts", "search_contact_fts")
        for kind in ("insert", "delete", "update")
    ),
    "DROP TABLE IF EXISTS search_message_fts",
    "DROP TABLE IF EXISTS search_conversation_fts",
    "DROP TABLE IF EXISTS search_contact_fts",
]


class RunSQLOn(migrations.RunSQL):
    """RunSQL applied only on one database vendor."""

    def __init__(self, vendor: str, sql: list[str], reverse_sql: list[str]) -> None:
        super().__init__(sql, reverse_sql)
        self.vendor = vendor

    def database_forwards(self, app_label: str, schema_editor: Any, *args: Any) -> None:
        if schema_editor.connection.vendor == self.vendor:
            super().database_forwards(app_label, schema_editor, *args)

    def database_backwards(self, app_label: str, schema_editor: Any, *args: Any) -> None:
        if schema_editor.connection.vendor == self.vendor:
            super().database_backwards(app_label, schema_editor, *args)


class Migration(migrations.Migration):
    dependencies = [
        ("conversations", "0002_mention"),
        ("contacts", "0001_initial"),
        ("inbox", "0001_initial"),
    ]

    operations = [
        RunSQLOn("postgresql", POSTGRESQL, POSTGRESQL_REVERSE),
        RunSQLOn("sqlite", SQLITE, SQLITE_REVERSE),
    ]
