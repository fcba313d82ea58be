"""Scripted setup: createadmin, inbox create api, token create print one JSON object each."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from premura.accounts.models import APIToken, User
from premura.channels.models import Inbox
from premura.routing.models import Team
from tests.helpers import APIClient, message_body

pytestmark = pytest.mark.django_db


def run(*args: str) -> dict:
    out = StringIO()
    call_command(*args, stdout=out)
    lines = out.getvalue().strip().splitlines()
    assert len(lines) == 1
    return json.loads(lines[0])


def test_createadmin_prints_a_working_password() -> None:
    # when
    data = run("createadmin", "boss@example.com")

    # then
    user = User.objects.get(pk=data["id"])
    assert data["email"] == "boss@example.com"
    assert data["role"] == "admin"
    assert user.check_password(data["password"])
    assert user.is_superuser


def test_createadmin_refuses_existing_without_reset() -> None:
    run("createadmin", "boss@example.com")
    with pytest.raises(CommandError):
        call_command("createadmin", "boss@example.com", stdout=StringIO())
    data = run("createadmin", "boss@example.com", "--reset-password")
    assert User.objects.get(email="boss@example.com").check_password(data["password"])


def test_inbox_create_api_gives_a_token_that_posts_messages(support_team: Team) -> None:
    # when
    data = run(
        "inbox",
        "create",
        "api",
        "--name",
        "Shop",
        "--webhook-url",
        "https://shop.example/hook",
        "--team",
        "support",
    )

    # then
    inbox = Inbox.objects.get(pk=data["id"])
    assert (inbox.kind, inbox.team_id, inbox.webhook_url) == (
        "api",
        support_team.pk,
        "https://shop.example/hook",
    )
    assert data["webhook_secret"] == inbox.webhook_secret
    response = APIClient(data["token"]).post(f"/api/v1/inboxes/{inbox.pk}/messages", message_body())
    assert response.status_code == 201


def test_inbox_create_rejects_unknown_team() -> None:
    with pytest.raises(CommandError):
        call_command(
            "inbox", "create", "api", "--name", "Shop", "--team", "nope", stdout=StringIO()
        )


def test_token_create_prints_a_working_token() -> None:
    # given
    run("createadmin", "boss@example.com")

    # when
    data = run("token", "create", "boss@example.com", "--name", "ci")

    # then
    assert APIToken.objects.get(pk=data["id"]).name == "ci"
    assert APIClient(data["token"]).get("/api/v1/conversations").status_code == 200


def test_secrets_are_encrypted_at_rest() -> None:
    # given
    data = run(
        "inbox", "create", "api", "--name", "Shop", "--webhook-url", "https://shop.example/hook"
    )

    # when
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT webhook_secret, credentials, token_hash FROM {Inbox._meta.db_table} WHERE id = %s",  # noqa: S608
            [data["id"]],
        )
        webhook_secret, credentials, token_hash = cursor.fetchone()

    # then
    assert data["webhook_secret"] not in webhook_secret
    assert webhook_secret.startswith("gAAAA")  # a Fernet token
    assert credentials.startswith("gAAAA")
    assert data["token"] not in token_hash
