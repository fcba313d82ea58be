"""The API channel contract of docs/api.md: inbound messages, replays, errors, receipts."""

from __future__ import annotations

import base64
import json

import pytest
from django.test import override_settings

from premura.channels.models import Inbox
from premura.channels.services import NewAPIInbox, create_api_inbox
from premura.contacts.models import Contact, Identity
from premura.conversations.models import (
    Attachment,
    Conversation,
    ConversationEvent,
    Message,
    RawInbound,
)
from premura.conversations.services import reply, set_status
from tests.helpers import APIClient, message_body

pytestmark = pytest.mark.django_db

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


def url(inbox: Inbox, what: str = "messages") -> str:
    return f"/api/v1/inboxes/{inbox.pk}/{what}"


def counts() -> dict[str, int]:
    return {
        "contacts": Contact.objects.count(),
        "identities": Identity.objects.count(),
        "conversations": Conversation.objects.count(),
        "messages": Message.objects.count(),
        "events": ConversationEvent.objects.count(),
        "raw": RawInbound.objects.count(),
        "attachments": Attachment.objects.count(),
    }


def test_new_message_creates_contact_conversation_and_message(
    api_inbox: NewAPIInbox, inbox_client: APIClient
) -> None:
    # given
    body = message_body(
        contact={
            "identifier": "c-42",
            "name": "Mario Rossi",
            "email": "Mario@Example.IT",
            "phone": "347 123 4567",
        }
    )

    # when
    response = inbox_client.post(url(api_inbox.inbox), body)

    # then
    assert response.status_code == 201
    data = response.json()
    assert data["message"]["sequence"] == 1
    assert data["message"]["direction"] == "in"
    assert data["message"]["kind"] == "customer"
    assert data["message"]["text"] == body["text"]
    assert data["message"]["provider_message_id"] == "m-1"
    assert data["conversation"]["status"] == "open"
    assert data["conversation"]["reference"] == f"PRM-{data['conversation']['id']:06d}"
    assert data["contact"] == {
        "id": data["contact"]["id"],
        "name": "Mario Rossi",
        "email": "mario@example.it",
        "phone": "+393471234567",
    }
    identities = set(Identity.objects.values_list("kind", "scope", "external_id"))
    assert identities == {
        ("api", str(api_inbox.inbox.pk), "c-42"),
        ("email", "", "mario@example.it"),
        ("phone", "", "+393471234567"),
    }
    events = list(ConversationEvent.objects.order_by("id").values_list("kind", "payload"))
    assert events == [
        ("created", {"inbox": api_inbox.inbox.pk, "channel": "api"}),
        ("message_in", {"sequence": 1, "channel": "api"}),
    ]
    message = Message.objects.get()
    conversation = Conversation.objects.get()
    assert (
        message.created_at.isoformat().replace("+00:00", "Z")[:23]
        == data["message"]["created_at"][:23]
    )
    assert conversation.first_customer_message_at == message.created_at
    assert conversation.last_activity_at == message.created_at
    assert ConversationEvent.objects.filter(created_at=message.created_at).count() == 2
    raw = RawInbound.objects.get()
    assert json.loads(bytes(raw.body)) == body
    assert raw.state == "received"
    assert Message.objects.get().raw_id == raw.pk


def test_replay_answers_200_with_same_body_and_writes_nothing(
    api_inbox: NewAPIInbox, inbox_client: APIClient
) -> None:
    # given
    first = inbox_client.post(url(api_inbox.inbox), message_body())
    before = counts()

    # when
    again = inbox_client.post(url(api_inbox.inbox), message_body())

    # then
    assert first.status_code == 201
    assert again.status_code == 200
    assert again.json() == first.json()
    assert counts() == before


def test_second_message_threads_into_open_conversation(
    api_inbox: NewAPIInbox, inbox_client: APIClient
) -> None:
    # given
    first = inbox_client.post(url(api_inbox.inbox), message_body("m-1")).json()

    # when
    second = inbox_client.post(url(api_inbox.inbox), message_body("m-2", text="Any news?")).json()

    # then
    assert second["conversation"]["id"] == first["conversation"]["id"]
    assert second["message"]["sequence"] == 2
    assert second["contact"]["id"] == first["contact"]["id"]


def test_thread_key_keeps_separate_conversations(
    api_inbox: NewAPIInbox, inbox_client: APIClient
) -> None:
    # given
    a = inbox_client.post(url(api_inbox.inbox), message_body("m-1", thread="order-1")).json()

    # when
    b = inbox_client.post(url(api_inbox.inbox), message_body("m-2", thread="order-2")).json()
    a2 = inbox_client.post(url(api_inbox.inbox), message_body("m-3", thread="order-1")).json()

    # then
    assert a["conversation"]["id"] != b["conversation"]["id"]
    assert a2["conversation"]["id"] == a["conversation"]["id"]
    assert a2["message"]["sequence"] == 2


def test_known_email_links_new_identifier_to_same_customer(
    api_inbox: NewAPIInbox, inbox_client: APIClient
) -> None:
    # given: the customer wrote from another system (another API inbox) with the same email
    other = create_api_inbox("CRM")
    first = (
        APIClient(other.token)
        .post(url(other.inbox), message_body("x-1", identifier="crm-9"))
        .json()
    )

    # when
    second = inbox_client.post(
        url(api_inbox.inbox), message_body("m-1", identifier="shop-5")
    ).json()

    # then: one customer, one history, two conversations (one per inbox)
    assert second["contact"]["id"] == first["contact"]["id"]
    assert second["conversation"]["id"] != first["conversation"]["id"]
    assert Contact.objects.count() == 1


def test_message_after_resolution_within_window_reopens_case(
    api_inbox: NewAPIInbox, inbox_client: APIClient, admin
) -> None:
    # given
    first = inbox_client.post(url(api_inbox.inbox), message_body("m-1")).json()
    conversation = Conversation.objects.get(pk=first["conversation"]["id"])
    set_status(conversation, admin, Conversation.Status.RESOLVED)

    # when
    again = inbox_client.post(url(api_inbox.inbox), message_body("m-2")).json()

    # then
    conversation.refresh_from_db()
    assert again["conversation"]["id"] == conversation.pk
    assert conversation.status == "open"
    assert conversation.reopened_count == 1
    assert conversation.resolved_at is None
    kinds = list(conversation.events.order_by("id").values_list("kind", flat=True))
    assert kinds[-3:] == ["reopened", "status_changed", "message_in"]


@override_settings(PREMURA_REOPEN_WINDOW_DAYS=0)
def test_message_after_window_opens_new_case(
    api_inbox: NewAPIInbox, inbox_client: APIClient, admin
) -> None:
    # given
    first = inbox_client.post(url(api_inbox.inbox), message_body("m-1")).json()
    set_status(
        Conversation.objects.get(pk=first["conversation"]["id"]),
        admin,
        Conversation.Status.RESOLVED,
    )

    # when
    again = inbox_client.post(url(api_inbox.inbox), message_body("m-2")).json()

    # then
    assert again["conversation"]["id"] != first["conversation"]["id"]
    assert again["message"]["sequence"] == 1


def test_attachment_is_stored_with_sniffed_type(
    api_inbox: NewAPIInbox, inbox_client: APIClient, admin
) -> None:
    # given: a PNG that claims to be a PDF
    body = message_body(
        attachments=[
            {
                "filename": "../../etc/passwd.pdf",
                "content_type": "application/pdf",
                "data_base64": base64.b64encode(PNG).decode(),
            }
        ]
    )

    # when
    data = inbox_client.post(url(api_inbox.inbox), body).json()

    # then
    attachment = Attachment.objects.get()
    assert data["message"]["attachments"] == [
        {
            "id": attachment.pk,
            "filename": "passwd.pdf",
            "content_type": "image/png",
            "size": len(PNG),
            "url": f"/api/v1/attachments/{attachment.pk}",
        }
    ]
    assert attachment.declared_content_type == "application/pdf"
    assert attachment.file.read() == PNG


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("{not json", "invalid_json"),
        ("[]", "validation_error"),
        (json.dumps({"message_id": "m-1"}), "validation_error"),
        (
            json.dumps({"message_id": "m-1", "contact": {"identifier": "c"}, "text": 5}),
            "validation_error",
        ),
        (
            json.dumps({"message_id": "", "contact": {"identifier": "c"}, "text": "hi"}),
            "validation_error",
        ),
        (
            json.dumps({"message_id": "m" * 256, "contact": {"identifier": "c"}, "text": "hi"}),
            "validation_error",
        ),
        (
            json.dumps({"message_id": "m-1", "contact": {"identifier": "c"}, "text": ""}),
            "validation_error",
        ),
        (
            json.dumps(
                {"message_id": "m-1", "contact": {"identifier": "c", "email": "nope"}, "text": "hi"}
            ),
            "validation_error",
        ),
        (
            json.dumps(
                {"message_id": "m-1", "contact": {"identifier": "c", "phone": "12"}, "text": "hi"}
            ),
            "validation_error",
        ),
        (
            json.dumps(
                {
                    "message_id": "m-1",
                    "contact": {"identifier": "c"},
                    "text": "hi",
                    "sent_at": "2026-01-01T10:00:00",
                }
            ),
            "validation_error",
        ),
        (
            json.dumps(
                {
                    "message_id": "m-1",
                    "contact": {"identifier": "c"},
                    "text": "hi",
                    "attachments": [{"filename": "a", "data_base64": "***"}],
                }
            ),
            "validation_error",
        ),
    ],
)
def test_bad_body_is_422_and_writes_nothing(
    api_inbox: NewAPIInbox, inbox_client: APIClient, raw: str, code: str
) -> None:
    # given
    before = counts()

    # when
    response = inbox_client.post(url(api_inbox.inbox), raw=raw)

    # then
    assert response.status_code == 422
    assert response.json()["error"]["code"] == code
    assert isinstance(response.json()["error"]["message"], str)
    assert counts() == before


def test_body_over_limit_is_413_and_writes_nothing(
    api_inbox: NewAPIInbox, inbox_client: APIClient
) -> None:
    # given
    before = counts()
    body = json.dumps(message_body(text="x" * 5000))

    # when
    with override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1000):
        response = inbox_client.post(url(api_inbox.inbox), raw=body)

    # then
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"
    assert counts() == before


@override_settings(PREMURA_MAX_ATTACHMENT_BYTES=10)
def test_attachment_over_limit_is_413_and_writes_nothing(
    api_inbox: NewAPIInbox, inbox_client: APIClient
) -> None:
    # given
    before = counts()
    body = message_body(
        attachments=[{"filename": "a.png", "data_base64": base64.b64encode(PNG).decode()}]
    )

    # when
    response = inbox_client.post(url(api_inbox.inbox), body)

    # then
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "attachment_too_large"
    assert counts() == before


@pytest.mark.parametrize("token", ["", "Bearer", "prm_in_wrong", "prm_pat_wrong"])
def test_bad_or_missing_token_is_401(api_inbox: NewAPIInbox, token: str) -> None:
    # given
    before = counts()
    client = APIClient(token)

    # when
    response = client.post(url(api_inbox.inbox), message_body())

    # then
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"
    assert counts() == before


def test_inactive_inbox_token_is_401(api_inbox: NewAPIInbox, inbox_client: APIClient) -> None:
    # given
    Inbox.objects.filter(pk=api_inbox.inbox.pk).update(is_active=False)

    # when
    response = inbox_client.post(url(api_inbox.inbox), message_body())

    # then
    assert response.status_code == 401


def test_token_of_another_inbox_is_404(api_inbox: NewAPIInbox) -> None:
    # given
    other = create_api_inbox("Other")
    before = counts()

    # when
    response = APIClient(other.token).post(url(api_inbox.inbox), message_body())

    # then
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert counts() == before


XSS = [
    "<script>alert(1)</script>hello",
    '<img src=x onerror="alert(1)">',
    '<a href="javascript:alert(1)">click</a>',
    '<svg onload="alert(1)"><circle/></svg>',
    '<div style="background:url(javascript:alert(1));width:expression(alert(1))">x</div>',
    '<iframe src="https://evil.example"></iframe>',
    '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">d</a>',
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    '<form action="https://evil.example"><input name=a></form>',
    "<body onload=alert(1)>",
    '<object data="javascript:alert(1)"></object>',
]


@pytest.mark.parametrize("payload", XSS)
def test_html_is_sanitised_before_storage(
    api_inbox: NewAPIInbox, inbox_client: APIClient, payload: str
) -> None:
    # when
    data = inbox_client.post(url(api_inbox.inbox), message_body(html=payload)).json()

    # then
    stored = Message.objects.get().html
    assert data["message"]["html"] == stored
    lowered = stored.lower()
    for needle in (
        "<script",
        "onerror",
        "onload",
        "javascript:",
        "<svg",
        "<iframe",
        "expression(",
        "style=",
        "<form",
        "<object",
        "data:text",
    ):
        assert needle not in lowered


def test_receipts_move_delivery_state_forward_only(
    api_inbox: NewAPIInbox, inbox_client: APIClient, admin
) -> None:
    # given
    data = inbox_client.post(url(api_inbox.inbox), message_body()).json()
    conversation = Conversation.objects.get(pk=data["conversation"]["id"])
    out = reply(conversation, admin, "Spedito oggi")
    Message.objects.filter(pk=out.pk).update(delivery_state="sent")

    # when
    read = inbox_client.post(
        url(api_inbox.inbox, "receipts"), {"message_id": out.pk, "status": "read"}
    )
    delivered = inbox_client.post(
        url(api_inbox.inbox, "receipts"), {"message_id": out.pk, "status": "delivered"}
    )

    # then
    assert read.json() == {"message_id": out.pk, "delivery_state": "read", "applied": True}
    assert delivered.json() == {"message_id": out.pk, "delivery_state": "read", "applied": False}


def test_failed_receipt_records_error_and_event(
    api_inbox: NewAPIInbox, inbox_client: APIClient, admin
) -> None:
    # given
    data = inbox_client.post(url(api_inbox.inbox), message_body()).json()
    out = reply(Conversation.objects.get(pk=data["conversation"]["id"]), admin, "Ciao")
    Message.objects.filter(pk=out.pk).update(delivery_state="sent")

    # when
    response = inbox_client.post(
        url(api_inbox.inbox, "receipts"),
        {"message_id": out.pk, "status": "failed", "error": "number unreachable"},
    )

    # then
    out.refresh_from_db()
    assert response.json()["delivery_state"] == "failed"
    assert out.delivery_error == "number unreachable"
    assert ConversationEvent.objects.filter(kind="delivery_failed", message=out).count() == 1


def test_receipt_for_message_of_other_inbox_is_404(
    api_inbox: NewAPIInbox, inbox_client: APIClient, admin
) -> None:
    # given
    other = create_api_inbox("Other")
    data = APIClient(other.token).post(url(other.inbox), message_body()).json()
    out = reply(Conversation.objects.get(pk=data["conversation"]["id"]), admin, "Ciao")

    # when
    response = inbox_client.post(
        url(api_inbox.inbox, "receipts"), {"message_id": out.pk, "status": "read"}
    )

    # then
    assert response.status_code == 404


def test_failed_processing_keeps_raw_payload_and_a_retry_succeeds(
    api_inbox: NewAPIInbox, inbox_client: APIClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: ingest breaks after the raw payload was stored
    from premura.conversations import ingest as ingest_module

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("database went away")

    monkeypatch.setattr(ingest_module, "resolve_contact", broken)
    failed = inbox_client.post(url(api_inbox.inbox), message_body())
    raw = RawInbound.objects.get()
    monkeypatch.undo()

    # when: the caller retries
    retried = inbox_client.post(url(api_inbox.inbox), message_body())

    # then
    assert failed.status_code == 500
    assert failed.json()["error"]["code"] == "server_error"
    assert (raw.state, raw.attempts) == ("failed", 1)
    assert "database went away" in raw.error
    assert retried.status_code == 201
    assert Message.objects.get().raw_id == raw.pk
    assert RawInbound.objects.get().state == "received"
    assert Contact.objects.count() == 1


def test_rotated_token_stops_working_at_once(
    api_inbox: NewAPIInbox, inbox_client: APIClient
) -> None:
    # given: the token was used (and is remembered by this process)
    from premura.channels.services import rotate_inbox_token

    assert inbox_client.post(url(api_inbox.inbox), message_body("m-1")).status_code == 201

    # when
    new_token = rotate_inbox_token(api_inbox.inbox)

    # then
    assert inbox_client.post(url(api_inbox.inbox), message_body("m-2")).status_code == 401
    assert APIClient(new_token).post(url(api_inbox.inbox), message_body("m-2")).status_code == 201
