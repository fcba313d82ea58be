"""An email inbox set up in the browser, against real servers: the admin connects a Dovecot
mailbox and an SMTP server, tests the connection, answers a customer's email from the
conversation page, and the customer's answer to that reply lands in the same case."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import expect

from premura.accounts.models import User
from premura.conversations import outbox
from premura.conversations.models import Conversation, Message
from premura.mail import imap
from premura.mail.models import Mailbox
from tests.mail.conftest import dovecot, imap_user, mail_settings, make_email  # noqa: F401
from tests.mail.dovecot import Dovecot
from tests.mail.smtp_server import SMTPReceiver, smtp_server_fixture  # noqa: F401

pytestmark = [pytest.mark.slow]

ADDRESS = "assistenza@shop.example"
SUBJECT = "Ordine 4711 mai arrivato"
SMTP_PASSWORD = "smtp-pw"  # noqa: S105 - a test account


def test_admin_connects_a_mailbox_and_answers_a_customer_by_email(
    page: Any,
    sign_in: Callable[[User], Any],
    admin: User,
    dovecot: Dovecot,  # noqa: F811
    imap_user: str,  # noqa: F811
    mail_settings: Any,  # noqa: F811
    smtp_server: SMTPReceiver,
    csp_violations: list[str],
) -> None:
    # given a mail account on Dovecot and one on the SMTP server
    smtp_server.users[ADDRESS] = SMTP_PASSWORD
    sign_in(admin)

    # when the admin creates an email inbox from the settings
    page.goto("/settings/inboxes/")
    page.get_by_role("link", name="New email inbox").click()
    page.wait_for_url("**/settings/inboxes/new/email/")
    page.fill("#id_name", "Assistenza")
    page.fill("#id_address", ADDRESS)
    page.select_option("#id_inbound", "imap")
    page.fill("#id_imap_host", "127.0.0.1")
    page.fill("#id_imap_port", str(dovecot.port))
    page.select_option("#id_imap_security", "none")
    page.fill("#id_imap_user", imap_user)
    page.fill("#id_imap_password", dovecot.users[imap_user])
    page.fill("#id_folder", "INBOX")
    page.get_by_label("New mail only").check()
    page.select_option("#id_outbound", "smtp")
    page.fill("#id_smtp_host", smtp_server.host)
    page.fill("#id_smtp_port", str(smtp_server.port))
    page.select_option("#id_smtp_security", "none")
    page.fill("#id_smtp_user", ADDRESS)
    page.fill("#id_smtp_password", SMTP_PASSWORD)
    page.get_by_role("button", name="Create inbox").click()

    # then the inbox's page shows its settings
    mailbox = Mailbox.objects.select_related("inbox").get(address=ADDRESS)
    page.wait_for_url(f"**/settings/inboxes/{mailbox.inbox_id}/email/")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Assistenza")
    expect(page.locator(".flash-success")).to_have_text("Inbox “Assistenza” created.")
    assert mailbox.imap_port == dovecot.port
    assert mailbox.smtp_port == smtp_server.port
    assert mailbox.fetch_since is None

    # when the admin tests the connection
    page.get_by_role("button", name="Test connection").click()

    # then receiving and sending both pass
    results = page.locator("#check-results li")
    expect(results).to_have_count(2)
    imap_result = results.filter(has_text="Receiving (IMAP)")
    expect(imap_result.locator(".badge")).to_have_text("OK")
    expect(imap_result).to_contain_text("Connected: the folder “INBOX” holds 0 messages")
    smtp_result = results.filter(has_text="Sending (SMTP)")
    expect(smtp_result.locator(".badge")).to_have_text("OK")
    expect(smtp_result).to_contain_text("Connected to 127.0.0.1 and signed in.")
    expect(page.locator("#check-results")).not_to_contain_text("Failed")

    # when the fetcher connects (first time: new mail only), then a customer writes
    mailbox.refresh_from_db()
    first = imap.fetch_once(mailbox)
    assert first.error == ""
    assert first.stored == 0
    dovecot.append(
        imap_user,
        [
            make_email(
                subject=SUBJECT,
                to=ADDRESS,
                body="Buongiorno, il mio ordine 4711 non è mai arrivato.",
                message_id="<ordine-4711@example.it>",
            )
        ],
    )
    assert imap.fetch_once(mailbox).stored == 1
    case = Conversation.objects.get()

    # then the case is in the list, and the admin opens it
    page.goto("/inbox/?view=all")
    row = page.locator(f"[data-rows] [data-row][data-conversation='{case.pk}']")
    expect(row.locator(".conv-subject")).to_have_text(SUBJECT)
    row.locator("[data-row-link]").click()
    page.wait_for_url(re.compile(rf"/conversations/{case.pk}/"))
    expect(page.locator("#conversation-title")).to_have_text(SUBJECT)
    expect(page.locator(".message.kind-customer")).to_contain_text("non è mai arrivato")

    # when the admin replies from the keyboard
    page.keyboard.press("r")
    expect(page.locator("#composer-text")).to_be_focused()
    page.keyboard.type("Gentile Mario, il pacco arriva domani.")
    page.keyboard.press("Control+Enter")

    # then the reply is queued, and the outbox sends it over SMTP to the customer
    reply = page.locator(".message.kind-agent")
    expect(reply).to_contain_text("Gentile Mario, il pacco arriva domani.")
    expect(reply.locator(".delivery .badge")).to_have_text("Queued")
    message = Message.objects.get(conversation=case, kind="agent")
    assert outbox.deliver(message.pk) == Message.Delivery.SENT
    assert len(smtp_server.messages) == 1
    received = smtp_server.messages[0]
    sent = received.message
    assert received.rcpt_tos == ["mario@example.it"]
    assert received.login == ADDRESS
    assert sent["To"] == "Mario Rossi <mario@example.it>"
    assert f"[{case.reference}]" in sent["Subject"]
    assert sent["In-Reply-To"] == "<ordine-4711@example.it>"
    expect(reply.locator(".delivery .badge")).to_have_text("Sent", timeout=10_000)

    # when the customer answers that email from their mail client
    our_id = sent["Message-ID"]
    dovecot.append(
        imap_user,
        [
            make_email(
                subject=f"Re: {sent['Subject']}",
                to=ADDRESS,
                body="Grazie, lo aspetto con ansia.",
                message_id="<risposta-4711@example.it>",
                in_reply_to=our_id,
                references=f"<ordine-4711@example.it> {our_id}",
            )
        ],
    )
    assert imap.fetch_once(mailbox).stored == 1

    # then the answer is in the same thread
    page.reload()
    customer_messages = page.locator("#thread-items .message.kind-customer")
    expect(customer_messages).to_have_count(2)
    expect(customer_messages.last).to_contain_text("Grazie, lo aspetto con ansia.")
    kinds = page.locator("#thread-items .message").evaluate_all(
        "items => items.map(i => i.className.match(/kind-(\\w+)/)[1])"
    )
    assert kinds == ["customer", "agent", "customer"]
    assert Conversation.objects.count() == 1
    assert csp_violations == []
