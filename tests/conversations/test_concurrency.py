"""Concurrent inbound traffic on PostgreSQL with real concurrent connections."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection

from premura.channels.services import NewAPIInbox
from premura.contacts.models import Contact, Identity
from premura.conversations.models import Conversation, ConversationEvent, Message, RawInbound
from tests.helpers import APIClient, message_body

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def run_concurrently(calls: list[Callable[[], Any]]) -> list[Any]:
    """Start every call at the same moment, each in its own thread and database connection."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def worker(index: int, call: Callable[[], Any]) -> None:
        try:
            barrier.wait()
            results[index] = call()
        except Exception as exc:  # noqa: BLE001 - reported by the assertions below
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


def test_same_message_posted_five_times_concurrently_is_stored_once(api_inbox: NewAPIInbox) -> None:
    # given
    url = f"/api/v1/inboxes/{api_inbox.inbox.pk}/messages"
    body = message_body("dup-1")

    # when
    responses = run_concurrently(
        [lambda: APIClient(api_inbox.token).post(url, body) for _ in range(5)]
    )

    # then
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200, 200, 200, 200, 201]
    assert len({r.json()["message"]["id"] for r in responses}) == 1
    assert Message.objects.count() == 1
    assert Conversation.objects.count() == 1
    assert Contact.objects.count() == 1
    assert RawInbound.objects.count() == 1
    assert ConversationEvent.objects.filter(kind="message_in").count() == 1


def test_first_two_messages_of_new_customer_make_one_contact_one_conversation(
    api_inbox: NewAPIInbox,
) -> None:
    # given
    url = f"/api/v1/inboxes/{api_inbox.inbox.pk}/messages"
    bodies = [message_body(f"first-{i}", identifier="brand-new") for i in range(2)]

    # when
    responses = run_concurrently(
        [lambda b=b: APIClient(api_inbox.token).post(url, b) for b in bodies]
    )

    # then
    assert [r.status_code for r in responses] == [201, 201]
    assert Contact.objects.count() == 1
    assert Identity.objects.filter(kind="api").count() == 1
    assert Conversation.objects.count() == 1
    assert sorted(Message.objects.values_list("sequence", flat=True)) == [1, 2]
    assert ConversationEvent.objects.filter(kind="created").count() == 1


def test_many_customers_and_messages_at_once_keep_sequences_dense(api_inbox: NewAPIInbox) -> None:
    # given: 4 customers writing 3 messages each, all at once
    url = f"/api/v1/inboxes/{api_inbox.inbox.pk}/messages"
    bodies = [
        message_body(
            f"m-{c}-{n}",
            identifier=f"cust-{c}",
            contact={"identifier": f"cust-{c}", "name": f"C{c}"},
        )
        for c in range(4)
        for n in range(3)
    ]

    # when
    responses = run_concurrently(
        [lambda b=b: APIClient(api_inbox.token).post(url, b) for b in bodies]
    )

    # then
    assert [r.status_code for r in responses] == [201] * 12
    assert Contact.objects.count() == 4
    assert Conversation.objects.count() == 4
    for conversation in Conversation.objects.all():
        assert sorted(conversation.messages.values_list("sequence", flat=True)) == [1, 2, 3]
        assert conversation.last_sequence == 3
