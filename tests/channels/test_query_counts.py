"""Query budget of the hot path: an inbound API message (docs/architecture.md §6, bench/ingest.py).

PostgreSQL stores the raw payload and looks the customer up (all their ids) in one statement,
moves an existing case forward in one UPDATE (which also hands out the message's id) and writes
the message, its events and its routing task row in one statement; SQLite runs those one by one.
A new customer is created with their identities in one more statement.
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from premura.channels.services import NewAPIInbox
from tests.helpers import APIClient, message_body

pytestmark = pytest.mark.django_db

TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE SAVEPOINT")

# statements per message, transaction control left out
BUDGET = {
    # raw payload + lookup, contact + identities, case, message + events + task
    ("postgresql", "new"): 4,
    # raw payload + lookup, case (found and moved forward), message + events + task
    ("postgresql", "existing"): 3,
    # raw payload, lookup, contact, identities, case, message, events, task
    ("sqlite", "new"): 8,
    # raw payload, lookup, case, its update, message, events, task
    ("sqlite", "existing"): 7,
}


def budget(kind: str) -> int:
    return BUDGET[(connection.vendor, kind)]


def statements(api_inbox: NewAPIInbox, body: dict) -> tuple[int, list[str], list[str]]:
    """Status, the data statements and the transaction control statements of one request."""
    client = APIClient(api_inbox.token)
    with CaptureQueriesContext(connection) as ctx:
        response = client.post(f"/api/v1/inboxes/{api_inbox.inbox.pk}/messages", body)
    sql = [q["sql"] for q in ctx.captured_queries]
    data = [s for s in sql if not s.startswith(TRANSACTION_CONTROL)]
    control = [s for s in sql if s.startswith(TRANSACTION_CONTROL)]
    return response.status_code, data, control


def test_new_customer_message_stays_in_budget(api_inbox: NewAPIInbox) -> None:
    # given: the first message of the test, so the inbox token is looked up too
    body = message_body(
        "m-1", "new-customer", contact={"identifier": "new-customer", "name": "Anna"}
    )

    # when
    status, sql, control = statements(api_inbox, body)

    # then
    assert status == 201
    assert len(sql) == 1 + budget("new"), "\n".join(sql)
    # the test runs inside a transaction: ingest's own transaction is its one savepoint
    assert len([s for s in control if s.startswith("SAVEPOINT")]) == 1, "\n".join(control)


def test_new_customer_with_email_and_phone_costs_no_more(api_inbox: NewAPIInbox) -> None:
    # given: every id of the customer is looked up in the same statement
    contact = {
        "identifier": "c-9",
        "name": "Anna",
        "email": "anna@example.it",
        "phone": "+39 347 123 4567",
    }
    body = message_body("m-1", "c-9", contact=contact)

    # when
    status, sql, _control = statements(api_inbox, body)

    # then
    assert status == 201
    assert len(sql) == 1 + budget("new"), "\n".join(sql)


def test_existing_customer_message_stays_in_budget(api_inbox: NewAPIInbox) -> None:
    # given: the inbox token is remembered after the first message, no lookup
    statements(api_inbox, message_body("m-1", "known"))

    # when
    status, sql, _control = statements(api_inbox, message_body("m-2", "known"))

    # then
    assert status == 201
    assert len(sql) == budget("existing"), "\n".join(sql)


def test_threaded_message_of_existing_customer_stays_in_budget(api_inbox: NewAPIInbox) -> None:
    # given
    statements(api_inbox, message_body("m-1", "known", thread="order-1"))

    # when
    status, sql, _control = statements(api_inbox, message_body("m-2", "known", thread="order-1"))

    # then
    assert status == 201
    assert len(sql) == budget("existing"), "\n".join(sql)


def test_replay_takes_three_statements_and_writes_nothing(api_inbox: NewAPIInbox) -> None:
    statements(api_inbox, message_body("m-1", "known"))
    status, sql, _control = statements(api_inbox, message_body("m-1", "known"))
    assert status == 200
    # the raw insert that conflicts (inserting nothing), the stored message and its attachments
    assert len(sql) == 3, "\n".join(sql)
