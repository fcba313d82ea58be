"""The conversation page (`page`), its composer (`compose`), its actions (`actions`) and its files
(`files`)."""

from __future__ import annotations

from premura.conversations.views.actions import (
    assign,
    delete,
    labels,
    priority,
    retry,
    status,
    team,
)
from premura.conversations.views.compose import compose
from premura.conversations.views.files import attachment_download, attachment_preview, original
from premura.conversations.views.page import detail, older, poll

__all__ = [
    "assign",
    "attachment_download",
    "attachment_preview",
    "compose",
    "delete",
    "detail",
    "labels",
    "older",
    "original",
    "poll",
    "priority",
    "retry",
    "status",
    "team",
]
