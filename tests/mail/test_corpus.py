"""Every message of the shared real-world corpus parses, keeps its subject, text and files.

The corpus (220 messages from the test suites of mail libraries, each with its origin in
MANIFEST.tsv) lives outside the repository, in `../shared/corpus/emails/` (present in CI), or
where PREMURA_EMAIL_CORPUS points.
"""

from __future__ import annotations

import email
import html
import re
from email import policy
from email.message import Message
from pathlib import Path

import pytest

from premura.mail.loops import Bounce
from premura.mail.parsing import MAX_SUBJECT_CHARS, ParsedEmail, parse_email
from tests.helpers import email_corpus_dir


def corpus_dir() -> Path:
    return email_corpus_dir()


def manifest() -> list[str]:
    """The corpus's file names, from MANIFEST.tsv; [] when the corpus is missing."""
    path = corpus_dir() / "MANIFEST.tsv"
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()[1:]
    return [line.split("\t", 1)[0] for line in lines if line.strip()]


NAMES = manifest()
REPORT_PARTS = {
    "message/delivery-status",
    "message/global-delivery-status",
    "message/disposition-notification",
    "message/global-disposition-notification",
    "message/feedback-report",
    "message/external-body",
    "message/partial",
}


def test_the_corpus_is_there():
    # then: a missing corpus must fail, not silently test nothing
    assert len(NAMES) == 220, f"email corpus not found in {corpus_dir()} (PREMURA_EMAIL_CORPUS)"


def stdlib_message(raw: bytes) -> Message:
    return email.message_from_bytes(raw, policy=policy.default)


def leaves(msg: Message) -> list[Message]:
    """The parts that are not multipart (a forwarded message is one leaf), in order."""
    payload = msg.get_payload()
    if msg.get_content_maintype() == "multipart" and isinstance(payload, list):
        return [leaf for part in payload for leaf in leaves(part)]
    return [msg]


def decodable(value: str) -> bool:
    return "\ufffd" not in value and not re.search(r"[\ud800-\udfff]", value)


def stdlib_subject(msg: Message) -> str | None:
    """The stdlib's decoded Subject, or None when it could not decode it cleanly."""
    try:
        value = msg["subject"]
    except Exception:
        return None
    if value is None:
        return ""
    text = str(value).replace("\x00", "").strip()
    return text if decodable(text) else None


def has_words(part: Message) -> bool:
    """A text/plain or text/html body part (not a file) with some words in it."""
    if part.get_content_type() not in ("text/plain", "text/html"):
        return False
    if part.get_filename() or part.get_content_disposition() == "attachment":
        return False
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return False
    content = payload.decode("latin-1")
    if part.get_content_type() == "text/html":
        content = html.unescape(re.sub(r"<[^>]*>|<!--.*?-->", " ", content, flags=re.DOTALL))
    return bool(content.strip())


@pytest.mark.parametrize("name", NAMES)
def test_corpus_message(name):
    # given
    raw = (corpus_dir() / name).read_bytes()
    msg = stdlib_message(raw)

    # when
    parsed = parse_email(raw)

    # then: the subject is the stdlib's decoded Subject (cut when it is absurdly long)
    expected_subject = stdlib_subject(msg)
    if expected_subject is not None:
        if len(expected_subject) > MAX_SUBJECT_CHARS:
            assert expected_subject.startswith(parsed.subject)
            assert len(parsed.subject) > MAX_SUBJECT_CHARS // 2
        else:
            assert parsed.subject == expected_subject

    # then: one file per non-text part, and every named file keeps its name
    files = [
        leaf
        for leaf in leaves(msg)
        if leaf.get_content_maintype() not in ("text", "multipart")
        and leaf.get_content_type() not in REPORT_PARTS
    ]
    kept = [a for a in parsed.attachments if not a.content_type.startswith("text/")]
    assert len(kept) == len(files)
    kept_names = {a.filename for a in parsed.attachments}
    for leaf in files:
        filename = leaf.get_filename()
        if filename and decodable(filename) and "=?" not in filename:
            assert re.split(r"[\\/]", filename)[-1].strip() in kept_names

    # then: a message with words in a text part has text
    if any(has_words(leaf) for leaf in leaves(msg)):
        assert parsed.text.strip()

    # then: nothing a database refuses
    for value in (parsed.subject, parsed.text, parsed.html, parsed.from_name):
        assert "\x00" not in value
        value.encode("utf-8")


def parse(name: str) -> ParsedEmail:
    return parse_email((corpus_dir() / name).read_bytes())


def attachment_names(parsed: ParsedEmail) -> list[tuple[str, str]]:
    return [(a.filename, a.content_type) for a in parsed.attachments]


def test_hand_picked_bounces():
    # when
    mailbox_full = parse("flanker__mailbox-full.eml")
    office365 = parse("flanker__office365.eml")
    delayed = parse("flanker__no-mx.eml")
    report_530 = parse("ruby-mail__report_530.eml")
    list_bounce = parse("cpython__msg_16.txt.eml")
    gmail = parse("flanker__gmail-invalid-address.eml")

    # then
    assert (mailbox_full.automated, mailbox_full.bounce) == (
        "bounce",
        Bounce(
            "4E326A95.3010907@example.com",
            "user@aol.com",
            "5.2.2",
            "552 5.2.2 E4.12 user MAILBOX FULL",
            True,
        ),
    )
    assert office365.automated == "bounce"
    assert office365.subject == "Undeliverable: test_bounce 8"
    assert office365.bounce is not None
    assert (
        office365.bounce.original_message_id,
        office365.bounce.recipient,
        office365.bounce.status,
        office365.bounce.permanent,
    ) == (
        "20171013111011.20866.254C2F3A4D7AA526@ninomail.com",
        "noname@example.com",
        "5.1.10",
        True,
    )
    assert attachment_names(office365) == [("test_bounce 8.eml", "message/rfc822")]
    assert (delayed.automated, delayed.bounce) == (
        "bounce",
        Bounce(
            "19E44CA63F984902B7D654F8FF40F89D@bo",
            "user@example.com",
            "4.4.4",
            "454 4.4.4 [internal] no MX or A for domain",
            False,
        ),
    )
    assert report_530.bounce == Bounce(
        "200712232303.lBNN3jDq002941@mail12.rrrr.com.au",
        "edwin@zzzzzzz.com",
        "5.3.0",
        "553 5.3.0 <edwin@zzzzzzz.com>... Unknown E-Mail Address",
        True,
    )
    # A bounce that also carries List-Id and Precedence: bulk is a bounce first.
    assert list_bounce.automated == "bounce"
    assert list_bounce.bounce is not None
    assert list_bounce.bounce.original_message_id == "002001c144a6$8752e060$56104586@oxy.edu"
    assert attachment_names(list_bounce) == [("[scr] yeah for Ians!!.eml", "message/rfc822")]
    # Gmail's plain-text bounce: the original Message-ID is found in the text.
    assert gmail.automated == "mailer-daemon"
    assert gmail.bounce is not None
    assert gmail.bounce.original_message_id == (
        "CAKsfaBUUGqVZiaMrmH3TRPfq1odQPtM7Ey5YW1SgyJJRHtAjgw@mail.gmail.com"
    )


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("cpython__msg_25.txt.eml", "bounce"),  # Auto-Submitted: auto-generated (failure)
        ("mimekit__bounce.txt.eml", "bounce"),  # X-Auto-Response-Suppress on an Exchange NDR
        ("cpython__msg_32.txt.eml", "precedence"),  # Precedence: bulk
        ("ruby-mail__empty_in_reply_to.eml", "list"),  # List-Id
        ("flanker__disposition-notification.eml", "auto-submitted"),  # a read receipt
        ("flanker__aol.eml", "auto-submitted"),  # an abuse feedback report (ARF)
        ("ruby-mail__basic_email.eml", ""),
    ],
)
def test_hand_picked_automated_reasons(name, reason):
    # when
    parsed = parse(name)

    # then
    assert parsed.automated == reason


def test_hand_picked_subjects_and_files():
    # when
    dingus = parse("cpython__msg_07.txt.eml")
    signed = parse("ruby-mail__raw_email7.eml")
    tnef = parse("mimekit__rich-text.eml")
    japanese = parse("ruby-mail__japanese_attachment_long_name.eml")
    portuguese = parse("ruby-mail__invalid_subject_characters.eml")
    encoded_name = parse("ruby-mail__attachment_with_base64_encoded_name.eml")
    inline_image = parse("ruby-mail__attachment_message_rfc822_inline_image.eml")
    thunderbird = parse("mimekit__thunderbird-signed.txt.eml")

    # then
    assert dingus.subject == "Here is your dingus fish"
    assert attachment_names(dingus) == [("dingusfish.gif", "image/gif")]
    assert attachment_names(signed) == [
        ("test.rb", "text/x-ruby-script"),
        ("test.pdf", "application/pdf"),
        ("smime.p7s", "application/pkcs7-signature"),
    ]
    assert tnef.subject == "Rich Text"
    assert attachment_names(tnef) == [("winmail.dat", "application/ms-tnef")]
    assert japanese.subject == "まみむめも" * 10
    assert attachment_names(japanese) == [("かきくけこ" * 5 + ".txt", "text/plain")]
    assert portuguese.subject.startswith("Formação FrenetikPolis: Mega Campanha")
    # filename==?utf-8?B?…?= is dropped by the stdlib's header parser; read from the raw header.
    assert attachment_names(encoded_name) == [("This is a test.pdf", "application/pdf")]
    assert [(a.filename, a.content_type, a.inline) for a in inline_image.attachments] == [
        ("img.png", "image/png", True),
        ("Testmail.eml", "message/rfc822", False),
    ]
    assert thunderbird.subject == "This is a test of signing with S/MIME"
    assert attachment_names(thunderbird) == [
        ("signed.jpg", "image/jpeg"),
        ("smime.p7s", "application/pkcs7-signature"),
    ]
