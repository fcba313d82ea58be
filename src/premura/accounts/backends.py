"""Authentication backends: the sign-in rate limit in front of Django's password check."""

from __future__ import annotations

from typing import Any

from axes.backends import AxesStandaloneBackend
from django.http import HttpRequest


class SignInRateLimitBackend(AxesStandaloneBackend):  # type: ignore[misc]
    """django-axes' lockout check for sign-ins through a web page.

    Code that authenticates without a request (the test client's ``login()``, scripts) is not a
    sign-in from the network, so it is let through to the password check instead of failing.
    """

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> None:
        if request is None:
            return None
        super().authenticate(request, username, password, **kwargs)
        return None
