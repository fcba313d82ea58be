"""Read queries over conversations that pages and the API share."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import Count, Q

from premura.conversations.models import Conversation
from premura.conversations.visibility import listable

if TYPE_CHECKING:
    from premura.accounts.models import User


def workload(user: User) -> dict[str, int]:
    """How many cases are open, waiting for the customer, and open and assigned to `user`."""
    open_ = Q(status=Conversation.Status.OPEN)
    return listable(user).aggregate(
        open=Count("id", filter=open_),
        pending=Count("id", filter=Q(status=Conversation.Status.PENDING)),
        mine=Count("id", filter=open_ & Q(assignee_id=user.pk)),
    )
