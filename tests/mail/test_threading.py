"""Threading replies into their case, with the headers Gmail and Outlook really write."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from premura.contacts.models import Contact
from premura.conversations.models import Conversation, Message, format_reference
from premura.conversations.services import reply
from premura.mail.inbound import ingest_email
from premura.mail.models import EmailReference, Mailbox
from premura.mail.parsing import parse_email
from premura.mail.services import create_email_inbox
from premura.mail.threading import find_case, header_ids
from tests.mail.dovecot import make_email

pytestmark = pytest.mark.django_db


@pytest.fixture
def box(db: None) -> Mailbox:
    return create_email_inbox(
        name="Support", address="support@shop.example", secrets={}, imap_host="imap.shop.example"
    )


def _sent(conversation: Conversation, admin: Any, text: str = "Arriva domani") -> str:
    """An agent's reply sent as an email: its Message-ID as the outbound sender records it."""
    message = reply(conversation, admin, text)
    message_id = f"prm.{message.delivery_id}@shop.example"
    Message.objects.filter(pk=message.pk).update(
        delivery_state="sent", provider_message_id=message_id
    )
    EmailReference.objects.create(
        header_message_id=message_id,
        conversation=conversation,
        message=message,
        outbound=True,
        created_at=timezone.now(),
    )
    return message_id


def _agent_started(box: Mailbox, email: str) -> Conversation:
    """A case an agent opened from Premura (no inbound email yet)."""
    contact = Contact.objects.create(email=email, name="Luca Neri")
    now = timezone.now()
    return Conversation.objects.create(
        contact=contact,
        inbox=box.inbox,
        subject="Il suo rimborso",
        created_at=now,
        last_activity_at=now,
    )


def test_gmail_reply_to_an_email_an_agent_started_threads_into_its_case(
    box: Mailbox, admin: Any
) -> None:
    # given: an agent wrote first from Premura
    conversation = _agent_started(box, "luca.neri@gmail.com")
    ours = _sent(conversation, admin, "Le confermiamo il rimborso.")
    # Gmail's reply, headers as Gmail writes them
    raw = make_email(
        sender="Luca Neri <luca.neri@gmail.com>",
        subject=f"Re: Il suo rimborso [{format_reference(conversation.pk)}]",
        message_id="<CAJ8+Bq=Xy7tZk2vP1mW0n_Rq@mail.gmail.com>",
        in_reply_to=f"<{ours}>",
        references=f"<{ours}>",
        body="Grazie mille!",
    )

    # when
    result = ingest_email(box, raw)

    # then
    assert result is not None
    assert result.conversation.pk == conversation.pk
    assert Conversation.objects.count() == 1


def test_outlook_reply_with_rewritten_in_reply_to_threads_through_references(
    box: Mailbox, admin: Any
) -> None:
    # given: the customer's first email, an agent's reply
    first = ingest_email(
        box,
        make_email(
            sender="Paola Bruni <paola.bruni@contoso.it>",
            subject="Consegna mancata",
            message_id="<AM0PR10MB2131A1B2C3@AM0PR10MB2131.EURPRD10.PROD.OUTLOOK.COM>",
        ),
    )
    assert first is not None
    ours = _sent(first.conversation, admin)
    # Outlook (Exchange) points In-Reply-To at its own copy of our email, which we never saw,
    # and keeps the chain in References (folded, as Exchange sends it); the subject is Italian
    # Outlook's "R:".
    raw = (
        "From: Paola Bruni <paola.bruni@contoso.it>\r\n"
        "To: Support <support@shop.example>\r\n"
        "Subject: R: Consegna mancata\r\n"
        "Thread-Topic: Consegna mancata\r\n"
        "Thread-Index: AQHZ8x1k2Lr3m4n5o6p7q8r9s0t1uQ==\r\n"
        "Date: Tue, 14 Nov 2023 09:12:44 +0000\r\n"
        "Message-ID: <AM0PR10MB2131D4E5F6@AM0PR10MB2131.EURPRD10.PROD.OUTLOOK.COM>\r\n"
        "References: <AM0PR10MB2131A1B2C3@AM0PR10MB2131.EURPRD10.PROD.OUTLOOK.COM>\r\n"
        f" <{ours}>\r\n"
        " <DB9PR10MB5678F0E1D2@DB9PR10MB5678.EURPRD10.PROD.OUTLOOK.COM>\r\n"
        "In-Reply-To: <DB9PR10MB5678F0E1D2@DB9PR10MB5678.EURPRD10.PROD.OUTLOOK.COM>\r\n"
        "Accept-Language: it-IT, en-US\r\n"
        "Content-Language: it-IT\r\n"
        "X-MS-Has-Attach:\r\n"
        "X-MS-TNEF-Correlator:\r\n"
        'Content-Type: text/plain; charset="iso-8859-1"\r\n'
        "Content-Transfer-Encoding: quoted-printable\r\n"
        "MIME-Version: 1.0\r\n"
        "\r\n"
        "Grazie, attendo.\r\n"
        "\r\n"
        "________________________________\r\n"
        "Da: Support <support@shop.example>\r\n"
        "Inviato: luned=EC 13 novembre 2023 18:02\r\n"
    ).encode()

    # when
    parsed = parse_email(raw)
    found = find_case(parsed)
    result = ingest_email(box, raw)

    # then
    assert header_ids(parsed)[0] == "DB9PR10MB5678F0E1D2@DB9PR10MB5678.EURPRD10.PROD.OUTLOOK.COM"
    assert found == first.conversation.pk
    assert result is not None
    assert result.conversation.pk == first.conversation.pk


def test_reply_threads_into_the_case_even_from_another_address(box: Mailbox, admin: Any) -> None:
    # given: a colleague of the customer answers our email from their own address
    first = ingest_email(box, make_email(sender="anna@azienda.it", subject="Preventivo"))
    assert first is not None
    ours = _sent(first.conversation, admin)

    # when
    result = ingest_email(
        box,
        make_email(
            sender="marco@azienda.it",
            subject="Re: Preventivo",
            in_reply_to=f"<{ours}>",
            references=f"<{ours}>",
        ),
    )

    # then
    assert result is not None
    assert result.conversation.pk == first.conversation.pk


def test_newest_known_reference_wins(box: Mailbox, admin: Any) -> None:
    # given: two cases whose emails are both in a long chain (a forwarded old thread)
    old = ingest_email(box, make_email(sender="a@example.it", message_id="<old@example.it>"))
    new = ingest_email(box, make_email(sender="b@example.it", message_id="<new@example.it>"))
    assert old is not None
    assert new is not None
    raw = make_email(
        sender="c@example.it",
        references="<old@example.it> <unknown@example.it> <new@example.it>",
        in_reply_to="<not-ours@example.it>",
    )

    # when
    found = find_case(parse_email(raw))

    # then
    assert found == new.conversation.pk


def test_case_reference_in_the_subject_threads_the_customers_new_email(box: Mailbox) -> None:
    # given: the customer writes a new email (no reply headers) quoting the reference
    first = ingest_email(box, make_email(sender="mario@example.it", subject="Reso"))
    assert first is not None
    Conversation.objects.filter(pk=first.conversation.pk).update(status="closed")
    raw = make_email(
        sender="Mario Rossi <MARIO@example.it>",
        subject=f"Ancora sul reso [{format_reference(first.conversation.pk)}]",
    )

    # when
    found = find_case(parse_email(raw), box)

    # then
    assert found == first.conversation.pk


def test_case_reference_of_someone_elses_case_in_another_inbox_is_ignored(
    box: Mailbox,
) -> None:
    # given: a case of another customer in another inbox
    other = create_email_inbox(
        name="Sales", address="sales@shop.example", secrets={}, imap_host="imap.shop.example"
    )
    theirs = ingest_email(other, make_email(sender="mario@example.it", subject="Offerta"))
    assert theirs is not None
    raw = make_email(
        sender="intruder@example.org",
        subject=f"Re: Offerta [{format_reference(theirs.conversation.pk)}]",
    )

    # when
    found = find_case(parse_email(raw), box)
    result = ingest_email(box, raw)

    # then
    assert found is None
    assert result is not None
    assert result.conversation.pk != theirs.conversation.pk


def test_case_reference_of_a_case_of_this_inbox_threads(box: Mailbox) -> None:
    # given: a case of this inbox, written to by someone else who quotes its reference
    first = ingest_email(box, make_email(sender="mario@example.it", subject="Ordine"))
    assert first is not None
    raw = make_email(
        sender="corriere@brt.example",
        subject=f"Consegna [{format_reference(first.conversation.pk)}]",
    )

    # when
    found = find_case(parse_email(raw), box)

    # then
    assert found == first.conversation.pk


def test_reference_to_a_case_that_does_not_exist_opens_a_new_case(box: Mailbox) -> None:
    # given
    raw = make_email(sender="mario@example.it", subject="Re: vecchio [PRM-999999]")

    # when
    found = find_case(parse_email(raw), box)
    result = ingest_email(box, raw)

    # then
    assert found is None
    assert result is not None
    assert result.created is True
    assert result.conversation.subject == "Re: vecchio [PRM-999999]"


def test_reply_into_a_case_of_another_inbox_threads_there(box: Mailbox, admin: Any) -> None:
    # given: our email went out from the Sales inbox; the customer answers to Support
    sales = create_email_inbox(
        name="Sales", address="sales@shop.example", secrets={}, imap_host="imap.shop.example"
    )
    first = ingest_email(sales, make_email(sender="mario@example.it", subject="Offerta"))
    assert first is not None
    ours = _sent(first.conversation, admin)

    # when
    result = ingest_email(
        box, make_email(sender="mario@example.it", in_reply_to=f"<{ours}>", references=f"<{ours}>")
    )

    # then
    assert result is not None
    assert result.conversation.pk == first.conversation.pk


FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "emails"


def _known_reference(box: Mailbox, admin: Any, header_message_id: str) -> Conversation:
    """A case with one email Premura sent under `header_message_id`."""
    conversation = _agent_started(box, "someone@example.it")
    message = reply(conversation, admin, "La ricontattiamo a breve.")
    EmailReference.objects.create(
        header_message_id=header_message_id,
        conversation=conversation,
        message=message,
        outbound=True,
        created_at=timezone.now(),
    )
    return conversation


@pytest.mark.parametrize(
    ("fixture", "ours"),
    [
        # Gmail: In-Reply-To and References both name our email.
        ("gmail-reply.eml", "prm.0f1e2d3c4b5a69788796a5b4c3d2e1f0@acme.example"),
        # Outlook on the web: In-Reply-To names an email we have no record of; the older one
        # in References is ours.
        ("outlook-web-reply.eml", "prm.7c1d5e2f9a8b4c3d2e1f0a9b8c7d6e5f@acme.example"),
        # Outlook desktop (Italian, "R:" subject).
        ("outlook-desktop-reply.eml", "prm.5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b@acme.example"),
    ],
)
def test_real_client_replies_thread_into_our_case(
    box: Mailbox, admin: Any, fixture: str, ours: str
) -> None:
    # given
    conversation = _known_reference(box, admin, ours)
    raw = (FIXTURES / fixture).read_bytes()

    # when
    result = ingest_email(box, raw)

    # then
    assert result is not None
    assert result.conversation.pk == conversation.pk
    assert Conversation.objects.count() == 1
