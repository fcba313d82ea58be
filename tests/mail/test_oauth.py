"""OAuth2 mailboxes against a local fake token endpoint answering as Google's documents.

Google's token endpoint (https://developers.google.com/identity/protocols/oauth2/web-server):
a code exchange answers {"access_token", "expires_in", "refresh_token", "scope", "token_type"};
a refresh answers without "refresh_token"; a revoked grant answers 400 {"error": "invalid_grant",
"error_description": "Token has been expired or revoked."}.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.utils import timezone

from premura.contacts.models import Identity
from premura.contacts.services import ContactInfo, IdentityKey
from premura.conversations import outbox
from premura.conversations.ingest import InboundMessage, ingest
from premura.conversations.models import Message
from premura.conversations.services import reply
from premura.mail import oauth, outbound
from premura.mail.models import Mailbox
from premura.mail.services import create_email_inbox
from premura.scheduling.registry import jobs
from tests.mail.smtp_server import SMTPReceiver, smtp_server_fixture  # noqa: F401

pytestmark = pytest.mark.django_db


@dataclass
class FakeTokenEndpoint:
    """Google's token endpoint, as documented, on 127.0.0.1."""

    url: str = ""
    requests: list[dict[str, str]] = field(default_factory=list)
    codes: dict[str, str] = field(default_factory=dict)  # code → PKCE challenge it was issued for
    refresh_tokens: set[str] = field(default_factory=set)
    issued: int = 0

    def answer(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        if (
            form.get("client_id") != "client-1.apps.googleusercontent.com"
            or form.get("client_secret") != "GOCSPX-secret"
        ):
            return 401, {"error": "invalid_client", "error_description": "Unauthorized"}
        if form.get("grant_type") == "authorization_code":
            challenge = self.codes.pop(form.get("code", ""), None)
            verifier = form.get("code_verifier", "")
            digest = hashlib.sha256(verifier.encode()).digest()
            expected = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
            if challenge is None or challenge != expected:
                return 400, {"error": "invalid_grant", "error_description": "Bad Request"}
            self.issued += 1
            self.refresh_tokens.add(f"1//refresh-{self.issued}")
            return 200, {
                "access_token": f"ya29.access-{self.issued}",
                "expires_in": 3599,
                "refresh_token": f"1//refresh-{self.issued}",
                "scope": "https://mail.google.com/",
                "token_type": "Bearer",
            }
        if form.get("grant_type") == "refresh_token":
            if form.get("refresh_token") not in self.refresh_tokens:
                return 400, {
                    "error": "invalid_grant",
                    "error_description": "Token has been expired or revoked.",
                }
            self.issued += 1
            return 200, {
                "access_token": f"ya29.access-{self.issued}",
                "expires_in": 3599,
                "scope": "https://mail.google.com/",
                "token_type": "Bearer",
            }
        return 400, {"error": "unsupported_grant_type"}


@pytest.fixture(name="token_endpoint")
def token_endpoint_fixture() -> Iterator[FakeTokenEndpoint]:
    endpoint = FakeTokenEndpoint()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the http.server hook's name
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length).decode()
            form = {key: values[0] for key, values in parse_qs(body).items()}
            endpoint.requests.append(form)
            status, answer = endpoint.answer(form)
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    endpoint.url = f"http://127.0.0.1:{server.server_address[1]}/token"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield endpoint
    finally:
        server.shutdown()
        server.server_close()


def _oauth_mailbox(endpoint: FakeTokenEndpoint, **fields: Any) -> Mailbox:
    values: dict[str, Any] = {
        "auth": Mailbox.Auth.OAUTH2,
        "imap_host": "imap.gmail.com",
        "smtp_host": "smtp.gmail.com",
        "smtp_port": 587,
        "oauth_provider": "google",
        "oauth_client_id": "client-1.apps.googleusercontent.com",
        "oauth_authorize_url": "https://accounts.google.com/o/oauth2/v2/auth",
        "oauth_token_url": endpoint.url,
        "oauth_scope": "https://mail.google.com/",
    }
    values.update(fields)
    return create_email_inbox(
        name="Gmail",
        address="help@shop.example",
        secrets={"oauth_client_secret": "GOCSPX-secret"},
        **values,
    )


def _sign_in(endpoint: FakeTokenEndpoint, mailbox: Mailbox, session: SessionStore) -> str:
    """Start the flow and play the provider: issue a code for the PKCE challenge; the state."""
    url = oauth.authorization_url(session, mailbox)
    params = {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}
    endpoint.codes["4/0Acode"] = params["code_challenge"]
    return params["state"]


def test_authorization_url_for_google(token_endpoint: FakeTokenEndpoint) -> None:
    # given a Google mailbox
    mailbox = _oauth_mailbox(token_endpoint)
    session = SessionStore()
    # when the admin starts connecting it
    url = oauth.authorization_url(session, mailbox)
    # then the browser goes to Google's consent page asking for offline mail access
    parts = urlsplit(url)
    params = {key: values[0] for key, values in parse_qs(parts.query).items()}
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == (
        "https://accounts.google.com/o/oauth2/v2/auth"
    )
    assert params["response_type"] == "code"
    assert params["client_id"] == "client-1.apps.googleusercontent.com"
    assert params["redirect_uri"] == "http://127.0.0.1:8000/settings/inboxes/oauth/callback/"
    assert params["scope"] == "https://mail.google.com/"
    assert params["access_type"] == "offline"
    assert params["prompt"] == "consent"
    assert params["code_challenge_method"] == "S256"
    assert params["login_hint"] == "help@shop.example"
    assert len(session[oauth.SESSION_KEY]) == 1


def test_microsoft_preset() -> None:
    # when the Microsoft preset is chosen
    values = oauth.provider_settings("microsoft")
    # then its endpoints and scopes are Microsoft 365's
    assert values == {
        "oauth_provider": "microsoft",
        "oauth_authorize_url": "https://login.microsoftonline.com/common/oauth2/v2.0/authorize",
        "oauth_token_url": "https://login.microsoftonline.com/common/oauth2/v2.0/token",
        "oauth_scope": "https://outlook.office.com/IMAP.AccessAsUser.All "
        "https://outlook.office.com/SMTP.Send offline_access",
    }


def test_code_exchange_stores_the_tokens_encrypted(token_endpoint: FakeTokenEndpoint) -> None:
    # given a sign-in started in a session
    mailbox = _oauth_mailbox(token_endpoint)
    session = SessionStore()
    state = _sign_in(token_endpoint, mailbox, session)
    # when the provider sends the browser back with a code
    before = timezone.now()
    connected = oauth.complete_authorization(session, state=state, code="4/0Acode")
    # then the code was exchanged with the PKCE verifier and the tokens are kept
    assert token_endpoint.requests[0]["grant_type"] == "authorization_code"
    assert token_endpoint.requests[0]["redirect_uri"] == (
        "http://127.0.0.1:8000/settings/inboxes/oauth/callback/"
    )
    mailbox = Mailbox.objects.select_related("inbox").get(pk=connected.pk)
    assert mailbox.inbox.credentials["oauth_access_token"] == "ya29.access-1"
    assert mailbox.inbox.credentials["oauth_refresh_token"] == "1//refresh-1"
    assert mailbox.oauth_expires_at is not None
    assert before + dt.timedelta(seconds=3598) <= mailbox.oauth_expires_at
    assert mailbox.oauth_expires_at <= timezone.now() + dt.timedelta(seconds=3599)
    # and the state cannot be used twice
    with pytest.raises(oauth.OAuthStateError):
        oauth.complete_authorization(session, state=state, code="4/0Acode")


def test_a_tampered_or_foreign_state_is_refused(token_endpoint: FakeTokenEndpoint) -> None:
    # given a sign-in started in one session
    mailbox = _oauth_mailbox(token_endpoint)
    session = SessionStore()
    state = _sign_in(token_endpoint, mailbox, session)
    # when the state is altered, or comes back in another session
    with pytest.raises(oauth.OAuthStateError) as tampered:
        oauth.complete_authorization(session, state=state[:-2] + "xx", code="4/0Acode")
    with pytest.raises(oauth.OAuthStateError) as foreign:
        oauth.complete_authorization(SessionStore(), state=state, code="4/0Acode")
    # then nothing was exchanged
    assert str(tampered.value) == "the sign-in answer was not issued by this server"
    assert str(foreign.value) == "this sign-in was not started in this browser session"
    assert token_endpoint.requests == []


def test_access_token_is_reused_until_a_minute_before_expiry(
    token_endpoint: FakeTokenEndpoint,
) -> None:
    # given a connected mailbox
    mailbox = _oauth_mailbox(token_endpoint)
    session = SessionStore()
    oauth.complete_authorization(
        session, state=_sign_in(token_endpoint, mailbox, session), code="4/0Acode"
    )
    mailbox = Mailbox.objects.select_related("inbox").get(pk=mailbox.pk)
    # when a token is asked for while the current one is fresh
    fresh = oauth.access_token(mailbox)
    # and again when it expires within 60 seconds
    Mailbox.objects.filter(pk=mailbox.pk).update(
        oauth_expires_at=timezone.now() + dt.timedelta(seconds=30)
    )
    mailbox = Mailbox.objects.select_related("inbox").get(pk=mailbox.pk)
    refreshed = oauth.access_token(mailbox)
    # then the first is the stored one and the second a refreshed one, now stored
    assert fresh == "ya29.access-1"
    assert refreshed == "ya29.access-2"
    assert [r["grant_type"] for r in token_endpoint.requests] == [
        "authorization_code",
        "refresh_token",
    ]
    assert token_endpoint.requests[1]["refresh_token"] == "1//refresh-1"
    mailbox = Mailbox.objects.select_related("inbox").get(pk=mailbox.pk)
    assert mailbox.inbox.credentials["oauth_access_token"] == "ya29.access-2"
    assert mailbox.inbox.credentials["oauth_refresh_token"] == "1//refresh-1"


def test_a_revoked_refresh_token_gives_a_clear_error(token_endpoint: FakeTokenEndpoint) -> None:
    # given a mailbox whose refresh token the user revoked
    mailbox = _oauth_mailbox(token_endpoint)
    inbox = mailbox.inbox
    inbox.credentials = {**inbox.credentials, "oauth_refresh_token": "1//revoked"}
    inbox.save(update_fields=["credentials"])
    # when a token is needed
    with pytest.raises(oauth.OAuthError) as error:
        oauth.access_token(Mailbox.objects.select_related("inbox").get(pk=mailbox.pk))
    # then the error says what happened and what to do, and the settings page can show it
    assert str(error.value) == (
        "the token endpoint refused (400 invalid_grant: Token has been expired or revoked.); "
        "the sign-in was revoked or expired: connect the mailbox again"
    )
    mailbox.inbox.refresh_from_db()
    assert mailbox.inbox.settings["oauth_error"] == str(error.value)


def test_an_unreachable_token_endpoint_gives_a_clear_error() -> None:
    # given a mailbox whose token endpoint does not answer
    mailbox = _oauth_mailbox(FakeTokenEndpoint(url="http://127.0.0.1:9/token"))
    inbox = mailbox.inbox
    inbox.credentials = {**inbox.credentials, "oauth_refresh_token": "1//refresh"}
    inbox.save(update_fields=["credentials"])
    # when a token is needed
    with pytest.raises(oauth.OAuthError) as error:
        oauth.access_token(Mailbox.objects.select_related("inbox").get(pk=mailbox.pk))
    # then it says it could not reach the endpoint
    assert str(error.value).startswith("cannot reach the token endpoint http://127.0.0.1:9/token:")


def test_the_periodic_task_refreshes_tokens_ahead_of_expiry(
    token_endpoint: FakeTokenEndpoint,
) -> None:
    # given two connected mailboxes, one expiring in 5 minutes, one in 50
    soon = _oauth_mailbox(token_endpoint)
    later = _oauth_mailbox(token_endpoint, inbound=Mailbox.Inbound.WEBHOOK)
    token_endpoint.refresh_tokens.update({"1//soon", "1//later"})
    for mailbox, token, minutes in ((soon, "1//soon", 5), (later, "1//later", 50)):
        inbox = mailbox.inbox
        inbox.credentials = {**inbox.credentials, "oauth_refresh_token": token}
        inbox.save(update_fields=["credentials"])
        Mailbox.objects.filter(pk=mailbox.pk).update(
            oauth_expires_at=timezone.now() + dt.timedelta(minutes=minutes)
        )
    # when the periodic job runs
    refreshed = oauth.refresh_oauth_tokens.call()
    # then only the one about to expire was refreshed
    assert refreshed == 1
    assert [r.get("refresh_token") for r in token_endpoint.requests] == ["1//soon"]
    assert "premura.mail.oauth.refresh_oauth_tokens" in [job.name for job in jobs()]


def test_smtp_signs_in_with_xoauth2(
    token_endpoint: FakeTokenEndpoint, smtp_server: SMTPReceiver
) -> None:
    # given a connected Google mailbox whose SMTP server accepts its access token
    mailbox = _oauth_mailbox(
        token_endpoint,
        smtp_host=smtp_server.host,
        smtp_port=smtp_server.port,
        smtp_security=Mailbox.Security.NONE,
    )
    session = SessionStore()
    oauth.complete_authorization(
        session, state=_sign_in(token_endpoint, mailbox, session), code="4/0Acode"
    )
    smtp_server.tokens["ya29.access-1"] = "help@shop.example"
    customer = "anna@example.it"
    result = ingest(
        mailbox.inbox,
        InboundMessage(
            provider_message_id="x1@example.it",
            contact=ContactInfo(
                identity=IdentityKey(Identity.Kind.EMAIL, customer), email=customer
            ),
            text="Ciao",
            subject="Domanda",
        ),
    )
    message = reply(result.conversation, None, "Risposta", kind="automatic")
    # when the outbox delivers
    state = outbox.deliver(message.pk)
    # then the server authenticated the mailbox by its token
    assert state == Message.Delivery.SENT
    assert smtp_server.xoauth2_attempts == ["ya29.access-1"]
    assert smtp_server.messages[0].login == "help@shop.example"
    # and a rejected token is reported at the login stage by the connection check
    smtp_server.tokens.clear()
    report = outbound.check_smtp(Mailbox.objects.select_related("inbox").get(pk=mailbox.pk))
    assert (report.ok, report.stage) == (False, "login")
    assert report.message == (
        "Sign-in to 127.0.0.1 refused: 535 5.7.8 Username and Password not accepted"
    )
