"""The REST API for agents: conversations, messages, contacts, teams, inboxes, tokens."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone

from premura.accounts.models import APIToken, User
from premura.channels.models import Inbox
from premura.channels.services import NewAPIInbox
from premura.contacts.models import Contact, Identity
from premura.conversations.models import Conversation, ConversationEvent, Message
from premura.routing.models import Team
from tests.helpers import APIClient, message_body

pytestmark = pytest.mark.django_db


def _post_customer(
    api_inbox: NewAPIInbox, message_id: str, identifier: str, **extra: object
) -> dict:
    body = message_body(
        message_id,
        identifier,
        contact={"identifier": identifier, "name": f"Cliente {identifier}"},
        **extra,
    )
    response = APIClient(api_inbox.token).post(
        f"/api/v1/inboxes/{api_inbox.inbox.pk}/messages", body
    )
    assert response.status_code == 201
    return response.json()


def test_openapi_and_docs_are_served() -> None:
    # when
    spec = Client().get("/api/openapi.json")
    docs = Client().get("/api/docs")

    # then
    assert spec.status_code == 200
    paths = spec.json()["paths"]
    assert "/api/v1/inboxes/{inbox_id}/messages" in paths
    assert "/api/v1/conversations" in paths
    assert "/api/v1/contacts/{contact_id}/merge" in paths
    assert docs.status_code == 200
    assert b"swagger-ui-bundle.js" in docs.content
    assert b"cdn." not in docs.content


def test_conversation_list_paginates_by_cursor_without_gaps(
    api_inbox: NewAPIInbox, admin_client: APIClient
) -> None:
    # given
    ids = [_post_customer(api_inbox, f"m-{i}", f"c-{i}")["conversation"]["id"] for i in range(7)]
    Conversation.objects.update(last_activity_at=timezone.now())  # ties broken by id

    # when
    seen: list[int] = []
    cursor = None
    pages = 0
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = admin_client.get("/api/v1/conversations", params).json()
        seen += [c["id"] for c in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break

    # then
    assert pages == 3
    assert seen == sorted(ids, reverse=True)


def test_conversation_filters(
    api_inbox: NewAPIInbox, admin_client: APIClient, admin: User, support_team: Team
) -> None:
    # given
    a = _post_customer(api_inbox, "m-1", "c-1")["conversation"]["id"]
    b = _post_customer(api_inbox, "m-2", "c-2")["conversation"]["id"]
    admin_client.post(f"/api/v1/conversations/{a}/status", {"status": "pending"})
    admin_client.post(f"/api/v1/conversations/{a}/labels", {"add": ["vip"]})
    admin_client.post(f"/api/v1/conversations/{b}/assign", {"assignee_id": admin.pk})
    admin_client.post(f"/api/v1/conversations/{b}/priority", {"priority": 3})

    # when / then
    def ids(**params: object) -> list[int]:
        return [c["id"] for c in admin_client.get("/api/v1/conversations", params).json()["items"]]

    assert ids(status="pending") == [a]
    assert ids(label="vip") == [a]
    assert ids(assignee_id=admin.pk) == [b]
    assert ids(assignee_id=0) == [a]
    assert ids(priority=3) == [b]
    assert ids(reference=f"PRM-{a:06d}") == [a]
    assert ids(inbox_id=api_inbox.inbox.pk) == [b, a]


def test_invalid_cursor_and_status_are_422(admin_client: APIClient) -> None:
    assert (
        admin_client.get("/api/v1/conversations", {"cursor": "garbage"}).json()["error"]["code"]
        == "invalid_cursor"
    )
    assert admin_client.get("/api/v1/conversations", {"status": "nope"}).status_code == 422
    assert admin_client.get("/api/v1/conversations", {"limit": 1000}).status_code == 422


def test_agent_actions_write_events(
    api_inbox: NewAPIInbox, admin_client: APIClient, admin: User, support_team: Team
) -> None:
    # given
    cid = _post_customer(api_inbox, "m-1", "c-1")["conversation"]["id"]
    other_team = Team.objects.create(name="Billing", slug="billing")
    until = (timezone.now() + dt.timedelta(days=1)).isoformat()

    # when
    assigned = admin_client.post(
        f"/api/v1/conversations/{cid}/assign", {"assignee_id": admin.pk, "handover_note": "tuo"}
    ).json()
    moved = admin_client.post(
        f"/api/v1/conversations/{cid}/team", {"team_id": other_team.pk}
    ).json()
    snoozed = admin_client.post(
        f"/api/v1/conversations/{cid}/status", {"status": "snoozed", "snoozed_until": until}
    ).json()
    labelled = admin_client.post(
        f"/api/v1/conversations/{cid}/labels", {"add": ["reso", "vip"], "remove": []}
    ).json()
    unlabelled = admin_client.post(
        f"/api/v1/conversations/{cid}/labels", {"remove": ["vip"]}
    ).json()
    resolved = admin_client.post(
        f"/api/v1/conversations/{cid}/status", {"status": "resolved"}
    ).json()

    # then
    assert assigned["assignee_id"] == admin.pk
    assert moved["team_id"] == other_team.pk
    assert snoozed["status"] == "snoozed"
    assert labelled["labels"] == ["reso", "vip"]
    assert unlabelled["labels"] == ["reso"]
    assert resolved["status"] == "resolved"
    assert resolved["resolved_at"] is not None
    kinds = list(
        ConversationEvent.objects.filter(conversation_id=cid)
        .order_by("id")
        .values_list("kind", flat=True)
    )
    assert kinds == [
        "created",
        "message_in",
        "assigned",
        "team_changed",
        "status_changed",
        "labels_changed",
        "labels_changed",
        "status_changed",
    ]
    assert ConversationEvent.objects.get(conversation_id=cid, kind="assigned").payload == {
        "from": None,
        "to": admin.pk,
        "handover_note": "tuo",
    }


def test_bad_actions_are_422(api_inbox: NewAPIInbox, admin_client: APIClient) -> None:
    cid = _post_customer(api_inbox, "m-1", "c-1")["conversation"]["id"]
    past = (timezone.now() - dt.timedelta(days=1)).isoformat()
    assert (
        admin_client.post(f"/api/v1/conversations/{cid}/status", {"status": "bogus"}).status_code
        == 422
    )
    assert (
        admin_client.post(
            f"/api/v1/conversations/{cid}/status", {"status": "snoozed", "snoozed_until": past}
        ).status_code
        == 422
    )
    assert (
        admin_client.post(f"/api/v1/conversations/{cid}/priority", {"priority": 9}).status_code
        == 422
    )
    assert (
        admin_client.post(
            f"/api/v1/conversations/{cid}/assign", {"assignee_id": 999999}
        ).status_code
        == 422
    )
    assert (
        admin_client.post(f"/api/v1/conversations/{cid}/team", {"team_id": 999999}).status_code
        == 422
    )
    assert (
        admin_client.post(f"/api/v1/conversations/{cid}/messages", {"text": "  "}).status_code
        == 422
    )
    assert admin_client.get("/api/v1/conversations/999999").status_code == 404


def test_messages_since_sequence_reply_and_note(
    api_inbox: NewAPIInbox, admin_client: APIClient
) -> None:
    # given
    cid = _post_customer(api_inbox, "m-1", "c-1")["conversation"]["id"]
    _post_customer(api_inbox, "m-2", "c-1")

    # when
    reply = admin_client.post(
        f"/api/v1/conversations/{cid}/messages",
        {"text": "Eccomi", "html": "<b>Eccomi</b><script>x</script>"},
    )
    note = admin_client.post(f"/api/v1/conversations/{cid}/notes", {"text": "Controllare il reso"})
    after_first = admin_client.get(
        f"/api/v1/conversations/{cid}/messages", {"since_sequence": 1}
    ).json()

    # then
    assert reply.status_code == 201
    assert reply.json()["delivery_state"] == "queued"
    assert reply.json()["html"] == "<b>Eccomi</b>"
    assert note.status_code == 201
    assert note.json()["kind"] == "note"
    assert note.json()["delivery_state"] == ""
    assert [(m["sequence"], m["kind"]) for m in after_first["items"]] == [
        (2, "customer"),
        (3, "agent"),
        (4, "note"),
    ]
    assert after_first["last_sequence"] == 4
    conversation = Conversation.objects.get(pk=cid)
    assert conversation.first_response_at == Message.objects.get(pk=reply.json()["id"]).created_at


def test_contacts_search_get_update_and_merge(
    api_inbox: NewAPIInbox, admin_client: APIClient, admin: User
) -> None:
    # given
    a = _post_customer(api_inbox, "m-1", "anna")
    b = _post_customer(api_inbox, "m-2", "anna-2")
    a_id, b_id = a["contact"]["id"], b["contact"]["id"]

    # when
    found = admin_client.get("/api/v1/contacts", {"q": "anna-2"}).json()["items"]
    updated = admin_client.patch(
        f"/api/v1/contacts/{a_id}",
        {"email": "Anna@Example.com", "phone": "+39 06 1234 5678", "language": "it"},
    )
    bad = admin_client.patch(f"/api/v1/contacts/{a_id}", {"phone": "123"})
    merged = admin_client.post(f"/api/v1/contacts/{b_id}/merge", {"into_contact_id": a_id})
    again = admin_client.post(f"/api/v1/contacts/{b_id}/merge", {"into_contact_id": a_id})

    # then
    assert [c["id"] for c in found] == [b_id]
    assert updated.json()["email"] == "anna@example.com"
    assert updated.json()["phone"] == "+390612345678"
    assert bad.status_code == 422
    assert merged.status_code == 200
    kinds = sorted(i["external_id"] for i in merged.json()["identities"])
    assert kinds == ["+390612345678", "anna", "anna-2", "anna@example.com"]
    assert Conversation.objects.filter(contact_id=a_id).count() == 2
    assert Contact.objects.get(pk=b_id).merged_into_id == a_id
    event = ConversationEvent.objects.get(kind="contact_merged")
    assert event.actor_user_id == admin.pk
    assert event.payload == {"from_contact": b_id, "into_contact": a_id}
    assert again.status_code == 409
    assert admin_client.get("/api/v1/contacts").json()["items"] == [
        admin_client.get(f"/api/v1/contacts/{a_id}").json() | {"identities": None}
    ]
    assert Identity.objects.filter(contact_id=b_id).count() == 0


def test_tokens_are_hashed_shown_once_and_revocable(admin: User, admin_client: APIClient) -> None:
    # when
    created = admin_client.post("/api/v1/tokens", {"name": "zapier"})
    token = created.json()["token"]
    listed = admin_client.get("/api/v1/tokens").json()
    with_new = APIClient(token).get("/api/v1/conversations")
    revoked = admin_client.delete(f"/api/v1/tokens/{created.json()['id']}")
    after = APIClient(token).get("/api/v1/conversations")

    # then
    assert created.status_code == 201
    assert token.startswith("prm_pat_")
    assert all("token" not in t for t in listed)
    assert not APIToken.objects.filter(token_hash=token).exists()
    assert with_new.status_code == 200
    assert revoked.json()["revoked_at"] is not None
    assert after.status_code == 401


def test_admin_creates_inbox_team_and_agent(admin_client: APIClient) -> None:
    # when
    team = admin_client.post("/api/v1/teams", {"name": "Ufficio legale", "restricted": True})
    inbox = admin_client.post(
        "/api/v1/inboxes",
        {"name": "ERP", "webhook_url": "https://erp.example/hook", "team_id": team.json()["id"]},
    )
    agent = admin_client.post("/api/v1/agents", {"email": "luca@example.com", "role": "agent"})
    listed = admin_client.get("/api/v1/inboxes").json()

    # then
    assert team.status_code == 201
    assert team.json()["restricted"] is True
    assert inbox.status_code == 201
    assert inbox.json()["token"].startswith("prm_in_")
    assert inbox.json()["webhook_secret"].startswith("whsec_")
    assert "token" not in listed[0]
    assert "webhook_secret" not in listed[0]
    assert agent.status_code == 201
    assert admin_client.post("/api/v1/agents", {"email": "luca@example.com"}).status_code == 409
    assert (
        admin_client.post("/api/v1/inboxes", {"name": "x", "webhook_url": "ftp://x"}).status_code
        == 422
    )
    stored = Inbox.objects.get(pk=inbox.json()["id"])
    assert stored.webhook_secret == inbox.json()["webhook_secret"]


def test_error_bodies_are_always_json(admin_client: APIClient) -> None:
    for response in (
        admin_client.get("/api/v1/conversations/12345"),
        admin_client.post("/api/v1/teams", raw="{oops"),
        APIClient("nope").get("/api/v1/contacts"),
    ):
        assert response["Content-Type"] == "application/json; charset=utf-8"
        assert set(response.json()["error"]) == {"code", "message", "details"}
