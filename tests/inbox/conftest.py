"""Inbox test data: conversations built row by row with exactly the fields a test needs."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable, Iterable
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from premura.accounts.models import User
from premura.channels.models import Inbox
from premura.channels.services import NewAPIInbox
from premura.contacts.models import Contact
from premura.conversations.models import Conversation, Label, Message
from premura.routing.models import Team

BASE = dt.datetime(2025, 3, 1, 9, 0, tzinfo=dt.UTC)
_counter = itertools.count(1)

MakeConversation = Callable[..., Conversation]


@pytest.fixture
def make_conversation(api_inbox: NewAPIInbox) -> MakeConversation:
    """Create a conversation (its contact and one customer message) with the given fields."""

    def make(
        *,
        inbox: Inbox | None = None,
        team: Team | None | str = "inbox",
        assignee: User | None = None,
        status: str = Conversation.Status.OPEN,
        priority: int = 0,
        minutes: float | None = None,
        at: dt.datetime | None = None,
        subject: str = "",
        text: str = "Buongiorno, il mio ordine non è arrivato.",
        contact_name: str = "Mario Rossi",
        contact: Contact | None = None,
        language: str = "it",
        labels: Iterable[str] = (),
        agent_replied: bool = False,
        **extra: Any,
    ) -> Conversation:
        n = next(_counter)
        inbox = inbox or api_inbox.inbox
        when = at or (BASE + dt.timedelta(minutes=minutes if minutes is not None else n))
        contact = contact or Contact.objects.create(name=contact_name, email=f"c{n}@example.it")
        conversation = Conversation.objects.create(
            contact=contact,
            inbox=inbox,
            team=inbox.team if team == "inbox" else team,
            assignee=assignee,
            status=status,
            priority=priority,
            language=language,
            subject=subject,
            created_at=when - dt.timedelta(minutes=5),
            first_customer_message_at=when,
            last_customer_message_at=when,
            last_agent_message_at=when + dt.timedelta(minutes=1) if agent_replied else None,
            last_activity_at=when,
            last_sequence=1,
            **extra,
        )
        Message.objects.create(
            conversation=conversation,
            inbox=inbox,
            sequence=1,
            direction=Message.Direction.INBOUND,
            kind=Message.Kind.CUSTOMER,
            author_contact=contact,
            text=text,
            created_at=when,
        )
        for name in labels:
            conversation.labels.add(Label.objects.get_or_create(name=name)[0])
        return conversation

    return make


@pytest.fixture
def signed_in() -> Callable[[User], Client]:
    """A browser-like test client signed in as the user."""

    def _client(user: User) -> Client:
        client = Client()
        client.force_login(user)
        return client

    return _client


def now() -> dt.datetime:
    return timezone.now()
