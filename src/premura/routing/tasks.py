"""Routing runs after ingest, as a task committed with the message."""

from __future__ import annotations

from django_tasks import task


@task()
def route_conversation(conversation_id: int, message_id: int, created: bool) -> str:
    """Route a conversation after a customer message: a new case goes to its inbox's team."""
    from premura.conversations.models import Conversation
    from premura.conversations.services import set_team

    conversation = Conversation.objects.select_related("inbox").get(pk=conversation_id)
    if created and conversation.team_id is None and conversation.inbox.team_id is not None:
        set_team(conversation, None, team=conversation.inbox.team)
        return "team"
    return "unchanged"
