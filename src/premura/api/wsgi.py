"""A lean request path for the inbound API channel (docs/architecture.md §6).

Other systems post customer messages to `/api/v1/inboxes/{id}/messages` with an inbox bearer
token, at the highest rate Premura serves. Those requests need none of the middleware the web UI
runs (static files, sessions, language, CSRF, sign-in, two-factor, messages, CSP, htmx, lockouts):
together it cost about a fifth of the CPU of one inbound message. `with_lean_inbound_api` wraps
the WSGI application so that the inbound API channel's own paths go through a handler with only
the middleware that still means something for a JSON API answering a bearer token, and every
other path through the full stack.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable
from typing import Any

from django.core.handlers.exception import convert_exception_to_response
from django.core.handlers.wsgi import WSGIHandler
from django.utils.module_loading import import_string

# The API channel's endpoints authenticated by an inbox token (channels/api.py `router`).
INBOUND_PATH = re.compile(r"^/api/v1/inboxes/\d+/(messages|receipts|attachments/\d+)$")

# HTTPS redirect, HSTS, nosniff and referrer policy; Content-Length, disallowed user agents;
# X-Frame-Options.
INBOUND_MIDDLEWARE = (
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
)

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class LeanWSGIHandler(WSGIHandler):
    """Django's WSGI handler with its own, shorter middleware list instead of settings.MIDDLEWARE."""

    def __init__(self, middleware: Iterable[str] = INBOUND_MIDDLEWARE) -> None:
        self.middleware = tuple(middleware)
        super().__init__()

    def load_middleware(self, is_async: bool = False) -> None:
        """What BaseHandler.load_middleware does for synchronous middleware, from our list."""
        assert not is_async, "the lean handler serves WSGI only"
        self._view_middleware: list[Any] = []
        self._template_response_middleware: list[Any] = []
        self._exception_middleware: list[Any] = []
        handler = convert_exception_to_response(self._get_response)  # type: ignore[attr-defined]
        for path in reversed(self.middleware):
            instance = import_string(path)(handler)
            if hasattr(instance, "process_view"):
                self._view_middleware.insert(0, instance.process_view)
            if hasattr(instance, "process_template_response"):
                self._template_response_middleware.append(instance.process_template_response)
            if hasattr(instance, "process_exception"):
                self._exception_middleware.append(instance.process_exception)
            handler = convert_exception_to_response(instance)
        self._middleware_chain = handler


def with_lean_inbound_api(application: WSGIApp) -> WSGIApp:
    """The WSGI application, with the inbound API channel's requests served by a lean handler."""
    lean = LeanWSGIHandler()
    match = INBOUND_PATH.match

    def dispatch(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if match(environ.get("PATH_INFO", "")):
            return lean(environ, start_response)
        return application(environ, start_response)

    return dispatch


def wsgi_application() -> WSGIApp:
    """Django's WSGI application with the lean inbound path: what `premura web` should serve."""
    from django.core.wsgi import get_wsgi_application

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "premura.settings")
    return with_lean_inbound_api(get_wsgi_application())
