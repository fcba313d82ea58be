"""The embeddable form: framed only by the sites the form allows; the script that frames it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from premura.accounts.models import User
from premura.conversations.models import Conversation
from premura.webforms.models import ContactForm
from tests.webforms.conftest import submission

pytestmark = pytest.mark.django_db


def _directives(header: str) -> dict[str, str]:
    parts = [part.strip().split(" ", 1) for part in header.split(";") if part.strip()]
    return {name: value for name, value in parts}


def test_embed_page_may_be_framed_by_the_allowed_sites_only(contact_form: ContactForm) -> None:
    # given
    ContactForm.objects.filter(pk=contact_form.pk).update(
        allowed_origins=["https://shop.example", "https://*.brand.example"]
    )

    # when
    response = Client().get("/forms/contact/embed")

    # then
    assert response.status_code == 200
    assert "X-Frame-Options" not in response.headers
    csp = _directives(response.headers["Content-Security-Policy"])
    assert csp["frame-ancestors"] == "'self' https://shop.example https://*.brand.example"
    # the rest of the strict policy stays
    assert csp["script-src"] == "'self'"
    assert csp["style-src"] == "'self'"
    assert 'class="webform-page webform-embedded"' in response.text
    assert '<script src="/static/webforms/frame.js" defer></script>' in response.text


def test_embed_answers_keep_the_frame_headers(
    contact_form: ContactForm, post_form: Callable[..., Any]
) -> None:
    # when a framed visitor sends the form (no cookie at all: a third-party iframe)
    sent = post_form(contact_form, submission(contact_form), embed=True)
    refused = post_form(contact_form, submission(contact_form, message=""), embed=True)

    # then the confirmation and the error page can still be framed
    for response in (sent, refused):
        assert "X-Frame-Options" not in response.headers
        csp = _directives(response.headers["Content-Security-Policy"])
        assert csp["frame-ancestors"] == "'self' https://shop.example"
    assert sent.status_code == 200
    assert Conversation.objects.get().reference in sent.text
    assert refused.status_code == 400


def test_own_page_is_never_framed(contact_form: ContactForm) -> None:
    # when
    response = Client().get("/forms/contact/")

    # then
    assert response.headers["X-Frame-Options"] == "DENY"
    assert _directives(response.headers["Content-Security-Policy"])["frame-ancestors"] == "'none'"
    assert "frame.js" not in response.text


def test_no_inline_script_or_style(contact_form: ContactForm) -> None:
    # when
    pages = [Client().get(path) for path in ("/forms/contact/", "/forms/contact/embed")]

    # then
    for page in pages:
        assert "<script>" not in page.text
        assert "<style" not in page.text
        assert " style=" not in page.text
        assert " on" + "submit=" not in page.text


def test_embed_script(contact_form: ContactForm) -> None:
    # when
    response = Client().get("/forms/contact/embed.js")

    # then
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/javascript; charset=utf-8"
    assert response.headers["Cache-Control"] == "public, max-age=300"
    script = response.content.decode()
    assert "document.currentScript" in script
    assert 'replace(/\\/embed\\.js$/, "/embed")' in script
    assert "event.origin !== source.origin" in script


def test_embed_script_of_an_unknown_or_inactive_form(contact_form: ContactForm) -> None:
    # given
    ContactForm.objects.filter(pk=contact_form.pk).update(is_active=False)

    # when
    inactive = Client().get("/forms/contact/embed.js")
    unknown = Client().get("/forms/nope/embed.js")

    # then
    assert (inactive.status_code, unknown.status_code) == (404, 404)


def test_csrf_cookie_is_not_needed(contact_form: ContactForm) -> None:
    # given a client that enforces CSRF like a browser would, and has no cookie
    client = Client(enforce_csrf_checks=True)

    # when
    response = client.post("/forms/contact/embed", submission(contact_form))

    # then the signed form token is what is checked
    assert response.status_code == 200
    assert Conversation.objects.count() == 1


def test_signed_in_agent_sees_the_page_a_visitor_sees(
    contact_form: ContactForm, admin: User
) -> None:
    # given an agent signed in, with a flash message waiting for their next page
    client = Client()
    client.force_login(admin)
    client.post("/settings/labels/new/", {"name": "refund", "color": "#ff0000"})

    # when they open the public form
    response = client.get("/forms/contact/")

    # then no app shell, and their message is not shown (nor used up) here
    assert response.status_code == 200
    assert 'class="topbar"' not in response.text
    assert "refund" not in response.text
    assert "Label “refund” created." in client.get("/settings/labels/").text
