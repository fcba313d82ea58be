"""Which mail a machine wrote, and what a bounce says: never answer these automatically."""

from __future__ import annotations

import email
from email import policy

import pytest

from premura.mail.loops import Bounce, classify, parse_bounce
from premura.mail.parsing import parse_email


def message(raw: bytes) -> email.message.Message:
    return email.message_from_bytes(raw, policy=policy.default)


PERSON = b"From: Anna <anna@example.com>\r\nTo: support@acme.example\r\nSubject: help\r\n"


@pytest.mark.parametrize(
    ("extra_headers", "reason"),
    [
        (b"", ""),
        (b"Auto-Submitted: no\r\n", ""),
        (b"Auto-Submitted: auto-replied\r\n", "auto-reply"),
        (b"Auto-Submitted: auto-replied; owner-email=a@example.com\r\n", "auto-reply"),
        (b"Auto-Submitted: Auto-Generated (vacation)\r\n", "auto-submitted"),
        (b"Auto-Submitted: auto-notified\r\n", "auto-submitted"),
        (b"X-Autoreply: yes\r\n", "auto-reply"),
        (b"X-Autorespond: Out of office\r\n", "auto-reply"),
        (b"X-Auto-Response-Suppress: All\r\n", "auto-submitted"),
        (b"X-Auto-Response-Suppress: DR, OOF, AutoReply\r\n", "auto-submitted"),
        (b"X-Auto-Response-Suppress: DR, RN, NRN\r\n", ""),
        (b"Precedence: bulk\r\n", "precedence"),
        (b"Precedence: junk\r\n", "precedence"),
        (b"Precedence: list\r\n", "precedence"),
        (b"Precedence: auto_reply\r\n", "precedence"),
        (b"Precedence: first-class\r\n", ""),
        (b"List-Id: Acme users <users.lists.acme.example>\r\n", "list"),
        (b"List-Unsubscribe: <mailto:leave@lists.example>\r\n", "list"),
        (b"Return-Path: <>\r\n", "bounce"),
        (b"Return-Path: <anna@example.com>\r\n", ""),
    ],
)
def test_header_rules(extra_headers, reason):
    # given
    msg = message(extra_headers + PERSON + b"\r\nhello")

    # when
    got, _ = classify(msg, from_address="anna@example.com", own_addresses=frozenset())

    # then
    assert got == reason


@pytest.mark.parametrize(
    ("from_address", "reason"),
    [
        ("mailer-daemon@mx.example.com", "mailer-daemon"),
        ("postmaster@example.com", "mailer-daemon"),
        ("support@acme.example", "own-address"),
        ("anna@example.com", ""),
    ],
)
def test_sender_rules(from_address, reason):
    # given
    msg = message(PERSON + b"\r\nhello")

    # when
    got, _ = classify(
        msg, from_address=from_address, own_addresses=frozenset({"support@acme.example"})
    )

    # then
    assert got == reason


DSN = (
    b"From: Mail Delivery System <MAILER-DAEMON@mx.example.net>\r\n"
    b"To: support@acme.example\r\n"
    b"Subject: Undelivered Mail Returned to Sender\r\n"
    b"Auto-Submitted: auto-replied\r\n"
    b"MIME-Version: 1.0\r\n"
    b'Content-Type: multipart/report; report-type=delivery-status; boundary="R"\r\n\r\n'
    b"--R\r\nContent-Type: text/plain\r\n\r\nThis is the mail system. Sorry.\r\n"
    b"--R\r\nContent-Type: message/delivery-status\r\n\r\n"
    b"Reporting-MTA: dns; mx.example.net\r\nArrival-Date: Tue, 4 Mar 2025 10:00:00 +0100\r\n\r\n"
    b"Final-Recipient: rfc822; first@example.org\r\nAction: delayed\r\nStatus: 4.4.1\r\n\r\n"
    b"Final-Recipient: rfc822; Nobody@Example.org\r\nOriginal-Recipient: rfc822;nobody@example.org\r\n"
    b"Action: failed\r\nStatus: 5.1.1 (user unknown)\r\n"
    b"Diagnostic-Code: smtp; 550 5.1.1 <nobody@example.org>:\r\n"
    b"    Recipient address rejected: User unknown\r\n\r\n"
    b"--R\r\nContent-Type: message/rfc822\r\n\r\n"
    b"From: Acme <support@acme.example>\r\nMessage-ID: <prm.42@acme.example>\r\n"
    b"Subject: Re: your order\r\n\r\nHello\r\n"
    b"--R--\r\n"
)


def test_dsn_reports_the_failed_recipient_and_the_original_message():
    # given
    msg = message(DSN)

    # when
    reason, bounce = classify(
        msg, from_address="mailer-daemon@mx.example.net", own_addresses=frozenset()
    )

    # then
    assert reason == "bounce"
    assert bounce == Bounce(
        original_message_id="prm.42@acme.example",
        recipient="nobody@example.org",
        status="5.1.1",
        diagnostic="550 5.1.1 <nobody@example.org>: Recipient address rejected: User unknown",
        permanent=True,
    )


def test_delay_notice_is_a_bounce_but_not_permanent():
    # given
    raw = DSN.replace(
        b"Action: failed\r\nStatus: 5.1.1 (user unknown)", b"Action: delayed\r\nStatus: 4.4.7"
    )

    # when
    bounce = parse_bounce(message(raw))

    # then
    assert (bounce.recipient, bounce.status, bounce.permanent) == (
        "first@example.org",
        "4.4.1",
        False,
    )


def test_headers_only_return_and_text_rfc822_headers():
    # given: Exchange returns only the headers of the original message
    raw = (
        b"From: postmaster@contoso.example\r\nSubject: Undeliverable\r\n"
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="R"\r\n\r\n'
        b"--R\r\nContent-Type: text/plain\r\n\r\nDelivery has failed.\r\n"
        b"--R\r\nContent-Type: message/delivery-status\r\n\r\n"
        b"Final-Recipient: rfc822;x@contoso.example\r\nAction: failed\r\nStatus: 5.2.2\r\n\r\n"
        b"--R\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        b"From: support@acme.example\r\nMessage-ID:\r\n <prm.77@acme.example>\r\n\r\n"
        b"--R--\r\n"
    )

    # when
    parsed = parse_email(raw)

    # then
    assert parsed.automated == "bounce"
    assert parsed.bounce == Bounce("prm.77@acme.example", "x@contoso.example", "5.2.2", "", True)
    assert parsed.text == "Delivery has failed."


def test_bounce_without_a_report_reads_the_text():
    # given: a plain-text failure notice (qmail, old Gmail)
    raw = (
        b"From: MAILER-DAEMON@mail.example.com\r\nSubject: failure notice\r\n\r\n"
        b"Hi. This is the qmail-send program. I'm afraid I wasn't able to deliver your message.\r\n"
        b"<nobody@example.org>:\r\n550 5.1.1 user unknown\r\n\r\n"
        b"--- Below this line is a copy of the message.\r\n\r\n"
        b"Message-ID: <prm.99@acme.example>\r\nSubject: Re: order\r\n"
    )

    # when
    parsed = parse_email(raw)

    # then
    assert parsed.automated == "mailer-daemon"
    assert parsed.bounce == Bounce("prm.99@acme.example", "", "5.1.1", "", True)


def test_top_level_delivery_status_is_a_bounce():
    # given
    raw = (
        b"Content-Type: message/delivery-status\r\n\r\n"
        b"Reporting-MTA: dns; a.example.com\r\n\r\n"
        b"Final-Recipient: RFC822; <demo@example.com>\r\nAction: failed\r\nStatus: 5.0.0\r\n"
    )

    # when
    parsed = parse_email(raw)

    # then
    assert parsed.automated == "bounce"
    assert parsed.bounce == Bounce("", "demo@example.com", "5.0.0", "", True)
    assert parsed.text == (
        "Reporting-MTA: dns; a.example.com\n\n"
        "Final-Recipient: RFC822; <demo@example.com>\nAction: failed\nStatus: 5.0.0"
    )


def test_read_receipt_is_automated():
    # given
    raw = (
        b"From: anna@example.com\r\nSubject: Read: your order\r\n"
        b'Content-Type: multipart/report; report-type=disposition-notification; boundary="R"\r\n\r\n'
        b"--R\r\nContent-Type: text/plain\r\n\r\nYour message was read.\r\n"
        b"--R\r\nContent-Type: message/disposition-notification\r\n\r\n"
        b"Disposition: manual-action/MDN-sent-manually; displayed\r\n\r\n"
        b"--R--\r\n"
    )

    # when
    parsed = parse_email(raw)

    # then
    assert (parsed.automated, parsed.bounce) == ("auto-submitted", None)


def test_a_bounce_wins_over_its_auto_submitted_header():
    # given: the DSN also says Auto-Submitted: auto-replied
    msg = message(DSN)

    # when
    reason, _ = classify(msg, from_address="someone@example.net", own_addresses=frozenset())

    # then
    assert reason == "bounce"
