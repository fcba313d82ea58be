"""How message bodies show on the conversation page: quoted history folded, remote images blocked
until allowed, inline images in place, the original source one click away."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest
from django.test import Client

from premura.accounts.models import User
from premura.channels.models import Inbox
from premura.contacts.services import ContactInfo, IdentityKey
from premura.conversations import display
from premura.conversations.ingest import InboundAttachment, InboundMessage, RawPayload, ingest
from premura.conversations.models import Message
from premura.routing.models import Team

pytestmark = pytest.mark.django_db

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


@pytest.fixture
def email_inbox(support_team: Team) -> Inbox:
    return Inbox.objects.create(name="Assistenza", kind=Inbox.Kind.EMAIL, team=support_team)


def _email(inbox: Inbox, message_id: str = "m1@example.it", **fields: object) -> Message:
    inbound = InboundMessage(
        provider_message_id=message_id,
        contact=ContactInfo(
            identity=IdentityKey("email", "anna@example.it"), email="anna@example.it"
        ),
        **fields,  # type: ignore[arg-type]
    )
    raw = RawPayload(b"From: anna@example.it\r\n\r\nsource", content_type="message/rfc822")
    return ingest(inbox, inbound, raw).message


def _directives(csp: str) -> dict[str, str]:
    """A Content-Security-Policy header by directive (their order is not fixed)."""
    pairs = (part.strip().split(" ", 1) for part in csp.split(";") if part.strip())
    return {name: value for name, value in pairs}


def _page(user: User, message: Message, query: str = "") -> tuple[int, str, str]:
    client = Client()
    client.force_login(user)
    response = client.get(f"/conversations/{message.conversation_id}/{query}")
    return response.status_code, response.content.decode(), response["Content-Security-Policy"]


def test_remote_images_are_blocked_until_the_agent_allows_them(
    email_inbox: Inbox, support_agent: User
) -> None:
    # given an email with a tracking pixel
    message = _email(
        email_inbox, html='<p>Ciao</p><img src="https://tracker.example/p.gif?u=1&amp;x=2">'
    )
    # when the agent opens the case
    status, page, csp = _page(support_agent, message)
    # then the image has no address, the page says how many are blocked, the CSP allows none
    assert status == 200
    assert "tracker.example" not in page
    assert "<img data-blocked>" in page
    assert f'href="?images={message.pk}#msg-{message.pk}"' in page
    assert "Show 1 remote image" in page
    assert _directives(csp)["img-src"] == "'self' data:"
    # when the agent allows them for that message
    status, page, csp = _page(support_agent, message, f"?images={message.pk}")
    # then the image loads, without a referrer, and the page's CSP lets it
    assert (
        '<img src="https://tracker.example/p.gif?u=1&amp;x=2" referrerpolicy="no-referrer">' in page
    )
    assert _directives(csp)["img-src"] == "'self' data: https: http:"


def test_inline_cid_images_show_in_place_and_are_not_listed_as_files(
    email_inbox: Inbox, support_agent: User
) -> None:
    # given an email whose HTML shows an inline image and which also carries a real attachment
    message = _email(
        email_inbox,
        html='<p>Foto:</p><img src="cid:logo@x" alt="logo">',
        attachments=(
            InboundAttachment("logo.png", PNG, "image/png", content_id="logo@x", inline=True),
            InboundAttachment("fattura.pdf", b"%PDF-1.4 fattura", "application/pdf"),
        ),
    )
    inline, pdf = message.attachments.order_by("id")
    # when the agent opens the case
    _status, page, _csp = _page(support_agent, message)
    # then the image points at its preview, and only the PDF is listed as a file
    assert f'<img src="/conversations/attachments/{inline.pk}/preview" alt="logo">' in page
    assert f"/conversations/attachments/{pdf.pk}/download" in page
    assert f"/conversations/attachments/{inline.pk}/download" not in page


def test_quoted_html_is_folded_behind_a_button(email_inbox: Inbox, support_agent: User) -> None:
    # given a reply whose quoted history the parser marked
    message = _email(email_inbox, html='<p>Grazie!</p><div data-quoted=""><p>Old text</p></div>')
    # when the agent opens the case
    _status, page, _csp = _page(support_agent, message)
    # then the quoted part is in the page (folded by CSS) with the button that unfolds it
    assert '<div data-quoted=""><p>Old text</p></div>' in page
    assert "data-toggle-quoted" in page


@pytest.fixture
def splitter() -> Iterator[None]:
    before = display._splitters.get(Inbox.Kind.EMAIL)
    display.register_text_splitter(Inbox.Kind.EMAIL, lambda text: tuple(text.split("\n>", 1)))  # type: ignore[arg-type,return-value]
    yield
    if before is not None:
        display.register_text_splitter(Inbox.Kind.EMAIL, before)


def test_plain_text_quotes_are_folded_with_the_channels_splitter(
    email_inbox: Inbox, support_agent: User, splitter: None
) -> None:
    # given a plain-text reply with a quote (and markup typed by the customer)
    message = _email(email_inbox, text="Va bene <b>grazie</b>\n> vecchio testo")
    # when the agent opens the case
    _status, page, _csp = _page(support_agent, message)
    # then the reply shows, escaped, and the quote is folded
    assert (
        '<p>Va bene &lt;b&gt;grazie&lt;/b&gt;</p><div data-quoted=""><p> vecchio testo</p></div>'
        in page
    )


def test_the_original_source_downloads_as_an_eml_for_readers_only(
    email_inbox: Inbox, support_agent: User, lawyer: User, legal_team: Team
) -> None:
    # given an email in a restricted team's case
    message = _email(email_inbox, text="Riservato")
    message.conversation.team = legal_team
    message.conversation.save(update_fields=["team"])
    # when a member of the team downloads its original
    client = Client()
    client.force_login(lawyer)
    response = client.get(f"/conversations/messages/{message.pk}/original")
    # then it is the raw source, as a download
    assert response.status_code == 200
    assert response.content == b"From: anna@example.it\r\n\r\nsource"
    assert response["Content-Type"] == "message/rfc822"
    assert response["Content-Disposition"] == (
        f'attachment; filename="{message.conversation.reference}-1.eml"'
    )
    assert response["X-Content-Type-Options"] == "nosniff"
    # and an agent outside the restricted team cannot read it
    outsider = Client()
    outsider.force_login(support_agent)
    assert outsider.get(f"/conversations/messages/{message.pk}/original").status_code == 403


def test_an_emails_plain_text_quote_is_folded_by_the_email_channel(
    email_inbox: Inbox, support_agent: User
) -> None:
    # given a plain-text email reply quoting the previous message
    text = (
        "Il pacco è arrivato, grazie.\n\n"
        "Il giorno lun 23 nov 2026 alle 10:00 Assistenza <assistenza@example.it> ha scritto:\n"
        "> Il suo ordine è stato spedito.\n"
    )
    message = _email(email_inbox, text=text)
    # when the agent opens the case
    _status, page, _csp = _page(support_agent, message)
    # then the reply shows and the quote is folded
    reply, quoted = page.split('<div data-quoted="">', 1)
    assert "Il pacco è arrivato, grazie." in reply
    assert "ha scritto:" in quoted.split("</div>", 1)[0]
    assert "Il suo ordine è stato spedito." in quoted.split("</div>", 1)[0]
