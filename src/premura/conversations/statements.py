"""SQL of the inbound hot path, built once per process instead of at every message.

Every inbound message inserts a message and its events and moves its conversation forward. The
ORM compiles the same INSERT and UPDATE anew each time, which costs several times the CPU of
running them (docs/architecture.md §6). These helpers build each statement once from the model's
own fields and convert values with the fields' own `get_db_prep_save`, so what reaches the
database is what `Model.save()` would have sent.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

from django.db import connection
from django.db.models import Field, Model


def _quote(name: str) -> str:
    return connection.ops.quote_name(name)


@cache
def _insert_sql(
    model: type[Model], vendor: str, rows: int
) -> tuple[str, tuple[Field[Any, Any], ...]]:
    fields = tuple(f for f in model._meta.concrete_fields if not f.primary_key)
    columns = ", ".join(_quote(f.column) for f in fields)
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    values = ", ".join([row] * rows)
    pk = _quote(str(model._meta.pk.column))
    table = _quote(model._meta.db_table)
    # Names come from the model, values are parameters.
    return f"INSERT INTO {table} ({columns}) VALUES {values} RETURNING {pk}", fields  # noqa: S608


def insert(objs: Sequence[Model]) -> None:
    """INSERT new instances of one model in one statement and set their primary keys."""
    if not objs:
        return
    model = type(objs[0])
    sql, fields = _insert_sql(model, connection.vendor, len(objs))
    params: list[Any] = [
        field.get_db_prep_save(field.pre_save(obj, True), connection)
        for obj in objs
        for field in fields
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        ids = [row[0] for row in cursor.fetchall()]
    for obj, pk in zip(objs, ids, strict=True):
        obj.pk = pk
        obj._state.adding = False
        obj._state.db = connection.alias


@cache
def _update_sql(
    model: type[Model], vendor: str, names: tuple[str, ...]
) -> tuple[str, tuple[Field[Any, Any], ...]]:
    fields = tuple(model._meta.get_field(name) for name in names)
    assignments = ", ".join(f"{_quote(str(f.column))} = %s" for f in fields)  # type: ignore[union-attr]
    pk = _quote(str(model._meta.pk.column))
    table = _quote(model._meta.db_table)
    sql = f"UPDATE {table} SET {assignments} WHERE {pk} = %s"  # noqa: S608 - names from the model
    return sql, fields  # type: ignore[return-value]


def update(obj: Model, names: Sequence[str]) -> None:
    """UPDATE these fields of a saved instance (what `save(update_fields=names)` writes)."""
    sql, fields = _update_sql(type(obj), connection.vendor, tuple(names))
    params = [f.get_db_prep_save(getattr(obj, f.attname), connection) for f in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, obj.pk])
