"""The conversation page's composer and actions: replies, notes with mentions, assignment, team,
status, snooze, priority, labels, retry; bad input; the permission matrix."""

from __future__ import annotations

import base64
import datetime as dt
import zoneinfo
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, override_settings
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from premura.accounts.models import User
from premura.accounts.services import create_agent
from premura.channels.models import Inbox
from premura.channels.services import NewAPIInbox
from premura.conversations import outbox, services
from premura.conversations.models import (
    Conversation,
    ConversationEvent,
    Label,
    Mention,
    Message,
)
from premura.routing.models import Team
from premura.routing.services import create_team
from tests.conversations.test_page import PNG, XSS, html, open_case, signed_in

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def case(api_inbox: NewAPIInbox, support_team: Team) -> Conversation:
    conversation = open_case(api_inbox)
    services.set_team(conversation, None, team=support_team)
    conversation.refresh_from_db()
    return conversation


def _events(conversation: Conversation, kind: str) -> list[ConversationEvent]:
    return list(
        ConversationEvent.objects.filter(conversation=conversation, kind=kind).order_by("id")
    )


def _snapshot(conversation: Conversation) -> tuple[Any, ...]:
    """Everything an action could write, to check that a refused one wrote nothing."""
    conversation.refresh_from_db()
    return (
        conversation.status,
        conversation.snoozed_until,
        conversation.priority,
        conversation.team_id,
        conversation.assignee_id,
        conversation.last_sequence,
        sorted(conversation.labels.values_list("name", flat=True)),
        Label.objects.count(),
        ConversationEvent.objects.filter(conversation=conversation).count(),
        Message.objects.filter(conversation=conversation).count(),
        Mention.objects.count(),
        DBTaskResult.objects.count(),
    )


# --- composer ------------------------------------------------------------------------------------


def test_reply_is_queued_with_its_task_and_the_signature(
    case: Conversation, support_agent: User
) -> None:
    # given
    support_agent.signature = "Giulia — Assistenza Shop"
    support_agent.save(update_fields=["signature"])
    client = signed_in(support_agent)

    # when
    response = client.post(
        f"/conversations/{case.pk}/compose?view=mine", {"mode": "reply", "text": "Parte oggi."}
    )

    # then
    assert response.status_code == 302
    assert response["Location"] == f"/conversations/{case.pk}/?view=mine"
    message = Message.objects.get(conversation=case, sequence=2)
    assert message.kind == "agent"
    assert message.direction == "out"
    assert message.author_user == support_agent
    assert message.text == "Parte oggi.\n\nGiulia — Assistenza Shop"
    assert message.delivery_state == "queued"
    task = DBTaskResult.objects.get(task_path="premura.conversations.tasks.deliver_message")
    assert task.args_kwargs == {"args": [message.pk], "kwargs": {}}
    page = html(client.get(response["Location"]))
    assert "Reply queued for delivery." in page
    assert f'<div id="delivery-{message.pk}" class="delivery state-queued"' in page
    assert "Giulia — Assistenza Shop" in page


def test_reply_with_htmx_returns_an_empty_composer_and_asks_for_a_poll(
    case: Conversation, support_agent: User
) -> None:
    # when
    response = signed_in(support_agent).post(
        f"/conversations/{case.pk}/compose",
        {"mode": "reply", "text": "Ecco la foto", "files": SimpleUploadedFile("a.png", PNG)},
        **HTMX,
    )

    # then
    assert response.status_code == 200
    assert response["HX-Trigger"] == "premura:poll"
    fragment = html(response)
    assert fragment.strip().startswith('<form id="composer" class="composer mode-reply"')
    assert "Ecco la foto" not in fragment
    message = Message.objects.get(conversation=case, sequence=2)
    [attachment] = message.attachments.all()
    assert (attachment.filename, attachment.content_type) == ("a.png", "image/png")


def test_note_with_mentions_creates_mention_rows_for_active_agents_only(
    case: Conversation,
    support_agent: User,
    sales_agent: User,
    supervisor: User,
    lawyer: User,
) -> None:
    # given colleagues, an inactive one, and the author
    marco = create_agent("marco.bianchi@example.com", display_name="Marco Bianchi")
    gone = create_agent("gone@example.com", display_name="Gone Away")
    gone.is_active = False
    gone.save(update_fields=["is_active"])
    text = (
        "@marco.bianchi guarda qui, e anche @Tom Baker e @sara. "
        "@unknown @gone @giulia, scrivi a mario@example.it"
    )

    # when
    response = signed_in(support_agent).post(
        f"/conversations/{case.pk}/compose", {"mode": "note", "text": text}
    )

    # then
    assert response.status_code == 302
    note = Message.objects.get(conversation=case, sequence=2)
    assert note.kind == "note"
    assert note.delivery_state == ""
    mentions = Mention.objects.filter(message=note).order_by("user__email")
    assert [(m.user.email, m.conversation_id) for m in mentions] == [
        ("marco.bianchi@example.com", case.pk),
        ("sup@example.com", case.pk),
        ("tom@example.com", case.pk),
    ]
    assert all(m.created_at == note.created_at for m in mentions)
    [event] = _events(case, "note")
    assert sorted(event.payload["mentions"]) == sorted([marco.pk, sales_agent.pk, supervisor.pk])
    assert not DBTaskResult.objects.filter(
        task_path="premura.conversations.tasks.deliver_message"
    ).exists()


def test_mentions_skip_agents_who_may_not_read_a_restricted_conversation(
    api_inbox: NewAPIInbox, legal_team: Team, lawyer: User, support_agent: User
) -> None:
    # given a conversation of the restricted legal team
    conversation = open_case(api_inbox, "m-legal", who="legal")
    services.set_team(conversation, None, team=legal_team)
    colleague = create_agent("avv2@example.com", display_name="Avv. Verdi")
    legal_team.members.add(colleague)

    # when
    note = services.add_note(conversation, lawyer, "@giulia @avv2 vedete voi?")

    # then
    assert list(Mention.objects.filter(message=note).values_list("user__email", flat=True)) == [
        "avv2@example.com"
    ]


def test_find_mentions_prefers_the_longest_name_and_ignores_ambiguous_ones(db: None) -> None:
    # given
    rossi = create_agent("giulia.rossi@a.it", display_name="Giulia Rossi")
    verdi = create_agent("giulia.verdi@a.it", display_name="Giulia Verdi")
    one = create_agent("anna@a.it", display_name="Anna")
    two = create_agent("anna@b.it", display_name="Anna B")
    agents = [rossi, verdi, one, two]

    # when
    found = services.find_mentions("@Giulia Rossi, @giulia.verdi! @anna @anna@b.it @Giulia", agents)

    # then
    assert found == [rossi, verdi, two]
    assert services.mention_handles(agents) == {
        rossi.pk: "giulia.rossi",
        verdi.pk: "giulia.verdi",
        one.pk: "anna@a.it",
        two.pk: "anna@b.it",
    }


def test_composer_rejects_bad_input_and_writes_nothing(
    case: Conversation, support_agent: User
) -> None:
    client = signed_in(support_agent)
    before = _snapshot(case)
    cases = [
        ({"mode": "reply", "text": "   "}, "Write a reply first."),
        ({"mode": "note", "text": ""}, "Write a note first."),
        ({"mode": "shout", "text": "ciao"}, "Select a valid choice."),
        ({"mode": "reply", "text": "x" * 50_001}, "Ensure this value has at most 50000 characters"),
        (
            {"mode": "note", "text": "con file", "files": SimpleUploadedFile("a.png", PNG)},
            "Private notes cannot carry attachments.",
        ),
    ]
    for data, error in cases:
        # when
        response = client.post(f"/conversations/{case.pk}/compose", data)
        fragment = client.post(f"/conversations/{case.pk}/compose", data, **HTMX)

        # then
        assert response.status_code == 400, data
        assert error in html(response)
        assert fragment.status_code == 422
        assert error in html(fragment)
        assert "HX-Trigger" not in fragment
    assert _snapshot(case) == before


@override_settings(PREMURA_MAX_ATTACHMENT_BYTES=10)
def test_composer_refuses_a_too_large_attachment(case: Conversation, support_agent: User) -> None:
    # given
    before = _snapshot(case)

    # when
    response = signed_in(support_agent).post(
        f"/conversations/{case.pk}/compose",
        {"mode": "reply", "text": "foto", "files": SimpleUploadedFile("a.png", PNG)},
    )

    # then
    assert response.status_code == 400
    assert "a.png is larger than the limit of 0 MB." in html(response)
    assert _snapshot(case) == before


# --- retry ----------------------------------------------------------------------------------------


def test_retry_queues_a_failed_reply_again(
    api_inbox: NewAPIInbox, case: Conversation, support_agent: User, webhook_receiver: Any
) -> None:
    # given a reply the receiver refused for good
    webhook_receiver.statuses = [410]
    Inbox.objects.filter(pk=api_inbox.inbox.pk).update(webhook_url=webhook_receiver.url)
    message = services.reply(case, support_agent, "Ciao")
    assert outbox.deliver(message.pk) == "failed"
    client = signed_in(support_agent)
    page = html(client.get(f"/conversations/{case.pk}/"))
    assert '<span class="badge delivery-failed">Failed</span>' in page
    assert "webhook answered HTTP 410" in page
    assert f'action="/conversations/{case.pk}/messages/{message.pk}/retry"' in page
    assert "A reply could not be delivered: webhook answered HTTP 410" in page

    # when
    response = client.post(f"/conversations/{case.pk}/messages/{message.pk}/retry", **HTMX)
    again = client.post(f"/conversations/{case.pk}/messages/{message.pk}/retry", **HTMX)

    # then
    message.refresh_from_db()
    assert response.status_code == 200
    assert '<span class="badge delivery-queued">Queued</span>' in html(response)
    assert message.delivery_state == "queued"
    assert message.delivery_attempts == 0
    assert (
        DBTaskResult.objects.filter(task_path="premura.conversations.tasks.deliver_message").count()
        == 2
    )
    assert again.status_code == 422
    assert "Only a failed message can be retried." in html(again)
    webhook_receiver.statuses = [200]
    assert outbox.deliver(message.pk) == "sent"


def test_retry_of_a_message_that_did_not_fail_is_refused(
    case: Conversation, support_agent: User
) -> None:
    # given
    message = services.reply(case, support_agent, "Ciao")
    before = _snapshot(case)

    # when
    response = signed_in(support_agent).post(
        f"/conversations/{case.pk}/messages/{message.pk}/retry"
    )
    customer = Message.objects.get(conversation=case, sequence=1)
    other = signed_in(support_agent).post(
        f"/conversations/{case.pk + 1}/messages/{customer.pk}/retry"
    )

    # then
    assert response.status_code == 400
    assert "Only a failed message can be retried." in html(response)
    assert other.status_code == 404
    assert _snapshot(case) == before


# --- side actions ---------------------------------------------------------------------------------


def test_assign_to_an_agent_to_me_and_to_nobody(
    case: Conversation, support_agent: User, supervisor: User
) -> None:
    client = signed_in(supervisor)

    # when
    to_giulia = client.post(
        f"/conversations/{case.pk}/assign", {"assignee": support_agent.pk, "handover_note": "VIP"}
    )
    to_me = client.post(f"/conversations/{case.pk}/assign", {"assignee": "me"}, **HTMX)
    case.refresh_from_db()
    mine = case.assignee_id
    to_nobody = client.post(f"/conversations/{case.pk}/assign", {"assignee": ""})

    # then
    assert to_giulia.status_code == 302
    assert to_me.status_code == 200
    assert to_me["HX-Trigger"] == "premura:poll"
    assert '<aside id="side" class="side"' in html(to_me)
    assert "Assignee: <strong>Sara Supervisor</strong>" in html(to_me)
    assert 'id="conversation-header" class="conversation-header" hx-swap-oob="true"' in html(to_me)
    assert mine == supervisor.pk
    assert to_nobody.status_code == 302
    case.refresh_from_db()
    assert case.assignee_id is None
    events = _events(case, "assigned")
    assert [e.payload["to"] for e in events] == [support_agent.pk, supervisor.pk, None]
    assert events[0].payload["handover_note"] == "VIP"
    page = html(client.get(f"/conversations/{case.pk}/"))
    assert "Sara Supervisor assigned the conversation to Giulia Rossi" in page
    assert "Sara Supervisor took the conversation" in page
    assert "Sara Supervisor unassigned the conversation" in page


def test_move_to_a_team_with_a_handover_note(case: Conversation, support_agent: User) -> None:
    # given
    billing = create_team("Billing")
    support = case.team_id

    # when
    response = signed_in(support_agent).post(
        f"/conversations/{case.pk}/team", {"team": billing.pk, "handover_note": "Rimborso"}
    )

    # then
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.team_id == billing.pk
    event = _events(case, "team_changed")[-1]
    assert event.payload == {"from": support, "to": billing.pk, "handover_note": "Rimborso"}
    assert event.actor_user == support_agent


def test_status_resolve_pending_open_and_snooze_in_the_agents_time_zone(
    case: Conversation, support_agent: User
) -> None:
    # given an agent in New York
    support_agent.timezone = "America/New_York"
    support_agent.save(update_fields=["timezone"])
    client = signed_in(support_agent)
    tomorrow = timezone.localdate() + dt.timedelta(days=2)

    # when
    resolved = client.post(f"/conversations/{case.pk}/status", {"status": "resolved"}, **HTMX)
    reopened = client.post(f"/conversations/{case.pk}/status", {"status": "open"})
    pending = client.post(f"/conversations/{case.pk}/status", {"status": "pending"})
    snoozed = client.post(
        f"/conversations/{case.pk}/status",
        {"status": "snoozed", "snoozed_until": f"{tomorrow.isoformat()}T09:30"},
    )

    # then
    assert resolved.status_code == 200
    assert "Reopen" in html(resolved)
    assert '<span class="badge status-resolved">Resolved</span>' in html(resolved)
    assert reopened.status_code == pending.status_code == snoozed.status_code == 302
    case.refresh_from_db()
    assert case.status == "snoozed"
    expected = dt.datetime.combine(tomorrow, dt.time(9, 30), zoneinfo.ZoneInfo("America/New_York"))
    assert case.snoozed_until == expected
    assert [e.payload["to"] for e in _events(case, "status_changed")] == [
        "resolved",
        "open",
        "pending",
        "snoozed",
    ]
    page = html(client.get(f"/conversations/{case.pk}/"))
    assert f"Giulia Rossi snoozed the conversation until {tomorrow.day} " in page
    assert ", 09:30</span>" in page


def test_priority_and_labels(case: Conversation, support_agent: User) -> None:
    # given
    refund = Label.objects.create(name="rimborso")
    vip = Label.objects.create(name="vip")
    services.change_labels(case, support_agent, add=["vip"])
    client = signed_in(support_agent)

    # when
    priority = client.post(f"/conversations/{case.pk}/priority", {"priority": "3"})
    labels = client.post(
        f"/conversations/{case.pk}/labels",
        {"labels": [str(refund.pk)], "new_label": "reso"},
        **HTMX,
    )

    # then
    case.refresh_from_db()
    assert priority.status_code == 302
    assert case.priority == 3
    assert labels.status_code == 200
    assert sorted(case.labels.values_list("name", flat=True)) == ["reso", "rimborso"]
    assert _events(case, "labels_changed")[-1].payload == {
        "added": ["reso", "rimborso"],
        "removed": ["vip"],
    }
    assert vip.pk in Label.objects.values_list("pk", flat=True)
    fragment = html(labels)
    assert f'value="{refund.pk}" checked' in fragment
    assert f'value="{vip.pk}">' in fragment
    assert '<span class="badge label">reso</span>' in fragment


@pytest.mark.parametrize(
    ("action", "data", "error"),
    [
        ("status", {"status": "exploded"}, "Choose a status from the list."),
        ("status", {}, "This field is required."),
        (
            "status",
            {"status": "snoozed", "snoozed_until": "domani"},
            "Choose the date and time to snooze until.",
        ),
        (
            "status",
            {"status": "snoozed", "snoozed_until": "2001-01-01T10:00"},
            "Choose a date and time in the future.",
        ),
        (
            "status",
            {"status": "snoozed", "snoozed_until": "99999-01-01T10:00"},
            "Choose the date and time to snooze until.",
        ),
        ("status", {"status": "snoozed"}, "Choose the date and time to snooze until."),
        ("priority", {"priority": "9"}, "Choose a priority from the list."),
        ("priority", {"priority": "urgent"}, "Choose a priority from the list."),
        ("labels", {"labels": ["99999"]}, "Choose labels from the list."),
        ("labels", {"labels": ["abc"]}, "Choose labels from the list."),
        ("labels", {"new_label": "x" * 61}, "Ensure this value has at most 60 characters"),
        ("assign", {"assignee": "99999"}, "Choose an agent from the list."),
        ("assign", {"assignee": "giulia"}, "Choose an agent from the list."),
        (
            "assign",
            {"assignee": "me", "handover_note": "x" * 2001},
            "Ensure this value has at most 2000 characters",
        ),
        ("team", {"team": "99999"}, "Choose a team from the list."),
        ("team", {"team": "-1"}, "Choose a team from the list."),
    ],
)
def test_actions_reject_bad_input_and_write_nothing(
    case: Conversation, support_agent: User, action: str, data: dict[str, Any], error: str
) -> None:
    # given
    client = signed_in(support_agent)
    before = _snapshot(case)

    # when
    plain = client.post(f"/conversations/{case.pk}/{action}", data)
    fragment = client.post(f"/conversations/{case.pk}/{action}", data, **HTMX)

    # then
    assert plain.status_code == 400
    assert error in html(plain)
    assert fragment.status_code == 422
    assert error in html(fragment)
    assert _snapshot(case) == before


def test_inactive_agent_cannot_be_assigned(case: Conversation, support_agent: User) -> None:
    # given
    gone = create_agent("gone@example.com")
    gone.is_active = False
    gone.save(update_fields=["is_active"])
    before = _snapshot(case)

    # when
    response = signed_in(support_agent).post(
        f"/conversations/{case.pk}/assign", {"assignee": gone.pk}
    )

    # then
    assert response.status_code == 400
    assert _snapshot(case) == before


def test_action_error_text_is_escaped(case: Conversation, support_agent: User) -> None:
    # when a label name that is hostile and too long comes back in the form
    response = signed_in(support_agent).post(
        f"/conversations/{case.pk}/labels", {"new_label": XSS + "x" * 60}
    )

    # then
    assert response.status_code == 400
    assert "<script>alert" not in html(response)


# --- the permission matrix ------------------------------------------------------------------------

ACTIONS: list[tuple[str, dict[str, Any]]] = [
    ("compose", {"mode": "note", "text": "nota"}),
    ("assign", {"assignee": "me"}),
    ("team", {"team": ""}),
    ("status", {"status": "pending"}),
    ("priority", {"priority": "2"}),
    ("labels", {"new_label": "x"}),
    ("retry", {}),
]


def _url(conversation: Conversation, action: str, message: Message) -> str:
    if action == "retry":
        return f"/conversations/{conversation.pk}/messages/{message.pk}/retry"
    return f"/conversations/{conversation.pk}/{action}"


@pytest.fixture
def users(
    support_agent: User, sales_agent: User, lawyer: User, supervisor: User, admin: User
) -> dict[str, User | None]:
    return {
        "anonymous": None,
        "other team": sales_agent,
        "restricted team": lawyer,
        "team": support_agent,
        "supervisor": supervisor,
        "admin": admin,
    }


# Expected answers on a conversation of the Support team (readable by every agent).
SUPPORT_READ = {
    "anonymous": 302,
    "other team": 200,
    "restricted team": 200,
    "team": 200,
    "supervisor": 200,
    "admin": 200,
}
SUPPORT_ACT = {
    "anonymous": 302,
    "other team": 403,
    "restricted team": 403,
    "team": "ok",
    "supervisor": "ok",
    "admin": "ok",
}
# Expected answers on a conversation of the restricted Legal team.
LEGAL_READ = {
    "anonymous": 302,
    "other team": 403,
    "restricted team": 200,
    "team": 403,
    "supervisor": 200,
    "admin": 200,
}
LEGAL_ACT = {
    "anonymous": 302,
    "other team": 403,
    "restricted team": "ok",
    "team": 403,
    "supervisor": "ok",
    "admin": "ok",
}


def _failed_reply(conversation: Conversation, author: User) -> Message:
    message = services.reply(conversation, author, "Ciao")
    Message.objects.filter(pk=message.pk).update(delivery_state="failed", delivery_error="410")
    message.refresh_from_db()
    return message


def _client(user: User | None) -> Client:
    return signed_in(user) if user is not None else Client()


@pytest.mark.parametrize("who", list(SUPPORT_READ))
def test_permission_matrix_on_a_team_conversation(
    api_inbox: NewAPIInbox, support_team: Team, users: dict[str, User | None], admin: User, who: str
) -> None:
    # given
    conversation = open_case(
        api_inbox,
        attachments=[{"filename": "f.png", "data_base64": base64.b64encode(PNG).decode()}],
    )
    services.set_team(conversation, None, team=support_team)
    attachment = Message.objects.get(conversation=conversation, sequence=1).attachments.get()
    client = _client(users[who])

    # when / then: reading
    reads = [
        f"/conversations/{conversation.pk}/",
        f"/conversations/{conversation.pk}/poll?after=0",
        f"/conversations/{conversation.pk}/older?before=2&until=0",
        f"/conversations/attachments/{attachment.pk}/preview",
        f"/conversations/attachments/{attachment.pk}/download",
    ]
    for url in reads:
        assert client.get(url).status_code == SUPPORT_READ[who], (who, url)
    # acting
    for action, data in ACTIONS:
        message = _failed_reply(conversation, admin)
        before = _snapshot(conversation)
        response = client.post(_url(conversation, action, message), data)
        expected = SUPPORT_ACT[who]
        if expected == "ok":
            assert response.status_code == 302, (who, action, response.content[:300])
            assert response["Location"] == f"/conversations/{conversation.pk}/"
        else:
            assert response.status_code == expected, (who, action)
            assert _snapshot(conversation) == before, (who, action)
    # and the page offers controls only to those who may act
    page = client.get(f"/conversations/{conversation.pk}/")
    if page.status_code == 200:
        assert ('id="composer"' in html(page)) == (SUPPORT_ACT[who] == "ok")


@pytest.mark.parametrize("who", list(LEGAL_READ))
def test_permission_matrix_on_a_restricted_conversation(
    api_inbox: NewAPIInbox, legal_team: Team, users: dict[str, User | None], admin: User, who: str
) -> None:
    # given
    conversation = open_case(
        api_inbox,
        "m-legal",
        who="legal",
        attachments=[{"filename": "f.png", "data_base64": base64.b64encode(PNG).decode()}],
    )
    services.set_team(conversation, None, team=legal_team)
    attachment = Message.objects.get(conversation=conversation, sequence=1).attachments.get()
    client = _client(users[who])

    # when / then: the page itself answers 200 with the entry for outsiders (no content)
    page = client.get(f"/conversations/{conversation.pk}/")
    assert page.status_code == (302 if who == "anonymous" else 200)
    if page.status_code == 200:
        assert ("Buongiorno" in html(page)) == (LEGAL_READ[who] == 200)
    reads = [
        f"/conversations/{conversation.pk}/poll?after=0",
        f"/conversations/{conversation.pk}/older?before=2&until=0",
        f"/conversations/attachments/{attachment.pk}/preview",
        f"/conversations/attachments/{attachment.pk}/download",
    ]
    for url in reads:
        assert client.get(url).status_code == LEGAL_READ[who], (who, url)
    for action, data in ACTIONS:
        message = _failed_reply(conversation, admin)
        before = _snapshot(conversation)
        response = client.post(_url(conversation, action, message), data)
        expected = LEGAL_ACT[who]
        if expected == "ok":
            assert response.status_code == 302, (who, action)
        else:
            assert response.status_code == expected, (who, action)
            assert _snapshot(conversation) == before, (who, action)


def test_actions_on_an_unknown_conversation_are_404(support_agent: User) -> None:
    client = signed_in(support_agent)
    for action, data in ACTIONS:
        url = (
            "/conversations/999/messages/1/retry"
            if action == "retry"
            else f"/conversations/999/{action}"
        )
        assert client.post(url, data).status_code == 404, action


def test_actions_need_post(case: Conversation, support_agent: User) -> None:
    client = signed_in(support_agent)
    for action in ("compose", "assign", "team", "status", "priority", "labels"):
        assert client.get(f"/conversations/{case.pk}/{action}").status_code == 405
    assert client.post(f"/conversations/{case.pk}/").status_code == 405
