"""The settings pages speak Italian to an admin who chose it, completely."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from django.test import Client

import premura.administration
from premura.accounts.models import User
from premura.channels.services import NewAPIInbox

CATALOGUE = (
    Path(premura.administration.__file__).parent / "locale" / "it" / "LC_MESSAGES" / "django.po"
)
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]")


def test_catalogue_is_complete_and_keeps_placeholders() -> None:
    # given
    with CATALOGUE.open("rb") as po:
        catalogue = read_po(po, locale="it")

    # then every message is translated, with the same placeholders
    messages = [m for m in catalogue if m.id]
    assert len(messages) > 100
    for message in messages:
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        assert all(strings), f"untranslated: {ids[0]!r}"
        assert not message.fuzzy, f"fuzzy: {ids[0]!r}"
        for text in strings:
            assert sorted(set(PLACEHOLDER.findall(text))) == sorted(
                set(PLACEHOLDER.findall(ids[0]))
            )


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
