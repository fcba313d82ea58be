"""One inbound email into its case: parse, skip what must not come back, thread, ingest.

Used by the IMAP fetcher and the provider webhooks alike. In one transaction (nested in the
fetcher's, which also moves the folder's last UID forward): the message through `ingest()`, the
email's Message-ID as an EmailReference (replies to it thread here), and, for a bounce of an email
Premura sent, that message marked failed.

Decisions:
- The customer is the From address. Reply-To is used only when From is missing or is the
  mailbox's own address (a web shop's form mailing "From: shop, Reply-To: customer"); a Reply-To
  set by a mailing list or a mail client must not move a message to someone else's history.
- provider_message_id is the Message-ID (without <>), else "sha256:" + the digest of the raw
  bytes: fetching the same message again (a restart, a UIDVALIDITY change) stores nothing twice.
- An email from the mailbox's own address whose Message-ID is one Premura sent (our own reply
  delivered back into the folder, a Bcc to the support address) is skipped; so is one of a case
  an admin deleted (ingest refuses it: its raw payload's tombstone).
- An attachment over PREMURA_MAX_ATTACHMENT_BYTES is left out with a note in the text; the
  message itself is always kept.
- When ingest fails inside an outer transaction (the fetcher's), the "failed" raw payload it
  keeps is rolled back with it: for IMAP that is fine, the message stays on the server and the
  fetcher counts the failure (QuarantinedEmail) and keeps the raw source when it gives up.
"""

from __future__ import annotations

import hashlib
import logging
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import DatabaseError, transaction
from django.utils.translation import gettext as _

from premura.contacts.models import Identity
from premura.contacts.services import ContactInfo, IdentityKey
from premura.conversations import outbox, statements
from premura.conversations.ingest import (
    ConversationDeleted,
    InboundAttachment,
    InboundMessage,
    IngestResult,
    RawPayload,
    ingest,
)
from premura.conversations.models import Message
from premura.mail.models import EmailReference
from premura.mail.parsing import parse_email
from premura.mail.threading import find_case

if TYPE_CHECKING:
    from premura.mail.models import Mailbox
    from premura.mail.parsing import ParsedAttachment, ParsedEmail

logger = logging.getLogger(__name__)

CONTENT_TYPE = "message/rfc822"
# The identity of an email with no usable sender address (.invalid is never a real domain).
UNKNOWN_SENDER = "unknown-sender@invalid"


def provider_message_id(parsed: ParsedEmail, raw: bytes) -> str:
    """The Message-ID without <>, or a digest of the raw bytes when the email has none."""
    if parsed.message_id:
        return parsed.message_id[:255]
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def sender_of(parsed: ParsedEmail, mailbox: Mailbox) -> ContactInfo:
    """Who the customer is: From, or Reply-To when From is missing or our own address."""
    own = {mailbox.address.lower()}
    address, name = parsed.from_address, parsed.from_name
    if (not address or address in own) and parsed.reply_to and parsed.reply_to not in own:
        address, name = parsed.reply_to, ""
    if not address:
        return ContactInfo(
            identity=IdentityKey(Identity.Kind.EMAIL, UNKNOWN_SENDER), name=_("Unknown sender")
        )
    address = address.lower()
    return ContactInfo(identity=IdentityKey(Identity.Kind.EMAIL, address), name=name, email=address)


def _attachment_name(item: ParsedAttachment) -> str:
    return item.filename or item.content_id or "attachment"


def attachments_and_notes(
    parsed: ParsedEmail,
) -> tuple[tuple[InboundAttachment, ...], list[str]]:
    """The attachments to keep, and a note for each one left out for its size."""
    limit = settings.PREMURA_MAX_ATTACHMENT_BYTES
    kept: list[InboundAttachment] = []
    notes: list[str] = []
    for item in parsed.attachments:
        if len(item.content) > limit:
            notes.append(
                _(
                    "[The attachment “%(name)s” (%(size)s bytes) was not kept: it is over the "
                    "limit of %(limit)s bytes.]"
                )
                % {"name": _attachment_name(item), "size": len(item.content), "limit": limit}
            )
            continue
        kept.append(
            InboundAttachment(
                filename=_attachment_name(item),
                content=item.content,
                declared_content_type=item.content_type,
                content_id=item.content_id,
                inline=item.inline,
            )
        )
    return tuple(kept), notes


_OWN_SQL = "SELECT EXISTS (SELECT 1 FROM {refs} WHERE header_message_id = %s AND outbound)"  # noqa: S608 - table name from the model


def _ours(mailbox: Mailbox, parsed: ParsedEmail, message_id: str) -> bool:
    """An email Premura sent itself, delivered back to the mailbox (a Bcc, a copy to the
    address): never imported. Asked only for mail from the mailbox's own address."""
    if parsed.from_address != mailbox.address.lower():
        return False
    with statements.cursor() as cursor:
        cursor.execute(_OWN_SQL.format(refs=statements.table(EmailReference)), [message_id])
        row = cursor.fetchone()
    return bool(row and row[0])


def _bounced_message(parsed: ParsedEmail) -> tuple[Message | None, int | None]:
    """For a bounce of an email Premura sent: that message and its case."""
    if parsed.bounce is None or not parsed.bounce.original_message_id:
        return None, None
    reference = (
        EmailReference.objects.filter(
            header_message_id=parsed.bounce.original_message_id, outbound=True
        )
        .select_related("message")
        .order_by("-created_at")
        .first()
    )
    if reference is None:
        return None, None
    return reference.message, reference.conversation_id


def parse_for(mailbox: Mailbox, raw: bytes) -> ParsedEmail:
    """Parse an email as this mailbox sees it (its own address marks our own mail)."""
    return parse_email(raw, own_addresses=frozenset({mailbox.address.lower()}))


class TransactionSpoiled(Exception):
    """A statement of this email failed outside ingest's own savepoint (or after ingest stored
    the message): the caller's transaction is no longer consistent and must roll back whole."""


def ingest_email(
    mailbox: Mailbox,
    raw: bytes,
    *,
    historical: bool = False,
    parsed: ParsedEmail | None = None,
    savepoint: bool = True,
) -> IngestResult | None:
    """Store one raw email in its case; None when it is skipped (a deleted case's, or our own).

    Safe to call again with the same email: the second call returns the stored message with
    created=False and writes nothing. Raises UnparseableEmail or the ingest error on failure.
    `parsed` is `parse_for(mailbox, raw)` when the caller parsed it already (the fetcher parses
    ahead in a thread while this one waits for the database).

    With `savepoint=False` (the fetcher, which commits messages in groups) neither this function
    nor ingest() takes a savepoint, four statements fewer per message: any failure raises
    TransactionSpoiled so that the caller rolls the group back and counts the failure.
    """
    if parsed is None:
        parsed = parse_for(mailbox, raw)
    if savepoint:
        with transaction.atomic():
            return _ingest_parsed(mailbox, raw, parsed, historical, savepoint=True)
    return _ingest_parsed(mailbox, raw, parsed, historical, savepoint=False)


def _ingest_parsed(
    mailbox: Mailbox, raw: bytes, parsed: ParsedEmail, historical: bool, *, savepoint: bool
) -> IngestResult | None:
    message_id = provider_message_id(parsed, raw)
    try:
        if _ours(mailbox, parsed, message_id):
            return None
        bounced, bounce_case = _bounced_message(parsed)
        conversation_id = bounce_case or find_case(parsed, mailbox)
    except DatabaseError as exc:
        raise TransactionSpoiled(repr(exc)) from exc
    attachments, notes = attachments_and_notes(parsed)
    text = parsed.text
    if notes:
        text = "\n\n".join([text.rstrip(), *notes]) if text.strip() else "\n\n".join(notes)
    header_id = parsed.message_id[:998]

    def reference(message: Message) -> list[statements.Rows]:
        # Replies to this email thread here: its Message-ID, written with the message.
        values = {
            "header_message_id": header_id,
            "conversation_id": message.conversation_id,
            "message_id": message.pk,
            "outbound": False,
            "created_at": message.created_at,
        }
        return [statements.Rows(EmailReference, [values])] if header_id else []

    inbound = InboundMessage(
        provider_message_id=message_id,
        contact=sender_of(parsed, mailbox),
        text=text,
        html=parsed.html,
        subject=parsed.subject,
        sent_at=parsed.date,
        attachments=attachments,
        historical=historical,
        conversation_id=conversation_id,
        automated=bool(parsed.automated),
        with_message=reference,
    )
    payload = RawPayload(body=raw, content_type=CONTENT_TYPE)
    try:
        # Without a savepoint (the fetcher's groups), a failed ingest spoils the caller's
        # transaction: the group rolls back and the email is counted, retried or quarantined.
        result = ingest(mailbox.inbox, inbound, payload, savepoint=savepoint)
    except ConversationDeleted:
        return None  # an email of a case an admin deleted: its tombstone keeps it out
    except TransactionSpoiled:
        raise
    except Exception as exc:
        if savepoint:
            raise
        raise TransactionSpoiled(repr(exc)) from exc
    if not result.created or bounced is None or parsed.bounce is None:
        return result
    try:
        error = parsed.bounce.diagnostic or parsed.bounce.status or _("The email bounced.")
        outbox.apply_receipt(bounced, Message.Delivery.FAILED, error=error)
    except Exception as exc:
        # The bounce is stored but its reply not marked: only a rollback of it all is consistent.
        raise TransactionSpoiled(repr(exc)) from exc
    return result
