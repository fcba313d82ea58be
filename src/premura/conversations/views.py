"""The conversation page: the thread, the composer and the actions on the case.

The page renders the newest page of the thread; older pages come as the agent scrolls up
(`older`), new messages, events and delivery states by polling (`poll`). Every action posts a
plain form that also works with htmx, calls a service and is checked by conversations.visibility.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any, cast

from django import forms
from django.conf import settings
from django.contrib import messages as flash
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    QueryDict,
)
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from premura.accounts.models import User
from premura.channels.models import Inbox
from premura.conversations import outbox, selectors, services
from premura.conversations.attachments import AttachmentTooLarge
from premura.conversations.display import PREVIEW_TYPES
from premura.conversations.downloads import attachment_response
from premura.conversations.models import Attachment, Conversation, ConversationEvent, Message
from premura.conversations.selectors import EventCursor, ThreadItem
from premura.conversations.visibility import Access, access, listable, require_act, require_read
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


class ComposeForm(forms.Form):
    """A reply to the customer or a private note."""

    mode = forms.ChoiceField(
        choices=[("reply", gettext_lazy("Reply")), ("note", gettext_lazy("Private note"))]
    )
    text = forms.CharField(required=False, max_length=MAX_TEXT, strip=False)

    def __init__(self, *args: Any, files_list: Sequence[Any] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.files_list = list(files_list)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        mode = data.get("mode")
        text = data.get("text") or ""
        if mode == "note" and self.files_list:
            raise forms.ValidationError(_("Private notes cannot carry attachments."))
        if len(self.files_list) > MAX_FILES:
            raise forms.ValidationError(_("Attach at most %(count)d files.") % {"count": MAX_FILES})
        for upload in self.files_list:
            if upload.size > settings.PREMURA_MAX_ATTACHMENT_BYTES:
                raise forms.ValidationError(
                    _("%(name)s is larger than the limit of %(size)d MB.")
                    % {
                        "name": upload.name,
                        "size": settings.PREMURA_MAX_ATTACHMENT_BYTES // (1024 * 1024),
                    }
                )
        if mode and not text.strip() and not self.files_list:
            raise forms.ValidationError(
                _("Write a note first.") if mode == "note" else _("Write a reply first.")
            )
        return data


def _composer_response(
    request: HttpRequest,
    conversation: Conversation,
    form: ComposeForm | None,
    *,
    mode: str,
    text: str = "",
    status: int = 200,
) -> HttpResponse:
    context = {
        "conversation": conversation,
        "can_act": True,
        "compose_mode": mode,
        "compose_text": text,
        "compose_form": form,
        "signature": _user(request).signature.strip(),
        "list_state": _list_state(request),
    }
    response = render(request, "conversations/detail.html#composer", context, status=status)
    if status == 200:
        response["HX-Trigger"] = "premura:poll"
    return response


@login_required
@require_POST
def compose(request: HttpRequest, conversation_id: int) -> HttpResponse:
    """Send a reply through the conversation's channel (via the outbox) or add a private note."""
    user = _user(request)
    conversation = _get(request, conversation_id)
    require_act(user, conversation)
    files = request.FILES.getlist("files")
    form = ComposeForm(request.POST, files_list=files)
    mode = "note" if request.POST.get("mode") == "note" else "reply"
    error = ""
    if form.is_valid():
        text = form.cleaned_data["text"]
        try:
            if form.cleaned_data["mode"] == "note":
                services.add_note(conversation, user, text)
                done = _("Note added.")
            else:
                attachments = [
                    services.OutgoingAttachment(
                        f.name or "attachment", f.read(), f.content_type or ""
                    )
                    for f in files
                ]
                services.reply(
                    conversation,
                    user,
                    services.with_signature(text, user) if text.strip() else text,
                    attachments=attachments,
                )
                done = _("Reply queued for delivery.")
        except AttachmentTooLarge:
            error = _("An attachment is larger than the limit.")
        except ValueError:
            error = _("Write a reply first.")
        if not error:
            if _is_htmx(request):
                return _composer_response(request, conversation, None, mode=mode)
            flash.success(request, done)
            return HttpResponseRedirect(_detail_url(conversation, request))
        form.add_error(None, error)
    status = 422 if _is_htmx(request) else 400
    text = request.POST.get("text", "")[:MAX_TEXT]
    if _is_htmx(request):
        return _composer_response(request, conversation, form, mode=mode, text=text, status=status)
    extra = {"compose_form": form, "compose_mode": mode, "compose_text": text}
    return _page(request, conversation, access(user, conversation), extra=extra, status=status)


# --- side actions --------------------------------------------------------------------------------


class AssignForm(forms.Form):
    """Give the conversation to an agent, to oneself ("me") or to nobody ("")."""

    assignee = forms.CharField(required=False, max_length=20)
    handover_note = forms.CharField(required=False, max_length=MAX_HANDOVER_NOTE)

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_assignee(self) -> User | None:
        value = self.cleaned_data["assignee"].strip()
        if value == "":
            return None
        if value == "me":
            return self.user
        agent = (
            User.objects.filter(pk=int(value), is_active=True).first() if value.isdigit() else None
        )
        if agent is None:
            raise forms.ValidationError(_("Choose an agent from the list."))
        return agent


class TeamForm(forms.Form):
    """Move the conversation to a team (or to no team)."""

    team = forms.CharField(required=False, max_length=20)
    handover_note = forms.CharField(required=False, max_length=MAX_HANDOVER_NOTE)

    def clean_team(self) -> Team | None:
        value = self.cleaned_data["team"].strip()
        if value == "":
            return None
        team = Team.objects.filter(pk=int(value)).first() if value.isdigit() else None
        if team is None:
            raise forms.ValidationError(_("Choose a team from the list."))
        return team


class StatusForm(forms.Form):
    """Open, pending, snoozed until a date, resolved."""

    status = forms.ChoiceField(
        choices=[
            (s.value, s.label)
            for s in (
                Conversation.Status.OPEN,
                Conversation.Status.PENDING,
                Conversation.Status.SNOOZED,
                Conversation.Status.RESOLVED,
            )
        ],
        error_messages={"invalid_choice": gettext_lazy("Choose a status from the list.")},
    )
    snoozed_until = forms.CharField(required=False, max_length=40)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        raw = (data.get("snoozed_until") or "").strip()
        if data.get("status") != Conversation.Status.SNOOZED:
            data["snoozed_until"] = None
            return data
        until: dt.datetime | None = None
        for fmt in (SNOOZE_INPUT_FORMAT, "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"):
            try:
                until = dt.datetime.strptime(raw, fmt)  # noqa: DTZ007 - made aware just below
                break
            except ValueError:
                continue
        if until is None:
            self.add_error("snoozed_until", _("Choose the date and time to snooze until."))
            return data
        try:
            aware = timezone.make_aware(until, timezone.get_current_timezone())
        except (ValueError, OverflowError):
            aware = None
        if aware is None or aware <= timezone.now():
            self.add_error("snoozed_until", _("Choose a date and time in the future."))
            return data
        data["snoozed_until"] = aware
        return data


class PriorityForm(forms.Form):
    """None, low, medium, high, urgent."""

    priority = forms.TypedChoiceField(
        choices=Conversation.Priority.choices,
        coerce=int,
        error_messages={"invalid_choice": gettext_lazy("Choose a priority from the list.")},
    )


class LabelsForm(forms.Form):
    """The labels the conversation should have: existing ones by id, and maybe a new one."""

    labels = forms.MultipleChoiceField(
        required=False,
        error_messages={"invalid_choice": gettext_lazy("Choose labels from the list.")},
    )
    new_label = forms.CharField(required=False, max_length=60)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from premura.conversations.models import Label

        data = cast(QueryDict, self.data)
        requested = [v for v in data.getlist("labels") if v.isdigit()] if data else []
        self.known = {
            str(label.pk): label.name
            for label in Label.objects.filter(pk__in=[int(v) for v in requested[:100]])
        }
        self.fields["labels"].choices = list(self.known.items())  # type: ignore[attr-defined]


def _side_response(
    request: HttpRequest,
    conversation: Conversation,
    *,
    form: forms.Form | None = None,
    action: str = "",
    status: int = 200,
) -> HttpResponse:
    conversation = _get(request, conversation.pk)
    level = access(_user(request), conversation)
    people = _people((), with_active=True)
    context: dict[str, Any] = {
        "conversation": conversation,
        "can_act": level >= Access.ACT,
        "side_form": form,
        "side_action": action,
        "list_state": _list_state(request),
        **_side_context(conversation, people),
        **_header_context(conversation),
    }
    response = render(request, "conversations/_side_response.html", context, status=status)
    if status == 200:
        response["HX-Trigger"] = "premura:poll"
    return response


def _act(
    request: HttpRequest,
    conversation_id: int,
    form_class: type[forms.Form],
    apply: Any,
    action: str,
    done: str,
    **form_kwargs: Any,
) -> HttpResponse:
    user = _user(request)
    conversation = _get(request, conversation_id)
    require_act(user, conversation)
    form = form_class(request.POST, **form_kwargs)
    if form.is_valid():
        try:
            apply(conversation, user, form)
        except ValueError as exc:
            form.add_error(None, str(exc))
        else:
            if _is_htmx(request):
                return _side_response(request, conversation, action=action)
            flash.success(request, done)
            return HttpResponseRedirect(_detail_url(conversation, request))
    if _is_htmx(request):
        return _side_response(request, conversation, form=form, action=action, status=422)
    extra = {"side_form": form, "side_action": action}
    return _page(request, conversation, access(user, conversation), extra=extra, status=400)


@login_required
@require_POST
def assign(request: HttpRequest, conversation_id: int) -> HttpResponse:
    """Assign the conversation to an agent (or to nobody)."""

    def apply(conversation: Conversation, user: User, form: AssignForm) -> None:
        data = form.cleaned_data
        services.assign(
            conversation, user, assignee=data["assignee"], handover_note=data["handover_note"]
        )

    return _act(
        request,
        conversation_id,
        AssignForm,
        apply,
        "assign",
        _("Assignment saved."),
        user=_user(request),
    )


@login_required
@require_POST
def team(request: HttpRequest, conversation_id: int) -> HttpResponse:
    """Move the conversation to another team (with an optional handover note)."""

    def apply(conversation: Conversation, user: User, form: TeamForm) -> None:
        data = form.cleaned_data
        services.set_team(
            conversation, user, team=data["team"], handover_note=data["handover_note"]
        )

    return _act(request, conversation_id, TeamForm, apply, "team", _("Team saved."))


@login_required
@require_POST
def status(request: HttpRequest, conversation_id: int) -> HttpResponse:
    """Open, set pending, snooze until a date, or resolve the conversation."""

    def apply(conversation: Conversation, user: User, form: StatusForm) -> None:
        data = form.cleaned_data
        services.set_status(conversation, user, data["status"], snoozed_until=data["snoozed_until"])

    return _act(request, conversation_id, StatusForm, apply, "status", _("Status saved."))


@login_required
@require_POST
def priority(request: HttpRequest, conversation_id: int) -> HttpResponse:
    """Change the priority."""

    def apply(conversation: Conversation, user: User, form: PriorityForm) -> None:
        services.set_priority(conversation, user, form.cleaned_data["priority"])

    return _act(request, conversation_id, PriorityForm, apply, "priority", _("Priority saved."))


@login_required
@require_POST
def labels(request: HttpRequest, conversation_id: int) -> HttpResponse:
    """Set the conversation's labels (ticked ones stay or are added, the others are removed)."""

    def apply(conversation: Conversation, user: User, form: LabelsForm) -> None:
        wanted = {form.known[v] for v in form.cleaned_data["labels"]}
        new = form.cleaned_data["new_label"].strip()
        if new:
            wanted.add(new)
        current = set(conversation.labels.values_list("name", flat=True))
        services.change_labels(
            conversation, user, add=sorted(wanted - current), remove=sorted(current - wanted)
        )

    return _act(request, conversation_id, LabelsForm, apply, "labels", _("Labels saved."))


@login_required
@require_POST
def retry(request: HttpRequest, conversation_id: int, message_id: int) -> HttpResponse:
    """Queue a failed reply for a new round of delivery attempts."""
    user = _user(request)
    conversation = _get(request, conversation_id)
    message = get_object_or_404(Message, pk=message_id, conversation_id=conversation.pk)
    require_act(user, conversation)
    error = ""
    try:
        message = outbox.retry_failed(message)
    except ValueError:
        error = _("Only a failed message can be retried.")
    if _is_htmx(request):
        response = render(
            request,
            "conversations/_delivery.html",
            {"message": message, "conversation": conversation, "can_act": True, "error": error},
            status=422 if error else 200,
        )
        if not error:
            response["HX-Trigger"] = "premura:poll"
        return response
    if error:
        flash.error(request, error)
        return _page(request, conversation, access(user, conversation), status=400)
    flash.success(request, _("The message is queued again."))
    return HttpResponseRedirect(_detail_url(conversation, request))


# --- attachments ---------------------------------------------------------------------------------


def _attachment(request: HttpRequest, attachment_id: int) -> Attachment:
    attachment = get_object_or_404(
        Attachment.objects.select_related("message__conversation__team"), pk=attachment_id
    )
    require_read(_user(request), attachment.message.conversation)
    return attachment


@login_required
@require_GET
def attachment_preview(request: HttpRequest, attachment_id: int) -> FileResponse:
    """An image shown inline in the thread: only PNG, JPEG, GIF and WebP (sniffed), never SVG."""
    attachment = _attachment(request, attachment_id)
    if attachment.content_type not in PREVIEW_TYPES:
        raise Http404
    response = FileResponse(
        attachment.file.open("rb"),
        as_attachment=False,
        filename=attachment.filename,
        content_type=attachment.content_type,
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cross-Origin-Resource-Policy"] = "same-origin"
    response["Cache-Control"] = "private, max-age=3600"
    return response


@login_required
@require_GET
def attachment_download(request: HttpRequest, attachment_id: int) -> FileResponse:
    """Any attachment as a download (never rendered by the browser)."""
    return attachment_response(_attachment(request, attachment_id))


@login_required
@require_POST
def delete(request: HttpRequest, conversation_id: int) -> HttpResponse:
    """Delete a case for good (admins only), then back to the inbox."""
    user = _user(request)
    conversation = _get(request, conversation_id)
    if not user.is_admin:
        raise PermissionDenied
    reference = services.delete_conversation(conversation, user)
    flash.success(request, _("%(reference)s was deleted.") % {"reference": reference})
    return HttpResponseRedirect(reverse("inbox:index"))


@login_required
@require_GET
def original(request: HttpRequest, message_id: int) -> HttpResponse:
    """The provider's payload of an inbound message exactly as received (an email's source), as
    a download: never rendered by the browser."""
    message = get_object_or_404(
        Message.objects.select_related("conversation__team", "raw", "inbox"), pk=message_id
    )
    require_read(_user(request), message.conversation)
    if message.raw is None:
        raise Http404
    is_email = message.raw.content_type == "message/rfc822"
    response = HttpResponse(
        bytes(message.raw.body),
        content_type="message/rfc822" if is_email else "application/octet-stream",
    )
    extension = "eml" if is_email else "txt"
    name = f"{message.conversation.reference}-{message.sequence}.{extension}"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
