"""Finding customers by how they reach us, updating and merging them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from premura.contacts.models import Contact, Identity
from premura.conversations import statements

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
        ("name", info.name[:200]),
        ("email", normalize_email(info.email) if info.email else ""),
        ("phone", info.phone),
        ("language", info.language),
    ):
        if value and not getattr(contact, field_name):
            setattr(contact, field_name, value)
            changed.append(field_name)
    if changed:
        contact.updated_at = timezone.now()
        statements.update(contact, [*changed, "updated_at"])


def resolve_contact(
    info: ContactInfo, *, looked_up: Sequence[Sequence[Any]] | None = None
) -> tuple[Contact, bool]:
    """The contact behind a channel identity, locked for this transaction, and whether it is new.

    The channel's own identity wins; otherwise a known email or phone links the new identity to
    the existing customer, so one person keeps one history across channels. Concurrent first
    messages of a new customer meet on the identity unique constraint and end on one contact.

    One statement looks up every key of the message at once; a new customer costs one more
    (contact and identities written together on PostgreSQL). `looked_up` holds the rows of that
    statement (`lookup_statement`) when the caller ran it inside one of its own.
    """
    keys = _keys(info)
    for _attempt in range(3):
        if looked_up is not None:
            found, looked_up = _found(looked_up), None
        else:
            found = _contact_by_identity(keys)
        contact = next((found[key] for key in keys if key in found), None)
        if contact is not None:
            _attach_missing(contact, [key for key in keys if key not in found])
            _fill_blanks(contact, info)
            return contact, False
        contact = _create_contact(info, keys)
        if contact is not None:
            return contact, True
        # Another transaction created this customer a moment ago: look again.
    raise RuntimeError(f"could not resolve contact for {keys[0]}")


# What ingest reads of a contact; the other fields load on access.
_CONTACT_FIELDS = ("id", "name", "email", "phone", "language")


@cache
def _lookup_sql(vendor: str, keys: int, when: str = "") -> str:
    """Runs for every inbound message: SQL written once instead of compiled by the ORM each time.

    Every contact found is locked, in id order (two messages locking the same contacts never
    wait for each other crosswise).
    """
    match = " OR ".join(['(i."kind" = %s AND i."scope" = %s AND i."external_id" = %s)'] * keys)
    if when:
        match = f"{when} AND ({match})"
    sql = (
        f"SELECT {statements.columns(Contact, _CONTACT_FIELDS, 'c')},"  # noqa: S608 - names from the models
        ' i."kind", i."scope", i."external_id"'
        f" FROM {statements.table(Contact)} c JOIN {statements.table(Identity)} i"
        f' ON i."contact_id" = c."id" WHERE {match} ORDER BY c."id"'
    )
    if connection.features.has_select_for_update_of:
        sql += " FOR UPDATE OF c"
    elif connection.features.has_select_for_update:
        sql += " FOR UPDATE"
    return sql


def lookup_statement(info: ContactInfo, *, when: str = "") -> tuple[str, list[Any]]:
    """The SELECT that finds (and locks) the contact of these identities, for a caller that runs
    it inside a statement of its own and passes the rows to `resolve_contact(looked_up=…)`.

    `when` is an SQL condition of the caller's statement that must hold for anything to be found.
    """
    keys = _keys(info)
    return _lookup_sql(statements.db().vendor, len(keys), when), _lookup_params(keys)


def _lookup_params(keys: list[IdentityKey]) -> list[Any]:
    return [value for key in keys for value in (key.kind, key.scope, key.external_id)]


def _contact_by_identity(keys: list[IdentityKey]) -> dict[IdentityKey, Contact]:
    """The contacts these identities belong to (locked for the transaction), by identity."""
    db = statements.db()
    with statements.cursor() as cursor:
        cursor.execute(_lookup_sql(db.vendor, len(keys)), _lookup_params(keys))
        rows = cursor.fetchall()
    return _found(rows)


def _found(rows: Sequence[Sequence[Any]]) -> dict[IdentityKey, Contact]:
    """Lookup rows as the contact of each identity found (one instance per contact)."""
    contacts: dict[Any, Contact] = {}
    found: dict[IdentityKey, Contact] = {}
    width = len(_CONTACT_FIELDS)
    for row in rows:
        contact = contacts.get(row[0])
        if contact is None:
            contact = contacts[row[0]] = statements.instance(Contact, _CONTACT_FIELDS, row[:width])
        kind, scope, external_id = row[width:]
        found[IdentityKey(kind, external_id, scope)] = contact
    return found


def _create_contact(info: ContactInfo, keys: list[IdentityKey]) -> Contact | None:
    """A new contact with these identities; None when another transaction took one of them.

    A unique identity taken by a concurrent transaction is skipped (`ON CONFLICT DO NOTHING`,
    which waits for that transaction to end): then this contact is removed again and the caller
    looks up the other one, so no savepoint is needed around the INSERTs.
    """
    contact = Contact(
        name=info.name[:200],
        email=normalize_email(info.email) if info.email else "",
        phone=info.phone,
        language=info.language,
    )
    identities = _identities(contact, keys)
    db = statements.db()
    if db.vendor == "postgresql":
        contact_sql, contact_fields = statements.insert_sql(Contact, 1)
        identity_sql, identity_fields = statements.insert_sql(
            Identity, len(identities), expressions={"contact_id": "(SELECT id FROM c)"}
        )
        sql = (
            f"WITH c AS ({contact_sql} RETURNING id),"  # noqa: S608 - names from the models
            f" i AS ({identity_sql} ON CONFLICT DO NOTHING RETURNING 1)"
            " SELECT (SELECT id FROM c), (SELECT count(*) FROM i)"
        )
        params = statements.params([contact], contact_fields, db)
        params += statements.params(identities, identity_fields, db)
        with statements.cursor() as cursor:
            cursor.execute(sql, params)
            row = cursor.fetchone()
        assert row is not None
        contact.pk, inserted = row
        statements.saved(contact)
    else:
        statements.insert([contact])
        for identity in identities:
            identity.contact = contact
        identity_sql, identity_fields = statements.insert_sql(Identity, len(identities))
        with statements.cursor() as cursor:
            cursor.execute(
                f"{identity_sql} ON CONFLICT DO NOTHING RETURNING 1",
                statements.params(identities, identity_fields, db),
            )
            inserted = len(cursor.fetchall())
    if inserted == len(identities):
        return contact
    with statements.cursor() as cursor:
        cursor.execute(
            f'DELETE FROM {statements.table(Identity)} WHERE "contact_id" = %s',  # noqa: S608
            [contact.pk],
        )
        cursor.execute(
            f'DELETE FROM {statements.table(Contact)} WHERE "id" = %s',  # noqa: S608
            [contact.pk],
        )
    return None


def _identities(contact: Contact, keys: list[IdentityKey]) -> list[Identity]:
    """Identity rows linking these keys to a contact."""
    return [
        Identity(contact=contact, kind=k.kind, scope=k.scope, external_id=k.external_id)
        for k in keys
    ]


def _attach_missing(contact: Contact, missing: list[IdentityKey]) -> None:
    """Link the identities this message revealed that nobody has yet.

    Identities found on another contact stay there; one taken a moment ago by a concurrent
    transaction is skipped. A message repeating known ids (the usual case) costs no statement.
    """
    if missing:
        statements.insert(_identities(contact, missing), ignore_conflicts=True)


EDITABLE_FIELDS = ("name", "email", "phone", "language", "notes", "attributes", "organization_id")


def update_contact(contact: Contact, changes: dict[str, Any]) -> Contact:
    """Change a contact's editable fields; a new email or phone also becomes an identity.

    ValueError for a field that is not editable, an invalid email or an invalid phone number.
    """
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValueError(f"fields not editable: {', '.join(sorted(unknown))}")
    with transaction.atomic():
        if changes.get("email"):
            changes["email"] = normalize_email(changes["email"])
            try:
                validate_email(changes["email"])
            except ValidationError as exc:
                raise ValueError(f"not a valid email address: {changes['email']!r}") from exc
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
    """Move everything of `source` into `target` (premura.contacts.merging, which can undo it)."""
    from premura.contacts.merging import merge_contacts as merge

    return merge(source, target, actor)
