"""Settings lists cost the same number of queries with 3 rows as with 30: an N+1 fails here."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client

from premura.accounts.models import User
from premura.accounts.services import create_agent
from premura.channels.services import create_api_inbox
from premura.conversations.models import Label
from premura.routing.models import Team
from premura.routing.services import create_team

pytestmark = pytest.mark.django_db

# Every page: the session and the signed-in admin (2 queries), then its own: one per list and one
# per prefetched relation or choice list, never one per row.


def _inboxes(n: int) -> str:
    teams = [create_team(f"Team {i}") for i in range(3)]
    for i in range(n):
        create_api_inbox(f"Inbox {i}", team=teams[i % 3] if i % 4 else None)
    return "/settings/inboxes/"


def _teams(n: int) -> str:
    for i in range(n):
        team = create_team(f"Team {i}", restricted=i % 2 == 0)
        team.members.add(create_agent(f"member{i}@example.com", display_name=f"Member {i}"))
    return "/settings/teams/"


def _agents(n: int) -> str:
    teams = [create_team(f"Team {i}") for i in range(3)]
    for i in range(n):
        agent = create_agent(f"agent{i}@example.com", display_name=f"Agent {i}")
        agent.teams.add(*teams[: i % 3 + 1])
    return "/settings/agents/"


def _labels(n: int) -> str:
    Label.objects.bulk_create(Label(name=f"label {i}", color="#123456") for i in range(n))
    return "/settings/labels/"


def _team_members(n: int) -> str:
    team = create_team("Support")
    others = create_team("Other")
    for i in range(n):
        team.members.add(create_agent(f"member{i}@example.com", display_name=f"Member {i}"))
        create_agent(f"outsider{i}@example.com").teams.add(others)
    return f"/settings/teams/{team.pk}/"


def _agent_teams(n: int) -> str:
    agent = create_agent("giulia@example.com", display_name="Giulia")
    agent.teams.add(*[create_team(f"Team {i}") for i in range(n)])
    return f"/settings/agents/{agent.pk}/"


def _index(n: int) -> str:
    _labels(n)
    _inboxes(n)
    return "/settings/"


def _inbox_page(n: int) -> str:
    for i in range(n):
        create_team(f"Team {i}")
    created = create_api_inbox("Shop", team=Team.objects.first())
    return f"/settings/inboxes/{created.inbox.pk}/"


PAGES: list[tuple[str, Callable[[int], str], int]] = [
    ("index", _index, 6),
    ("inbox list", _inboxes, 3),
    ("inbox page", _inbox_page, 4),
    ("team list", _teams, 4),
    ("team page", _team_members, 5),
    ("agent list", _agents, 4),
    ("agent page", _agent_teams, 5),
    ("label list", _labels, 3),
]


@pytest.mark.parametrize("rows", [3, 30])
@pytest.mark.parametrize(("page", "build", "queries"), PAGES, ids=[p[0] for p in PAGES])
def test_settings_page_query_count(
    admin: User,
    django_assert_num_queries: Callable[..., object],
    page: str,
    build: Callable[[int], str],
    queries: int,
    rows: int,
) -> None:
    # given
    path = build(rows)
    client = Client()
    client.force_login(admin)

    # when / then
    with django_assert_num_queries(queries):  # type: ignore[attr-defined]
        response = client.get(path)
    assert response.status_code == 200
