"""The inbox: the agent's lists of conversations, their bulk actions and the command palette."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, QueryDict
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_GET, require_POST

from premura.accounts.models import User
from premura.channels.models import Inbox
from premura.conversations.models import Conversation
from premura.conversations.visibility import team_ids
from premura.inbox import lists, selectors, services
from premura.inbox import palette as command_palette
from premura.inbox.forms import BULK_STATUSES, BulkForm
from premura.inbox.services import BulkResult
from premura.routing.models import Team

VIEW_NAMES = {
    "mine": gettext_lazy("Mine"),
    "unassigned": gettext_lazy("Unassigned"),
    "teams": gettext_lazy("My teams"),
    "all": gettext_lazy("All"),
    "mentions": gettext_lazy("Mentions"),
}
SORT_NAMES = {
    "activity": gettext_lazy("Last activity"),
    "waiting": gettext_lazy("Oldest waiting first"),
    "priority": gettext_lazy("Priority"),
}
_SENTINEL = 987654321987
# Conversations a bulk report names by reference before it says "and N more".
REPORT_NAMES = 10


def _agent(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def _invalid(request: HttpRequest, problems: list[str]) -> HttpResponse:
    return render(
        request,
        "inbox/invalid.html",
        {"problems": problems, "nav": "inbox"},
        status=400,
    )


@login_required
@require_GET
def index(request: HttpRequest) -> HttpResponse:
    """A list of conversations: a view, its filters, sort and search, a page at a time."""
    user = _agent(request)
    try:
        state = lists.parse_list(request.GET, user)
        result = selectors.page(user, state)
    except lists.InvalidList as exc:
        return _invalid(request, exc.problems)
    list_query = state.querystring(cursor="")
    # One reverse() for the page, not one per row.
    url = reverse("conversations:detail", args=[_SENTINEL]).replace(str(_SENTINEL), "{}")
    for row in result.rows:
        row.url = f"{url.format(row.conversation.pk)}?{list_query}"
    context: dict[str, Any] = {
        "state": state,
        "page": result,
        "list_query": list_query,
        "older_query": state.querystring(cursor=result.next_cursor) if result.next_cursor else "",
    }
    if request.htmx and state.cursor:  # type: ignore[attr-defined]
        # "Older" loaded in place: only the new rows and the next "Older" link.
        return render(request, "inbox/index.html#rows", context)
    options = selectors.options()
    counts = selectors.counts(user)
    context.update(
        {
            "nav": "inbox",
            "search_query": state.q,
            "counts": counts,
            "tabs": [
                (view, name, counts[view], view == state.view)
                for view, name in VIEW_NAMES.items()
                if view != "teams" or team_ids(user) or state.view == "teams"
            ],
            "view_name": VIEW_NAMES[state.view],
            "options": options,
            "statuses": [*Conversation.Status.choices, (lists.ALL_STATUSES, _("Any status"))],
            "channels": Inbox.Kind.choices,
            "priorities": Conversation.Priority.choices,
            "languages": settings.LANGUAGES,
            "sorts": list(SORT_NAMES.items()),
            "bulk_statuses": BULK_STATUSES,
        }
    )
    return render(request, "inbox/index.html", context)


def _references(conversations: list[Conversation]) -> str:
    names = [c.reference for c in conversations[:REPORT_NAMES]]
    more = len(conversations) - len(names)
    if more:
        names.append(ngettext("and %(n)d more", "and %(n)d more", more) % {"n": more})
    return ", ".join(names)


def _report(request: HttpRequest, result: BulkResult) -> None:
    if result.changed:
        count = len(result.changed)
        messages.success(
            request,
            ngettext("%(n)d conversation updated.", "%(n)d conversations updated.", count)
            % {"n": count},
        )
    if result.unchanged:
        count = len(result.unchanged)
        messages.info(
            request,
            ngettext(
                "%(n)d conversation was already like that.",
                "%(n)d conversations were already like that.",
                count,
            )
            % {"n": count},
        )
    if result.refused:
        messages.warning(
            request,
            _("Not changed, they belong to a team you are not part of: %(refs)s")
            % {"refs": _references(result.refused)},
        )
    for conversation, reason in result.failed:
        messages.error(
            request,
            _("%(ref)s was not changed: %(reason)s")
            % {"ref": conversation.reference, "reason": reason},
        )


def _back_to_list(request: HttpRequest, query: str) -> HttpResponseRedirect:
    # Only the list's own parameters go back into the address: never a URL from the form.
    kept = QueryDict(query or "", mutable=True)
    allowed = {"view", "status", "inbox", "channel", "team", "assignee", "label", "priority"}
    allowed |= {"language", "sort", "q", "cursor"}
    for name in list(kept):
        if name not in allowed:
            del kept[name]
    url = reverse("inbox:index")
    return HttpResponseRedirect(f"{url}?{kept.urlencode()}" if kept else url)


@login_required
@require_POST
def bulk(request: HttpRequest) -> HttpResponse:
    """Assign, move to a team, change status or labels of the selected conversations."""
    user = _agent(request)
    options = selectors.options()
    form = BulkForm(
        request.POST,
        agents=[(a.id, a.name) for a in options.agents],
        teams=[(t.id, t.name) for t in options.teams],
    )
    if not form.is_valid():
        for error in form.non_field_errors():
            messages.error(request, str(error))
        for name, errors in form.errors.items():
            if name != "__all__":
                for error in errors:
                    messages.error(request, f"{name}: {error}")
        return _back_to_list(request, request.POST.get("next", "")[:2000])
    data = form.cleaned_data
    ids = data["ids"]
    action = data["action"]
    if action == "assign":
        assignee = None
        if data["assignee_id"] is not None:
            assignee = User.objects.filter(pk=data["assignee_id"], is_active=True).first()
            if assignee is None:
                messages.error(request, _("This agent cannot be assigned any more."))
                return _back_to_list(request, data["next"])
        result = services.bulk_assign(user, ids, assignee)
    elif action == "team":
        team = None
        if data["team_id"] is not None:
            team = Team.objects.filter(pk=data["team_id"]).first()
            if team is None:
                messages.error(request, _("This team does not exist any more."))
                return _back_to_list(request, data["next"])
        result = services.bulk_set_team(user, ids, team)
    elif action == "status":
        result = services.bulk_set_status(user, ids, data["status"])
    elif action == "label_add":
        result = services.bulk_change_labels(user, ids, add=[data["label"]])
    else:
        result = services.bulk_change_labels(user, ids, remove=[data["label"]])
    _report(request, result)
    return _back_to_list(request, data["next"])


@login_required
@require_GET
def palette(request: HttpRequest) -> HttpResponse:
    """The command palette's results for `q`, as list items."""
    user = _agent(request)
    found = command_palette.items(user, request.GET.get("q", ""))
    return render(request, "inbox/palette.html", {"items": found})
