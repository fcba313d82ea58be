"""The page shell every screen shares: shortcuts help, command palette, no CSP violations."""

from __future__ import annotations

from typing import Any

from premura.accounts.models import User


def test_sign_in_with_the_form_and_open_the_shortcuts_help(
    page: Any, admin: User, csp_violations: list[str]
) -> None:
    page.goto("/login/")
    page.fill("#id_username", "admin@example.com")
    page.fill("#id_password", "x")
    page.click("button[type=submit]")
    page.wait_for_url("**/inbox/")
    page.keyboard.press("?")
    assert page.locator("#shortcuts").is_visible()
    assert page.locator("#shortcuts").get_by_text("Command palette").is_visible()
    page.keyboard.press("Escape")
    page.keyboard.press("Control+k")
    assert page.locator("#palette").is_visible()
    assert page.evaluate("document.activeElement.id") == "palette-q"
    assert csp_violations == []
