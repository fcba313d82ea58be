"""What an inbox list is: its view, filters, sort and search, read from a query string.

The inbox page, its cursor pages, the bulk actions' "back to the list" and the conversation page's
previous / next all describe a list with the same query string (`view`, `status`, `inbox`,
`channel`, `team`, `assignee`, `label`, `priority`, `language`, `sort`, `q`), so they all build
it here. Every list is ordered by a key that ends with the id and that an index of the
conversations table leads with, so a page is a keyset range (`cursor`), never an OFFSET.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.http import QueryDict
from django.utils.translation import gettext as _

from premura.api.errors import APIError
from premura.api.pagination import decode_cursor, encode_cursor
from premura.channels.models import Inbox
from premura.conversations.models import Conversation, Mention, parse_reference
from premura.conversations.visibility import listable, team_ids
from premura.search.api import conversations_matching

if TYPE_CHECKING:
    from premura.accounts.models import User

VIEWS = ("mine", "unassigned", "teams", "all", "mentions")
SORTS = ("activity", "waiting", "priority")
ALL_STATUSES = "all"
STATUSES = (*Conversation.Status.values, ALL_STATUSES)
MAX_QUERY = 200
_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{2,8})?$")

# Each sort's key: (field, descending). The id comes last so that rows sharing a time still have
# one fixed order, and a cursor names exactly one row.
SORT_KEYS: dict[str, tuple[tuple[str, bool], ...]] = {
    "activity": (("last_activity_at", True), ("id", True)),
    "priority": (("priority", True), ("last_activity_at", True), ("id", True)),
    "waiting": (("last_customer_message_at", False), ("id", False)),
}
_CURSOR_TYPES: dict[str, tuple[type, ...]] = {
    "activity": (str, dt.datetime, int),
    "priority": (str, int, dt.datetime, int),
    "waiting": (str, dt.datetime, int),
}


class InvalidList(ValueError):
    """A query string that does not describe a list: the messages say what is wrong."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class ListState:
    """One inbox list: view, filters, sort, search and (for a page) the cursor."""

    view: str = "all"
    status: str = Conversation.Status.OPEN
    inbox: int | None = None
    channel: str = ""
    team: int | None = None  # 0: no team
    assignee: int | None = None  # 0: nobody
    label: int | None = None
    priority: int | None = None
    language: str = ""
    sort: str = "activity"
    q: str = ""
    cursor: str = field(default="", compare=False)

    @property
    def has_filters(self) -> bool:
        return any(
            value not in (None, "")
            for value in (
                self.inbox,
                self.channel,
                self.team,
                self.assignee,
                self.label,
                self.priority,
                self.language,
            )
        )

    def params(self, **overrides: Any) -> dict[str, str]:
        """The query string's values (only those set), with `overrides` applied."""
        state = replace(self, **overrides) if overrides else self
        values: dict[str, str] = {"view": state.view, "status": state.status}
        for name in ("inbox", "channel", "team", "assignee", "label", "priority", "language"):
            value = getattr(state, name)
            if value in (None, ""):
                continue
            # No team / nobody is 0 in the state and "none" in the address.
            none = name in ("team", "assignee") and value == 0
            values[name] = "none" if none else str(value)
        values["sort"] = state.sort
        if state.q:
            values["q"] = state.q
        if state.cursor:
            values["cursor"] = state.cursor
        return values

    def querystring(self, **overrides: Any) -> str:
        """The list as a query string (without the leading "?")."""
        query = QueryDict(mutable=True)
        query.update(self.params(**overrides))
        return query.urlencode()


def default_view(user: User, q: str) -> str:
    """A search looks everywhere; otherwise an agent starts on their teams' work."""
    if q or user.is_supervisor_or_admin or not team_ids(user):
        return "all"
    return "teams"


def _int(
    params: QueryDict, name: str, problems: list[str], *, low: int = 0, none: bool = False
) -> int | None:
    raw = params.get(name, "").strip()
    if raw == "":
        return None
    if raw == "none" and none:
        return 0
    if raw.isdigit() and len(raw) <= 12 and int(raw) >= low:
        return int(raw)
    problems.append(
        _("%(name)s: “%(value)s” is not a valid choice.") % {"name": name, "value": raw[:40]}
    )
    return None


def parse_list(params: QueryDict, user: User, *, strict: bool = True) -> ListState:
    """The list described by `params`; unknown values raise InvalidList (or are dropped)."""
    problems: list[str] = []

    def choice(name: str, allowed: tuple[str, ...], default: str) -> str:
        raw = params.get(name, "").strip()
        if raw == "":
            return default
        if raw in allowed:
            return raw
        problems.append(
            _("%(name)s: “%(value)s” is not a valid choice.") % {"name": name, "value": raw[:40]}
        )
        return default

    q = " ".join(params.get("q", "").split())[:MAX_QUERY]
    view = choice("view", VIEWS, "")
    if not view:
        view = default_view(user, q)
    default_status = ALL_STATUSES if q or view == "mentions" else Conversation.Status.OPEN
    status = choice("status", STATUSES, default_status)
    channel = choice("channel", tuple(Inbox.Kind.values), "")
    sort = choice("sort", SORTS, "activity")
    language = params.get("language", "").strip().lower()
    if language and not _LANGUAGE.match(language):
        problems.append(
            _("%(name)s: “%(value)s” is not a valid choice.")
            % {"name": "language", "value": language[:40]}
        )
        language = ""
    priority = _int(params, "priority", problems)
    if priority is not None and priority not in Conversation.Priority.values:
        problems.append(
            _("%(name)s: “%(value)s” is not a valid choice.")
            % {"name": "priority", "value": priority}
        )
        priority = None
    state = ListState(
        view=view,
        status=status,
        inbox=_int(params, "inbox", problems, low=1),
        channel=channel,
        team=_int(params, "team", problems, low=1, none=True),
        assignee=_int(params, "assignee", problems, low=1, none=True),
        label=_int(params, "label", problems, low=1),
        priority=priority,
        language=language,
        sort=sort,
        q=q,
        cursor=params.get("cursor", "").strip()[:500],
    )
    if problems and strict:
        raise InvalidList(problems)
    return state


# --- the query ---------------------------------------------------------------------------------


def _readable_content(user: User) -> Q | None:
    """Conversations whose content the user may read (None: all of them).

    Searching or filtering by label looks at content, so it must not reveal a restricted team's
    conversations to outsiders (conversations.visibility: they see the entry, not the content).
    """
    if user.is_supervisor_or_admin:
        return None
    from premura.routing.models import Team

    hidden = Team.objects.filter(restricted=True).exclude(pk__in=team_ids(user)).values("pk")
    return ~Q(team_id__in=hidden) | Q(assignee_id=user.pk)


WAITING_FOR_US = Q(last_customer_message_at__isnull=False) & (
    Q(last_agent_message_at__isnull=True)
    | Q(last_agent_message_at__lt=F("last_customer_message_at"))
)


def conversations(user: User, state: ListState) -> QuerySet[Conversation]:
    """Every conversation of the list, unordered and without the cursor."""
    qs = listable(user)
    if state.view == "mine":
        qs = qs.filter(assignee_id=user.pk)
    elif state.view == "unassigned":
        qs = qs.filter(assignee__isnull=True)
    elif state.view == "teams":
        teams = sorted(team_ids(user))
        # One team is an equality, so the team index also gives the order.
        qs = qs.filter(team_id=teams[0]) if len(teams) == 1 else qs.filter(team_id__in=teams)
    elif state.view == "mentions":
        mentioned = Mention.objects.filter(user_id=user.pk, conversation_id=OuterRef("pk"))
        qs = qs.filter(Exists(mentioned))
    if state.status != ALL_STATUSES:
        qs = qs.filter(status=state.status)
    else:  # suspected spam shows only when asked for (the Spam link)
        qs = qs.exclude(status=Conversation.Status.SPAM)
    if state.inbox is not None:
        qs = qs.filter(inbox_id=state.inbox)
    if state.channel:
        qs = qs.filter(inbox_id__in=Inbox.objects.filter(kind=state.channel).values("pk"))
    if state.team is not None:
        qs = qs.filter(team__isnull=True) if state.team == 0 else qs.filter(team_id=state.team)
    if state.assignee is not None:
        qs = (
            qs.filter(assignee__isnull=True)
            if state.assignee == 0
            else qs.filter(assignee_id=state.assignee)
        )
    if state.priority is not None:
        qs = qs.filter(priority=state.priority)
    if state.language:
        qs = qs.filter(language=state.language)
    if state.sort == "waiting":
        qs = qs.filter(WAITING_FOR_US)
    if state.label is not None or state.q:
        readable = _readable_content(user)
        if readable is not None:
            qs = qs.filter(readable)
    if state.label is not None:
        labelled = Conversation.labels.through.objects.filter(
            conversation_id=OuterRef("pk"), label_id=state.label
        )
        qs = qs.filter(Exists(labelled))
    if state.q:
        reference = parse_reference(state.q)
        if reference is not None:
            qs = qs.filter(pk=reference)
        else:
            qs = conversations_matching(qs, state.q)
    return qs


def ordering(sort: str, *, reverse: bool = False) -> list[Any]:
    """ORDER BY of a sort (or its reverse, to walk backwards)."""
    result: list[Any] = []
    for name, descending in SORT_KEYS[sort]:
        desc = descending != reverse
        result.append(F(name).desc() if desc else F(name).asc())
    return result


def key_of(conversation: Conversation, sort: str) -> list[Any]:
    """The values of the sort key of a conversation."""
    return [
        conversation.pk if name == "id" else getattr(conversation, name)
        for name, _desc in SORT_KEYS[sort]
    ]


def after(sort: str, key: list[Any], *, reverse: bool = False) -> Q:
    """Rows strictly after `key` in the sort's order (before it when `reverse`).

    (a, b) after (x, y) is a beyond x, or a = x and b beyond y. The bound on the first field
    alone is repeated so that the database starts the index range there instead of filtering
    from the first row of the index.
    """
    fields = SORT_KEYS[sort]
    alternatives = Q()
    for position, (name, descending) in enumerate(fields):
        beyond = "lt" if descending != reverse else "gt"
        term = Q(**{f"{name}__{beyond}": key[position]})
        for earlier in range(position):
            term &= Q(**{fields[earlier][0]: key[earlier]})
        alternatives |= term
    first, descending = fields[0]
    bound = Q(**{f"{first}__{'lte' if descending != reverse else 'gte'}": key[0]})
    return bound & alternatives


def cursor_for(conversation: Conversation, sort: str) -> str:
    """The cursor of the page that follows `conversation`."""
    return encode_cursor([sort, *key_of(conversation, sort)])


def decode(state: ListState) -> list[Any] | None:
    """The sort key a cursor names (None without a cursor); a bad one raises InvalidList."""
    if not state.cursor:
        return None
    try:
        values = decode_cursor(state.cursor, _CURSOR_TYPES[state.sort])
    except APIError:
        values = []
    if not values or values[0] != state.sort:
        raise InvalidList([_("The page link is not valid any more: start from the first page.")])
    key = values[1:]
    for value in key:
        naive = isinstance(value, dt.datetime) and value.tzinfo is None
        # The database's integers are 64-bit: a larger one would be its error, not ours.
        too_big = isinstance(value, int) and not 0 <= value < 2**62
        if naive or too_big:
            raise InvalidList(
                [_("The page link is not valid any more: start from the first page.")]
            )
    return key
