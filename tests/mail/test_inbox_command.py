"""Scripted setup: `premura inbox create email …`, and the services behind it."""

from __future__ import annotations

import datetime as dt
import json
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from premura.channels.models import Inbox
from premura.mail.models import FetchState, Mailbox
from premura.mail.services import create_email_inbox, update_mailbox

pytestmark = pytest.mark.django_db


def _create(*args: str) -> dict[str, Any]:
    out = StringIO()
    call_command("inbox", "create", *args, stdout=out)
    lines = out.getvalue().strip().splitlines()
    assert len(lines) == 1
    return dict(json.loads(lines[0]))


def test_create_email_inbox_prints_its_id_and_keeps_the_password_encrypted(
    monkeypatch: pytest.MonkeyPatch, support_team: Any
) -> None:
    # given
    monkeypatch.setenv("SUPPORT_IMAP_PASSWORD", "s3cret!")
    monkeypatch.setenv("SUPPORT_SMTP_PASSWORD", "smtp-s3cret")

    # when
    printed = _create(
        "email",
        "--name", "Assistenza",
        "--address", "Assistenza@Shop.example",
        "--imap-host", "imap.shop.example",
        "--imap-user", "assistenza@shop.example",
        "--imap-password-env", "SUPPORT_IMAP_PASSWORD",
        "--folder", "Support",
        "--fetch-since", "2024-03-01",
        "--smtp-host", "smtp.shop.example",
        "--smtp-port", "465",
        "--smtp-user", "assistenza@shop.example",
        "--smtp-password-env", "SUPPORT_SMTP_PASSWORD",
        "--team", "Support",
    )  # fmt: skip

    # then
    inbox = Inbox.objects.get(pk=printed["id"])
    mailbox = inbox.mailbox
    assert printed == {
        "id": inbox.pk,
        "name": "Assistenza",
        "kind": "email",
        "team_id": support_team.pk,
        "mailbox_id": mailbox.pk,
        "address": "assistenza@shop.example",
        "imap": "tls://imap.shop.example:993",
        "folder": "Support",
        "fetch_since": "2024-03-01",
        "smtp": "tls://smtp.shop.example:465",
    }
    assert (mailbox.fetch_since, mailbox.imap_user, mailbox.smtp_user) == (
        dt.date(2024, 3, 1),
        "assistenza@shop.example",
        "assistenza@shop.example",
    )
    assert inbox.credentials == {"imap_password": "s3cret!", "smtp_password": "smtp-s3cret"}
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT credentials FROM {Inbox._meta.db_table} WHERE id = %s",  # noqa: S608
            [inbox.pk],
        )
        raw = cursor.fetchone()[0]
    assert "s3cret" not in raw
    assert FetchState.objects.filter(mailbox=mailbox, last_uid=0, uidvalidity=None).exists()


def test_create_email_inbox_defaults_to_new_mail_only_and_starttls_port(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given
    monkeypatch.setenv("PW", "x")

    # when
    printed = _create(
        "email",
        "--name", "Info",
        "--address", "info@shop.example",
        "--imap-host", "mail.shop.example",
        "--imap-security", "starttls",
        "--imap-user", "info",
        "--imap-password-env", "PW",
    )  # fmt: skip

    # then
    mailbox = Mailbox.objects.get(inbox_id=printed["id"])
    assert (printed["imap"], printed["fetch_since"], printed["smtp"]) == (
        "starttls://mail.shop.example:143",
        "new",
        "",
    )
    assert mailbox.fetch_since is None


def test_missing_password_variable_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    # given
    monkeypatch.delenv("NOT_SET_ANYWHERE", raising=False)

    # when
    with pytest.raises(CommandError) as error:
        _create(
            "email",
            "--name", "Info",
            "--address", "info@shop.example",
            "--imap-host", "mail.shop.example",
            "--imap-user", "info",
            "--imap-password-env", "NOT_SET_ANYWHERE",
        )  # fmt: skip

    # then
    assert str(error.value) == (
        "--imap-password-env: the environment variable NOT_SET_ANYWHERE is not set"
    )
    assert not Inbox.objects.exists()


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--fetch-since", "yesterday", "--fetch-since must be 'new' or a date YYYY-MM-DD"),
        ("--address", "not-an-address", "address: Enter a valid email address."),
        ("--imap-port", "70000", "The port must be between 1 and 65535."),
    ],
)
def test_bad_settings_are_refused_without_creating_anything(
    monkeypatch: pytest.MonkeyPatch, option: str, value: str, message: str
) -> None:
    # given
    monkeypatch.setenv("PW", "x")
    args = {
        "--name": "Info",
        "--address": "info@shop.example",
        "--imap-host": "mail.shop.example",
        "--imap-user": "info",
        "--imap-password-env": "PW",
    }
    args[option] = value

    # when
    with pytest.raises(CommandError) as error:
        _create("email", *[part for pair in args.items() for part in pair])

    # then
    assert str(error.value) == message
    assert not Inbox.objects.exists()


def test_api_inbox_creation_still_works() -> None:
    # when
    printed = _create("api", "--name", "Shop")

    # then
    assert printed["kind"] == "api"
    assert printed["token"].startswith("prm_in_")


def test_update_mailbox_changes_only_the_secrets_given() -> None:
    # given
    mailbox = create_email_inbox(
        name="Info",
        address="info@shop.example",
        secrets={"imap_password": "a", "smtp_password": "b"},
        imap_host="imap.shop.example",
    )

    # when
    update_mailbox(mailbox, secrets={"imap_password": "new", "smtp_password": ""})

    # then
    assert Inbox.objects.get(pk=mailbox.inbox_id).credentials == {"imap_password": "new"}


def test_pointing_a_mailbox_at_another_folder_starts_fetching_afresh() -> None:
    # given: fetching had reached UID 40 of INBOX
    mailbox = create_email_inbox(
        name="Info", address="info@shop.example", secrets={}, imap_host="imap.shop.example"
    )
    FetchState.objects.filter(mailbox=mailbox).update(uidvalidity=7, last_uid=40, baseline_uid=3)

    # when
    update_mailbox(mailbox, folder="Support", poll_seconds=120)

    # then
    state = FetchState.objects.get(mailbox=mailbox)
    assert (state.uidvalidity, state.last_uid, state.baseline_uid) == (None, 0, None)
    assert Mailbox.objects.get(pk=mailbox.pk).poll_seconds == 120


def test_unknown_settings_and_secrets_are_refused() -> None:
    # when
    with pytest.raises(ValueError, match="Unknown mailbox setting: imap_pasword.") as setting:
        create_email_inbox(
            name="Info",
            address="info@shop.example",
            secrets={},
            imap_host="h",
            imap_pasword="x",
        )
    with pytest.raises(ValueError, match="Unknown mailbox secret: password.") as secret:
        create_email_inbox(
            name="Info", address="info@shop.example", secrets={"password": "x"}, imap_host="h"
        )

    # then
    assert str(setting.value) == "Unknown mailbox setting: imap_pasword."
    assert str(secret.value) == "Unknown mailbox secret: password."
    assert not Inbox.objects.exists()
