"""Email inbox configuration through the REST API: settings, write-only secrets, status, tests."""

from __future__ import annotations

import base64
import datetime as dt
import json
import socket
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from premura.accounts.models import User
from premura.channels.models import Inbox
from premura.channels.services import NewAPIInbox
from premura.conversations.models import Message
from premura.mail.models import FetchState, Mailbox, QuarantinedEmail
from premura.mail.services import create_email_inbox
from premura.routing.models import Team
from tests.helpers import APIClient, client_for
from tests.mail.test_webhooks import POSTMARK_INBOUND

pytestmark = pytest.mark.django_db

IMAP_PASSWORD = "imap-S3cret-pw!"
SMTP_PASSWORD = "smtp-S3cret-pw!"


def _body(**fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "Assistenza",
        "address": "Assistenza@Shop.example",
        "imap_host": "imap.shop.example",
        "imap_password": IMAP_PASSWORD,
        "smtp_host": "smtp.shop.example",
        "smtp_user": "assistenza@shop.example",
        "smtp_password": SMTP_PASSWORD,
    }
    body.update(fields)
    return body


def _mailbox(**fields: Any) -> Mailbox:
    values: dict[str, Any] = {"imap_host": "imap.shop.example", "smtp_host": "smtp.shop.example"}
    values.update(fields)
    return create_email_inbox(
        name="Assistenza",
        address="assistenza@shop.example",
        secrets={"imap_password": IMAP_PASSWORD},
        **values,
    )


def _raw_credentials(inbox_id: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT credentials FROM {Inbox._meta.db_table} WHERE id = %s",  # noqa: S608
            [inbox_id],
        )
        return str(cursor.fetchone()[0])


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- Create, read, change ------------------------------------------------------------------------


def test_an_admin_creates_reads_changes_and_lists_an_email_inbox(
    admin_client: APIClient, support_team: Team
) -> None:
    # when an admin creates an email inbox
    created = admin_client.post("/api/v1/email-inboxes", _body(team_id=support_team.pk))
    # then it answers 201 with every setting and the names of the stored secrets
    assert created.status_code == 201
    data = created.json()
    inbox_id = data["id"]
    # (a webhook password is made only for inboxes that receive through webhooks)
    assert (data.pop("webhook_secret"), data.pop("webhook_urls")) == (None, {})
    assert data == {
        "id": inbox_id,
        "name": "Assistenza",
        "team_id": support_team.pk,
        "is_active": True,
        "address": "assistenza@shop.example",
        "from_name": "",
        "signature": "",
        "auth": "password",
        "inbound": "imap",
        "outbound": "smtp",
        "imap_host": "imap.shop.example",
        "imap_port": 993,
        "imap_security": "tls",
        "imap_user": "assistenza@shop.example",
        "folder": "INBOX",
        "use_idle": True,
        "poll_seconds": 60,
        "fetch_since": None,
        "smtp_host": "smtp.shop.example",
        "smtp_port": 587,
        "smtp_security": "starttls",
        "smtp_user": "assistenza@shop.example",
        "esp_name": "",
        "esp_api_url": "",
        "esp_sender_domain": "",
        "oauth_provider": "",
        "oauth_client_id": "",
        "secrets_set": ["imap_password", "smtp_password"],
        "fetch": {
            "last_success_at": None,
            "last_error": "",
            "last_error_at": None,
            "count_warning": "",
            "stale": False,
            "quarantined": 0,
        },
    }
    # when it reads it back
    got = admin_client.get(f"/api/v1/email-inboxes/{inbox_id}")
    # then it is the same
    assert got.status_code == 200
    assert got.json() == data
    # when it changes the port, drops the SMTP user with its password, and renames the inbox
    patched = admin_client.patch(
        f"/api/v1/email-inboxes/{inbox_id}",
        {
            "name": "Supporto",
            "smtp_port": 465,
            "smtp_security": "tls",
            "smtp_user": "",
            "smtp_password": "",
        },
    )
    # then only those change; the IMAP password, not sent, is kept
    assert patched.status_code == 200
    assert patched.json() == {
        **data,
        "name": "Supporto",
        "smtp_port": 465,
        "smtp_security": "tls",
        "smtp_user": "",
        "secrets_set": ["imap_password"],
        "webhook_secret": None,
        "webhook_urls": {},
    }
    mailbox = Mailbox.objects.select_related("inbox").get()
    assert mailbox.inbox.credentials == {"imap_password": IMAP_PASSWORD}
    # when it lists the email inboxes
    listed = admin_client.get("/api/v1/email-inboxes")
    # then the inbox is there, once
    assert listed.status_code == 200
    settings = {k: v for k, v in patched.json().items() if not k.startswith("webhook_")}
    assert listed.json() == {"items": [settings], "next_cursor": None}
    # and no answer ever held a secret
    for response in (created, got, patched, listed):
        assert IMAP_PASSWORD not in response.content.decode()
        assert SMTP_PASSWORD not in response.content.decode()


def test_secrets_are_stored_encrypted(admin_client: APIClient) -> None:
    # when an admin creates an email inbox with passwords
    response = admin_client.post("/api/v1/email-inboxes", _body())
    # then the inbox's credentials hold them, and the database column does not show them
    assert response.status_code == 201
    inbox = Inbox.objects.get(pk=response.json()["id"])
    assert inbox.credentials == {"imap_password": IMAP_PASSWORD, "smtp_password": SMTP_PASSWORD}
    raw = _raw_credentials(inbox.pk)
    assert IMAP_PASSWORD not in raw
    assert SMTP_PASSWORD not in raw


def test_a_new_secret_replaces_the_stored_one_and_others_are_kept(
    admin_client: APIClient,
) -> None:
    # given an email inbox with an IMAP password
    mailbox = _mailbox()
    # when an admin sets a new IMAP password and an SMTP password
    response = admin_client.patch(
        f"/api/v1/email-inboxes/{mailbox.inbox_id}",
        {"imap_password": "new-imap-pw", "smtp_user": "me", "smtp_password": "new-smtp-pw"},
    )
    # then both are stored, and neither is shown
    assert response.status_code == 200
    assert response.json()["secrets_set"] == ["imap_password", "smtp_password"]
    assert "new-imap-pw" not in response.content.decode()
    assert "new-smtp-pw" not in response.content.decode()
    mailbox.inbox.refresh_from_db()
    assert mailbox.inbox.credentials == {
        "imap_password": "new-imap-pw",
        "smtp_password": "new-smtp-pw",
    }


def test_the_list_is_paginated(admin_client: APIClient) -> None:
    # given three email inboxes
    ids = [
        create_email_inbox(
            name=f"Box {n}",
            address=f"box{n}@shop.example",
            secrets={},
            inbound="webhook",
            smtp_host="smtp.shop.example",
        ).inbox_id
        for n in range(3)
    ]
    # when an admin lists them two at a time
    first = admin_client.get("/api/v1/email-inboxes", {"limit": 2}).json()
    second = admin_client.get(
        "/api/v1/email-inboxes", {"limit": 2, "cursor": first["next_cursor"]}
    ).json()
    # then every inbox comes once, oldest first
    assert [item["id"] for item in first["items"]] == ids[:2]
    assert [item["id"] for item in second["items"]] == ids[2:]
    assert second["next_cursor"] is None


def test_the_fetch_status_says_when_fetching_fell_behind(
    admin_client: APIClient, settings: Any
) -> None:
    # given a mailbox last fetched an hour ago, with an error and one quarantined email
    settings.PREMURA_MAIL_STALE_MINUTES = 30
    mailbox = _mailbox()
    now = timezone.now().replace(microsecond=0)
    FetchState.objects.filter(mailbox=mailbox).update(
        last_attempt_at=now,
        last_success_at=now - dt.timedelta(hours=1),
        last_error="Sign-in refused",
        last_error_at=now,
    )
    QuarantinedEmail.objects.create(
        mailbox=mailbox,
        uid=7,
        raw=b"x",
        error="bad",
        quarantined=True,
        created_at=now,
        updated_at=now,
    )
    QuarantinedEmail.objects.create(
        mailbox=mailbox, uid=8, raw=b"x", error="retrying", created_at=now, updated_at=now
    )
    # when an admin reads the inbox
    response = admin_client.get(f"/api/v1/email-inboxes/{mailbox.inbox_id}")
    # then the status says it is stale, why, and how many emails wait in quarantine
    assert response.json()["fetch"] == {
        "last_success_at": (now - dt.timedelta(hours=1)).isoformat().replace("+00:00", "Z"),
        "last_error": "Sign-in refused",
        "last_error_at": now.isoformat().replace("+00:00", "Z"),
        "count_warning": "",
        "stale": True,
        "quarantined": 1,
    }


# --- Validation ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"imap_port": 70000}, "imap_port"),
        ({"smtp_port": 0}, "smtp_port"),
        ({"imap_security": "ssl3"}, "imap_security"),
        ({"address": None}, "address"),
        ({"address": "not-an-address"}, "address"),
        ({"poll_seconds": 5}, "poll_seconds"),
        ({"esp_name": "pigeon"}, "esp_name"),
        ({"imap_password": ""}, "imap_password"),
        ({"outbound": "anymail", "esp_name": "postmark"}, "api_key"),
        ({"outbound": "anymail", "api_key": "pm-key"}, "esp_name"),
        ({"inbound": "webhook", "esp_name": "mailgun", "smtp_host": "x"}, "webhook_signing_key"),
        ({"outbound": "anymail", "esp_name": "mailjet", "api_key": "k"}, "secret_key"),
        ({"outbound": "anymail", "esp_name": "postal", "api_key": "k"}, "esp_api_url"),
        ({"esp_api_url": "ftp://postal.example"}, "esp_api_url"),
    ],
)
def test_invalid_settings_are_refused_and_nothing_is_written(
    admin_client: APIClient, change: dict[str, Any], field: str
) -> None:
    # given a body with one bad setting
    body = _body(**change)
    if change == {"address": None}:
        del body["address"]
    # when an admin creates the inbox
    response = admin_client.post("/api/v1/email-inboxes", body)
    # then it is a 422 that names the field, and no inbox exists
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert ["body", "payload", field] in [d["loc"] for d in error["details"]]
    assert Inbox.objects.count() == 0
    assert Mailbox.objects.count() == 0


def test_a_duplicate_address_is_refused(admin_client: APIClient) -> None:
    # given an email inbox for an address
    _mailbox()
    # when an admin creates another for the same address
    response = admin_client.post(
        "/api/v1/email-inboxes", _body(name="Other", address="ASSISTENZA@shop.example")
    )
    # then it is refused
    assert response.status_code == 422
    assert response.json()["error"]["message"] == "Another email inbox already uses this address."
    assert Mailbox.objects.count() == 1


@pytest.mark.parametrize(
    "change",
    [
        {"imap_port": 0},
        {"imap_security": "ssl3"},
        {"address": "nope"},
        {"imap_host": ""},
        {"folder": None},
    ],
)
def test_an_invalid_change_writes_nothing(admin_client: APIClient, change: dict[str, Any]) -> None:
    # given an email inbox
    mailbox = _mailbox()
    # when an admin sends a bad change together with a good one and a new password
    response = admin_client.patch(
        f"/api/v1/email-inboxes/{mailbox.inbox_id}",
        {"name": "Renamed", "imap_password": "other", **change},
    )
    # then it is a 422 and nothing changed
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"
    fresh = Mailbox.objects.select_related("inbox").get()
    assert (fresh.inbox.name, fresh.address, fresh.imap_host, fresh.imap_port, fresh.folder) == (
        "Assistenza",
        "assistenza@shop.example",
        "imap.shop.example",
        993,
        "INBOX",
    )
    assert fresh.inbox.credentials == {"imap_password": IMAP_PASSWORD}


# --- Permissions ---------------------------------------------------------------------------------


class _Anonymous(APIClient):
    """A client without a token."""

    def _headers(self) -> dict[str, str]:
        return {}


def _requests(inbox_id: int) -> list[tuple[str, Callable[[APIClient], Any]]]:
    base = f"/api/v1/email-inboxes/{inbox_id}"
    return [
        (
            "create",
            lambda c: c.post(
                "/api/v1/email-inboxes", _body(address="new@shop.example", name="New")
            ),
        ),
        ("list", lambda c: c.get("/api/v1/email-inboxes")),
        ("get", lambda c: c.get(base)),
        ("patch", lambda c: c.patch(base, {"from_name": "Shop"})),
        ("test", lambda c: c.post(f"{base}/test")),
        ("webhook-secret", lambda c: c.post(f"{base}/webhook-secret")),
    ]


def test_only_admins_may_configure_email_inboxes(
    admin: User, supervisor: User, support_agent: User, settings: Any
) -> None:
    # given an email inbox whose servers do not answer
    port = _closed_port()
    mailbox = _mailbox(imap_host="127.0.0.1", imap_port=port, smtp_host="127.0.0.1", smtp_port=port)
    expected: dict[str, tuple[APIClient, int]] = {
        "anonymous": (_Anonymous(""), 401),
        "agent": (client_for(support_agent), 403),
        "supervisor": (client_for(supervisor), 403),
    }
    for name, call in _requests(mailbox.inbox_id):
        for who, (client, status) in expected.items():
            # when someone who is not an admin calls it
            response = call(client)
            # then it is refused
            assert (name, who, response.status_code) == (name, who, status)
        # when an admin calls it
        response = call(client_for(admin))
        # then it works (an IMAP inbox has no webhook password to renew)
        expected_status = {"create": 201, "webhook-secret": 409}.get(name, 200)
        assert (name, response.status_code) == (name, expected_status)


def test_unknown_and_non_email_inboxes_are_not_found(
    admin_client: APIClient, api_inbox: NewAPIInbox
) -> None:
    for inbox_id in (api_inbox.inbox.pk, 999_999):
        for response in (
            admin_client.get(f"/api/v1/email-inboxes/{inbox_id}"),
            admin_client.patch(f"/api/v1/email-inboxes/{inbox_id}", {"from_name": "x"}),
            admin_client.post(f"/api/v1/email-inboxes/{inbox_id}/test"),
            admin_client.post(f"/api/v1/email-inboxes/{inbox_id}/webhook-secret"),
        ):
            assert response.status_code == 404
            assert response.json()["error"]["code"] == "not_found"


# --- Connection test -----------------------------------------------------------------------------


def test_the_connection_test_names_the_stage_that_failed(admin_client: APIClient) -> None:
    # given an email inbox whose IMAP and SMTP ports are closed
    port = _closed_port()
    mailbox = _mailbox(
        imap_host="127.0.0.1",
        imap_port=port,
        imap_security="none",
        smtp_host="127.0.0.1",
        smtp_port=port,
    )
    # when an admin tests it
    response = admin_client.post(f"/api/v1/email-inboxes/{mailbox.inbox_id}/test")
    # then both checks fail at the connection
    assert response.status_code == 200
    data = response.json()
    assert (data["imap"]["ok"], data["imap"]["stage"]) == (False, "connect")
    assert (data["smtp"]["ok"], data["smtp"]["stage"]) == (False, "connect")
    assert f"127.0.0.1:{port}" in data["imap"]["message"]
    assert IMAP_PASSWORD not in response.content.decode()


def test_the_connection_test_reports_an_unknown_host_and_skips_webhook_inbound(
    admin_client: APIClient,
) -> None:
    # given an inbox receiving through webhooks and sending through an unknown host
    mailbox = _mailbox(inbound="webhook", smtp_host="no-such-host.invalid")
    # when an admin tests it
    response = admin_client.post(f"/api/v1/email-inboxes/{mailbox.inbox_id}/test")
    # then there is no IMAP check, and SMTP fails at DNS
    data = response.json()
    assert data["imap"] is None
    assert (data["smtp"]["ok"], data["smtp"]["stage"]) == (False, "dns")


# --- Receiving through a provider's webhooks -----------------------------------------------------


def _basic(secret: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(secret.encode()).decode()}


def _postmark(inbox_id: int, secret: str) -> int:
    return (
        Client()
        .post(
            f"/hooks/email/{inbox_id}/postmark/",
            json.dumps(POSTMARK_INBOUND),
            content_type="application/json",
            **_basic(secret),
        )
        .status_code
    )


def test_a_webhook_inbox_made_through_the_api_takes_its_providers_mail(
    admin_client: APIClient,
) -> None:
    # when an admin creates an inbox that receives and sends through Postmark
    response = admin_client.post(
        "/api/v1/email-inboxes",
        {
            "name": "Postmark",
            "address": "help@shop.example",
            "inbound": "webhook",
            "outbound": "anymail",
            "esp_name": "postmark",
            "api_key": "pm-server-token",
        },
    )
    # then the answer holds the webhook password once, and the URLs to paste with it
    assert response.status_code == 201
    data = response.json()
    secret = data["webhook_secret"]
    assert secret.startswith("premura:")
    assert data["webhook_urls"]["postmark"].endswith(f"/hooks/email/{data['id']}/postmark/")
    assert f"//{secret}@" in data["webhook_urls"]["postmark"]
    assert data["secrets_set"] == ["api_key", "webhook_secret"]
    assert "pm-server-token" not in response.content.decode()
    # and reading it back shows neither the password nor the key
    got = admin_client.get(f"/api/v1/email-inboxes/{data['id']}")
    assert secret.split(":")[1] not in got.content.decode()
    assert "pm-server-token" not in got.content.decode()
    # and Postmark's webhook with that password opens a case
    assert _postmark(data["id"], secret) == 200
    assert Message.objects.get().conversation.subject == "Test subject"


def test_switching_to_webhooks_makes_the_password_once(admin_client: APIClient) -> None:
    # given an inbox that fetches over IMAP
    mailbox = _mailbox()
    url = f"/api/v1/email-inboxes/{mailbox.inbox_id}"
    # when an admin switches it to Postmark's webhooks, then changes something else
    first = admin_client.patch(url, {"inbound": "webhook", "esp_name": "postmark"})
    second = admin_client.patch(url, {"from_name": "Assistenza Shop"})
    # then only the first answer holds a password, and it stays the one that works
    assert first.status_code == 200
    assert second.status_code == 200
    secret = first.json()["webhook_secret"]
    assert secret
    assert second.json()["webhook_secret"] is None
    assert _postmark(mailbox.inbox_id, secret) == 200


def test_a_new_webhook_password_replaces_the_old_one(admin_client: APIClient) -> None:
    # given a webhook inbox made through the API
    body = _body(name="Hooks", inbound="webhook", esp_name="postmark")
    del body["imap_password"]
    created = admin_client.post("/api/v1/email-inboxes", body).json()
    old = created["webhook_secret"]
    # when an admin asks for a new password
    response = admin_client.post(f"/api/v1/email-inboxes/{created['id']}/webhook-secret")
    # then the new one opens the inbox and the old one no longer does
    assert response.status_code == 200
    new = response.json()["webhook_secret"]
    assert new != old
    assert f"//{new}@" in response.json()["webhook_urls"]["mailgun"]
    assert _postmark(created["id"], old) == 400
    assert not Message.objects.exists()
    assert _postmark(created["id"], new) == 200


def test_an_imap_inbox_has_no_webhook_password_to_renew(admin_client: APIClient) -> None:
    # given an inbox that fetches over IMAP
    mailbox = _mailbox()
    # when an admin asks for a webhook password
    response = admin_client.post(f"/api/v1/email-inboxes/{mailbox.inbox_id}/webhook-secret")
    # then it is refused and nothing is stored
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "conflict"
    mailbox.inbox.refresh_from_db()
    assert "webhook_secret" not in mailbox.inbox.credentials


def test_provider_settings_and_keys_are_set_through_the_api(admin_client: APIClient) -> None:
    # when an admin creates an inbox that sends through a self-hosted Postal, and another
    # through Mailjet (two keys)
    postal = admin_client.post(
        "/api/v1/email-inboxes",
        _body(
            name="Postal",
            outbound="anymail",
            esp_name="postal",
            esp_api_url="https://postal.shop.example",
            api_key="postal-key",
        ),
    )
    mailjet = admin_client.post(
        "/api/v1/email-inboxes",
        _body(
            name="Mailjet",
            address="mj@shop.example",
            outbound="anymail",
            esp_name="mailjet",
            api_key="mj-key",
            secret_key="mj-secret",
        ),
    )
    # then the settings are shown and the keys only named
    assert postal.status_code == 201
    assert postal.json()["esp_api_url"] == "https://postal.shop.example"
    assert mailjet.status_code == 201
    assert mailjet.json()["secrets_set"] == [
        "api_key",
        "imap_password",
        "secret_key",
        "smtp_password",
    ]
    assert "mj-secret" not in mailjet.content.decode()
    stored = Inbox.objects.get(pk=mailjet.json()["id"]).credentials
    assert (stored["api_key"], stored["secret_key"]) == ("mj-key", "mj-secret")
