"""What the inbox writes: read markers, and bulk actions over the conversations services."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django.core.exceptions import PermissionDenied
from django.utils import timezone

from premura.conversations import services as conversation_services
from premura.conversations.models import Conversation, Mention
from premura.conversations.visibility import can_act, listable
from premura.inbox.models import ReadMarker

if TYPE_CHECKING:
    from premura.accounts.models import User
    from premura.routing.models import Team

MAX_BULK = 100


def mark_read(user: User, conversation: Conversation) -> None:
    """Record that `user` has seen `conversation` up to its last message.

    One upsert (a concurrent first open of the same conversation cannot fail on the unique
    constraint); the agent's mentions in it stop showing as new.
    """
    now = timezone.now()
    ReadMarker.objects.bulk_create(
        [
            ReadMarker(
                user_id=user.pk,
                conversation_id=conversation.pk,
                last_read_sequence=conversation.last_sequence,
                read_at=now,
            )
        ],
        update_conflicts=True,
        unique_fields=["user", "conversation"],
        update_fields=["last_read_sequence", "read_at"],
    )
    Mention.objects.filter(
        conversation_id=conversation.pk, user_id=user.pk, seen_at__isnull=True
    ).update(seen_at=now)


@dataclass
class BulkResult:
    """What a bulk action did: conversations changed, refused (not the agent's to act on), failed."""

    changed: list[Conversation] = field(default_factory=list)
    unchanged: list[Conversation] = field(default_factory=list)
    refused: list[Conversation] = field(default_factory=list)
    failed: list[tuple[Conversation, str]] = field(default_factory=list)


Change = Callable[[Conversation], bool]


def apply_bulk(user: User, ids: Sequence[int], change: Change) -> BulkResult:
    """Apply `change` to each conversation of `ids` that `user` may act on.

    `change` calls one conversations service and says whether it changed something. Each
    conversation is its own transaction (the services lock its row), so one refusal or error
    leaves the others done, and the result lists every conversation that was not changed and why.
    """
    result = BulkResult()
    found = {
        c.pk: c for c in listable(user).filter(pk__in=list(ids)[:MAX_BULK]).select_related("team")
    }
    for pk in ids[:MAX_BULK]:
        conversation = found.get(pk)
        if conversation is None:
            continue
        if not can_act(user, conversation):
            result.refused.append(conversation)
            continue
        try:
            changed = change(conversation)
        except PermissionDenied:
            result.refused.append(conversation)
        except ValueError as exc:
            result.failed.append((conversation, str(exc)))
        else:
            (result.changed if changed else result.unchanged).append(conversation)
    return result


def bulk_assign(user: User, ids: Sequence[int], assignee: User | None) -> BulkResult:
    """Give the conversations to an agent (or to nobody)."""

    def change(conversation: Conversation) -> bool:
        after = conversation_services.assign(conversation, user, assignee=assignee)
        return conversation.assignee_id != after.assignee_id

    return apply_bulk(user, ids, change)


def bulk_set_team(user: User, ids: Sequence[int], team: Team | None) -> BulkResult:
    """Move the conversations to a team (or to none)."""

    def change(conversation: Conversation) -> bool:
        after = conversation_services.set_team(conversation, user, team=team)
        return conversation.team_id != after.team_id

    return apply_bulk(user, ids, change)


def bulk_set_status(user: User, ids: Sequence[int], status: str) -> BulkResult:
    """Open, set pending, resolve or close the conversations."""

    def change(conversation: Conversation) -> bool:
        after = conversation_services.set_status(conversation, user, status)
        return conversation.status != after.status

    return apply_bulk(user, ids, change)


def bulk_change_labels(
    user: User, ids: Sequence[int], *, add: Sequence[str] = (), remove: Sequence[str] = ()
) -> BulkResult:
    """Add and remove labels (by name) on the conversations."""

    def change(conversation: Conversation) -> bool:
        before = set(conversation.labels.values_list("name", flat=True))
        after = conversation_services.change_labels(conversation, user, add=add, remove=remove)
        return set(after) != before

    return apply_bulk(user, ids, change)
