"""Deleting a case: admins only, everything of it goes, and its messages are never imported again."""

from __future__ import annotations

import base64

import pytest
from django.core.files.storage import default_storage
from django.test import Client

from premura.accounts.models import User
from premura.channels.services import NewAPIInbox
from premura.conversations.models import Attachment, Conversation, Message, RawInbound
from tests.helpers import APIClient, client_for, message_body

pytestmark = pytest.mark.django_db(transaction=True)

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


def _post(api_inbox: NewAPIInbox, message_id: str, **extra: object) -> tuple[int, dict]:
    response = APIClient(api_inbox.token).post(
        f"/api/v1/inboxes/{api_inbox.inbox.pk}/messages", message_body(message_id, **extra)
    )
    return response.status_code, response.json()


def test_an_admin_deletes_a_case_and_a_provider_retry_never_brings_it_back(
    api_inbox: NewAPIInbox, admin: User
) -> None:
    # given a case of two messages, one with a file
    attachment = {
        "filename": "a.png",
        "content_type": "image/png",
        "data_base64": base64.b64encode(PNG).decode(),
    }
    status, body = _post(api_inbox, "m-1", attachments=[attachment])
    assert status == 201
    _post(api_inbox, "m-2")
    conversation_id = body["conversation"]["id"]
    stored_file = Attachment.objects.get().file.name
    assert default_storage.exists(stored_file)
    # when an admin deletes it from the conversation page
    client = Client()
    client.force_login(admin)
    response = client.post(f"/conversations/{conversation_id}/delete")
    # then the case, its messages and its file are gone, tombstones are left
    assert response.status_code == 302
    assert response["Location"] == "/inbox/"
    assert not Conversation.objects.filter(pk=conversation_id).exists()
    assert Message.objects.count() == 0
    assert not default_storage.exists(stored_file)
    tombstones = RawInbound.objects.order_by("provider_message_id")
    assert [(r.provider_message_id, r.state, bytes(r.body)) for r in tombstones] == [
        ("m-1", "deleted", b""),
        ("m-2", "deleted", b""),
    ]
    # when the provider posts the same message again
    status, body = _post(api_inbox, "m-1")
    # then it is refused with a clear error and nothing comes back
    assert status == 410
    assert body["error"]["code"] == "conversation_deleted"
    assert Conversation.objects.count() == 0
    assert RawInbound.objects.get(provider_message_id="m-1").state == "deleted"
    # and a new message of the same customer opens a new case as usual
    assert _post(api_inbox, "m-3")[0] == 201


def test_only_admins_delete(api_inbox: NewAPIInbox, supervisor: User, admin: User) -> None:
    # given a case
    _status, body = _post(api_inbox, "m-1")
    conversation_id = body["conversation"]["id"]
    # when a supervisor tries, on the page and through the API
    page = Client()
    page.force_login(supervisor)
    on_page = page.post(f"/conversations/{conversation_id}/delete")
    through_api = client_for(supervisor).delete(f"/api/v1/conversations/{conversation_id}")
    # then both are refused and the case is untouched
    assert on_page.status_code == 403
    assert through_api.status_code == 403
    assert Conversation.objects.filter(pk=conversation_id).exists()
    # and the delete button shows to admins only
    admin_page = Client()
    admin_page.force_login(admin)
    assert (
        "Delete conversation…"
        not in page.get(f"/conversations/{conversation_id}/").content.decode()
    )
    assert (
        "Delete conversation…"
        in admin_page.get(f"/conversations/{conversation_id}/").content.decode()
    )
    # when an admin deletes it through the API
    response = client_for(admin).delete(f"/api/v1/conversations/{conversation_id}")
    # then it is gone
    assert response.status_code == 204
    assert not Conversation.objects.filter(pk=conversation_id).exists()


def test_a_deleted_cases_message_leaves_the_callers_transaction_usable_without_a_savepoint(
    api_inbox: NewAPIInbox, admin: User
) -> None:
    # given a case deleted by an admin
    from django.db import transaction

    from premura.contacts.services import ContactInfo, IdentityKey
    from premura.conversations.ingest import (
        ConversationDeleted,
        InboundMessage,
        RawPayload,
        ingest,
    )
    from premura.conversations.services import delete_conversation

    inbound = InboundMessage(
        provider_message_id="m-gone",
        contact=ContactInfo(identity=IdentityKey("api", "c-1", "test")),
        text="ciao",
    )
    first = ingest(api_inbox.inbox, inbound, RawPayload(b"{}"))
    delete_conversation(first.conversation, admin)
    # when a fetcher's group transaction meets it again, without savepoints
    with transaction.atomic():
        with pytest.raises(ConversationDeleted):
            ingest(api_inbox.inbox, inbound, RawPayload(b"{}"), savepoint=False)
        other = InboundMessage(
            provider_message_id="m-next",
            contact=ContactInfo(identity=IdentityKey("api", "c-2", "test")),
            text="nuovo",
        )
        # then the group goes on: the next message is stored in the same transaction
        stored = ingest(api_inbox.inbox, other, RawPayload(b"{}"), savepoint=False)
    assert Message.objects.get().pk == stored.message.pk
    assert RawInbound.objects.get(provider_message_id="m-gone").state == "deleted"
