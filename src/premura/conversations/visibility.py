"""Who may read and act on a conversation: the one place that decides it.

Every view, API endpoint, search and export asks this module. The rules (docs/architecture.md §2,
"one history for everyone"):

- every agent reads every conversation of every customer, on every channel and in every team;
- a conversation of a *restricted* team (legal, HR …) is listed for outsiders with its dates and
  status, but not its content (messages, notes, events' payloads, subject);
- acting (reply, note, assign, status, priority, labels) belongs to the conversation's team, its
  assignee, supervisors and admins; a conversation with no team yet can be taken by any agent.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet

from premura.conversations.models import Conversation

if TYPE_CHECKING:
    from premura.accounts.models import User


class Access(enum.IntEnum):
    """How much of a conversation a user may see or do, in increasing order."""

    NONE = 0
    SUMMARY = 1  # exists, dates, status, channel, team: not the content
    READ = 2
    ACT = 3


def team_ids(user: User) -> set[int]:
    """The ids of the user's teams, read once per request (cached on the user object)."""
    cached: set[int] | None = getattr(user, "_premura_team_ids", None)
    if cached is None:
        cached = set(user.teams.values_list("id", flat=True))
        user._premura_team_ids = cached  # type: ignore[attr-defined]
    return cached


def access(user: User | None, conversation: Conversation) -> Access:
    """What this user may do with this conversation."""
    if user is None or not user.is_authenticated or not user.is_active:
        return Access.NONE
    if user.is_supervisor_or_admin:
        return Access.ACT
    team_id = conversation.team_id
    member = team_id is not None and team_id in team_ids(user)
    if team_id is None or member or conversation.assignee_id == user.pk:
        return Access.ACT
    team = conversation.team
    if team is not None and team.restricted:
        return Access.SUMMARY
    return Access.READ


def can_read(user: User | None, conversation: Conversation) -> bool:
    """May see the content (messages, notes, events)."""
    return access(user, conversation) >= Access.READ


def can_act(user: User | None, conversation: Conversation) -> bool:
    """May reply, write notes, assign, change status, priority and labels."""
    return access(user, conversation) >= Access.ACT


def require_read(user: User | None, conversation: Conversation) -> None:
    """Raise PermissionDenied unless the user may read the content."""
    if not can_read(user, conversation):
        raise PermissionDenied("this conversation belongs to a restricted team")


def require_act(user: User | None, conversation: Conversation) -> None:
    """Raise PermissionDenied unless the user may act on the conversation."""
    if not can_act(user, conversation):
        raise PermissionDenied("only the conversation's team, supervisors and admins can do this")


def listable(user: User | None) -> QuerySet[Conversation]:
    """Conversations the user may see in lists (every one, for any active agent)."""
    if user is None or not user.is_authenticated or not user.is_active:
        return Conversation.objects.none()
    return Conversation.objects.all()
