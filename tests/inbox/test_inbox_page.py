"""The inbox page: views, filters, sorts, search, cursor pages, unread markers, counts."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from premura.accounts.models import User
from premura.conversations.models import Conversation, Mention, Message
from premura.inbox.services import mark_read
from premura.routing.models import Team
from tests.inbox.conftest import BASE, MakeConversation

pytestmark = pytest.mark.django_db

SignedIn = Callable[[User], Client]
ROW = re.compile(r'data-row class="[^"]*" data-conversation="(\d+)"')


def listed(response: object) -> list[int]:
    """The conversation ids of a page, in order."""
    return [int(pk) for pk in ROW.findall(response.content.decode())]  # type: ignore[attr-defined]


def test_views_mine_unassigned_my_teams_all(
    make_conversation: MakeConversation,
    support_agent: User,
    sales_agent: User,
    legal_team: Team,
    signed_in: SignedIn,
) -> None:
    # given
    mine = make_conversation(minutes=1, assignee=support_agent)
    theirs = make_conversation(minutes=2, assignee=sales_agent)
    nobody = make_conversation(minutes=3)
    legal = make_conversation(minutes=4, team=legal_team)
    make_conversation(minutes=5, assignee=support_agent, status=Conversation.Status.RESOLVED)
    client = signed_in(support_agent)

    # when
    pages = {v: listed(client.get(f"/inbox/?view={v}")) for v in ("mine", "unassigned", "teams")}
    everything = listed(client.get("/inbox/?view=all"))
    default = client.get("/inbox/")

    # then
    assert pages == {
        "mine": [mine.pk],
        "unassigned": [legal.pk, nobody.pk],
        "teams": [nobody.pk, theirs.pk, mine.pk],
    }
    assert everything == [legal.pk, nobody.pk, theirs.pk, mine.pk]
    assert default.context["state"].view == "teams"
    assert listed(default) == pages["teams"]


def test_mentions_view_marks_unseen_mentions(
    make_conversation: MakeConversation, support_agent: User, admin: User, signed_in: SignedIn
) -> None:
    # given: two notes name the agent; one was seen
    seen = make_conversation(minutes=1, status=Conversation.Status.RESOLVED)
    unseen = make_conversation(minutes=2)
    make_conversation(minutes=3)
    for conversation, seen_at in ((seen, timezone.now()), (unseen, None)):
        note = Message.objects.create(
            conversation=conversation,
            inbox=conversation.inbox,
            sequence=2,
            direction="out",
            kind="note",
            author_user=admin,
            text="@giulia guarda qui",
            created_at=timezone.now(),
        )
        Mention.objects.create(
            message=note,
            conversation=conversation,
            user=support_agent,
            created_at=timezone.now(),
            seen_at=seen_at,
        )
    client = signed_in(support_agent)

    # when
    response = client.get("/inbox/?view=mentions")

    # then: every mention whatever the status, the unseen one marked, counted in the tab
    html = response.content.decode()
    assert listed(response) == [unseen.pk, seen.pk]
    assert html.count('class="badge mention"') == 1
    assert response.context["counts"]["mentions"].value == 1
    assert f'data-conversation="{unseen.pk}"' in html.split('class="badge mention"')[0]


def test_filters_narrow_the_list(
    make_conversation: MakeConversation,
    admin: User,
    support_agent: User,
    support_team: Team,
    signed_in: SignedIn,
) -> None:
    # given
    from premura.channels.models import Inbox

    email = Inbox.objects.create(name="Mail", kind=Inbox.Kind.EMAIL, team=support_team)
    target = make_conversation(
        minutes=1,
        inbox=email,
        assignee=support_agent,
        labels=["refund", "vip"],
        priority=3,
        language="en",
        status=Conversation.Status.PENDING,
    )
    make_conversation(minutes=2, inbox=email, labels=["refund"], priority=3, language="en")
    make_conversation(minutes=3, labels=["refund", "vip"], priority=3, language="en")
    make_conversation(minutes=4, team=None)
    client = signed_in(admin)
    label = target.labels.get(name="vip").pk
    base = "/inbox/?view=all&status=pending"

    # when
    results = {
        name: listed(client.get(f"{base}&{query}"))
        for name, query in {
            "inbox": f"inbox={email.pk}",
            "channel": "channel=email",
            "team": f"team={support_team.pk}",
            "assignee": f"assignee={support_agent.pk}",
            "label": f"label={label}",
            "priority": "priority=3",
            "language": "language=en",
            "all": f"channel=email&label={label}&priority=3&language=en&assignee={support_agent.pk}",
        }.items()
    }
    no_team = listed(client.get("/inbox/?view=all&status=open&team=none"))
    unassigned_any = listed(client.get("/inbox/?view=all&status=all&assignee=none"))

    # then
    assert results == dict.fromkeys(results, [target.pk])
    assert len(no_team) == 1
    assert target.pk not in unassigned_any
    assert len(unassigned_any) == 3


def test_sorts_by_activity_waiting_and_priority(
    make_conversation: MakeConversation, admin: User, signed_in: SignedIn
) -> None:
    # given
    old_urgent = make_conversation(minutes=1, priority=4)
    answered = make_conversation(minutes=2, agent_replied=True)
    middle = make_conversation(minutes=3, priority=1)
    new = make_conversation(minutes=4)
    client = signed_in(admin)

    # when
    activity = listed(client.get("/inbox/?view=all&sort=activity"))
    waiting = listed(client.get("/inbox/?view=all&sort=waiting"))
    priority = listed(client.get("/inbox/?view=all&sort=priority"))

    # then
    assert activity == [new.pk, middle.pk, answered.pk, old_urgent.pk]
    assert waiting == [old_urgent.pk, middle.pk, new.pk]
    assert priority == [old_urgent.pk, middle.pk, new.pk, answered.pk]


@pytest.mark.parametrize("sort", ["activity", "waiting", "priority"])
def test_cursor_pages_neither_repeat_nor_skip_rows_sharing_a_time(
    make_conversation: MakeConversation, admin: User, signed_in: SignedIn, sort: str
) -> None:
    # given: 60 conversations, in groups of 7 sharing the same time and priority
    made = [
        make_conversation(at=BASE.replace(minute=n // 7), priority=(n // 20) % 2) for n in range(60)
    ]
    client = signed_in(admin)

    # when: following "Older" to the end
    seen: list[int] = []
    url = f"/inbox/?view=all&sort={sort}"
    pages = 0
    while url:
        response = client.get(url)
        assert response.status_code == 200
        seen.extend(listed(response))
        older = response.context["older_query"]
        url = f"/inbox/?{older}" if older else ""
        pages += 1

    # then
    assert pages == 3
    assert sorted(seen) == sorted(c.pk for c in made)
    assert len(seen) == len(set(seen))


def test_older_loads_in_place_with_htmx(
    make_conversation: MakeConversation, admin: User, signed_in: SignedIn
) -> None:
    # given
    for minutes in range(30):
        make_conversation(minutes=minutes)
    client = signed_in(admin)
    first = client.get("/inbox/?view=all")

    # when
    more = client.get(f"/inbox/?{first.context['older_query']}", headers={"HX-Request": "true"})

    # then: only the five remaining rows, no page around them, no further "Older"
    html = more.content.decode()
    assert len(listed(more)) == 5
    assert "<html" not in html
    assert "data-older" not in html
    assert 'hx-get="/inbox/?view=all&amp;status=open&amp;sort=activity&amp;cursor=' in (
        first.content.decode()
    )


def test_search_goes_through_the_search_module(
    make_conversation: MakeConversation,
    admin: User,
    signed_in: SignedIn,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given
    hit = make_conversation(minutes=1, text="La fattura è sbagliata", status="resolved")
    make_conversation(minutes=2, text="Il pacco non è arrivato")
    calls: list[str] = []
    from premura.search import api as search_api

    real = search_api.conversations_matching

    def spy(queryset: object, text: str) -> object:
        calls.append(text)
        return real(queryset, text)  # type: ignore[arg-type]

    monkeypatch.setattr("premura.inbox.lists.conversations_matching", spy)
    client = signed_in(admin)

    # when: the top bar's search box submits only q
    response = client.get("/inbox/", {"q": "  fattura  "})

    # then: every view and status is searched; the box shows the words
    assert calls == ["fattura"]
    assert listed(response) == [hit.pk]
    assert (response.context["state"].view, response.context["state"].status) == ("all", "all")
    assert 'id="topsearch-q" type="search" name="q" value="fattura"' in response.content.decode()


def test_search_by_reference_opens_that_conversation_only(
    make_conversation: MakeConversation, admin: User, signed_in: SignedIn
) -> None:
    # given
    wanted = make_conversation(minutes=1)
    make_conversation(minutes=2)

    # when
    response = signed_in(admin).get("/inbox/", {"q": wanted.reference.lower()})

    # then
    assert listed(response) == [wanted.pk]


def test_unread_until_the_agent_opens_it_and_again_after_a_new_message(
    make_conversation: MakeConversation, support_agent: User, signed_in: SignedIn
) -> None:
    # given
    read = make_conversation(minutes=1)
    unread = make_conversation(minutes=2)
    mark_read(support_agent, read)
    client = signed_in(support_agent)

    # when
    before = client.get("/inbox/?view=all")
    Conversation.objects.filter(pk=read.pk).update(last_sequence=2)
    after = client.get("/inbox/?view=all")

    # then
    rows = [(r.conversation.pk, r.unread) for r in before.context["page"].rows]
    assert rows == [(unread.pk, True), (read.pk, False)]
    assert all(r.unread for r in after.context["page"].rows)
    assert before.content.decode().count('class="conv is-unread"') == 1


def test_counts_per_view_and_their_cap(
    make_conversation: MakeConversation,
    support_agent: User,
    signed_in: SignedIn,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given
    make_conversation(minutes=1, assignee=support_agent)
    make_conversation(minutes=2, assignee=support_agent, status=Conversation.Status.PENDING)
    make_conversation(minutes=3)
    make_conversation(minutes=4, team=None)
    client = signed_in(support_agent)

    # when
    counts = client.get("/inbox/").context["counts"]
    monkeypatch.setattr("premura.inbox.selectors.COUNT_CAP", 2)
    capped = client.get("/inbox/")

    # then
    assert {name: c.value for name, c in counts.items()} == {
        "mine": 1,
        "unassigned": 2,
        "all": 3,
        "mentions": 0,
        "teams": 2,
    }
    assert (str(capped.context["counts"]["all"]), capped.context["counts"]["all"].value) == (
        "2+",
        3,
    )
    assert '<span class="count" title="Open conversations">2+</span>' in capped.content.decode()


def test_counts_are_reused_for_the_configured_seconds(
    make_conversation: MakeConversation,
    support_agent: User,
    signed_in: SignedIn,
    settings: Any,
) -> None:
    # given counts kept 10 s, and a fresh cache
    settings.PREMURA_INBOX_COUNT_SECONDS = 10
    cache.clear()
    make_conversation(minutes=1)
    client = signed_in(support_agent)
    first = client.get("/inbox/").context["counts"]["all"].value

    # when a case arrives, and the agent loads the inbox again at once, then after the cache
    make_conversation(minutes=2)
    again = client.get("/inbox/").context["counts"]["all"].value
    cache.delete(f"premura:inbox-counts:{support_agent.pk}")
    later = client.get("/inbox/").context["counts"]["all"].value

    # then the counts came from the cache, then were counted again; the list was always current
    assert (first, again, later) == (1, 1, 2)
    assert len(client.get("/inbox/?view=all").context["page"].rows) == 2


def test_row_links_carry_the_list_state(
    make_conversation: MakeConversation, admin: User, signed_in: SignedIn
) -> None:
    # given
    conversation = make_conversation(labels=["vip"], text="ordine")
    label = conversation.labels.get().pk

    # when
    response = signed_in(admin).get(
        f"/inbox/?view=all&status=open&label={label}&sort=priority&q=ordine"
    )

    # then
    assert (
        f'href="/conversations/{conversation.pk}/?view=all&amp;status=open&amp;label={label}'
        f'&amp;sort=priority&amp;q=ordine"' in response.content.decode()
    )


# --- permissions -------------------------------------------------------------------------------


def test_anonymous_is_sent_to_sign_in() -> None:
    for url in ("/inbox/", "/inbox/palette?q=x"):
        response = Client().get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/login/")


@pytest.mark.parametrize(
    ("who", "content_visible"),
    [
        ("sales_agent", False),
        ("support_agent", False),
        ("lawyer", True),
        ("supervisor", True),
        ("admin", True),
    ],
)
def test_restricted_conversation_is_listed_without_content_for_outsiders(
    make_conversation: MakeConversation,
    legal_team: Team,
    signed_in: SignedIn,
    request: pytest.FixtureRequest,
    who: str,
    content_visible: bool,
) -> None:
    # given
    secret = make_conversation(
        team=legal_team, subject="Causa Bianchi", text="Memoria difensiva", labels=["lawsuit"]
    )
    user: User = request.getfixturevalue(who)

    # when
    response = signed_in(user).get("/inbox/?view=all")

    # then: the entry is there for everyone, the content only for those who may read it
    html = response.content.decode()
    assert listed(response) == [secret.pk]
    assert ("Causa Bianchi" in html) is content_visible
    assert ("Memoria difensiva" in html) is content_visible
    assert ('<span class="badge label">lawsuit</span>' in html) is content_visible
    assert ("Restricted team: content not shown" in html) is not content_visible
    assert "Mario Rossi" in html


def test_outsiders_cannot_find_restricted_conversations_by_their_content(
    make_conversation: MakeConversation,
    legal_team: Team,
    sales_agent: User,
    lawyer: User,
    signed_in: SignedIn,
) -> None:
    # given: a Legal conversation, and one of no team yet with the same words
    secret = make_conversation(team=legal_team, text="Memoria difensiva", labels=["lawsuit"])
    open_to_all = make_conversation(team=None, text="Memoria difensiva", labels=["lawsuit"])
    label = secret.labels.get().pk

    # when
    outsider = signed_in(sales_agent)
    searched = listed(outsider.get("/inbox/?q=difensiva"))
    labelled = listed(outsider.get(f"/inbox/?view=all&label={label}"))
    member = listed(signed_in(lawyer).get("/inbox/?q=difensiva"))

    # then
    assert (searched, labelled) == ([open_to_all.pk], [open_to_all.pk])
    assert member == [open_to_all.pk, secret.pk]


# --- cost --------------------------------------------------------------------------------------


@pytest.mark.parametrize("rows", [3, 30])
def test_inbox_page_queries_do_not_grow_with_rows(
    make_conversation: MakeConversation,
    support_agent: User,
    legal_team: Team,
    signed_in: SignedIn,
    django_assert_num_queries: object,
    rows: int,
) -> None:
    # given: labels, assignees, restricted rows, read markers on the page
    for n in range(rows):
        conversation = make_conversation(
            minutes=n,
            labels=["a", "b"] if n % 2 else [],
            assignee=support_agent if n % 3 else None,
            team=legal_team if n % 5 == 0 else "inbox",
        )
        if n % 4 == 0:
            mark_read(support_agent, conversation)
    client = signed_in(support_agent)

    # when / then: session, user, teams, page, labels, filter options, counts
    with django_assert_num_queries(7):  # type: ignore[operator]
        response = client.get("/inbox/?view=all")
    assert len(listed(response)) == min(rows, 25)


def test_next_page_by_cursor_costs_the_same(
    make_conversation: MakeConversation,
    admin: User,
    signed_in: SignedIn,
    django_assert_num_queries: object,
) -> None:
    # given
    for n in range(60):
        make_conversation(minutes=n)
    client = signed_in(admin)
    older = client.get("/inbox/?view=all").context["older_query"]

    # when / then: htmx asks only for the rows (session, user, page, labels)
    with django_assert_num_queries(4):  # type: ignore[operator]
        response = client.get(f"/inbox/?{older}", headers={"HX-Request": "true"})
    assert len(listed(response)) == 25


# --- hostile and bad input ---------------------------------------------------------------------


def test_customer_and_agent_text_is_escaped(
    make_conversation: MakeConversation,
    admin: User,
    signed_in: SignedIn,
) -> None:
    # given
    evil = "<script>alert(1)</script>"
    make_conversation(
        contact_name=f"Eve {evil}", subject=f"Subj {evil}", text=f"Body {evil}", labels=[evil]
    )
    User.objects.filter(pk=admin.pk).update(display_name=f"Ada {evil}")

    # when
    html = signed_in(admin).get("/inbox/?view=all").content.decode()
    palette = signed_in(admin).get("/inbox/palette", {"q": "Body"}).content.decode()

    # then
    assert "<script>alert(1)" not in html
    assert "<script>alert(1)" not in palette
    assert "Eve &lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "Subj &lt;script&gt;" in html
    assert "Body &lt;script&gt;" in html
    assert "Ada &lt;script&gt;" in html


@pytest.mark.parametrize(
    "query",
    [
        "view=everything",
        "status=lost",
        "sort=random",
        "team=abc",
        "team=-1",
        "assignee=1e9",
        "label=0",
        "priority=9",
        "inbox=99999999999999999999",
        "channel=fax",
        "language=%3Cscript%3E",
        "cursor=bogus",
        "cursor=WyJhY3Rpdml0eSIsICIyMDI1LTAxLTAxVDAwOjAwOjAwIiwgMV0",
        "cursor=WyJwcmlvcml0eSIsIDEsICIyMDI1LTAxLTAxVDAwOjAwOjAwKzAwOjAwIiwgMV0",
        "cursor=WyJhY3Rpdml0eSIsICIyMDI1LTAxLTAxVDAwOjAwOjAwKzAwOjAwIiwgOTk5OTk5OTk5OTk5OTk5OTk5OTk5XQ",
    ],
)
def test_values_that_are_not_valid_are_a_clear_400(
    admin: User, signed_in: SignedIn, query: str
) -> None:
    # when
    response = signed_in(admin).get(f"/inbox/?{query}")

    # then
    assert response.status_code == 400
    assert "This list cannot be shown" in response.content.decode()
    assert "<script>" not in response.content.decode().split("<main")[1]


def test_unknown_parameters_are_ignored(admin: User, signed_in: SignedIn) -> None:
    response = signed_in(admin).get("/inbox/?utm_source=mail&view=all")
    assert response.status_code == 200


def test_inbox_answers_get_only(admin: User, signed_in: SignedIn) -> None:
    assert signed_in(admin).post("/inbox/").status_code == 405


def test_inbox_speaks_italian(make_conversation: MakeConversation, admin: User) -> None:
    # given
    make_conversation()
    client = Client(headers={"Accept-Language": "it"})
    client.force_login(admin)

    # when
    html = client.get("/inbox/?view=all").content.decode()
    palette = client.get("/inbox/palette", {"q": "vai"}).content.decode()

    # then
    assert "Non assegnate" in html
    assert "Seleziona tutte" in html
    assert "Qualsiasi stato" in html
    assert "Vai a Menzioni" in palette
    assert '<span class="kind">Azione</span>' in palette


def test_my_teams_tab_only_for_members_of_a_team(
    make_conversation: MakeConversation,
    support_agent: User,
    supervisor: User,
    signed_in: SignedIn,
) -> None:
    # given: the agent's team has no open conversation; the supervisor is in no team
    make_conversation(status=Conversation.Status.RESOLVED)

    # when
    agent_tabs = [t[0] for t in signed_in(support_agent).get("/inbox/").context["tabs"]]
    supervisor_tabs = [t[0] for t in signed_in(supervisor).get("/inbox/").context["tabs"]]

    # then
    assert agent_tabs == ["mine", "unassigned", "teams", "all", "mentions"]
    assert supervisor_tabs == ["mine", "unassigned", "all", "mentions"]
