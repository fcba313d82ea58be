"""A whole email conversation against real servers: the customer's email arrives over IMAP
(Dovecot), the agent's reply leaves over SMTP (aiosmtpd), and the customer's answer to it, written
as their mail client does, comes back over IMAP into the same case."""

from __future__ import annotations

from typing import Any

import pytest

from premura.accounts.models import User
from premura.accounts.services import create_agent
from premura.conversations import outbox
from premura.conversations.models import Conversation, Message
from premura.conversations.services import reply
from premura.mail import imap
from premura.mail.models import Mailbox
from premura.mail.services import update_mailbox
from tests.mail.conftest import make_email
from tests.mail.dovecot import Dovecot
from tests.mail.smtp_server import SMTPReceiver, smtp_server_fixture  # noqa: F401

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


@pytest.fixture
def agent(db: None) -> User:
    return create_agent("giulia@shop.example", display_name="Giulia Rossi", role=User.Role.ADMIN)


def test_customer_email_agent_reply_and_the_customers_answer_make_one_case(
    mailbox: Mailbox, dovecot: Dovecot, smtp_server: SMTPReceiver, agent: User, settings: Any
) -> None:
    # given a mailbox fetched from Dovecot that sends through the SMTP server
    smtp_server.users["support@shop.example"] = "smtp-pw"
    update_mailbox(
        mailbox,
        secrets={"smtp_password": "smtp-pw"},
        smtp_host=smtp_server.host,
        smtp_port=smtp_server.port,
        smtp_security=Mailbox.Security.NONE,
        smtp_user="support@shop.example",
    )
    imap.fetch_once(mailbox)  # the first connection: only mail from now on
    dovecot.append(
        mailbox.imap_user,
        [make_email(subject="Ordine 1234", message_id="<first@example.it>")],
    )

    # when the customer's email is fetched
    assert imap.fetch_once(mailbox).stored == 1
    case = Conversation.objects.get()
    # and an agent replies, delivered by the outbox over SMTP
    answer = reply(case, agent, "Gentile Mario, il pacco arriva domani.")
    assert outbox.deliver(answer.pk) == Message.Delivery.SENT
    sent = smtp_server.messages[0].message
    # and the customer answers that email from Gmail: In-Reply-To and References point at it
    our_id = sent["Message-ID"]
    dovecot.append(
        mailbox.imap_user,
        [
            make_email(
                subject=f"Re: {sent['Subject']}",
                body="Grazie, lo aspetto.",
                message_id="<second@example.it>",
                in_reply_to=our_id,
                references=f"<first@example.it> {our_id}",
            )
        ],
    )
    assert imap.fetch_once(mailbox).stored == 1

    # then the reply was threaded to the customer's email, and everything is one case
    assert sent["In-Reply-To"] == "<first@example.it>"
    assert sent["To"] == "Mario Rossi <mario@example.it>"
    assert f"[{case.reference}]" in sent["Subject"]
    assert list(
        Message.objects.filter(conversation=case)
        .order_by("sequence")
        .values_list("direction", "text")
    ) == [
        ("in", "Buongiorno, il mio ordine non è arrivato.\n"),
        ("out", "Gentile Mario, il pacco arriva domani."),
        ("in", "Grazie, lo aspetto.\n"),
    ]
    assert Conversation.objects.count() == 1
