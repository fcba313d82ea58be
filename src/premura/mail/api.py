"""Email inbox configuration for admins: settings, write-only secrets, fetch status, a live test."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any, Literal

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, Query, Router, Schema, Status
from pydantic import field_validator

from premura.api.auth import AgentToken, require_admin
from premura.api.errors import APIError
from premura.api.pagination import decode_cursor, encode_cursor
from premura.channels.models import Inbox
from premura.mail import oauth, webhooks
from premura.mail.connection import CheckReport, check_imap
from premura.mail.imap import stale_after
from premura.mail.models import FetchState, Mailbox
from premura.mail.outbound import ANYMAIL_ESPS, check_smtp
from premura.mail.requirements import missing_settings
from premura.mail.services import (
    SECRET_KEYS,
    address_taken,
    create_email_inbox,
    name_taken,
    update_mailbox,
)
from premura.routing.models import Team

router = Router(tags=["Email inboxes"], auth=AgentToken())

# The secrets an admin may write through the API; OAuth2 tokens come from the consent flow, the
# webhook password from Premura (made when the inbox starts receiving through webhooks).
MAILBOX_SECRETS = ("imap_password", "smtp_password", "oauth_client_secret")
PROVIDER_SECRETS = ("api_key", "secret_key", "webhook_signing_key")
WRITABLE_SECRETS = MAILBOX_SECRETS + PROVIDER_SECRETS
_INBOX_FIELDS = ("name", "team_id")
_NULLABLE = frozenset({"team_id", "fetch_since"})
Security = Literal["tls", "starttls", "none"]


class EmailInboxPatchIn(Schema):
    """Every field optional: only those sent change; a secret sent as "" is removed."""

    # An omitted field stays as it is; null clears team_id and fetch_since, and is a 422 for the
    # others (see _split).
    name: str | None = Field(None, min_length=1, max_length=120)
    team_id: int | None = None
    address: str | None = Field(None, max_length=254)
    from_name: str | None = Field(None, max_length=120)
    signature: str | None = Field(None, max_length=20_000)
    auth: Literal["password", "oauth2"] | None = None
    inbound: Literal["imap", "webhook"] | None = None
    outbound: Literal["smtp", "anymail"] | None = None
    imap_host: str | None = Field(None, max_length=255)
    imap_port: int | None = Field(None, ge=1, le=65535)
    imap_security: Security | None = None
    imap_user: str | None = Field(None, max_length=255)
    folder: str | None = Field(None, min_length=1, max_length=255)
    use_idle: bool | None = None
    poll_seconds: int | None = Field(None, ge=10, le=86400)
    fetch_since: dt.date | None = Field(None, description="Import mail since this date (history)")
    smtp_host: str | None = Field(None, max_length=255)
    smtp_port: int | None = Field(None, ge=1, le=65535)
    smtp_security: Security | None = None
    smtp_user: str | None = Field(None, max_length=255)
    esp_name: str | None = Field(None, max_length=40)
    esp_api_url: str | None = Field(
        None, max_length=500, description="The provider's API address (Postal, EU accounts …)"
    )
    esp_sender_domain: str | None = Field(None, max_length=255)
    oauth_provider: Literal["", "google", "microsoft"] | None = None
    oauth_client_id: str | None = Field(None, max_length=255)
    imap_password: str | None = Field(None, max_length=4000, description="Write-only")
    smtp_password: str | None = Field(None, max_length=4000, description="Write-only")
    oauth_client_secret: str | None = Field(None, max_length=4000, description="Write-only")
    api_key: str | None = Field(
        None, max_length=4000, description="Write-only: the provider's API key (esp_name)"
    )
    secret_key: str | None = Field(
        None, max_length=4000, description="Write-only: Mailjet's secret key"
    )
    webhook_signing_key: str | None = Field(
        None,
        max_length=4000,
        description="Write-only: Mailgun's webhook signing key, MailerSend's inbound secret",
    )

    @field_validator("address")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            validate_email(value.strip())
        except DjangoValidationError as exc:
            raise ValueError("not a valid email address") from exc
        return value.strip().lower()

    @field_validator("esp_name")
    @classmethod
    def _esp(cls, value: str | None) -> str | None:
        if value and value not in ANYMAIL_ESPS:
            raise ValueError(f"one of: {', '.join(ANYMAIL_ESPS)}")
        return value

    @field_validator("esp_api_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value and not value.startswith(("https://", "http://")):
            raise ValueError("an http(s) URL")
        return value

    @field_validator("fetch_since")
    @classmethod
    def _not_future(cls, value: dt.date | None) -> dt.date | None:
        if value is not None and value > timezone.localdate():
            raise ValueError("the date cannot be in the future")
        return value


class EmailInboxIn(EmailInboxPatchIn):
    """A new email inbox; settings not sent take the settings page's defaults."""

    name: str = Field(..., min_length=1, max_length=120)
    address: str = Field(..., max_length=254)


class FetchStatusOut(Schema):
    last_success_at: dt.datetime | None
    last_error: str
    last_error_at: dt.datetime | None
    count_warning: str
    stale: bool
    quarantined: int


class EmailInboxOut(Schema):
    id: int
    name: str
    team_id: int | None
    is_active: bool
    address: str
    from_name: str
    signature: str
    auth: str
    inbound: str
    outbound: str
    imap_host: str
    imap_port: int
    imap_security: str
    imap_user: str
    folder: str
    use_idle: bool
    poll_seconds: int
    fetch_since: dt.date | None
    smtp_host: str
    smtp_port: int
    smtp_security: str
    smtp_user: str
    esp_name: str
    esp_api_url: str
    esp_sender_domain: str
    oauth_provider: str
    oauth_client_id: str
    secrets_set: list[str] = Field(..., description="Names of the secrets stored; never values")
    fetch: FetchStatusOut


class EmailInboxSavedOut(EmailInboxOut):
    webhook_secret: str | None = Field(
        None,
        description=(
            "Only in the answer that made it: the basic-auth user:password of the inbox's "
            "inbound webhook URLs (webhook_urls)"
        ),
    )
    webhook_urls: dict[str, str] = Field(
        default_factory=dict,
        description="Inbound webhook URL per provider, with the new password written into it",
    )


class WebhookSecretOut(Schema):
    webhook_secret: str
    webhook_urls: dict[str, str]


class EmailInboxPage(Schema):
    items: list[EmailInboxOut]
    next_cursor: str | None


class CheckOut(Schema):
    ok: bool
    stage: str
    message: str


class ConnectionTestOut(Schema):
    imap: CheckOut | None
    smtp: CheckOut | None


class ListFilters(Schema):
    cursor: str | None = None
    limit: int = Field(25, ge=1, le=100)


# Listed by name in `secrets_set`: the mailbox's own and the provider's.
_SECRET_NAMES = SECRET_KEYS | webhooks.PROVIDER_SECRET_KEYS

_SETTINGS = tuple(
    name
    for name in EmailInboxOut.model_fields
    if name not in {"id", "name", "team_id", "is_active", "secrets_set", "fetch"}
)


def _quarantine_count() -> Count:
    return Count(
        "quarantine", filter=Q(quarantine__quarantined=True, quarantine__released_at__isnull=True)
    )


def _mailboxes() -> QuerySet[Mailbox]:
    return Mailbox.objects.select_related("inbox", "fetch_state").annotate(
        quarantined_count=_quarantine_count()
    )


def _mailbox(inbox_id: int) -> Mailbox:
    """The email inbox's mailbox; 404 for an unknown inbox or one of another kind."""
    mailbox = _mailboxes().filter(inbox_id=inbox_id, inbox__kind=Inbox.Kind.EMAIL).first()
    if mailbox is None:
        raise APIError(404, "not_found", "No email inbox with this id.")
    return mailbox


def _fetch_status(mailbox: Mailbox, now: dt.datetime) -> dict[str, Any]:
    state: FetchState | None = getattr(mailbox, "fetch_state", None)
    # Only mailboxes the fetcher reads can fall behind (as premura.mail.imap.stale_mailboxes).
    fetched = mailbox.inbound == Mailbox.Inbound.IMAP and mailbox.inbox.is_active
    return {
        "last_success_at": state.last_success_at if state else None,
        "last_error": state.last_error if state else "",
        "last_error_at": state.last_error_at if state else None,
        "count_warning": state.count_warning if state else "",
        "stale": bool(fetched and state and state.is_stale(now, stale_after())),
        "quarantined": getattr(mailbox, "quarantined_count", 0),
    }


def email_inbox_dict(mailbox: Mailbox, now: dt.datetime | None = None) -> dict[str, Any]:
    """The inbox's settings and fetch status; secrets by name only."""
    inbox = mailbox.inbox
    credentials = inbox.credentials or {}
    return {
        "id": inbox.pk,
        "name": inbox.name,
        "team_id": inbox.team_id,
        "is_active": inbox.is_active,
        **{name: getattr(mailbox, name) for name in _SETTINGS},
        "secrets_set": sorted(k for k, v in credentials.items() if v and k in _SECRET_NAMES),
        "fetch": _fetch_status(mailbox, now or timezone.now()),
    }


def _invalid(name: str | None, message: str) -> APIError:
    loc = ["body", "payload", name] if name else ["body", "payload"]
    return APIError(
        422, "validation_error", message, [{"loc": loc, "msg": message, "type": "value_error"}]
    )


def _split(payload: EmailInboxPatchIn) -> tuple[dict[str, Any], dict[str, Any], dict[str, str]]:
    """The sent fields as (inbox fields, mailbox fields, secrets of both kinds)."""
    data = payload.dict(exclude_unset=True)
    for name, value in data.items():
        if value is None and name not in _NULLABLE:
            raise _invalid(name, "This field cannot be null.")
    secrets = {key: data.pop(key) for key in WRITABLE_SECRETS if key in data}
    inbox = {key: data.pop(key) for key in _INBOX_FIELDS if key in data}
    fields = {
        k: v.strip() if isinstance(v, str) and k != "signature" else v for k, v in data.items()
    }
    if fields.get("oauth_provider") in oauth.PROVIDERS:
        fields.update(oauth.provider_settings(fields["oauth_provider"]))
    if "name" in inbox:
        inbox["name"] = " ".join(inbox["name"].split())
    return inbox, fields, secrets


def _check_unique(inbox: dict[str, Any], fields: dict[str, Any], mailbox: Mailbox | None) -> None:
    """As the settings page: one inbox per name, one email inbox per address."""
    if "name" in inbox:
        if not inbox["name"]:
            raise _invalid("name", "Enter a name.")
        if name_taken(inbox["name"], mailbox=mailbox):
            raise _invalid("name", "An inbox with this name already exists.")
    if "address" in fields and address_taken(fields["address"], mailbox=mailbox):
        raise _invalid("address", "Another email inbox already uses this address.")


def _team(inbox: dict[str, Any]) -> Team | None:
    team_id = inbox.get("team_id")
    if team_id is None:
        return None
    team = Team.objects.filter(pk=team_id).first()
    if team is None:
        raise _invalid("team_id", "No team with this id.")
    return team


def _check_complete(mailbox: Mailbox, secrets: set[str]) -> None:
    """As the settings page: each way in and out has what it needs (the first thing missing)."""
    for name, message in missing_settings(mailbox, secrets):
        raise _invalid(name, message)


def _saved(mailbox: Mailbox, new_webhook_secret: str) -> dict[str, Any]:
    """The inbox as EmailInboxSavedOut: with the webhook password when this save made it."""
    answer = email_inbox_dict(_mailbox(mailbox.inbox_id))
    if new_webhook_secret:
        answer["webhook_secret"] = new_webhook_secret
        answer["webhook_urls"] = webhooks.webhook_urls(mailbox.inbox_id, secret=new_webhook_secret)
    return answer


def _provider(secrets: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """Secrets as (for the mailbox services, for webhooks.set_provider_secrets)."""
    provider = {key: secrets.pop(key) for key in PROVIDER_SECRETS if key in secrets}
    return secrets, provider


@router.post(
    "/email-inboxes", response={201: EmailInboxSavedOut}, summary="Create an email inbox (admins)"
)
def create(request: HttpRequest, payload: EmailInboxIn) -> Status[dict[str, Any]]:
    require_admin(request)
    inbox, fields, secrets = _split(payload)
    _check_unique(inbox, fields, None)
    team = _team(inbox)
    _check_complete(Mailbox(**fields), {k for k, v in secrets.items() if v})
    address = fields.pop("address")
    mailbox_secrets, provider_secrets = _provider(secrets)
    try:
        with transaction.atomic():
            mailbox = create_email_inbox(
                name=inbox["name"], address=address, team=team, secrets=mailbox_secrets, **fields
            )
            new_secret = webhooks.set_provider_secrets(mailbox, provider_secrets)
    except ValueError as exc:
        raise _invalid(None, str(exc)) from exc
    return Status(201, _saved(mailbox, new_secret))


@router.get("/email-inboxes", response=EmailInboxPage, summary="List email inboxes (admins)")
def list_email_inboxes(request: HttpRequest, filters: Query[ListFilters]) -> dict[str, Any]:
    require_admin(request)
    qs = _mailboxes().filter(inbox__kind=Inbox.Kind.EMAIL)
    if filters.cursor:
        qs = qs.filter(inbox_id__gt=decode_cursor(filters.cursor, (int,))[0])
    rows = list(qs.order_by("inbox_id")[: filters.limit + 1])
    more = len(rows) > filters.limit
    rows = rows[: filters.limit]
    now = timezone.now()
    return {
        "items": [email_inbox_dict(m, now) for m in rows],
        "next_cursor": encode_cursor([rows[-1].inbox_id]) if more and rows else None,
    }


@router.get(
    "/email-inboxes/{inbox_id}", response=EmailInboxOut, summary="Get an email inbox (admins)"
)
def get_email_inbox(request: HttpRequest, inbox_id: int) -> dict[str, Any]:
    require_admin(request)
    return email_inbox_dict(_mailbox(inbox_id))


@router.patch(
    "/email-inboxes/{inbox_id}",
    response=EmailInboxSavedOut,
    summary="Change an email inbox (admins)",
)
def patch_email_inbox(
    request: HttpRequest, inbox_id: int, payload: EmailInboxPatchIn
) -> dict[str, Any]:
    require_admin(request)
    mailbox = _mailbox(inbox_id)
    inbox, fields, secrets = _split(payload)
    _check_unique(inbox, fields, mailbox)
    team = _team(inbox)
    probe = copy.copy(mailbox)
    for name, value in fields.items():
        setattr(probe, name, value)
    stored = {k for k, v in (mailbox.inbox.credentials or {}).items() if v}
    _check_complete(probe, (stored - set(secrets)) | {k for k, v in secrets.items() if v})
    mailbox_secrets, provider_secrets = _provider(secrets)
    try:
        with transaction.atomic():
            if inbox:
                target = mailbox.inbox
                target.name = inbox.get("name", target.name)
                target.team = team if "team_id" in inbox else target.team
                target.save(update_fields=["name", "team"])
            update_mailbox(mailbox, secrets=mailbox_secrets, **fields)
            new_secret = webhooks.set_provider_secrets(mailbox, provider_secrets)
    except ValueError as exc:
        raise _invalid(None, str(exc)) from exc
    return _saved(mailbox, new_secret)


@router.post(
    "/email-inboxes/{inbox_id}/webhook-secret",
    response=WebhookSecretOut,
    summary="Make a new webhook password (admins)",
)
def rotate_webhook_secret(request: HttpRequest, inbox_id: int) -> dict[str, Any]:
    """The old password stops working at once: paste the new URLs at the provider."""
    require_admin(request)
    mailbox = _mailbox(inbox_id)
    if mailbox.inbound != Mailbox.Inbound.WEBHOOK:
        raise APIError(
            409, "conflict", "This inbox fetches over IMAP: it takes no webhooks to protect."
        )
    secret = webhooks.rotate_webhook_secret(mailbox)
    return {
        "webhook_secret": secret,
        "webhook_urls": webhooks.webhook_urls(inbox_id, secret=secret),
    }


def _report(report: CheckReport) -> dict[str, Any]:
    return {"ok": report.ok, "stage": report.stage, "message": report.message}


@router.post(
    "/email-inboxes/{inbox_id}/test",
    response=ConnectionTestOut,
    summary="Test the inbox's IMAP and SMTP connections (admins)",
)
def check_email_inbox(request: HttpRequest, inbox_id: int) -> dict[str, Any]:
    """Connects with the stored settings; a failure says its stage (dns, connect, tls, login …)."""
    require_admin(request)
    mailbox = _mailbox(inbox_id)
    imap = check_imap(mailbox) if mailbox.inbound == Mailbox.Inbound.IMAP else None
    smtp = check_smtp(mailbox) if mailbox.outbound == Mailbox.Outbound.SMTP else None
    return {
        "imap": _report(imap) if imap else None,
        "smtp": _report(smtp) if smtp else None,
    }
