"""Spam defence: suspected spam is kept as a spam case, rate limits refuse with 429."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django_tasks_db.models import DBTaskResult

from premura.accounts.models import User
from premura.contacts.models import Contact
from premura.conversations.models import Conversation, Message, RawInbound
from premura.webforms.models import ContactForm
from tests.webforms.conftest import form_token, submission

pytestmark = pytest.mark.django_db


def _spam_case() -> Conversation:
    conversation = Conversation.objects.get()
    assert conversation.status == "spam"
    assert conversation.team_id is None
    return conversation


@pytest.mark.parametrize(
    ("fields", "reasons"),
    [
        ({"website": "http://cheap.example"}, "honeypot"),
        ({"message": "Visit www.a.example and https://b.example and http://c.example"}, "links"),
        ({"message": "Best SEO services and backlinks for your site, write back."}, "keywords"),
        ({"message": "Crypto investment opportunity: https://x.example"}, "keywords"),
    ],
)
def test_suspected_spam_is_stored_as_a_spam_case(
    contact_form: ContactForm,
    post_form: Callable[..., Any],
    fields: dict[str, str],
    reasons: str,
) -> None:
    # when
    response = post_form(contact_form, submission(contact_form, topic="0", **fields))

    # then the visitor sees the usual confirmation, nothing tells a bot it was caught
    conversation = _spam_case()
    assert response.status_code == 200
    assert conversation.reference in response.text
    assert "We are sending a confirmation" not in response.text
    # kept with why, not routed, not confirmed by email
    assert RawInbound.objects.get().headers["X-Premura-Spam"] == reasons
    assert list(conversation.messages.values_list("kind", flat=True)) == ["customer"]
    assert not DBTaskResult.objects.exists()


def test_form_sent_too_fast_is_spam(
    contact_form: ContactForm, post_form: Callable[..., Any]
) -> None:
    # given a page rendered one second ago (the form asks for at least 3)
    data = submission(contact_form, token=form_token(contact_form, age=1.0))

    # when
    response = post_form(contact_form, data)

    # then
    assert response.status_code == 200
    _spam_case()
    assert RawInbound.objects.get().headers["X-Premura-Spam"] == "too_fast"


def test_page_loaded_and_sent_at_once_is_spam(contact_form: ContactForm) -> None:
    # given a bot that fetches the page and posts its token immediately
    client = Client()
    page = client.get("/forms/contact/")
    token = page.text.split('name="token" value="', 1)[1].split('"', 1)[0]

    # when
    client.post("/forms/contact/", submission(contact_form, token=token))

    # then
    _spam_case()


def test_spam_never_joins_the_customers_real_case(
    contact_form: ContactForm, post_form: Callable[..., Any]
) -> None:
    # given a real case of this customer
    post_form(contact_form, submission(contact_form))

    # when a spam submission comes with the same email
    post_form(contact_form, submission(contact_form, website="filled"))

    # then two cases: the real one open, the spam one apart
    assert sorted(Conversation.objects.values_list("status", flat=True)) == ["open", "spam"]
    assert Contact.objects.count() == 1


def test_spam_case_listed_under_the_spam_status(
    contact_form: ContactForm, post_form: Callable[..., Any], admin: User
) -> None:
    # given
    post_form(contact_form, submission(contact_form, website="filled"))
    conversation = Conversation.objects.get()
    client = Client()
    client.force_login(admin)

    # when
    open_list = client.get("/inbox/")
    spam_list = client.get("/inbox/?status=spam")

    # then
    assert f"/conversations/{conversation.pk}/" not in open_list.text
    assert f"/conversations/{conversation.pk}/" in spam_list.text


def test_rate_limit_per_address_answers_429_and_writes_nothing(
    contact_form: ContactForm, post_form: Callable[..., Any]
) -> None:
    # given a form taking 2 submissions an hour from one address
    ContactForm.objects.filter(pk=contact_form.pk).update(max_per_ip_per_hour=2)
    for number in range(2):
        data = submission(contact_form, email=f"p{number}@example.it")
        assert post_form(contact_form, data).status_code == 200
    before = (Conversation.objects.count(), Message.objects.count(), RawInbound.objects.count())

    # when a third comes from the same address
    response = post_form(contact_form, submission(contact_form, email="p3@example.it"))

    # then
    assert response.status_code == 429
    assert "Too many messages" in response.text
    assert "nothing was sent this time" in response.text
    assert before == (2, 4, 2)
    assert (Conversation.objects.count(), Message.objects.count(), RawInbound.objects.count()) == (
        before
    )
    # another address still gets through
    other = post_form(
        contact_form, submission(contact_form, email="p4@example.it"), ip="198.51.100.9"
    )
    assert other.status_code == 200


def test_rate_limit_per_email(contact_form: ContactForm, post_form: Callable[..., Any]) -> None:
    # given a form taking one submission an hour from one email
    ContactForm.objects.filter(pk=contact_form.pk).update(max_per_email_per_hour=1)
    assert post_form(contact_form, submission(contact_form), ip="198.51.100.1").status_code == 200

    # when the same email writes from elsewhere, with its address in other capitals
    response = post_form(
        contact_form, submission(contact_form, email="MARIO.ROSSI@example.it"), ip="198.51.100.2"
    )

    # then
    assert response.status_code == 429
    assert Message.objects.filter(kind="customer").count() == 1


def test_double_submit_is_not_counted_twice(
    contact_form: ContactForm, post_form: Callable[..., Any]
) -> None:
    # given a limit of one submission per email
    ContactForm.objects.filter(pk=contact_form.pk).update(max_per_email_per_hour=1)
    data = submission(contact_form)

    # when the same page is sent twice
    first = post_form(contact_form, data)
    second = post_form(contact_form, data)

    # then both see the one case
    assert (first.status_code, second.status_code) == (200, 200)
    assert Conversation.objects.count() == 1


def test_limits_at_zero_mean_no_limit(
    contact_form: ContactForm, post_form: Callable[..., Any]
) -> None:
    # given
    ContactForm.objects.filter(pk=contact_form.pk).update(
        max_per_ip_per_hour=0, max_per_email_per_hour=0
    )

    # when
    statuses = [post_form(contact_form, submission(contact_form)).status_code for _ in range(12)]

    # then
    assert statuses == [200] * 12
    assert Message.objects.filter(kind="customer").count() == 12
