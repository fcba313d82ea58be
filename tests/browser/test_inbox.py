"""The inbox from the keyboard: j/k, Enter opens, x ticks rows, a bulk move to a team."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from django.utils import timezone

from premura.accounts.models import User
from premura.channels.services import NewAPIInbox
from premura.contacts.models import Contact
from premura.conversations.models import Conversation, Message
from premura.routing.models import Team


def _conversations(api_inbox: NewAPIInbox, count: int) -> list[Conversation]:
    """`count` open conversations of team Support, the newest first."""
    made = []
    now = timezone.now()
    for n in range(count):
        at = now - dt.timedelta(minutes=n)
        contact = Contact.objects.create(name=f"Cliente {n}")
        conversation = Conversation.objects.create(
            contact=contact,
            inbox=api_inbox.inbox,
            team=api_inbox.inbox.team,
            created_at=at,
            last_customer_message_at=at,
            last_activity_at=at,
            last_sequence=1,
        )
        Message.objects.create(
            conversation=conversation,
            inbox=api_inbox.inbox,
            sequence=1,
            direction="in",
            kind="customer",
            author_contact=contact,
            text=f"Messaggio {n}",
            created_at=at,
        )
        made.append(conversation)
    return made


def _current(page: Any) -> int:
    return int(page.locator("[data-rows] [data-row].is-current").get_attribute("data-conversation"))


def test_move_with_j_k_and_open_with_enter(
    page: Any, sign_in: Any, support_agent: User, api_inbox: NewAPIInbox
) -> None:
    # given
    first, second, third = _conversations(api_inbox, 3)
    violations: list[str] = []
    page.on(
        "console",
        lambda msg: violations.append(msg.text) if "Content Security" in msg.text else None,
    )
    sign_in(support_agent)
    page.goto("/inbox/?view=all")

    # when / then: j goes down, k goes up
    page.keyboard.press("j")
    assert _current(page) == first.pk
    page.keyboard.press("j")
    page.keyboard.press("j")
    assert _current(page) == third.pk
    page.keyboard.press("k")
    assert _current(page) == second.pk

    # when: Enter opens the current row, with the list's state for previous / next
    page.keyboard.press("Enter")

    # then
    page.wait_for_url(re.compile(rf"/conversations/{second.pk}/\?view=all&status=open"))
    assert violations == []


def test_tick_rows_with_x_and_move_them_to_a_team(
    page: Any,
    sign_in: Any,
    support_agent: User,
    legal_team: Team,
    api_inbox: NewAPIInbox,
) -> None:
    # given
    first, second, third = _conversations(api_inbox, 3)
    sign_in(support_agent)
    page.goto("/inbox/?view=all")
    move = page.locator("button[value=team]")
    assert move.is_disabled()

    # when: x ticks the first and the third rows, then the bulk bar moves them to Legal
    page.keyboard.press("j")
    page.keyboard.press("x")
    page.keyboard.press("j")
    page.keyboard.press("j")
    page.keyboard.press("x")
    assert page.locator("[data-selected-count]").inner_text() == "2 ✓"
    page.select_option("#bulk-form select[name=team]", str(legal_team.pk))
    move.click()

    # then: back on the same list, told what happened
    page.wait_for_url(re.compile(r"/inbox/\?view=all&status=open&sort=activity$"))
    assert page.locator(".flash").inner_text() == "2 conversations updated."
    teams = dict(Conversation.objects.values_list("pk", "team_id"))
    assert teams == {
        first.pk: legal_team.pk,
        second.pk: api_inbox.inbox.team_id,
        third.pk: legal_team.pk,
    }


def test_select_all_and_older_rows_on_a_phone(
    page: Any, sign_in: Any, admin: User, api_inbox: NewAPIInbox
) -> None:
    # given: a phone-sized screen and more than a page of conversations
    from playwright.sync_api import expect

    _conversations(api_inbox, 30)
    page.set_viewport_size({"width": 375, "height": 740})
    sign_in(admin)
    page.goto("/inbox/?view=all")

    # when
    page.locator("[data-older]").click()
    expect(page.locator("[data-rows] [data-row]")).to_have_count(30)
    page.locator("[data-select-all]").check()

    # then: the rows fit the screen, every one ticked
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    assert page.locator("input[data-row-select]:checked").count() == 30
    assert page.locator("[data-older]").count() == 0
