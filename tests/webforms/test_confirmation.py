"""The confirmation email with the reference, agents' replies by email, the customer's answer."""

from __future__ import annotations

from collections.abc import Callable
from email.message import EmailMessage
from typing import Any

import pytest
from django.core import mail
from django_tasks_db.models import DBTaskResult

from premura.accounts.models import User
from premura.conversations import outbox
from premura.conversations.models import Conversation, ConversationEvent, Message
from premura.conversations.services import reply
from premura.mail.models import EmailReference, Mailbox
from premura.routing.models import Team
from premura.webforms.models import ContactForm
from tests.webforms.conftest import SentEmails, make_form, submission

pytestmark = pytest.mark.django_db


def _confirmation() -> Message:
    return Message.objects.get(kind="automatic")


def test_confirmation_is_queued_in_the_cases_transaction(
    contact_form: ContactForm, post_form: Callable[..., Any]
) -> None:
    # when
    post_form(contact_form, submission(contact_form, topic="1"), HTTP_ACCEPT_LANGUAGE="en")

    # then an automatic outbound message with the reference, queued with its delivery task
    conversation = Conversation.objects.get()
    confirmation = _confirmation()
    assert confirmation.conversation_id == conversation.pk
    assert (confirmation.direction, confirmation.sequence, confirmation.delivery_state) == (
        "out",
        2,
        "queued",
    )
    assert confirmation.text == (
        f"Thank you for contacting us. We received your message and opened case "
        f"{conversation.reference}.\n\n"
        "Reply to this email to add to your request; please keep the reference.\n\n"
        "Thank you, talk soon!"
    )
    task = DBTaskResult.objects.get(task_path="premura.conversations.tasks.deliver_message")
    assert task.args_kwargs == {"args": [confirmation.pk], "kwargs": {}}
    assert task.queue_name == "outbox"
    event = ConversationEvent.objects.get(kind="message_out")
    assert event.payload == {"sequence": 2, "kind": "automatic"}
    # an automatic message is no answer: the case still waits for a person
    conversation.refresh_from_db()
    assert conversation.last_sequence == 2
    assert conversation.first_response_at is None
    assert conversation.last_agent_message_at is None


def test_confirmation_never_repeats_what_the_visitor_typed(
    contact_form: ContactForm, post_form: Callable[..., Any]
) -> None:
    # when a stranger types someone's address and a message meant for them
    post_form(contact_form, submission(contact_form, message="Cheap watches at shop.example"))

    # then the confirmation carries none of it
    assert "watches" not in _confirmation().text


def test_confirmation_in_italian(contact_form: ContactForm, post_form: Callable[..., Any]) -> None:
    # when
    post_form(contact_form, submission(contact_form, lang="it"))

    # then
    reference = Conversation.objects.get().reference
    assert _confirmation().text == (
        f"Grazie per averci scritto. Abbiamo ricevuto il tuo messaggio e aperto la pratica "
        f"{reference}.\n\n"
        "Rispondi a questa email per aggiungere qualcosa alla tua richiesta; mantieni il "
        "riferimento.\n\n"
        "Grazie, a presto!"
    )


def test_confirmation_delivered_by_the_webform_sender(
    contact_form: ContactForm,
    mailbox: Mailbox,
    post_form: Callable[..., Any],
    fake_send_email_for: SentEmails,
) -> None:
    # given
    post_form(contact_form, submission(contact_form))
    confirmation = _confirmation()

    # when the outbox delivers it
    state = outbox.deliver(confirmation.pk)

    # then the form's mailbox sent it to the address the visitor typed
    assert state == "sent"
    assert fake_send_email_for.calls == [(confirmation.pk, mailbox.pk, "mario.rossi@example.it")]
    confirmation.refresh_from_db()
    assert confirmation.delivery_state == "sent"
    assert confirmation.provider_message_id == f"prm.{confirmation.delivery_id}@shop.example"


def test_confirmation_email_sent_for_real(
    contact_form: ContactForm, post_form: Callable[..., Any]
) -> None:
    # given (anymail's test backend stands for the provider)
    post_form(contact_form, submission(contact_form, topic="0"), HTTP_ACCEPT_LANGUAGE="en")
    confirmation = _confirmation()
    conversation = Conversation.objects.get()

    # when
    outbox.deliver(confirmation.pk)

    # then one email, threaded and marked automatic, with the reference in its subject
    assert len(mail.outbox) == 1
    email = mail.outbox[0]
    message_id = f"prm.{confirmation.delivery_id}@shop.example"
    assert email.to == ["Mario Rossi <mario.rossi@example.it>"]
    assert email.subject == (
        f"Re: Orders — Il mio ordine non è ancora arrivato, potete… [{conversation.reference}]"
    )
    assert email.extra_headers["Message-ID"] == f"<{message_id}>"
    assert email.extra_headers["Auto-Submitted"] == "auto-generated"
    assert conversation.reference in email.body
    assert EmailReference.objects.filter(
        header_message_id=message_id, conversation=conversation, outbound=True
    ).exists()


def test_without_mailbox_no_confirmation_but_the_reference(
    support_team: Team, post_form: Callable[..., Any]
) -> None:
    # given a form with no mailbox
    form = make_form(team=support_team)

    # when
    response = post_form(form, submission(form))

    # then
    conversation = Conversation.objects.get()
    assert conversation.reference in response.text
    assert "We are sending a confirmation" not in response.text
    assert list(conversation.messages.values_list("kind", flat=True)) == ["customer"]


def test_agent_reply_leaves_by_email_through_the_same_sender(
    contact_form: ContactForm,
    mailbox: Mailbox,
    admin: User,
    post_form: Callable[..., Any],
    fake_send_email_for: SentEmails,
) -> None:
    # given a form case
    post_form(contact_form, submission(contact_form))
    conversation = Conversation.objects.get()

    # when an agent replies and the outbox delivers it
    answer = reply(conversation, admin, "Il pacco è partito ieri.")
    state = outbox.deliver(answer.pk)

    # then
    assert state == "sent"
    assert fake_send_email_for.calls == [(answer.pk, mailbox.pk, "mario.rossi@example.it")]


def test_reply_without_mailbox_fails_visibly(
    support_team: Team, admin: User, post_form: Callable[..., Any]
) -> None:
    # given a form case of a form with no mailbox
    form = make_form(team=support_team)
    post_form(form, submission(form))
    conversation = Conversation.objects.get()

    # when
    answer = reply(conversation, admin, "Ci scusi il ritardo.")
    state = outbox.deliver(answer.pk)

    # then
    assert state == "failed"
    answer.refresh_from_db()
    assert answer.delivery_error == (
        "the contact form has no mailbox to send email from (settings → contact forms)"
    )
    assert ConversationEvent.objects.filter(kind="delivery_failed", message=answer).count() == 1


def test_customers_email_reply_threads_into_the_form_case(
    contact_form: ContactForm, mailbox: Mailbox, post_form: Callable[..., Any]
) -> None:
    # given the confirmation, sent (anymail's test backend)
    from premura.mail.inbound import ingest_email

    post_form(contact_form, submission(contact_form))
    conversation = Conversation.objects.get()
    confirmation = _confirmation()
    outbox.deliver(confirmation.pk)
    sent = mail.outbox[0]

    # when the customer answers it from their mail client
    answer = EmailMessage()
    answer["From"] = "Mario Rossi <mario.rossi@example.it>"
    answer["To"] = "help@shop.example"
    answer["Subject"] = f"Re: {sent.subject}"
    answer["Message-ID"] = "<answer-1@example.it>"
    answer["In-Reply-To"] = sent.extra_headers["Message-ID"]
    answer["References"] = sent.extra_headers["Message-ID"]
    answer["Date"] = "Tue, 24 Nov 2026 10:00:00 +0100"
    answer.set_content("Ecco la foto del pacco danneggiato.\n\n> Thank you for contacting us.")
    result = ingest_email(mailbox, answer.as_bytes())

    # then the answer is in the form's case
    assert result is not None
    assert result.message.conversation_id == conversation.pk
    assert result.message.inbox_id == mailbox.inbox_id
    assert list(conversation.messages.order_by("sequence").values_list("kind", "direction")) == [
        ("customer", "in"),
        ("automatic", "out"),
        ("customer", "in"),
    ]
    assert Conversation.objects.count() == 1
