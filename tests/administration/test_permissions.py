"""Every settings page and action, for every kind of user: only admins get in."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.core import mail
from django.template.loader import render_to_string
from django.test import Client, RequestFactory

from premura.accounts.models import User
from premura.channels.services import NewAPIInbox
from premura.conversations.models import Label
from premura.routing.models import Team
from tests.administration.conftest import settings_snapshot

pytestmark = pytest.mark.django_db


@dataclass
class World:
    api_inbox: NewAPIInbox
    support_team: Team
    legal_team: Team
    support_agent: User
    sales_agent: User
    label: Label


@pytest.fixture
def world(
    api_inbox: NewAPIInbox,
    support_team: Team,
    legal_team: Team,
    support_agent: User,
    sales_agent: User,
    supervisor: User,
    admin: User,
) -> World:
    return World(
        api_inbox=api_inbox,
        support_team=support_team,
        legal_team=legal_team,
        support_agent=support_agent,
        sales_agent=sales_agent,
        label=Label.objects.create(name="refund"),
    )


@dataclass(frozen=True)
class Case:
    name: str
    method: str
    path: Callable[[World], str]
    data: Callable[[World], dict[str, Any]]
    admin_status: int


def _none(w: World) -> dict[str, Any]:
    return {}


CASES = [
    Case("index", "get", lambda w: "/settings/", _none, 200),
    Case("inbox list", "get", lambda w: "/settings/inboxes/", _none, 200),
    Case("inbox new form", "get", lambda w: "/settings/inboxes/new/", _none, 200),
    Case(
        "inbox create",
        "post",
        lambda w: "/settings/inboxes/new/",
        lambda w: {"name": "Portal", "webhook_url": "https://portal.example/hook"},
        302,
    ),
    Case("inbox page", "get", lambda w: f"/settings/inboxes/{w.api_inbox.inbox.pk}/", _none, 200),
    Case(
        "inbox edit",
        "post",
        lambda w: f"/settings/inboxes/{w.api_inbox.inbox.pk}/",
        lambda w: {"name": "Shop 2", "team": "", "webhook_url": ""},
        302,
    ),
    Case(
        "inbox rotate token",
        "post",
        lambda w: f"/settings/inboxes/{w.api_inbox.inbox.pk}/rotate-token/",
        _none,
        302,
    ),
    Case(
        "inbox rotate secret",
        "post",
        lambda w: f"/settings/inboxes/{w.api_inbox.inbox.pk}/rotate-secret/",
        _none,
        302,
    ),
    Case("team list", "get", lambda w: "/settings/teams/", _none, 200),
    Case("team new form", "get", lambda w: "/settings/teams/new/", _none, 200),
    Case(
        "team create", "post", lambda w: "/settings/teams/new/", lambda w: {"name": "Billing"}, 302
    ),
    Case("team page", "get", lambda w: f"/settings/teams/{w.support_team.pk}/", _none, 200),
    Case(
        "team edit",
        "post",
        lambda w: f"/settings/teams/{w.support_team.pk}/",
        lambda w: {"name": "Customer support", "restricted": "on"},
        302,
    ),
    Case(
        "team add member",
        "post",
        lambda w: f"/settings/teams/{w.support_team.pk}/members/",
        lambda w: {"members": [w.sales_agent.pk]},
        302,
    ),
    Case(
        "team remove member",
        "post",
        lambda w: f"/settings/teams/{w.support_team.pk}/members/{w.support_agent.pk}/remove/",
        _none,
        302,
    ),
    Case("team delete", "post", lambda w: f"/settings/teams/{w.legal_team.pk}/delete/", _none, 302),
    Case("agent list", "get", lambda w: "/settings/agents/", _none, 200),
    Case("agent new form", "get", lambda w: "/settings/agents/new/", _none, 200),
    Case(
        "agent create",
        "post",
        lambda w: "/settings/agents/new/",
        lambda w: {"email": "new@example.com", "display_name": "Nina New", "role": "agent"},
        302,
    ),
    Case("agent page", "get", lambda w: f"/settings/agents/{w.support_agent.pk}/", _none, 200),
    Case(
        "agent edit",
        "post",
        lambda w: f"/settings/agents/{w.support_agent.pk}/",
        lambda w: {"display_name": "Giulia R.", "role": "supervisor", "teams": [w.legal_team.pk]},
        302,
    ),
    Case(
        "agent deactivate",
        "post",
        lambda w: f"/settings/agents/{w.support_agent.pk}/deactivate/",
        _none,
        302,
    ),
    Case(
        "agent reactivate",
        "post",
        lambda w: f"/settings/agents/{w.sales_agent.pk}/reactivate/",
        _none,
        302,
    ),
    Case(
        "agent invite again",
        "post",
        lambda w: f"/settings/agents/{w.support_agent.pk}/invite/",
        _none,
        302,
    ),
    Case("label list", "get", lambda w: "/settings/labels/", _none, 200),
    Case(
        "label create",
        "post",
        lambda w: "/settings/labels/new/",
        lambda w: {"name": "vip", "color": "#ff0000"},
        302,
    ),
    Case("label page", "get", lambda w: f"/settings/labels/{w.label.pk}/", _none, 200),
    Case(
        "label edit",
        "post",
        lambda w: f"/settings/labels/{w.label.pk}/",
        lambda w: {"name": "refunds", "color": "#00ff00"},
        302,
    ),
    Case("label delete", "post", lambda w: f"/settings/labels/{w.label.pk}/delete/", _none, 302),
]

NOT_ADMINS = ["sales_agent", "support_agent", "supervisor"]


def _send(client: Client, case: Case, world: World) -> Any:
    return getattr(client, case.method)(case.path(world), case.data(world))


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_anonymous_is_sent_to_sign_in(world: World, case: Case) -> None:
    # given
    before = settings_snapshot()

    # when
    response = _send(Client(), case, world)

    # then
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=/settings/")
    assert settings_snapshot() == before


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
@pytest.mark.parametrize("who", NOT_ADMINS)
def test_agents_and_supervisors_are_refused(
    world: World,
    case: Case,
    who: str,
    request: pytest.FixtureRequest,
    signed_in: Callable[[User | None], Client],
) -> None:
    # given an agent of the team, an agent of another team, or a supervisor
    client = signed_in(request.getfixturevalue(who))
    before = settings_snapshot()

    # when
    response = _send(client, case, world)

    # then nothing is shown and nothing is written
    assert response.status_code == 403
    assert settings_snapshot() == before
    assert mail.outbox == []


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_admin_gets_in(world: World, case: Case, admin_web: Client) -> None:
    # when
    response = _send(admin_web, case, world)

    # then
    assert response.status_code == case.admin_status, response.content.decode()[:2000]
    if case.method == "post":
        assert response["Location"].startswith("/")


def test_settings_menu_entry_only_for_admins(world: World, admin: User, supervisor: User) -> None:
    # given the page shell every screen extends
    def shell_for(user: User) -> str:
        request = RequestFactory().get("/inbox/")
        request.user = user
        return render_to_string("web/base.html", {"nav": "settings"}, request=request)

    # when
    for_admin = shell_for(admin)
    for_supervisor = shell_for(supervisor)

    # then
    assert 'href="/settings/" aria-current="page"' in for_admin
    assert 'href="/settings/"' not in for_supervisor


def test_deactivated_admin_is_refused(world: World, admin: User, signed_in: Any) -> None:
    # given an admin signed in, then deactivated by another admin
    client = signed_in(admin)
    other = User.objects.create_user("other-admin@example.com", "x", role=User.Role.ADMIN)
    admin.is_active = False
    admin.save(update_fields=["is_active"])

    # when
    response = client.get("/settings/")

    # then the session no longer counts
    assert other.is_admin
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


@pytest.mark.parametrize(
    "path",
    [
        "/settings/inboxes/999999/",
        "/settings/teams/999999/",
        "/settings/agents/999999/",
        "/settings/labels/999999/",
    ],
)
def test_unknown_ids_are_403_for_agents_and_404_for_admins(
    world: World, path: str, admin_web: Client, signed_in: Any
) -> None:
    # when
    agent = signed_in(world.sales_agent).get(path)
    admin = admin_web.get(path)

    # then an agent learns nothing about which ids exist
    assert agent.status_code == 403
    assert admin.status_code == 404


POST_ONLY = {
    "inbox rotate token",
    "inbox rotate secret",
    "team add member",
    "team remove member",
    "team delete",
    "agent deactivate",
    "agent reactivate",
    "agent invite again",
    "label create",
    "label delete",
}


@pytest.mark.parametrize("case", [c for c in CASES if c.name in POST_ONLY], ids=lambda c: c.name)
def test_actions_refuse_get(world: World, case: Case, admin_web: Client) -> None:
    # given
    before = settings_snapshot()

    # when an action is reached with GET (a link, a prefetch, a crawler)
    response = admin_web.get(case.path(world))

    # then it does nothing
    assert response.status_code == 405
    assert settings_snapshot() == before


@pytest.mark.parametrize("case", [c for c in CASES if c.method == "post"], ids=lambda c: c.name)
def test_changes_need_the_csrf_token(world: World, case: Case, admin: User) -> None:
    # given a browser that checks CSRF like a real one, signed in as an admin
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin)
    before = settings_snapshot()

    # when a form is posted from another site (no CSRF token)
    response = _send(client, case, world)

    # then
    assert response.status_code == 403
    assert settings_snapshot() == before


def test_every_settings_form_carries_the_csrf_token(world: World, admin_web: Client) -> None:
    # given every settings page with a form
    pages = [case.path(world) for case in CASES if case.method == "get"]

    # then each <form method="post"> has its token
    for path in pages:
        html = admin_web.get(path).content.decode()
        forms = re.findall(r'<form method="post".*?</form>', html, flags=re.S)
        for form in forms:
            assert 'name="csrfmiddlewaretoken"' in form, (path, form[:200])
