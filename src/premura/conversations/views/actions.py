"""What agents do to a case from its page: assign, team, status, priority, labels, retry a failed
delivery, delete (admins)."""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

from django import forms
from django.contrib import messages as flash
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    QueryDict,
)
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from premura.accounts.models import User
from premura.conversations import outbox, services
from premura.conversations.models import Conversation, Message
from premura.conversations.views.page import (
    MAX_HANDOVER_NOTE,
    SNOOZE_INPUT_FORMAT,
    _detail_url,
    _get,
    _header_context,
    _is_htmx,
    _list_state,
    _page,
    _people,
    _side_context,
    _user,
)
from premura.conversations.visibility import Access, access, require_act
from premura.routing.models import Team


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
