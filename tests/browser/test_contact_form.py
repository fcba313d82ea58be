"""The contact form in a browser: a visitor writes, an agent finds the case; the form embedded in
another site through the script snippet."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from premura.accounts.models import User
from premura.conversations.models import Conversation
from premura.routing.models import Team
from premura.routing.services import create_team
from premura.webforms.models import ContactForm
from tests.webforms.conftest import make_form


def _form(team: Team, **config: Any) -> ContactForm:
    """A form with a topic routing to Orders; the visitor must wait one second before sending."""
    orders = create_team("Orders")
    return make_form(
        team=team,
        min_fill_seconds=1,
        topics=[
            {"label_it": "Ordini", "label_en": "Orders", "team_id": orders.pk},
            {"label_it": "Altro", "label_en": "Other", "team_id": None},
        ],
        **config,
    )


def _fill(target: Any) -> None:
    target.locator("#id_name").fill("Lucia Bianchi")
    target.locator("#id_email").fill("lucia@example.it")
    target.locator("#id_topic").select_option(label="Orders")
    target.locator("#id_order_number").fill("A-2231")
    target.locator("#id_message").fill("The parcel arrived damaged, can you send another one?")


def test_visitor_sends_the_form_and_an_agent_finds_the_case(
    page: Any,
    csp_violations: list[str],
    sign_in: Callable[[User], Any],
    support_agent: User,
    support_team: Team,
) -> None:
    # given
    form = _form(support_team)

    # when a visitor fills the form on its public page
    page.goto(f"/forms/{form.slug}/")
    assert page.locator("h1").inner_text() == "Write to us"
    _fill(page)
    page.wait_for_timeout(1100)  # people take longer than the minimum fill time
    page.get_by_role("button", name="Send").click()

    # then they see the confirmation with the case reference
    page.wait_for_selector("#case-reference")
    conversation = Conversation.objects.get()
    assert page.locator("#case-reference").inner_text() == conversation.reference
    assert page.locator("h1").inner_text() == "Message received"
    assert conversation.status == "open"
    assert conversation.team.name == "Orders"

    # when an agent of that team signs in
    conversation.team.members.add(support_agent)
    sign_in(support_agent)
    page.goto("/inbox/")

    # then the case is in the inbox, and opens with the visitor's message
    row = page.locator(f'[data-conversation="{conversation.pk}"]')
    assert "Lucia Bianchi" in row.inner_text()
    row.locator("a").first.click()
    page.wait_for_url(re.compile(rf"/conversations/{conversation.pk}/"))
    body = page.locator(".message.kind-customer .message-body").inner_text()
    assert "The parcel arrived damaged, can you send another one?" in body
    assert "Order number: A-2231" in body
    assert csp_violations == []


def test_visitor_switches_to_italian(page: Any, support_team: Team) -> None:
    # given
    form = _form(support_team)
    page.goto(f"/forms/{form.slug}/")

    # when
    page.get_by_role("link", name="Italiano").click()

    # then
    page.wait_for_url("**?lang=it")
    assert page.locator("h1").inner_text() == "Scrivici"
    assert page.get_by_role("button", name="Invia").is_visible()
    assert page.locator("#id_topic option").all_inner_texts() == ["Scegli…", "Ordini", "Altro"]


@pytest.fixture
def other_site(live_server: Any) -> Iterator[Callable[[str], str]]:
    """A plain web page on another origin (127.0.0.1 vs the live server's localhost) that embeds
    the form with the script snippet, as a customer's shop would."""
    pages: dict[str, bytes] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            body = pages.get(self.path.split("?")[0], b"")
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    origin = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def publish(slug: str) -> str:
        script = f"{live_server.url}/forms/{slug}/embed.js"
        pages["/shop.html"] = (
            "<!DOCTYPE html><html><head><title>Shop</title></head><body>"
            "<h1>Our shop</h1>"
            f'<script src="{script}" async></script>'
            "<p id='after'>Footer</p></body></html>"
        ).encode()
        return origin

    yield publish
    server.shutdown()
    server.server_close()


def test_form_embedded_in_another_site(
    page: Any, support_team: Team, other_site: Callable[[str], str]
) -> None:
    # given a shop page on another origin, allowed to embed the form
    form = _form(support_team, slug="shop-help")
    origin = other_site(form.slug)
    ContactForm.objects.filter(pk=form.pk).update(allowed_origins=[origin])

    # when a visitor opens the shop and fills the embedded form
    page.goto(f"{origin}/shop.html")
    frame_element = page.locator("iframe.premura-contact-form")
    frame_element.wait_for()
    frame = page.frame_locator("iframe.premura-contact-form")
    frame.locator("h1").wait_for()
    assert frame.locator("h1").inner_text() == "Write to us"
    # the script put the frame where its tag is, and sized it to the form
    assert (
        page.evaluate("document.querySelector('iframe.premura-contact-form').nextElementSibling.id")
        == "after"
    )
    page.wait_for_function(
        "document.querySelector('iframe.premura-contact-form').style.height !== '640px'"
    )
    _fill(frame)
    page.wait_for_timeout(1100)
    frame.get_by_role("button", name="Send").click()

    # then the confirmation shows inside the shop's page
    frame.locator("#case-reference").wait_for()
    conversation = Conversation.objects.get()
    assert frame.locator("#case-reference").inner_text() == conversation.reference
    assert conversation.contact.email == "lucia@example.it"


def test_form_refuses_to_be_framed_by_a_site_not_allowed(
    page: Any, support_team: Team, other_site: Callable[[str], str]
) -> None:
    # given a page on an origin the form does not list
    form = _form(support_team, slug="shop-help")
    origin = other_site(form.slug)
    assert origin not in form.allowed_origins
    blocked: list[str] = []
    page.on(
        "console",
        lambda msg: blocked.append(msg.text) if "frame-ancestors" in msg.text else None,
    )

    # when
    page.goto(f"{origin}/shop.html")
    page.locator("iframe.premura-contact-form").wait_for()
    page.wait_for_timeout(1500)

    # then the browser blocks the form inside it
    assert len(blocked) == 1
    assert "frame-ancestors 'self' https://shop.example" in blocked[0]
    frame = page.frame_locator("iframe.premura-contact-form")
    assert frame.locator("#id_message").count() == 0
