"""The browsable API documentation at /api/docs renders under the strict CSP."""

from __future__ import annotations

from typing import Any


def test_api_docs_render_the_operations(page: Any, csp_violations: list[str]) -> None:
    # when
    page.goto("/api/docs")

    # then: Swagger UI drew the operations from /api/openapi.json
    page.wait_for_selector(".opblock", timeout=15_000)
    assert page.locator(".opblock").count() > 10
    assert page.get_by_text("/api/v1/inboxes/{inbox_id}/messages").count() >= 1
    assert csp_violations == []
