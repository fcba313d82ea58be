"""The command palette's answers: conversations, contacts and actions for what the agent typed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.urls import reverse
from django.utils.translation import gettext as _

from premura.contacts.models import Contact
from premura.conversations.models import Conversation, parse_reference
from premura.conversations.visibility import Access, access, listable
from premura.inbox import lists, selectors
from premura.search.api import contacts_matching

if TYPE_CHECKING:
    from premura.accounts.models import User

MAX_ITEMS = 10
MAX_QUERY = 100


@dataclass(frozen=True)
class Item:
    """One line of the palette: where it goes, what it says, what kind of thing it is."""

    url: str
    label: str
    kind: str
    detail: str = ""
    shortcuts: bool = False  # opens the shortcuts help instead of a page


def actions(user: User) -> list[Item]:
    """The places and actions the palette offers, in the agent's language."""
    inbox = reverse("inbox:index")
    kind = _("Action")
    items = [
        Item(f"{inbox}?view=mine", _("Go to Mine"), kind),
        Item(f"{inbox}?view=unassigned", _("Go to Unassigned"), kind),
        Item(f"{inbox}?view=teams", _("Go to My teams"), kind),
        Item(f"{inbox}?view=all", _("Go to All"), kind),
        Item(f"{inbox}?view=mentions", _("Go to Mentions"), kind),
        Item(reverse("contacts:list"), _("Contacts"), kind),
    ]
    if user.is_admin:
        items.append(Item(reverse("administration:index"), _("Settings"), kind))
    items.append(Item(reverse("account:settings"), _("Account settings"), kind))
    items.append(Item("#shortcuts", _("Keyboard shortcuts"), kind, shortcuts=True))
    return items


def _conversation_item(user: User, conversation: Conversation) -> Item:
    parts = [str(conversation.contact)]
    if access(user, conversation) >= Access.READ and conversation.subject:
        parts.append(conversation.subject)
    return Item(
        reverse("conversations:detail", args=[conversation.pk]),
        conversation.reference,
        _("Conversation"),
        detail=" · ".join(parts),
    )


def _by_reference(user: User, text: str) -> Conversation | None:
    pk = parse_reference(text)
    if pk is None and text.isdigit() and len(text) <= 12:
        pk = int(text)
    if pk is None:
        return None
    return listable(user).select_related("contact", "team").filter(pk=pk).first()


def items(user: User, text: str) -> list[Item]:
    """What the palette shows for `text`: empty text gives the actions and recent conversations."""
    text = " ".join(text.split())[:MAX_QUERY]
    if not text:
        recent = [_conversation_item(user, c) for c in selectors.recent_conversations(user)]
        return (actions(user) + recent)[: MAX_ITEMS + 5]
    found: list[Item] = []
    exact = _by_reference(user, text)
    if exact is not None:
        found.append(_conversation_item(user, exact))
    folded = text.casefold()
    found.extend(a for a in actions(user) if folded in a.label.casefold())
    if len(text) >= 2:
        state = lists.ListState(view="all", status=lists.ALL_STATUSES, q=text)
        matching = (
            lists.conversations(user, state)
            .exclude(pk=exact.pk if exact is not None else 0)
            .select_related("contact", "team")
            .order_by(*lists.ordering("activity"))[:5]
        )
        found.extend(_conversation_item(user, c) for c in matching)
        contacts = contacts_matching(Contact.objects.filter(merged_into__isnull=True), text)[:4]
        found.extend(
            Item(
                f"/contacts/{c.pk}/",
                str(c),
                _("Contact"),
                detail=c.email or c.phone,
            )
            for c in contacts
        )
    return found[:MAX_ITEMS]
