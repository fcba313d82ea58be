"""Finding customers by how they reach us, updating and merging them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import phonenumbers
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from premura.contacts.models import Contact, Identity

if TYPE_CHECKING:
    from premura.accounts.models import User


@dataclass(frozen=True)
class IdentityKey:
    """A channel identity: kind, scope (empty for global ids) and the id itself."""

    kind: str
    external_id: str
    scope: str = ""

    def q(self) -> Q:
        return Q(kind=self.kind, scope=self.scope, external_id=self.external_id)


@dataclass(frozen=True)
class ContactInfo:
    """What a channel knows about the sender of a message."""

    identity: IdentityKey
    name: str = ""
    email: str = ""
    phone: str = ""
    language: str = ""


def normalize_email(email: str) -> str:
    """Email addresses are matched case-insensitively."""
    return email.strip().lower()


def normalize_phone(phone: str, region: str | None = None) -> str:
    """A phone number in E.164 (+393471234567); ValueError when it is not a valid number."""
    try:
        number = phonenumbers.parse(phone, region or settings.PREMURA_DEFAULT_PHONE_REGION)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(f"not a phone number: {phone!r}") from exc
    if not phonenumbers.is_valid_number(number):
        raise ValueError(f"not a valid phone number: {phone!r}")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _keys(info: ContactInfo) -> list[IdentityKey]:
    keys = [info.identity]
    if info.email:
        keys.append(IdentityKey(Identity.Kind.EMAIL, normalize_email(info.email)))
    if info.phone:
        keys.append(IdentityKey(Identity.Kind.PHONE, info.phone))
    unique: list[IdentityKey] = []
    for key in keys:
        if key not in unique:
            unique.append(key)
    return unique


def _fill_blanks(contact: Contact, info: ContactInfo) -> None:
    changed = []
    for field_name, value in (
        ("name", info.name),
        ("email", normalize_email(info.email) if info.email else ""),
        ("phone", info.phone),
        ("language", info.language),
    ):
        if value and not getattr(contact, field_name):
            setattr(contact, field_name, value)
            changed.append(field_name)
    if changed:
        contact.save(update_fields=[*changed, "updated_at"])


def resolve_contact(info: ContactInfo) -> tuple[Contact, bool]:
    """The contact behind a channel identity, locked for this transaction, and whether it is new.

    The channel's own identity wins; otherwise a known email or phone links the new identity to
    the existing customer, so one person keeps one history across channels. Concurrent first
    messages of a new customer meet on the identity unique constraint and end on one contact.
    """
    keys = _keys(info)
    locked = Contact.objects.select_for_update(of=("self",))
    for _attempt in range(3):
        contact = _contact_by_identity(keys[0])
        if contact is None and len(keys) > 1:
            other = (
                Identity.objects.filter(_any(keys[1:]))
                .order_by("kind")  # "email" before "phone"
                .values_list("contact_id", flat=True)
                .first()
            )
            if other is not None:
                contact = locked.get(pk=other)
        if contact is not None:
            _attach_missing(contact, keys, info)
            _fill_blanks(contact, info)
            return contact, False
        try:
            with transaction.atomic():
                contact = Contact.objects.create(
                    name=info.name[:200],
                    email=normalize_email(info.email) if info.email else "",
                    phone=info.phone,
                    language=info.language,
                )
                Identity.objects.bulk_create(_identities(contact, keys))
                return contact, True
        except IntegrityError:
            # Another transaction created this customer a moment ago: look again.
            continue
    raise RuntimeError(f"could not resolve contact for {keys[0]}")


_CONTACT = Contact._meta.db_table
_IDENTITY = Identity._meta.db_table
# Runs for every inbound message: written as SQL once instead of compiled by the ORM each time.
_BY_IDENTITY_SQL = (
    f'SELECT c.* FROM "{_CONTACT}" c JOIN "{_IDENTITY}" i ON i."contact_id" = c."id"'  # noqa: S608
    ' WHERE i."kind" = %s AND i."scope" = %s AND i."external_id" = %s LIMIT 1'
)


def _contact_by_identity(key: IdentityKey) -> Contact | None:
    """The contact with this identity, locked for the transaction."""
    sql = _BY_IDENTITY_SQL
    if connection.features.has_select_for_update_of:
        sql += " FOR UPDATE OF c"
    elif connection.features.has_select_for_update:
        sql += " FOR UPDATE"
    return next(iter(Contact.objects.raw(sql, [key.kind, key.scope, key.external_id])), None)


def _identities(contact: Contact, keys: list[IdentityKey]) -> list[Identity]:
    """Identity rows linking these keys to a contact."""
    return [
        Identity(contact=contact, kind=k.kind, scope=k.scope, external_id=k.external_id)
        for k in keys
    ]


def _any(keys: list[IdentityKey]) -> Q:
    q = Q()
    for key in keys:
        q |= key.q()
    return q


def _attach_missing(contact: Contact, keys: list[IdentityKey], info: ContactInfo) -> None:
    """Link the identities this message revealed; ids that belong to someone else stay there.

    The contact's own email and phone got their identities when they were set, so a message
    repeating them (the usual case) costs no statement.
    """
    known_email = not info.email or normalize_email(info.email) == contact.email
    known_phone = not info.phone or info.phone == contact.phone
    if len(keys) == 1 or (known_email and known_phone):
        return
    Identity.objects.bulk_create(_identities(contact, keys), ignore_conflicts=True)


EDITABLE_FIELDS = ("name", "email", "phone", "language", "notes", "attributes", "organization_id")


def update_contact(contact: Contact, changes: dict[str, Any]) -> Contact:
    """Change a contact's editable fields; a new email or phone also becomes an identity."""
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValueError(f"fields not editable: {', '.join(sorted(unknown))}")
    with transaction.atomic():
        if changes.get("email"):
            changes["email"] = normalize_email(changes["email"])
        if changes.get("phone"):
            changes["phone"] = normalize_phone(changes["phone"])
        for name, value in changes.items():
            setattr(contact, name, value)
        contact.save(update_fields=[*changes, "updated_at"])
        keys = []
        if changes.get("email"):
            keys.append(IdentityKey(Identity.Kind.EMAIL, changes["email"]))
        if changes.get("phone"):
            keys.append(IdentityKey(Identity.Kind.PHONE, changes["phone"]))
        if keys:
            Identity.objects.bulk_create(_identities(contact, keys), ignore_conflicts=True)
    return contact


def merge_contacts(source: Contact, target: Contact, actor: User | None) -> Contact:
    """Move everything of `source` into `target`: identities, conversations, blank fields.

    `source` stays as a tombstone pointing at `target`; every moved conversation records a
    contact_merged event naming who merged what.
    """
    from premura.conversations.models import Conversation, ConversationEvent

    if source.pk == target.pk:
        raise ValueError("a contact cannot be merged into itself")
    with transaction.atomic():
        first, second = sorted([source.pk, target.pk])
        locked = {
            c.pk: c for c in Contact.objects.select_for_update().filter(pk__in=[first, second])
        }
        source, target = locked[source.pk], locked[target.pk]
        if source.merged_into_id is not None:
            raise ValueError("this contact was already merged into another")
        conversation_ids = list(
            Conversation.objects.filter(contact=source).values_list("id", flat=True)
        )
        Identity.objects.filter(contact=source).update(contact=target)
        Conversation.objects.filter(contact=source).update(contact=target)
        for name in ("name", "email", "phone", "language", "notes"):
            if not getattr(target, name) and getattr(source, name):
                setattr(target, name, getattr(source, name))
        if target.organization_id is None:
            target.organization_id = source.organization_id
        target.attributes = {**source.attributes, **target.attributes}
        target.save()
        source.merged_into = target
        source.save(update_fields=["merged_into", "updated_at"])
        now = timezone.now()
        ConversationEvent.objects.bulk_create(
            [
                ConversationEvent(
                    conversation_id=cid,
                    kind=ConversationEvent.Kind.CONTACT_MERGED,
                    actor_user=actor,
                    payload={"from_contact": source.pk, "into_contact": target.pk},
                    created_at=now,
                )
                for cid in conversation_ids
            ]
        )
    return target
