"""Suspected spam stays out of every list until an agent opens the Spam view."""

from __future__ import annotations

import pytest
from django.test import Client

from premura.accounts.models import User
from premura.channels.services import NewAPIInbox
from premura.contacts.services import ContactInfo, IdentityKey
from premura.conversations.ingest import InboundMessage, ingest

pytestmark = pytest.mark.django_db


def _case(api_inbox: NewAPIInbox, who: str, *, spam: bool) -> int:
    inbound = InboundMessage(
        provider_message_id=f"m-{who}",
        contact=ContactInfo(identity=IdentityKey("api", who, "test"), name=who),
        text=f"messaggio di {who}",
        spam=spam,
    )
    return ingest(api_inbox.inbox, inbound).conversation.pk


def test_spam_is_listed_only_in_the_spam_view(api_inbox: NewAPIInbox, supervisor: User) -> None:
    # given a genuine case and a suspected spam one
    genuine = _case(api_inbox, "genuina", spam=False)
    spam = _case(api_inbox, "spammer", spam=True)
    client = Client()
    client.force_login(supervisor)
    # when the supervisor lists every status, then the Spam view
    everything = client.get("/inbox/?view=all&status=all").content.decode()
    spam_view = client.get("/inbox/?view=all&status=spam").content.decode()
    # then spam shows only in the Spam view, which the inbox links to
    assert f"/conversations/{genuine}/" in everything
    assert f"/conversations/{spam}/" not in everything
    assert f"/conversations/{spam}/" in spam_view
    assert f"/conversations/{genuine}/" not in spam_view
    assert 'href="/inbox/?view=all&amp;status=spam"' in everything
