"""Fixtures of the contact form: a form routing topics to teams, a mailbox, a stand-in email sender."""

from __future__ import annotations

import sys
import time
import types
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.core import signing
from django.core.cache import cache
from django.test import Client

from premura.conversations.models import Message
from premura.conversations.outbox import SendResult
from premura.mail.models import Mailbox
from premura.mail.services import create_email_inbox
from premura.routing.models import Team
from premura.routing.services import create_team
from premura.webforms import tokens
from premura.webforms.models import ContactForm
from premura.webforms.services import create_contact_form


@pytest.fixture(autouse=True)
def _fresh_rate_limits() -> Iterator[None]:
    """Rate-limit counters live in the cache: each test starts with none."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def orders_team(db: None) -> Team:
    return create_team("Orders")


@pytest.fixture
def billing_team(db: None) -> Team:
    return create_team("Billing")


@pytest.fixture
def mailbox(db: None) -> Mailbox:
    """A mailbox that sends through anymail's test backend (emails land in mail.outbox)."""
    return create_email_inbox(
        name="Shop mail",
        address="help@shop.example",
        secrets={},
        inbound="webhook",
        outbound="anymail",
        esp_name="test",
    )


def make_form(
    *,
    team: Team | None = None,
    mailbox: Mailbox | None = None,
    slug: str = "contact",
    **config: Any,
) -> ContactForm:
    values: dict[str, Any] = {
        "name": "Shop contact",
        "slug": slug,
        "mailbox": mailbox,
        "fields": {
            "name": "required",
            "email": "optional",
            "phone": "optional",
            "topic": "optional",
            "order_number": "optional",
            "attachments": "optional",
        },
        "topics": [],
        "title_it": "Scrivici",
        "title_en": "Write to us",
        "intro_it": "Rispondiamo entro un giorno lavorativo.",
        "intro_en": "We answer within one working day.",
        "thank_you_it": "Grazie, a presto!",
        "thank_you_en": "Thank you, talk soon!",
        "allowed_origins": ["https://shop.example"],
    }
    values.update(config)
    return create_contact_form(team=team, **values)


@pytest.fixture
def contact_form(
    support_team: Team, orders_team: Team, billing_team: Team, mailbox: Mailbox
) -> ContactForm:
    """A form whose cases go to Support, or to Orders / Billing by topic; it confirms by email."""
    return make_form(
        team=support_team,
        mailbox=mailbox,
        topics=[
            {"label_it": "Ordini", "label_en": "Orders", "team_id": orders_team.pk},
            {"label_it": "Fatture", "label_en": "Invoices", "team_id": billing_team.pk},
            {"label_it": "Altro", "label_en": "Other", "team_id": None},
        ],
    )


def form_token(form: ContactForm, *, age: float = 60.0, submission_id: str = "") -> str:
    """A token as the page issues it, rendered `age` seconds ago."""
    payload = {"f": form.pk, "t": time.time() - age, "s": submission_id or uuid.uuid4().hex}
    return signing.dumps(payload, salt=tokens.SALT, compress=False)


def submission(form: ContactForm, **fields: Any) -> dict[str, Any]:
    """A valid submission of `form`, filled a minute after the page was rendered."""
    data: dict[str, Any] = {
        "token": form_token(form),
        "name": "Mario Rossi",
        "email": "Mario.Rossi@Example.it",
        "message": "Il mio ordine non è ancora arrivato, potete controllare?",
        "website": "",
    }
    data.update(fields)
    return data


@pytest.fixture
def post_form() -> Callable[..., Any]:
    """POST a submission to a form's page (or its embedded page) from a fresh visitor."""

    def _post(
        form: ContactForm,
        data: dict[str, Any],
        *,
        embed: bool = False,
        client: Client | None = None,
        ip: str = "203.0.113.7",
        **headers: Any,
    ) -> Any:
        client = client or Client()
        path = f"/forms/{form.slug}/embed" if embed else f"/forms/{form.slug}/"
        return client.post(path, data, REMOTE_ADDR=ip, **headers)

    return _post


@dataclass
class SentEmails:
    """What the stand-in for premura.mail.outbound.send_email_for was asked to send."""

    calls: list[tuple[int, int, str]] = field(default_factory=list)


@pytest.fixture
def fake_send_email_for(monkeypatch: pytest.MonkeyPatch) -> SentEmails:
    """Replace H3's send_email_for (or stand in for it when the module is absent)."""
    sent = SentEmails()

    def send_email_for(message: Message, mailbox: Mailbox, *, to: str) -> SendResult:
        sent.calls.append((message.pk, mailbox.pk, to))
        return SendResult(provider_message_id=f"prm.{message.delivery_id}@shop.example")

    try:
        import premura.mail.outbound as outbound
    except ImportError:
        module = types.ModuleType("premura.mail.outbound")
        module.send_email_for = send_email_for  # type: ignore[attr-defined]
        monkeypatch.setitem(sys.modules, "premura.mail.outbound", module)
    else:
        monkeypatch.setattr(outbound, "send_email_for", send_email_for)
    return sent
