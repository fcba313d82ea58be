"""Per-request behaviour for signed-in agents: their language and time zone, the two-factor step."""

from __future__ import annotations

import zoneinfo
from functools import lru_cache
from typing import Any, cast
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.deprecation import MiddlewareMixin

LANGUAGE_CODES = {code for code, _name in settings.LANGUAGES}


@lru_cache(maxsize=64)
def agent_zone(name: str) -> zoneinfo.ZoneInfo | None:
    """The time zone called `name`, or None (blank or unknown: the server's default applies)."""
    if not name:
        return None
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None


class AgentPreferencesMiddleware(MiddlewareMixin):
    """Speak the signed-in agent's language and show times in their time zone.

    Before sign-in LocaleMiddleware follows the browser; an agent who chose a language gets it on
    every page after, whatever the browser says. The time zone is reset after each response, so a
    thread never carries one agent's zone into another's request. (MiddlewareMixin makes it work
    under both WSGI and the embedded ASGI server, like Django's own LocaleMiddleware.)
    """

    def process_request(self, request: HttpRequest) -> None:
        user = request.user
        if not user.is_authenticated:
            return
        language = getattr(user, "language", "")
        if language in LANGUAGE_CODES:
            translation.activate(language)
            request.LANGUAGE_CODE = language
        zone = agent_zone(getattr(user, "timezone", ""))
        if zone is not None:
            timezone.activate(zone)

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        timezone.deactivate()
        return response


class TwoFactorMiddleware(MiddlewareMixin):
    """Agents with two-factor sign-in reach no page until their session passed the code step.

    Signing in with the password alone (on the sign-in page, the Django admin's, or any other
    login) leaves the session unverified; everything but the sign-in pages, sign-out, the static
    files and the token-authenticated REST API then redirects to the code step.
    """

    _open_prefixes: tuple[str, ...] | None = None

    @classmethod
    def open_prefixes(cls) -> tuple[str, ...]:
        if cls._open_prefixes is None:
            cls._open_prefixes = (
                reverse("web:login"),  # the sign-in page, the code step, password reset
                reverse("web:logout"),
                reverse("web:health"),
                "/" + settings.STATIC_URL.lstrip("/"),
                "/api/",  # personal tokens, never the session
                "/i18n/",
            )
        return cls._open_prefixes

    def process_request(self, request: HttpRequest) -> HttpResponse | None:
        user = request.user
        if (
            user.is_authenticated
            and getattr(user, "two_factor_enabled", False)
            and not cast(Any, user).is_verified()  # installed by django-otp's OTPMiddleware
            and not request.path.startswith(self.open_prefixes())
        ):
            return self.to_code_step(request)
        return None

    @staticmethod
    def to_code_step(request: HttpRequest) -> HttpResponse:
        next_url = request.get_full_path() if request.method == "GET" else reverse("web:home")
        url = f"{reverse('web:login_code')}?{urlencode({'next': next_url})}"
        if request.headers.get("HX-Request") == "true":
            # An htmx request would swap the code page into a fragment: reload the page instead.
            response = HttpResponse(status=204)
            response["HX-Redirect"] = url
            return response
        return HttpResponseRedirect(url)
