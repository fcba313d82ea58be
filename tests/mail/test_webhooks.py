"""Inbound email through provider webhooks (anymail), per inbox, with the providers' payloads.

Payloads follow the providers' documentation:
- Mailgun "forward()" route, fully parsed multipart POST with token/timestamp/signature
  (https://documentation.mailgun.com/docs/mailgun/user-manual/receive-forward-store/);
- Postmark inbound webhook JSON (https://postmarkapp.com/developer/webhooks/inbound-webhook),
  the documentation's example with its own values.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from premura.conversations.models import Attachment, Conversation, Message, RawInbound
from premura.mail import webhooks
from premura.mail.models import EmailReference, Mailbox
from premura.mail.services import create_email_inbox

pytestmark = pytest.mark.django_db

SIGNING_KEY = "key-7e55d003b2f4c3d0a8e5d1c6f0e8a9b1"
WEBHOOK_SECRET = "premura:Zt1m3W7u-webhook-password"


def _webhook_mailbox(esp: str) -> Mailbox:
    mailbox = create_email_inbox(
        name=f"Webhook {esp}",
        address="help@shop.example",
        secrets={},
        inbound=Mailbox.Inbound.WEBHOOK,
        outbound=Mailbox.Outbound.ANYMAIL,
        esp_name=esp,
    )
    webhooks.set_provider_secrets(
        mailbox, {"webhook_secret": WEBHOOK_SECRET, "webhook_signing_key": SIGNING_KEY}
    )
    return mailbox


def _basic(secret: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(secret.encode()).decode()}


def _mailgun_form(*, signing_key: str = SIGNING_KEY) -> dict[str, Any]:
    timestamp, token = "1700000000", "6b1e3c0a9f2d4e5b8c7a6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f"
    signature = hmac.new(
        signing_key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256
    ).hexdigest()
    headers = [
        ["Received", "by mail-wr1-f41.google.com with SMTP id x3so123"],
        ["Message-Id", "<CAE8kX=uA9w@mail.gmail.com>"],
        ["Date", "Tue, 14 Nov 2023 22:13:20 +0100"],
        ["From", "Mario Rossi <mario.rossi@example.it>"],
        ["To", "help@shop.example"],
        ["Subject", "Ordine 1042 non arrivato"],
        ["Mime-Version", "1.0"],
        ["Content-Type", 'multipart/mixed; boundary="0000000000004f9b1c060a1b2c3d"'],
    ]
    return {
        "recipient": "help@shop.example",
        "sender": "mario.rossi@example.it",
        "from": "Mario Rossi <mario.rossi@example.it>",
        "subject": "Ordine 1042 non arrivato",
        "body-plain": "Buongiorno,\nil mio ordine 1042 non è arrivato.\n\nMario\n",
        "stripped-text": "Buongiorno,\nil mio ordine 1042 non è arrivato.",
        "stripped-signature": "Mario",
        "body-html": "<div>Buongiorno,<br>il mio ordine 1042 non è arrivato.</div>",
        "stripped-html": "<div>Buongiorno,<br>il mio ordine 1042 non è arrivato.</div>",
        "message-headers": json.dumps(headers),
        "content-id-map": "{}",
        "attachment-count": "1",
        "attachment-1": SimpleUploadedFile(
            "ricevuta.txt", b"Ricevuta ordine 1042\n", content_type="text/plain"
        ),
        "timestamp": timestamp,
        "token": token,
        "signature": signature,
    }


POSTMARK_INBOUND = {
    "FromName": "Postmarkapp Support",
    "MessageStream": "inbound",
    "From": "support@postmarkapp.com",
    "FromFull": {
        "Email": "support@postmarkapp.com",
        "Name": "Postmarkapp Support",
        "MailboxHash": "",
    },
    "To": '"Firstname Lastname" <yourhash+SampleHash@inbound.postmarkapp.com>',
    "ToFull": [
        {
            "Email": "yourhash+SampleHash@inbound.postmarkapp.com",
            "Name": "Firstname Lastname",
            "MailboxHash": "SampleHash",
        }
    ],
    "Cc": '"First Cc" <firstcc@postmarkapp.com>, secondCc@postmarkapp.com>',
    "CcFull": [
        {"Email": "firstcc@postmarkapp.com", "Name": "First Cc", "MailboxHash": ""},
        {"Email": "secondCc@postmarkapp.com", "Name": "", "MailboxHash": ""},
    ],
    "Bcc": '"First Bcc" <firstbcc@postmarkapp.com>',
    "BccFull": [{"Email": "firstbcc@postmarkapp.com", "Name": "First Bcc", "MailboxHash": ""}],
    "OriginalRecipient": "yourhash+SampleHash@inbound.postmarkapp.com",
    "Subject": "Test subject",
    "MessageID": "73e6d360-66eb-11e1-8e72-a8904824019b",
    "ReplyTo": "replyto@postmarkapp.com",
    "MailboxHash": "SampleHash",
    "Date": "Fri, 1 Aug 2014 16:45:32 -04:00",
    "TextBody": "This is a test text body.",
    "HtmlBody": "<html><body><p>This is a test html body.</p></body></html>",
    "StrippedTextReply": "This is the reply text",
    "Tag": "TestTag",
    "Headers": [
        {"Name": "X-Header-Test", "Value": ""},
        {"Name": "X-Spam-Status", "Value": "No"},
        {"Name": "X-Spam-Score", "Value": "-0.1"},
        {"Name": "X-Spam-Tests", "Value": "DKIM_SIGNED,DKIM_VALID,DKIM_VALID_AU,SPF_PASS"},
        {"Name": "Message-ID", "Value": "<CAPG=Hf1nq3d@mail.gmail.com>"},
    ],
    "Attachments": [
        {
            "Name": "test.txt",
            "Content": "VGhpcyBpcyBhdHRhY2htZW50IGNvbnRlbnRzLCBiYXNlLTY0LWVuY29kZWQu",
            "ContentType": "text/plain",
            "ContentLength": 45,
        }
    ],
}


def _url(mailbox: Mailbox, esp: str) -> str:
    return f"/hooks/email/{mailbox.inbox_id}/{esp}/"


def _nothing_written() -> bool:
    return (
        not Conversation.objects.exists()
        and not Message.objects.exists()
        and not RawInbound.objects.exists()
        and not EmailReference.objects.exists()
    )


def test_a_mailgun_inbound_email_opens_a_case() -> None:
    # given an inbox receiving through Mailgun
    mailbox = _webhook_mailbox("mailgun")
    # when Mailgun forwards an email, signed, with the inbox's basic auth
    response = Client(enforce_csrf_checks=True).post(
        _url(mailbox, "mailgun"), _mailgun_form(), **_basic(WEBHOOK_SECRET)
    )
    # then a case holds it, from the sender, with its attachment and its Message-ID
    assert response.status_code == 200
    conversation = Conversation.objects.get()
    assert conversation.inbox_id == mailbox.inbox_id
    assert conversation.subject == "Ordine 1042 non arrivato"
    assert conversation.contact.email == "mario.rossi@example.it"
    message = Message.objects.get()
    assert message.provider_message_id == "CAE8kX=uA9w@mail.gmail.com"
    assert message.text.startswith("Buongiorno,\nil mio ordine 1042 non è arrivato.")
    assert list(Attachment.objects.values_list("filename", "size")) == [("ricevuta.txt", 21)]
    assert list(EmailReference.objects.values_list("header_message_id", "outbound")) == [
        ("CAE8kX=uA9w@mail.gmail.com", False)
    ]


def test_mailgun_retries_store_the_email_once() -> None:
    # given an email Mailgun already delivered
    mailbox = _webhook_mailbox("mailgun")
    Client(enforce_csrf_checks=True).post(
        _url(mailbox, "mailgun"), _mailgun_form(), **_basic(WEBHOOK_SECRET)
    )
    # when Mailgun posts it again (a retry after a timeout)
    response = Client(enforce_csrf_checks=True).post(
        _url(mailbox, "mailgun"), _mailgun_form(), **_basic(WEBHOOK_SECRET)
    )
    # then nothing is duplicated
    assert response.status_code == 200
    assert Message.objects.count() == 1


def test_a_bad_mailgun_signature_is_refused_and_writes_nothing() -> None:
    # given an inbox receiving through Mailgun
    mailbox = _webhook_mailbox("mailgun")
    # when a post is signed with another key
    response = Client(enforce_csrf_checks=True).post(
        _url(mailbox, "mailgun"),
        _mailgun_form(signing_key="key-of-someone-else"),
        **_basic(WEBHOOK_SECRET),
    )
    # then it is refused and nothing is stored
    assert response.status_code == 400
    assert _nothing_written()


def test_a_postmark_inbound_email_opens_a_case() -> None:
    # given an inbox receiving through Postmark
    mailbox = _webhook_mailbox("postmark")
    # when Postmark posts its documented inbound payload with the basic auth
    response = Client(enforce_csrf_checks=True).post(
        _url(mailbox, "postmark"),
        json.dumps(POSTMARK_INBOUND),
        content_type="application/json",
        **_basic(WEBHOOK_SECRET),
    )
    # then a case holds it
    assert response.status_code == 200
    message = Message.objects.select_related("conversation__contact").get()
    assert message.conversation.subject == "Test subject"
    assert message.conversation.contact.email == "support@postmarkapp.com"
    assert message.text == "This is a test text body."
    assert message.provider_message_id == "CAPG=Hf1nq3d@mail.gmail.com"
    assert list(Attachment.objects.values_list("filename", "size")) == [("test.txt", 45)]


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="no auth"),
        pytest.param(_basic("premura:wrong-password"), id="wrong password"),
    ],
)
def test_postmark_without_the_right_basic_auth_is_refused(headers: dict[str, str]) -> None:
    # given an inbox receiving through Postmark
    mailbox = _webhook_mailbox("postmark")
    # when a post comes without the inbox's password
    response = Client(enforce_csrf_checks=True).post(
        _url(mailbox, "postmark"),
        json.dumps(POSTMARK_INBOUND),
        content_type="application/json",
        **headers,
    )
    # then it is refused and nothing is stored
    assert response.status_code == 400
    assert _nothing_written()


def test_another_inboxs_password_does_not_open_this_inbox() -> None:
    # given two webhook inboxes with different passwords
    first = _webhook_mailbox("postmark")
    second = create_email_inbox(
        name="Other",
        address="other@shop.example",
        secrets={},
        inbound=Mailbox.Inbound.WEBHOOK,
        outbound=Mailbox.Outbound.ANYMAIL,
        esp_name="postmark",
    )
    webhooks.set_provider_secrets(second, {"webhook_secret": "premura:second-inbox"})
    # when the second inbox's password is used on the first inbox's URL
    response = Client(enforce_csrf_checks=True).post(
        _url(first, "postmark"),
        json.dumps(POSTMARK_INBOUND),
        content_type="application/json",
        **_basic("premura:second-inbox"),
    )
    # then it is refused
    assert response.status_code == 400
    assert _nothing_written()


def test_unknown_provider_imap_inbox_or_missing_secret_answer_4xx() -> None:
    # given a webhook inbox without its secret and an IMAP inbox
    bare = create_email_inbox(
        name="Bare",
        address="bare@shop.example",
        secrets={},
        inbound=Mailbox.Inbound.WEBHOOK,
        outbound=Mailbox.Outbound.ANYMAIL,
        esp_name="postmark",
    )
    imap = create_email_inbox(
        name="Imap", address="imap@shop.example", secrets={}, imap_host="imap.shop.example"
    )
    body = json.dumps(POSTMARK_INBOUND)
    client = Client(enforce_csrf_checks=True)
    # when providers post to them
    no_secret = client.post(_url(bare, "postmark"), body, content_type="application/json")
    not_webhook = client.post(_url(imap, "postmark"), body, content_type="application/json")
    unknown = client.post(_url(bare, "pigeon"), body, content_type="application/json")
    # then each is refused with its reason
    assert (no_secret.status_code, no_secret.content) == (
        403,
        b"this inbox's webhook secret is not set\n",
    )
    assert not_webhook.status_code == 404
    assert unknown.status_code == 404
    assert _nothing_written()


def test_webhook_url_carries_the_password_only_when_asked() -> None:
    # given an inbox id
    # when its URLs are built
    plain = webhooks.webhook_url(7, "mailgun")
    with_secret = webhooks.webhook_url(7, "mailgun", secret="premura:pw")
    # then the password is in the URL only when given
    assert plain == "http://127.0.0.1:8000/hooks/email/7/mailgun/"
    assert with_secret == "http://premura:pw@127.0.0.1:8000/hooks/email/7/mailgun/"
