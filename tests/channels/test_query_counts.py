"""Query budget of the hot path: an inbound API message (docs/architecture.md §6, bench/ingest.py)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from premura.channels.services import NewAPIInbox
from tests.helpers import APIClient, message_body

pytestmark = pytest.mark.django_db

TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE SAVEPOINT")


def statements(api_inbox: NewAPIInbox, body: dict) -> tuple[int, list[str]]:
    client = APIClient(api_inbox.token)
    with CaptureQueriesContext(connection) as ctx:
        response = client.post(f"/api/v1/inboxes/{api_inbox.inbox.pk}/messages", body)
    sql = [q["sql"] for q in ctx.captured_queries if not q["sql"].startswith(TRANSACTION_CONTROL)]
    return response.status_code, sql


def test_new_customer_message_takes_nine_statements(api_inbox: NewAPIInbox) -> None:
    # (the first message of the test: the inbox token is looked up too)
    body = message_body(
        "m-1", "new-customer", contact={"identifier": "new-customer", "name": "Anna"}
    )
    status, sql = statements(api_inbox, body)
    assert status == 201
    assert len(sql) == 9, "\n".join(sql)


def test_new_customer_with_email_takes_ten_statements(api_inbox: NewAPIInbox) -> None:
    # one more: is this email already a customer of ours (on another channel)?
    status, sql = statements(api_inbox, message_body("m-1", "new-customer"))
    assert status == 201
    assert len(sql) == 10, "\n".join(sql)


def test_existing_customer_message_takes_seven_statements(api_inbox: NewAPIInbox) -> None:
    # (the inbox token is remembered after the first message: no lookup)
    statements(api_inbox, message_body("m-1", "known"))
    status, sql = statements(api_inbox, message_body("m-2", "known"))
    assert status == 201
    assert len(sql) == 7, "\n".join(sql)


def test_replay_takes_three_statements_and_writes_nothing(api_inbox: NewAPIInbox) -> None:
    statements(api_inbox, message_body("m-1", "known"))
    status, sql = statements(api_inbox, message_body("m-1", "known"))
    assert status == 200
    # the raw insert that conflicts (inserting nothing), the stored message and its attachments
    assert len(sql) == 3, "\n".join(sql)
