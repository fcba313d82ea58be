"""The conversation page: the thread, paging up, polling, long threads, visibility, escaping."""

from __future__ import annotations

import base64
import datetime as dt
import re
import zoneinfo
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from premura.accounts.models import User
from premura.channels.services import NewAPIInbox
from premura.conversations import outbox, services
from premura.conversations.models import Conversation, ConversationEvent, Message
from premura.inbox.models import ReadMarker
from premura.routing.models import Team
from tests.helpers import APIClient, message_body

pytestmark = pytest.mark.django_db

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'


# --- helpers shared with test_page_actions.py ---------------------------------------------------


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def open_case(
    api_inbox: NewAPIInbox, message_id: str = "m-1", who: str = "", **extra: Any
) -> Conversation:
    """A conversation opened by a customer message through the API channel (another customer's
    when `who` is given)."""
    if who:
        extra.setdefault("contact", {"identifier": who, "name": who, "email": f"{who}@example.it"})
    response = APIClient(api_inbox.token).post(
        f"/api/v1/inboxes/{api_inbox.inbox.pk}/messages", message_body(message_id, **extra)
    )
    assert response.status_code in (200, 201), response.content
    return Conversation.objects.select_related("inbox", "team").get(
        pk=response.json()["conversation"]["id"]
    )


def add_messages(conversation: Conversation, count: int, *, every_event: int = 0) -> None:
    """Append `count` messages (customer and agent in turn) quickly, and an event every n."""
    conversation.refresh_from_db()
    start = conversation.last_activity_at + dt.timedelta(seconds=1)
    messages, events = [], []
    for i in range(count):
        sequence = conversation.last_sequence + 1 + i
        at = start + dt.timedelta(seconds=10 * i)
        inbound = i % 2 == 0
        messages.append(
            Message(
                conversation_id=conversation.pk,
                inbox_id=conversation.inbox_id,
                sequence=sequence,
                direction="in" if inbound else "out",
                kind="customer" if inbound else "agent",
                author_contact_id=conversation.contact_id if inbound else None,
                text=f"message number {sequence}",
                created_at=at,
                delivery_state="" if inbound else "read",
                delivery_updated_at=None if inbound else at,
            )
        )
        if every_event and i % every_event == every_event - 1:
            events.append(
                ConversationEvent(
                    conversation_id=conversation.pk,
                    kind="priority_changed",
                    payload={"from": 0, "to": 1 + i % 4},
                    created_at=at + dt.timedelta(seconds=5),
                )
            )
    Message.objects.bulk_create(messages, batch_size=2000)
    ConversationEvent.objects.bulk_create(events, batch_size=2000)
    last = messages[-1].created_at
    Conversation.objects.filter(pk=conversation.pk).update(
        last_sequence=conversation.last_sequence + count, last_activity_at=last
    )
    conversation.refresh_from_db()


def html(response: Any) -> str:
    return response.content.decode()


def shown_messages(text: str) -> list[int]:
    return [int(s) for s in re.findall(r'data-sequence="(\d+)"', text)]


def shown_events(text: str) -> list[int]:
    return [int(s) for s in re.findall(r'id="ev-(\d+)"', text)]


def attr_url(text: str, attribute: str, element_id: str) -> str | None:
    """The URL in `attribute` of the element with `element_id` (html-unescaped)."""
    match = re.search(rf'<[^>]*id="{element_id}"[^>]*{attribute}="([^"]*)"', text) or re.search(
        rf'<[^>]*{attribute}="([^"]*)"[^>]*id="{element_id}"', text
    )
    return match.group(1).replace("&amp;", "&") if match else None


@pytest.fixture
def case(api_inbox: NewAPIInbox, support_team: Team) -> Conversation:
    conversation = open_case(api_inbox)
    services.set_team(conversation, None, team=support_team)
    conversation.refresh_from_db()
    return conversation


@pytest.fixture
def legal_case(api_inbox: NewAPIInbox, legal_team: Team) -> Conversation:
    conversation = open_case(
        api_inbox,
        "m-legal",
        subject="Causa riservata",
        contact={"identifier": "cust-legal", "name": "Mario Rossi", "email": "legal@example.it"},
    )
    services.set_team(conversation, None, team=legal_team)
    conversation.refresh_from_db()
    return conversation


# --- the thread ----------------------------------------------------------------------------------


def test_page_shows_messages_events_attachments_and_delivery(
    api_inbox: NewAPIInbox, support_team: Team, support_agent: User, admin: User
) -> None:
    # given a customer message with an image and a PDF, a reply, a note and some events
    conversation = open_case(
        api_inbox,
        attachments=[
            {"filename": "foto.png", "data_base64": base64.b64encode(PNG).decode()},
            {
                "filename": "fattura.pdf",
                "data_base64": base64.b64encode(b"%PDF-1.4 fattura").decode(),
            },
        ],
    )
    services.set_team(conversation, admin, team=support_team)
    services.assign(conversation, admin, assignee=support_agent, handover_note="Cliente VIP")
    reply = services.reply(conversation, support_agent, "Il pacco parte oggi.")
    services.add_note(conversation, support_agent, "Controllato in magazzino")
    services.set_priority(conversation, support_agent, 4)
    services.change_labels(conversation, support_agent, add=["spedizione"])
    customer = Message.objects.get(conversation=conversation, sequence=1)
    image, pdf = customer.attachments.order_by("id")

    # when
    response = signed_in(support_agent).get(f"/conversations/{conversation.pk}/")

    # then
    page = html(response)
    assert response.status_code == 200
    assert shown_messages(page) == [1, 2, 3]
    assert "Buongiorno, il mio ordine non è arrivato." in page
    assert '<span class="author">Mario Rossi</span>' in page
    assert '<span class="author">Giulia Rossi</span>' in page
    assert '<span class="channel">API · Shop</span>' in page
    assert f'<img src="/conversations/attachments/{image.pk}/preview" alt="foto.png"' in page
    assert f'href="/conversations/attachments/{pdf.pk}/download" download>📎 fattura.pdf' in page
    assert f'<div id="delivery-{reply.pk}" class="delivery state-queued"' in page
    assert '<span class="badge delivery-queued">Queued</span>' in page
    assert '<span class="badge note">Private note</span>' in page
    assert "Ada Admin moved the conversation to the team Support" in page
    assert "Ada Admin assigned the conversation to Giulia Rossi" in page
    assert "Cliente VIP" in page
    assert "Giulia Rossi set the priority to Urgent" in page
    assert "Giulia Rossi added the labels spedizione" in page
    assert '<span class="badge label">spedizione</span>' in page
    assert '<span class="badge priority-urgent">Urgent</span>' in page
    # the message events are the messages themselves, not extra lines
    assert "Reply sent" not in page
    assert "Message received" not in page


def test_times_are_shown_in_the_agents_time_zone(case: Conversation, support_agent: User) -> None:
    # given
    support_agent.timezone = "America/New_York"
    support_agent.save(update_fields=["timezone"])
    at = dt.datetime(2025, 1, 15, 12, 30, tzinfo=dt.UTC)
    Message.objects.filter(conversation=case, sequence=1).update(created_at=at)

    # when
    page = html(signed_in(support_agent).get(f"/conversations/{case.pk}/"))

    # then
    local = at.astimezone(zoneinfo.ZoneInfo("America/New_York"))
    assert local.hour == 7
    assert '<time datetime="2025-01-15T07:30:00-05:00">15 Jan 2025, 07:30</time>' in page


def test_opening_the_page_marks_it_read(case: Conversation, support_agent: User) -> None:
    # when
    signed_in(support_agent).get(f"/conversations/{case.pk}/")

    # then
    marker = ReadMarker.objects.get(user=support_agent, conversation=case)
    assert marker.last_read_sequence == case.last_sequence


def test_the_page_speaks_italian(case: Conversation, support_agent: User) -> None:
    # given
    support_agent.language = "it"
    support_agent.save(update_fields=["language"])
    services.set_status(case, support_agent, "resolved")

    # when
    page = html(signed_in(support_agent).get(f"/conversations/{case.pk}/"))

    # then
    assert "Giulia Rossi ha risolto la conversazione" in page
    assert "Torna all'elenco" in page
    assert "Nota privata" in page
    assert "Invia risposta" in page


# --- long threads ------------------------------------------------------------------------------


def _page_queries(client: Client, conversation: Conversation) -> tuple[int, str]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(f"/conversations/{conversation.pk}/")
    assert response.status_code == 200
    return len(queries), html(response)


def test_ten_thousand_messages_open_with_the_same_queries_as_ten(
    api_inbox: NewAPIInbox, support_team: Team, support_agent: User
) -> None:
    # given two conversations, of 10 and of 10,000 messages (with events among them)
    short = open_case(api_inbox, "short", who="short")
    long = open_case(api_inbox, "long", who="long")
    for conversation in (short, long):
        services.set_team(conversation, None, team=support_team)
    add_messages(short, 9, every_event=3)
    add_messages(long, 9_999, every_event=3)
    client = signed_in(support_agent)
    client.get(f"/conversations/{short.pk}/")  # warm caches (sessions, content types)

    # when
    short_count, short_page = _page_queries(client, short)
    long_count, long_page = _page_queries(client, long)

    # then the same queries, and only the newest page of the long one
    assert short_count == long_count
    assert long_count == 14
    assert shown_messages(short_page) == list(range(1, 11))
    assert shown_messages(long_page) == list(range(9_971, 10_001))
    assert 'id="older"' in long_page
    assert 'id="older"' not in short_page


def test_page_queries_do_not_grow_with_attachments_events_and_agents(
    api_inbox: NewAPIInbox, support_team: Team, support_agent: User
) -> None:
    # given the same conversation measured with 3 and with 30 of everything
    conversation = open_case(api_inbox)
    services.set_team(conversation, None, team=support_team)
    client = signed_in(support_agent)
    client.get(f"/conversations/{conversation.pk}/")

    def grow(n: int) -> int:
        for i in range(n):
            services.reply(
                conversation,
                support_agent,
                f"reply {i}",
                attachments=[services.OutgoingAttachment("p.png", PNG)],
            )
            services.change_labels(conversation, support_agent, add=[f"label {i}"])
            User.objects.create_user(f"agent{n}-{i}@example.com", display_name=f"A {n} {i}")
        count, _page = _page_queries(client, conversation)
        return count

    # when
    with_3 = grow(3)
    with_30 = grow(27)

    # then
    assert with_3 == with_30 == 14


def test_scrolling_up_pages_through_the_whole_thread_without_gaps_or_duplicates(
    case: Conversation, support_agent: User
) -> None:
    # given 95 messages and an event after every 7th
    add_messages(case, 94, every_event=7)
    client = signed_in(support_agent)
    expected_events = list(
        ConversationEvent.objects.filter(conversation=case)
        .exclude(kind__in=["message_in", "message_out", "note"])
        .order_by("id")
        .values_list("id", flat=True)
    )

    # when the agent scrolls up until the start
    page = html(client.get(f"/conversations/{case.pk}/"))
    messages, events = shown_messages(page), shown_events(page)
    pages = 1
    url = attr_url(page, "hx-get", "older")
    while url:
        fragment = html(client.get(url))
        messages = shown_messages(fragment) + messages
        events = shown_events(fragment) + events
        url = attr_url(fragment, "hx-get", "older")
        pages += 1

    # then every message once, in order, and every event once
    assert pages == 4
    assert messages == list(range(1, 96))
    assert sorted(events) == expected_events


def test_older_page_rejects_bad_parameters(case: Conversation, support_agent: User) -> None:
    # given
    client = signed_in(support_agent)
    url = f"/conversations/{case.pk}/older"

    # when / then
    for query in (
        "",
        "?before=x&until=1",
        "?before=5",
        "?before=5&until=-1",
        f"?before=5&until={10**20}",
    ):
        assert client.get(url + query).status_code == 400, query
    assert client.get(url + "?before=5&until=9").status_code == 200


# --- polling -----------------------------------------------------------------------------------


def _poll_url(page: str) -> str:
    url = attr_url(page, "hx-get", "poller")
    assert url is not None
    return url


def test_poll_answers_no_content_after_one_query_when_nothing_changed(
    case: Conversation, support_agent: User, admin: User
) -> None:
    # given a page with a reply whose delivery state is watched
    services.reply(case, support_agent, "Arriva domani")
    client = signed_in(support_agent)
    url = _poll_url(html(client.get(f"/conversations/{case.pk}/")))
    admin_client = signed_in(admin)
    admin_url = _poll_url(html(admin_client.get(f"/conversations/{case.pk}/")))

    # when
    with CaptureQueriesContext(connection) as agent_queries:
        response = client.get(url)
    with CaptureQueriesContext(connection) as admin_queries:
        admin_response = admin_client.get(admin_url)

    # then: session and user, then the one query (plus the agent's teams for the visibility check)
    assert response.status_code == 204
    assert admin_response.status_code == 204
    assert response.content == b""
    assert len(admin_queries) == 3
    assert len(agent_queries) == 4


def test_poll_returns_only_what_is_new(
    api_inbox: NewAPIInbox, case: Conversation, support_agent: User, admin: User
) -> None:
    # given an open page
    client = signed_in(support_agent)
    url = _poll_url(html(client.get(f"/conversations/{case.pk}/")))

    # when the customer writes again and a supervisor assigns the case
    open_case(api_inbox, "m-2", text="Ci siete?")
    services.assign(case, admin, assignee=support_agent)
    response = client.get(url)
    again = client.get(_poll_url(html(response)))

    # then the new message and event come once, appended, and nothing after
    fragment = html(response)
    assert response.status_code == 200
    assert shown_messages(fragment) == [2]
    assert "Ci siete?" in fragment
    assert "Buongiorno" not in fragment
    assert "Ada Admin assigned the conversation to Giulia Rossi" in fragment
    assert '<ol hx-swap-oob="beforeend:#thread-items">' in fragment
    assert 'id="conversation-header" class="conversation-header" hx-swap-oob="true"' in fragment
    query = parse_qs(urlsplit(_poll_url(fragment)).query)
    assert query["after"] == ["2"]
    assert again.status_code == 204
    assert ReadMarker.objects.get(user=support_agent, conversation=case).last_read_sequence == 2


def test_poll_refreshes_delivery_states(
    api_inbox: NewAPIInbox,
    case: Conversation,
    support_agent: User,
    webhook_receiver: Any,
) -> None:
    # given a queued reply on an open page
    api_inbox.inbox.webhook_url = webhook_receiver.url
    api_inbox.inbox.save(update_fields=["webhook_url"])
    message = services.reply(case, support_agent, "Arriva domani")
    client = signed_in(support_agent)
    url = _poll_url(html(client.get(f"/conversations/{case.pk}/")))

    # when the outbox delivers it
    assert outbox.deliver(message.pk) == "sent"
    response = client.get(url)
    after_sent = client.get(_poll_url(html(response)))
    outbox.apply_receipt(message, "delivered")
    delivered = client.get(_poll_url(html(response)))

    # then
    fragment = html(response)
    assert response.status_code == 200
    assert (
        f'<div id="delivery-{message.pk}" class="delivery state-sent" hx-swap-oob="true">'
        in fragment
    )
    assert '<span class="badge delivery-sent">Sent</span>' in fragment
    assert shown_messages(fragment) == []
    assert after_sent.status_code == 204
    assert '<span class="badge delivery-delivered">Delivered</span>' in html(delivered)


def test_poll_rejects_bad_parameters(case: Conversation, support_agent: User) -> None:
    client = signed_in(support_agent)
    for query in ("", "?after=x", "?after=1&ev=-3", "?after=1&seen=abc", "?after=1&cur=x.y"):
        assert client.get(f"/conversations/{case.pk}/poll{query}").status_code == 400, query


# --- visibility ----------------------------------------------------------------------------------


def test_restricted_teams_conversation_shows_its_entry_without_content(
    legal_case: Conversation, support_agent: User, lawyer: User
) -> None:
    # given
    services.add_note(legal_case, lawyer, "Strategia processuale")
    client = signed_in(support_agent)

    # when
    response = client.get(f"/conversations/{legal_case.pk}/")

    # then the entry: reference, status, team, dates; no content, no controls
    page = html(response)
    assert response.status_code == 200
    assert legal_case.reference in page
    assert '<span class="badge status-open">Open</span>' in page
    assert "restricted team Legal" in page
    for secret in ("Causa riservata", "Buongiorno", "Strategia processuale", "Mario Rossi"):
        assert secret not in page
    assert 'id="composer"' not in page
    assert "/poll" not in page
    assert client.get(f"/conversations/{legal_case.pk}/poll?after=0").status_code == 403
    assert client.get(f"/conversations/{legal_case.pk}/older?before=2&until=0").status_code == 403
    assert not ReadMarker.objects.filter(user=support_agent).exists()
    # the team itself reads it
    assert "Strategia processuale" in html(
        signed_in(lawyer).get(f"/conversations/{legal_case.pk}/")
    )


def test_agent_of_another_team_reads_without_controls(
    case: Conversation, sales_agent: User
) -> None:
    # when
    page = html(signed_in(sales_agent).get(f"/conversations/{case.pk}/"))

    # then
    assert "Buongiorno" in page
    assert 'id="composer"' not in page
    assert 'data-key="e"' not in page
    assert 'action="/conversations/' not in page
    assert "You can read this conversation" in page


def test_unknown_conversation_is_404(support_agent: User) -> None:
    client = signed_in(support_agent)
    for url in (
        "/conversations/999/",
        "/conversations/999/poll?after=0",
        "/conversations/999/older?before=2&until=0",
    ):
        assert client.get(url).status_code == 404


# --- attachments ---------------------------------------------------------------------------------


def test_images_preview_inline_and_other_files_download(
    api_inbox: NewAPIInbox, support_agent: User
) -> None:
    # given
    conversation = open_case(
        api_inbox,
        attachments=[
            {"filename": "foto.png", "data_base64": base64.b64encode(PNG).decode()},
            {
                "filename": "logo.svg",
                "data_base64": base64.b64encode(SVG).decode(),
                "content_type": "image/svg+xml",
            },
        ],
    )
    png, svg = Message.objects.get(conversation=conversation, sequence=1).attachments.order_by("id")
    client = signed_in(support_agent)

    # when
    preview = client.get(f"/conversations/attachments/{png.pk}/preview")
    svg_preview = client.get(f"/conversations/attachments/{svg.pk}/preview")
    svg_download = client.get(f"/conversations/attachments/{svg.pk}/download")
    page = html(client.get(f"/conversations/{conversation.pk}/"))

    # then
    assert preview.status_code == 200
    assert preview["Content-Type"] == "image/png"
    assert preview["X-Content-Type-Options"] == "nosniff"
    assert preview["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert preview["Content-Disposition"].startswith("inline")
    assert b"".join(preview.streaming_content) == PNG
    assert svg_preview.status_code == 404
    assert svg_download.status_code == 200
    assert svg_download["Content-Type"] == "application/octet-stream"
    assert svg_download["Content-Disposition"].startswith("attachment")
    assert svg_download["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert f"/conversations/attachments/{svg.pk}/preview" not in page
    assert f"/conversations/attachments/{svg.pk}/download" in page


def test_restricted_attachments_are_refused(
    api_inbox: NewAPIInbox, legal_team: Team, support_agent: User, lawyer: User
) -> None:
    # given
    conversation = open_case(
        api_inbox,
        "m-legal",
        who="cust-legal",
        attachments=[{"filename": "atto.png", "data_base64": base64.b64encode(PNG).decode()}],
    )
    services.set_team(conversation, None, team=legal_team)
    attachment = Message.objects.get(conversation=conversation, sequence=1).attachments.get()

    # when / then
    for kind in ("preview", "download"):
        url = f"/conversations/attachments/{attachment.pk}/{kind}"
        assert signed_in(support_agent).get(url).status_code == 403
        assert signed_in(lawyer).get(url).status_code == 200
        assert Client().get(url).status_code == 302
    assert signed_in(lawyer).get("/conversations/attachments/999/preview").status_code == 404


# --- escaping ------------------------------------------------------------------------------------

XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def test_customer_agent_and_event_text_is_escaped(
    api_inbox: NewAPIInbox, support_team: Team, support_agent: User, admin: User
) -> None:
    # given hostile text everywhere a person or a system can put text
    conversation = open_case(
        api_inbox, text=XSS, subject=XSS, contact={"identifier": "cust-1", "name": XSS}
    )
    open_case(
        api_inbox,
        "m-2",
        html='<p>ciao<script>alert(2)</script><a href="javascript:alert(3)">x</a></p>',
        contact={"identifier": "cust-1", "name": XSS},
    )
    services.set_team(conversation, admin, team=support_team, handover_note=XSS)
    services.add_note(conversation, support_agent, XSS)
    services.change_labels(conversation, support_agent, add=[XSS[:60]])
    support_agent.signature = XSS
    support_agent.save(update_fields=["signature"])
    ConversationEvent.objects.create(
        conversation=conversation,
        kind="external_event",
        payload={"title": XSS},
        created_at=timezone.now(),
    )
    ConversationEvent.objects.create(
        conversation=conversation,
        kind="delivery_failed",
        payload={"error": XSS},
        created_at=timezone.now(),
    )
    User.objects.filter(pk=admin.pk).update(display_name=XSS)

    # when
    page = html(signed_in(support_agent).get(f"/conversations/{conversation.pk}/"))

    # then nothing hostile survives unescaped
    assert "<script>alert" not in page
    assert "onerror=alert(1)>" not in page
    assert "javascript:alert" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert page.count("&lt;img src=x onerror=alert(1)&gt;") >= 6
    assert "<p>ciao" in page  # the sanitised HTML part is rendered as HTML


def test_odd_event_payloads_still_render(case: Conversation, support_agent: User) -> None:
    # given events written by older code or by hand, with payloads of unexpected shapes
    now = timezone.now()
    odd = [
        ("assigned", {"to": [1]}),
        ("team_changed", {"to": "Support"}),
        ("status_changed", {"to": {"x": 1}, "snoozed_until": 5}),
        ("status_changed", {"to": "snoozed", "snoozed_until": "not a date"}),
        ("priority_changed", {"to": 99}),
        ("labels_changed", {"added": "abc", "removed": None}),
        ("created", {"channel": ["api"]}),
        ("external_event", []),
        ("sla_breached", "text"),
    ]
    ConversationEvent.objects.bulk_create(
        ConversationEvent(conversation=case, kind=kind, payload=payload, created_at=now)
        for kind, payload in odd
    )

    # when
    response = signed_in(support_agent).get(f"/conversations/{case.pk}/")

    # then
    page = html(response)
    assert response.status_code == 200
    assert "Premura set the priority to 99" in page
    assert "Premura changed the labels" in page
    assert "Premura snoozed the conversation" in page
    assert "The service level target was missed" in page
