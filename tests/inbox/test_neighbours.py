"""Previous and next conversation of a list, as the conversation page asks for them."""

from __future__ import annotations

import pytest
from django.http import QueryDict

from premura.accounts.models import User
from premura.conversations.models import Conversation
from premura.inbox.selectors import neighbours
from premura.routing.models import Team
from tests.inbox.conftest import BASE, MakeConversation

pytestmark = pytest.mark.django_db


def q(text: str) -> QueryDict:
    return QueryDict(text)


def test_neighbours_follow_the_default_order_newest_activity_first(
    make_conversation: MakeConversation, admin: User
) -> None:
    # given: the list shows c, b, a
    a = make_conversation(minutes=1)
    b = make_conversation(minutes=2)
    c = make_conversation(minutes=3)
    params = q("view=all&status=open&sort=activity")

    # when / then
    assert neighbours(admin, b, params) == (c.pk, a.pk)
    assert neighbours(admin, c, params) == (None, b.pk)
    assert neighbours(admin, a, params) == (b.pk, None)


def test_neighbours_break_ties_of_the_same_time_by_id(
    make_conversation: MakeConversation, admin: User
) -> None:
    # given: four conversations with the very same last activity
    same = [make_conversation(at=BASE) for _ in range(4)]
    params = q("view=all&status=open")

    # when
    result = [neighbours(admin, c, params) for c in same]

    # then: ordered by id, highest first
    ids = [c.pk for c in same]
    assert result == [(ids[1], None), (ids[2], ids[0]), (ids[3], ids[1]), (None, ids[2])]


def test_neighbours_stay_within_the_filters(
    make_conversation: MakeConversation, admin: User, support_team: Team, legal_team: Team
) -> None:
    # given
    a = make_conversation(minutes=1, labels=["refund"])
    make_conversation(minutes=2, team=legal_team, labels=["refund"])
    make_conversation(minutes=3, status=Conversation.Status.PENDING, labels=["refund"])
    b = make_conversation(minutes=4, labels=["refund"])
    make_conversation(minutes=5)
    c = make_conversation(minutes=6, labels=["refund"])
    label = a.labels.get().pk
    params = q(f"view=all&status=open&team={support_team.pk}&label={label}")

    # when / then
    assert neighbours(admin, b, params) == (c.pk, a.pk)


def test_neighbours_of_a_conversation_that_left_the_list(
    make_conversation: MakeConversation, admin: User
) -> None:
    # given: b was resolved from the conversation page; the list shows open ones
    a = make_conversation(minutes=1)
    b = make_conversation(minutes=2, status=Conversation.Status.RESOLVED)
    c = make_conversation(minutes=3)

    # when / then: the agent moves on to the ones around where b was
    assert neighbours(admin, b, q("view=all&status=open")) == (c.pk, a.pk)


def test_neighbours_in_oldest_waiting_first_order(
    make_conversation: MakeConversation, admin: User
) -> None:
    # given: answered conversations do not wait for us
    a = make_conversation(minutes=1)
    make_conversation(minutes=2, agent_replied=True)
    b = make_conversation(minutes=3)
    c = make_conversation(minutes=4)
    params = q("view=all&status=open&sort=waiting")

    # when / then
    assert neighbours(admin, b, params) == (a.pk, c.pk)
    assert neighbours(admin, a, params) == (None, b.pk)


def test_neighbours_in_priority_order(make_conversation: MakeConversation, admin: User) -> None:
    # given: urgent first, then by activity
    low_new = make_conversation(minutes=9, priority=1)
    urgent_old = make_conversation(minutes=1, priority=4)
    low_old = make_conversation(minutes=2, priority=1)
    urgent_new = make_conversation(minutes=5, priority=4)
    params = q("view=all&status=open&sort=priority")

    # when / then: urgent_new, urgent_old, low_new, low_old
    assert neighbours(admin, urgent_old, params) == (urgent_new.pk, low_new.pk)
    assert neighbours(admin, low_new, params) == (urgent_old.pk, low_old.pk)


def test_neighbours_of_views_and_search(
    make_conversation: MakeConversation, support_agent: User, sales_agent: User
) -> None:
    # given
    a = make_conversation(minutes=1, assignee=support_agent, text="fattura sbagliata")
    make_conversation(minutes=2, assignee=sales_agent, text="fattura sbagliata")
    b = make_conversation(minutes=3, assignee=support_agent, text="pacco perso")
    c = make_conversation(minutes=4, assignee=support_agent, text="fattura doppia")

    # when / then
    assert neighbours(support_agent, b, q("view=mine&status=open")) == (c.pk, a.pk)
    assert neighbours(support_agent, c, q("view=mine&status=all&q=fattura")) == (None, a.pk)


def test_neighbours_ignore_values_that_are_not_valid(
    make_conversation: MakeConversation, admin: User
) -> None:
    # given
    a = make_conversation(minutes=1)
    b = make_conversation(minutes=2)
    c = make_conversation(minutes=3)

    # when
    result = neighbours(admin, b, q("view=bogus&status=nope&team=x&sort=%27;drop&label=-1"))

    # then: the default list (all open, newest first)
    assert result == (c.pk, a.pk)


def test_neighbours_cost_two_small_queries(
    make_conversation: MakeConversation, admin: User, django_assert_num_queries: object
) -> None:
    # given
    for minutes in range(30):
        make_conversation(minutes=minutes)
    oldest_first = list(Conversation.objects.order_by("last_activity_at"))
    middle = oldest_first[15]

    # when / then
    with django_assert_num_queries(2):  # type: ignore[operator]
        result = neighbours(admin, middle, q("view=all&status=open"))
    assert result == (oldest_first[16].pk, oldest_first[14].pk)


def test_list_state_survives_its_own_query_string(admin: User) -> None:
    # given
    from premura.inbox.lists import parse_list

    text = "view=unassigned&status=all&inbox=2&channel=email&team=none&assignee=none&label=3"
    text += "&priority=0&language=it&sort=waiting&q=ordine+perso"
    state = parse_list(q(text), admin)

    # when
    again = parse_list(q(state.querystring()), admin)

    # then
    assert again == state
    assert (state.team, state.assignee, state.priority) == (0, 0, 0)
    assert state.querystring() == text
