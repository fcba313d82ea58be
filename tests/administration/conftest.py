"""Fixtures for the settings pages: signed-in browsers for each kind of user, a snapshot of settings."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from premura.accounts.models import User
from premura.channels.models import Inbox
from premura.conversations.models import Label
from premura.routing.models import Team


@pytest.fixture
def signed_in() -> Callable[[User | None], Client]:
    """A test browser signed in as `user` (anonymous for None)."""

    def _client(user: User | None) -> Client:
        client = Client()
        if user is not None:
            client.force_login(user)
        return client

    return _client


@pytest.fixture
def admin_web(admin: User, signed_in: Callable[[User | None], Client]) -> Client:
    return signed_in(admin)


def settings_snapshot() -> dict[str, Any]:
    """Everything the settings pages can change, to show that a refused request wrote nothing."""
    return {
        "inboxes": list(
            Inbox.objects.order_by("pk").values_list(
                "pk", "name", "team_id", "token_hash", "webhook_url", "webhook_secret", "settings"
            )
        ),
        "teams": list(Team.objects.order_by("pk").values_list("pk", "name", "restricted")),
        "members": sorted(Team.members.through.objects.values_list("team_id", "user_id")),
        "agents": list(
            User.objects.order_by("pk").values_list(
                "pk", "email", "display_name", "role", "is_active", "is_superuser", "password"
            )
        ),
        "labels": list(Label.objects.order_by("pk").values_list("pk", "name", "color")),
    }
