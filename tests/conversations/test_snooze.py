"""Snoozed conversations wake up when their date comes."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from premura.accounts.models import User
from premura.channels.services import NewAPIInbox
from premura.conversations.models import Conversation
from premura.conversations.services import set_status, wake_snoozed
from tests.helpers import APIClient, message_body

pytestmark = pytest.mark.django_db


def test_snoozed_conversation_reopens_when_due(api_inbox: NewAPIInbox, admin: User) -> None:
    # given
    data = (
        APIClient(api_inbox.token)
        .post(f"/api/v1/inboxes/{api_inbox.inbox.pk}/messages", message_body())
        .json()
    )
    conversation = Conversation.objects.get(pk=data["conversation"]["id"])
    until = timezone.now() + dt.timedelta(hours=2)
    set_status(conversation, admin, Conversation.Status.SNOOZED, snoozed_until=until)

    # when
    early = wake_snoozed(timezone.now())
    due = wake_snoozed(until + dt.timedelta(seconds=1))

    # then
    conversation.refresh_from_db()
    assert (early, due) == (0, 1)
    assert conversation.status == "open"
    assert conversation.snoozed_until is None
    last = conversation.events.order_by("-id").first()
    assert last is not None
    assert (last.kind, last.actor_user_id, last.payload) == (
        "status_changed",
        None,
        {"from": "snoozed", "to": "open"},
    )


def test_customer_message_wakes_snoozed_conversation(api_inbox: NewAPIInbox, admin: User) -> None:
    # given
    client = APIClient(api_inbox.token)
    url = f"/api/v1/inboxes/{api_inbox.inbox.pk}/messages"
    data = client.post(url, message_body("m-1")).json()
    conversation = Conversation.objects.get(pk=data["conversation"]["id"])
    set_status(
        conversation,
        admin,
        Conversation.Status.SNOOZED,
        snoozed_until=timezone.now() + dt.timedelta(days=1),
    )

    # when
    client.post(url, message_body("m-2"))

    # then
    conversation.refresh_from_db()
    assert conversation.status == "open"
    assert conversation.snoozed_until is None
