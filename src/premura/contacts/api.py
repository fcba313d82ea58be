"""REST API for contacts: list, search, get, update, merge."""

from __future__ import annotations

import contextlib
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db.models import Q
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Field, Query, Router, Schema

from premura.api.auth import AgentToken, agent
from premura.api.errors import APIError
from premura.api.pagination import decode_cursor, encode_cursor
from premura.contacts.models import Contact, Identity, Organization
from premura.contacts.schemas import ContactOut, contact_dict
from premura.contacts.services import (
    merge_contacts,
    normalize_email,
    normalize_phone,
    update_contact,
)

router = Router(tags=["Contacts"], auth=AgentToken())


class ContactFilters(Schema):
    q: str | None = Field(None, max_length=200, description="name, email, phone or a channel id")
    cursor: str | None = None
    limit: int = Field(25, ge=1, le=100)


class ContactPage(Schema):
    items: list[ContactOut]
    next_cursor: str | None


@router.get("/contacts", response=ContactPage, summary="List or search contacts")
def list_contacts(request: HttpRequest, filters: Query[ContactFilters]) -> dict[str, Any]:
    """Newest first. `q` matches an exact email, phone or channel id, or a name prefix."""
    agent(request)
    qs = Contact.objects.filter(merged_into__isnull=True)
    if filters.q:
        term = filters.q.strip()
        match = Q(name__istartswith=term) | Q(email=normalize_email(term))
        match |= Q(pk__in=Identity.objects.filter(external_id=term).values("contact_id"))
        with contextlib.suppress(ValueError):
            match |= Q(phone=normalize_phone(term))
        qs = qs.filter(match)
    if filters.cursor:
        last_id = decode_cursor(filters.cursor, (int,))[0]
        qs = qs.filter(pk__lt=last_id)
    rows = list(qs.order_by("-id")[: filters.limit + 1])
    more = len(rows) > filters.limit
    rows = rows[: filters.limit]
    return {
        "items": [contact_dict(c) for c in rows],
        "next_cursor": encode_cursor([rows[-1].pk]) if more and rows else None,
    }


@router.get(
    "/contacts/{contact_id}", response=ContactOut, summary="Get a contact with its identities"
)
def get_contact(request: HttpRequest, contact_id: int) -> dict[str, Any]:
    agent(request)
    contact = get_object_or_404(Contact, pk=contact_id)
    return contact_dict(contact, list(contact.identities.order_by("id")))


class ContactUpdateIn(Schema):
    name: str | None = Field(None, max_length=200)
    email: str | None = Field(None, max_length=254)
    phone: str | None = Field(None, max_length=40)
    language: str | None = Field(None, max_length=8)
    notes: str | None = Field(None, max_length=20_000)
    attributes: dict[str, Any] | None = None
    organization_id: int | None = None


@router.patch("/contacts/{contact_id}", response=ContactOut, summary="Update a contact")
def patch_contact(
    request: HttpRequest, contact_id: int, payload: ContactUpdateIn
) -> dict[str, Any]:
    agent(request)
    contact = get_object_or_404(Contact, pk=contact_id)
    changes = payload.dict(exclude_unset=True)
    if changes.get("email"):
        try:
            validate_email(changes["email"])
        except DjangoValidationError as exc:
            raise APIError(422, "validation_error", "not a valid email address") from exc
    if (
        changes.get("organization_id") is not None
        and not Organization.objects.filter(pk=changes["organization_id"]).exists()
    ):
        raise APIError(422, "validation_error", "No organization with this id.")
    for key in ("name", "email", "phone", "language", "notes"):
        if key in changes and changes[key] is None:
            changes[key] = ""
    if "attributes" in changes and changes["attributes"] is None:
        changes["attributes"] = {}
    try:
        update_contact(contact, changes)
    except ValueError as exc:
        raise APIError(422, "validation_error", str(exc)) from exc
    return get_contact(request, contact.pk)


class MergeIn(Schema):
    into_contact_id: int


@router.post(
    "/contacts/{contact_id}/merge",
    response=ContactOut,
    summary="Merge this contact into another (identities and conversations move)",
)
def merge(request: HttpRequest, contact_id: int, payload: MergeIn) -> dict[str, Any]:
    user = agent(request)
    source = get_object_or_404(Contact, pk=contact_id)
    target = get_object_or_404(Contact, pk=payload.into_contact_id)
    try:
        merged = merge_contacts(source, target, user)
    except ValueError as exc:
        raise APIError(409, "conflict", str(exc)) from exc
    return get_contact(request, merged.pk)
