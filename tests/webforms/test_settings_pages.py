"""The contact forms' settings pages: admins only, validated, with the embed snippets."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from premura.accounts.models import User
from premura.channels.models import Inbox
from premura.mail.models import Mailbox
from premura.routing.models import Team
from premura.webforms.models import ContactForm
from tests.webforms.conftest import make_form

pytestmark = pytest.mark.django_db


def settings_data(**changes: Any) -> dict[str, Any]:
    """A valid settings form, as the browser posts it."""
    data: dict[str, Any] = {
        "name": "Assistenza clienti",
        "slug": "assistenza",
        "is_active": "on",
        "team": "",
        "mailbox": "",
        "field_name": "required",
        "field_email": "required",
        "field_phone": "optional",
        "field_topic": "hidden",
        "field_order_number": "optional",
        "field_attachments": "hidden",
        "topics": "",
        "title_it": "Scrivici",
        "title_en": "Write to us",
        "intro_it": "",
        "intro_en": "",
        "thank_you_it": "",
        "thank_you_en": "",
        "allowed_origins": "",
        "min_fill_seconds": "3",
        "max_per_ip_per_hour": "10",
        "max_per_email_per_hour": "5",
        "max_links": "2",
    }
    data.update(changes)
    return data


def _snapshot() -> list[Any]:
    return list(
        ContactForm.objects.order_by("pk").values_list(
            "pk", "name", "slug", "fields", "topics", "allowed_origins", "is_active", "mailbox_id"
        )
    ) + list(Inbox.objects.order_by("pk").values_list("pk", "name", "team_id", "is_active"))


@pytest.fixture
def users(
    admin: User, supervisor: User, support_agent: User, sales_agent: User
) -> dict[str, User | None]:
    return {
        "anonymous": None,
        "agent of another team": sales_agent,
        "agent of the team": support_agent,
        "supervisor": supervisor,
        "admin": admin,
    }


@pytest.mark.parametrize(
    "who", ["anonymous", "agent of another team", "agent of the team", "supervisor", "admin"]
)
@pytest.mark.parametrize(
    ("method", "path", "admin_status"),
    [
        ("get", "/settings/forms/", 200),
        ("get", "/settings/forms/new/", 200),
        ("post", "/settings/forms/new/", 302),
        ("get", "/settings/forms/{pk}/", 200),
        ("post", "/settings/forms/{pk}/", 302),
    ],
)
def test_permission_matrix(
    users: dict[str, User | None],
    support_team: Team,
    who: str,
    method: str,
    path: str,
    admin_status: int,
) -> None:
    # given
    form = make_form(team=support_team, slug="existing")
    user = users[who]
    client = Client()
    if user is not None:
        client.force_login(user)
    before = _snapshot()
    data = settings_data(slug="another") if method == "post" else None
    url = path.format(pk=form.pk)

    # when
    response = client.post(url, data) if method == "post" else client.get(url)

    # then
    if who == "admin":
        assert response.status_code == admin_status
        assert response.headers["Cache-Control"].startswith("max-age=0, no-cache, no-store")
        return
    if user is None:
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/login/?next=")
    else:
        assert response.status_code == 403
    assert _snapshot() == before


def test_admin_creates_a_form_with_topics_and_its_inbox(
    admin: User, support_team: Team, sales_agent: User, mailbox: Mailbox
) -> None:
    # given
    client = Client()
    client.force_login(admin)
    data = settings_data(
        team=str(support_team.pk),
        mailbox=str(mailbox.pk),
        field_topic="required",
        topics="Ordini | Orders | support\nVendite | Sales | Sales\n | Other",
        allowed_origins="https://Shop.example/\nhttps://*.brand.example",
    )

    # when
    response = client.post("/settings/forms/new/", data)

    # then
    form = ContactForm.objects.get()
    sales = Team.objects.get(name="Sales")
    assert response.status_code == 302
    assert response.headers["Location"] == f"/settings/forms/{form.pk}/"
    assert (form.name, form.slug, form.mailbox_id, form.is_active) == (
        "Assistenza clienti",
        "assistenza",
        mailbox.pk,
        True,
    )
    assert form.topics == [
        {"label_it": "Ordini", "label_en": "Orders", "team_id": support_team.pk},
        {"label_it": "Vendite", "label_en": "Sales", "team_id": sales.pk},
        {"label_it": "", "label_en": "Other", "team_id": None},
    ]
    assert form.fields == {
        "name": "required",
        "email": "required",
        "phone": "optional",
        "topic": "required",
        "order_number": "optional",
        "attachments": "hidden",
    }
    assert form.allowed_origins == ["https://shop.example", "https://*.brand.example"]
    assert (form.inbox.kind, form.inbox.name, form.inbox.team_id) == (
        "webform",
        "Assistenza clienti",
        support_team.pk,
    )


def test_form_page_shows_both_snippets(admin: User, support_team: Team, settings: Any) -> None:
    # given
    settings.PREMURA_BASE_URL = "https://care.example"
    form = make_form(team=support_team, slug="assistenza", title_en='Say "hi" <now>')
    client = Client()
    client.force_login(admin)

    # when
    response = client.get(f"/settings/forms/{form.pk}/")

    # then
    assert response.status_code == 200
    assert (
        '<pre class="code" id="script-snippet">&lt;script '
        "src=&quot;https://care.example/forms/assistenza/embed.js&quot; async&gt;&lt;/script&gt;</pre>"
    ) in response.text
    assert (
        '<pre class="code" id="iframe-snippet">&lt;iframe '
        "src=&quot;https://care.example/forms/assistenza/embed&quot; "
        "title=&quot;Say &amp;quot;hi&amp;quot; &amp;lt;now&amp;gt;&quot;"
    ) in response.text
    assert "https://care.example/forms/assistenza/" in response.text


def test_admin_edits_a_form(admin: User, support_team: Team, sales_agent: User) -> None:
    # given
    form = make_form(team=support_team, slug="assistenza")
    client = Client()
    client.force_login(admin)
    sales = Team.objects.get(name="Sales")

    # when
    response = client.post(
        f"/settings/forms/{form.pk}/",
        settings_data(name="Help", slug="help", team=str(sales.pk), is_active=""),
    )

    # then
    assert response.status_code == 302
    form.refresh_from_db()
    assert (form.name, form.slug, form.is_active) == ("Help", "help", False)
    assert (form.inbox.name, form.inbox.team_id, form.inbox.is_active) == ("Help", sales.pk, False)
    assert Client().get("/forms/help/").status_code == 404


def test_edit_page_shows_the_saved_values(admin: User, contact_form: ContactForm) -> None:
    # given
    client = Client()
    client.force_login(admin)

    # when
    response = client.get(f"/settings/forms/{contact_form.pk}/")

    # then
    assert response.status_code == 200
    assert "Ordini | Orders | Orders\nFatture | Invoices | Billing\nAltro | Other" in response.text
    assert "https://shop.example</textarea>" in response.text


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        (
            {"field_email": "hidden", "field_phone": "hidden"},
            "field_email",
            "Show the email or the phone field: a case needs a way to answer the customer.",
        ),
        (
            {"field_topic": "optional", "topics": ""},
            "topics",
            "Add at least one topic, or hide the topic field.",
        ),
        (
            {"topics": "Ordini | Orders | Nobody"},
            "topics",
            "Line 1: there is no team called “Nobody”.",
        ),
        (
            {"topics": "a | b | c | d"},
            "topics",
            "Line 1: write “Italian label | English label | team”.",
        ),
        ({"topics": "Ordini | Orders\n | "}, "topics", "Line 2: the topic needs a label."),
        (
            {"allowed_origins": "https://shop.example/page"},
            "allowed_origins",
            "“https://shop.example/page” is not a site address.",
        ),
        (
            {"allowed_origins": "https://x.example; script-src *"},
            "allowed_origins",
            "“https://x.example;” is not a site address.",
        ),
        ({"slug": "has space"}, "slug", "Enter a valid “slug”"),
        ({"name": "   "}, "name", "This field is required."),
        ({"min_fill_seconds": "-1"}, "min_fill_seconds", "greater than or equal to 0"),
    ],
)
def test_invalid_settings_say_what_to_fix(
    admin: User, support_team: Team, changes: dict[str, str], field: str, message: str
) -> None:
    # given
    client = Client()
    client.force_login(admin)

    # when
    response = client.post("/settings/forms/new/", settings_data(**changes))

    # then
    assert response.status_code == 400
    assert message in response.context["form"].errors[field][0]
    assert ContactForm.objects.count() == 0
    assert Inbox.objects.count() == 0


def test_slug_taken(admin: User, support_team: Team) -> None:
    # given
    make_form(team=support_team, slug="assistenza")
    client = Client()
    client.force_login(admin)

    # when
    response = client.post("/settings/forms/new/", settings_data(slug="Assistenza"))

    # then
    assert response.status_code == 400
    assert response.context["form"].errors["slug"] == [
        "Another contact form already has this address."
    ]
    assert ContactForm.objects.count() == 1
    assert Inbox.objects.count() == 1


def test_settings_menu_links_to_the_forms(admin: User) -> None:
    # given
    client = Client()
    client.force_login(admin)

    # when
    response = client.get("/settings/")

    # then
    assert '<a href="/settings/forms/" >Contact forms</a>' in response.text


def test_list_shows_every_form(admin: User, contact_form: ContactForm) -> None:
    # given
    client = Client()
    client.force_login(admin)

    # when
    response = client.get("/settings/forms/")

    # then
    assert f'<a href="/settings/forms/{contact_form.pk}/" data-row-link>Shop contact</a>' in (
        response.text
    )
    assert "<code>/forms/contact/</code>" in response.text
    assert "help@shop.example" in response.text
