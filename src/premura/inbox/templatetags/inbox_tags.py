"""Template filters of the inbox's lists."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django import template
from django.template.defaultfilters import date as date_filter
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

register = template.Library()


@register.filter
def listtime(value: dt.datetime | None) -> str:
    """A list's short time, in the agent's time zone: "14:05" today, "3 Mar" this year, else "3 Mar 2024"."""
    if value is None:
        return ""
    local = timezone.localtime(value)
    today = timezone.localdate()
    if local.date() == today:
        return date_filter(local, "H:i")
    if local.year == today.year:
        return date_filter(local, "j M")
    return date_filter(local, "j M Y")


@register.simple_tag
def options(choices: Iterable[Any], selected: object = None) -> SafeString:
    """<option>s for `choices` (pairs, or objects with id and name), `selected` marked.

    One Python call per select instead of a template loop: the inbox renders hundreds of options
    (agents, teams, labels) on every page.
    """
    wanted = "" if selected is None else str(selected)
    parts = []
    for choice in choices:
        value, name = (choice.id, choice.name) if hasattr(choice, "id") else choice
        value = str(value)
        parts.append(
            format_html(
                '<option value="{}"{}>{}</option>',
                value,
                mark_safe(" selected") if value == wanted else "",  # noqa: S308 - a constant
                name,
            )
        )
    return mark_safe("".join(parts))  # noqa: S308 - each part is format_html's output
