"""The conversation page: the thread, and the helpers its composer and actions share.

The page renders the newest page of the thread; older pages come as the agent scrolls up
(`older`), new messages, events and delivery states by polling (`poll`). Every action (compose.py,
actions.py) posts a plain form that also works with htmx, calls a service and is checked by
conversations.visibility.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any, cast

from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
)
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from premura.accounts.models import User
from premura.channels.models import Inbox
from premura.conversations import selectors, services
from premura.conversations.models import Conversation, ConversationEvent, Message
from premura.conversations.selectors import EventCursor, ThreadItem
from premura.conversations.visibility import Access, access, listable, require_read
from premura.inbox.selectors import neighbours
from premura.inbox.services import mark_read
from premura.routing.models import Team

MAX_TEXT = 50_000
MAX_HANDOVER_NOTE = 2_000
MAX_FILES = 10
MAX_AGENTS_LISTED = 500
SNOOZE_INPUT_FORMAT = "%Y-%m-%dT%H:%M"


def _user(request: HttpRequest) -> User:
    return cast(User, request.user)


def _is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def _get(request: HttpRequest, conversation_id: int) -> Conversation:
    return get_object_or_404(
        listable(_user(request)).select_related("inbox", "team", "contact", "assignee"),
        pk=conversation_id,
    )


def _list_state(request: HttpRequest) -> str:
    """The inbox list's state (view, filters, sort, search) carried in the query string."""
    return request.GET.urlencode()


def _detail_url(conversation: Conversation, request: HttpRequest) -> str:
    url = reverse("conversations:detail", args=[conversation.pk])
    state = _list_state(request)
    return f"{url}?{state}" if state else url


# --- names for events ----------------------------------------------------------------------------


def _people(ids: Iterable[int], *, with_active: bool) -> dict[int, User]:
    """Agents named by events, plus every active agent when the page offers them (one query)."""
    ids = set(ids)
    if with_active:
        query = User.objects.filter(Q(is_active=True) | Q(pk__in=ids))
    elif ids:
        query = User.objects.filter(pk__in=ids)
    else:
        return {}
    return {
        u.pk: u for u in query.order_by("display_name", "email")[: MAX_AGENTS_LISTED + len(ids)]
    }


def _choice_label(choices: Any, value: Any) -> str:
    try:
        return str(choices(value).label)
    except (ValueError, TypeError):
        return str(value)


def _actor(event: ConversationEvent) -> str:
    if event.actor_user is not None:
        return str(event.actor_user)
    if event.actor_contact is not None:
        return str(event.actor_contact)
    return _("Premura")


def _describe(items: Sequence[ThreadItem], people: dict[int, User], teams: dict[int, Team]) -> None:
    """Fill each event item with the names its sentence needs (payloads hold ids and codes)."""
    for item in items:
        event = item.event
        if event is None:
            continue
        payload: dict[str, Any] = event.payload if isinstance(event.payload, dict) else {}
        names: dict[str, Any] = {"actor": _actor(event)}
        to = payload.get("to")
        if event.kind == ConversationEvent.Kind.ASSIGNED:
            names["self"] = to is not None and to == event.actor_user_id
            person = people.get(to) if isinstance(to, int) and not isinstance(to, bool) else None
            names["to"] = str(person) if person else (_("an agent") if to else "")
        elif event.kind == ConversationEvent.Kind.TEAM_CHANGED:
            team = teams.get(to) if isinstance(to, int) else None
            names["to"] = str(team) if team else (_("another team") if to else "")
        elif event.kind == ConversationEvent.Kind.STATUS_CHANGED:
            names["to_code"] = to
            names["to"] = _choice_label(Conversation.Status, to)
            until = payload.get("snoozed_until")
            if isinstance(until, str):
                try:
                    names["until"] = dt.datetime.fromisoformat(until)
                except ValueError:
                    names["until"] = until
        elif event.kind == ConversationEvent.Kind.PRIORITY_CHANGED:
            names["to"] = _choice_label(Conversation.Priority, to)
        elif event.kind == ConversationEvent.Kind.LABELS_CHANGED:
            for key in ("added", "removed"):
                value = payload.get(key)
                names[key] = [str(x) for x in value if x] if isinstance(value, list) else []
        elif event.kind == ConversationEvent.Kind.CREATED:
            names["channel"] = _choice_label(Inbox.Kind, payload.get("channel", ""))
        elif event.kind == ConversationEvent.Kind.DELIVERY_FAILED:
            names["error"] = str(payload.get("error") or "")
        elif event.kind == ConversationEvent.Kind.EXTERNAL_EVENT:
            title = payload.get("title") or payload.get("name") or payload.get("type") or ""
            names["title"] = str(title)
        note = payload.get("handover_note")
        if isinstance(note, str) and note.strip():
            names["handover_note"] = note
        item.names = names


def _describe_with_lookups(
    items: Sequence[ThreadItem], events: Sequence[ConversationEvent]
) -> None:
    user_ids, team_ids = selectors.referenced_ids(events)
    people = _people(user_ids, with_active=False)
    teams = {t.pk: t for t in Team.objects.filter(pk__in=team_ids)} if team_ids else {}
    _describe(items, people, teams)


# --- the page -------------------------------------------------------------------------------------


def _poll_url(
    conversation: Conversation,
    *,
    after: int,
    event_id: int,
    cursor: EventCursor,
    watch: int,
    seen: dt.datetime | None,
) -> str:
    query: dict[str, str | int] = {
        "after": after,
        "ev": event_id,
        "cur": cursor.encode(),
        "watch": watch,
        "seen": selectors.to_micros(seen) if seen is not None else "",
    }
    return f"{reverse('conversations:poll', args=[conversation.pk])}?{urlencode(query)}"


def _older_url(conversation: Conversation, before: int | None, until: dt.datetime | None) -> str:
    if before is None or until is None:
        return ""
    query = {"before": before, "until": selectors.to_micros(until)}
    return f"{reverse('conversations:older', args=[conversation.pk])}?{urlencode(query)}"


def _side_context(conversation: Conversation, people: dict[int, User]) -> dict[str, Any]:
    agents = [u for u in people.values() if u.is_active]
    handles = services.mention_handles(agents)
    now = timezone.localtime()
    tomorrow = (now + dt.timedelta(days=1)).replace(hour=9, minute=0, second=0, microsecond=0)
    return {
        "agents": [(u, handles[u.pk]) for u in agents],
        "teams": list(Team.objects.order_by("name")),
        "snooze_default": tomorrow.strftime(SNOOZE_INPUT_FORMAT),
        "snooze_min": now.strftime(SNOOZE_INPUT_FORMAT),
        "statuses": [
            (Conversation.Status.OPEN, Conversation.Status.OPEN.label),
            (Conversation.Status.PENDING, Conversation.Status.PENDING.label),
        ],
        "priorities": Conversation.Priority.choices,
    }


def _header_context(conversation: Conversation) -> dict[str, Any]:
    labels = selectors.labels_with_state(conversation)
    return {
        "labels": sorted(labels, key=lambda label: label.name.lower()),
        "conversation_labels": [label for label in labels if label.on],  # type: ignore[attr-defined]
    }


def _page(
    request: HttpRequest,
    conversation: Conversation,
    level: Access,
    *,
    extra: dict[str, Any] | None = None,
    status: int = 200,
) -> HttpResponse:
    user = _user(request)
    can_act = level >= Access.ACT
    page = selectors.thread_page(conversation)
    if request.method == "GET":
        mark_read(user, conversation)
    prev_id, next_id = neighbours(user, conversation, request.GET)
    user_ids, _team_ids = selectors.referenced_ids(page.events)
    people = _people(user_ids, with_active=can_act)
    context: dict[str, Any] = {
        "nav": "inbox",
        "conversation": conversation,
        "can_act": can_act,
        "page": page,
        "items": page.items,
        "older_url": _older_url(conversation, page.older_before, page.older_until),
        "prev_id": prev_id,
        "next_id": next_id,
        "list_state": _list_state(request),
        "compose_mode": "reply",
        "compose_text": "",
        "signature": user.signature.strip(),
        **_header_context(conversation),
    }
    teams: dict[int, Team] = {}
    if can_act:
        side = _side_context(conversation, people)
        teams = {t.pk: t for t in side["teams"]}
        context.update(side)
    else:
        teams = {t.pk: t for t in Team.objects.all()}
    _describe(page.items, people, teams)
    watch, seen = selectors.delivery_watch(page.messages)
    context["poll_url"] = _poll_url(
        conversation,
        after=page.newest_sequence,
        event_id=page.event_cursor.id,
        cursor=page.event_cursor,
        watch=watch,
        seen=seen,
    )
    images = _remote_images_for(request, page.messages)
    if images is not None:
        context["images_message_id"] = images
    if extra:
        context.update(extra)
    response = render(request, "conversations/detail.html", context, status=status)
    if images is not None:
        # The agent asked to see this message's remote images: this page may load them.
        response._csp_update = {"img-src": ["https:", "http:"]}  # type: ignore[attr-defined]
    return response


def _remote_images_for(request: HttpRequest, messages: Sequence[Message]) -> int | None:
    """The message whose remote images the agent allowed (`?images=<message id>`), if shown."""
    raw = request.GET.get("images", "")
    if not raw.isdigit():
        return None
    wanted = int(raw)
    return wanted if any(m.pk == wanted for m in messages) else None


@login_required
@require_GET
def detail(request: HttpRequest, conversation_id: int) -> HttpResponse:
    """The conversation page (or, for a restricted team's outsider, its entry without content)."""
    conversation = _get(request, conversation_id)
    level = access(_user(request), conversation)
    if level < Access.READ:
        return render(
            request,
            "conversations/summary.html",
            {"nav": "inbox", "conversation": conversation, "list_state": _list_state(request)},
        )
    return _page(request, conversation, level)


def _int_param(request: HttpRequest, name: str, *, default: int | None = None) -> int:
    raw = request.GET.get(name, "")
    if raw == "" and default is not None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise _BadRequest(name) from None
    if value < 0 or value > 2**62:
        raise _BadRequest(name)
    return value


class _BadRequest(Exception):
    """A query parameter that is missing or malformed."""


def _bad_request(exc: _BadRequest) -> HttpResponse:
    return HttpResponse(
        _("Bad parameter: %(name)s") % {"name": exc.args[0]}, status=400, content_type="text/plain"
    )


@login_required
@require_GET
def older(request: HttpRequest, conversation_id: int) -> HttpResponse:
    """The page of the thread before `before` (a sequence) and `until` (events), for scrolling up."""
    conversation = _get(request, conversation_id)
    require_read(_user(request), conversation)
    try:
        before = _int_param(request, "before")
        until = selectors.from_micros(_int_param(request, "until"))
    except (_BadRequest, OverflowError) as exc:
        return _bad_request(exc if isinstance(exc, _BadRequest) else _BadRequest("until"))
    page = selectors.thread_page(conversation, before=max(before, 1), until=until)
    _describe_with_lookups(page.items, page.events)
    return render(
        request,
        "conversations/_older.html",
        {
            "conversation": conversation,
            "items": page.items,
            "older_url": _older_url(conversation, page.older_before, page.older_until),
            "can_act": access(_user(request), conversation) >= Access.ACT,
        },
    )


@login_required
@require_GET
def poll(request: HttpRequest, conversation_id: int) -> HttpResponse:
    """What is new since the page last looked; 204 (after one cheap query) when nothing is."""
    user = _user(request)
    try:
        after = _int_param(request, "after")
        event_id = _int_param(request, "ev", default=0)
        watch = _int_param(request, "watch", default=0)
        seen_raw = request.GET.get("seen", "")
        seen = selectors.from_micros(int(seen_raw)) if seen_raw else None
        cursor = EventCursor.decode(request.GET.get("cur", "0.0"))
    except (_BadRequest, ValueError, OverflowError) as exc:
        return _bad_request(exc if isinstance(exc, _BadRequest) else _BadRequest("seen/cur"))
    state = selectors.poll_state(
        user, conversation_id, after=after, event_id=event_id, watch=watch, delivery_seen=seen
    )
    if state is None:
        raise Http404
    conversation = state.conversation
    require_read(user, conversation)
    if not state.changed:
        return HttpResponse(status=204)
    result = selectors.thread_after(
        conversation, after=after, cursor=cursor, watch=watch, state=state
    )
    if state.deliveries_changed:
        watch, seen = selectors.delivery_watch([*result.deliveries, *result.messages])
    elif watch:
        updates = [m.delivery_updated_at for m in result.messages if m.delivery_updated_at]
        seen = max([*updates, *([seen] if seen else [])], default=None)
    else:
        watch, seen = selectors.delivery_watch(result.messages)
    if result.messages:
        mark_read(user, conversation)
    _describe_with_lookups(result.items, result.events)
    context: dict[str, Any] = {
        "conversation": conversation,
        "items": result.items,
        "deliveries": result.deliveries,
        "can_act": access(user, conversation) >= Access.ACT,
        "poll_url": _poll_url(
            conversation,
            after=result.newest_sequence,
            event_id=state.newest_event_id,
            cursor=result.event_cursor,
            watch=watch,
            seen=seen,
        ),
        "refresh_header": state.new_events,
    }
    if state.new_events:
        # The header shows the case's assignee, team, status and labels: any may have changed.
        context["conversation"] = _get(request, conversation.pk)
        context.update(_header_context(conversation))
    return render(request, "conversations/_poll.html", context)


# --- composer ------------------------------------------------------------------------------------
