"""A real SMTP receiver (aiosmtpd) on 127.0.0.1 for tests: collects what Premura sends.

It signs in with PLAIN/LOGIN against `users`, with XOAUTH2 against `tokens` (as Gmail and
Outlook do), refuses the recipients in `refused` with 550 and those in `deferred` with 451.
Use the `smtp_server` fixture: import `smtp_server_fixture` into the test module.
"""

from __future__ import annotations

import base64
import email
import email.policy
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from tests.processes import free_port


@dataclass
class Received:
    """One message the server accepted."""

    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    login: str

    @property
    def message(self) -> EmailMessage:
        # As a mail client reads it: line ends as the platform's, not the wire's CRLF.
        raw = self.raw.replace(b"\r\n", b"\n")
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class SMTPReceiver:
    """The aiosmtpd handler: its state is what the test configures and inspects."""

    host: str = "127.0.0.1"
    port: int = 0
    users: dict[str, str] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)  # access token → user
    refused: set[str] = field(default_factory=set)
    deferred: set[str] = field(default_factory=set)
    messages: list[Received] = field(default_factory=list)
    xoauth2_attempts: list[str] = field(default_factory=list)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if address.lower() in self.refused:
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        if address.lower() in self.deferred:
            return f"451 4.3.0 <{address}>: Temporary failure, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        auth = session.auth_data
        login = auth.login.decode() if isinstance(auth, LoginPassword) else ""
        content = envelope.original_content or b""
        self.messages.append(
            Received(
                mail_from=str(envelope.mail_from),
                rcpt_tos=list(envelope.rcpt_tos),
                raw=content,
                login=login,
            )
        )
        return "250 2.0.0 Ok: queued"

    async def auth_XOAUTH2(self, server: SMTP, args: list[str]) -> AuthResult:
        """SASL XOAUTH2: base64("user=…\\x01auth=Bearer …\\x01\\x01")."""
        blob = base64.b64decode(args[1]) if len(args) > 1 else b""
        parts = dict(part.split("=", 1) for part in blob.decode().split("\x01") if "=" in part)
        token = parts.get("auth", "").removeprefix("Bearer ")
        self.xoauth2_attempts.append(token)
        user = parts.get("user", "")
        if self.tokens.get(token) == user:
            return AuthResult(success=True, auth_data=LoginPassword(user.encode(), b""))
        # Gmail answers a bad token with a 334 JSON challenge, then 535 after the empty reply.
        await server.challenge_auth(
            '{"status":"401","schemes":"bearer","scope":"https://mail.google.com/"}'
        )
        return AuthResult(
            success=False, handled=False, message="535 5.7.8 Username and Password not accepted"
        )


def _authenticator(receiver: SMTPReceiver) -> Any:
    def check(
        server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        if isinstance(data, LoginPassword):
            login, password = data.login.decode(), data.password.decode()
            if receiver.users.get(login) == password:
                return AuthResult(success=True, auth_data=data)
        return AuthResult(success=False, handled=False)

    return check


@pytest.fixture(name="smtp_server")
def smtp_server_fixture() -> Iterator[SMTPReceiver]:
    """A running SMTP server on 127.0.0.1 (plain SMTP, AUTH offered without TLS)."""
    receiver = SMTPReceiver(port=free_port())
    controller = Controller(
        receiver,
        hostname=receiver.host,
        port=receiver.port,
        authenticator=_authenticator(receiver),
        auth_require_tls=False,
        auth_required=False,
    )
    controller.start()
    try:
        yield receiver
    finally:
        controller.stop()
