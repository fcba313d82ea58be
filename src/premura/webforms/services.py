"""Writes of the contact form: creating and changing forms, turning a submission into a case."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import translation
from django.utils.translation import gettext as _

from premura.channels.models import Inbox
from premura.contacts.models import Identity
from premura.contacts.services import ContactInfo, IdentityKey
from premura.conversations.ingest import (
    InboundAttachment,
    InboundMessage,
    IngestResult,
    RawPayload,
    ingest,
)
from premura.conversations.models import Conversation, Message
from premura.conversations.services import reply, set_team
from premura.routing.models import Team
from premura.webforms.models import ContactForm

# What the settings form may set on a ContactForm (besides the inbox's name and team).
CONFIG_FIELDS = (
    "name",
    "slug",
    "mailbox",
    "fields",
    "topics",
    "title_it",
    "title_en",
    "intro_it",
    "intro_en",
    "thank_you_it",
    "thank_you_en",
    "allowed_origins",
    "is_active",
    "min_fill_seconds",
    "max_per_ip_per_hour",
    "max_per_email_per_hour",
    "max_links",
)
SUBJECT_WORDS = 8
SUBJECT_CHARS = 120


def create_contact_form(
    *, team: Team | None, inbox: Inbox | None = None, **config: Any
) -> ContactForm:
    """Create a contact form with its own inbox (kind "webform"), whose cases go to `team`; or on
    an existing contact-form inbox (`inbox`, which keeps its team)."""
    unknown = set(config) - set(CONFIG_FIELDS)
    if unknown:
        raise TypeError(f"unknown contact form settings: {sorted(unknown)}")
    if inbox is not None and inbox.kind != Inbox.Kind.WEBFORM:
        raise ValueError("a contact form needs a contact-form inbox")
    # A savepoint: a slug already taken fails here and leaves the caller's transaction usable.
    with transaction.atomic():
        if inbox is None:
            inbox = Inbox.objects.create(
                name=str(config["name"])[:120],
                kind=Inbox.Kind.WEBFORM,
                team=team,
                is_active=bool(config.get("is_active", True)),
            )
        return ContactForm.objects.create(inbox=inbox, **config)


def update_contact_form(form: ContactForm, *, team: Team | None, **config: Any) -> ContactForm:
    """Change a form's settings; its inbox follows its name, team and whether it is active."""
    unknown = set(config) - set(CONFIG_FIELDS)
    if unknown:
        raise TypeError(f"unknown contact form settings: {sorted(unknown)}")
    with transaction.atomic():
        for key, value in config.items():
            setattr(form, key, value)
        form.save(update_fields=list(config))
        inbox = form.inbox
        inbox.name = form.name[:120]
        inbox.team = team
        inbox.is_active = form.is_active
        inbox.save(update_fields=["name", "team", "is_active"])
    return form


@dataclass(frozen=True)
class Submission:
    """A submission the public page validated: what the visitor typed, and how it was judged."""

    submission_id: str  # from the signed form token: one per rendering of the page
    language: str
    message: str
    name: str = ""
    email: str = ""  # as typed; the identity uses it lower-cased
    phone: str = ""  # E.164
    topic: int | None = None  # index into the form's topics
    order_number: str = ""
    attachments: tuple[InboundAttachment, ...] = ()
    spam_reasons: tuple[str, ...] = ()
    ip: str = ""
    user_agent: str = ""


def identity_of(email: str, phone: str) -> IdentityKey:
    """Who the customer is: their email (lower-cased) when given, else their phone."""
    if email:
        return IdentityKey(Identity.Kind.EMAIL, email.strip().lower())
    return IdentityKey(Identity.Kind.PHONE, phone)


def submission_key(submission_id: str, identity: IdentityKey) -> str:
    """The submission's provider message id: the page's id bound to the sender.

    The same page sent twice by the same person (double click, back and send again) is one
    message; should a cache ever hand one page to two visitors, each still gets a case.
    """
    digest = hashlib.sha256(f"{identity.kind}:{identity.external_id}".encode()).hexdigest()
    return f"{submission_id}.{digest[:12]}"


def _topic(form: ContactForm, index: int | None) -> dict[str, Any] | None:
    topics = form.topics or []
    if index is None or not 0 <= index < len(topics):
        return None
    topic = topics[index]
    return topic if isinstance(topic, dict) else None


def _topic_label(topic: dict[str, Any] | None, language: str) -> str:
    if topic is None:
        return ""
    first, second = ("label_it", "label_en") if language == "it" else ("label_en", "label_it")
    return str(topic.get(first) or topic.get(second) or "")


def _subject(topic_label: str, message: str) -> str:
    """The case subject: the topic, then the message's first words."""
    words = message.split()
    start = " ".join(words[:SUBJECT_WORDS])
    if len(words) > SUBJECT_WORDS:
        start += "…"
    subject = f"{topic_label} — {start}" if topic_label and start else topic_label or start
    return subject[:SUBJECT_CHARS]


def _text(submission: Submission) -> str:
    """The case's first message: what the visitor wrote, then the order number on a line."""
    text = submission.message.strip()
    if submission.order_number:
        with translation.override(submission.language):
            line = _("Order number: %(number)s") % {"number": submission.order_number}
        text = f"{text}\n\n{line}"
    return text


def _raw(form: ContactForm, submission: Submission, topic_label: str) -> RawPayload:
    """What was posted, kept as the raw payload (files are stored as attachments)."""
    body = {
        "form": form.slug,
        "language": submission.language,
        "name": submission.name,
        "email": submission.email,
        "phone": submission.phone,
        "topic": topic_label,
        "order_number": submission.order_number,
        "message": submission.message,
        "attachments": [item.filename for item in submission.attachments],
    }
    headers = {"Remote-Addr": submission.ip, "User-Agent": submission.user_agent[:500]}
    if submission.spam_reasons:
        headers["X-Premura-Spam"] = ",".join(submission.spam_reasons)
    return RawPayload(
        body=json.dumps(body, ensure_ascii=False).encode(),
        content_type="application/json",
        headers=headers,
    )


def confirmation_text(form: ContactForm, conversation: Conversation, language: str) -> str:
    """The confirmation email: the case reference and the form's thank-you text.

    It never repeats what the visitor typed: anybody can type anybody's address in a public
    form, and the confirmation must not carry a stranger's words to them.
    """
    with translation.override(language):
        lines = [
            _(
                "Thank you for contacting us. We received your message and opened case "
                "%(reference)s."
            )
            % {"reference": conversation.reference},
            _("Reply to this email to add to your request; please keep the reference."),
        ]
    thank_you = form.text("thank_you", language).strip()
    if thank_you:
        lines.append(thank_you)
    return "\n\n".join(lines)


@dataclass(frozen=True)
class SubmitResult:
    """The case a submission is in; `created` is False for a repeat of an earlier one."""

    ingested: IngestResult
    confirmation: Message | None

    @property
    def conversation(self) -> Conversation:
        return self.ingested.conversation

    @property
    def created(self) -> bool:
        return self.ingested.created


def submit(form: ContactForm, submission: Submission) -> SubmitResult:
    """Turn a submission into a case of the form's inbox, in one transaction.

    Suspected spam opens a case with status "spam" (never routed, never confirmed). Otherwise a
    new case goes to the chosen topic's team (set here, so routing, which only gives a case
    without a team its inbox's team, leaves it there) and, when the form has a mailbox and the
    visitor an email address, a confirmation email with the reference is queued with it. A repeat
    of a submission (the same form token and sender) writes nothing and returns the first case.
    """
    spam = bool(submission.spam_reasons)
    identity = identity_of(submission.email, submission.phone)
    topic = _topic(form, submission.topic)
    topic_label = _topic_label(topic, submission.language)
    inbound = InboundMessage(
        provider_message_id=submission_key(submission.submission_id, identity),
        contact=ContactInfo(
            identity=identity,
            name=submission.name,
            email=submission.email.strip().lower(),
            phone=submission.phone,
            language=submission.language,
        ),
        text=_text(submission),
        subject=_subject(topic_label, submission.message),
        language=submission.language,
        attachments=submission.attachments,
        spam=spam,
    )
    confirmation = None
    with transaction.atomic():
        result = ingest(form.inbox, inbound, _raw(form, submission, topic_label))
        if result.created and not spam:
            conversation = result.conversation
            team_id = topic.get("team_id") if topic is not None else None
            if result.message.sequence == 1 and team_id:
                team = Team.objects.filter(pk=team_id).first()
                if team is not None:  # a deleted team: the inbox's team takes the case
                    set_team(conversation, None, team=team)
            if form.mailbox_id is not None and submission.email:
                text = confirmation_text(form, conversation, submission.language)
                confirmation = reply(conversation, None, text, kind=Message.Kind.AUTOMATIC)
    return SubmitResult(ingested=result, confirmation=confirmation)
