"""A visitor sends the contact form: the case, its team, contact, text and attachments."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http.multipartparser import MultiPartParser
from django.test import Client
from django_tasks_db.models import DBTaskResult

from premura.accounts.models import User
from premura.contacts.models import Contact, Identity
from premura.conversations.models import (
    Attachment,
    Conversation,
    ConversationEvent,
    Message,
    RawInbound,
)
from premura.routing.models import Team
from premura.routing.tasks import route_conversation
from premura.webforms.models import ContactForm
from tests.webforms.conftest import form_token, make_form, submission

pytestmark = pytest.mark.django_db

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
    b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00"
    b"\x00\x00IEND\xaeB`\x82"
)


def _token_from(html: str) -> str:
    match = re.search(r'name="token" value="([^"]+)"', html)
    assert match is not None
    return match.group(1)


def test_submission_becomes_a_case_of_the_topics_team(
    contact_form: ContactForm,
    orders_team: Team,
    post_form: Callable[..., Any],
) -> None:
    # given
    data = submission(
        contact_form,
        topic="0",
        phone="347 123 4567",
        order_number="A-1042",
        attachments=[
            SimpleUploadedFile("scontrino.png", PNG, content_type="image/png"),
            SimpleUploadedFile("note.txt", b"consegna al portiere", content_type="text/plain"),
        ],
    )

    # when
    response = post_form(contact_form, data, HTTP_ACCEPT_LANGUAGE="it")

    # then the visitor sees the reference
    conversation = Conversation.objects.get()
    assert response.status_code == 200
    assert f'<strong id="case-reference">{conversation.reference}</strong>' in response.text
    assert "Grazie, a presto!" in response.text
    # and the case is in the form's inbox, with the topic's team
    assert conversation.inbox_id == contact_form.inbox_id
    assert conversation.team_id == orders_team.pk
    assert conversation.status == "open"
    assert conversation.language == "it"
    assert conversation.subject == "Ordini — Il mio ordine non è ancora arrivato, potete…"
    # the contact is the email's person, with name and phone
    contact = Contact.objects.get()
    assert (contact.name, contact.email, contact.phone) == (
        "Mario Rossi",
        "mario.rossi@example.it",
        "+393471234567",
    )
    assert sorted(contact.identities.values_list("kind", "external_id")) == [
        ("email", "mario.rossi@example.it"),
        ("phone", "+393471234567"),
    ]
    # the message holds the text and the order number on a line
    message = Message.objects.get(kind="customer")
    assert message.text == (
        "Il mio ordine non è ancora arrivato, potete controllare?\n\nNumero d'ordine: A-1042"
    )
    assert message.html == ""
    assert message.inbox_id == contact_form.inbox_id
    # attachments stored by the core, their type sniffed
    assert sorted(
        Attachment.objects.filter(message=message).values_list("filename", "content_type", "size")
    ) == [("note.txt", "text/plain", 20), ("scontrino.png", "image/png", len(PNG))]
    # the raw payload kept, as JSON
    raw = RawInbound.objects.get()
    assert raw.content_type == "application/json"
    assert raw.headers["Remote-Addr"] == "203.0.113.7"
    assert "X-Premura-Spam" not in raw.headers


def test_routing_task_leaves_the_topics_team(
    contact_form: ContactForm, orders_team: Team, post_form: Callable[..., Any]
) -> None:
    # given a submission with a topic (the inbox's own team is Support)
    post_form(contact_form, submission(contact_form, topic="0"))
    task = DBTaskResult.objects.get(task_path="premura.routing.tasks.route_conversation")

    # when the routing task runs after the commit
    outcome = route_conversation.call(*task.args_kwargs["args"])

    # then the topic's team stays
    assert outcome == "unchanged"
    assert Conversation.objects.get().team_id == orders_team.pk
    assert list(
        ConversationEvent.objects.filter(kind="team_changed").values_list("payload", flat=True)
    ) == [{"from": None, "to": orders_team.pk}]


def test_without_topic_the_inbox_team_takes_the_case(
    contact_form: ContactForm, support_team: Team, post_form: Callable[..., Any]
) -> None:
    # given a topic without a team of its own
    post_form(contact_form, submission(contact_form, topic="2"))
    conversation = Conversation.objects.get()
    assert conversation.team_id is None
    task = DBTaskResult.objects.get(task_path="premura.routing.tasks.route_conversation")

    # when
    outcome = route_conversation.call(*task.args_kwargs["args"])

    # then
    assert outcome == "team"
    conversation.refresh_from_db()
    assert conversation.team_id == support_team.pk
    assert conversation.subject == "Other — Il mio ordine non è ancora arrivato, potete…"


def test_page_token_round_trip_in_english(
    contact_form: ContactForm, post_form: Callable[..., Any]
) -> None:
    # given a visitor who loads the page (a form with no minimum fill time)
    ContactForm.objects.filter(pk=contact_form.pk).update(min_fill_seconds=0)
    client = Client()
    page = client.get("/forms/contact/", HTTP_ACCEPT_LANGUAGE="en-GB,en;q=0.9")
    assert page.status_code == 200
    assert "<h1>Write to us</h1>" in page.text
    assert (
        page.headers["Cache-Control"] == "max-age=0, no-cache, no-store, must-revalidate, private"
    )

    # when they send it with the token it carries
    data = submission(contact_form, token=_token_from(page.text), email="anna@example.com")
    response = post_form(contact_form, data, client=client)

    # then
    assert response.status_code == 200
    conversation = Conversation.objects.get()
    assert conversation.status == "open"
    assert conversation.language == "en"
    assert conversation.contact.email == "anna@example.com"


def test_phone_only_visitor(contact_form: ContactForm, post_form: Callable[..., Any]) -> None:
    # given
    data = submission(contact_form, email="", phone="+39 06 1234 5678")

    # when
    response = post_form(contact_form, data)

    # then the contact is known by phone and no confirmation email is queued
    assert response.status_code == 200
    contact = Contact.objects.get()
    assert list(contact.identities.values_list("kind", "external_id")) == [
        (Identity.Kind.PHONE, "+390612345678")
    ]
    assert not Message.objects.filter(kind="automatic").exists()
    assert "We are sending a confirmation" not in response.text


def test_neither_email_nor_phone_is_refused(
    contact_form: ContactForm, post_form: Callable[..., Any]
) -> None:
    # when
    response = post_form(contact_form, submission(contact_form, email="", phone=""))

    # then
    assert response.status_code == 400
    assert "Leave an email address or a phone number, so that we can answer you." in response.text
    assert Conversation.objects.count() == 0
    assert RawInbound.objects.count() == 0


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"message": "   "}, "Write your message."),
        ({"name": ""}, "This field is required."),
        ({"email": "not-an-address"}, "Enter a valid email address."),
        ({"phone": "12"}, "Enter a valid phone number, e.g. +39 347 123 4567."),
        ({"topic": "7"}, "Select a valid choice. 7 is not one of the available choices."),
    ],
)
def test_invalid_input_says_what_to_fix_and_writes_nothing(
    contact_form: ContactForm, post_form: Callable[..., Any], fields: dict[str, str], error: str
) -> None:
    # when
    response = post_form(contact_form, submission(contact_form, **fields))

    # then
    assert response.status_code == 400
    assert error in response.text
    assert Conversation.objects.count() == 0
    assert RawInbound.objects.count() == 0


def test_too_many_or_too_large_attachments(
    contact_form: ContactForm, post_form: Callable[..., Any], settings: Any
) -> None:
    # given
    settings.PREMURA_MAX_ATTACHMENT_BYTES = 1000
    six = [SimpleUploadedFile(f"f{i}.txt", b"x") for i in range(6)]
    big = [SimpleUploadedFile("big.bin", b"x" * 1001)]

    # when
    too_many = post_form(contact_form, submission(contact_form, attachments=six))
    too_large = post_form(contact_form, submission(contact_form, attachments=big))

    # then
    assert too_many.status_code == 400
    assert "Attach at most 5 files." in too_many.text
    assert too_large.status_code == 400
    assert "“big.bin” is larger than 1000\xa0bytes." in too_large.text
    assert Conversation.objects.count() == 0


def test_oversized_request_is_refused_before_reading_it(
    contact_form: ContactForm, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a request announcing far more than five attachments can weigh
    settings.PREMURA_MAX_ATTACHMENT_BYTES = 1000

    def never(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the body was read")

    monkeypatch.setattr(MultiPartParser, "parse", never)

    # when
    response = Client().post(
        "/forms/contact/",
        submission(contact_form, attachments=[SimpleUploadedFile("a.bin", b"x" * 1_100_000)]),
    )

    # then
    assert response.status_code == 413
    assert "The files are too large." in response.text
    assert Conversation.objects.count() == 0


def test_double_submit_gives_one_case(
    contact_form: ContactForm, post_form: Callable[..., Any]
) -> None:
    # given one rendering of the page, sent twice (double click, or back and send again)
    data = submission(contact_form, token=form_token(contact_form, submission_id="a" * 32))

    # when
    first = post_form(contact_form, data)
    second = post_form(contact_form, data)

    # then
    conversation = Conversation.objects.get()
    assert first.status_code == second.status_code == 200
    assert conversation.reference in first.text
    assert conversation.reference in second.text
    assert Message.objects.filter(kind="customer").count() == 1
    assert Message.objects.filter(kind="automatic").count() == 1
    assert RawInbound.objects.count() == 1


def test_same_page_sent_by_two_people_gives_two_cases(
    contact_form: ContactForm, post_form: Callable[..., Any]
) -> None:
    # given one token (a page a cache should never have shared) sent by two different people
    token = form_token(contact_form, submission_id="b" * 32)

    # when
    post_form(contact_form, submission(contact_form, token=token, email="uno@example.it"))
    post_form(contact_form, submission(contact_form, token=token, email="due@example.it"))

    # then
    assert sorted(Conversation.objects.values_list("contact__email", flat=True)) == [
        "due@example.it",
        "uno@example.it",
    ]


@pytest.mark.parametrize(
    "token",
    ["", "forged", "eyJmIjoxfQ:1xVfQc:badsignature"],
)
def test_missing_or_forged_token_is_refused_with_a_fresh_one(
    contact_form: ContactForm, post_form: Callable[..., Any], token: str
) -> None:
    # when
    response = post_form(contact_form, submission(contact_form, token=token))

    # then the form comes back, filled, with a new token to send again
    assert response.status_code == 400
    assert "The form could not be checked. Send it again, please." in response.text
    assert "Il mio ordine non è ancora arrivato" in response.text
    assert _token_from(response.text) != token
    assert Conversation.objects.count() == 0


def test_token_of_another_form_is_refused(
    contact_form: ContactForm, post_form: Callable[..., Any]
) -> None:
    # given
    other = make_form(slug="other")

    # when
    response = post_form(contact_form, submission(contact_form, token=form_token(other)))

    # then
    assert response.status_code == 400
    assert Conversation.objects.count() == 0


def test_expired_token_asks_to_send_again(
    contact_form: ContactForm, post_form: Callable[..., Any]
) -> None:
    # when
    response = post_form(
        contact_form, submission(contact_form, token=form_token(contact_form, age=2 * 86400))
    )

    # then
    assert response.status_code == 400
    assert "The page was open for too long." in response.text
    assert Conversation.objects.count() == 0


def test_inactive_or_unknown_form_is_not_found(
    contact_form: ContactForm, post_form: Callable[..., Any]
) -> None:
    # given
    ContactForm.objects.filter(pk=contact_form.pk).update(is_active=False)

    # when
    page = Client().get("/forms/contact/")
    post = post_form(contact_form, submission(contact_form))
    unknown = Client().get("/forms/nope/")

    # then
    assert (page.status_code, post.status_code, unknown.status_code) == (404, 404, 404)
    assert Conversation.objects.count() == 0


def test_second_submission_of_an_open_case_joins_it(
    contact_form: ContactForm, post_form: Callable[..., Any]
) -> None:
    # given a first submission, still open
    post_form(contact_form, submission(contact_form, topic="0"))

    # when the same person writes again through the form
    post_form(contact_form, submission(contact_form, message="Aggiungo: il numero è A-1042."))

    # then one case with both messages, each confirmed
    conversation = Conversation.objects.get()
    assert list(conversation.messages.order_by("sequence").values_list("sequence", "kind")) == [
        (1, "customer"),
        (2, "automatic"),
        (3, "customer"),
        (4, "automatic"),
    ]


def test_agent_sees_the_case_in_the_inbox(
    contact_form: ContactForm, post_form: Callable[..., Any], admin: User
) -> None:
    # given
    post_form(contact_form, submission(contact_form, topic="0"))
    client = Client()
    client.force_login(admin)

    # when
    response = client.get("/inbox/")

    # then
    conversation = Conversation.objects.get()
    assert response.status_code == 200
    assert f"/conversations/{conversation.pk}/" in response.text
    assert "Mario Rossi" in response.text
