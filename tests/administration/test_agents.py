"""Agents and roles: invitation by email, role and teams, deactivation, the last admin stays."""

from __future__ import annotations

import re
import smtplib
import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.core import mail
from django.db import connection
from django.test import Client

from premura.accounts.models import User
from premura.accounts.services import LastAdminError, create_agent, issue_api_token, update_agent
from premura.routing.models import Team
from tests.administration.conftest import settings_snapshot
from tests.helpers import APIClient

pytestmark = pytest.mark.django_db


def _invite(admin_web: Client, **data: Any) -> Any:
    body = {"email": "nina@example.com", "display_name": "Nina Neri", "role": "agent", **data}
    return admin_web.post("/settings/agents/new/", body, follow=True)


def _link(message: mail.EmailMessage) -> str:
    match = re.search(r"http://127\.0\.0\.1:8000(/\S+)", str(message.body))
    assert match is not None, message.body
    return match.group(1)


def test_invited_agent_gets_an_email_and_chooses_a_password(
    admin_web: Client, support_team: Team, legal_team: Team
) -> None:
    # when the admin invites an agent into two teams
    response = _invite(admin_web, email="Nina@Example.com", teams=[support_team.pk, legal_team.pk])

    # then the agent exists, without a usable password, in those teams
    agent = User.objects.get(email="nina@example.com")
    assert response.redirect_chain == [(f"/settings/agents/{agent.pk}/", 302)]
    assert "Nina Neri added: an email to nina@example.com invites them to choose a password." in (
        response.content.decode()
    )
    assert (agent.role, agent.display_name, agent.is_active) == ("agent", "Nina Neri", True)
    assert not agent.has_usable_password()
    assert set(agent.teams.values_list("name", flat=True)) == {"Support", "Legal"}

    # and the email holds a link to choose a password
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["nina@example.com"]
    assert message.subject == "Your Premura account"
    assert "Ada Admin has added you to Premura as Agent." in str(message.body)

    # when the agent follows it and chooses a password
    visitor = Client()
    form = visitor.get(_link(message), follow=True)
    done = visitor.post(
        form.redirect_chain[-1][0],
        {"new_password1": "a long enough pass 42", "new_password2": "a long enough pass 42"},
        follow=True,
    )

    # then they can sign in
    assert "Choose a new password" in form.content.decode()
    assert done.redirect_chain[-1][0] == "/login/reset/done/"
    assert Client().login(username="nina@example.com", password="a long enough pass 42")

    # and the link does not work twice
    again = Client().get(_link(message), follow=True)
    assert "This link does not work any more" in again.content.decode()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"email": ""}, "This field is required."),
        ({"email": "not-an-email"}, "Enter a valid email address."),
        ({"email": "GIULIA@example.com"}, "An agent with this email already exists."),
        ({"display_name": "  "}, "This field is required."),
        ({"role": "owner"}, "Select a valid choice. owner is not one of the available choices."),
        (
            {"teams": ["999999"]},
            "Select a valid choice. 999999 is not one of the available choices.",
        ),
    ],
)
def test_invite_refuses_bad_input(
    admin_web: Client, support_agent: User, data: dict[str, Any], message: str
) -> None:
    # given
    before = settings_snapshot()

    # when
    response = admin_web.post(
        "/settings/agents/new/",
        {"email": "nina@example.com", "display_name": "Nina", "role": "agent", **data},
    )

    # then
    assert response.status_code == 400
    assert message in response.content.decode()
    assert settings_snapshot() == before
    assert mail.outbox == []


def test_mail_server_down_keeps_the_agent_and_says_so(
    admin_web: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a mail server that refuses
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise smtplib.SMTPConnectError(421, "down")

    monkeypatch.setattr("premura.administration.invitations.send_mail", refuse)

    # when
    response = _invite(admin_web)

    # then
    html = response.content.decode()
    assert User.objects.filter(email="nina@example.com").exists()
    assert "The invitation email to nina@example.com could not be sent" in html
    assert "Send the invitation again" in html


def test_invitation_can_be_sent_again(admin_web: Client) -> None:
    # given
    _invite(admin_web)
    agent = User.objects.get(email="nina@example.com")

    # when
    response = admin_web.post(f"/settings/agents/{agent.pk}/invite/", follow=True)

    # then
    assert len(mail.outbox) == 2
    assert "An email to nina@example.com invites Nina Neri to choose a password." in (
        response.content.decode()
    )


def test_change_role_name_and_teams(
    admin_web: Client, support_agent: User, legal_team: Team
) -> None:
    # when
    response = admin_web.post(
        f"/settings/agents/{support_agent.pk}/",
        {"display_name": "Giulia R.", "role": "supervisor", "teams": [legal_team.pk]},
    )

    # then
    support_agent.refresh_from_db()
    assert response.status_code == 302
    assert (support_agent.display_name, support_agent.role) == ("Giulia R.", "supervisor")
    assert list(support_agent.teams.all()) == [legal_team]


def test_promote_to_admin_and_back(admin_web: Client, support_agent: User) -> None:
    # when
    admin_web.post(
        f"/settings/agents/{support_agent.pk}/", {"display_name": "Giulia", "role": "admin"}
    )
    support_agent.refresh_from_db()
    promoted = (support_agent.is_admin, support_agent.is_staff)
    admin_web.post(
        f"/settings/agents/{support_agent.pk}/", {"display_name": "Giulia", "role": "agent"}
    )
    support_agent.refresh_from_db()

    # then
    assert promoted == (True, True)
    assert (support_agent.is_admin, support_agent.is_staff, support_agent.is_superuser) == (
        False,
        False,
        False,
    )


def test_last_admin_cannot_demote_themselves(admin: User, admin_web: Client) -> None:
    # given
    before = settings_snapshot()

    # when
    response = admin_web.post(
        f"/settings/agents/{admin.pk}/", {"display_name": "Ada", "role": "supervisor"}
    )

    # then
    assert response.status_code == 400
    assert "Ada Admin is the last active admin: make another agent an admin first" in (
        response.content.decode()
    )
    assert settings_snapshot() == before


def test_last_admin_cannot_deactivate_themselves(admin: User, admin_web: Client) -> None:
    # given another admin who is deactivated does not count
    other = create_agent("old-admin@example.com", role=User.Role.ADMIN)
    other.is_active = False
    other.save()
    before = settings_snapshot()

    # when
    response = admin_web.post(f"/settings/agents/{admin.pk}/deactivate/", follow=True)

    # then
    assert response.redirect_chain == [(f"/settings/agents/{admin.pk}/", 302)]
    assert "Ada Admin is the last active admin and cannot be deactivated" in (
        response.content.decode()
    )
    assert settings_snapshot() == before


def test_an_admin_can_step_down_when_another_admin_remains(admin: User, admin_web: Client) -> None:
    # given
    create_agent("second@example.com", role=User.Role.ADMIN)

    # when
    response = admin_web.post(
        f"/settings/agents/{admin.pk}/", {"display_name": "Ada", "role": "agent"}
    )

    # then they leave the settings, now closed to them
    admin.refresh_from_db()
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert admin.role == "agent"
    assert admin_web.get("/settings/").status_code == 403


def test_deactivated_agent_cannot_sign_in_or_use_tokens(
    admin_web: Client, support_agent: User
) -> None:
    # given an agent with a password, a session and an API token
    support_agent.set_password("agent password 42")
    support_agent.save()
    session = Client()
    session.force_login(support_agent)
    token = APIClient(issue_api_token(support_agent).plaintext)
    assert token.get("/api/v1/conversations").status_code == 200

    # when
    response = admin_web.post(f"/settings/agents/{support_agent.pk}/deactivate/", follow=True)

    # then nothing is deleted, and every way in is closed
    support_agent.refresh_from_db()
    assert "Giulia Rossi is deactivated: they can no longer sign in." in response.content.decode()
    assert (support_agent.is_active, support_agent.availability) == (False, "offline")
    assert list(support_agent.teams.values_list("name", flat=True)) == ["Support"]
    assert not Client().login(username="giulia@example.com", password="agent password 42")
    assert session.get("/settings/").status_code == 302
    assert token.get("/api/v1/conversations").status_code == 401

    # when reactivated
    admin_web.post(f"/settings/agents/{support_agent.pk}/reactivate/")

    # then
    assert Client().login(username="giulia@example.com", password="agent password 42")


def test_agent_list_shows_role_teams_state_and_availability(
    admin_web: Client, support_agent: User, sales_agent: User
) -> None:
    # given
    sales_agent.is_active = False
    sales_agent.save()
    User.objects.filter(pk=support_agent.pk).update(availability="away")

    # when
    html = admin_web.get("/settings/agents/").content.decode()

    # then
    row = html[html.index("Giulia Rossi") : html.index("</tr>", html.index("Giulia Rossi"))]
    assert "giulia@example.com" in row
    assert '<td data-label="Role">Agent</td>' in row
    assert '<td data-label="Teams">Support</td>' in row
    assert "availability-away" in row
    sales_row = html[html.index("Tom Baker") : html.index("</tr>", html.index("Tom Baker"))]
    assert "deactivated" in sales_row
    assert html.index("Giulia Rossi") < html.index("Tom Baker")  # active agents first


def test_agent_names_are_escaped(admin_web: Client) -> None:
    # given
    agent = create_agent("x@example.com", display_name='"><script>alert(1)</script>')

    # when
    pages = [
        admin_web.get("/settings/agents/").content.decode(),
        admin_web.get(f"/settings/agents/{agent.pk}/").content.decode(),
    ]

    # then
    for html in pages:
        assert "<script>alert(1)</script>" not in html
        assert "&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_invitation_email_does_not_follow_a_forged_host(
    admin: User, signed_in: Callable[[User | None], Client], settings: Any
) -> None:
    # given a request whose Host header an attacker chose
    settings.ALLOWED_HOSTS = ["*"]
    client = signed_in(admin)

    # when
    client.post(
        "/settings/agents/new/",
        {"email": "nina@example.com", "display_name": "Nina", "role": "agent"},
        HTTP_HOST="evil.example",
    )

    # then the link points at Premura's configured address
    assert "evil.example" not in str(mail.outbox[0].body)
    assert "http://127.0.0.1:8000/" in str(mail.outbox[0].body)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_admins_demoting_each_other_at_once_leave_one_admin() -> None:
    # given two admins, each about to demote the other at the same moment
    first = create_agent("first@example.com", role=User.Role.ADMIN)
    second = create_agent("second@example.com", role=User.Role.ADMIN)
    barrier = threading.Barrier(2)
    refused: list[int] = []

    def demote(target_id: int) -> None:
        try:
            target = User.objects.get(pk=target_id)
            barrier.wait(timeout=10)
            update_agent(target, display_name="Demoted", role=User.Role.AGENT)
        except LastAdminError:
            refused.append(target_id)
        finally:
            connection.close()

    # when
    threads = [threading.Thread(target=demote, args=(pk,)) for pk in (first.pk, second.pk)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    # then the row locks made them take turns: one admin remains
    assert len(refused) == 1
    assert User.objects.filter(role=User.Role.ADMIN, is_active=True).count() == 1
