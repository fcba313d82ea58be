"""Creating and changing email inboxes: the inbox, its mailbox settings and its secrets together."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from premura.channels.models import Inbox
from premura.mail.models import FetchState, Mailbox

if TYPE_CHECKING:
    from premura.routing.models import Team

# The secrets a mailbox may hold; they live in the inbox's encrypted credentials, never shown back.
SECRET_KEYS = frozenset(
    {
        "imap_password",
        "smtp_password",
        "oauth_client_secret",
        "oauth_refresh_token",
        "oauth_access_token",
    }
)

# Mailbox fields a caller may set (the inbox link is ours).
MAILBOX_FIELDS = frozenset(
    f.name for f in Mailbox._meta.concrete_fields if f.name not in {"id", "inbox"}
)

# Changing one of these points the fetcher at another folder: its UIDs mean nothing there, so
# fetching starts again as on a first connection (new mail only, or since `fetch_since`).
_FOLDER_IDENTITY = frozenset({"imap_host", "imap_port", "imap_user", "folder", "inbound"})


def _check_fields(fields: dict[str, Any]) -> None:
    unknown = sorted(set(fields) - MAILBOX_FIELDS)
    if unknown:
        raise ValueError(_("Unknown mailbox setting: %(names)s.") % {"names": ", ".join(unknown)})
    since = fields.get("fetch_since")
    if since is not None and (not isinstance(since, dt.date) or isinstance(since, dt.datetime)):
        raise ValueError(_("“Fetch mail since” must be a date (YYYY-MM-DD) or empty."))


def _check_secrets(secrets: dict[str, str]) -> None:
    unknown = sorted(set(secrets) - SECRET_KEYS)
    if unknown:
        raise ValueError(_("Unknown mailbox secret: %(names)s.") % {"names": ", ".join(unknown)})


def _field_label(name: str) -> str:
    return str(getattr(Mailbox._meta.get_field(name), "verbose_name", name))


def _validate(mailbox: Mailbox) -> None:
    """The model's own checks (address, choices, lengths) plus what IMAP fetching needs."""
    if mailbox.imap_user == "" and mailbox.address:
        mailbox.imap_user = mailbox.address
    try:
        mailbox.full_clean(exclude=["inbox"])
    except ValidationError as exc:
        messages = [
            f"{_field_label(name)}: {' '.join(errors)}" if name != "__all__" else " ".join(errors)
            for name, errors in exc.message_dict.items()
        ]
        raise ValueError(" ".join(messages)) from exc
    for name in ("imap_port", "smtp_port"):
        if not 1 <= getattr(mailbox, name) <= 65535:
            raise ValueError(_("The port must be between 1 and 65535."))
    if mailbox.inbound == Mailbox.Inbound.IMAP:
        if not mailbox.imap_host.strip():
            raise ValueError(_("Enter the IMAP server's host name."))
        if not mailbox.folder.strip():
            raise ValueError(_("Enter the IMAP folder to read (usually INBOX)."))
    if mailbox.poll_seconds < 10:
        raise ValueError(_("The poll interval must be at least 10 seconds."))


def create_email_inbox(
    *,
    name: str,
    address: str,
    team: Team | None = None,
    secrets: dict[str, str],
    **mailbox_fields: Any,
) -> Mailbox:
    """Create an email inbox: the inbox, its mailbox settings and its encrypted secrets, at once.

    Raises ValueError with a message for the person configuring it when a setting is wrong.
    """
    if not name.strip():
        raise ValueError(_("Enter a name for the inbox."))
    _check_fields(mailbox_fields)
    _check_secrets(secrets)
    mailbox = Mailbox(address=address.strip().lower(), **mailbox_fields)
    _validate(mailbox)
    with transaction.atomic():
        inbox = Inbox(name=name.strip()[:120], kind=Inbox.Kind.EMAIL, team=team)
        inbox.credentials = {key: value for key, value in secrets.items() if value}
        inbox.save()
        mailbox.inbox = inbox
        mailbox.save()
        FetchState.objects.create(mailbox=mailbox)
    return mailbox


def update_mailbox(
    mailbox: Mailbox, *, secrets: dict[str, str] | None = None, **mailbox_fields: Any
) -> Mailbox:
    """Change a mailbox's settings and secrets: only the secrets given change, "" removes one.

    Pointing it at another server, account or folder starts fetching again as on a first
    connection (new mail only, or since `fetch_since`), never from a UID of the old folder.
    """
    _check_fields(mailbox_fields)
    _check_secrets(secrets or {})
    if "address" in mailbox_fields:
        mailbox_fields["address"] = str(mailbox_fields["address"]).strip().lower()
    changed = [name for name, value in mailbox_fields.items() if getattr(mailbox, name) != value]
    for name in changed:
        setattr(mailbox, name, mailbox_fields[name])
    _validate(mailbox)
    with transaction.atomic():
        if changed:
            mailbox.save(update_fields=changed)
        if secrets:
            merge_secrets(mailbox, secrets)
        if _FOLDER_IDENTITY & set(changed):
            FetchState.objects.update_or_create(
                mailbox=mailbox,
                defaults={
                    "uidvalidity": None,
                    "last_uid": 0,
                    "baseline_uid": None,
                    "fetched_count": 0,
                    "server_count": None,
                    "count_warning": "",
                },
            )
    return mailbox


def mailbox_secret(mailbox: Mailbox, key: str) -> str:
    """One of the mailbox's secrets ("" when not set); for the code that signs in, never shown."""
    return str((mailbox.inbox.credentials or {}).get(key, ""))


def merge_secrets(mailbox: Mailbox, secrets: dict[str, str]) -> None:
    """Store, or remove ("" value), secrets in the mailbox's encrypted inbox credentials; the
    others stay. Under a row lock, so two concurrent changes never lose each other's keys."""
    with transaction.atomic():
        inbox = Inbox.objects.select_for_update().get(pk=mailbox.inbox_id)
        credentials = dict(inbox.credentials or {})
        for key, value in secrets.items():
            if value:
                credentials[key] = value
            else:
                credentials.pop(key, None)
        inbox.credentials = credentials
        inbox.save(update_fields=["credentials"])
    mailbox.inbox = inbox


def name_taken(name: str, *, mailbox: Mailbox | None = None) -> bool:
    """Another inbox already has this name (names are compared case-insensitively)."""
    others = Inbox.objects.filter(name__iexact=name)
    if mailbox is not None:
        others = others.exclude(pk=mailbox.inbox_id)
    return others.exists()


def address_taken(address: str, *, mailbox: Mailbox | None = None) -> bool:
    """Another email inbox already reads and sends for this address."""
    others = Mailbox.objects.filter(address__iexact=address)
    if mailbox is not None:
        others = others.exclude(pk=mailbox.pk)
    return others.exists()
