"""REST API for agents and personal API tokens."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Field, Router, Schema, Status

from premura.accounts.models import APIToken, User
from premura.accounts.services import create_agent, issue_api_token, revoke_api_token
from premura.api.auth import AgentToken, agent, require_admin
from premura.api.errors import APIError

router = Router(tags=["Agents and tokens"], auth=AgentToken())


class AgentOut(Schema):
    id: int
    email: str
    display_name: str
    role: str
    is_active: bool
    team_ids: list[int]


class AgentIn(Schema):
    email: str = Field(..., max_length=254)
    display_name: str = Field("", max_length=150)
    role: str = Field("agent", pattern="^(admin|supervisor|agent)$")
    language: str = Field("", pattern="^(|it|en)$")


def agent_dict(user: User, team_ids: list[int]) -> dict[str, Any]:
    return {
        "id": user.pk,
        "email": user.email,
        "display_name": str(user),
        "role": user.role,
        "is_active": user.is_active,
        "team_ids": sorted(team_ids),
    }


@router.get("/agents", response=list[AgentOut], summary="List agents")
def list_agents(request: HttpRequest) -> list[dict[str, Any]]:
    agent(request)
    users = list(User.objects.prefetch_related("teams").order_by("id")[:1000])
    return [agent_dict(u, [t.pk for t in u.teams.all()]) for u in users]


@router.post("/agents", response={201: AgentOut}, summary="Create an agent (admins)")
def post_agent(request: HttpRequest, payload: AgentIn) -> Status[dict[str, Any]]:
    """The new agent sets a password through the password reset flow."""
    require_admin(request)
    try:
        validate_email(payload.email)
    except DjangoValidationError as exc:
        raise APIError(422, "validation_error", "not a valid email address") from exc
    if User.objects.filter(email__iexact=payload.email).exists():
        raise APIError(409, "conflict", "An agent with this email exists.")
    user = create_agent(
        payload.email,
        role=payload.role,
        display_name=payload.display_name,
        language=payload.language,
    )
    return Status(201, agent_dict(user, []))


class TokenOut(Schema):
    id: int
    name: str
    prefix: str
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None


class TokenCreatedOut(TokenOut):
    token: str


class TokenIn(Schema):
    name: str = Field("API", min_length=1, max_length=100)


def token_dict(token: APIToken) -> dict[str, Any]:
    return {
        "id": token.pk,
        "name": token.name,
        "prefix": token.prefix,
        "created_at": token.created_at,
        "last_used_at": token.last_used_at,
        "revoked_at": token.revoked_at,
    }


@router.get("/tokens", response=list[TokenOut], summary="List my API tokens")
def list_tokens(request: HttpRequest) -> list[dict[str, Any]]:
    user = agent(request)
    return [token_dict(t) for t in user.api_tokens.order_by("-id")]


@router.post("/tokens", response={201: TokenCreatedOut}, summary="Create an API token (shown once)")
def post_token(request: HttpRequest, payload: TokenIn) -> Status[dict[str, Any]]:
    user = agent(request)
    issued = issue_api_token(user, payload.name)
    return Status(201, {**token_dict(issued.token), "token": issued.plaintext})


@router.delete("/tokens/{token_id}", response=TokenOut, summary="Revoke one of my API tokens")
def delete_token(request: HttpRequest, token_id: int) -> dict[str, Any]:
    user = agent(request)
    token = get_object_or_404(APIToken, pk=token_id, user=user)
    revoke_api_token(token)
    return token_dict(token)
