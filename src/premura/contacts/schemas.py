"""API shapes of contacts."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ninja import Schema

from premura.contacts.models import Contact, Identity


class IdentityOut(Schema):
    kind: str
    scope: str
    external_id: str


class ContactOut(Schema):
    id: int
    name: str
    email: str
    phone: str
    language: str
    organization_id: int | None
    attributes: dict[str, Any]
    notes: str
    merged_into_id: int | None
    created_at: dt.datetime
    identities: list[IdentityOut] | None = None


def contact_dict(contact: Contact, identities: list[Identity] | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": contact.pk,
        "name": contact.name,
        "email": contact.email,
        "phone": contact.phone,
        "language": contact.language,
        "organization_id": contact.organization_id,
        "attributes": contact.attributes,
        "notes": contact.notes,
        "merged_into_id": contact.merged_into_id,
        "created_at": contact.created_at,
    }
    if identities is not None:
        data["identities"] = [
            {"kind": i.kind, "scope": i.scope, "external_id": i.external_id} for i in identities
        ]
    return data
