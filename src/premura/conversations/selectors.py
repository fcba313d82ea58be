"""Read queries over conversations that pages and the API share."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.db.models import Count, Exists, Max, OuterRef, Prefetch, Q, Subquery

from premura.conversations.models import (
    Attachment,
    Conversation,
    ConversationEvent,
    Label,
    Message,
)
from premura.conversations.visibility import listable

if TYPE_CHECKING:
    from premura.accounts.models import User


def workload(user: User) -> dict[str, int]:
    """How many cases are open, waiting for the customer, and open and assigned to `user`."""
    open_ = Q(status=Conversation.Status.OPEN)
    return listable(user).aggregate(
        open=Count("id", filter=open_),
        pending=Count("id", filter=Q(status=Conversation.Status.PENDING)),
        mine=Count("id", filter=open_ & Q(assignee_id=user.pk)),
    )


# --- The thread of the conversation page -------------------------------------------------------
#
# A thread is read in pages of messages, newest first, keyset by sequence (the unique index on
# (conversation, sequence) serves it backwards); each page carries the events of its time range,
# [oldest message of the page, oldest message of the newer page), so that pages chain without a
# gap or a duplicate however long the conversation is.

PAGE_SIZE = 30
# Messages and events one poll of an open page adds at most; the next poll brings the rest.
POLL_LIMIT = 100
# Events of one page's time range at most (thousands of label changes between two messages).
MAX_EVENTS_PER_PAGE = 1000
# Events that stand for a message of the thread: the message itself is shown, not the event.
MESSAGE_EVENT_KINDS = frozenset(
    {
        ConversationEvent.Kind.MESSAGE_IN,
        ConversationEvent.Kind.MESSAGE_OUT,
        ConversationEvent.Kind.NOTE,
    }
)
# Outbound delivery states that may still change while the page is open ("read" is the end).
WATCHED_STATES = frozenset(
    {
        Message.Delivery.QUEUED,
        Message.Delivery.SENDING,
        Message.Delivery.SENT,
        Message.Delivery.DELIVERED,
        Message.Delivery.FAILED,
    }
)
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


@dataclass(frozen=True)
class EventCursor:
    """The newest event a page has seen: (created_at, id)."""

    at: dt.datetime
    id: int

    def encode(self) -> str:
        return f"{to_micros(self.at)}.{self.id}"

    @classmethod
    def decode(cls, text: str) -> EventCursor:
        micros, _dot, event_id = text.partition(".")
        return cls(from_micros(int(micros)), int(event_id or 0))


def to_micros(at: dt.datetime) -> int:
    """A datetime as whole microseconds since the epoch (for query strings)."""
    delta = at - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(micros: int) -> dt.datetime:
    """The inverse of to_micros; ValueError/OverflowError for values out of range."""
    return EPOCH + dt.timedelta(microseconds=micros)


@dataclass
class ThreadItem:
    """One line of the thread: a message or an event."""

    at: dt.datetime
    message: Message | None = None
    event: ConversationEvent | None = None
    # Filled in by describe_events: names of the people and teams an event mentions.
    names: dict[str, Any] = field(default_factory=dict)


@dataclass
class ThreadPage:
    """A page of the thread, oldest first, and where the next older page starts."""

    items: list[ThreadItem]
    messages: list[Message]
    events: list[ConversationEvent]
    # Keyset of the next older page: messages before this sequence, events before this time.
    older_before: int | None
    older_until: dt.datetime | None
    # The newest message and the newest event seen (the poll continues from there).
    newest_sequence: int
    event_cursor: EventCursor


def _messages() -> Any:
    return Message.objects.select_related(
        "inbox", "author_user", "author_contact"
    ).prefetch_related(_attachments())


def _attachments() -> Prefetch[Any]:
    return Prefetch("attachments", queryset=Attachment.objects.order_by("id"))


def _events(conversation: Conversation) -> Any:
    return ConversationEvent.objects.filter(conversation_id=conversation.pk).select_related(
        "actor_user", "actor_contact"
    )


def interleave(
    messages: Sequence[Message], events: Sequence[ConversationEvent]
) -> list[ThreadItem]:
    """Messages in sequence order with each event placed before the first later message."""
    items: list[ThreadItem] = []
    shown = sorted(
        (e for e in events if e.kind not in MESSAGE_EVENT_KINDS),
        key=lambda e: (e.created_at, e.pk),
    )
    index = 0
    for message in messages:
        while index < len(shown) and shown[index].created_at < message.created_at:
            items.append(ThreadItem(at=shown[index].created_at, event=shown[index]))
            index += 1
        items.append(ThreadItem(at=message.created_at, message=message))
    items.extend(ThreadItem(at=e.created_at, event=e) for e in shown[index:])
    return items


def thread_page(
    conversation: Conversation,
    *,
    before: int | None = None,
    until: dt.datetime | None = None,
    size: int = PAGE_SIZE,
) -> ThreadPage:
    """The newest page of the thread, or the page before sequence `before` (events < `until`).

    Two queries (three with attachments) whatever the length of the conversation.
    """
    messages_qs = _messages().filter(conversation_id=conversation.pk)
    if before is not None:
        messages_qs = messages_qs.filter(sequence__lt=before)
    rows = list(messages_qs.order_by("-sequence")[: size + 1])
    more = len(rows) > size
    messages = rows[:size][::-1]

    lower: dt.datetime | None = None
    if more:
        lower = min(m.created_at for m in messages)
        if until is not None:
            lower = min(lower, until)
    events_qs = _events(conversation)
    if lower is not None:
        events_qs = events_qs.filter(created_at__gte=lower)
    if until is not None:
        events_qs = events_qs.filter(created_at__lt=until)
    events = list(events_qs.order_by("-created_at", "-id")[:MAX_EVENTS_PER_PAGE])[::-1]

    if events:
        cursor = EventCursor(events[-1].created_at, events[-1].pk)
    else:
        cursor = EventCursor(lower or EPOCH, 0)
    return ThreadPage(
        items=interleave(messages, events),
        messages=messages,
        events=events,
        older_before=messages[0].sequence if more else None,
        older_until=lower if more else None,
        newest_sequence=messages[-1].sequence if messages else (before or 1) - 1,
        event_cursor=cursor,
    )


@dataclass
class PollState:
    """What changed in a conversation since a page last looked (one query to know)."""

    conversation: Conversation
    new_messages: bool
    new_events: bool
    deliveries_changed: bool
    # The newest event of the conversation, shown or not (the next poll compares with it).
    newest_event_id: int

    @property
    def changed(self) -> bool:
        return self.new_messages or self.new_events or self.deliveries_changed


def poll_state(
    user: User,
    conversation_id: int,
    *,
    after: int,
    event_id: int,
    watch: int,
    delivery_seen: dt.datetime | None,
) -> PollState | None:
    """One query: the conversation (for the visibility check) and whether anything changed.

    `watch` is the lowest sequence whose delivery state may still change (0: none) and
    `delivery_seen` the latest delivery update the page has shown from there on.
    """
    newest_event = (
        ConversationEvent.objects.filter(conversation_id=OuterRef("pk"))
        .order_by("-created_at", "-id")
        .values("id")[:1]
    )
    qs = listable(user).select_related("team").annotate(newest_event=Subquery(newest_event))
    if watch:
        latest_delivery = (
            Message.objects.filter(conversation_id=OuterRef("pk"), sequence__gte=watch)
            .order_by()
            .values("conversation_id")
            .annotate(latest=Max("delivery_updated_at"))
            .values("latest")
        )
        qs = qs.annotate(latest_delivery=Subquery(latest_delivery))
    conversation = qs.filter(pk=conversation_id).first()
    if conversation is None:
        return None
    newest: int | None = conversation.newest_event
    latest: dt.datetime | None = getattr(conversation, "latest_delivery", None)
    return PollState(
        conversation=conversation,
        new_messages=conversation.last_sequence > after,
        new_events=(newest or 0) != event_id,
        deliveries_changed=bool(watch)
        and latest is not None
        and (delivery_seen is None or latest > delivery_seen),
        newest_event_id=newest or 0,
    )


@dataclass
class PollResult:
    """What a poll appends to an open page and where the next poll continues from."""

    items: list[ThreadItem]
    messages: list[Message]
    events: list[ConversationEvent]
    # Outbound messages whose delivery state is shown again.
    deliveries: list[Message]
    newest_sequence: int
    event_cursor: EventCursor


def thread_after(
    conversation: Conversation,
    *,
    after: int,
    cursor: EventCursor,
    watch: int,
    state: PollState,
) -> PollResult:
    """Messages after sequence `after`, events after `cursor`, delivery states from `watch`."""
    messages: list[Message] = []
    if state.new_messages:
        messages = list(
            _messages()
            .filter(conversation_id=conversation.pk, sequence__gt=after)
            .order_by("sequence")[:POLL_LIMIT]
        )
    events: list[ConversationEvent] = []
    if state.new_events:
        events = list(
            _events(conversation)
            .filter(created_at__gte=cursor.at)
            .filter(Q(created_at__gt=cursor.at) | Q(id__gt=cursor.id))
            .order_by("created_at", "id")[:POLL_LIMIT]
        )
    deliveries: list[Message] = []
    if watch and state.deliveries_changed:
        deliveries = list(
            Message.objects.filter(
                conversation_id=conversation.pk,
                sequence__gte=watch,
                sequence__lte=after,
                direction=Message.Direction.OUTBOUND,
            )
            .exclude(delivery_state="")
            .order_by("-sequence")[:POLL_LIMIT]
        )
    return PollResult(
        items=interleave(messages, events),
        messages=messages,
        events=events,
        deliveries=deliveries,
        newest_sequence=messages[-1].sequence if messages else after,
        event_cursor=EventCursor(events[-1].created_at, events[-1].pk) if events else cursor,
    )


def delivery_watch(shown: Iterable[Message]) -> tuple[int, dt.datetime | None]:
    """Where a page watches delivery states from: the lowest sequence whose state may still
    change (0: none), and the latest delivery update among the messages shown from there on."""
    shown = list(shown)
    watch = min(
        (
            m.sequence
            for m in shown
            if m.direction == Message.Direction.OUTBOUND and m.delivery_state in WATCHED_STATES
        ),
        default=0,
    )
    if not watch:
        return 0, None
    seen = max(
        (
            m.delivery_updated_at
            for m in shown
            if m.sequence >= watch and m.delivery_updated_at is not None
        ),
        default=None,
    )
    return watch, seen


def referenced_ids(events: Iterable[ConversationEvent]) -> tuple[set[int], set[int]]:
    """The agents and teams that events' payloads name (assignments, team changes, mentions)."""
    users: set[int] = set()
    teams: set[int] = set()
    for event in events:
        payload = event.payload if isinstance(event.payload, dict) else {}
        if event.kind == ConversationEvent.Kind.ASSIGNED:
            target = users
        elif event.kind == ConversationEvent.Kind.TEAM_CHANGED:
            target = teams
        else:
            continue
        for key in ("from", "to"):
            value = payload.get(key)
            if isinstance(value, int) and not isinstance(value, bool):
                target.add(value)
    return users, teams


def labels_with_state(conversation: Conversation, limit: int = 500) -> list[Label]:
    """Every label (up to `limit`), each with `.on` telling whether the conversation has it."""
    through = Conversation.labels.through.objects.filter(
        conversation_id=conversation.pk, label_id=OuterRef("pk")
    )
    return list(Label.objects.annotate(on=Exists(through)).order_by("-on", "name")[:limit])
