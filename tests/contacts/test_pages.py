"""Contact pages: the customer panel, the contact page, editing, lists and organization pages."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client

from premura.accounts.models import User
from premura.channels.api_channel import contact_key
from premura.channels.models import Inbox
from premura.channels.services import NewAPIInbox
from premura.contacts.models import Contact, Identity, Organization
from premura.contacts.services import IdentityKey
from premura.conversations.ingest import ContactInfo, InboundMessage, IngestResult, ingest
from premura.conversations.models import Conversation, Message
from premura.conversations.services import add_note, assign, set_team
from premura.routing.models import Team

pytestmark = pytest.mark.django_db

SECRET = "Il contratto segreto numero 42"
XSS = '<script>alert("x")</script>'


# --- building customers through the real ingest pipeline ------------------------------------


def email_inbox(team: Team | None = None) -> Inbox:
    return Inbox.objects.create(name="Assistenza email", kind=Inbox.Kind.EMAIL, team=team)


def from_api(
    api: NewAPIInbox,
    message_id: str,
    *,
    identifier: str = "cust-1",
    email: str = "mario@example.it",
    name: str = "Mario Rossi",
    text: str = "Il mio ordine non è arrivato.",
    thread: str = "",
) -> IngestResult:
    """A customer message through the API channel's inbox."""
    return ingest(
        api.inbox,
        InboundMessage(
            provider_message_id=message_id,
            contact=ContactInfo(
                identity=contact_key(api.inbox.pk, identifier), name=name, email=email
            ),
            text=text,
            thread_key=thread,
        ),
    )


def from_email(
    inbox: Inbox,
    message_id: str,
    *,
    email: str = "mario@example.it",
    name: str = "Mario Rossi",
    subject: str = "Fattura",
    text: str = "Non trovo la fattura di marzo.",
) -> IngestResult:
    """A customer email (the email channel's identity is the address itself)."""
    return ingest(
        inbox,
        InboundMessage(
            provider_message_id=message_id,
            contact=ContactInfo(
                identity=IdentityKey(Identity.Kind.EMAIL, email), name=name, email=email
            ),
            subject=subject,
            text=text,
        ),
    )


def browser_for(user: User | None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def html(response: Any) -> str:
    return str(response.content.decode())


def entry_ids(page: str) -> list[int]:
    """The conversations listed in a timeline, in order."""
    return [int(n) for n in re.findall(r'id="entry-(\d+)"', page)]


@pytest.fixture
def two_channel_customer(
    api_inbox: NewAPIInbox, support_team: Team, legal_team: Team
) -> dict[str, Any]:
    """Mario: a Support case through the API, and a restricted Legal case by email."""
    api_case = from_api(api_inbox, "m-1").conversation
    set_team(api_case, None, team=support_team)
    mail = email_inbox()
    legal_case = from_email(mail, "<a1@mail>", subject=SECRET, text=SECRET).conversation
    set_team(legal_case, None, team=legal_team)
    return {"contact": api_case.contact, "api": api_case, "legal": legal_case, "mail": mail}


# --- the customer panel ------------------------------------------------------------------------


def test_panel_shows_every_conversation_of_the_customer_on_every_channel(
    two_channel_customer: dict[str, Any], lawyer: User
) -> None:
    # given
    contact = two_channel_customer["contact"]
    api_case, legal_case = two_channel_customer["api"], two_channel_customer["legal"]

    # when
    response = browser_for(lawyer).get(
        f"/contacts/{contact.pk}/panel?conversation={api_case.pk}", headers={"HX-Request": "true"}
    )

    # then
    page = html(response)
    assert response.status_code == 200
    assert "<html" not in page
    assert legal_case.contact_id == api_case.contact_id
    assert entry_ids(page) == [legal_case.pk, api_case.pk]
    assert "Mario Rossi" in page
    assert "mario@example.it" in page
    assert "cust-1" in page
    assert "inbox Shop" in page
    assert "Email · Assistenza email" in page
    assert "API · Shop" in page
    assert SECRET in page
    assert re.search(rf'class="entry is-this" id="entry-{api_case.pk}"', page)
    assert "This conversation" in page


def test_panel_shows_restricted_conversations_without_content_to_outsiders(
    two_channel_customer: dict[str, Any], support_agent: User
) -> None:
    # given
    contact = two_channel_customer["contact"]
    legal_case = two_channel_customer["legal"]

    # when
    response = browser_for(support_agent).get(
        f"/contacts/{contact.pk}/panel", headers={"HX-Request": "true"}
    )

    # then
    page = html(response)
    assert response.status_code == 200
    assert entry_ids(page) == [legal_case.pk, two_channel_customer["api"].pk]
    assert SECRET not in page
    assert legal_case.reference in page
    assert "Restricted to the Legal team: content not shown." in page
    assert f"/contacts/conversations/{legal_case.pk}/preview" not in page
    assert f"/contacts/conversations/{two_channel_customer['api'].pk}/preview" in page


def test_panel_on_its_own_is_a_full_page_and_rejects_a_bad_conversation_number(
    two_channel_customer: dict[str, Any], support_agent: User
) -> None:
    # given
    contact = two_channel_customer["contact"]
    client = browser_for(support_agent)

    # when
    page = client.get(f"/contacts/{contact.pk}/panel")
    bad = client.get(f"/contacts/{contact.pk}/panel?conversation=abc")

    # then
    assert page.status_code == 200
    assert "<html" in html(page)
    assert 'class="contact-panel"' in html(page)
    assert bad.status_code == 400
    assert "This is not a conversation number." in html(bad)


def test_opening_an_entry_in_place_shows_its_latest_messages(
    two_channel_customer: dict[str, Any], support_agent: User, sales_agent: User, lawyer: User
) -> None:
    # given
    api_case, legal_case = two_channel_customer["api"], two_channel_customer["legal"]
    add_note(api_case, support_agent, "Cliente VIP <b>attenzione</b>")

    # when
    own = browser_for(support_agent).get(f"/contacts/conversations/{api_case.pk}/preview")
    outsider_restricted = browser_for(sales_agent).get(
        f"/contacts/conversations/{legal_case.pk}/preview"
    )
    member_restricted = browser_for(lawyer).get(f"/contacts/conversations/{legal_case.pk}/preview")
    missing = browser_for(support_agent).get("/contacts/conversations/999999/preview")

    # then
    assert own.status_code == 200
    assert "Il mio ordine non è arrivato." in html(own)
    assert "Cliente VIP &lt;b&gt;attenzione&lt;/b&gt;" in html(own)
    assert "Private note" in html(own)
    assert f'href="/conversations/{api_case.pk}/"' in html(own)
    assert outsider_restricted.status_code == 403
    assert SECRET not in html(outsider_restricted)
    assert member_restricted.status_code == 200
    assert SECRET in html(member_restricted)
    assert missing.status_code == 404


# --- the contact page ---------------------------------------------------------------------------


def many_conversations(api: NewAPIInbox, count: int, team: Team, agent: User) -> Contact:
    """One customer with `count` conversations, each with a team and an assignee."""
    first = None
    for n in range(count):
        case = from_api(api, f"m-{n}", thread=f"t-{n}", text=f"Richiesta {n}").conversation
        set_team(case, None, team=team)
        assign(case, None, assignee=agent)
        first = first or case
    assert first is not None
    return first.contact


@pytest.mark.parametrize("count", [3, 30])
def test_contact_page_costs_the_same_queries_for_3_and_30_conversations(
    count: int,
    api_inbox: NewAPIInbox,
    support_team: Team,
    legal_team: Team,
    support_agent: User,
    django_assert_num_queries: Any,
) -> None:
    # given
    contact = many_conversations(api_inbox, count, support_team, support_agent)
    Conversation.objects.filter(pk=Conversation.objects.order_by("id")[0].pk).update(
        team=legal_team
    )
    client = browser_for(support_agent)

    # when
    with django_assert_num_queries(10):
        response = client.get(f"/contacts/{contact.pk}/")

    # then
    assert response.status_code == 200
    assert len(entry_ids(html(response))) == min(count, 25)


@pytest.mark.parametrize("count", [3, 30])
def test_panel_costs_the_same_queries_for_3_and_30_conversations(
    count: int,
    api_inbox: NewAPIInbox,
    support_team: Team,
    support_agent: User,
    django_assert_num_queries: Any,
) -> None:
    # given
    contact = many_conversations(api_inbox, count, support_team, support_agent)
    client = browser_for(support_agent)

    # when
    with django_assert_num_queries(8):
        response = client.get(f"/contacts/{contact.pk}/panel", headers={"HX-Request": "true"})

    # then
    assert response.status_code == 200
    assert len(entry_ids(html(response))) == min(count, 25)


def test_contact_timeline_pages_by_cursor_newest_first(
    api_inbox: NewAPIInbox, support_team: Team, support_agent: User
) -> None:
    # given
    contact = many_conversations(api_inbox, 30, support_team, support_agent)
    expected = list(
        Conversation.objects.filter(contact=contact)
        .order_by("-last_activity_at", "-id")
        .values_list("id", flat=True)
    )
    client = browser_for(support_agent)

    # when
    first = html(client.get(f"/contacts/{contact.pk}/"))
    cursor = re.search(r"timeline\?cursor=([^&\"]+)", first)
    assert cursor is not None
    older = client.get(f"/contacts/{contact.pk}/timeline?cursor={cursor.group(1)}")
    tampered = client.get(f"/contacts/{contact.pk}/timeline?cursor=nonsense")

    # then
    assert entry_ids(first) == expected[:25]
    assert "Older conversations" in first
    assert entry_ids(html(older)) == expected[25:]
    assert "Older conversations" not in html(older)
    assert tampered.status_code == 400
    assert "This link is not valid any more" in html(tampered)


def test_a_merged_contact_page_leads_to_the_contact_it_was_merged_into(
    api_inbox: NewAPIInbox, support_agent: User
) -> None:
    # given
    kept = from_api(api_inbox, "m-1", identifier="a").contact
    gone = from_api(api_inbox, "m-2", identifier="b", email="b@example.it").contact
    Contact.objects.filter(pk=gone.pk).update(merged_into=kept)

    # when
    response = browser_for(support_agent).get(f"/contacts/{gone.pk}/", follow=True)

    # then
    assert response.redirect_chain == [(f"/contacts/{kept.pk}/", 302)]
    assert "was merged into Mario Rossi." in html(response)


# --- editing -------------------------------------------------------------------------------------


def edit(client: Client, contact: Contact, **fields: Any) -> Any:
    data: dict[str, Any] = {
        "name": contact.name,
        "email": contact.email,
        "phone": contact.phone,
        "organization": contact.organization.name if contact.organization else "",
        "language": contact.language,
        "notes": contact.notes,
        "attr_key": list(contact.attributes),
        "attr_value": [str(v) for v in contact.attributes.values()],
    }
    data.update(fields)
    return client.post(f"/contacts/{contact.pk}/edit", data)


def test_an_agent_edits_a_contact_and_email_and_phone_become_identities(
    api_inbox: NewAPIInbox, sales_agent: User
) -> None:
    # given
    contact = from_api(api_inbox, "m-1").contact
    acme = Organization.objects.create(name="ACME S.p.A.", domain="acme.it")

    client = browser_for(sales_agent)

    # when
    response = edit(
        client,
        contact,
        name="Mario Bianchi",
        email=" Mario.Bianchi@Example.IT ",
        phone="06 1234 5678",
        organization="acme s.p.a.",
        language="it",
        notes="Preferisce essere chiamato al mattino.",
        attr_key=["piano", "cliente dal", ""],
        attr_value=["Premium", "2019", ""],
    )

    # then
    assert response.status_code == 302
    assert response["Location"] == f"/contacts/{contact.pk}/"
    contact.refresh_from_db()
    assert contact.name == "Mario Bianchi"
    assert contact.email == "mario.bianchi@example.it"
    assert contact.phone == "+390612345678"
    assert contact.organization_id == acme.pk
    assert contact.language == "it"
    assert contact.notes == "Preferisce essere chiamato al mattino."
    assert contact.attributes == {"piano": "Premium", "cliente dal": "2019"}
    assert sorted(contact.identities.values_list("kind", "external_id")) == [
        ("api", "cust-1"),
        ("email", "mario.bianchi@example.it"),
        ("email", "mario@example.it"),
        ("phone", "+390612345678"),
    ]
    page = html(client.get(f"/contacts/{contact.pk}/"))
    assert "Contact saved." in page
    assert "ACME S.p.A." in page


def test_attributes_keep_their_type_when_unchanged_and_an_emptied_row_removes_one(
    api_inbox: NewAPIInbox, support_agent: User
) -> None:
    # given
    contact = from_api(api_inbox, "m-1").contact
    Contact.objects.filter(pk=contact.pk).update(
        attributes={"ordini": 12, "vip": True, "tags": ["a", "b"], "vecchio": "x"}
    )
    contact.refresh_from_db()

    # when
    response = edit(
        browser_for(support_agent),
        contact,
        attr_key=["ordini", "vip", "tags", ""],
        attr_value=["12", "false", '["a", "b"]', ""],
    )
    assert response.status_code == 302
    contact.refresh_from_db()
    assert contact.attributes == {"ordini": 12, "vip": "false", "tags": ["a", "b"]}


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"phone": "123"}, "“123” is not a valid phone number"),
        ({"phone": "chiamami"}, "“chiamami” is not a valid phone number"),
        ({"email": "mario@"}, "Enter a valid email address."),
        ({"organization": "Nessuna Srl"}, "There is no organization called “Nessuna Srl”."),
        ({"language": "klingon"}, "Select a valid choice."),
        ({"name": "x" * 201}, "Ensure this value has at most 200 characters"),
        ({"attr_key": ["a", "a"], "attr_value": ["1", "2"]}, "The attribute “a” appears twice."),
        ({"attr_key": ["", "b"], "attr_value": ["1", "2"]}, "Every attribute needs a name."),
    ],
)
def test_invalid_edits_are_refused_with_a_clear_message_and_nothing_written(
    fields: dict[str, Any], message: str, api_inbox: NewAPIInbox, support_agent: User
) -> None:
    # given
    contact = from_api(api_inbox, "m-1").contact
    before = Contact.objects.filter(pk=contact.pk).values().get()
    identities = Identity.objects.count()

    # when
    response = edit(browser_for(support_agent), contact, **{"name": "Changed", **fields})

    # then
    assert response.status_code == 400
    assert message in html(response)
    assert Contact.objects.filter(pk=contact.pk).values().get() == before
    assert Identity.objects.count() == identities
    assert '<details class="edit" data-key="e" open>' in html(response)


def test_customer_and_agent_text_is_escaped_everywhere(
    api_inbox: NewAPIInbox, support_agent: User
) -> None:
    # given
    contact = from_api(api_inbox, "m-1", name=XSS, text=XSS).contact
    edit(
        browser_for(support_agent),
        contact,
        name=XSS,
        notes=XSS,
        attr_key=[XSS],
        attr_value=[XSS],
    )
    org = Organization.objects.create(name=XSS)
    Contact.objects.filter(pk=contact.pk).update(organization=org)
    client = browser_for(support_agent)

    # when
    pages = [
        client.get(f"/contacts/{contact.pk}/"),
        client.get(f"/contacts/{contact.pk}/panel", headers={"HX-Request": "true"}),
        client.get("/contacts/"),
        client.get("/organizations/"),
        client.get(f"/organizations/{org.pk}/"),
        client.get(f"/contacts/{contact.pk}/merge/search?q=Mario"),
        client.get("/organizations/options?organization=%3Cscript"),
        client.get(
            f"/contacts/conversations/{Conversation.objects.get(contact=contact).pk}/preview"
        ),
    ]

    # then
    for response in pages:
        assert response.status_code == 200
        assert "<script>alert" not in html(response)
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html(pages[0])
    assert html(pages[0]).count("&lt;script&gt;alert") >= 4  # name, notes, attribute name and value


def test_anyone_signed_in_may_edit_but_not_a_merged_contact(
    api_inbox: NewAPIInbox, support_agent: User
) -> None:
    # given
    kept = from_api(api_inbox, "m-1", identifier="a").contact
    gone = from_api(api_inbox, "m-2", identifier="b", email="b@example.it").contact
    Contact.objects.filter(pk=gone.pk).update(merged_into=kept)
    gone.refresh_from_db()

    # when
    response = edit(browser_for(support_agent), gone, name="Nuovo nome")

    # then
    assert response.status_code == 302
    assert response["Location"] == f"/contacts/{kept.pk}/"
    gone.refresh_from_db()
    assert gone.name == "Mario Rossi"


# --- lists ---------------------------------------------------------------------------------------


def test_contacts_list_searches_pages_by_cursor_and_counts_conversations(
    api_inbox: NewAPIInbox, support_agent: User
) -> None:
    # given
    for n in range(30):
        name = "Zoe Verdi" if n == 7 else f"Cliente {n:02d}"
        from_api(api_inbox, f"m-{n}", identifier=f"c-{n}", name=name, email="")
    from_api(api_inbox, "again", identifier="c-29", name="Cliente 29", email="", thread="x")
    gone = Contact.objects.get(name="Cliente 00")
    Contact.objects.filter(pk=gone.pk).update(merged_into=Contact.objects.get(name="Cliente 01"))
    client = browser_for(support_agent)

    # when
    first = html(client.get("/contacts/"))
    cursor = re.search(r"cursor=([^\"&]+)\" rel=\"next\"", first)
    assert cursor is not None
    second = html(client.get(f"/contacts/?cursor={cursor.group(1)}"))
    found = html(client.get("/contacts/?q=Zoe+Verdi"))
    bad = client.get("/contacts/?cursor=%%%")

    # then
    names = re.findall(r"data-row-link>([^<]+)<", first)
    assert names == [f"Cliente {n:02d}" if n != 7 else "Zoe Verdi" for n in range(29, 4, -1)]
    assert re.findall(r"data-row-link>([^<]+)<", second) == [
        f"Cliente {n:02d}" for n in range(4, 0, -1)
    ]
    assert re.findall(r"data-row-link>([^<]+)<", found) == ["Zoe Verdi"]
    row = first[first.index("Cliente 29") : first.index("Cliente 28")]
    assert '<td data-label="Conversations" class="num">2</td>' in row
    assert bad.status_code == 400


@pytest.mark.parametrize("count", [3, 30])
def test_contacts_list_costs_the_same_queries_for_3_and_30_rows(
    count: int, api_inbox: NewAPIInbox, support_agent: User, django_assert_num_queries: Any
) -> None:
    # given
    org = Organization.objects.create(name="ACME")
    for n in range(count):
        from_api(api_inbox, f"m-{n}", identifier=f"c-{n}", email=f"c{n}@example.it")
    Contact.objects.update(organization=org)
    client = browser_for(support_agent)

    # when
    with django_assert_num_queries(4):
        response = client.get("/contacts/")

    # then
    assert response.status_code == 200
    assert html(response).count("data-row>") == min(count, 25)


def test_organizations_list_and_page_show_contacts_and_conversations(
    api_inbox: NewAPIInbox, support_agent: User, legal_team: Team, sales_agent: User
) -> None:
    # given
    acme = Organization.objects.create(name="ACME", domain="acme.it")
    Organization.objects.create(name="Beta Srl")
    anna = from_api(api_inbox, "m-1", identifier="anna", name="Anna", email="anna@acme.it")
    luca = from_api(api_inbox, "m-2", identifier="luca", name="Luca", email="luca@acme.it")
    set_team(luca.conversation, None, team=legal_team)
    Message.objects.filter(conversation=luca.conversation).update(text=SECRET)
    Contact.objects.filter(pk__in=[anna.contact.pk, luca.contact.pk]).update(organization=acme)
    client = browser_for(sales_agent)

    # when
    listing = html(client.get("/organizations/"))
    searched = html(client.get("/organizations/?q=acme.it"))
    page = html(client.get(f"/organizations/{acme.pk}/"))
    options = html(client.get("/organizations/options?organization=ac"))
    missing = client.get("/organizations/999999/")

    # then
    assert re.findall(r"data-row-link>([^<]+)<", listing) == ["ACME", "Beta Srl"]
    assert '<td data-label="Contacts" class="num">2</td>' in listing
    assert re.findall(r"data-row-link>([^<]+)<", searched) == ["ACME"]
    assert "Anna" in page
    assert "Luca" in page
    assert entry_ids(page) == [luca.conversation.pk, anna.conversation.pk]
    assert SECRET not in page
    assert "Restricted to the Legal team" in page
    assert options.strip() == '<option value="ACME">acme.it</option>'
    assert missing.status_code == 404


def test_organization_lists_page_by_cursor(api_inbox: NewAPIInbox, support_agent: User) -> None:
    # given
    acme = Organization.objects.create(name="ACME")
    for n in range(27):
        Organization.objects.create(name=f"Org {n:02d}")
        from_api(api_inbox, f"m-{n}", identifier=f"c-{n}", name=f"C {n:02d}", email="")
    Contact.objects.update(organization=acme)
    client = browser_for(support_agent)

    # when
    orgs = html(client.get("/organizations/"))
    cursor = re.search(r"cursor=([^\"&]+)\" rel=\"next\"", orgs)
    assert cursor is not None
    orgs_next = html(client.get(f"/organizations/?cursor={cursor.group(1)}"))
    page = html(client.get(f"/organizations/{acme.pk}/"))
    contacts_cursor = re.search(r"organizations/\d+/contacts\?cursor=([^\"&]+)", page)
    conversations_cursor = re.search(r"organizations/\d+/conversations\?cursor=([^\"&]+)", page)
    assert contacts_cursor is not None
    assert conversations_cursor is not None
    more_contacts = html(
        client.get(f"/organizations/{acme.pk}/contacts?cursor={contacts_cursor.group(1)}")
    )
    more_conversations = html(
        client.get(f"/organizations/{acme.pk}/conversations?cursor={conversations_cursor.group(1)}")
    )

    # then
    assert len(re.findall(r"data-row-link>", orgs)) == 25
    assert re.findall(r"data-row-link>([^<]+)<", orgs_next) == ["Org 24", "Org 25", "Org 26"]
    contact_row = r'<td data-label="Name"><a href="/contacts/\d+/">(C \d+)<'
    assert len(re.findall(contact_row, page)) == 25
    assert re.findall(contact_row, more_contacts) == ["C 01", "C 00"]
    assert len(entry_ids(page)) == 25
    assert len(entry_ids(more_conversations)) == 2
    assert "Customer" in more_conversations


# --- permissions -----------------------------------------------------------------------------


@pytest.fixture
def matrix(two_channel_customer: dict[str, Any]) -> dict[str, Any]:
    org = Organization.objects.create(name="ACME")
    Contact.objects.filter(pk=two_channel_customer["contact"].pk).update(organization=org)
    return {**two_channel_customer, "org": org}


PAGES = [
    "/contacts/",
    "/contacts/?q=Mario",
    "/contacts/{contact}/",
    "/contacts/{contact}/panel?conversation={api}",
    "/contacts/{contact}/timeline",
    "/contacts/{contact}/merge/search?q=Mario",
    "/contacts/conversations/{api}/preview",
    "/contacts/attribute-row",
    "/organizations/",
    "/organizations/{org}/",
    "/organizations/{org}/conversations",
    "/organizations/{org}/contacts",
    "/organizations/options?organization=A",
]


@pytest.mark.parametrize("url", PAGES)
@pytest.mark.parametrize("who", ["support_agent", "sales_agent", "lawyer", "supervisor", "admin"])
def test_every_signed_in_agent_reads_every_contact_page(
    url: str, who: str, matrix: dict[str, Any], request: pytest.FixtureRequest
) -> None:
    # given
    user = request.getfixturevalue(who)
    path = url.format(contact=matrix["contact"].pk, api=matrix["api"].pk, org=matrix["org"].pk)

    # when
    response = browser_for(user).get(path)

    # then
    assert response.status_code == 200


@pytest.mark.parametrize(
    "url",
    [
        *PAGES,
        "/contacts/{contact}/merge?other={contact}",
        "/contacts/conversations/{legal}/preview",
    ],
)
def test_anonymous_visitors_are_sent_to_sign_in(url: str, matrix: dict[str, Any]) -> None:
    # given
    path = url.format(
        contact=matrix["contact"].pk,
        api=matrix["api"].pk,
        legal=matrix["legal"].pk,
        org=matrix["org"].pk,
    )

    # when
    response = Client().get(path)

    # then
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=")


@pytest.mark.parametrize(
    ("who", "status", "content"),
    [
        ("support_agent", 403, False),
        ("sales_agent", 403, False),
        ("lawyer", 200, True),
        ("supervisor", 200, True),
        ("admin", 200, True),
    ],
)
def test_restricted_content_only_for_its_team_supervisors_and_admins(
    who: str, status: int, content: bool, matrix: dict[str, Any], request: pytest.FixtureRequest
) -> None:
    # given
    client = browser_for(request.getfixturevalue(who))
    contact = matrix["contact"]

    # when
    preview = client.get(f"/contacts/conversations/{matrix['legal'].pk}/preview")
    page = client.get(f"/contacts/{contact.pk}/")
    panel = client.get(f"/contacts/{contact.pk}/panel", headers={"HX-Request": "true"})

    # then
    assert preview.status_code == status
    assert (SECRET in html(preview)) is content
    assert (SECRET in html(page)) is content
    assert (SECRET in html(panel)) is content
    assert matrix["legal"].reference in html(page)


@pytest.mark.parametrize(
    "who", ["anonymous", "sales_agent", "support_agent", "supervisor", "admin"]
)
def test_who_may_edit_a_contact(
    who: str, matrix: dict[str, Any], request: pytest.FixtureRequest
) -> None:
    # given
    user = None if who == "anonymous" else request.getfixturevalue(who)
    contact = matrix["contact"]

    # when
    response = edit(browser_for(user), contact, name="Mario Verdi")

    # then
    contact.refresh_from_db()
    if user is None:
        assert response["Location"].startswith("/login/")
        assert contact.name == "Mario Rossi"
    else:
        assert response["Location"] == f"/contacts/{contact.pk}/"
        assert contact.name == "Mario Verdi"


def test_pages_refuse_the_wrong_method_and_unknown_ids(
    matrix: dict[str, Any], support_agent: User
) -> None:
    # given
    client = browser_for(support_agent)
    contact = matrix["contact"]

    # when
    get_edit = client.get(f"/contacts/{contact.pk}/edit")
    post_page = client.post(f"/contacts/{contact.pk}/")
    unknown_contact = client.get("/contacts/999999/")
    unknown_panel = client.get("/contacts/999999/panel")

    # then
    assert get_edit.status_code == 405
    assert post_page.status_code == 405
    assert unknown_contact.status_code == 404
    assert unknown_panel.status_code == 404


def test_contact_page_speaks_italian(matrix: dict[str, Any], support_agent: User) -> None:
    # given
    client = browser_for(support_agent)
    client.cookies["django_language"] = "it"
    contact = matrix["contact"]

    # when
    page = html(client.get(f"/contacts/{contact.pk}/", headers={"Accept-Language": "it"}))
    listing = html(client.get("/contacts/", headers={"Accept-Language": "it"}))

    # then
    assert "2 conversazioni" in page
    assert "Riservata al team Legal: contenuto non visibile." in page
    assert "Identità" in page
    assert "Unisci un altro contatto a questo" in page
    assert "Ultima attività" in listing


@pytest.mark.parametrize("count", [3, 30])
def test_organization_page_costs_the_same_queries_for_3_and_30_rows(
    count: int,
    api_inbox: NewAPIInbox,
    support_team: Team,
    support_agent: User,
    django_assert_num_queries: Any,
) -> None:
    # given
    acme = Organization.objects.create(name="ACME")
    for n in range(count):
        case = from_api(api_inbox, f"m-{n}", identifier=f"c-{n}", email="").conversation
        set_team(case, None, team=support_team)
    Contact.objects.update(organization=acme)
    client = browser_for(support_agent)

    # when
    with django_assert_num_queries(7):
        response = client.get(f"/organizations/{acme.pk}/")

    # then
    assert response.status_code == 200
    assert len(entry_ids(html(response))) == min(count, 25)


@pytest.mark.parametrize("count", [3, 30])
def test_organizations_list_costs_the_same_queries_for_3_and_30_rows(
    count: int, support_agent: User, django_assert_num_queries: Any
) -> None:
    # given
    for n in range(count):
        Organization.objects.create(name=f"Org {n:02d}")
    client = browser_for(support_agent)

    # when
    with django_assert_num_queries(4):
        response = client.get("/organizations/")

    # then
    assert response.status_code == 200
    assert html(response).count("data-row>") == min(count, 25)
