"""mark_read: the unread marker the conversation page sets when an agent opens a conversation."""

from __future__ import annotations

import pytest
from django.utils import timezone

from premura.accounts.models import User
from premura.conversations.models import Mention, Message
from premura.inbox.models import ReadMarker
from premura.inbox.services import mark_read
from tests.inbox.conftest import MakeConversation

pytestmark = pytest.mark.django_db


def test_mark_read_creates_then_moves_the_marker(
    make_conversation: MakeConversation, support_agent: User, admin: User
) -> None:
    # given
    conversation = make_conversation()

    # when
    mark_read(support_agent, conversation)
    first = ReadMarker.objects.get(user=support_agent, conversation=conversation)
    conversation.last_sequence = 7
    mark_read(support_agent, conversation)
    mark_read(admin, conversation)

    # then: one row per agent and conversation, updated in place
    markers = list(
        ReadMarker.objects.order_by("user_id").values_list(
            "user_id", "conversation_id", "last_read_sequence"
        )
    )
    assert first.last_read_sequence == 1
    assert markers == sorted(
        [(support_agent.pk, conversation.pk, 7), (admin.pk, conversation.pk, 7)]
    )
    assert ReadMarker.objects.get(pk=first.pk).read_at >= first.read_at


def test_mark_read_marks_the_agents_mentions_seen(
    make_conversation: MakeConversation, support_agent: User, admin: User
) -> None:
    # given: the agent and the admin are both named in a note
    conversation = make_conversation()
    other = make_conversation()
    note = Message.objects.create(
        conversation=conversation,
        inbox=conversation.inbox,
        sequence=2,
        direction="out",
        kind="note",
        author_user=admin,
        text="@giulia @ada",
        created_at=timezone.now(),
    )
    for user in (support_agent, admin):
        Mention.objects.create(
            message=note, conversation=conversation, user=user, created_at=timezone.now()
        )

    # when
    mark_read(support_agent, other)
    untouched = Mention.objects.filter(seen_at__isnull=True).count()
    mark_read(support_agent, conversation)

    # then
    assert untouched == 2
    seen = {m.user_id: m.seen_at is not None for m in Mention.objects.all()}
    assert seen == {support_agent.pk: True, admin.pk: False}


def test_mark_read_is_two_statements(
    make_conversation: MakeConversation, support_agent: User, django_assert_num_queries: object
) -> None:
    conversation = make_conversation()
    mark_read(support_agent, conversation)
    with django_assert_num_queries(2):  # type: ignore[operator]
        mark_read(support_agent, conversation)
