"""The two forms of the app: the settings of a contact form (admins) and the public form itself."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy, pgettext_lazy

from premura.contacts.services import normalize_phone
from premura.mail.models import Mailbox
from premura.routing.models import Team
from premura.webforms.models import FIELD_NAMES, ContactForm, Presence
from premura.webforms.services import CONFIG_FIELDS

# Attachments a visitor may send with one submission, and the size of each.
MAX_FILES = 5
MAX_FILE_BYTES = 10 * 1024 * 1024

# An origin that may embed the form: scheme, host (a leading "*." for every subdomain), port.
ORIGIN = re.compile(
    r"^https?://(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*(:\d{1,5})?$"
)
MAX_ORIGINS = 20
MAX_TOPICS = 30

FIELD_LABELS = {
    "name": _("Name"),
    "email": _("Email"),
    "phone": _("Phone"),
    "topic": pgettext_lazy("contact form field", "Topic"),
    "order_number": _("Order number"),
    "attachments": _("Attachments"),
}


def max_file_bytes() -> int:
    """The largest attachment the form takes: its own limit, never above the core's."""
    return min(MAX_FILE_BYTES, int(settings.PREMURA_MAX_ATTACHMENT_BYTES))


def _find_team(name: str) -> Team | None:
    return (
        Team.objects.filter(name__iexact=name).first()
        or Team.objects.filter(slug__iexact=name).first()
    )


def parse_topics(text: str) -> list[dict[str, Any]]:
    """Topics from the settings textarea, one per line: "Italian | English | team (optional)"."""
    topics: list[dict[str, Any]] = []
    errors: list[ValidationError] = []
    lines = [line.strip() for line in text.splitlines()]
    for number, line in enumerate(lines, start=1):
        if not line:
            continue
        parts = [part.strip() for part in line.split("|")]
        if len(parts) > 3:
            errors.append(
                ValidationError(
                    _("Line %(line)d: write “Italian label | English label | team”."),
                    params={"line": number},
                )
            )
            continue
        label_it, label_en, team_name = [*parts, "", ""][:3]
        if not label_it and not label_en:
            errors.append(
                ValidationError(
                    _("Line %(line)d: the topic needs a label."), params={"line": number}
                )
            )
            continue
        if len(label_it) > 100 or len(label_en) > 100:
            errors.append(
                ValidationError(
                    _("Line %(line)d: a label has at most 100 characters."), params={"line": number}
                )
            )
            continue
        team_id = None
        if team_name:
            team = _find_team(team_name)
            if team is None:
                errors.append(
                    ValidationError(
                        _("Line %(line)d: there is no team called “%(team)s”."),
                        params={"line": number, "team": team_name},
                    )
                )
                continue
            team_id = team.pk
        topics.append({"label_it": label_it, "label_en": label_en, "team_id": team_id})
    if errors:
        raise ValidationError(errors)
    if len(topics) > MAX_TOPICS:
        raise ValidationError(
            _("At most %(count)d topics."), params={"count": MAX_TOPICS}, code="too_many"
        )
    return topics


def format_topics(topics: list[dict[str, Any]]) -> str:
    """The topics as the settings textarea shows them."""
    teams = dict(Team.objects.values_list("pk", "name"))
    lines = []
    for topic in topics:
        parts = [str(topic.get("label_it") or ""), str(topic.get("label_en") or "")]
        team_name = teams.get(int(topic.get("team_id") or 0))
        if team_name:
            parts.append(team_name)
        lines.append(" | ".join(parts))
    return "\n".join(lines)


def parse_origins(text: str) -> list[str]:
    """Origins from the settings textarea, one per line, as a CSP frame-ancestors source."""
    origins: list[str] = []
    for line in text.split():
        origin = line.strip().lower().rstrip("/")
        if not ORIGIN.match(origin):
            raise ValidationError(
                _(
                    "“%(value)s” is not a site address. Write one per line, with https:// and no "
                    "path, e.g. https://shop.example or https://*.shop.example."
                ),
                params={"value": line[:100]},
                code="invalid",
            )
        if origin not in origins:
            origins.append(origin)
    if len(origins) > MAX_ORIGINS:
        raise ValidationError(_("At most %(count)d sites."), params={"count": MAX_ORIGINS})
    return origins


class MailboxChoiceField(forms.ModelChoiceField[Mailbox]):
    """Mailboxes shown by address and inbox."""

    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.address} ({obj.inbox.name})"


def _presence_field(label: Any, *, allow_hidden: bool = True) -> forms.ChoiceField:
    choices = [c for c in Presence.choices if allow_hidden or c[0] != Presence.HIDDEN]
    return forms.ChoiceField(label=label, choices=choices)


class ContactFormSettingsForm(forms.Form):
    """Everything an admin sets on a contact form, validated with a message saying what to fix."""

    name = forms.CharField(label=_("Name"), max_length=120)
    slug = forms.SlugField(
        label=_("Address"),
        max_length=60,
        help_text=_("The form's page is /forms/<address>/: letters, digits and hyphens."),
    )
    is_active = forms.BooleanField(label=_("Active (the page accepts submissions)"), required=False)
    team = forms.ModelChoiceField(
        label=_("Team"),
        queryset=Team.objects.order_by("name"),
        required=False,
        empty_label=_("No team"),
        help_text=_("Cases go to this team, unless the visitor chose a topic with its own team."),
    )
    mailbox = MailboxChoiceField(
        label=_("Send email from"),
        queryset=Mailbox.objects.select_related("inbox").order_by("address"),
        required=False,
        empty_label=_("No email (no confirmation email, replies cannot be sent)"),
        help_text=_(
            "Sends the confirmation email with the case reference and the agents' replies; "
            "the customer's answer threads back into the case."
        ),
    )
    field_name = _presence_field(FIELD_LABELS["name"])
    field_email = _presence_field(FIELD_LABELS["email"])
    field_phone = _presence_field(FIELD_LABELS["phone"])
    field_topic = _presence_field(FIELD_LABELS["topic"])
    field_order_number = _presence_field(FIELD_LABELS["order_number"])
    field_attachments = _presence_field(FIELD_LABELS["attachments"])
    topics = forms.CharField(
        label=_("Topics"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_(
            "One per line: Italian label | English label | team (optional), e.g. "
            "“Ordini | Orders | Support”. The visitor's choice sends the case to that team."
        ),
    )
    title_it = forms.CharField(label=_("Title (Italian)"), max_length=200, required=False)
    title_en = forms.CharField(label=_("Title (English)"), max_length=200, required=False)
    intro_it = forms.CharField(
        label=_("Introduction (Italian)"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    intro_en = forms.CharField(
        label=_("Introduction (English)"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    thank_you_it = forms.CharField(
        label=_("Thank-you text (Italian)"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Shown after sending and added to the confirmation email."),
    )
    thank_you_en = forms.CharField(
        label=_("Thank-you text (English)"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    allowed_origins = forms.CharField(
        label=_("Sites that may embed the form"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("One per line, e.g. https://shop.example. Other sites cannot show it."),
    )
    min_fill_seconds = forms.IntegerField(
        label=_("Minimum fill time (seconds)"),
        min_value=0,
        max_value=600,
        help_text=_("Sent faster than this, a submission is treated as suspected spam."),
    )
    max_per_ip_per_hour = forms.IntegerField(
        label=_("Submissions per hour from one network address"),
        min_value=0,
        max_value=10000,
        help_text=_("0 for no limit. Over the limit the visitor is asked to try later."),
    )
    max_per_email_per_hour = forms.IntegerField(
        label=_("Submissions per hour from one email address"),
        min_value=0,
        max_value=10000,
        help_text=_("0 for no limit."),
    )
    max_links = forms.IntegerField(
        label=_("Links allowed in a message"),
        min_value=0,
        max_value=100,
        help_text=_("More links than this make a submission suspected spam."),
    )

    @classmethod
    def initial_for(cls, form: ContactForm) -> dict[str, Any]:
        """The settings form's values for an existing contact form."""
        initial: dict[str, Any] = {
            "name": form.name,
            "slug": form.slug,
            "is_active": form.is_active,
            "team": form.inbox.team_id,
            "mailbox": form.mailbox_id,
            "topics": format_topics(form.topics or []),
            "allowed_origins": "\n".join(form.allowed_origins or []),
        }
        for field in FIELD_NAMES:
            initial[f"field_{field}"] = form.presence(field)
        for key in (
            "title_it",
            "title_en",
            "intro_it",
            "intro_en",
            "thank_you_it",
            "thank_you_en",
            "min_fill_seconds",
            "max_per_ip_per_hour",
            "max_per_email_per_hour",
            "max_links",
        ):
            initial[key] = getattr(form, key)
        return initial

    @classmethod
    def initial_for_new(cls) -> dict[str, Any]:
        """A new form's defaults: the model's."""
        blank = ContactForm()
        initial: dict[str, Any] = {f"field_{field}": blank.presence(field) for field in FIELD_NAMES}
        initial.update(
            is_active=True,
            min_fill_seconds=blank.min_fill_seconds,
            max_per_ip_per_hour=blank.max_per_ip_per_hour,
            max_per_email_per_hour=blank.max_per_email_per_hour,
            max_links=blank.max_links,
        )
        return initial

    def clean_name(self) -> str:
        value = " ".join(str(self.cleaned_data["name"]).split())
        if not value:
            raise ValidationError(_("Enter a name."), code="required")
        return value

    def clean_slug(self) -> str:
        return str(self.cleaned_data["slug"]).lower()

    def clean_topics(self) -> list[dict[str, Any]]:
        return parse_topics(self.cleaned_data.get("topics") or "")

    def clean_allowed_origins(self) -> list[str]:
        return parse_origins(self.cleaned_data.get("allowed_origins") or "")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        email = data.get("field_email")
        phone = data.get("field_phone")
        if email == Presence.HIDDEN and phone == Presence.HIDDEN:
            self.add_error(
                "field_email",
                _("Show the email or the phone field: a case needs a way to answer the customer."),
            )
        topic_shown = data.get("field_topic") not in (None, Presence.HIDDEN)
        if topic_shown and not data.get("topics") and "topics" not in self.errors:
            self.add_error("topics", _("Add at least one topic, or hide the topic field."))
        return data

    def config(self) -> dict[str, Any]:
        """The cleaned values as create_contact_form / update_contact_form take them."""
        data = self.cleaned_data
        config = {key: data[key] for key in CONFIG_FIELDS if key != "fields"}
        config["fields"] = {field: data[f"field_{field}"] for field in FIELD_NAMES}
        return config


# --- The public form ------------------------------------------------------------------------


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one input (Django's documented pattern)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[UploadedFile]:
        if isinstance(data, list | tuple):
            files = [super(MultipleFileField, self).clean(item, initial) for item in data if item]
        else:
            files = [super().clean(data, initial)] if data else []
        if self.required and not files:
            raise ValidationError(self.error_messages["required"], code="required")
        return [item for item in files if item]


HONEYPOT = "website"


class SubmissionForm(forms.Form):
    """What a visitor fills in, built from the contact form's settings, in their language."""

    token = forms.CharField(widget=forms.HiddenInput, required=False)
    lang = forms.CharField(widget=forms.HiddenInput, required=False)
    # The honeypot: hidden from people by the stylesheet, filled by bots that fill everything.
    website = forms.CharField(
        label=_("Leave this field empty"),
        required=False,
        max_length=2000,
        widget=forms.TextInput(attrs={"autocomplete": "off", "tabindex": "-1"}),
    )

    def __init__(self, contact_form: ContactForm, language: str, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.contact_form = contact_form
        self.language = language
        fields: dict[str, forms.Field] = {}
        presence = contact_form.presence
        if contact_form.shows("name"):
            fields["name"] = forms.CharField(
                label=FIELD_LABELS["name"],
                max_length=200,
                required=presence("name") == Presence.REQUIRED,
                widget=forms.TextInput(attrs={"autocomplete": "name"}),
            )
        if contact_form.shows("email"):
            fields["email"] = forms.EmailField(
                label=FIELD_LABELS["email"],
                max_length=254,
                required=presence("email") == Presence.REQUIRED,
                widget=forms.EmailInput(attrs={"autocomplete": "email"}),
            )
        if contact_form.shows("phone"):
            fields["phone"] = forms.CharField(
                label=FIELD_LABELS["phone"],
                max_length=40,
                required=presence("phone") == Presence.REQUIRED,
                widget=forms.TextInput(attrs={"autocomplete": "tel", "type": "tel"}),
            )
        if contact_form.shows("topic") and contact_form.topics:
            fields["topic"] = forms.TypedChoiceField(
                label=FIELD_LABELS["topic"],
                choices=[("", _("Choose…")), *contact_form.topic_choices(language)],
                coerce=int,
                empty_value=None,
                required=presence("topic") == Presence.REQUIRED,
            )
        if contact_form.shows("order_number"):
            fields["order_number"] = forms.CharField(
                label=FIELD_LABELS["order_number"],
                max_length=60,
                required=presence("order_number") == Presence.REQUIRED,
            )
        fields["message"] = forms.CharField(
            label=_("Message"),
            max_length=10000,
            error_messages={"required": _("Write your message.")},
            widget=forms.Textarea(attrs={"rows": 6}),
        )
        if contact_form.shows("attachments"):
            fields["attachments"] = MultipleFileField(
                label=FIELD_LABELS["attachments"],
                required=presence("attachments") == Presence.REQUIRED,
                help_text=_("Up to %(count)d files of %(size)s each.")
                % {"count": MAX_FILES, "size": filesizeformat(max_file_bytes())},
            )
        # The visitor's fields first, the hidden ones and the honeypot after.
        self.fields = {**fields, **self.fields}

    def clean_phone(self) -> str:
        value = str(self.cleaned_data.get("phone") or "").strip()
        if not value:
            return ""
        try:
            return normalize_phone(value)
        except ValueError as exc:
            raise ValidationError(
                _("Enter a valid phone number, e.g. +39 347 123 4567."), code="invalid"
            ) from exc

    def clean_attachments(self) -> list[UploadedFile]:
        files: list[UploadedFile] = self.cleaned_data.get("attachments") or []
        if len(files) > MAX_FILES:
            raise ValidationError(
                ngettext_lazy(
                    "Attach at most %(count)d file.", "Attach at most %(count)d files.", MAX_FILES
                ),
                params={"count": MAX_FILES},
                code="too_many",
            )
        limit = max_file_bytes()
        for item in files:
            if item.size is not None and item.size > limit:
                raise ValidationError(
                    _("“%(name)s” is larger than %(size)s."),
                    params={"name": item.name, "size": filesizeformat(limit)},
                    code="too_large",
                )
        return files

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        has_contact_field = "email" in self.fields or "phone" in self.fields
        no_contact = not data.get("email") and not data.get("phone")
        field_errors = self.has_error("email") or self.has_error("phone")
        if has_contact_field and no_contact and not field_errors:
            raise ValidationError(
                _("Leave an email address or a phone number, so that we can answer you."),
                code="no_contact",
            )
        return data

    @property
    def honeypot(self) -> forms.BoundField:
        return self[HONEYPOT]

    def visitor_fields(self) -> list[forms.BoundField]:
        """The fields a person sees (neither the hidden ones nor the honeypot)."""
        return [field for field in self.visible_fields() if field.name != HONEYPOT]
