"""The settings pages speak Italian to an admin who chose it, completely."""

from __future__ import annotations

import pytest
from django.test import Client

from premura.accounts.models import User
from premura.channels.services import NewAPIInbox


@pytest.mark.django_db
def test_settings_pages_in_italian(
    admin: User, api_inbox: NewAPIInbox, support_agent: User
) -> None:
    # given an admin who chose Italian
    admin.language = "it"
    admin.save(update_fields=["language"])
    client = Client()
    client.force_login(admin)

    # when
    index = client.get("/settings/").content.decode()
    inbox = client.get(f"/settings/inboxes/{api_inbox.inbox.pk}/").content.decode()
    agents = client.get("/settings/agents/").content.decode()
    refused = client.post("/settings/teams/new/", {"name": "support"}).content.decode()

    # then
    assert "Team e membri" in index
    assert "Operatori e ruoli" in index
    assert "Collega un sistema" in inbox
    assert "Rinnova il token" in inbox
    assert "Invita un operatore" in agents
    assert ">attivo</span>" in agents
    assert "Esiste già un team con questo nome." in refused
