"""API authentication: agents' personal tokens (and their browser session for the docs page)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja.security import HttpBearer

from premura.accounts.models import User
from premura.accounts.services import user_for_token
from premura.api.errors import APIError


class AgentToken(HttpBearer):
    """`Authorization: Bearer prm_pat_…`: the agent who owns the token."""

    def authenticate(self, request: HttpRequest, token: str) -> User | None:
        user = user_for_token(token)
        if user is not None:
            request.user = user
        return user


def agent(request: HttpRequest) -> User:
    """The authenticated agent of an API request."""
    user: Any = request.auth  # type: ignore[attr-defined]
    assert isinstance(user, User)
    return user


def require_admin(request: HttpRequest) -> User:
    """The authenticated agent, who must be an admin."""
    user = agent(request)
    if not user.is_admin:
        raise APIError(403, "forbidden", "Only admins can do this.")
    return user
