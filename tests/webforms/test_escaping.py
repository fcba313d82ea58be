"""Markup typed in any field (by a visitor, or by an admin in the form's texts) is shown as text."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from premura.accounts.models import User
from premura.conversations.models import Conversation
from premura.routing.models import Team
from tests.webforms.conftest import make_form, submission

pytestmark = pytest.mark.django_db

XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'
ESCAPED = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;"


def _has_no_markup(html: str) -> None:
    assert "<script>alert" not in html
    assert "<img src=x" not in html


@pytest.fixture
def xss_form(support_team: Team) -> Any:
    """A form whose every admin-written text holds markup."""
    return make_form(
        team=support_team,
        title_en=XSS,
        intro_en=XSS,
        thank_you_en=XSS,
        topics=[{"label_it": XSS, "label_en": XSS, "team_id": None}],
    )


def test_form_page_escapes_the_admins_texts(xss_form: Any) -> None:
    # when
    response = Client().get("/forms/contact/?lang=en")

    # then
    assert response.status_code == 200
    _has_no_markup(response.text)
    assert f"<h1>{ESCAPED}</h1>" in response.text
    assert f'<option value="0">{ESCAPED}</option>' in response.text


def test_refused_submission_echoes_input_escaped(
    xss_form: Any, post_form: Callable[..., Any]
) -> None:
    # when (the message is missing, so the form comes back with what was typed)
    response = post_form(
        xss_form, submission(xss_form, name=XSS, order_number=XSS[:60], message="", lang="en")
    )

    # then
    assert response.status_code == 400
    _has_no_markup(response.text)
    assert f'value="{ESCAPED}"' in response.text


def test_every_field_escaped_on_the_thanks_and_the_agents_pages(
    xss_form: Any, post_form: Callable[..., Any], admin: User
) -> None:
    # given a submission with markup in every text field
    data = submission(xss_form, name=XSS, order_number=XSS[:60], message=XSS, topic="0", lang="en")

    # when
    thanks = post_form(xss_form, data)
    conversation = Conversation.objects.get()
    agent = Client()
    agent.force_login(admin)
    case_page = agent.get(f"/conversations/{conversation.pk}/")
    inbox_page = agent.get("/inbox/")
    contact_page = agent.get(f"/contacts/{conversation.contact_id}/")

    # then the stored text is what was typed, and no page renders it as markup
    assert conversation.messages.get(kind="customer").text.startswith(XSS)
    assert conversation.contact.name == XSS
    for page in (thanks, case_page, inbox_page, contact_page):
        assert page.status_code == 200
        _has_no_markup(page.text)
    assert ESCAPED in thanks.text  # the thank-you text
    assert ESCAPED in case_page.text
    assert ESCAPED in inbox_page.text
