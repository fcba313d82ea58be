"""Cursor pagination: opaque cursors over (sort key, id), never OFFSET."""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Any

from premura.api.errors import APIError


def encode_cursor(values: list[Any]) -> str:
    """An opaque cursor for the last row of a page."""
    plain = [v.isoformat() if isinstance(v, dt.datetime) else v for v in values]
    return base64.urlsafe_b64encode(json.dumps(plain).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, types: tuple[type, ...]) -> list[Any]:
    """Read a cursor back; a tampered or foreign one is a 422."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        raw = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(raw, list) or len(raw) != len(types):
            raise ValueError("wrong shape")
        values: list[Any] = []
        for value, kind in zip(raw, types, strict=True):
            if kind is dt.datetime:
                values.append(dt.datetime.fromisoformat(value))
            else:
                values.append(kind(value))
        return values
    except (ValueError, TypeError, json.JSONDecodeError) as exc:
        raise APIError(422, "invalid_cursor", "The cursor is not valid.") from exc
