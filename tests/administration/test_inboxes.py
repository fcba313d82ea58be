"""Inbox settings: an API inbox's token and webhook secret are shown once, then only a hint."""

from __future__ import annotations

import re
import time

import pytest
from django.test import Client
from django.utils import timezone

from premura.channels.models import Inbox
from premura.channels.services import NewAPIInbox, create_api_inbox
from premura.routing.models import Team
from tests.administration.conftest import settings_snapshot
from tests.helpers import APIClient, message_body

pytestmark = pytest.mark.django_db


def _messages_url(inbox: Inbox) -> str:
    return f"/api/v1/inboxes/{inbox.pk}/messages"


def _shown_value(html: str, element_id: str) -> str:
    match = re.search(rf'id="{element_id}"[^>]*value="([^"]+)"', html)
    assert match is not None, f"#{element_id} not on the page"
    return match.group(1)


def test_create_api_inbox_shows_its_token_once_and_the_token_works(
    admin_web: Client, support_team: Team
) -> None:
    # when the admin creates an inbox
    response = admin_web.post(
        "/settings/inboxes/new/",
        {"name": "Portal", "team": support_team.pk, "webhook_url": "https://portal.example/hook"},
        follow=True,
    )

    # then its page shows the token and the webhook secret, this once
    inbox = Inbox.objects.get(name="Portal")
    assert response.redirect_chain == [(f"/settings/inboxes/{inbox.pk}/", 302)]
    first = response.content.decode()
    token = _shown_value(first, "new-token")
    secret = _shown_value(first, "new-secret")
    assert token.startswith("prm_in_")
    assert secret == inbox.webhook_secret
    assert (inbox.kind, inbox.team, inbox.webhook_url) == (
        Inbox.Kind.API,
        support_team,
        "https://portal.example/hook",
    )
    assert "Inbox “Portal” created." in first
    assert response["Cache-Control"] == "max-age=0, no-cache, no-store, must-revalidate, private"

    # and the shown token posts messages into this inbox
    posted = APIClient(token).post(_messages_url(inbox), message_body())
    assert posted.status_code == 201

    # when the page is seen again
    second = admin_web.get(f"/settings/inboxes/{inbox.pk}/").content.decode()

    # then neither secret is on it, only the token's beginning
    assert token not in second
    assert secret not in second
    assert 'id="new-token"' not in second
    assert f"<code>{token[:11]}…</code>" in second


def test_inbox_page_says_how_to_connect(admin_web: Client, api_inbox: NewAPIInbox) -> None:
    # when
    html = admin_web.get(f"/settings/inboxes/{api_inbox.inbox.pk}/").content.decode()

    # then the id, the POST URL and a curl example are there, without the token
    inbox_id = api_inbox.inbox.pk
    assert f'<code id="inbox-id">{inbox_id}</code>' in html
    assert f"POST http://127.0.0.1:8000/api/v1/inboxes/{inbox_id}/messages" in html
    assert (
        f"curl -X POST &#x27;http://127.0.0.1:8000/api/v1/inboxes/{inbox_id}/messages&#x27;" in html
    )
    assert "Authorization: Bearer prm_in_…" in html
    assert api_inbox.token not in html
    assert api_inbox.webhook_secret not in html
    assert 'href="/api/docs"' in html


def test_rotating_the_token_shows_the_new_one_once_and_the_old_one_stops_working(
    admin_web: Client, api_inbox: NewAPIInbox
) -> None:
    # given the old token works
    inbox = api_inbox.inbox
    old = APIClient(api_inbox.token)
    assert old.post(_messages_url(inbox), message_body("m-1")).status_code == 201

    # when the admin rotates it
    response = admin_web.post(f"/settings/inboxes/{inbox.pk}/rotate-token/", follow=True)

    # then the new token is shown once and works; the old one gets 401
    html = response.content.decode()
    new_token = _shown_value(html, "new-token")
    assert 'id="new-secret"' not in html
    assert new_token != api_inbox.token
    assert f"Authorization: Bearer {new_token}" in html  # the curl example is ready to paste
    assert "the previous one no longer works" in html
    assert old.post(_messages_url(inbox), message_body("m-2")).status_code == 401
    assert APIClient(new_token).post(_messages_url(inbox), message_body("m-3")).status_code == 201
    assert new_token not in admin_web.get(f"/settings/inboxes/{inbox.pk}/").content.decode()


def test_rotating_the_webhook_secret_shows_it_once(
    admin_web: Client, api_inbox: NewAPIInbox
) -> None:
    # when
    inbox = api_inbox.inbox
    response = admin_web.post(f"/settings/inboxes/{inbox.pk}/rotate-secret/", follow=True)

    # then
    inbox.refresh_from_db()
    html = response.content.decode()
    assert _shown_value(html, "new-secret") == inbox.webhook_secret
    assert inbox.webhook_secret != api_inbox.webhook_secret
    assert 'id="new-token"' not in html
    assert (
        inbox.webhook_secret not in admin_web.get(f"/settings/inboxes/{inbox.pk}/").content.decode()
    )


def test_secret_shown_once_is_not_shown_on_another_inbox_page(
    admin_web: Client, api_inbox: NewAPIInbox
) -> None:
    # given a new inbox whose secrets wait to be shown
    admin_web.post("/settings/inboxes/new/", {"name": "Portal", "webhook_url": ""})
    portal = Inbox.objects.get(name="Portal")

    # when the admin opens another inbox first, then the new one
    other = admin_web.get(f"/settings/inboxes/{api_inbox.inbox.pk}/").content.decode()
    own = admin_web.get(f"/settings/inboxes/{portal.pk}/").content.decode()

    # then the secrets appear only on their own inbox's page
    assert 'id="new-token"' not in other
    assert 'id="new-token"' in own


def test_edit_name_team_and_webhook_url(
    admin_web: Client, api_inbox: NewAPIInbox, legal_team: Team
) -> None:
    # when
    inbox = api_inbox.inbox
    response = admin_web.post(
        f"/settings/inboxes/{inbox.pk}/",
        {
            "name": "  Web   shop ",
            "team": legal_team.pk,
            "webhook_url": "http://shop.example:8080/premura",
        },
    )

    # then
    inbox.refresh_from_db()
    assert response.status_code == 302
    assert (inbox.name, inbox.team, inbox.webhook_url) == (
        "Web shop",
        legal_team,
        "http://shop.example:8080/premura",
    )
    assert inbox.webhook_secret == api_inbox.webhook_secret


def test_webhook_url_can_be_cleared_and_team_removed(
    admin_web: Client, api_inbox: NewAPIInbox
) -> None:
    # when
    inbox = api_inbox.inbox
    admin_web.post(
        f"/settings/inboxes/{inbox.pk}/", {"name": "Shop", "team": "", "webhook_url": ""}
    )

    # then
    inbox.refresh_from_db()
    assert (inbox.team, inbox.webhook_url) == (None, "")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": ""}, "This field is required."),
        ({"name": "   "}, "This field is required."),
        ({"name": "shop"}, "An inbox with this name already exists."),
        ({"name": "X" * 121}, "Ensure this value has at most 120 characters (it has 121)."),
        (
            {"name": "Portal", "webhook_url": "ftp://files.example/in"},
            "Enter a full http:// or https:// address",
        ),
        (
            {"name": "Portal", "webhook_url": "javascript:alert(1)"},
            "Enter a full http:// or https:// address",
        ),
        (
            {"name": "Portal", "webhook_url": "not a url"},
            "Enter a full http:// or https:// address",
        ),
        ({"name": "Portal", "webhook_url": "https://"}, "Enter a full http:// or https:// address"),
        (
            {"name": "Portal", "webhook_url": "https://user:pass@shop.example/hook"},
            "Remove the user name and password from the address",
        ),
        (
            {"name": "Portal", "webhook_url": "https://token@shop.example/hook"},
            "Remove the user name and password from the address",
        ),
        ({"name": "Portal", "team": "999999"}, "Select a valid choice."),
        (
            {"name": "Portal", "webhook_url": "https://shop.example/" + "a" * 500},
            "at most 500 characters",
        ),
    ],
)
def test_create_refuses_bad_input_and_writes_nothing(
    admin_web: Client, api_inbox: NewAPIInbox, data: dict[str, str], message: str
) -> None:
    # given
    before = settings_snapshot()

    # when
    response = admin_web.post("/settings/inboxes/new/", data)

    # then the form comes back with a clear message
    assert response.status_code == 400
    assert message in response.content.decode()
    assert settings_snapshot() == before


def test_edit_refuses_bad_url_and_duplicate_name(admin_web: Client, api_inbox: NewAPIInbox) -> None:
    # given
    create_api_inbox("Portal")
    before = settings_snapshot()

    # when
    response = admin_web.post(
        f"/settings/inboxes/{api_inbox.inbox.pk}/",
        {"name": "PORTAL", "webhook_url": "gopher://x.example"},
    )

    # then
    html = response.content.decode()
    assert response.status_code == 400
    assert "An inbox with this name already exists." in html
    assert "Enter a full http:// or https:// address" in html
    assert settings_snapshot() == before


def test_inbox_names_are_escaped(admin_web: Client, support_team: Team) -> None:
    # given
    create_api_inbox('<script>alert("x")</script>', team=support_team)

    # when
    listing = admin_web.get("/settings/inboxes/").content.decode()
    inbox = Inbox.objects.get()
    page = admin_web.get(f"/settings/inboxes/{inbox.pk}/").content.decode()

    # then
    for html in (listing, page):
        assert '<script>alert("x")</script>' not in html
        assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html


def test_other_channels_have_no_token_to_rotate(admin_web: Client, support_team: Team) -> None:
    # given an email inbox
    inbox = Inbox.objects.create(name="Assistenza", kind=Inbox.Kind.EMAIL, team=support_team)

    # when
    page = admin_web.get(f"/settings/inboxes/{inbox.pk}/")
    rotate = admin_web.post(f"/settings/inboxes/{inbox.pk}/rotate-token/")
    edit = admin_web.post(
        f"/settings/inboxes/{inbox.pk}/",
        {"name": "Assistenza clienti", "team": "", "webhook_url": "https://ignored.example/"},
    )

    # then its page has its settings, no token; the rotate action does not exist for it
    html = page.content.decode()
    assert page.status_code == 200
    assert "Rotate token" not in html
    assert 'name="webhook_url"' not in html
    assert rotate.status_code == 404
    inbox.refresh_from_db()
    assert (edit.status_code, inbox.name, inbox.team, inbox.webhook_url) == (
        302,
        "Assistenza clienti",
        None,
        "",
    )


def test_inbox_list_shows_name_kind_team_and_date(
    admin_web: Client, api_inbox: NewAPIInbox
) -> None:
    # when
    html = admin_web.get("/settings/inboxes/").content.decode()

    # then
    assert f'<a href="/settings/inboxes/{api_inbox.inbox.pk}/" data-row-link>Shop</a>' in html
    assert '<td data-label="Channel">API</td>' in html
    assert '<td data-label="Team">Support</td>' in html
    created = timezone.localtime(api_inbox.inbox.created_at)
    assert f'<time datetime="{created.isoformat()}">' in html


def test_secrets_never_opened_are_dropped_after_ten_minutes(
    admin_web: Client, api_inbox: NewAPIInbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a rotated token whose page was not opened at once
    inbox = api_inbox.inbox
    admin_web.post(f"/settings/inboxes/{inbox.pk}/rotate-token/")
    later = time.time() + 601
    monkeypatch.setattr("premura.administration.views.inboxes.time.time", lambda: later)

    # when the page is opened eleven minutes later
    html = admin_web.get(f"/settings/inboxes/{inbox.pk}/").content.decode()

    # then the token is not shown any more, and is no longer kept in the session
    assert 'id="new-token"' not in html
    assert "administration.shown_once" not in admin_web.session
