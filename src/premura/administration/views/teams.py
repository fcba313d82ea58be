"""Teams and their members."""

from __future__ import annotations

from django.contrib import messages
from django.db import IntegrityError
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from premura.accounts.models import User
from premura.administration.forms import AddMembersForm, TeamForm
from premura.administration.views.common import admin_required, render_settings
from premura.routing.models import Team
from premura.routing.services import (
    TeamInUse,
    add_team_members,
    create_team,
    delete_team,
    remove_team_member,
    update_team,
)

MEMBER_ORDER = ("display_name", "email")


@admin_required
def team_list(request: HttpRequest) -> HttpResponse:
    """Every team, whether it is restricted, and its members."""
    teams = Team.objects.prefetch_related(
        Prefetch("members", queryset=User.objects.order_by(*MEMBER_ORDER))
    ).order_by("name")
    return render_settings(
        request, "administration/team_list.html", {"teams": teams}, section="teams"
    )


def _duplicate(form: TeamForm) -> None:
    form.add_error("name", _("A team with this name already exists."))


@admin_required
def team_create(request: HttpRequest) -> HttpResponse:
    """A new team."""
    form = TeamForm(request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            try:
                team = create_team(
                    form.cleaned_data["name"], restricted=form.cleaned_data["restricted"]
                )
            except IntegrityError:  # created by someone else since the form was checked
                _duplicate(form)
            else:
                messages.success(request, _("Team “%(name)s” created.") % {"name": team.name})
                return redirect("administration:team", team_id=team.pk)
        return render_settings(
            request, "administration/team_new.html", {"form": form}, section="teams", status=400
        )
    return render_settings(request, "administration/team_new.html", {"form": form}, section="teams")


def _team_page(
    request: HttpRequest,
    team: Team,
    *,
    form: TeamForm | None = None,
    add_form: AddMembersForm | None = None,
    status: int = 200,
) -> HttpResponse:
    context = {
        "team": team,
        "form": form or TeamForm(team=team),
        "add_form": add_form or AddMembersForm(team=team),
        "members": team.members.order_by(*MEMBER_ORDER),
    }
    return render_settings(
        request, "administration/team_detail.html", context, section="teams", status=status
    )


@admin_required
def team_detail(request: HttpRequest, team_id: int) -> HttpResponse:
    """A team's page: its name and restriction, its members."""
    team = get_object_or_404(Team, pk=team_id)
    if request.method != "POST":
        return _team_page(request, team)
    form = TeamForm(request.POST, team=team)
    if form.is_valid():
        try:
            update_team(
                team, name=form.cleaned_data["name"], restricted=form.cleaned_data["restricted"]
            )
        except IntegrityError:
            _duplicate(form)
        else:
            messages.success(request, _("Team “%(name)s” saved.") % {"name": team.name})
            return redirect("administration:team", team_id=team.pk)
    team.refresh_from_db()
    return _team_page(request, team, form=form, status=400)


@admin_required
@require_POST
def team_add_members(request: HttpRequest, team_id: int) -> HttpResponse:
    """Add agents to a team."""
    team = get_object_or_404(Team, pk=team_id)
    add_form = AddMembersForm(request.POST, team=team)
    if not add_form.is_valid():
        return _team_page(request, team, add_form=add_form, status=400)
    added = list(add_form.cleaned_data["members"])
    add_team_members(team, added)
    messages.success(
        request,
        ngettext(
            "%(names)s added to “%(team)s”.",
            "%(names)s added to “%(team)s”.",
            len(added),
        )
        % {"names": ", ".join(str(user) for user in added), "team": team.name},
    )
    return redirect("administration:team", team_id=team.pk)


@admin_required
@require_POST
def team_remove_member(request: HttpRequest, team_id: int, user_id: int) -> HttpResponse:
    """Take an agent out of a team (their conversations stay assigned to them)."""
    team = get_object_or_404(Team, pk=team_id)
    member = get_object_or_404(team.members.all(), pk=user_id)
    remove_team_member(team, member)
    messages.success(
        request,
        _("%(name)s is no longer a member of “%(team)s”.") % {"name": member, "team": team.name},
    )
    return redirect("administration:team", team_id=team.pk)


@admin_required
@require_POST
def team_delete(request: HttpRequest, team_id: int) -> HttpResponse:
    """Delete a team that owns no conversation and receives no inbox's."""
    team = get_object_or_404(Team, pk=team_id)
    try:
        delete_team(team)
    except TeamInUse as exc:
        reasons = []
        if exc.conversations:
            reasons.append(
                ngettext(
                    "it owns %(count)d conversation",
                    "it owns %(count)d conversations",
                    exc.conversations,
                )
                % {"count": exc.conversations}
            )
        if exc.inboxes:
            reasons.append(
                ngettext(
                    "%(count)d inbox sends its new conversations to it",
                    "%(count)d inboxes send their new conversations to it",
                    exc.inboxes,
                )
                % {"count": exc.inboxes}
            )
        messages.error(
            request,
            _(
                "“%(name)s” cannot be deleted: %(reasons)s. Move them to another team first, "
                "or keep the team."
            )
            % {"name": team.name, "reasons": _(" and ").join(reasons)},
        )
        return redirect("administration:team", team_id=team.pk)
    messages.success(request, _("Team “%(name)s” deleted.") % {"name": team.name})
    return redirect("administration:teams")
