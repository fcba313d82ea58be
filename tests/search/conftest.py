"""Fixtures for the search tests: customers writing in through the real ingest."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest

from premura.channels.services import NewAPIInbox
from premura.contacts.services import ContactInfo, IdentityKey
from premura.conversations.ingest import InboundMessage, ingest
from premura.conversations.models import Message

Say = Callable[..., Message]


@pytest.fixture
def say(api_inbox: NewAPIInbox) -> Say:
    """A customer message ingested through the API inbox; each `thread` is its own conversation."""
    numbers = itertools.count(1)

    def say(
        text: str,
        *,
        thread: str = "t1",
        customer: str = "cust-1",
        name: str = "Mario Verdi",
        email: str = "",
        phone: str = "",
        subject: str = "",
    ) -> Message:
        inbound = InboundMessage(
            provider_message_id=f"m-{next(numbers)}",
            contact=ContactInfo(
                identity=IdentityKey("api", customer, scope=str(api_inbox.inbox.pk)),
                name=name,
                email=email,
                phone=phone,
            ),
            text=text,
            subject=subject,
            thread_key=thread,
        )
        return ingest(api_inbox.inbox, inbound).message

    return say


def found(queryset: object) -> list[int]:
    """The ids of a conversation or contact queryset, sorted."""
    return sorted(row.pk for row in queryset)  # type: ignore[attr-defined]
