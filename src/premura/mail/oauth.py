"""OAuth2 for Google Workspace and Microsoft 365 mailboxes: sign-in, tokens, refresh.

The admin connects a mailbox from its settings page (the authorization-code flow, with PKCE): the
page sends the browser to the provider with a signed `state` tied to the admin's session and the
mailbox; the provider sends it back to the one callback URL with a code, exchanged here for a
refresh token and an access token, both kept in the inbox's encrypted credentials. IMAP and SMTP
sign in with XOAUTH2 using `access_token(mailbox)`, which refreshes a token about to expire; a
periodic task refreshes tokens ahead of expiry so a fetch rarely waits for the provider.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import logging
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import httpx
from django.conf import settings
from django.core import signing
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django_tasks import task

from premura.channels.models import Inbox
from premura.mail.models import Mailbox
from premura.scheduling.registry import periodic

if TYPE_CHECKING:
    from django.contrib.sessions.backends.base import SessionBase

logger = logging.getLogger(__name__)

# A token this close to its expiry is refreshed before use.
REFRESH_MARGIN = dt.timedelta(seconds=60)
# The periodic task refreshes tokens expiring within this window (it runs every 5 minutes).
AHEAD_OF_EXPIRY = dt.timedelta(minutes=10)
# How long the admin may take at the provider's sign-in page.
STATE_MAX_AGE_SECONDS = 900
STATE_SALT = "premura.mail.oauth.state"
SESSION_KEY = "premura.mail.oauth"
HTTP_TIMEOUT_SECONDS = 15.0


class OAuthError(Exception):
    """Signing in with OAuth2 failed; the message says what to do."""


class OAuthStateError(OAuthError):
    """The callback's state is missing, tampered with, expired or from another session."""


@dataclass(frozen=True)
class Provider:
    """The endpoints and scope of an OAuth2 provider for mail."""

    key: str
    label: str
    authorize_url: str
    token_url: str
    scope: str
    extra_params: tuple[tuple[str, str], ...] = ()


PROVIDERS: dict[str, Provider] = {
    "google": Provider(
        key="google",
        label="Google",
        authorize_url="https://accounts.google.com/o/oauth2/v2/auth",
        token_url="https://oauth2.googleapis.com/token",  # noqa: S106 - a URL
        scope="https://mail.google.com/",
        # Without both, Google returns a refresh token only on the very first consent.
        extra_params=(("access_type", "offline"), ("prompt", "consent")),
    ),
    "microsoft": Provider(
        key="microsoft",
        label="Microsoft",
        authorize_url="https://login.microsoftonline.com/common/oauth2/v2.0/authorize",
        token_url="https://login.microsoftonline.com/common/oauth2/v2.0/token",  # noqa: S106
        scope=(
            "https://outlook.office.com/IMAP.AccessAsUser.All "
            "https://outlook.office.com/SMTP.Send offline_access"
        ),
    ),
}


def provider_settings(provider: str) -> dict[str, str]:
    """The mailbox fields a preset fills in (authorize URL, token URL, scope)."""
    preset = PROVIDERS[provider]
    return {
        "oauth_provider": preset.key,
        "oauth_authorize_url": preset.authorize_url,
        "oauth_token_url": preset.token_url,
        "oauth_scope": preset.scope,
    }


def redirect_uri() -> str:
    """The callback URL registered at the provider (one for every mailbox)."""
    return settings.PREMURA_BASE_URL.rstrip("/") + reverse("administration:mailbox_oauth_callback")


def _endpoints(mailbox: Mailbox) -> tuple[str, str, str]:
    preset = PROVIDERS.get(mailbox.oauth_provider)
    authorize = mailbox.oauth_authorize_url or (preset.authorize_url if preset else "")
    token = mailbox.oauth_token_url or (preset.token_url if preset else "")
    scope = mailbox.oauth_scope or (preset.scope if preset else "")
    return authorize, token, scope


def _pkce_challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def authorization_url(session: SessionBase, mailbox: Mailbox) -> str:
    """Where to send the admin's browser to sign in to the mailbox's account.

    The state is signed and names the mailbox and a nonce kept in this session, so a callback
    cannot be replayed from another browser or pointed at another mailbox.
    """
    authorize, _token, scope = _endpoints(mailbox)
    if not authorize or not mailbox.oauth_client_id:
        raise OAuthError("set the OAuth2 provider and client id first")
    nonce = secrets.token_urlsafe(24)
    verifier = secrets.token_urlsafe(48)
    pending = dict(session.get(SESSION_KEY, {}))
    pending[nonce] = {"mailbox": mailbox.pk, "verifier": verifier}
    # A few abandoned sign-ins may pile up; keep the newest only.
    session[SESSION_KEY] = dict(list(pending.items())[-5:])
    state = signing.dumps({"mailbox": mailbox.pk, "nonce": nonce}, salt=STATE_SALT)
    params: dict[str, str] = {
        "response_type": "code",
        "client_id": mailbox.oauth_client_id,
        "redirect_uri": redirect_uri(),
        "scope": scope,
        "state": state,
        "code_challenge": _pkce_challenge(verifier),
        "code_challenge_method": "S256",
    }
    preset = PROVIDERS.get(mailbox.oauth_provider)
    if preset is not None:
        params.update(dict(preset.extra_params))
    if preset is not None:
        params["login_hint"] = mailbox.imap_user or mailbox.address
    separator = "&" if "?" in authorize else "?"
    return authorize + separator + urlencode(params)


def state_mailbox(state: str) -> int | None:
    """The mailbox a valid state names (to send the admin back to its page), else None."""
    try:
        data = signing.loads(state, salt=STATE_SALT, max_age=STATE_MAX_AGE_SECONDS)
    except signing.BadSignature:
        return None
    mailbox_id = data.get("mailbox") if isinstance(data, dict) else None
    return mailbox_id if isinstance(mailbox_id, int) else None


def complete_authorization(session: SessionBase, *, state: str, code: str) -> Mailbox:
    """The callback: check the state against this session, exchange the code, store the tokens."""
    try:
        data = signing.loads(state, salt=STATE_SALT, max_age=STATE_MAX_AGE_SECONDS)
    except signing.SignatureExpired as exc:
        raise OAuthStateError("the sign-in took too long; start again") from exc
    except signing.BadSignature as exc:
        raise OAuthStateError("the sign-in answer was not issued by this server") from exc
    if not isinstance(data, dict):
        raise OAuthStateError("the sign-in answer was not issued by this server")
    pending = dict(session.get(SESSION_KEY, {}))
    entry = pending.pop(str(data.get("nonce")), None)
    if entry is None or entry.get("mailbox") != data.get("mailbox"):
        raise OAuthStateError("this sign-in was not started in this browser session")
    session[SESSION_KEY] = pending
    mailbox = Mailbox.objects.select_related("inbox").filter(pk=data["mailbox"]).first()
    if mailbox is None:
        raise OAuthStateError("the mailbox no longer exists")
    if not code:
        raise OAuthError("the provider sent no authorization code")
    tokens = _token_request(
        mailbox,
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri(),
            "code_verifier": str(entry.get("verifier", "")),
        },
    )
    if not tokens.get("refresh_token"):
        raise OAuthError(
            "the provider sent no refresh token: for Google, remove Premura's access in the "
            "Google account's security settings and connect again"
        )
    store_tokens(mailbox, tokens)
    return mailbox


def _token_request(mailbox: Mailbox, form: dict[str, str]) -> dict[str, Any]:
    """POST to the token endpoint; the parsed JSON answer, or OAuthError saying why not."""
    _authorize, token_url, scope = _endpoints(mailbox)
    if not token_url:
        raise OAuthError("the mailbox has no OAuth2 token URL")
    secret = str((mailbox.inbox.credentials or {}).get("oauth_client_secret") or "")
    body = {**form, "client_id": mailbox.oauth_client_id}
    if secret:
        body["client_secret"] = secret
    if form.get("grant_type") == "refresh_token" and mailbox.oauth_provider == "microsoft":
        body["scope"] = scope
    try:
        response = httpx.post(
            token_url,
            data=body,
            headers={"Accept": "application/json"},
            timeout=HTTP_TIMEOUT_SECONDS,
        )
    except httpx.HTTPError as exc:
        raise OAuthError(f"cannot reach the token endpoint {token_url}: {exc}") from exc
    try:
        answer = response.json()
    except ValueError:
        answer = {}
    if response.status_code != 200 or not isinstance(answer, dict):
        error = answer.get("error", "") if isinstance(answer, dict) else ""
        description = answer.get("error_description", "") if isinstance(answer, dict) else ""
        reason = f"{error}: {description}" if description else (error or response.text[:200])
        hint = ""
        if error == "invalid_grant":
            hint = "; the sign-in was revoked or expired: connect the mailbox again"
        raise OAuthError(f"the token endpoint refused ({response.status_code} {reason}){hint}")
    if not answer.get("access_token"):
        raise OAuthError("the token endpoint answered without an access token")
    return answer


def store_tokens(mailbox: Mailbox, tokens: dict[str, Any]) -> None:
    """Keep the new tokens in the inbox's encrypted credentials, merged under a row lock so a
    concurrent change of another secret (an admin saving a password) is never lost."""
    now = timezone.now()
    try:
        expires_in = int(tokens.get("expires_in") or 3600)
    except (TypeError, ValueError):
        expires_in = 3600
    expires_at = now + dt.timedelta(seconds=expires_in)
    with transaction.atomic():
        inbox = Inbox.objects.select_for_update().get(pk=mailbox.inbox_id)
        credentials = dict(inbox.credentials or {})
        credentials["oauth_access_token"] = str(tokens["access_token"])
        if tokens.get("refresh_token"):
            # Microsoft may rotate the refresh token; Google keeps the first one.
            credentials["oauth_refresh_token"] = str(tokens["refresh_token"])
        inbox.credentials = credentials
        inbox_settings = dict(inbox.settings or {})
        inbox_settings.pop("oauth_error", None)
        inbox_settings.pop("oauth_error_at", None)
        inbox.settings = inbox_settings
        inbox.save(update_fields=["credentials", "settings"])
        Mailbox.objects.filter(pk=mailbox.pk).update(oauth_expires_at=expires_at)
    mailbox.inbox.credentials = credentials
    mailbox.inbox.settings = inbox_settings
    mailbox.oauth_expires_at = expires_at


def _record_error(mailbox: Mailbox, error: str) -> None:
    """Remember the last refresh failure for the settings page."""
    with transaction.atomic():
        inbox = Inbox.objects.select_for_update().get(pk=mailbox.inbox_id)
        inbox.settings = {
            **(inbox.settings or {}),
            "oauth_error": error[:500],
            "oauth_error_at": timezone.now().isoformat(),
        }
        inbox.save(update_fields=["settings"])


def refresh(mailbox: Mailbox) -> str:
    """Get a new access token with the refresh token; returns it. Raises OAuthError."""
    refresh_token = str((mailbox.inbox.credentials or {}).get("oauth_refresh_token") or "")
    if not refresh_token:
        raise OAuthError("the mailbox is not connected: use “Connect” on its settings page")
    try:
        tokens = _token_request(
            mailbox, {"grant_type": "refresh_token", "refresh_token": refresh_token}
        )
    except OAuthError as exc:
        _record_error(mailbox, str(exc))
        raise
    store_tokens(mailbox, tokens)
    return str(tokens["access_token"])


def access_token(mailbox: Mailbox) -> str:
    """A valid access token for XOAUTH2, refreshed when it expires within 60 s."""
    token = str((mailbox.inbox.credentials or {}).get("oauth_access_token") or "")
    expires_at = mailbox.oauth_expires_at
    if token and expires_at is not None and expires_at - timezone.now() > REFRESH_MARGIN:
        return token
    return refresh(mailbox)


def refresh_due_tokens(now: dt.datetime | None = None) -> int:
    """Refresh every OAuth2 mailbox's token that expires soon; returns how many were refreshed."""
    now = now or timezone.now()
    due = Mailbox.objects.select_related("inbox").filter(
        auth=Mailbox.Auth.OAUTH2,
        inbox__is_active=True,
        oauth_expires_at__lt=now + AHEAD_OF_EXPIRY,
    )
    refreshed = 0
    for mailbox in due:
        if not (mailbox.inbox.credentials or {}).get("oauth_refresh_token"):
            continue
        try:
            refresh(mailbox)
        except OAuthError as exc:
            logger.warning("OAuth2 refresh for mailbox %s failed: %s", mailbox.pk, exc)
            continue
        refreshed += 1
    return refreshed


@periodic(every_seconds=300)
@task(queue_name="periodic")
def refresh_oauth_tokens() -> int:
    """Refresh OAuth2 access tokens ahead of their expiry."""
    return refresh_due_tokens()
