"""Fixtures for email tests: a real Dovecot (one per test session), mail accounts, mailboxes."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from premura.mail.models import Mailbox
from premura.mail.services import create_email_inbox
from premura.routing.models import Team
from tests.mail.dovecot import Dovecot, make_email

ADDRESS = "support@shop.example"


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Dovecot]:
    """A private Dovecot for the whole session (installed with apt-get on CI when missing)."""
    server = Dovecot.start()
    yield server
    server.stop()
    shutil.rmtree(server.root, ignore_errors=True)


@pytest.fixture
def imap_user(dovecot: Dovecot) -> str:
    """A new, empty mail account on the test Dovecot."""
    return dovecot.add_user()


@pytest.fixture
def mail_settings(settings: Any, dovecot: Dovecot) -> Any:
    """Trust the test CA, send alerts to a list, keep the defaults of the mail settings."""
    settings.PREMURA_MAIL_CA_FILE = str(dovecot.ca_file)
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    return settings


def make_mailbox(dovecot: Dovecot, user: str, team: Team | None = None, **fields: Any) -> Mailbox:
    """An email inbox reading `user`'s mailbox on the test Dovecot (plain IMAP by default)."""
    options: dict[str, Any] = {
        "imap_host": "127.0.0.1",
        "imap_port": dovecot.port,
        "imap_security": "none",
        "imap_user": user,
        "smtp_host": "127.0.0.1",
    }
    options.update(fields)
    return create_email_inbox(
        name="Support",
        address=ADDRESS,
        team=team,
        secrets={"imap_password": dovecot.users[user]},
        **options,
    )


@pytest.fixture
def mailbox(db: None, dovecot: Dovecot, imap_user: str, mail_settings: Any) -> Mailbox:
    return make_mailbox(dovecot, imap_user)


__all__ = ["ADDRESS", "make_email", "make_mailbox"]
