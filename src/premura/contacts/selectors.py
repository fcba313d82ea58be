"""Read queries behind the contact, organization and customer-panel pages.

Every list pages by cursor (premura.api.pagination; never OFFSET) and costs a fixed number of
queries whatever the number of rows: counts are computed for the rows of the page only.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from django.db.models import Count, Max, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Substr

from premura.api.errors import APIError
from premura.api.pagination import decode_cursor, encode_cursor
from premura.channels.models import Inbox
from premura.contacts.models import Contact, ContactMerge, Identity, Organization
from premura.conversations.models import Conversation, Message
from premura.conversations.visibility import Access, access, listable
from premura.search.api import contacts_matching

if TYPE_CHECKING:
    from premura.accounts.models import User

PAGE_SIZE = 25
SNIPPET_LENGTH = 160
T = TypeVar("T")


class InvalidCursor(ValueError):
    """A cursor that was not made by these pages (tampered with, or from another list)."""


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list and the cursor of the next one (None on the last page)."""

    items: list[T]
    next_cursor: str | None


def _decode(cursor: str, types: tuple[type, ...]) -> list[Any]:
    try:
        return decode_cursor(cursor, types)
    except APIError as exc:
        raise InvalidCursor(str(exc)) from exc


def _page(rows: list[T], limit: int, key: Any) -> Page[T]:
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(rows, encode_cursor(key(rows[-1])) if more and rows else None)


# --- timelines: a customer's (or an organization's) conversations, newest first -------------


@dataclass(frozen=True)
class TimelineEntry:
    """A conversation in a customer's history, with what the viewer may see of it."""

    conversation: Conversation
    access: Access

    @property
    def readable(self) -> bool:
        """Content (subject, assignee, messages) may be shown; otherwise only the entry."""
        return self.access >= Access.READ


def conversations_page(
    user: User,
    conversations: QuerySet[Conversation],
    cursor: str | None,
    limit: int = PAGE_SIZE,
    *,
    with_contact: bool = False,
) -> Page[TimelineEntry]:
    """A page of conversations, latest activity first, each with the viewer's access."""
    # The latest message's first words, read through the (conversation, sequence) index.
    latest = Message.objects.filter(conversation=OuterRef("pk")).order_by("-sequence")
    related = ["inbox", "team", "assignee", *(["contact"] if with_contact else [])]
    qs = (
        conversations.select_related(*related)
        .annotate(latest_text=Substr(Subquery(latest.values("text")[:1]), 1, SNIPPET_LENGTH))
        .order_by("-last_activity_at", "-id")
    )
    if cursor:
        at, last_id = _decode(cursor, (dt.datetime, int))
        qs = qs.filter(Q(last_activity_at__lt=at) | Q(last_activity_at=at, id__lt=last_id))
    rows = [TimelineEntry(c, access(user, c)) for c in qs[: limit + 1]]
    return _page(rows, limit, lambda e: [e.conversation.last_activity_at, e.conversation.pk])


def contact_timeline(
    user: User, contact: Contact, cursor: str | None = None, limit: int = PAGE_SIZE
) -> Page[TimelineEntry]:
    """Every conversation of this customer, on every channel and in every team."""
    return conversations_page(user, listable(user).filter(contact=contact), cursor, limit)


def organization_timeline(
    user: User, organization: Organization, cursor: str | None = None, limit: int = PAGE_SIZE
) -> Page[TimelineEntry]:
    """The conversations of every contact of an organization."""
    qs = listable(user).filter(contact__organization=organization)
    return conversations_page(user, qs, cursor, limit, with_contact=True)


def conversation_count(contact: Contact) -> int:
    """How many conversations the customer had (an index range: cheap even for big customers)."""
    return Conversation.objects.filter(contact=contact).count()


def last_messages(conversation: Conversation, count: int = 5) -> list[Message]:
    """The newest messages of a conversation (private notes included), oldest of them first."""
    newest = (
        Message.objects.filter(conversation=conversation)
        .select_related("author_user", "author_contact")
        .order_by("-sequence")[:count]
    )
    return list(reversed(newest))


# --- a contact: identities, merges, possible duplicates -------------------------------------


@dataclass(frozen=True)
class IdentityRow:
    """How a customer is known on one channel, with the inbox or scope it belongs to."""

    identity: Identity
    inbox: Inbox | None

    @property
    def scope_label(self) -> str:
        if self.inbox is not None:
            return self.inbox.name
        return self.identity.scope


def identities(contact: Contact) -> list[IdentityRow]:
    """The contact's identities; API ids name the inbox they are scoped to."""
    rows = list(contact.identities.order_by("kind", "id"))
    inbox_ids = {int(i.scope) for i in rows if i.kind == Identity.Kind.API and i.scope.isdigit()}
    inboxes = Inbox.objects.in_bulk(inbox_ids) if inbox_ids else {}
    return [
        IdentityRow(
            i,
            inboxes.get(int(i.scope))
            if i.kind == Identity.Kind.API and i.scope.isdigit()
            else None,
        )
        for i in rows
    ]


def attribute_text(value: Any) -> str:
    """A custom attribute as pages show it: strings as they are, anything else as JSON."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def attributes(contact: Contact) -> list[tuple[str, str]]:
    """The contact's custom attributes as (name, text) pairs, in their stored order."""
    return [(key, attribute_text(value)) for key, value in contact.attributes.items()]


def merges_into(contact: Contact, limit: int = 20) -> list[ContactMerge]:
    """The latest merges into this contact (undone ones too), newest first."""
    return list(
        ContactMerge.objects.filter(target=contact)
        .select_related("source", "merged_by", "undone_by")
        .order_by("-created_at", "-id")[:limit]
    )


def possible_duplicates(contact: Contact, limit: int = 5) -> list[Contact]:
    """Other contacts with this contact's email or phone: candidates for a merge.

    Two indexed equalities (contact_email_idx, contact_phone_idx) so the database combines the
    two index scans; the email identity needs no look-up, being unique and usually this one's.
    """
    match = Q()
    if contact.email:
        match |= Q(email=contact.email)
    if contact.phone:
        match |= Q(phone=contact.phone)
    if not match:
        return []
    return list(
        Contact.objects.filter(match, merged_into__isnull=True)
        .exclude(pk=contact.pk)
        .order_by("-id")[:limit]
    )


def live_contact(contact: Contact) -> Contact:
    """The contact this one was (perhaps repeatedly) merged into, or itself."""
    seen = {contact.pk}
    while contact.merged_into_id is not None and contact.merged_into_id not in seen:
        seen.add(contact.merged_into_id)
        contact = Contact.objects.select_related("organization").get(pk=contact.merged_into_id)
    return contact


# --- lists of contacts and organizations -----------------------------------------------------


@dataclass(frozen=True)
class ContactRow:
    """A contact in a list, with its number of conversations and latest activity."""

    contact: Contact
    conversations: int
    last_activity_at: dt.datetime | None


def with_activity(contacts: list[Contact]) -> list[ContactRow]:
    """The contacts with their conversation counts: one grouped query for the whole page."""
    stats = {
        row["contact_id"]: row
        for row in Conversation.objects.filter(contact_id__in=[c.pk for c in contacts])
        .values("contact_id")
        .annotate(n=Count("id"), last=Max("last_activity_at"))
        .order_by()
    }
    return [
        ContactRow(
            c,
            stats[c.pk]["n"] if c.pk in stats else 0,
            stats[c.pk]["last"] if c.pk in stats else None,
        )
        for c in contacts
    ]


def contacts_page(
    query: str = "",
    cursor: str | None = None,
    limit: int = PAGE_SIZE,
    *,
    organization: Organization | None = None,
    exclude: Contact | None = None,
) -> Page[ContactRow]:
    """Contacts (merged ones left out), newest first; `query` searches through the search module."""
    qs = Contact.objects.filter(merged_into__isnull=True)
    if organization is not None:
        qs = qs.filter(organization=organization)
    if exclude is not None:
        qs = qs.exclude(pk=exclude.pk)
    if query:
        qs = contacts_matching(qs, query)
    if cursor:
        qs = qs.filter(pk__lt=_decode(cursor, (int,))[0])
    rows = list(qs.select_related("organization").order_by("-id")[: limit + 1])
    page = _page(rows, limit, lambda c: [c.pk])
    return Page(with_activity(page.items), page.next_cursor)


@dataclass(frozen=True)
class OrganizationRow:
    """An organization in the list, with its number of contacts."""

    organization: Organization
    contacts: int


def organizations_page(
    query: str = "", cursor: str | None = None, limit: int = PAGE_SIZE
) -> Page[OrganizationRow]:
    """Organizations by name; `query` matches the name or the domain."""
    qs = Organization.objects.all()
    if query:
        qs = qs.filter(Q(name__icontains=query) | Q(domain__icontains=query))
    if cursor:
        name, last_id = _decode(cursor, (str, int))
        qs = qs.filter(Q(name__gt=name) | Q(name=name, id__gt=last_id))
    rows = list(qs.order_by("name", "id")[: limit + 1])
    page = _page(rows, limit, lambda o: [o.name, o.pk])
    counts = dict(
        Contact.objects.filter(
            organization_id__in=[o.pk for o in page.items], merged_into__isnull=True
        )
        .values("organization_id")
        .annotate(n=Count("id"))
        .order_by()
        .values_list("organization_id", "n")
    )
    return Page([OrganizationRow(o, counts.get(o.pk, 0)) for o in page.items], page.next_cursor)


def organization_named(name: str) -> Organization | None:
    """The organization with this name (case-insensitive; the oldest when several share it)."""
    return Organization.objects.filter(name__iexact=name.strip()).order_by("id").first()


def organization_suggestions(prefix: str, limit: int = 10) -> list[Organization]:
    """Organizations whose name starts with `prefix`, for the contact form's suggestions."""
    if not prefix.strip():
        return []
    return list(
        Organization.objects.filter(name__istartswith=prefix.strip()).order_by("name")[:limit]
    )
