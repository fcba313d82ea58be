"""The command palette: conversations by reference or words, contacts, actions."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from premura.accounts.models import User
from premura.contacts.models import Contact
from premura.inbox.services import mark_read
from premura.routing.models import Team
from premura.search.api import forget_estimates
from tests.inbox.conftest import MakeConversation

pytestmark = pytest.mark.django_db

SignedIn = Callable[[User], Client]
ITEM = re.compile(
    r'<li><a href="([^"]+)"[^>]*><span class="palette-label">(.*?)</span> '
    r'<span class="kind">(\w+)</span></a></li>'
)


def items(response: object) -> list[tuple[str, str, str]]:
    return ITEM.findall(response.content.decode())  # type: ignore[attr-defined]


def test_empty_query_offers_actions_then_recent_conversations(
    make_conversation: MakeConversation, support_agent: User, signed_in: SignedIn
) -> None:
    # given: the agent opened two conversations, the second one last
    first = make_conversation(minutes=1, subject="Reso")
    second = make_conversation(minutes=2, subject="Fattura")
    make_conversation(minutes=3)
    mark_read(support_agent, first)
    mark_read(support_agent, second)

    # when
    found = items(signed_in(support_agent).get("/inbox/palette", {"q": ""}))

    # then: no Settings for an agent
    assert [(url, kind) for url, _label, kind in found] == [
        ("/inbox/?view=mine", "Action"),
        ("/inbox/?view=unassigned", "Action"),
        ("/inbox/?view=teams", "Action"),
        ("/inbox/?view=all", "Action"),
        ("/inbox/?view=mentions", "Action"),
        ("/contacts/", "Action"),
        ("/account/", "Action"),
        ("#shortcuts", "Action"),
        (f"/conversations/{second.pk}/", "Conversation"),
        (f"/conversations/{first.pk}/", "Conversation"),
    ]
    assert found[-1][1] == f'{first.reference} <span class="muted small">Mario Rossi · Reso</span>'


def test_admins_get_settings(admin: User, signed_in: SignedIn) -> None:
    found = items(signed_in(admin).get("/inbox/palette", {"q": "sett"}))
    assert found == [
        ("/settings/", "Settings", "Action"),
        ("/account/", "Account settings", "Action"),
    ]


@pytest.mark.parametrize("typed", ["{ref}", "{ref_lower}", "{pk}"])
def test_conversation_by_reference_or_number(
    make_conversation: MakeConversation, admin: User, signed_in: SignedIn, typed: str
) -> None:
    # given
    conversation = make_conversation(subject="Ordine 77")
    text = typed.format(
        ref=conversation.reference, ref_lower=conversation.reference.lower(), pk=conversation.pk
    )

    # when
    found = items(signed_in(admin).get("/inbox/palette", {"q": text}))

    # then
    assert found[0] == (
        f"/conversations/{conversation.pk}/",
        f'{conversation.reference} <span class="muted small">Mario Rossi · Ordine 77</span>',
        "Conversation",
    )


def test_words_find_conversations_and_contacts(
    make_conversation: MakeConversation, admin: User, signed_in: SignedIn
) -> None:
    # given
    conversation = make_conversation(text="rimborso per la lavatrice", subject="Lavatrice")
    contact = Contact.objects.create(name="Lavatrici Srl", email="info@lavatrici.it")
    Contact.objects.create(name="Lavatrici Vecchia", merged_into=contact)

    # when
    found = items(signed_in(admin).get("/inbox/palette", {"q": "lavatric"}))

    # then
    assert found == [
        (
            f"/conversations/{conversation.pk}/",
            f'{conversation.reference} <span class="muted small">Mario Rossi · Lavatrice</span>',
            "Conversation",
        ),
        (
            f"/contacts/{contact.pk}/",
            'Lavatrici Srl <span class="muted small">info@lavatrici.it</span>',
            "Contact",
        ),
    ]


def test_at_most_ten_results(
    make_conversation: MakeConversation, admin: User, signed_in: SignedIn
) -> None:
    # given
    for n in range(12):
        make_conversation(minutes=n, text="go to the shop")
        Contact.objects.create(name=f"Goffredo {n}")

    # when
    found = items(signed_in(admin).get("/inbox/palette", {"q": "go"}))

    # then: matching actions first, then conversations and contacts
    assert len(found) == 10
    assert [kind for _u, _l, kind in found].count("Action") == 5


def test_restricted_conversation_shows_no_content_and_no_match_by_content(
    make_conversation: MakeConversation,
    legal_team: Team,
    sales_agent: User,
    signed_in: SignedIn,
) -> None:
    # given
    secret = make_conversation(team=legal_team, subject="Causa Bianchi", text="memoria difensiva")
    client = signed_in(sales_agent)

    # when
    by_reference = items(client.get("/inbox/palette", {"q": secret.reference}))
    by_words = items(client.get("/inbox/palette", {"q": "difensiva"}))

    # then
    assert by_reference == [
        (
            f"/conversations/{secret.pk}/",
            f'{secret.reference} <span class="muted small">Mario Rossi</span>',
            "Conversation",
        )
    ]
    assert by_words == []


def test_palette_escapes_and_survives_odd_input(
    make_conversation: MakeConversation, admin: User, signed_in: SignedIn
) -> None:
    # given
    make_conversation(contact_name="<b>Eve</b>", subject="<img src=x onerror=alert(1)>")
    client = signed_in(admin)

    # when
    responses = [
        client.get("/inbox/palette", {"q": q})
        for q in ["Eve", "PRM-", "99999999999999999999", "%", "'; drop table", "x" * 5000]
    ]

    # then
    assert [r.status_code for r in responses] == [200] * 6
    html = responses[0].content.decode()
    assert "&lt;b&gt;Eve&lt;/b&gt;" in html
    assert "<img" not in html
    assert "Nothing found." in responses[-1].content.decode()


def _queries(client: Client, q: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        client.get("/inbox/palette", {"q": q})
    return len(captured.captured_queries)


def test_palette_cost_does_not_grow_with_results(
    make_conversation: MakeConversation, admin: User, signed_in: SignedIn
) -> None:
    # given
    client = signed_in(admin)

    def make(count: int) -> None:
        for _n in range(count):
            conversation = make_conversation(text="ordine")
            Contact.objects.create(name="ordine srl")
            mark_read(admin, conversation)

    # when
    make(2)
    few = [_queries(client, q) for q in ("", "12", "ordine")]
    make(20)
    forget_estimates()  # plan again, as the first time: the same statements are counted
    many = [_queries(client, q) for q in ("", "12", "ordine")]

    # then: session, user, markers, their conversations for the empty palette; the search
    # module's own statements for words
    assert few == many
    assert few[0] == 4
    assert max(few) <= 7
