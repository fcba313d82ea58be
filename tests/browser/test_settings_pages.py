"""Settings in the browser: an admin connects an API inbox and builds a team."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from premura.accounts.models import User
from premura.channels.models import Inbox
from premura.routing.models import Team
from tests.helpers import APIClient, message_body


def _watch_csp(page: Any) -> list[str]:
    violations: list[str] = []
    page.on(
        "console",
        lambda msg: violations.append(msg.text) if "Content Security" in msg.text else None,
    )
    return violations


def test_admin_creates_an_api_inbox_and_sees_its_token_once(
    page: Any, sign_in: Callable[[User], Any], admin: User, support_agent: User
) -> None:
    # given
    violations = _watch_csp(page)
    sign_in(admin)

    # when the admin opens the settings from the main menu and creates an inbox
    page.goto("/inbox/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Settings").click()
    page.wait_for_url("**/settings/")
    page.get_by_role("navigation", name="Settings").get_by_role("link", name="Inboxes").click()
    page.wait_for_url("**/settings/inboxes/")
    page.keyboard.press("c")
    page.wait_for_url("**/settings/inboxes/new/")
    page.fill("#id_name", "Portal")
    page.select_option("#id_team", label="Support")
    page.fill("#id_webhook_url", "https://portal.example/premura")
    page.get_by_role("button", name="Create inbox").click()

    # then its page shows the token once, with the id and the URL to post to
    page.wait_for_selector("#new-token")
    inbox = Inbox.objects.get(name="Portal")
    assert page.url.endswith(f"/settings/inboxes/{inbox.pk}/")
    token = page.input_value("#new-token")
    assert token.startswith("prm_in_")
    assert page.input_value("#new-secret").startswith("whsec_")
    assert page.locator("#inbox-id").inner_text() == str(inbox.pk)
    assert f"/api/v1/inboxes/{inbox.pk}/messages" in page.locator("#curl-example").inner_text()
    assert (
        APIClient(token).post(f"/api/v1/inboxes/{inbox.pk}/messages", message_body()).status_code
        == 201
    )

    # when the page is opened again
    page.reload()

    # then the token is gone, only its beginning stays
    assert page.locator("#new-token").count() == 0
    assert token not in page.content()
    assert f"{token[:11]}…" in page.content()
    assert violations == []


def test_admin_creates_a_team_and_adds_a_member(
    page: Any, sign_in: Callable[[User], Any], admin: User, support_agent: User
) -> None:
    # given
    violations = _watch_csp(page)
    sign_in(admin)

    # when the admin creates a restricted team
    page.goto("/settings/teams/")
    page.get_by_role("link", name="New team").click()
    page.wait_for_url("**/settings/teams/new/")
    page.fill("#id_name", "Legal")
    page.check("#id_restricted")
    page.get_by_role("button", name="Create team").click()

    # then its page opens
    page.wait_for_selector("text=Team “Legal” created.")
    team = Team.objects.get(name="Legal")
    assert page.url.endswith(f"/settings/teams/{team.pk}/")
    assert team.restricted

    # when they add an agent
    page.select_option("#id_members", label="Giulia Rossi (giulia@example.com)")
    page.get_by_role("button", name="Add to the team").click()

    # then the agent is listed as a member, with a button to remove them
    page.wait_for_selector("text=Giulia Rossi added to “Legal”.")
    members = page.locator("tbody[data-rows] tr")
    assert members.count() == 1
    assert "Giulia Rossi" in members.first.inner_text()
    assert page.get_by_role("button", name="Remove Giulia Rossi").is_visible()
    assert list(team.members.all()) == [support_agent]
    assert violations == []


def test_settings_lists_move_with_the_keyboard_and_fit_a_phone(
    page: Any, sign_in: Callable[[User], Any], admin: User, support_agent: User
) -> None:
    # given
    sign_in(admin)
    page.set_viewport_size({"width": 390, "height": 800})

    # when
    page.goto("/settings/agents/")
    page.keyboard.press("j")
    page.keyboard.press("j")
    page.keyboard.press("Enter")

    # then the second agent opens; nothing is wider than the screen
    page.wait_for_url(f"**/settings/agents/{support_agent.pk}/")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390

    # when an inbox is created on the phone (its page has the token and a long curl example)
    page.goto("/settings/inboxes/new/")
    page.fill("#id_name", "Portal")
    page.locator("main").get_by_role("button", name="Create inbox").click()
    page.wait_for_selector("#new-token")

    # then it fits too
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
