"""Bulk actions over the ticked rows: assign, team, status, labels; refusals are reported."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.messages import get_messages
from django.test import Client

from premura.accounts.models import User
from premura.conversations.models import Conversation, ConversationEvent
from premura.routing.models import Team
from tests.inbox.conftest import MakeConversation

pytestmark = pytest.mark.django_db

SignedIn = Callable[[User], Client]
NEXT = "view=all&status=open&sort=priority&q=ordine"


def flashes(response: object) -> list[tuple[str, str]]:
    return [(m.level_tag, str(m)) for m in get_messages(response.wsgi_request)]  # type: ignore[attr-defined]


def test_bulk_assign_reports_the_conversations_the_agent_may_not_act_on(
    make_conversation: MakeConversation,
    support_agent: User,
    legal_team: Team,
    signed_in: SignedIn,
) -> None:
    # given: two of the agent's team, one of the restricted Legal team
    ours = [make_conversation(minutes=n) for n in range(2)]
    legal = make_conversation(minutes=3, team=legal_team)
    client = signed_in(support_agent)

    # when
    response = client.post(
        "/inbox/bulk",
        {
            "ids": [c.pk for c in [*ours, legal]],
            "action": "assign",
            "assignee": str(support_agent.pk),
            "next": NEXT,
        },
    )

    # then: back to the same list, two assigned with their events, Legal's refused and named
    assert response.status_code == 302
    assert response["Location"] == "/inbox/?view=all&status=open&sort=priority&q=ordine"
    assert set(
        Conversation.objects.filter(assignee=support_agent).values_list("pk", flat=True)
    ) == {c.pk for c in ours}
    assert ConversationEvent.objects.filter(kind="assigned", actor_user=support_agent).count() == 2
    assert flashes(response) == [
        ("success", "2 conversations updated."),
        (
            "warning",
            f"Not changed, they belong to a team you are not part of: {legal.reference}",
        ),
    ]


def test_bulk_move_to_a_team(
    make_conversation: MakeConversation,
    supervisor: User,
    legal_team: Team,
    signed_in: SignedIn,
) -> None:
    # given
    conversations = [make_conversation(minutes=n) for n in range(3)]

    # when
    response = signed_in(supervisor).post(
        "/inbox/bulk",
        {"ids": [c.pk for c in conversations], "action": "team", "team": str(legal_team.pk)},
    )

    # then
    assert response.status_code == 302
    assert response["Location"] == "/inbox/"
    assert Conversation.objects.filter(team=legal_team).count() == 3
    assert ConversationEvent.objects.filter(kind="team_changed").count() == 3


def test_bulk_status_and_unassign_and_no_team(
    make_conversation: MakeConversation, admin: User, support_agent: User, signed_in: SignedIn
) -> None:
    # given
    a = make_conversation(minutes=1, assignee=support_agent)
    b = make_conversation(minutes=2, status=Conversation.Status.RESOLVED)
    client = signed_in(admin)
    ids = [a.pk, b.pk]

    # when
    status = client.post("/inbox/bulk", {"ids": ids, "action": "status", "status": "resolved"})
    client.post("/inbox/bulk", {"ids": ids, "action": "assign", "assignee": "none"})
    client.post("/inbox/bulk", {"ids": ids, "action": "team", "team": "none"})

    # then
    assert flashes(status) == [
        ("success", "1 conversation updated."),
        ("info", "1 conversation was already like that."),
    ]
    assert list(Conversation.objects.values_list("status", "assignee", "team")) == [
        ("resolved", None, None),
        ("resolved", None, None),
    ]


def test_bulk_labels_add_and_remove(
    make_conversation: MakeConversation, support_agent: User, signed_in: SignedIn
) -> None:
    # given
    a = make_conversation(minutes=1, labels=["vip"])
    b = make_conversation(minutes=2)
    client = signed_in(support_agent)

    # when
    client.post("/inbox/bulk", {"ids": [a.pk, b.pk], "action": "label_add", "label": " refund "})
    client.post("/inbox/bulk", {"ids": [a.pk], "action": "label_remove", "label": "vip"})

    # then
    assert sorted(a.labels.values_list("name", flat=True)) == ["refund"]
    assert sorted(b.labels.values_list("name", flat=True)) == ["refund"]
    assert ConversationEvent.objects.filter(kind="labels_changed").count() == 3


@pytest.mark.parametrize(
    ("who", "allowed"),
    [("sales_agent", False), ("support_agent", True), ("supervisor", True), ("admin", True)],
)
def test_bulk_permission_matrix(
    make_conversation: MakeConversation,
    signed_in: SignedIn,
    request: pytest.FixtureRequest,
    who: str,
    allowed: bool,
) -> None:
    # given: a conversation of team Support
    conversation = make_conversation()
    user: User = request.getfixturevalue(who)

    # when
    response = signed_in(user).post(
        "/inbox/bulk", {"ids": [conversation.pk], "action": "status", "status": "pending"}
    )

    # then
    conversation.refresh_from_db()
    assert response.status_code == 302
    assert (conversation.status == "pending") is allowed
    levels = [level for level, _text in flashes(response)]
    assert levels == (["success"] if allowed else ["warning"])


def test_bulk_needs_sign_in_and_post(make_conversation: MakeConversation, admin: User) -> None:
    # given
    conversation = make_conversation()
    data = {"ids": [conversation.pk], "action": "status", "status": "closed"}

    # when
    anonymous = Client().post("/inbox/bulk", data)
    client = Client()
    client.force_login(admin)
    get = client.get("/inbox/bulk", data)
    csrf_client = Client(enforce_csrf_checks=True)
    csrf_client.force_login(admin)
    no_token = csrf_client.post("/inbox/bulk", data)

    # then: nothing written
    conversation.refresh_from_db()
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith("/login/")
    assert get.status_code == 405
    assert no_token.status_code == 403
    assert conversation.status == "open"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"action": "status", "status": "open"}, "Select at least one conversation."),
        ({"ids": ["x"], "action": "status", "status": "open"}, "The selection is not valid."),
        ({"ids": ["1"], "action": "explode"}, "action: Select a valid choice."),
        ({"ids": ["1"], "action": "status", "status": "snoozed"}, "status: Select a valid choice."),
        ({"ids": ["1"], "action": "status"}, "status: Choose a value for this action."),
        (
            {"ids": ["1"], "action": "assign", "assignee": "424242"},
            "assignee: Select a valid choice.",
        ),
        ({"ids": ["1"], "action": "team", "team": "abc"}, "team: Select a valid choice."),
        ({"ids": ["1"], "action": "label_add", "label": "x" * 61}, "label: Ensure this value"),
        (
            {"ids": [str(n) for n in range(1, 103)], "action": "status", "status": "open"},
            "at most 100",
        ),
    ],
)
def test_bulk_bad_input_is_reported_and_changes_nothing(
    make_conversation: MakeConversation,
    admin: User,
    signed_in: SignedIn,
    data: dict[str, object],
    message: str,
) -> None:
    # given
    conversation = make_conversation(status=Conversation.Status.PENDING)
    data = {**data, "next": "view=all&evil=https://example.com"}

    # when
    response = signed_in(admin).post("/inbox/bulk", data)

    # then
    assert response.status_code == 302
    assert response["Location"] == "/inbox/?view=all"
    texts = [text for _level, text in flashes(response)]
    assert len(texts) == 1
    assert message in texts[0]
    conversation.refresh_from_db()
    assert conversation.status == "pending"
    assert ConversationEvent.objects.count() == 0


def test_bulk_ignores_ids_that_do_not_exist(
    make_conversation: MakeConversation, admin: User, signed_in: SignedIn
) -> None:
    # given
    conversation = make_conversation()

    # when
    response = signed_in(admin).post(
        "/inbox/bulk",
        {"ids": [conversation.pk, 999999], "action": "status", "status": "closed"},
    )

    # then
    assert flashes(response) == [("success", "1 conversation updated.")]
