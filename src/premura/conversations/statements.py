"""SQL of the inbound hot path, built once per process instead of at every message.

Every inbound message inserts a message and its events and moves its conversation forward. The
ORM compiles the same INSERT and UPDATE anew each time, which costs several times the CPU of
running them (docs/architecture.md §6). These helpers build each statement once from the model's
own fields and convert values with the fields' own `get_db_prep_save`, so what reaches the
database is what `Model.save()` would have sent; rows read back go through the fields' own
converters, as the ORM's would.

On PostgreSQL, `insert_all` writes rows of several tables in one statement (data-modifying CTEs)
and `next_id_sql` hands out a primary key before its row is written, so a message, its events and
its task row cost one round trip.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from typing import Any, TypeVar

from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.utils import CursorWrapper
from django.db.models import Field, Model
from django.utils import timezone
from django_tasks_db.backend import DatabaseBackend
from django_tasks_db.compat import Task, normalize_json
from django_tasks_db.models import DBTaskResult, get_date_max

M = TypeVar("M", bound=Model)


def db() -> BaseDatabaseWrapper:
    """This thread's default database connection.

    The `django.db.connection` proxy looks the connection up again at every attribute read (a
    few microseconds each, dozens of times per message): the hot path asks once and passes it on.
    """
    return connections[DEFAULT_DB_ALIAS]


_shared = threading.local()


@contextmanager
def one_cursor() -> Iterator[None]:
    """Inside this block, `cursor()` hands out one cursor of this thread's connection.

    Django builds a new cursor for every `connection.cursor()` (a third of the CPU of running a
    short statement); a message's statements share one instead.
    """
    if getattr(_shared, "cursor", None) is not None:  # nested: the outer block's cursor
        yield
        return
    with db().cursor() as shared:
        _shared.cursor = shared
        try:
            yield
        finally:
            _shared.cursor = None


@contextmanager
def cursor() -> Iterator[CursorWrapper]:
    """A cursor: the shared one inside `one_cursor()`, else a new one closed after the block."""
    shared = getattr(_shared, "cursor", None)
    if shared is not None:
        yield shared
        return
    with db().cursor() as own:
        yield own


def _quote(name: str) -> str:
    return connection.ops.quote_name(name)


def table(model: type[Model]) -> str:
    """The model's table name, quoted."""
    return _quote(model._meta.db_table)


@cache
def _insert_sql(
    model: type[Model],
    vendor: str,
    rows: int,
    with_pk: bool,
    expressions: tuple[tuple[str, str], ...] = (),
) -> tuple[str, tuple[Field[Any, Any], ...]]:
    """`INSERT INTO table (columns) VALUES (…), …` and the fields whose values are parameters.

    `expressions` maps field names to SQL written instead of a parameter (a reference to a row
    inserted by an earlier CTE of the same statement).
    """
    written = dict(expressions)
    fields = tuple(f for f in model._meta.concrete_fields if with_pk or not f.primary_key)
    columns = ", ".join(_quote(f.column) for f in fields)
    row = "(" + ", ".join(written.get(f.attname, "%s") for f in fields) + ")"
    values = ", ".join([row] * rows)
    params = tuple(f for f in fields if f.attname not in written)
    # Names come from the model, values are parameters.
    return f"INSERT INTO {table(model)} ({columns}) VALUES {values}", params  # noqa: S608


def insert_sql(
    model: type[Model],
    rows: int,
    *,
    with_pk: bool = False,
    expressions: dict[str, str] | None = None,
) -> tuple[str, tuple[Field[Any, Any], ...]]:
    """The INSERT of `rows` rows of a model (see `_insert_sql`), and the fields to pass to `params`."""
    return _insert_sql(
        model, connection.vendor, rows, with_pk, tuple(sorted((expressions or {}).items()))
    )


def params(
    objs: Sequence[Model],
    fields: Sequence[Field[Any, Any]],
    conn: BaseDatabaseWrapper | None = None,
) -> list[Any]:
    """The values of these fields of these instances, converted as `Model.save()` would."""
    conn = conn or db()
    return [
        field.get_db_prep_save(field.pre_save(obj, True), conn) for obj in objs for field in fields
    ]


@dataclass(frozen=True)
class Rows:
    """New rows of a model given as field values by attname, without building instances.

    A field left out takes what a new instance would save: its default, or the current time for
    `auto_now` / `auto_now_add`. For rows nobody reads back (events, task rows), this skips
    `Model.__init__`, which costs more than converting the values.
    """

    model: type[Model]
    values: Sequence[dict[str, Any]]

    def params(self, fields: Sequence[Field[Any, Any]], conn: BaseDatabaseWrapper) -> list[Any]:
        now = None
        result = []
        for row in self.values:
            for field in fields:
                if field.attname in row:
                    value = row[field.attname]
                elif getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
                    now = now or timezone.now()
                    value = now
                else:
                    value = field.get_default()
                result.append(field.get_db_prep_save(value, conn))
        return result


def saved(obj: Model) -> None:
    """Mark an instance as stored (what `save()` leaves behind)."""
    obj._state.adding = False
    obj._state.db = DEFAULT_DB_ALIAS


def insert(objs: Sequence[Model], *, ignore_conflicts: bool = False) -> None:
    """INSERT new instances of one model in one statement and set their primary keys.

    With `ignore_conflicts`, rows that break a unique constraint are skipped (`ON CONFLICT DO
    NOTHING`) and keep no primary key.
    """
    if not objs:
        return
    conn = db()
    sql, fields = _insert_sql(type(objs[0]), conn.vendor, len(objs), False)
    if ignore_conflicts:
        with cursor() as c:
            c.execute(f"{sql} ON CONFLICT DO NOTHING", params(objs, fields, conn))
        return
    pk = _quote(str(type(objs[0])._meta.pk.column))
    with cursor() as c:
        c.execute(f"{sql} RETURNING {pk}", params(objs, fields, conn))
        ids = [row[0] for row in c.fetchall()]
    for obj, pk_value in zip(objs, ids, strict=True):
        obj.pk = pk_value
        saved(obj)


def insert_all(groups: Sequence[Sequence[Model] | Rows]) -> None:
    """INSERT rows of several models; one statement on PostgreSQL, one per model elsewhere.

    Each group is a list of instances of one model or `Rows`. Rows whose primary key is set are
    written with it (an id from `next_id_sql`, a uuid); the others get theirs from the database,
    and instances keep None (nothing reads it back).
    """
    conn = db()
    parts: list[tuple[str, list[Any]]] = []
    for group in groups:
        if isinstance(group, Rows):
            if group.values:
                pk = group.model._meta.pk.attname
                sql, fields = _insert_sql(
                    group.model, conn.vendor, len(group.values), pk in group.values[0]
                )
                parts.append((sql, group.params(fields, conn)))
        elif group:
            sql, fields = _insert_sql(
                type(group[0]), conn.vendor, len(group), group[0].pk is not None
            )
            parts.append((sql, params(group, fields, conn)))
    if parts:
        with cursor() as c:
            if conn.vendor == "postgresql":
                # Every data-modifying CTE runs exactly once, whether or not it is referenced.
                ctes = ", ".join(f"w{i} AS ({sql})" for i, (sql, _values) in enumerate(parts[:-1]))
                values = [value for _sql, part in parts for value in part]
                c.execute(f"WITH {ctes} {parts[-1][0]}" if ctes else parts[-1][0], values)
            else:
                for sql, part in parts:
                    c.execute(sql, part)
    for group in groups:
        if not isinstance(group, Rows):
            for obj in group:
                saved(obj)


@cache
def _update_sql(
    model: type[Model], vendor: str, names: tuple[str, ...]
) -> tuple[str, tuple[Field[Any, Any], ...]]:
    fields = tuple(model._meta.get_field(name) for name in names)
    assignments = ", ".join(f"{_quote(str(f.column))} = %s" for f in fields)  # type: ignore[union-attr]
    pk = _quote(str(model._meta.pk.column))
    sql = f"UPDATE {table(model)} SET {assignments} WHERE {pk} = %s"  # noqa: S608 - names from the model
    return sql, fields  # type: ignore[return-value]


def update(obj: Model, names: Sequence[str]) -> None:
    """UPDATE these fields of a saved instance (what `save(update_fields=names)` writes)."""
    conn = db()
    sql, fields = _update_sql(type(obj), conn.vendor, tuple(names))
    values = [f.get_db_prep_save(getattr(obj, f.attname), conn) for f in fields]
    with cursor() as c:
        c.execute(sql, [*values, obj.pk])


def next_id_sql(model: type[Model]) -> str:
    """PostgreSQL: an expression taking the next primary key of the model's table."""
    pk = str(model._meta.pk.column)
    return f"nextval(pg_get_serial_sequence('{model._meta.db_table}', '{pk}'))"


def columns(model: type[Model], attnames: Sequence[str], alias: str = "") -> str:
    """The quoted columns of these fields, in order, for a SELECT or RETURNING list."""
    prefix = f"{alias}." if alias else ""
    return ", ".join(
        prefix + _quote(str(model._meta.get_field(name).column))  # type: ignore[union-attr]
        for name in attnames
    )


@cache
def _converters(
    model: type[Model], vendor: str, attnames: tuple[str, ...]
) -> tuple[tuple[int, Any, tuple[Callable[..., Any], ...]], ...]:
    found = []
    for index, name in enumerate(attnames):
        field: Any = model._meta.get_field(name)
        col = field.get_col(model._meta.db_table)
        converters = connection.ops.get_db_converters(col) + field.get_db_converters(connection)
        if converters:
            found.append((index, col, tuple(converters)))
    return tuple(found)


def instance(model: type[M], attnames: Sequence[str], row: Sequence[Any]) -> M:
    """A model instance from a row of these fields' columns; the other fields load on access."""
    conn = db()
    values = list(row)
    for index, col, converters in _converters(model, conn.vendor, tuple(attnames)):
        for converter in converters:
            values[index] = converter(values[index], col, conn)
    return model.from_db(DEFAULT_DB_ALIAS, list(attnames), values)


@cache
def _task_backend(task: Task[Any, Any]) -> DatabaseBackend | None:
    backend = task.get_backend()
    if not isinstance(backend, DatabaseBackend):
        return None
    backend.validate_task(task)
    return backend


def task_row(task: Task[Any, Any], *args: Any) -> Rows | None:
    """The row `task.enqueue(*args)` would write with the database backend, to insert with data.

    What django-tasks-db's `enqueue` writes, without an ORM INSERT compiled for it; its
    `task_enqueued` signal (a debug log line) is not sent. None when the task's backend is not
    the database one: then call `task.enqueue()`.
    """
    backend = _task_backend(task)
    if backend is None:
        return None
    return Rows(
        DBTaskResult,
        [
            {
                "id": backend._get_id(),
                "args_kwargs": normalize_json({"args": args, "kwargs": {}}),
                "priority": task.priority,
                "task_path": task.module_path,
                "queue_name": task.queue_name,
                "run_after": task.run_after if task.run_after is not None else get_date_max(),
                "backend_name": backend.alias,
            }
        ],
    )
