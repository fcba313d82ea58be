"""Email inbox settings: create, edit (secrets never shown back), test, status, quarantine,
OAuth2 sign-in and webhook URLs; admins only."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone, translation

from premura.accounts.models import User
from premura.channels.models import Inbox
from premura.conversations.models import Conversation
from premura.mail import webhooks
from premura.mail.models import FetchState, Mailbox, QuarantinedEmail
from premura.mail.services import create_email_inbox
from tests.mail.smtp_server import SMTPReceiver, free_port, smtp_server_fixture  # noqa: F401
from tests.mail.test_oauth import FakeTokenEndpoint, token_endpoint_fixture  # noqa: F401

pytestmark = pytest.mark.django_db

IMAP_PASSWORD = "imap-Pa55-unique-7731"
SMTP_PASSWORD = "smtp-Pa55-unique-9042"


def _form(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "Assistenza",
        "team": "",
        "address": "Assistenza@Shop.example",
        "from_name": "Shop",
        "signature": "Shop S.r.l.",
        "auth": "password",
        "inbound": "imap",
        "imap_host": "imap.shop.example",
        "imap_port": "993",
        "imap_security": "tls",
        "imap_user": "assistenza@shop.example",
        "imap_password": IMAP_PASSWORD,
        "folder": "INBOX",
        "use_idle": "on",
        "poll_seconds": "60",
        "fetch_start": "new",
        "fetch_since": "",
        "outbound": "smtp",
        "smtp_host": "smtp.shop.example",
        "smtp_port": "587",
        "smtp_security": "starttls",
        "smtp_user": "assistenza@shop.example",
        "smtp_password": SMTP_PASSWORD,
        "esp_name": "",
        "esp_api_key": "",
        "webhook_signing_key": "",
        "oauth_provider": "",
        "oauth_client_id": "",
        "oauth_client_secret": "",
        "oauth_authorize_url": "",
        "oauth_token_url": "",
        "oauth_scope": "",
    }
    data.update(overrides)
    return data


def _edit_form(mailbox: Mailbox, **overrides: Any) -> dict[str, Any]:
    data = _form(
        name=mailbox.inbox.name,
        address=mailbox.address,
        imap_password="",
        smtp_password="",
        imap_host=mailbox.imap_host,
        smtp_host=mailbox.smtp_host,
        smtp_port=str(mailbox.smtp_port),
        smtp_security=mailbox.smtp_security,
    )
    data.pop("fetch_start")
    data.pop("fetch_since")
    data.update(overrides)
    return data


def _mailbox(**fields: Any) -> Mailbox:
    values: dict[str, Any] = {
        "imap_host": "imap.shop.example",
        "smtp_host": "smtp.shop.example",
        "smtp_user": "assistenza@shop.example",
    }
    values.update(fields)
    return create_email_inbox(
        name="Assistenza",
        address="assistenza@shop.example",
        secrets={"imap_password": IMAP_PASSWORD, "smtp_password": SMTP_PASSWORD},
        **values,
    )


def _raw_credentials(inbox_id: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT credentials FROM {Inbox._meta.db_table} WHERE id = %s",  # noqa: S608
            [inbox_id],
        )
        return str(cursor.fetchone()[0])


# --- Permissions ---------------------------------------------------------------------------------


def _urls(mailbox: Mailbox, item: QuarantinedEmail) -> list[tuple[str, str]]:
    base = f"/settings/inboxes/{mailbox.inbox_id}/email"
    return [
        ("get", "/settings/inboxes/new/email/"),
        ("post", "/settings/inboxes/new/email/"),
        ("get", f"{base}/"),
        ("post", f"{base}/"),
        ("post", f"{base}/test/"),
        ("post", f"{base}/oauth/"),
        ("post", f"{base}/webhook-secret/"),
        ("get", f"{base}/quarantine/{item.pk}/raw/"),
        ("post", f"{base}/quarantine/{item.pk}/retry/"),
        ("get", "/settings/inboxes/oauth/callback/?state=x&code=y"),
    ]


def _quarantined(
    mailbox: Mailbox, raw: bytes = b"Subject: broken\r\n\r\n<b>x</b>"
) -> QuarantinedEmail:
    now = timezone.now()
    return QuarantinedEmail.objects.create(
        mailbox=mailbox,
        uidvalidity=1,
        uid=7,
        message_id="broken@example.it",
        raw=raw,
        error="UnparseableEmail: boom",
        attempts=3,
        quarantined=True,
        created_at=now,
        updated_at=now,
    )


def test_anonymous_visitors_are_sent_to_sign_in(signed_in: Callable[[User | None], Client]) -> None:
    # given a mailbox and an anonymous browser
    mailbox = _mailbox()
    item = _quarantined(mailbox)
    client = signed_in(None)
    # when any mailbox page is requested
    for method, url in _urls(mailbox, item):
        response = getattr(client, method)(url)
        # then it sends them to sign in
        assert response.status_code == 302, url
        assert response["Location"].startswith("/login/?next="), url


def test_agents_who_are_not_admins_get_403(
    signed_in: Callable[[User | None], Client], support_agent: User
) -> None:
    # given a mailbox and a signed-in agent
    mailbox = _mailbox()
    item = _quarantined(mailbox)
    client = signed_in(support_agent)
    # when any mailbox page is requested
    for method, url in _urls(mailbox, item):
        response = getattr(client, method)(url)
        # then it is forbidden and nothing changes
        assert response.status_code == 403, url
    assert Inbox.objects.count() == 1
    assert QuarantinedEmail.objects.get().quarantined is True


def test_admins_open_the_pages(admin_web: Client) -> None:
    # given a mailbox
    mailbox = _mailbox()
    # when an admin opens the new inbox page and the mailbox page
    new = admin_web.get("/settings/inboxes/new/email/")
    detail = admin_web.get(f"/settings/inboxes/{mailbox.inbox_id}/email/")
    # then both render, never cached
    assert new.status_code == 200
    assert detail.status_code == 200
    assert "no-cache" in detail["Cache-Control"]
    assert "assistenza@shop.example" in detail.content.decode()


# --- Create and edit -----------------------------------------------------------------------------


def test_creating_an_imap_smtp_inbox_stores_passwords_encrypted_and_never_shows_them(
    admin_web: Client,
) -> None:
    # when an admin creates an email inbox
    response = admin_web.post("/settings/inboxes/new/email/", _form(), follow=True)
    # then it exists with its settings
    assert response.status_code == 200
    mailbox = Mailbox.objects.select_related("inbox").get()
    assert mailbox.inbox.kind == Inbox.Kind.EMAIL
    assert mailbox.address == "assistenza@shop.example"
    assert (mailbox.imap_host, mailbox.smtp_host, mailbox.fetch_since) == (
        "imap.shop.example",
        "smtp.shop.example",
        None,
    )
    # and the passwords are stored encrypted
    assert mailbox.inbox.credentials == {
        "imap_password": IMAP_PASSWORD,
        "smtp_password": SMTP_PASSWORD,
    }
    raw = _raw_credentials(mailbox.inbox_id)
    assert IMAP_PASSWORD not in raw
    assert SMTP_PASSWORD not in raw
    # and no page shows them back
    pages = [
        response,
        admin_web.get(f"/settings/inboxes/{mailbox.inbox_id}/email/"),
        admin_web.get(f"/settings/inboxes/{mailbox.inbox_id}/"),
        admin_web.get("/settings/inboxes/"),
        admin_web.post(
            f"/settings/inboxes/{mailbox.inbox_id}/email/", _edit_form(mailbox, imap_host="")
        ),
        admin_web.post(
            f"/settings/inboxes/{mailbox.inbox_id}/email/",
            _edit_form(mailbox, imap_host="", imap_password=IMAP_PASSWORD),
        ),
        admin_web.post("/settings/inboxes/new/email/", _form(name="Again", imap_host="")),
    ]
    assert [page.status_code for page in pages[-3:]] == [400, 400, 400]
    for page in pages:
        html = page.content.decode()
        assert IMAP_PASSWORD not in html
        assert SMTP_PASSWORD not in html
    assert "A value is stored; leave empty to keep it." in pages[1].content.decode()


def test_fetching_since_a_date(admin_web: Client) -> None:
    # when an admin creates an inbox that imports mail since a date
    response = admin_web.post(
        "/settings/inboxes/new/email/", _form(fetch_start="since", fetch_since="2024-03-01")
    )
    # then the date is kept
    assert response.status_code == 302
    assert Mailbox.objects.get().fetch_since == dt.date(2024, 3, 1)


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"imap_host": ""}, "imap_host", "Enter the IMAP server, e.g. imap.example.com."),
        ({"imap_password": ""}, "imap_password", "Enter the IMAP password."),
        ({"smtp_host": ""}, "smtp_host", "Enter the SMTP server, e.g. smtp.example.com."),
        ({"smtp_password": ""}, "smtp_password", "Enter the SMTP password for this user."),
        ({"imap_port": "70000"}, "imap_port", "Ensure this value is less than or equal to 65535."),
        ({"address": "not-an-address"}, "address", "Enter a valid email address."),
        ({"fetch_start": "since"}, "fetch_since", "Choose the date to fetch mail from."),
        (
            {"fetch_start": "since", "fetch_since": "2999-01-01"},
            "fetch_since",
            "The date cannot be in the future.",
        ),
        (
            {"outbound": "anymail", "esp_name": ""},
            "esp_name",
            "Choose the email provider that sends for this inbox.",
        ),
        (
            {"outbound": "anymail", "esp_name": "postmark"},
            "esp_api_key",
            "Enter the provider&#x27;s API key.",
        ),
        (
            {"outbound": "anymail", "esp_name": "mailjet", "esp_api_key": "mj-key"},
            "esp_secret_key",
            "Mailjet signs in with two keys: enter the secret key.",
        ),
        (
            {"outbound": "anymail", "esp_name": "postal", "esp_api_key": "key"},
            "esp_api_url",
            "Enter the address of your provider&#x27;s API (your server&#x27;s URL).",
        ),
        (
            {"auth": "oauth2", "oauth_provider": "google"},
            "oauth_client_id",
            "Enter the client id of your OAuth2 app.",
        ),
        (
            {"inbound": "webhook", "esp_name": "mailgun"},
            "webhook_signing_key",
            "Mailgun signs its webhooks: enter its signing key.",
        ),
    ],
)
def test_invalid_settings_are_refused_with_a_clear_message(
    admin_web: Client, overrides: dict[str, str], field: str, message: str
) -> None:
    # when an admin posts a setting that cannot work
    response = admin_web.post("/settings/inboxes/new/email/", _form(**overrides))
    # then the page says what to fix, next to the field, and nothing is created
    assert response.status_code == 400
    html = response.content.decode()
    assert message in html
    assert re.search(rf'id="id_{field}"', html)
    assert not Inbox.objects.exists()


def test_an_address_already_used_is_refused(admin_web: Client) -> None:
    # given an inbox for an address
    _mailbox()
    # when another is created for the same address, written differently
    response = admin_web.post(
        "/settings/inboxes/new/email/", _form(name="Other", address="ASSISTENZA@shop.example")
    )
    # then it is refused
    assert response.status_code == 400
    assert "Another email inbox already uses this address." in response.content.decode()
    assert Inbox.objects.count() == 1


def test_editing_keeps_empty_passwords_and_removes_on_request(admin_web: Client) -> None:
    # given a mailbox with both passwords
    mailbox = _mailbox()
    url = f"/settings/inboxes/{mailbox.inbox_id}/email/"
    # when the admin saves with the password fields empty
    kept = admin_web.post(url, _edit_form(mailbox, from_name="Shop Milano"))
    # then the passwords stay and the change is saved
    mailbox.refresh_from_db()
    mailbox.inbox.refresh_from_db()
    assert kept.status_code == 302
    assert mailbox.from_name == "Shop Milano"
    assert mailbox.inbox.credentials["smtp_password"] == SMTP_PASSWORD
    # when the admin removes the SMTP password and clears the SMTP user (relay without auth)
    removed = admin_web.post(
        url, _edit_form(mailbox, smtp_user="", smtp_password_remove="on", imap_password="new-pw")
    )
    # then it is gone and the new IMAP password is stored
    mailbox.inbox.refresh_from_db()
    assert removed.status_code == 302
    assert mailbox.inbox.credentials == {"imap_password": "new-pw"}


def test_typing_a_password_and_removing_it_at_once_is_refused(admin_web: Client) -> None:
    # given a mailbox
    mailbox = _mailbox()
    # when the admin both types a new SMTP password and ticks "remove"
    response = admin_web.post(
        f"/settings/inboxes/{mailbox.inbox_id}/email/",
        _edit_form(mailbox, smtp_password="x", smtp_password_remove="on"),
    )
    # then nothing changes and the page says why
    assert response.status_code == 400
    assert "Either type a new value or remove the stored one, not both." in (
        response.content.decode()
    )
    mailbox.inbox.refresh_from_db()
    assert mailbox.inbox.credentials["smtp_password"] == SMTP_PASSWORD


def test_the_inbox_pages_link_to_the_email_settings(admin_web: Client) -> None:
    # given an email inbox
    mailbox = _mailbox()
    # when the admin opens the inbox list and the inbox's page
    listing = admin_web.get("/settings/inboxes/").content.decode()
    detail = admin_web.get(f"/settings/inboxes/{mailbox.inbox_id}/").content.decode()
    # then both lead to the email pages
    assert 'href="/settings/inboxes/new/email/"' in listing
    assert f'href="/settings/inboxes/{mailbox.inbox_id}/email/"' in detail


# --- Test connection, status ---------------------------------------------------------------------


def test_test_connection_says_which_stage_failed(
    admin_web: Client, smtp_server: SMTPReceiver
) -> None:
    # given a mailbox whose IMAP server is down and whose SMTP server refuses the password
    smtp_server.users["assistenza@shop.example"] = "another"
    mailbox = _mailbox(
        imap_host="127.0.0.1",
        imap_port=free_port(),
        imap_security=Mailbox.Security.NONE,
        smtp_host=smtp_server.host,
        smtp_port=smtp_server.port,
        smtp_security=Mailbox.Security.NONE,
    )
    # when the admin tests the connection
    response = admin_web.post(f"/settings/inboxes/{mailbox.inbox_id}/email/test/")
    # then each side names its failed stage and the server's reason
    html = response.content.decode()
    assert response.status_code == 200
    results = html[html.index('id="check-results"') :]
    assert "Receiving (IMAP)</strong> — failed at: connection" in results
    assert "Sending (SMTP)</strong> — failed at: sign-in" in results
    assert "Sign-in to 127.0.0.1 refused: 535 5.7.8 Authentication credentials invalid" in results


def test_test_connection_succeeds_for_smtp(admin_web: Client, smtp_server: SMTPReceiver) -> None:
    # given a webhook mailbox sending through a working SMTP server
    smtp_server.users["assistenza@shop.example"] = SMTP_PASSWORD
    mailbox = _mailbox(
        inbound=Mailbox.Inbound.WEBHOOK,
        smtp_host=smtp_server.host,
        smtp_port=smtp_server.port,
        smtp_security=Mailbox.Security.NONE,
    )
    # when the admin tests the connection
    response = admin_web.post(f"/settings/inboxes/{mailbox.inbox_id}/email/test/")
    # then sending is OK and receiving is not tested over IMAP
    html = response.content.decode()
    assert "Connected to 127.0.0.1 and signed in." in html
    assert "Receiving (IMAP)" not in html


def test_fetch_status_and_stale_alert(admin_web: Client) -> None:
    # given a mailbox that last fetched successfully two hours ago and fails since
    mailbox = _mailbox()
    FetchState.objects.filter(mailbox=mailbox).update(
        last_attempt_at=timezone.now(),
        last_success_at=timezone.now() - dt.timedelta(hours=2),
        last_error="login: [AUTHENTICATIONFAILED] Authentication failed.",
        last_error_at=timezone.now(),
        count_warning="The server holds 12 messages, 10 were fetched.",
    )
    # when the admin opens its page
    html = admin_web.get(f"/settings/inboxes/{mailbox.inbox_id}/email/").content.decode()
    # then the stale alert, the last error and the count warning are shown
    assert 'id="stale-alert"' in html
    assert "Mail is not being fetched" in html
    assert "login: [AUTHENTICATIONFAILED] Authentication failed." in html
    assert "The server holds 12 messages, 10 were fetched." in html


def test_a_healthy_mailbox_has_no_stale_alert(admin_web: Client) -> None:
    # given a mailbox that fetched a minute ago
    mailbox = _mailbox()
    FetchState.objects.filter(mailbox=mailbox).update(
        last_attempt_at=timezone.now(), last_success_at=timezone.now() - dt.timedelta(minutes=1)
    )
    # when the admin opens its page
    html = admin_web.get(f"/settings/inboxes/{mailbox.inbox_id}/email/").content.decode()
    # then no alert
    assert 'id="stale-alert"' not in html


# --- Quarantine ----------------------------------------------------------------------------------


def test_quarantined_source_is_plain_text_never_html(admin_web: Client) -> None:
    # given a quarantined email carrying HTML and a script
    mailbox = _mailbox()
    item = _quarantined(
        mailbox, b"Subject: x\r\nContent-Type: text/html\r\n\r\n<script>alert(1)</script>\xff"
    )
    # when the admin opens the page and the source
    page = admin_web.get(f"/settings/inboxes/{mailbox.inbox_id}/email/").content.decode()
    source = admin_web.get(f"/settings/inboxes/{mailbox.inbox_id}/email/quarantine/{item.pk}/raw/")
    # then the page lists it, and the source is served as text, sandboxed
    assert "UnparseableEmail: boom" in page
    assert f"/quarantine/{item.pk}/raw/" in page
    assert source.status_code == 200
    assert source["Content-Type"] == "text/plain; charset=utf-8"
    assert source["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in source["Content-Security-Policy"]
    assert source.content == (
        "Subject: x\r\nContent-Type: text/html\r\n\r\n<script>alert(1)</script>\ufffd".encode()
    )


def test_another_mailboxs_quarantine_is_not_reachable(admin_web: Client) -> None:
    # given a quarantined email of one mailbox
    first = _mailbox()
    other = create_email_inbox(
        name="Other", address="other@shop.example", secrets={}, imap_host="imap.other.example"
    )
    item = _quarantined(first)
    # when it is asked for through the other mailbox's URL
    response = admin_web.get(f"/settings/inboxes/{other.inbox_id}/email/quarantine/{item.pk}/raw/")
    # then it is not found
    assert response.status_code == 404


def test_retrying_a_quarantined_email_stores_it(admin_web: Client) -> None:
    # given a quarantined email that can now be read
    mailbox = _mailbox()
    item = _quarantined(
        mailbox,
        b"Message-ID: <late@example.it>\r\nFrom: Anna <anna@example.it>\r\n"
        b"To: assistenza@shop.example\r\nSubject: Reso\r\nDate: Tue, 14 Nov 2023 10:00:00 +0100\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n\r\nVorrei fare un reso.\r\n",
    )
    # when the admin retries it
    response = admin_web.post(
        f"/settings/inboxes/{mailbox.inbox_id}/email/quarantine/{item.pk}/retry/", follow=True
    )
    # then the case exists and the email left the quarantine list
    conversation = Conversation.objects.get()
    assert conversation.subject == "Reso"
    item.refresh_from_db()
    assert item.quarantined is False
    html = response.content.decode()
    assert f"The message is stored in case {conversation.reference}." in html
    assert 'id="quarantine"' not in html


def test_a_retry_that_fails_again_says_so(admin_web: Client) -> None:
    # given a quarantined email that still cannot be read
    mailbox = _mailbox()
    item = _quarantined(mailbox, b"")
    # when the admin retries it
    response = admin_web.post(
        f"/settings/inboxes/{mailbox.inbox_id}/email/quarantine/{item.pk}/retry/", follow=True
    )
    # then the page says so and it stays quarantined
    assert "The message still cannot be stored:" in response.content.decode()
    item.refresh_from_db()
    assert (item.quarantined, item.attempts) == (True, 4)


# --- OAuth2 --------------------------------------------------------------------------------------


def test_connecting_with_google(admin_web: Client, token_endpoint: FakeTokenEndpoint) -> None:
    # given an inbox created for Google sign-in
    created = admin_web.post(
        "/settings/inboxes/new/email/",
        _form(
            auth="oauth2",
            imap_password="",
            smtp_password="",
            imap_host="imap.gmail.com",
            smtp_host="smtp.gmail.com",
            oauth_provider="google",
            oauth_client_id="client-1.apps.googleusercontent.com",
            oauth_client_secret="GOCSPX-secret",
        ),
    )
    assert created.status_code == 302
    mailbox = Mailbox.objects.get()
    assert mailbox.oauth_token_url == "https://oauth2.googleapis.com/token"
    Mailbox.objects.filter(pk=mailbox.pk).update(oauth_token_url=token_endpoint.url)
    page = admin_web.get(f"/settings/inboxes/{mailbox.inbox_id}/email/").content.decode()
    assert "Connect with Google" in page
    # when the admin clicks "Connect" and the provider sends them back with a code
    start = admin_web.post(f"/settings/inboxes/{mailbox.inbox_id}/email/oauth/")
    assert start.status_code == 302
    assert start["Location"].startswith("https://accounts.google.com/o/oauth2/v2/auth?")
    params = {k: v[0] for k, v in parse_qs(urlsplit(start["Location"]).query).items()}
    token_endpoint.codes["4/0Acode"] = params["code_challenge"]
    back = admin_web.get(
        "/settings/inboxes/oauth/callback/", {"state": params["state"], "code": "4/0Acode"}
    )
    # then the mailbox is connected and the tokens never appear on its page
    assert back.status_code == 302
    assert back["Location"] == f"/settings/inboxes/{mailbox.inbox_id}/email/"
    mailbox.inbox.refresh_from_db()
    assert mailbox.inbox.credentials["oauth_refresh_token"] == "1//refresh-1"
    html = admin_web.get(back["Location"]).content.decode()
    assert "Mailbox connected" in html
    assert "1//refresh-1" not in html
    assert "ya29.access-1" not in html
    assert "GOCSPX-secret" not in html


def test_a_tampered_state_gets_400(admin_web: Client, token_endpoint: FakeTokenEndpoint) -> None:
    # given a sign-in started for a mailbox
    mailbox = _mailbox(
        auth=Mailbox.Auth.OAUTH2,
        oauth_provider="google",
        oauth_client_id="client-1.apps.googleusercontent.com",
        oauth_token_url=token_endpoint.url,
    )
    start = admin_web.post(f"/settings/inboxes/{mailbox.inbox_id}/email/oauth/")
    state = parse_qs(urlsplit(start["Location"]).query)["state"][0]
    # when the state comes back altered
    response = admin_web.get(
        "/settings/inboxes/oauth/callback/", {"state": state + "x", "code": "4/0Acode"}
    )
    # then it is refused, with nothing exchanged or stored
    assert response.status_code == 400
    assert "This sign-in answer is not valid" in response.content.decode()
    assert token_endpoint.requests == []
    mailbox.inbox.refresh_from_db()
    assert "oauth_refresh_token" not in mailbox.inbox.credentials


def test_a_refused_consent_goes_back_to_the_mailbox(admin_web: Client) -> None:
    # given a sign-in started for a mailbox
    mailbox = _mailbox(
        auth=Mailbox.Auth.OAUTH2,
        oauth_provider="microsoft",
        oauth_client_id="00000000-aaaa-bbbb-cccc-000000000000",
    )
    start = admin_web.post(f"/settings/inboxes/{mailbox.inbox_id}/email/oauth/")
    assert start["Location"].startswith(
        "https://login.microsoftonline.com/common/oauth2/v2.0/authorize?"
    )
    state = parse_qs(urlsplit(start["Location"]).query)["state"][0]
    # when the provider answers that the user declined
    response = admin_web.get(
        "/settings/inboxes/oauth/callback/",
        {"state": state, "error": "access_denied", "error_description": "The user declined."},
        follow=True,
    )
    # then the mailbox page says so
    assert "The provider refused the sign-in: access_denied The user declined." in (
        response.content.decode()
    )


# --- Webhooks ------------------------------------------------------------------------------------


def test_a_webhook_inbox_shows_its_urls_with_the_password_once(admin_web: Client) -> None:
    # when an admin creates an inbox receiving through Postmark and sending with its API
    response = admin_web.post(
        "/settings/inboxes/new/email/",
        _form(
            inbound="webhook",
            outbound="anymail",
            esp_name="postmark",
            esp_api_key="pm-server-token-123",
            imap_password="",
            smtp_password="",
        ),
        follow=True,
    )
    # then the page shows the URL to paste with its password, once
    mailbox = Mailbox.objects.select_related("inbox").get()
    secret = mailbox.inbox.credentials["webhook_secret"]
    assert mailbox.inbox.credentials["api_key"] == "pm-server-token-123"
    html = response.content.decode()
    assert webhooks.webhook_url(mailbox.inbox_id, "postmark", secret=secret) in html
    assert "pm-server-token-123" not in html
    again = admin_web.get(f"/settings/inboxes/{mailbox.inbox_id}/email/").content.decode()
    assert secret.split(":", 1)[1] not in again
    assert f"/hooks/email/{mailbox.inbox_id}/postmark/" in again
    # and a new password replaces the old one
    admin_web.post(f"/settings/inboxes/{mailbox.inbox_id}/email/webhook-secret/")
    mailbox.inbox.refresh_from_db()
    assert mailbox.inbox.credentials["webhook_secret"] != secret


# --- Italian -------------------------------------------------------------------------------------


def test_the_mailbox_pages_speak_italian(admin: User, smtp_server: SMTPReceiver) -> None:
    # given an admin who chose Italian and a mailbox whose SMTP password is wrong
    admin.language = "it"
    admin.save(update_fields=["language"])
    client = Client()
    client.force_login(admin)
    mailbox = _mailbox(
        inbound=Mailbox.Inbound.WEBHOOK,
        smtp_host=smtp_server.host,
        smtp_port=smtp_server.port,
        smtp_security=Mailbox.Security.NONE,
    )
    # when they open the pages, test the connection and post a wrong setting (the override
    # puts the language back afterwards: the agent-preferences middleware leaves it active)
    with translation.override("en"):
        new = client.get("/settings/inboxes/new/email/").content.decode()
        tested = client.post(f"/settings/inboxes/{mailbox.inbox_id}/email/test/").content.decode()
        refused = client.post("/settings/inboxes/new/email/", _form(name="X", imap_host="")).content
    # then everything is in Italian
    assert "Nuova casella email" in new
    assert "Inizia a leggere da" in new
    assert "Chiave segreta del provider" in new
    assert "URL dell&#x27;API del provider" in new
    assert "Invio (SMTP)</strong> — non riuscito alla fase: accesso" in tested
    assert "Accesso a 127.0.0.1 rifiutato: 535" in tested
    assert "Inserisci il server IMAP, ad es. imap.example.com." in refused.decode()
