"""Every API error is JSON: {"error": {"code": "...", "message": "...", "details": ...}}."""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

logger = logging.getLogger(__name__)


class APIError(HttpError):
    """An error with a stable machine-readable code."""

    def __init__(self, status_code: int, code: str, message: str, details: Any = None) -> None:
        super().__init__(status_code, message)
        self.code = code
        self.details = details


def error_response(
    api: NinjaAPI, request: HttpRequest, status: int, code: str, message: str, details: Any = None
) -> HttpResponse:
    return api.create_response(
        request, {"error": {"code": code, "message": message, "details": details}}, status=status
    )


_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    422: "validation_error",
    429: "too_many_requests",
}


def _clean_errors(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Validation details without the input echoed back or Python objects."""
    return [
        {
            "loc": list(e.get("loc", ())),
            "msg": str(e.get("msg", "")),
            "type": str(e.get("type", "")),
        }
        for e in errors
    ]


def install(api: NinjaAPI) -> None:
    """Register the JSON error handlers on an API."""

    def on_api_error(request: HttpRequest, exc: Any) -> HttpResponse:
        return error_response(api, request, exc.status_code, exc.code, exc.message, exc.details)

    def on_validation(request: HttpRequest, exc: Any) -> HttpResponse:
        return error_response(
            api,
            request,
            422,
            "validation_error",
            "The request is not valid.",
            _clean_errors(exc.errors),
        )

    def on_auth(request: HttpRequest, exc: Any) -> HttpResponse:
        return error_response(
            api,
            request,
            401,
            "unauthorized",
            "A valid bearer token is required (Authorization: Bearer <token>).",
        )

    def on_http(request: HttpRequest, exc: Any) -> HttpResponse:
        if exc.status_code == 400 and str(exc).startswith("Cannot parse request body"):
            return error_response(
                api, request, 422, "invalid_json", "The request body is not valid JSON."
            )
        code = _CODES.get(exc.status_code, "error")
        return error_response(api, request, exc.status_code, code, str(exc))

    def on_404(request: HttpRequest, exc: Any) -> HttpResponse:
        return error_response(api, request, 404, "not_found", "Not found.")

    def on_forbidden(request: HttpRequest, exc: Any) -> HttpResponse:
        message = str(exc) or "You may not do this."
        return error_response(api, request, 403, "forbidden", message)

    def on_too_big(request: HttpRequest, exc: Any) -> HttpResponse:
        return error_response(
            api, request, 413, "payload_too_large", "The request body is too large."
        )

    def on_unexpected(request: HttpRequest, exc: Any) -> HttpResponse:
        logger.exception("unhandled API error on %s %s", request.method, request.path)
        return error_response(
            api, request, 500, "server_error", "Something went wrong on our side."
        )

    api.add_exception_handler(Exception, on_unexpected)
    api.add_exception_handler(HttpError, on_http)
    api.add_exception_handler(AuthenticationError, on_auth)
    api.add_exception_handler(APIError, on_api_error)
    api.add_exception_handler(ValidationError, on_validation)
    api.add_exception_handler(Http404, on_404)
    api.add_exception_handler(PermissionDenied, on_forbidden)
    api.add_exception_handler(RequestDataTooBig, on_too_big)
