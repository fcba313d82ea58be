"""ingest(): the options channels use beyond the API channel's (named case, automated, spam)."""

from __future__ import annotations

import pytest

from premura.channels.models import Inbox
from premura.channels.services import NewAPIInbox
from premura.contacts.services import ContactInfo, IdentityKey
from premura.conversations.ingest import InboundMessage, ingest
from premura.conversations.models import Conversation, ConversationEvent


def _inbound(message_id: str, identifier: str = "c-1", **options: object) -> InboundMessage:
    return InboundMessage(
        provider_message_id=message_id,
        contact=ContactInfo(identity=IdentityKey("api", identifier, "test"), name="Anna"),
        text=f"text {message_id}",
        **options,  # type: ignore[arg-type]
    )


@pytest.mark.django_db
def test_a_message_threads_into_the_case_the_channel_named_even_from_another_inbox(
    api_inbox: NewAPIInbox,
) -> None:
    # given a resolved case in a contact-form inbox
    form_inbox = Inbox.objects.create(name="Form", kind=Inbox.Kind.WEBFORM)
    first = ingest(form_inbox, _inbound("form-1")).conversation
    Conversation.objects.filter(pk=first.pk).update(status=Conversation.Status.RESOLVED)
    # when the customer's answer arrives in another inbox, naming that case
    result = ingest(api_inbox.inbox, _inbound("mail-1", conversation_id=first.pk))
    # then it joined the case, which reopened
    first.refresh_from_db()
    assert result.conversation.pk == first.pk
    assert result.message.sequence == 2
    assert first.status == Conversation.Status.OPEN
    assert list(
        ConversationEvent.objects.filter(
            conversation=first, kind=ConversationEvent.Kind.REOPENED
        ).values_list("payload", flat=True)
    ) == [{"from": "resolved"}]


@pytest.mark.django_db
def test_a_named_case_that_no_longer_exists_threads_as_usual(api_inbox: NewAPIInbox) -> None:
    # given the contact's open case
    open_case = ingest(api_inbox.inbox, _inbound("m-1")).conversation
    # when a message names a case that is gone
    result = ingest(api_inbox.inbox, _inbound("m-2", conversation_id=open_case.pk + 1000))
    # then it joins the open case
    assert result.conversation.pk == open_case.pk
    assert Conversation.objects.count() == 1


@pytest.mark.django_db
def test_suspected_spam_opens_a_spam_case_of_its_own_and_is_not_routed(
    api_inbox: NewAPIInbox,
) -> None:
    # given the contact's open case
    open_case = ingest(api_inbox.inbox, _inbound("m-1")).conversation
    # when the same contact's next message is suspected spam
    result = ingest(api_inbox.inbox, _inbound("m-2", spam=True))
    # then it is a case of its own, marked spam, never given to a team
    spam_case = result.conversation
    spam_case.refresh_from_db()
    assert spam_case.pk != open_case.pk
    assert spam_case.status == Conversation.Status.SPAM
    assert spam_case.team_id is None
    # and the next ordinary message still joins the open case, not the spam one
    assert ingest(api_inbox.inbox, _inbound("m-3")).conversation.pk == open_case.pk


@pytest.mark.django_db
def test_an_automated_message_is_stored_as_such(api_inbox: NewAPIInbox) -> None:
    # when an auto-reply is ingested
    result = ingest(api_inbox.inbox, _inbound("auto-1", automated=True))
    # then the stored message says so
    result.message.refresh_from_db()
    assert result.message.automated is True
    assert ingest(api_inbox.inbox, _inbound("m-2")).message.automated is False
