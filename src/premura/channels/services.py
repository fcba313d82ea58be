"""Creating and looking up inboxes."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from django.db import transaction

from premura.accounts.tokens import hash_token, new_token
from premura.channels.models import Inbox
from premura.routing.models import Team

INBOX_TOKEN_PREFIX = "prm_in_"  # noqa: S105 - a public prefix, not a secret


@dataclass(frozen=True)
class NewAPIInbox:
    """An API inbox just created, with the two secrets shown only now."""

    inbox: Inbox
    token: str
    webhook_secret: str


def create_api_inbox(name: str, *, webhook_url: str = "", team: Team | None = None) -> NewAPIInbox:
    """Create an API channel inbox: a bearer token for posting messages, a secret for signing webhooks."""
    token, token_hash = new_token(INBOX_TOKEN_PREFIX)
    webhook_secret = "whsec_" + secrets.token_urlsafe(32)
    with transaction.atomic():
        inbox = Inbox.objects.create(
            name=name[:120],
            kind=Inbox.Kind.API,
            team=team,
            token_hash=token_hash,
            webhook_url=webhook_url,
            webhook_secret=webhook_secret,
        )
    return NewAPIInbox(inbox=inbox, token=token, webhook_secret=webhook_secret)


def rotate_inbox_token(inbox: Inbox) -> str:
    """Replace an inbox's bearer token; the old one stops working at once."""
    token, token_hash = new_token(INBOX_TOKEN_PREFIX)
    inbox.token_hash = token_hash
    inbox.save(update_fields=["token_hash"])
    return token


def inbox_for_token(token: str) -> Inbox | None:
    """The active inbox a bearer token opens, or None."""
    if not token.startswith(INBOX_TOKEN_PREFIX):
        return None
    return Inbox.objects.filter(token_hash=hash_token(token), is_active=True).first()
