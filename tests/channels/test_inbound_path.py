"""The inbound hot path's shortcuts keep the contract: lean WSGI path, direct answer, task row.

docs/architecture.md §6: inbound API requests skip the web UI's middleware, the answer is rendered
without a second validation through its schema, the routing task row is written with the message
without django-tasks' ORM path, and the raw payload is kept as failed when processing fails.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django_tasks_db.models import DBTaskResult

from premura.api.wsgi import INBOUND_PATH, with_lean_inbound_api
from premura.channels.api import IngestOut
from premura.channels.services import NewAPIInbox
from premura.contacts.models import Contact
from premura.conversations.models import Conversation, Message, RawInbound
from premura.routing.tasks import route_conversation
from tests.helpers import APIClient, message_body

pytestmark = pytest.mark.django_db


def url(api_inbox: NewAPIInbox, what: str = "messages") -> str:
    return f"/api/v1/inboxes/{api_inbox.inbox.pk}/{what}"


@pytest.fixture
def wsgi() -> Iterator[Any]:
    """The WSGI application as `premura web` serves it, called in this thread (test database).

    As Django's test client does, the request signals do not close the test's connection.
    """
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield with_lean_inbound_api(WSGIHandler())
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def call(
    app: Any, method: str, path: str, body: bytes = b"", token: str = ""
) -> tuple[int, dict[str, str], bytes]:
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
        "wsgi.url_scheme": "http",
        "wsgi.errors": io.StringIO(),
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "127.0.0.1:8000",
        "REMOTE_ADDR": "127.0.0.1",
    }
    if token:
        environ["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    started: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        started["status"] = int(status[:3])
        started["headers"] = {k.lower(): v for k, v in headers}

    response = app(environ, start_response)
    try:
        content = b"".join(response)
    finally:
        response.close()  # type: ignore[attr-defined]
    return started["status"], started["headers"], content


def test_inbound_paths_are_the_api_channel_endpoints_only() -> None:
    assert INBOUND_PATH.match("/api/v1/inboxes/12/messages")
    assert INBOUND_PATH.match("/api/v1/inboxes/12/receipts")
    assert INBOUND_PATH.match("/api/v1/inboxes/12/attachments/7")
    assert not INBOUND_PATH.match("/api/v1/inboxes")  # admins' inbox list (personal token)
    assert not INBOUND_PATH.match("/api/v1/inboxes/12")
    assert not INBOUND_PATH.match("/api/v1/inboxes/12/messages/")
    assert not INBOUND_PATH.match("/api/v1/conversations")


def test_message_through_the_lean_path_is_stored_and_answered(
    api_inbox: NewAPIInbox, wsgi: Any
) -> None:
    # given
    body = json.dumps(message_body("m-1")).encode()

    # when
    status, headers, content = call(wsgi, "POST", url(api_inbox), body, api_inbox.token)
    replay_status, _headers, replay = call(wsgi, "POST", url(api_inbox), body, api_inbox.token)

    # then
    assert status == 201
    assert json.loads(content)["message"]["id"] == Message.objects.get().pk
    assert (replay_status, json.loads(replay)) == (200, json.loads(content))
    assert headers["content-type"] == "application/json; charset=utf-8"
    assert headers["content-length"] == str(len(content))
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert "set-cookie" not in headers  # no session, no CSRF cookie


def test_lean_path_answers_errors_in_json(api_inbox: NewAPIInbox, wsgi: Any) -> None:
    # when
    unauthorized = call(wsgi, "POST", url(api_inbox), json.dumps(message_body()).encode(), "x")
    invalid = call(wsgi, "POST", url(api_inbox), b"{not json", api_inbox.token)

    # then
    assert unauthorized[0] == 401
    assert json.loads(unauthorized[2])["error"]["code"] == "unauthorized"
    assert invalid[0] == 422
    assert json.loads(invalid[2])["error"]["code"] == "invalid_json"
    assert Message.objects.count() == 0
    assert RawInbound.objects.count() == 0


def test_other_paths_keep_the_full_middleware(wsgi: Any) -> None:
    # when
    status, headers, _content = call(wsgi, "GET", "/login/")

    # then: the web UI's middleware ran (content security policy, CSRF cookie)
    assert status == 200
    assert "content-security-policy" in headers
    assert "csrftoken" in headers.get("set-cookie", "")


def test_answer_is_exactly_the_documented_schema(
    inbox_client: APIClient, api_inbox: NewAPIInbox
) -> None:
    # given: the answer is rendered without validating it through IngestOut again
    body = message_body("m-1", sent_at="2026-11-23T10:00:00+01:00", html="<p>Ciao</p>")

    # when
    data = inbox_client.post(url(api_inbox), body).json()

    # then: validating and rendering it through the schema changes nothing
    from premura.api.api import api

    through_schema = json.loads(
        api.renderer.render(None, IngestOut.model_validate(data).model_dump(), response_status=201)
    )  # type: ignore[arg-type]
    assert data == through_schema
    assert list(data) == list(IngestOut.model_fields)
    for name in ("message", "conversation", "contact"):
        schema = IngestOut.model_fields[name].annotation
        assert list(data[name]) == list(schema.model_fields)  # type: ignore[union-attr]


def test_routing_task_row_is_what_enqueue_writes(
    inbox_client: APIClient, api_inbox: NewAPIInbox
) -> None:
    # given: a message, whose routing task row is written with it
    data = inbox_client.post(url(api_inbox), message_body("m-1")).json()
    written = DBTaskResult.objects.get()
    conversation_id, message_id = data["conversation"]["id"], data["message"]["id"]

    # when: the same task enqueued the ordinary way
    enqueued = route_conversation.enqueue(conversation_id, message_id, True).db_result  # type: ignore[attr-defined]
    enqueued.refresh_from_db()

    # then
    fields = [
        f.attname
        for f in DBTaskResult._meta.concrete_fields
        if f.attname not in ("id", "enqueued_at")
    ]
    assert {f: getattr(written, f) for f in fields} == {f: getattr(enqueued, f) for f in fields}
    assert written.args_kwargs == {"args": [conversation_id, message_id, True], "kwargs": {}}
    assert written.task_result.task.func is route_conversation.func


def test_routing_task_written_with_the_message_runs(
    inbox_client: APIClient, api_inbox: NewAPIInbox
) -> None:
    # given: a new case in an inbox of team Support
    data = inbox_client.post(url(api_inbox), message_body("m-1")).json()

    # when: what the worker does with the row
    result = DBTaskResult.objects.get().task_result
    outcome = result.task.call(*result.args, **result.kwargs)

    # then
    assert outcome == "team"
    conversation = Conversation.objects.get(pk=data["conversation"]["id"])
    assert conversation.team == api_inbox.inbox.team


def test_failing_twice_keeps_the_payload_with_two_attempts(
    api_inbox: NewAPIInbox, inbox_client: APIClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: ingest breaks after the raw payload was stored, twice
    from premura.conversations import ingest as ingest_module

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("database went away")

    monkeypatch.setattr(ingest_module, "resolve_contact", broken)

    # when
    first = inbox_client.post(url(api_inbox), message_body())
    second = inbox_client.post(url(api_inbox), message_body())

    # then: nothing but the raw payload, kept as failed, counting the attempts
    assert (first.status_code, second.status_code) == (500, 500)
    raw = RawInbound.objects.get()
    assert (raw.state, raw.attempts) == ("failed", 2)
    assert json.loads(bytes(raw.body))["message_id"] == "m-1"
    assert Message.objects.count() == 0
    assert Contact.objects.count() == 0
