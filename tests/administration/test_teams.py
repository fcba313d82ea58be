"""Teams and members: create, edit, add and remove members, delete only an unused team."""

from __future__ import annotations

import pytest
from django.test import Client

from premura.accounts.models import User
from premura.accounts.services import create_agent
from premura.channels.models import Inbox
from premura.channels.services import NewAPIInbox
from premura.conversations.models import Conversation
from premura.routing.models import Team
from premura.routing.services import create_team
from tests.administration.conftest import settings_snapshot
from tests.helpers import APIClient, message_body

pytestmark = pytest.mark.django_db


def test_create_restricted_team_explains_what_restricted_means(admin_web: Client) -> None:
    # given
    form = admin_web.get("/settings/teams/new/").content.decode()

    # when
    response = admin_web.post("/settings/teams/new/", {"name": "HR", "restricted": "on"})

    # then
    team = Team.objects.get(name="HR")
    assert (
        "see that its conversations exist (dates, status, channel, team) but not their content"
        in form
    )
    assert response.status_code == 302
    assert response["Location"] == f"/settings/teams/{team.pk}/"
    assert (team.restricted, team.slug) == (True, "hr")


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "This field is required."),
        ("   ", "This field is required."),
        ("support", "A team with this name already exists."),
        (" SUPPORT ", "A team with this name already exists."),
        ("x" * 101, "Ensure this value has at most 100 characters (it has 101)."),
    ],
)
def test_create_refuses_bad_names(
    admin_web: Client, support_team: Team, name: str, message: str
) -> None:
    # given
    before = settings_snapshot()

    # when
    response = admin_web.post("/settings/teams/new/", {"name": name})

    # then
    assert response.status_code == 400
    assert message in response.content.decode()
    assert settings_snapshot() == before


def test_rename_and_restrict(admin_web: Client, support_team: Team) -> None:
    # when
    response = admin_web.post(
        f"/settings/teams/{support_team.pk}/", {"name": "Customer care", "restricted": "on"}
    )

    # then the slug (used by the command line) stays
    support_team.refresh_from_db()
    assert response.status_code == 302
    assert (support_team.name, support_team.restricted, support_team.slug) == (
        "Customer care",
        True,
        "support",
    )


def test_rename_to_another_teams_name_is_refused(
    admin_web: Client, support_team: Team, legal_team: Team
) -> None:
    # when
    response = admin_web.post(f"/settings/teams/{support_team.pk}/", {"name": "legal"})

    # then
    support_team.refresh_from_db()
    assert response.status_code == 400
    assert "A team with this name already exists." in response.content.decode()
    assert support_team.name == "Support"


def test_keeping_the_own_name_is_fine(admin_web: Client, legal_team: Team) -> None:
    # when restricted is unticked (an unticked checkbox sends nothing)
    response = admin_web.post(f"/settings/teams/{legal_team.pk}/", {"name": "Legal"})

    # then
    legal_team.refresh_from_db()
    assert response.status_code == 302
    assert legal_team.restricted is False


def test_add_and_remove_members(
    admin_web: Client, support_team: Team, support_agent: User, sales_agent: User, lawyer: User
) -> None:
    # when two agents are added
    added = admin_web.post(
        f"/settings/teams/{support_team.pk}/members/",
        {"members": [sales_agent.pk, lawyer.pk]},
        follow=True,
    )

    # then
    assert set(support_team.members.all()) == {support_agent, sales_agent, lawyer}
    assert "Avv. Bianchi, Tom Baker added to “Support”." in added.content.decode()

    # when one is removed
    removed = admin_web.post(
        f"/settings/teams/{support_team.pk}/members/{support_agent.pk}/remove/", follow=True
    )

    # then
    assert set(support_team.members.all()) == {sales_agent, lawyer}
    assert "Giulia Rossi is no longer a member of “Support”." in removed.content.decode()
    assert set(sales_agent.teams.values_list("name", flat=True)) == {"Sales", "Support"}


def test_team_page_lists_members_and_offers_only_others(
    admin_web: Client, support_team: Team, support_agent: User, sales_agent: User
) -> None:
    # given a deactivated agent
    gone = create_agent("gone@example.com", display_name="Gone Agent")
    gone.is_active = False
    gone.save()

    # when
    html = admin_web.get(f"/settings/teams/{support_team.pk}/").content.decode()

    # then members have a remove button; the add list has the others, active ones only
    assert f'action="/settings/teams/{support_team.pk}/members/{support_agent.pk}/remove/"' in html
    assert f'<option value="{sales_agent.pk}">Tom Baker (tom@example.com)</option>' in html
    assert f'<option value="{support_agent.pk}"' not in html
    assert "Gone Agent" not in html


@pytest.mark.parametrize(
    ("members", "message"),
    [
        ([], "Choose at least one agent to add."),
        (["999999"], "Choose agents from the list: one of them cannot join this team."),
        (["abc"], "Choose agents from the list: one of them cannot join this team."),
    ],
)
def test_adding_nobody_or_unknown_agents_is_refused(
    admin_web: Client, support_team: Team, support_agent: User, members: list[str], message: str
) -> None:
    # given
    before = settings_snapshot()

    # when
    response = admin_web.post(f"/settings/teams/{support_team.pk}/members/", {"members": members})

    # then
    html = response.content.decode()
    assert response.status_code == 400
    assert message in html
    assert settings_snapshot() == before


def test_adding_a_deactivated_agent_is_refused(admin_web: Client, support_team: Team) -> None:
    # given
    gone = create_agent("gone@example.com", display_name="Gone Agent")
    gone.is_active = False
    gone.save()

    # when
    response = admin_web.post(f"/settings/teams/{support_team.pk}/members/", {"members": [gone.pk]})

    # then
    assert response.status_code == 400
    assert (
        "Choose agents from the list: one of them cannot join this team."
        in response.content.decode()
    )
    assert not support_team.members.filter(pk=gone.pk).exists()


def test_removing_a_non_member_is_404(
    admin_web: Client, support_team: Team, sales_agent: User
) -> None:
    response = admin_web.post(f"/settings/teams/{support_team.pk}/members/{sales_agent.pk}/remove/")
    assert response.status_code == 404


def test_delete_unused_team(admin_web: Client, legal_team: Team, lawyer: User) -> None:
    # when
    response = admin_web.post(f"/settings/teams/{legal_team.pk}/delete/", follow=True)

    # then the team is gone, its members are still agents
    assert response.redirect_chain == [("/settings/teams/", 302)]
    assert "Team “Legal” deleted." in response.content.decode()
    assert not Team.objects.filter(pk=legal_team.pk).exists()
    assert User.objects.filter(pk=lawyer.pk, is_active=True).exists()


def test_team_with_conversations_is_not_deleted(
    admin_web: Client, api_inbox: NewAPIInbox, inbox_client: APIClient
) -> None:
    # given a conversation of Support (routing put it there), then the inbox moved to no team
    inbox_client.post(f"/api/v1/inboxes/{api_inbox.inbox.pk}/messages", message_body())
    team = Team.objects.get(name="Support")
    Conversation.objects.update(team=team)
    Inbox.objects.filter(pk=api_inbox.inbox.pk).update(team=None)

    # when
    response = admin_web.post(f"/settings/teams/{team.pk}/delete/", follow=True)

    # then
    assert response.redirect_chain == [(f"/settings/teams/{team.pk}/", 302)]
    assert (
        "“Support” cannot be deleted: it owns 1 conversation. Move them to another team first, "
        "or keep the team." in response.content.decode()
    )
    assert Team.objects.filter(pk=team.pk).exists()


def test_team_receiving_an_inbox_is_not_deleted(admin_web: Client, api_inbox: NewAPIInbox) -> None:
    # when
    team = Team.objects.get(name="Support")
    response = admin_web.post(f"/settings/teams/{team.pk}/delete/", follow=True)

    # then
    assert "it owns" not in response.content.decode()
    assert "1 inbox sends its new conversations to it" in response.content.decode()
    assert Team.objects.filter(pk=team.pk).exists()


def test_team_names_are_escaped(admin_web: Client) -> None:
    # given
    team = create_team("<img src=x onerror=alert(1)>")
    agent = create_agent("x@example.com", display_name="<b>Bold</b>")
    team.members.add(agent)

    # when
    pages = [
        admin_web.get("/settings/teams/").content.decode(),
        admin_web.get(f"/settings/teams/{team.pk}/").content.decode(),
    ]

    # then
    for html in pages:
        assert "<img src=x" not in html
        assert "&lt;img src=x onerror=alert(1)&gt;" in html
        assert "<b>Bold</b>" not in html
        assert "&lt;b&gt;Bold&lt;/b&gt;" in html
