"""Creating and looking up inboxes."""

from __future__ import annotations

import secrets
import threading
import time
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
    forget_cached_tokens()
    return token


# Inbound traffic authenticates every message with the inbox token; each process remembers the
# answer for a few seconds. A rotated token or a deactivated inbox stops working within that time.
TOKEN_CACHE_SECONDS = 10.0
_token_cache: dict[str, tuple[float, Inbox]] = {}
_token_cache_lock = threading.Lock()


def inbox_for_token(token: str) -> Inbox | None:
    """The active inbox a bearer token opens, or None."""
    if not token.startswith(INBOX_TOKEN_PREFIX):
        return None
    token_hash = hash_token(token)
    now = time.monotonic()
    cached = _token_cache.get(token_hash)
    if cached is not None and cached[0] > now:
        return cached[1]
    inbox = Inbox.objects.filter(token_hash=token_hash, is_active=True).first()
    with _token_cache_lock:
        if inbox is None:
            _token_cache.pop(token_hash, None)
        else:
            if len(_token_cache) > 10_000:
                _token_cache.clear()
            _token_cache[token_hash] = (now + TOKEN_CACHE_SECONDS, inbox)
    return inbox


def forget_cached_tokens() -> None:
    """Drop remembered tokens (after a rotation or deactivation in this process, and in tests)."""
    with _token_cache_lock:
        _token_cache.clear()


# --- Settings pages: what the inbox administration needs beyond creation and token rotation ---

# How much of an inbox token stays visible after it was shown once: the public prefix and four
# characters, enough to tell two tokens apart, far too little to guess the rest.
TOKEN_HINT_CHARS = 4


def token_hint(token: str) -> str:
    """The part of an inbox token that may be shown again (prefix and first characters)."""
    return token[: len(INBOX_TOKEN_PREFIX) + TOKEN_HINT_CHARS]


def _remember_token_hint(inbox: Inbox, token: str) -> None:
    inbox.settings = {**(inbox.settings or {}), "token_hint": token_hint(token)}
    inbox.save(update_fields=["settings"])


def set_up_api_inbox(name: str, *, webhook_url: str = "", team: Team | None = None) -> NewAPIInbox:
    """Create an API inbox from the settings pages: create_api_inbox, keeping the token's hint."""
    with transaction.atomic():
        created = create_api_inbox(name, webhook_url=webhook_url, team=team)
        _remember_token_hint(created.inbox, created.token)
    return created


def reissue_inbox_token(inbox: Inbox) -> str:
    """Rotate an inbox's bearer token (the old one stops working) and keep the new one's hint."""
    with transaction.atomic():
        token = rotate_inbox_token(inbox)
        _remember_token_hint(inbox, token)
    return token


def rotate_webhook_secret(inbox: Inbox) -> str:
    """Replace the secret that signs an inbox's webhooks; returns it (shown this once)."""
    secret = "whsec_" + secrets.token_urlsafe(32)
    inbox.webhook_secret = secret
    inbox.save(update_fields=["webhook_secret"])
    return secret


def update_inbox(inbox: Inbox, *, name: str, team: Team | None, webhook_url: str) -> Inbox:
    """Rename an inbox, change the team its new conversations go to, and its webhook URL."""
    inbox.name = name[:120]
    inbox.team = team
    inbox.webhook_url = webhook_url
    inbox.save(update_fields=["name", "team", "webhook_url"])
    # The token cache holds inbox objects; a changed inbox must not linger there.
    forget_cached_tokens()
    return inbox
