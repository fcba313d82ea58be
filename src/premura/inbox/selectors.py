"""Read queries of the inbox: a page of a list, its neighbours, the counts per view, the filters.

A page costs a fixed number of queries whatever its length: the conversations with their contact,
inbox, team and assignee, the last message's first characters, the agent's read marker and unseen
mentions in one statement; the labels of the page in a second one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.db.models import Exists, F, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Substr
from django.http import QueryDict

from premura.channels.models import Inbox
from premura.conversations.models import Conversation, Label, Mention, Message
from premura.conversations.visibility import Access, access, listable, team_ids
from premura.inbox import lists
from premura.inbox.lists import ListState
from premura.inbox.models import ReadMarker

if TYPE_CHECKING:
    from premura.accounts.models import User

PAGE_SIZE = 25
SNIPPET_CHARS = 160
# Counts stop here: the agent needs "a lot", not the exact size of a million-row backlog.
COUNT_CAP = 999

# Columns a list never shows and that cost to load (encrypted secrets are decrypted on load).
# What a row reads; nothing else is loaded (fewer columns to compile, fetch and convert).
_ROW_FIELDS = (
    "id",
    "contact_id",
    "inbox_id",
    "team_id",
    "assignee_id",
    "status",
    "priority",
    "subject",
    "last_sequence",
    "last_activity_at",
    "last_customer_message_at",
    "contact__id",
    "contact__name",
    "contact__email",
    "contact__phone",
    "inbox__id",
    "inbox__name",
    "inbox__kind",
    "team__id",
    "team__name",
    "team__restricted",
    "assignee__id",
    "assignee__display_name",
    "assignee__first_name",
    "assignee__last_name",
    "assignee__email",
)


@dataclass(frozen=True)
class LabelBadge:
    """A label as a row shows it."""

    id: int
    name: str
    color: str


@dataclass
class Row:
    """One conversation of a list, with what this agent may see of it."""

    conversation: Conversation
    access: Access
    unread: bool
    mentioned: bool
    snippet: str
    labels: list[LabelBadge]
    status_label: str = ""
    priority_label: str = ""
    channel_label: str = ""
    url: str = ""

    @property
    def readable(self) -> bool:
        return self.access >= Access.READ

    @property
    def actionable(self) -> bool:
        return self.access >= Access.ACT


@dataclass
class Page:
    """A page of a list and the cursor of the next one (None on the last page)."""

    rows: list[Row]
    next_cursor: str | None


def _with_row_data(user: User, qs: QuerySet[Conversation]) -> QuerySet[Conversation]:
    """`qs` with what a row shows: contact, inbox, team, assignee, snippet, marker, mention."""
    last_message = Message.objects.filter(
        conversation_id=OuterRef("pk"), sequence=OuterRef("last_sequence")
    ).values(snippet=Substr("text", 1, SNIPPET_CHARS + 1))[:1]
    marker = ReadMarker.objects.filter(user_id=user.pk, conversation_id=OuterRef("pk")).values(
        "last_read_sequence"
    )[:1]
    unseen = Mention.objects.filter(
        user_id=user.pk, conversation_id=OuterRef("pk"), seen_at__isnull=True
    )
    return (
        qs.select_related("contact", "inbox", "team", "assignee")
        .only(*_ROW_FIELDS)
        .annotate(
            last_text=Subquery(last_message),
            read_sequence=Subquery(marker),
            unseen_mention=Exists(unseen),
        )
    )


def _labels_of(ids: list[int]) -> dict[int, list[LabelBadge]]:
    labels: dict[int, list[LabelBadge]] = {pk: [] for pk in ids}
    if not ids:
        return labels
    rows = (
        Conversation.labels.through.objects.filter(conversation_id__in=ids)
        .order_by("label__name")
        .values_list("conversation_id", "label_id", "label__name", "label__color")
    )
    for conversation_id, label_id, name, color in rows:
        labels[conversation_id].append(LabelBadge(label_id, name, color))
    return labels


def rows_of(user: User, conversations: list[Conversation]) -> list[Row]:
    """Rows for conversations loaded by `_with_row_data` (one more query: their labels)."""
    labels = _labels_of([c.pk for c in conversations])
    # Each choice's label translated once per page, not once per row.
    statuses = dict(Conversation.Status.choices)
    priorities = dict(Conversation.Priority.choices)
    channels = dict(Inbox.Kind.choices)
    names: dict[tuple[int, object], str] = {}

    def name(choices: dict[Any, Any], value: object) -> str:
        key = (id(choices), value)
        if key not in names:
            names[key] = str(choices.get(value, value))
        return names[key]

    rows = []
    for conversation in conversations:
        seen: int | None = getattr(conversation, "read_sequence", None)
        level = access(user, conversation)
        text: str = getattr(conversation, "last_text", None) or ""
        if len(text) > SNIPPET_CHARS:
            text = text[:SNIPPET_CHARS].rstrip() + "…"
        rows.append(
            Row(
                conversation=conversation,
                access=level,
                unread=seen is None or conversation.last_sequence > seen,
                mentioned=bool(getattr(conversation, "unseen_mention", False)),
                snippet=" ".join(text.split()) if level >= Access.READ else "",
                labels=labels[conversation.pk] if level >= Access.READ else [],
                status_label=name(statuses, conversation.status),
                priority_label=name(priorities, conversation.priority),
                channel_label=name(channels, conversation.inbox.kind),
            )
        )
    return rows


def page(user: User, state: ListState, size: int = PAGE_SIZE) -> Page:
    """A page of the list: the first one, or the one after `state.cursor`.

    Raises lists.InvalidList for a cursor that is not valid.
    """
    qs = lists.conversations(user, state)
    key = lists.decode(state)
    if key is not None:
        qs = qs.filter(lists.after(state.sort, key))
    order = lists.ordering(state.sort)
    # The page's ids first, from the conversations table and its indexes alone; the joins and
    # per-row subqueries then run for those rows only, whatever plan the database picks for
    # the filters. One statement: the ids are a subquery.
    ids = qs.order_by(*order).values("pk")[: size + 1]
    found = list(_with_row_data(user, Conversation.objects.filter(pk__in=ids)).order_by(*order))
    more = len(found) > size
    found = found[:size]
    next_cursor = lists.cursor_for(found[-1], state.sort) if more else None
    return Page(rows_of(user, found), next_cursor)


def neighbours(
    user: User, conversation: Conversation, params: QueryDict
) -> tuple[int | None, int | None]:
    """The previous and next conversation ids around `conversation` in the list of `params`.

    `params` is the inbox's query string (view, filters, sort, q) as the list's links carry it;
    values that are not valid are ignored. Two queries of one row each, from the conversation's
    own sort key, so it works whether or not the conversation still belongs to the list (after
    it was resolved, say) and however deep in the list it is.
    """
    state = lists.parse_list(params, user, strict=False)
    key = lists.key_of(conversation, state.sort)
    qs = lists.conversations(user, state).exclude(pk=conversation.pk)
    if any(value is None for value in key):
        # Not on this sort's scale (never waited for us): only what the list starts with.
        first = qs.order_by(*lists.ordering(state.sort)).values_list("pk", flat=True).first()
        return None, first
    previous = (
        qs.filter(lists.after(state.sort, key, reverse=True))
        .order_by(*lists.ordering(state.sort, reverse=True))
        .values_list("pk", flat=True)
        .first()
    )
    following = (
        qs.filter(lists.after(state.sort, key))
        .order_by(*lists.ordering(state.sort))
        .values_list("pk", flat=True)
        .first()
    )
    return previous, following


# --- counts per view ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Count:
    """How many conversations a view holds, up to COUNT_CAP."""

    value: int

    @property
    def capped(self) -> bool:
        return self.value > COUNT_CAP

    def __str__(self) -> str:
        return f"{COUNT_CAP}+" if self.capped else str(self.value)


def counts(user: User) -> dict[str, Count]:
    """Open conversations in Mine, Unassigned, My teams and All; unseen mentions.

    Each agent's counts are kept PREMURA_INBOX_COUNT_SECONDS in the cache (10 s by default), as
    Zendesk refreshes its view counts: they lead the agent to a view, the list itself is always
    current. Then one statement of capped subqueries, each a range of an index of conversations (or of the
    mentions): it costs the same with a thousand conversations as with a million.
    """
    seconds = settings.PREMURA_INBOX_COUNT_SECONDS
    key = f"premura:inbox-counts:{user.pk}"
    if seconds:
        cached = cache.get(key)
        if cached is not None:
            return {name: Count(value) for name, value in cached.items()}
    result = _counts(user)
    if seconds:
        cache.set(key, {name: count.value for name, count in result.items()}, seconds)
    return result


def _counts(user: User) -> dict[str, Count]:
    open_ = listable(user).filter(status=Conversation.Status.OPEN)
    teams = sorted(team_ids(user))
    parts: dict[str, QuerySet[Any]] = {
        "mine": open_.filter(assignee_id=user.pk),
        "unassigned": open_.filter(assignee__isnull=True),
        "all": open_,
        "mentions": Mention.objects.filter(user_id=user.pk, seen_at__isnull=True),
    }
    if teams:
        parts["teams"] = (
            open_.filter(team_id=teams[0]) if len(teams) == 1 else open_.filter(team_id__in=teams)
        )
    selects: list[str] = []
    params: list[Any] = []
    for number, qs in enumerate(parts.values()):
        sql, part_params = (
            qs.order_by().values_list(Value(1))[: COUNT_CAP + 1].query.sql_with_params()
        )
        selects.append(f"(SELECT COUNT(*) FROM ({sql}) AS part_{number})")  # noqa: S608
        params.extend(part_params)
    with connection.cursor() as cursor:
        cursor.execute("SELECT " + ", ".join(selects), params)  # noqa: S608
        values = cursor.fetchone()
    result = {name: Count(value) for name, value in zip(parts, values, strict=True)}
    result.setdefault("teams", Count(0))
    return result


# --- what the filters and bulk actions offer ---------------------------------------------------


@dataclass(frozen=True)
class Choice:
    """One option of a filter or bulk action."""

    id: int
    name: str
    extra: str = ""


@dataclass
class Options:
    """The teams, inboxes, labels and agents the filters and bulk actions offer."""

    teams: list[Choice]
    inboxes: list[Choice]
    labels: list[Choice]
    agents: list[Choice]


def options() -> Options:
    """Every team, inbox, label and active agent, in one query (a UNION ALL of four)."""
    from premura.accounts.models import User
    from premura.routing.models import Team

    def part(qs: QuerySet[Any], kind: str, name: str, extra: str) -> QuerySet[Any]:
        result: QuerySet[Any] = (
            qs.order_by()
            .annotate(option_kind=Value(kind), option_name=F(name), option_extra=F(extra))
            .values_list("option_kind", "pk", "option_name", "option_extra")
        )
        return result

    union = part(Team.objects.all(), "team", "name", "slug").union(
        part(Inbox.objects.all(), "inbox", "name", "kind"),
        part(Label.objects.all(), "label", "name", "color"),
        part(User.objects.filter(is_active=True), "agent", "display_name", "email"),
        all=True,
    )
    found: dict[str, list[Choice]] = {"team": [], "inbox": [], "label": [], "agent": []}
    for kind, pk, name, extra in union:
        found[kind].append(Choice(pk, name or extra, extra))
    for choices in found.values():
        choices.sort(key=lambda c: c.name.casefold())
    return Options(found["team"], found["inbox"], found["label"], found["agent"])


def recent_conversations(user: User, limit: int = 5) -> list[Conversation]:
    """The conversations the agent opened last, newest first (the palette's start)."""
    recent = list(
        ReadMarker.objects.filter(user_id=user.pk)
        .order_by("-read_at")
        .values_list("conversation_id", flat=True)[:limit]
    )
    found = {
        c.pk: c
        for c in listable(user)
        .filter(pk__in=recent)
        .select_related("contact", "team", "inbox")
        .only(*(f for f in _ROW_FIELDS if not f.startswith("assignee__")))
    }
    return [found[pk] for pk in recent if pk in found]
