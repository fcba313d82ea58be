"""A double click that sends the form twice at the same moment, on PostgreSQL."""

from __future__ import annotations

import pytest
from django.test import Client

from premura.conversations.models import Conversation, Message, RawInbound
from premura.webforms.models import ContactForm
from tests.conversations.test_concurrency import run_concurrently
from tests.webforms.conftest import submission

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_same_page_sent_four_times_at_once_makes_one_case(contact_form: ContactForm) -> None:
    # given one rendering of the page
    data = submission(contact_form, topic="0")

    # when it is sent four times at the same moment
    responses = run_concurrently(
        [lambda: Client().post("/forms/contact/", data, REMOTE_ADDR="203.0.113.7")] * 4
    )

    # then every answer shows the one case, which has one message and one confirmation
    conversation = Conversation.objects.get()
    assert [r.status_code for r in responses] == [200, 200, 200, 200]
    assert all(conversation.reference in r.text for r in responses)
    assert Message.objects.filter(kind="customer").count() == 1
    assert Message.objects.filter(kind="automatic").count() == 1
    assert RawInbound.objects.count() == 1
    assert conversation.team.name == "Orders"
