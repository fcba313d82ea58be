"""An agent signs in, switches the workspace to Italian and turns on two-factor sign-in."""

from __future__ import annotations

from base64 import b32decode
from collections.abc import Callable
from typing import Any

from django_otp.oath import totp

from premura.accounts.models import User


def code_for(secret_text: str, drift: int = 0) -> str:
    """The current code of an authenticator app that was given `secret_text` by hand."""
    secret = secret_text.replace(" ", "")
    key = b32decode(secret + "=" * (-len(secret) % 8))
    return f"{totp(key, 30, 0, 6, drift):06d}"


def test_sign_in_through_the_form_lands_on_the_page_asked_for(
    page: Any, admin: User, csp_violations: list[str]
) -> None:
    # given
    page.goto("/account/")
    page.wait_for_url("**/login/?next=/account/")

    # when
    page.fill("#id_username", "admin@example.com")
    page.fill("#id_password", "x")
    page.click("button[type=submit]")

    # then
    page.wait_for_url("**/account/")
    assert page.locator("h1").inner_text() == "Your account"
    assert page.locator("#id_display_name").input_value() == "Ada Admin"
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/login/")
    assert csp_violations == []


def test_wrong_password_then_forgotten_password_link(page: Any, admin: User) -> None:
    # given
    page.goto("/login/")

    # when
    page.fill("#id_username", "admin@example.com")
    page.fill("#id_password", "wrong")
    page.click("button[type=submit]")

    # then
    assert page.get_by_role("alert").inner_text() == "Email or password is not correct."
    page.get_by_role("link", name="Forgot your password?").click()
    page.wait_for_url("**/login/reset/")
    assert page.locator("h1").inner_text() == "Reset your password"


def test_switch_the_language_to_italian(
    page: Any, sign_in: Callable[[User], Any], support_agent: User, csp_violations: list[str]
) -> None:
    # given
    sign_in(support_agent)
    page.goto("/account/")
    assert page.locator("h1").inner_text() == "Your account"

    # when
    page.select_option("#id_language", "it")
    page.select_option("#id_timezone", "Asia/Tokyo")
    page.get_by_label("Away").check()
    page.get_by_role("button", name="Save settings").click()

    # then
    page.wait_for_url("**/account/")
    assert page.locator("h1").inner_text() == "Il tuo account"
    assert page.get_by_role("status").inner_text() == "Impostazioni salvate."
    assert page.get_by_role("button", name="Salva le impostazioni").is_visible()
    assert page.locator("html").get_attribute("lang") == "it"
    page.goto("/inbox/")
    assert page.locator("html").get_attribute("lang") == "it"
    assert page.get_by_role("button", name="Esci").is_visible()
    support_agent.refresh_from_db()
    assert (support_agent.language, support_agent.timezone, support_agent.availability) == (
        "it",
        "Asia/Tokyo",
        "away",
    )
    assert csp_violations == []


def test_turn_on_two_factor_and_sign_in_with_a_code(
    page: Any, sign_in: Callable[[User], Any], admin: User, csp_violations: list[str]
) -> None:
    # given
    sign_in(admin)
    page.goto("/account/")

    # when: the agent sets up the app from the key shown and confirms with its first code
    page.get_by_role("button", name="Set up two-factor sign-in").click()
    qr = page.locator("#two-factor-qr")
    qr.wait_for()
    qr_drawn = page.evaluate("document.getElementById('two-factor-qr').naturalWidth > 0")
    secret = page.locator("#two-factor-secret").inner_text()
    page.fill("input[name=code]", code_for(secret))
    page.get_by_role("button", name="Turn on").click()
    page.wait_for_url("**/account/#two-factor")
    state = page.locator("#two-factor-state").inner_text()

    # and signs out, then in again: password first, then a code
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/login/")
    page.fill("#id_username", "admin@example.com")
    page.fill("#id_password", "x")
    page.click("button[type=submit]")
    page.wait_for_url("**/login/code/**")
    code_step_title = page.locator("h1").inner_text()
    page.fill("input[name=code]", code_for(secret, drift=1))
    page.get_by_role("button", name="Verify").click()

    # then
    page.wait_for_url("**/inbox/")
    assert qr_drawn is True
    assert state == "On"
    assert code_step_title == "Two-factor sign-in"
    admin.refresh_from_db()
    assert admin.two_factor_enabled is True
    assert csp_violations == []
