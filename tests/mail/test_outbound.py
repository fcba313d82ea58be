"""Sending email: real SMTP (aiosmtpd on 127.0.0.1), headers, threading, attachments, errors."""

from __future__ import annotations

import base64
import datetime as dt
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.utils import make_msgid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.utils import timezone

from premura.accounts.models import User
from premura.contacts.models import Identity
from premura.contacts.services import ContactInfo, IdentityKey
from premura.conversations import outbox
from premura.conversations.ingest import InboundMessage, ingest
from premura.conversations.models import Conversation, ConversationEvent, Message
from premura.conversations.services import OutgoingAttachment, reply, with_signature
from premura.mail import outbound
from premura.mail.models import EmailReference, Mailbox
from premura.mail.services import create_email_inbox
from premura.mail.webhooks import set_provider_secrets
from tests.mail.smtp_server import SMTPReceiver, free_port, smtp_server_fixture  # noqa: F401

pytestmark = pytest.mark.django_db

CUSTOMER = "mario.rossi@example.it"


def _mailbox(server: SMTPReceiver, **fields: object) -> Mailbox:
    server.users["assistenza@shop.example"] = "s3cret-smtp"
    values: dict[str, object] = {
        "imap_host": "imap.shop.example",
        "smtp_host": server.host,
        "smtp_port": server.port,
        "smtp_security": Mailbox.Security.NONE,
        "smtp_user": "assistenza@shop.example",
        "from_name": "Shop Assistenza",
        "signature": "Shop S.r.l.\nVia Roma 1, Milano",
    }
    values.update(fields)
    return create_email_inbox(
        name="Assistenza",
        address="assistenza@shop.example",
        secrets={"imap_password": "imap-pw", "smtp_password": "s3cret-smtp"},
        **values,
    )


def _customer_email(
    mailbox: Mailbox, *, message_id: str, subject: str = "Ordine 1042 non arrivato"
) -> Conversation:
    """A customer's email in the case, as inbound email ingest leaves it (message + reference)."""
    result = ingest(
        mailbox.inbox,
        InboundMessage(
            provider_message_id=message_id,
            contact=ContactInfo(
                identity=IdentityKey(Identity.Kind.EMAIL, CUSTOMER),
                name="Mario Rossi",
                email=CUSTOMER,
            ),
            text="Buongiorno, il mio ordine non è arrivato.",
            subject=subject,
        ),
    )
    EmailReference.objects.create(
        header_message_id=message_id,
        conversation=result.conversation,
        message=result.message,
        outbound=False,
        created_at=timezone.now(),
    )
    return result.conversation


@pytest.fixture
def agent(db: None) -> User:
    from premura.accounts.services import create_agent

    user = create_agent("giulia@shop.example", display_name="Giulia Rossi", role=User.Role.ADMIN)
    user.signature = "Giulia — Assistenza clienti"
    user.save(update_fields=["signature"])
    return user


def test_agent_reply_is_sent_with_exact_headers_signature_and_threading(
    smtp_server: SMTPReceiver, agent: User
) -> None:
    # given a case opened by a customer's email
    mailbox = _mailbox(smtp_server)
    conversation = _customer_email(mailbox, message_id="CAF=abc123@mail.gmail.com")
    # when an agent replies (with their signature, as the UI writes it) and the outbox delivers
    message = reply(
        conversation, agent, with_signature("Gentile Mario,\nlo abbiamo rispedito.", agent)
    )
    state = outbox.deliver(message.pk)
    # then one email reached the server, signed in with the mailbox's SMTP account
    assert state == Message.Delivery.SENT
    assert len(smtp_server.messages) == 1
    received = smtp_server.messages[0]
    assert received.rcpt_tos == [CUSTOMER]
    assert received.mail_from == "assistenza@shop.example"
    assert received.login == "assistenza@shop.example"
    email = received.message
    expected_id = f"prm.{message.delivery_id}@shop.example"
    assert email["Message-ID"] == f"<{expected_id}>"
    assert email["In-Reply-To"] == "<CAF=abc123@mail.gmail.com>"
    assert email["References"] == "<CAF=abc123@mail.gmail.com>"
    ref = f"PRM-{conversation.pk:06d}"
    assert email["Subject"] == f"Re: Ordine 1042 non arrivato [{ref}]"
    assert email["From"] == "Giulia Rossi via Shop Assistenza <assistenza@shop.example>"
    assert email["Reply-To"] == "assistenza@shop.example"
    assert email["To"] == f"Mario Rossi <{CUSTOMER}>"
    assert email["Auto-Submitted"] is None
    assert email.get_content_type() == "multipart/alternative"
    text = email.get_body(preferencelist=("plain",)).get_content()
    assert text == (
        "Gentile Mario,\nlo abbiamo rispedito.\n\nGiulia — Assistenza clienti"
        "\n\nShop S.r.l.\nVia Roma 1, Milano\n"
    )
    html = email.get_body(preferencelist=("html",)).get_content()
    assert (
        "Gentile Mario,<br>\nlo abbiamo rispedito.<br>\n<br>\nGiulia — Assistenza clienti" in html
    )
    assert '<div class="signature">Shop S.r.l.<br>\nVia Roma 1, Milano</div>' in html
    # and the message and the reference remember the Message-ID
    message.refresh_from_db()
    assert message.provider_message_id == expected_id
    assert list(
        EmailReference.objects.filter(outbound=True).values_list(
            "header_message_id", "conversation_id", "message_id"
        )
    ) == [(expected_id, conversation.pk, message.pk)]


def test_the_html_alternative_escapes_the_agents_text(
    smtp_server: SMTPReceiver, agent: User
) -> None:
    # given a reply containing markup-like text
    mailbox = _mailbox(smtp_server, signature="")
    conversation = _customer_email(mailbox, message_id="a1@example.it")
    message = reply(conversation, agent, 'Use <b>"code"</b> & <script>x()</script>')
    # when it is delivered
    outbox.deliver(message.pk)
    # then the HTML shows the text, it does not run it
    html = smtp_server.messages[0].message.get_body(preferencelist=("html",)).get_content()
    assert "Use &lt;b&gt;&quot;code&quot;&lt;/b&gt; &amp; &lt;script&gt;x()&lt;/script&gt;" in html
    assert "<script>" not in html


def test_the_chain_grows_with_each_email_and_the_subject_is_not_doubled(
    smtp_server: SMTPReceiver, agent: User
) -> None:
    # given a case whose subject already carries a reply prefix and the reference
    mailbox = _mailbox(smtp_server)
    conversation = _customer_email(mailbox, message_id="first@example.it")
    ref = f"PRM-{conversation.pk:06d}"
    Conversation.objects.filter(pk=conversation.pk).update(subject=f"RE: R: Ordine [{ref}]")
    first = reply(conversation, agent, "Prima risposta")
    outbox.deliver(first.pk)
    # when the customer answers and the agent replies again
    _customer_email(mailbox, message_id="second@example.it", subject=f"Re: Ordine [{ref}]")
    second = reply(conversation, agent, "Seconda risposta")
    outbox.deliver(second.pk)
    # then the second email answers the customer's latest and carries the whole chain in order
    email = smtp_server.messages[1].message
    first_id = f"prm.{first.delivery_id}@shop.example"
    assert email["In-Reply-To"] == "<second@example.it>"
    assert email["References"] == f"<first@example.it> <{first_id}> <second@example.it>"
    assert email["Subject"] == f"Re: Ordine [{ref}]"
    assert smtp_server.messages[0].message["Subject"] == f"Re: Ordine [{ref}]"


def test_references_keep_the_last_twenty(smtp_server: SMTPReceiver, agent: User) -> None:
    # given a case with 25 earlier emails
    mailbox = _mailbox(smtp_server)
    conversation = _customer_email(mailbox, message_id="m0@example.it")
    base = timezone.now()
    EmailReference.objects.bulk_create(
        EmailReference(
            header_message_id=f"m{i}@example.it",
            conversation=conversation,
            outbound=False,
            created_at=base + dt.timedelta(seconds=i),
        )
        for i in range(1, 25)
    )
    # when an agent replies
    message = reply(conversation, agent, "Ok")
    outbox.deliver(message.pk)
    # then References holds the newest 20, In-Reply-To the newest
    email = smtp_server.messages[0].message
    assert email["References"] == " ".join(f"<m{i}@example.it>" for i in range(5, 25))
    assert email["In-Reply-To"] == "<m24@example.it>"


def test_attachments_are_attached(smtp_server: SMTPReceiver, agent: User) -> None:
    # given a reply with a PDF and a text file
    mailbox = _mailbox(smtp_server)
    conversation = _customer_email(mailbox, message_id="att@example.it")
    pdf = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
    message = reply(
        conversation,
        agent,
        "In allegato la fattura.",
        attachments=[
            OutgoingAttachment("fattura 1042.pdf", pdf, "application/pdf"),
            OutgoingAttachment("note.txt", "Grazie è tutto\n".encode(), "text/plain"),
        ],
    )
    # when it is delivered
    outbox.deliver(message.pk)
    # then both files arrive with their names, types and exact bytes
    email = smtp_server.messages[0].message
    assert email.get_content_type() == "multipart/mixed"
    parts = [
        (part.get_filename(), part.get_content_type(), part.get_payload(decode=True))
        for part in email.iter_attachments()
    ]
    assert parts == [
        ("fattura 1042.pdf", "application/pdf", pdf),
        ("note.txt", "text/plain", "Grazie è tutto\n".encode()),
    ]
    assert (
        email.get_body(preferencelist=("plain",))
        .get_content()
        .startswith("In allegato la fattura.")
    )


def test_automatic_messages_say_so_and_a_case_without_subject_gets_one(
    smtp_server: SMTPReceiver,
) -> None:
    # given a case without a subject and an automatic acknowledgement
    mailbox = _mailbox(smtp_server, signature="")
    conversation = _customer_email(mailbox, message_id="auto@example.it", subject="")
    message = reply(conversation, None, "Abbiamo ricevuto la sua richiesta.", kind="automatic")
    # when it is delivered
    outbox.deliver(message.pk)
    # then robots are told not to answer, and the subject carries the reference
    email = smtp_server.messages[0].message
    assert email["Auto-Submitted"] == "auto-generated"
    assert email["X-Auto-Response-Suppress"] == "All"
    assert email["From"] == "Shop Assistenza <assistenza@shop.example>"
    assert email["Subject"] == f"Your request [PRM-{conversation.pk:06d}]"


def test_from_name_falls_back_to_the_inbox_name_and_is_encoded(
    smtp_server: SMTPReceiver, agent: User
) -> None:
    # given a mailbox without a sender name and an agent with an accented name
    mailbox = _mailbox(smtp_server, from_name="")
    agent.display_name = "Niccolò Bärtschi"
    agent.save(update_fields=["display_name"])
    conversation = _customer_email(mailbox, message_id="enc@example.it")
    message = reply(conversation, agent, "Salve")
    # when it is delivered
    outbox.deliver(message.pk)
    # then the From header is RFC 2047-encoded on the wire and decodes to the names
    received = smtp_server.messages[0]
    assert b"From: =?utf-8?" in received.raw
    assert received.message["From"] == "Niccolò Bärtschi via Assistenza <assistenza@shop.example>"


def test_the_customers_name_goes_into_to_without_breaking_the_header(
    smtp_server: SMTPReceiver, agent: User
) -> None:
    # given a customer whose name has accents and a line break with a header after it
    mailbox = _mailbox(smtp_server)
    conversation = _customer_email(mailbox, message_id="name@example.it")
    contact = conversation.contact
    contact.name = "Zoë D'Alò\r\nBcc: spy@evil.example\x1b"
    contact.save(update_fields=["name"])
    message = reply(conversation, agent, "Salve")
    # when the outbox delivers
    state = outbox.deliver(message.pk)
    # then one email went to the customer alone, named in To on one line, quoted
    assert state == Message.Delivery.SENT
    received = smtp_server.messages[0]
    assert received.rcpt_tos == [CUSTOMER]
    assert received.message["Bcc"] is None
    assert str(received.message["To"]) == f'"Zoë D\'Alò Bcc: spy@evil.example" <{CUSTOMER}>'


def test_a_refused_recipient_fails_permanently(smtp_server: SMTPReceiver, agent: User) -> None:
    # given a customer address the server does not know
    smtp_server.refused.add(CUSTOMER)
    mailbox = _mailbox(smtp_server)
    conversation = _customer_email(mailbox, message_id="refused@example.it")
    message = reply(conversation, agent, "Salve")
    # when the outbox delivers
    state = outbox.deliver(message.pk)
    # then the message failed for good, with the server's answer
    message.refresh_from_db()
    assert state == Message.Delivery.FAILED
    assert message.delivery_state == Message.Delivery.FAILED
    assert message.delivery_error == (
        f"recipient refused: {CUSTOMER}: 550 5.1.1 <{CUSTOMER}>: "
        "Recipient address rejected: User unknown"
    )
    event = ConversationEvent.objects.get(kind=ConversationEvent.Kind.DELIVERY_FAILED)
    assert event.payload["permanent"] is True
    assert smtp_server.messages == []


def test_a_deferred_recipient_is_retried(smtp_server: SMTPReceiver, agent: User) -> None:
    # given a server that answers 451 for the customer
    smtp_server.deferred.add(CUSTOMER)
    mailbox = _mailbox(smtp_server)
    conversation = _customer_email(mailbox, message_id="deferred@example.it")
    message = reply(conversation, agent, "Salve")
    # when the outbox delivers
    state = outbox.deliver(message.pk)
    # then the message waits for another attempt
    message.refresh_from_db()
    assert state == Message.Delivery.QUEUED
    assert message.delivery_attempts == 1
    assert message.delivery_error.startswith(f"recipient refused: {CUSTOMER}: 451 4.3.0")


def test_a_server_that_is_down_is_retried_then_works(
    smtp_server: SMTPReceiver, agent: User
) -> None:
    # given a mailbox pointing at a port where nothing listens
    mailbox = _mailbox(smtp_server, smtp_port=free_port())
    conversation = _customer_email(mailbox, message_id="down@example.it")
    message = reply(conversation, agent, "Salve")
    # when the outbox delivers
    state = outbox.deliver(message.pk)
    # then it is queued again with the connection error
    message.refresh_from_db()
    assert state == Message.Delivery.QUEUED
    assert message.delivery_error.startswith("cannot reach the SMTP server: [Errno 111]")
    # and once the server is back, the next attempt sends it with the same Message-ID
    Mailbox.objects.filter(pk=mailbox.pk).update(smtp_port=smtp_server.port)
    Message.objects.filter(pk=message.pk).update(next_attempt_at=timezone.now())
    assert outbox.deliver(message.pk) == Message.Delivery.SENT
    assert (
        smtp_server.messages[0].message["Message-ID"] == f"<prm.{message.delivery_id}@shop.example>"
    )
    assert EmailReference.objects.filter(message=message, outbound=True).count() == 1


def test_a_wrong_smtp_password_is_retried_with_a_clear_error(
    smtp_server: SMTPReceiver, agent: User
) -> None:
    # given a mailbox whose SMTP password is wrong
    mailbox = _mailbox(smtp_server)
    smtp_server.users["assistenza@shop.example"] = "changed"
    conversation = _customer_email(mailbox, message_id="pw@example.it")
    message = reply(conversation, agent, "Salve")
    # when the outbox delivers
    state = outbox.deliver(message.pk)
    # then it waits for a retry and says the sign-in was refused
    message.refresh_from_db()
    assert state == Message.Delivery.QUEUED
    assert (
        message.delivery_error
        == "SMTP sign-in refused: 535 5.7.8 Authentication credentials invalid"
    )


def test_a_customer_without_email_fails_permanently(smtp_server: SMTPReceiver, agent: User) -> None:
    # given a case whose customer has no email address
    mailbox = _mailbox(smtp_server)
    conversation = _customer_email(mailbox, message_id="noaddr@example.it")
    conversation.contact.email = ""
    conversation.contact.save(update_fields=["email"])
    message = reply(conversation, agent, "Salve")
    # when the outbox delivers
    state = outbox.deliver(message.pk)
    # then it fails for good with the reason
    message.refresh_from_db()
    assert state == Message.Delivery.FAILED
    assert message.delivery_error == "the customer has no email address"


def test_send_email_for_another_channel_uses_the_given_mailbox(
    smtp_server: SMTPReceiver, agent: User
) -> None:
    # given a message of a case (as the contact form's confirmation would be)
    mailbox = _mailbox(smtp_server)
    conversation = _customer_email(mailbox, message_id=make_msgid()[1:-1])
    message = reply(conversation, None, "Conferma", kind="automatic")
    # when another channel sends it through this mailbox to an address of its choice
    result = outbound.send_email_for(message, mailbox, to="other@example.org")
    # then it went there, and the result names the Message-ID
    assert result.provider_message_id == f"prm.{message.delivery_id}@shop.example"
    assert smtp_server.messages[0].rcpt_tos == ["other@example.org"]


def test_check_smtp_reports_each_stage(smtp_server: SMTPReceiver) -> None:
    # given a working mailbox, one with a wrong password, one unreachable, one unresolvable
    mailbox = _mailbox(smtp_server)
    # when the connection is checked
    ok = outbound.check_smtp(mailbox)
    smtp_server.users["assistenza@shop.example"] = "other"
    login = outbound.check_smtp(mailbox)
    mailbox.smtp_port = free_port()
    down = outbound.check_smtp(mailbox)
    mailbox.smtp_host = "no-such-host.invalid"
    dns = outbound.check_smtp(mailbox)
    # then each report names the stage that failed and why
    assert (ok.ok, ok.stage, ok.message) == (True, "ok", "Connected to 127.0.0.1 and signed in.")
    assert (login.ok, login.stage) == (False, "login")
    assert login.message == (
        "Sign-in to 127.0.0.1 refused: 535 5.7.8 Authentication credentials invalid"
    )
    assert (down.ok, down.stage) == (False, "connect")
    assert down.message.startswith(f"Cannot connect to 127.0.0.1:{mailbox.smtp_port}: [Errno 111]")
    assert (dns.ok, dns.stage) == (False, "dns")
    assert dns.message.startswith("The name no-such-host.invalid cannot be resolved:")


def test_check_smtp_reports_a_failed_starttls(smtp_server: SMTPReceiver) -> None:
    # given a server without STARTTLS and a mailbox that requires it
    mailbox = _mailbox(smtp_server, smtp_security=Mailbox.Security.STARTTLS)
    # when the connection is checked
    report = outbound.check_smtp(mailbox)
    # then the TLS stage failed
    assert (report.ok, report.stage) == (False, "tls")
    assert report.message == (
        "STARTTLS with 127.0.0.1 failed: STARTTLS extension not supported by server."
    )


# --- Through an email provider's API (anymail) ---------------------------------------------------


@dataclass
class FakeProvider:
    """An email provider's send endpoint on 127.0.0.1, answering with its documented payloads."""

    success: Callable[[dict[str, Any]], dict[str, Any]]
    url: str = ""
    requests: list[tuple[str, dict[str, str], dict[str, Any]]] = field(default_factory=list)
    answer: tuple[int, dict[str, Any]] = (200, {})


@contextmanager
def _serving(fake: FakeProvider) -> Iterator[FakeProvider]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the http.server hook's name
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            fake.requests.append((self.path, dict(self.headers), body))
            status, answer = fake.answer
            if status == 200:
                answer = fake.success(body)
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake.url = f"http://127.0.0.1:{server.server_address[1]}/"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(name="postmark")
def postmark_fixture() -> Iterator[FakeProvider]:
    """Postmark's /email endpoint (https://postmarkapp.com/developer/api/email-api)."""

    def success(body: dict[str, Any]) -> dict[str, Any]:
        return {
            "To": body["To"],
            "SubmittedAt": "2024-03-01T10:00:00.0000000-05:00",
            "MessageID": "b7bc2f4a-e38e-4336-af7d-e6c392c2f817",
            "ErrorCode": 0,
            "Message": "OK",
        }

    with _serving(FakeProvider(success)) as fake:
        yield fake


@pytest.fixture(name="mailjet")
def mailjet_fixture() -> Iterator[FakeProvider]:
    """Mailjet's Send API v3.1 (https://dev.mailjet.com/email/guides/send-api-v31/)."""

    def success(body: dict[str, Any]) -> dict[str, Any]:
        return {
            "Messages": [
                {
                    "Status": "success",
                    "CustomID": "",
                    "To": [
                        {
                            "Email": to["Email"],
                            "MessageUUID": "cb927469-36fd-4c02-bce4-0d199929a207",
                            "MessageID": 70650219165027410,
                            "MessageHref": "https://api.mailjet.com/v3/REST/message/70650219165027410",
                        }
                        for to in body["Messages"][0]["To"]
                    ],
                    "Cc": [],
                    "Bcc": [],
                }
            ]
        }

    with _serving(FakeProvider(success)) as fake:
        yield fake


def _provider_mailbox(
    fake: FakeProvider, esp: str, secrets: dict[str, str], **fields: Any
) -> Mailbox:
    mailbox = create_email_inbox(
        name=esp.title(),
        address="help@shop.example",
        secrets={},
        inbound=Mailbox.Inbound.WEBHOOK,
        outbound=Mailbox.Outbound.ANYMAIL,
        esp_name=esp,
        esp_api_url=fake.url,
        from_name="Shop",
        **fields,
    )
    set_provider_secrets(mailbox, secrets)
    return Mailbox.objects.select_related("inbox").get(pk=mailbox.pk)


def _postmark_mailbox(postmark: FakeProvider) -> Mailbox:
    return _provider_mailbox(postmark, "postmark", {"api_key": "pm-server-token"})


def test_sending_through_mailjet_signs_in_with_both_keys(
    mailjet: FakeProvider, agent: User
) -> None:
    # given a mailbox sending through Mailjet, which takes an API key and a secret key
    mailbox = _provider_mailbox(
        mailjet, "mailjet", {"api_key": "mj-key", "secret_key": "mj-secret"}
    )
    conversation = _customer_email(mailbox, message_id="mj@example.it")
    # (a customer with accents in the name: the provider's API takes it as it is)
    conversation.contact.name = "Niccolò Müller"
    conversation.contact.save(update_fields=["name"])
    message = reply(conversation, agent, "Salve")
    # when the outbox delivers
    state = outbox.deliver(message.pk)
    # then Mailjet's send endpoint got the email, signed in with both keys
    assert state == Message.Delivery.SENT
    path, headers, body = mailjet.requests[0]
    assert path == "/send"
    assert headers["Authorization"] == "Basic " + base64.b64encode(b"mj-key:mj-secret").decode()
    sent = body["Messages"][0]
    assert sent["To"] == [{"Email": CUSTOMER, "Name": "Niccolò Müller"}]
    assert body["Globals"]["From"] == {
        "Email": "help@shop.example",
        "Name": "Giulia Rossi via Shop",
    }
    assert body["Globals"]["Headers"]["Message-ID"] == f"<prm.{message.delivery_id}@shop.example>"
    assert body["Globals"]["Subject"] == f"Re: Ordine 1042 non arrivato [PRM-{conversation.pk:06d}]"


def test_sending_through_postmarks_api(postmark: FakeProvider, agent: User) -> None:
    # given a mailbox sending through Postmark and a case opened by email
    mailbox = _postmark_mailbox(postmark)
    conversation = _customer_email(mailbox, message_id="pm@example.it")
    message = reply(conversation, agent, "Salve")
    # when the outbox delivers
    state = outbox.deliver(message.pk)
    # then Postmark got the email with the server token and Premura's threading headers
    assert state == Message.Delivery.SENT
    _path, headers, body = postmark.requests[0]
    assert headers["X-Postmark-Server-Token"] == "pm-server-token"
    assert body["To"] == f"Mario Rossi <{CUSTOMER}>"
    assert body["From"] == "Giulia Rossi via Shop <help@shop.example>"
    assert body["Subject"] == f"Re: Ordine 1042 non arrivato [PRM-{conversation.pk:06d}]"
    sent_headers = {item["Name"]: item["Value"] for item in body["Headers"]}
    assert sent_headers["Message-ID"] == f"<prm.{message.delivery_id}@shop.example>"
    assert sent_headers["In-Reply-To"] == "<pm@example.it>"
    message.refresh_from_db()
    assert message.provider_message_id == f"prm.{message.delivery_id}@shop.example"


def test_postmark_inactive_recipient_fails_permanently(postmark: FakeProvider, agent: User) -> None:
    # given Postmark refusing the recipient as inactive (its documented error 406)
    postmark.answer = (
        422,
        {
            "ErrorCode": 406,
            "Message": "You tried to send to a recipient that has been marked as inactive.\n"
            f"Found inactive addresses: {CUSTOMER}.\n"
            "Inactive recipients are ones that have generated a hard bounce or a spam "
            "complaint. ",
        },
    )
    mailbox = _postmark_mailbox(postmark)
    conversation = _customer_email(mailbox, message_id="pm406@example.it")
    message = reply(conversation, agent, "Salve")
    # when the outbox delivers
    state = outbox.deliver(message.pk)
    # then the message failed for good
    message.refresh_from_db()
    assert state == Message.Delivery.FAILED
    assert message.delivery_error.startswith("recipient refused by the provider:")


def test_a_provider_outage_is_retried(postmark: FakeProvider, agent: User) -> None:
    # given Postmark answering 500
    postmark.answer = (500, {"ErrorCode": 500, "Message": "Internal Server Error"})
    mailbox = _postmark_mailbox(postmark)
    conversation = _customer_email(mailbox, message_id="pm500@example.it")
    message = reply(conversation, agent, "Salve")
    # when the outbox delivers
    state = outbox.deliver(message.pk)
    # then it waits for another attempt
    assert state == Message.Delivery.QUEUED


def test_an_inbox_still_set_to_amazon_ses_says_what_to_do(
    postmark: FakeProvider, agent: User
) -> None:
    # given an inbox configured before Amazon SES's API was withdrawn
    mailbox = _postmark_mailbox(postmark)
    Mailbox.objects.filter(pk=mailbox.pk).update(esp_name="amazon_ses")
    conversation = _customer_email(mailbox, message_id="ses@example.it")
    message = reply(conversation, agent, "Salve")
    # when the outbox delivers
    state = outbox.deliver(message.pk)
    # then the reply failed for good, saying how to send through SES
    message.refresh_from_db()
    assert state == Message.Delivery.FAILED
    assert "send through SES's SMTP interface" in message.delivery_error
    assert postmark.requests == []
