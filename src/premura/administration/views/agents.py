"""Agents and roles: invite, change role and teams, deactivate and reactivate (never delete)."""

from __future__ import annotations

import logging
import smtplib
from typing import Any

from django.contrib import messages
from django.db import IntegrityError, transaction
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from premura.accounts.models import User
from premura.accounts.services import (
    LastAdminError,
    create_agent,
    deactivate_agent,
    reactivate_agent,
    update_agent,
)
from premura.administration.forms import AgentCreateForm, AgentEditForm
from premura.administration.invitations import send_invitation
from premura.administration.views.common import acting_admin, admin_required, render_settings
from premura.routing.models import Team
from premura.routing.services import set_agent_teams

logger = logging.getLogger(__name__)


def _last_admin_message(agent: User, action: str) -> str:
    if action == "demote":
        return _(
            "%(name)s is the last active admin: make another agent an admin first, "
            "so someone can still change these settings."
        ) % {"name": agent}
    return _(
        "%(name)s is the last active admin and cannot be deactivated: make another agent "
        "an admin first, so someone can still change these settings."
    ) % {"name": agent}


def _invite(request: HttpRequest, agent: User) -> bool:
    """Send the invitation; a mail server failure is said, not raised (the agent exists)."""
    try:
        send_invitation(agent, acting_admin(request))
    except (smtplib.SMTPException, OSError):
        logger.exception("invitation to %s not sent", agent.email)
        messages.error(
            request,
            _(
                "The invitation email to %(email)s could not be sent: check the mail settings, "
                "then send it again from this page."
            )
            % {"email": agent.email},
        )
        return False
    return True


@admin_required
def agent_list(request: HttpRequest) -> HttpResponse:
    """Every agent with their role, teams, state and availability."""
    agents = User.objects.prefetch_related(
        Prefetch("teams", queryset=Team.objects.order_by("name"))
    ).order_by("-is_active", "display_name", "email")
    return render_settings(
        request, "administration/agent_list.html", {"agents": agents}, section="agents"
    )


@admin_required
def agent_create(request: HttpRequest) -> HttpResponse:
    """A new agent, invited by email to choose their own password."""
    form = AgentCreateForm(request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                with transaction.atomic():
                    agent = create_agent(
                        data["email"], role=data["role"], display_name=data["display_name"]
                    )
                    set_agent_teams(agent, data["teams"])
            except IntegrityError:  # the same email added by someone else meanwhile
                form.add_error("email", _("An agent with this email already exists."))
            else:
                if _invite(request, agent):
                    messages.success(
                        request,
                        _(
                            "%(name)s added: an email to %(email)s invites them to choose a password."
                        )
                        % {"name": agent, "email": agent.email},
                    )
                return redirect("administration:agent", agent_id=agent.pk)
        return render_settings(
            request, "administration/agent_new.html", {"form": form}, section="agents", status=400
        )
    return render_settings(
        request, "administration/agent_new.html", {"form": form}, section="agents"
    )


def _agent_page(
    request: HttpRequest, agent: User, form: AgentEditForm | None = None, status: int = 200
) -> HttpResponse:
    context: dict[str, Any] = {
        "agent": agent,
        "form": form or AgentEditForm(agent=agent),
        "is_self": agent.pk == request.user.pk,
        "invited": not agent.has_usable_password() and agent.last_login is None,
    }
    return render_settings(
        request, "administration/agent_detail.html", context, section="agents", status=status
    )


def _agent(agent_id: int) -> User:
    return get_object_or_404(
        User.objects.prefetch_related(Prefetch("teams", queryset=Team.objects.order_by("name"))),
        pk=agent_id,
    )


@admin_required
def agent_detail(request: HttpRequest, agent_id: int) -> HttpResponse:
    """An agent's page: name, role and teams; deactivate, reactivate, invite again."""
    agent = _agent(agent_id)
    if request.method != "POST":
        return _agent_page(request, agent)
    form = AgentEditForm(request.POST, agent=agent)
    if form.is_valid():
        data = form.cleaned_data
        try:
            with transaction.atomic():
                update_agent(agent, display_name=data["display_name"], role=data["role"])
                set_agent_teams(agent, data["teams"])
        except LastAdminError:
            form.add_error("role", _last_admin_message(agent, "demote"))
        else:
            messages.success(request, _("%(name)s saved.") % {"name": agent})
            if agent.pk == request.user.pk and not agent.is_admin:
                return redirect("web:home")  # no longer an admin: the settings are closed now
            return redirect("administration:agent", agent_id=agent.pk)
    return _agent_page(request, _agent(agent_id), form, status=400)


@admin_required
@require_POST
def agent_deactivate(request: HttpRequest, agent_id: int) -> HttpResponse:
    """The agent can no longer sign in or use their API tokens; their history stays."""
    agent = get_object_or_404(User, pk=agent_id)
    try:
        deactivate_agent(agent)
    except LastAdminError:
        messages.error(request, _last_admin_message(agent, "deactivate"))
        return redirect("administration:agent", agent_id=agent.pk)
    messages.success(
        request,
        _(
            "%(name)s is deactivated: they can no longer sign in. Their conversations and history stay."
        )
        % {"name": agent},
    )
    if agent.pk == request.user.pk:
        return redirect("web:login")
    return redirect("administration:agent", agent_id=agent.pk)


@admin_required
@require_POST
def agent_reactivate(request: HttpRequest, agent_id: int) -> HttpResponse:
    """Let a deactivated agent sign in again."""
    agent = get_object_or_404(User, pk=agent_id)
    reactivate_agent(agent)
    messages.success(request, _("%(name)s can sign in again.") % {"name": agent})
    return redirect("administration:agent", agent_id=agent.pk)


@admin_required
@require_POST
def agent_invite(request: HttpRequest, agent_id: int) -> HttpResponse:
    """Send the email to choose a password again (the earlier link may have expired)."""
    agent = get_object_or_404(User, pk=agent_id, is_active=True)
    if _invite(request, agent):
        messages.success(
            request,
            _("An email to %(email)s invites %(name)s to choose a password.")
            % {"email": agent.email, "name": agent},
        )
    return redirect("administration:agent", agent_id=agent.pk)
