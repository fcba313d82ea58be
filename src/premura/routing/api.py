"""REST API for teams (admins create, everyone lists)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status

from premura.accounts.models import User
from premura.api.auth import AgentToken, agent, require_admin
from premura.api.errors import APIError
from premura.routing.models import Team
from premura.routing.services import create_team

router = Router(tags=["Teams"], auth=AgentToken())


class TeamOut(Schema):
    id: int
    name: str
    slug: str
    restricted: bool
    member_ids: list[int]


class TeamIn(Schema):
    name: str = Field(..., min_length=1, max_length=100)
    restricted: bool = False
    member_ids: list[int] = Field(default_factory=list, max_length=1000)


def team_dict(team: Team, member_ids: list[int]) -> dict[str, Any]:
    return {
        "id": team.pk,
        "name": team.name,
        "slug": team.slug,
        "restricted": team.restricted,
        "member_ids": sorted(member_ids),
    }


@router.get("/teams", response=list[TeamOut], summary="List teams")
def list_teams(request: HttpRequest) -> list[dict[str, Any]]:
    agent(request)
    teams = list(Team.objects.prefetch_related("members").order_by("name"))
    return [team_dict(t, [m.pk for m in t.members.all()]) for t in teams]


@router.post("/teams", response={201: TeamOut}, summary="Create a team (admins)")
def post_team(request: HttpRequest, payload: TeamIn) -> Status[dict[str, Any]]:
    require_admin(request)
    if Team.objects.filter(name__iexact=payload.name).exists():
        raise APIError(409, "conflict", "A team with this name exists.")
    members = list(User.objects.filter(pk__in=payload.member_ids))
    if len(members) != len(set(payload.member_ids)):
        raise APIError(422, "validation_error", "Some member ids are not agents.")
    team = create_team(payload.name, restricted=payload.restricted, members=members)
    return Status(201, team_dict(team, [m.pk for m in members]))
