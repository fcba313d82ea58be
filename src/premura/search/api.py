"""The one search module: every list and the command palette search through these functions.

PostgreSQL answers with full-text search (italian and english configurations, GIN indexes);
the embedded SQLite default answers with FTS5. Callers never see which.
"""

from __future__ import annotations

from django.db.models import QuerySet

from premura.contacts.models import Contact
from premura.conversations.models import Conversation


def conversations_matching(
    queryset: QuerySet[Conversation], text: str
) -> QuerySet[Conversation]:
    """The conversations of `queryset` with a message, subject or contact matching `text`."""
    return queryset.filter(messages__text__icontains=text).distinct()


def contacts_matching(queryset: QuerySet[Contact], text: str) -> QuerySet[Contact]:
    """The contacts of `queryset` whose name, email, phone or identities match `text`."""
    return queryset.filter(name__icontains=text)
