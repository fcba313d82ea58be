"""The bulk data generator: consistent cases, KPI timestamps, channels, and repeatable runs."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from io import StringIO

import pytest
from django.core.management import call_command
from django.db.models import Count
from django.test import Client

from premura.accounts.models import User
from premura.channels.models import Inbox
from premura.contacts.models import Contact, Identity
from premura.conversations.models import Conversation, ConversationEvent, Label, Message
from premura.demo.generator import generate
from premura.routing.models import Team
from premura.webforms.models import ContactForm

NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
CLOSED = {"resolved", "closed"}


def _messages_by_conversation() -> dict[int, list[Message]]:
    grouped: dict[int, list[Message]] = defaultdict(list)
    for message in Message.objects.order_by("conversation_id", "sequence"):
        grouped[message.conversation_id].append(message)
    return grouped


@pytest.mark.django_db(transaction=True)
def test_generate_writes_the_requested_conversations_and_reports_counts() -> None:
    # given an empty database

    # when
    result = generate(50, seed=7, progress=False, now=NOW)

    # then
    assert Conversation.objects.count() == 50
    assert result["conversations"] == 50
    assert result["contacts"] == Contact.objects.count()
    assert result["identities"] == Identity.objects.count()
    assert result["messages"] == Message.objects.count()
    assert result["events"] == ConversationEvent.objects.count()
    assert result["conversation_labels"] == Conversation.labels.through.objects.count()
    assert Team.objects.filter(restricted=True).count() == 1
    assert not User.objects.filter(password__startswith="md5").exists()


@pytest.mark.django_db(transaction=True)
def test_message_counts_match_last_sequence_and_sequences_run_from_one() -> None:
    # given
    generate(50, seed=7, progress=False, now=NOW)

    # when
    messages = _messages_by_conversation()

    # then
    for conversation in Conversation.objects.all():
        sequences = [message.sequence for message in messages[conversation.pk]]
        assert sequences == list(range(1, conversation.last_sequence + 1))
        assert all(
            message.inbox_id == conversation.inbox_id for message in messages[conversation.pk]
        )


@pytest.mark.django_db(transaction=True)
def test_every_conversation_has_one_created_event_at_its_creation() -> None:
    # given
    generate(50, seed=7, progress=False, now=NOW)

    # when
    created = ConversationEvent.objects.filter(kind="created").select_related("conversation")

    # then
    assert created.count() == 50
    assert {event.conversation_id for event in created} == set(
        Conversation.objects.values_list("pk", flat=True)
    )
    assert all(event.created_at == event.conversation.created_at for event in created)


@pytest.mark.django_db(transaction=True)
def test_every_message_has_its_event() -> None:
    # given
    generate(50, seed=7, progress=False, now=NOW)

    # when
    by_message = dict(
        ConversationEvent.objects.filter(message__isnull=False).values_list("message_id", "kind")
    )

    # then
    expected = {"customer": "message_in", "agent": "message_out", "note": "note"}
    for message in Message.objects.all():
        assert by_message[message.pk] == expected[message.kind]


@pytest.mark.django_db(transaction=True)
def test_kpi_timestamps_follow_the_messages() -> None:
    # given
    generate(50, seed=7, progress=False, now=NOW)

    # when
    messages = _messages_by_conversation()

    # then
    for conversation in Conversation.objects.all():
        rows = messages[conversation.pk]
        customer = [m.created_at for m in rows if m.kind == "customer"]
        agent = [m.created_at for m in rows if m.kind == "agent"]
        assert conversation.created_at == conversation.first_customer_message_at == customer[0]
        assert conversation.last_customer_message_at == customer[-1]
        assert conversation.first_response_at == (agent[0] if agent else None)
        assert conversation.last_agent_message_at == (agent[-1] if agent else None)
        assert conversation.last_activity_at == max(m.created_at for m in rows if m.kind != "note")
        if conversation.first_response_at is not None:
            assert conversation.first_customer_message_at <= conversation.first_response_at
        assert (conversation.resolved_at is not None) == (conversation.status in CLOSED)
        if conversation.resolved_at is not None:
            assert conversation.resolved_at >= conversation.last_activity_at
        assert (
            NOW - dt.timedelta(days=366)
            <= conversation.created_at
            <= conversation.last_activity_at
            < NOW
        )


@pytest.mark.django_db(transaction=True)
def test_messages_alternate_and_outbound_ones_are_delivered() -> None:
    # given
    generate(50, seed=7, progress=False, now=NOW)

    # when
    messages = _messages_by_conversation()

    # then
    for conversation in Conversation.objects.all():
        public = [m for m in messages[conversation.pk] if m.kind != "note"]
        assert [m.kind for m in public] == ["customer", "agent"] * (len(public) // 2) + [
            "customer"
        ] * (len(public) % 2)
        if conversation.status == "open":
            assert public[-1].kind == "customer"
        if conversation.status in {"pending", "snoozed"}:
            assert public[-1].kind == "agent"
    assert set(Message.objects.filter(kind="agent").values_list("delivery_state", flat=True)) == {
        "delivered",
        "read",
    }
    assert set(Message.objects.filter(kind="customer").values_list("direction", flat=True)) == {
        "in"
    }
    assert Message.objects.filter(kind="customer", provider_message_id="").count() == 0
    assert Message.objects.values("delivery_id").distinct().count() == Message.objects.count()


@pytest.mark.django_db(transaction=True)
def test_contacts_speak_italian_and_english_and_conversations_follow_them() -> None:
    # given
    generate(50, seed=7, progress=False, now=NOW)

    # when
    languages = set(Contact.objects.values_list("language", flat=True))

    # then
    assert languages == {"it", "en"}
    for conversation in Conversation.objects.select_related("contact"):
        assert conversation.language == conversation.contact.language


@pytest.mark.django_db(transaction=True)
def test_contacts_have_the_identity_of_each_channel_they_used() -> None:
    # given
    generate(50, seed=7, progress=False, now=NOW)

    # when
    identities = {(i.contact_id, i.kind, i.scope) for i in Identity.objects.all()}

    # then
    for conversation in Conversation.objects.select_related("inbox"):
        kind = conversation.inbox.kind
        scope = str(conversation.inbox_id) if kind in {"messenger", "instagram", "api"} else ""
        identity_kind = {"webform": "email", "sms": "phone"}.get(kind, kind)
        assert (conversation.contact_id, identity_kind, scope) in identities
    assert all(
        phone.startswith(("+39", "+447"))
        for phone in Contact.objects.exclude(phone="").values_list("phone", flat=True)
    )


@pytest.mark.django_db(transaction=True)
def test_running_twice_appends_without_collisions_and_reuses_reference_data() -> None:
    # given
    first = generate(50, seed=7, progress=False, now=NOW)

    # when
    second = generate(50, seed=7, progress=False, now=NOW)

    # then
    assert Conversation.objects.count() == 100
    assert Message.objects.count() == first["messages"] + second["messages"]
    assert ConversationEvent.objects.count() == first["events"] + second["events"]
    assert Team.objects.count() == 5
    assert User.objects.count() == 9
    assert Inbox.objects.count() == 11
    assert Label.objects.count() == 10
    duplicates = (
        Message.objects.exclude(provider_message_id="")
        .values("inbox_id", "provider_message_id")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
    )
    assert duplicates.count() == 0


@pytest.mark.django_db(transaction=True)
def test_same_seed_makes_the_same_cases() -> None:
    # given
    generate(30, seed=3, progress=False, now=NOW)

    # when
    generate(30, seed=3, progress=False, now=NOW)

    # then
    shape = list(
        Conversation.objects.order_by("pk").values_list(
            "status", "priority", "language", "inbox_id", "last_sequence"
        )
    )
    assert shape[:30] == shape[30:]


@pytest.mark.django_db(transaction=True)
def test_demo_command_loads_and_summarises() -> None:
    # given
    out = StringIO()

    # when
    call_command("demo", conversations=12, seed=2, progress=False, stdout=out)

    # then
    assert Conversation.objects.count() == 12
    assert out.getvalue().startswith("Demo data loaded: 12 conversations, ")
    assert out.getvalue().count("\n") == 1


@pytest.mark.django_db(transaction=True)
def test_the_demo_has_a_working_contact_form_on_its_contact_form_inbox() -> None:
    # given the demo data, loaded twice
    generate(20, seed=3, progress=False, now=NOW)
    generate(20, seed=4, progress=False, now=NOW)

    # when a visitor opens the form
    form = ContactForm.objects.get()
    page = Client().get("/forms/contatti/?lang=en")

    # then it is the demo's contact-form inbox's form, its topics routed to the demo's teams
    assert form.inbox.name == "Modulo contatti del sito"
    assert [(t["label_en"], Team.objects.get(pk=t["team_id"]).name) for t in form.topics] == [
        ("Orders and shipping", "Assistenza clienti"),
        ("Invoices and payments", "Fatturazione"),
        ("Product information", "Vendite"),
    ]
    assert page.status_code == 200
    assert "Write to us" in page.content.decode()
