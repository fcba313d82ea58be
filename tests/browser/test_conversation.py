"""The conversation page in a browser: reply and watch the delivery state, a note with a mention,
moving to a team, resolving with `e`, scrolling up through a long thread."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import expect

from premura.accounts.models import User
from premura.accounts.services import create_agent
from premura.channels.models import Inbox
from premura.channels.services import NewAPIInbox
from premura.conversations import outbox, services
from premura.conversations.models import Conversation, Mention, Message
from premura.routing.models import Team
from premura.routing.services import create_team
from tests.conftest import WebhookReceiver
from tests.conversations.test_page import add_messages, open_case

# Polling runs every 3 seconds; give the page two rounds and some slack.
POLLED = 10_000


@pytest.fixture
def case(api_inbox: NewAPIInbox, support_team: Team) -> Conversation:
    conversation = open_case(api_inbox)
    services.set_team(conversation, None, team=support_team)
    conversation.refresh_from_db()
    return conversation


def test_reply_and_see_the_delivery_state_change(
    page: Any,
    sign_in: Callable[[User], Any],
    api_inbox: NewAPIInbox,
    case: Conversation,
    support_agent: User,
    webhook_receiver: WebhookReceiver,
    csp_violations: list[str],
) -> None:
    # given the API channel delivers to a receiver, and the agent has the conversation open
    Inbox.objects.filter(pk=api_inbox.inbox.pk).update(webhook_url=webhook_receiver.url)
    sign_in(support_agent)
    page.goto(f"/conversations/{case.pk}/")
    expect(page.locator(".message.kind-customer")).to_contain_text("il mio ordine")

    # when the agent replies from the keyboard
    page.keyboard.press("r")
    assert page.evaluate("document.activeElement.id") == "composer-text"
    page.keyboard.type("Il pacco parte oggi.")
    page.keyboard.press("Control+Enter")

    # then the reply shows as queued, then sent by the outbox, then delivered by the receipt
    reply = page.locator(".message.kind-agent")
    expect(reply).to_contain_text("Il pacco parte oggi.")
    expect(reply.locator(".delivery .badge")).to_have_text("Queued")
    message = Message.objects.get(conversation=case, kind="agent")
    assert outbox.deliver(message.pk) == "sent"
    expect(reply.locator(".delivery .badge")).to_have_text("Sent", timeout=POLLED)
    assert outbox.apply_receipt(message, "delivered")
    expect(reply.locator(".delivery .badge")).to_have_text("Delivered", timeout=POLLED)
    assert [r.headers["X-Premura-Delivery"] for r in webhook_receiver.requests] == [
        str(message.delivery_id)
    ]
    assert page.locator("#composer-text").input_value() == ""
    assert csp_violations == []


def test_failed_reply_shows_the_reason_and_retries(
    page: Any,
    sign_in: Callable[[User], Any],
    api_inbox: NewAPIInbox,
    case: Conversation,
    support_agent: User,
    webhook_receiver: WebhookReceiver,
    csp_violations: list[str],
) -> None:
    # given a reply the receiver refused
    webhook_receiver.statuses = [410, 200]
    Inbox.objects.filter(pk=api_inbox.inbox.pk).update(webhook_url=webhook_receiver.url)
    message = services.reply(case, support_agent, "Ciao")
    assert outbox.deliver(message.pk) == "failed"
    sign_in(support_agent)
    page.goto(f"/conversations/{case.pk}/")
    delivery = page.locator(f"#delivery-{message.pk}")
    expect(delivery).to_contain_text("Failed")
    expect(delivery).to_contain_text("webhook answered HTTP 410")

    # when
    delivery.get_by_role("button", name="Retry").click()

    # then
    expect(delivery.locator(".badge")).to_have_text("Queued")
    assert outbox.deliver(message.pk) == "sent"
    expect(delivery.locator(".badge")).to_have_text("Sent", timeout=POLLED)
    assert csp_violations == []


def test_add_a_note_with_a_mention(
    page: Any,
    sign_in: Callable[[User], Any],
    case: Conversation,
    support_agent: User,
    support_team: Team,
    csp_violations: list[str],
) -> None:
    # given a colleague
    marco = create_agent("marco@example.com", display_name="Marco Bianchi")
    support_team.members.add(marco)
    sign_in(support_agent)
    page.goto(f"/conversations/{case.pk}/")

    # when the agent writes a note naming the colleague, picked from the list of agents
    page.keyboard.press("n")
    assert page.evaluate("document.activeElement.id") == "composer-text"
    expect(page.locator("#composer")).to_have_class("composer mode-note")
    page.keyboard.type("Puoi controllare tu,")
    page.locator("[data-mention-pick]").fill("@marco")
    assert page.locator("#composer-text").input_value() == "Puoi controllare tu, @marco "
    page.keyboard.type("per favore?")
    page.keyboard.press("Control+Enter")

    # then the note shows as private, and the colleague has a mention
    note = page.locator(".message.kind-note")
    expect(note).to_contain_text("Puoi controllare tu, @marco per favore?")
    expect(note.locator(".badge.note")).to_have_text("Private note")
    expect(note.locator(".delivery")).to_have_count(0)
    [mention] = Mention.objects.filter(conversation=case)
    assert mention.user == marco
    assert mention.message.text == "Puoi controllare tu, @marco per favore?"
    assert csp_violations == []


def test_assign_to_a_team_from_the_keyboard(
    page: Any,
    sign_in: Callable[[User], Any],
    case: Conversation,
    supervisor: User,
    csp_violations: list[str],
) -> None:
    # given
    create_team("Billing")
    sign_in(supervisor)
    page.goto(f"/conversations/{case.pk}/")

    # when the agent looks at the controls (a, l), then moves the conversation (t)
    page.keyboard.press("a")
    assert page.evaluate("document.activeElement.id") == "assign-agent"
    page.keyboard.press("Escape")
    page.keyboard.press("l")
    assert page.evaluate("document.activeElement.id") == "new-label"
    page.keyboard.press("Escape")
    page.keyboard.press("t")
    assert page.evaluate("document.activeElement.id") == "team-select"
    page.select_option("#team-select", label="Billing")
    page.fill("#team-note", "Chiede un rimborso")
    page.get_by_role("button", name="Move").click()

    # then
    expect(page.locator("#conversation-header")).to_contain_text("Team: Billing")
    event = page.locator(".event.kind-team_changed").last
    expect(event).to_contain_text(
        "Sara Supervisor moved the conversation to the team Billing", timeout=POLLED
    )
    expect(event).to_contain_text("Chiede un rimborso")
    case.refresh_from_db()
    assert case.team is not None
    assert case.team.name == "Billing"
    assert csp_violations == []


def test_resolve_with_e_and_snooze_with_s(
    page: Any,
    sign_in: Callable[[User], Any],
    case: Conversation,
    support_agent: User,
    csp_violations: list[str],
) -> None:
    # given
    sign_in(support_agent)
    page.goto(f"/conversations/{case.pk}/")

    # when
    page.keyboard.press("e")

    # then
    header = page.locator("#conversation-header")
    expect(header.locator(".badge.status-resolved")).to_have_text("Resolved")
    expect(page.locator(".event.kind-status_changed").last).to_contain_text(
        "Giulia Rossi resolved the conversation", timeout=POLLED
    )
    case.refresh_from_db()
    assert case.status == "resolved"

    # and when the agent reopens it, then snoozes it with s
    page.get_by_role("button", name="Reopen").click()
    expect(header.locator(".badge.status-open")).to_have_text("Open")
    page.keyboard.press("s")
    assert page.evaluate("document.activeElement.id") == "snooze-until"
    page.locator("#side details[data-key=s]").get_by_role("button", name="Snooze").click()
    expect(header.locator(".badge.status-snoozed")).to_have_text("Snoozed")
    case.refresh_from_db()
    assert case.status == "snoozed"
    assert csp_violations == []


def test_long_thread_loads_older_messages_when_scrolling_up(
    page: Any,
    sign_in: Callable[[User], Any],
    case: Conversation,
    support_agent: User,
    csp_violations: list[str],
) -> None:
    # given a conversation of 100 messages
    add_messages(case, 99, every_event=10)
    sign_in(support_agent)
    page.goto(f"/conversations/{case.pk}/")
    messages = page.locator("#thread-items .message")
    expect(messages).to_have_count(30)
    assert page.evaluate(
        "(() => { const t = document.getElementById('thread');"
        " return t.scrollHeight - t.scrollTop - t.clientHeight < 5; })()"
    )

    # when the agent scrolls to the top, again and again
    for expected in (60, 90, 100):
        page.evaluate("document.getElementById('thread').scrollTop = 0")
        expect(messages).to_have_count(expected)

    # then the whole thread is there, in order, once
    sequences = page.locator("#thread-items .message").evaluate_all(
        "items => items.map(i => Number(i.dataset.sequence))"
    )
    assert sequences == list(range(1, 101))
    assert page.locator("#older").count() == 0
    assert csp_violations == []


def test_previous_next_and_back_to_the_list(
    page: Any,
    sign_in: Callable[[User], Any],
    api_inbox: NewAPIInbox,
    case: Conversation,
    support_agent: User,
    support_team: Team,
) -> None:
    # given two more conversations of the team
    others = [open_case(api_inbox, f"m-{n}", who=f"cliente{n}") for n in (2, 3)]
    for other in others:
        services.set_team(other, None, team=support_team)
    sign_in(support_agent)
    page.goto(f"/conversations/{others[0].pk}/?view=all")

    # when / then: ] and [ move through the list with its state; u goes back to it
    next_link = page.locator("a[rel=next]")
    prev_link = page.locator("a[rel=prev]")
    assert (next_link.count() + prev_link.count()) >= 1
    target = next_link if next_link.count() else prev_link
    href = target.get_attribute("href")
    assert href is not None
    assert href.endswith("?view=all")
    page.keyboard.press("]" if next_link.count() else "[")
    page.wait_for_url(f"**{href}")
    page.keyboard.press("u")
    page.wait_for_url("**/inbox/?view=all")
