"""What every settings page shares: admins only, never cached, one way to render."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeAlias

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.cache import add_never_cache_headers

from premura.accounts.models import User

View: TypeAlias = Callable[..., HttpResponse]


def admin_required(view: View) -> View:
    """Anonymous visitors go to sign in; signed-in agents who are not admins get 403.

    Settings pages show secrets once (inbox tokens, webhook secrets), so no response is cached.
    """

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        user = request.user
        if not user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not isinstance(user, User) or not user.is_active or not user.is_admin:
            raise PermissionDenied("only admins change the settings")
        response = view(request, *args, **kwargs)
        add_never_cache_headers(response)
        return response

    return wrapper


def acting_admin(request: HttpRequest) -> User:
    """The signed-in admin (admin_required has checked)."""
    user = request.user
    assert isinstance(user, User)
    return user


def render_settings(
    request: HttpRequest,
    template: str,
    context: dict[str, Any],
    *,
    section: str,
    status: int = 200,
) -> HttpResponse:
    """Render a settings page with the main menu on "settings" and its section highlighted."""
    return render(
        request, template, {**context, "nav": "settings", "section": section}, status=status
    )
