"""One raw email into its case: sender, dedupe, skips, attachments, bounces, references."""

from __future__ import annotations

import hashlib
from email.message import EmailMessage
from email.policy import SMTP
from typing import Any

import pytest
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from premura.conversations.models import Attachment, Conversation, ConversationEvent, Message
from premura.conversations.services import delete_conversation, reply
from premura.mail.inbound import ingest_email
from premura.mail.models import EmailReference, Mailbox
from premura.mail.services import create_email_inbox
from tests.mail.dovecot import make_email

pytestmark = pytest.mark.django_db


@pytest.fixture
def box(db: None) -> Mailbox:
    """A mailbox that is never fetched here: emails are handed to ingest_email directly."""
    return create_email_inbox(
        name="Support",
        address="support@shop.example",
        secrets={"imap_password": "x"},
        imap_host="imap.shop.example",
    )


def _with_attachment(size: int, filename: str = "fattura.pdf") -> bytes:
    message = EmailMessage()
    message["From"] = "Mario Rossi <mario@example.it>"
    message["To"] = "support@shop.example"
    message["Subject"] = "Fattura"
    message["Message-ID"] = f"<att-{size}@example.it>"
    message.set_content("In allegato la fattura.")
    message.add_attachment(
        b"%PDF-1.4\n" + b"0" * (size - 9), maintype="application", subtype="pdf", filename=filename
    )
    return message.as_bytes(policy=SMTP)


def test_email_becomes_a_case_of_its_sender(box: Mailbox) -> None:
    # given
    raw = make_email(
        subject="Ordine 1234 in ritardo", message_id="<abc@mail.example.it>", body="Dov'è?"
    )

    # when
    result = ingest_email(box, raw)

    # then
    assert result is not None
    assert result.created is True
    conversation = result.conversation
    assert (conversation.subject, conversation.inbox_id) == ("Ordine 1234 in ritardo", box.inbox_id)
    assert (result.contact.email, result.contact.name) == ("mario@example.it", "Mario Rossi")
    assert result.contact.identities.get().external_id == "mario@example.it"
    message = result.message
    assert message.provider_message_id == "abc@mail.example.it"
    assert message.text.strip() == "Dov'è?"
    assert message.automated is False
    assert message.raw is not None
    assert bytes(message.raw.body) == raw
    reference = EmailReference.objects.get()
    assert (reference.header_message_id, reference.message_id, reference.outbound) == (
        "abc@mail.example.it",
        message.pk,
        False,
    )
    assert reference.conversation_id == conversation.pk
    assert (
        DBTaskResult.objects.filter(task_path="premura.routing.tasks.route_conversation").count()
        == 1
    )


def test_same_email_twice_is_stored_once(box: Mailbox) -> None:
    # given
    raw = make_email(message_id="<once@example.it>")
    first = ingest_email(box, raw)

    # when
    second = ingest_email(box, raw)

    # then
    assert first is not None
    assert second is not None
    assert (first.created, second.created) == (True, False)
    assert second.message.pk == first.message.pk
    assert Message.objects.count() == 1
    assert EmailReference.objects.count() == 1


def test_email_without_message_id_is_deduplicated_on_its_bytes(box: Mailbox) -> None:
    # given
    raw = make_email(message_id="")

    # when
    first = ingest_email(box, raw)
    second = ingest_email(box, raw)

    # then
    assert first is not None
    assert second is not None
    assert first.message.provider_message_id == "sha256:" + hashlib.sha256(raw).hexdigest()
    assert second.created is False
    assert not EmailReference.objects.exists()


def test_our_own_email_delivered_back_is_skipped(box: Mailbox, admin: Any) -> None:
    # given: an email Premura sent (its Message-ID is an outbound reference)
    first = ingest_email(box, make_email())
    assert first is not None
    sent = reply(first.conversation, admin, "Arriva domani")
    EmailReference.objects.create(
        header_message_id="prm.1@shop.example",
        conversation=first.conversation,
        message=sent,
        outbound=True,
        created_at=timezone.now(),
    )

    # when: a copy of it lands in the folder
    result = ingest_email(
        box, make_email(sender="support@shop.example", message_id="<prm.1@shop.example>")
    )

    # then
    assert result is None
    assert Message.objects.filter(direction="in").count() == 1


def test_reply_to_names_the_customer_only_when_from_is_our_own_address(box: Mailbox) -> None:
    # given: a web shop's form mails from our address with the customer in Reply-To, and a
    # mailing list sets Reply-To to itself
    form = make_email(
        sender="support@shop.example",
        extra_headers=[("Reply-To", "Giulia Verdi <giulia@example.com>")],
    )
    listed = make_email(
        sender="anna@example.org", extra_headers=[("Reply-To", "list@lists.example.org")]
    )

    # when
    from_form = ingest_email(box, form)
    from_list = ingest_email(box, listed)

    # then
    assert from_form is not None
    assert from_list is not None
    assert from_form.contact.email == "giulia@example.com"
    assert from_list.contact.email == "anna@example.org"


def test_attachments_are_kept(box: Mailbox) -> None:
    # given
    raw = _with_attachment(2048)

    # when
    result = ingest_email(box, raw)

    # then
    assert result is not None
    attachment = Attachment.objects.get(message=result.message)
    assert (attachment.filename, attachment.size, attachment.content_type) == (
        "fattura.pdf",
        2048,
        "application/pdf",
    )


def test_oversized_attachment_is_left_out_with_a_note_and_the_message_kept(
    box: Mailbox, settings: Any
) -> None:
    # given
    settings.PREMURA_MAX_ATTACHMENT_BYTES = 1000
    raw = _with_attachment(2048, filename="scansione.pdf")

    # when
    result = ingest_email(box, raw)

    # then
    assert result is not None
    assert not Attachment.objects.exists()
    assert result.message.text == (
        "In allegato la fattura.\n\n[The attachment “scansione.pdf” (2048 bytes) was not kept: "
        "it is over the limit of 1000 bytes.]"
    )


def test_auto_reply_is_stored_as_automated(box: Mailbox) -> None:
    # given
    raw = make_email(
        subject="Fuori ufficio",
        extra_headers=[("Auto-Submitted", "auto-replied")],
    )

    # when
    result = ingest_email(box, raw)

    # then
    assert result is not None
    assert result.message.automated is True


def _bounce_of(message_id: str) -> bytes:
    return (
        "From: Mail Delivery System <MAILER-DAEMON@mx.example.com>\r\n"
        "To: support@shop.example\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        "Message-ID: <bounce-1@mx.example.com>\r\n"
        "Auto-Submitted: auto-replied\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n'
        "\r\n"
        "--B\r\n"
        "Content-Type: text/plain\r\n"
        "\r\n"
        "I'm sorry to have to inform you that your message could not be delivered.\r\n"
        "\r\n"
        "--B\r\n"
        "Content-Type: message/delivery-status\r\n"
        "\r\n"
        "Reporting-MTA: dns; mx.example.com\r\n"
        "\r\n"
        "Final-Recipient: rfc822; mario@example.it\r\n"
        "Action: failed\r\n"
        "Status: 5.1.1\r\n"
        "Diagnostic-Code: smtp; 550 5.1.1 <mario@example.it>: Recipient address rejected\r\n"
        "\r\n"
        "--B\r\n"
        "Content-Type: text/rfc822-headers\r\n"
        "\r\n"
        "From: Support <support@shop.example>\r\n"
        "To: mario@example.it\r\n"
        "Subject: Re: Ordine 1234 [PRM-000001]\r\n"
        f"Message-ID: <{message_id}>\r\n"
        "\r\n"
        "--B--\r\n"
    ).encode()


def test_bounce_of_our_email_marks_it_failed_and_lands_in_its_case(
    box: Mailbox, admin: Any
) -> None:
    # given: an agent's reply was sent (its Message-ID stored as an outbound reference)
    first = ingest_email(box, make_email())
    assert first is not None
    sent = reply(first.conversation, admin, "Arriva domani")
    Message.objects.filter(pk=sent.pk).update(delivery_state="sent")
    EmailReference.objects.create(
        header_message_id=f"prm.{sent.delivery_id}@shop.example",
        conversation=first.conversation,
        message=sent,
        outbound=True,
        created_at=timezone.now(),
    )

    # when: the bounce comes back from another address
    result = ingest_email(box, _bounce_of(f"prm.{sent.delivery_id}@shop.example"))

    # then
    assert result is not None
    assert result.conversation.pk == first.conversation.pk
    assert result.message.automated is True
    sent.refresh_from_db()
    assert sent.delivery_state == "failed"
    assert "Recipient address rejected" in sent.delivery_error
    assert ConversationEvent.objects.filter(kind="delivery_failed", message=sent).count() == 1
    assert Conversation.objects.count() == 1


def test_bounce_of_unknown_email_is_just_stored(box: Mailbox) -> None:
    # when
    result = ingest_email(box, _bounce_of("someone-else@example.org"))

    # then
    assert result is not None
    assert result.message.automated is True
    assert result.contact.email == "mailer-daemon@mx.example.com"


def test_email_without_sender_is_kept_under_an_unknown_sender(box: Mailbox) -> None:
    # given
    raw = b"Subject: nobody\r\nMessage-ID: <nofrom@example.it>\r\n\r\nhello\r\n"

    # when
    result = ingest_email(box, raw)

    # then
    assert result is not None
    assert result.contact.identities.get().external_id == "unknown-sender@invalid"
    assert result.message.text.strip() == "hello"


def test_email_of_a_case_an_admin_deleted_is_not_imported_again(box: Mailbox, admin: Any) -> None:
    # given: the case was deleted by an admin
    raw = make_email(message_id="<deleted-case@example.it>")
    first = ingest_email(box, raw)
    assert first is not None
    delete_conversation(first.conversation, admin)

    # when: a re-fetch brings the same email again
    again = ingest_email(box, raw)

    # then
    assert again is None
    assert not Conversation.objects.exists()
