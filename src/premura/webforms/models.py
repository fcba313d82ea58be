"""Contact forms: a public page (and its embeddable twin) whose submissions become cases."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.utils.translation import gettext_lazy as _

# The fields a form may show, in the order the page shows them. The message is always shown and
# always required; email or phone must be shown (a case needs a way back to the customer).
FIELD_NAMES = ("name", "email", "phone", "topic", "order_number", "attachments")


class Presence(models.TextChoices):
    """Whether a configurable field is on the page, and whether it must be filled."""

    HIDDEN = "hidden", _("Hidden")
    OPTIONAL = "optional", _("Optional")
    REQUIRED = "required", _("Required")


def default_fields() -> dict[str, str]:
    """A new form asks for a name and an email, offers the rest as optional, hides attachments."""
    return {
        "name": Presence.REQUIRED,
        "email": Presence.REQUIRED,
        "phone": Presence.OPTIONAL,
        "topic": Presence.HIDDEN,
        "order_number": Presence.OPTIONAL,
        "attachments": Presence.HIDDEN,
    }


class ContactForm(models.Model):
    """A public contact form: its page, what it asks, where its cases go, how it fights spam.

    Its submissions are messages of its own inbox (kind "webform"), created with the form. The
    `fields` and `topics` JSON are written only through the settings form, which validates them.
    """

    inbox = models.OneToOneField(
        "premura_channels.Inbox", on_delete=models.PROTECT, related_name="contact_form"
    )
    name = models.CharField(_("name"), max_length=120)
    slug = models.SlugField(_("address"), max_length=60, unique=True)
    # Sends the confirmation email and agents' replies; without one, no email leaves.
    mailbox = models.ForeignKey(
        "mail.Mailbox",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="contact_forms",
        verbose_name=_("send email from"),
    )
    # {"name": "required", "email": "required", "phone": "optional", ...} (FIELD_NAMES, Presence).
    fields = models.JSONField(_("fields"), default=default_fields)
    # [{"label_it": "Ordini", "label_en": "Orders", "team_id": 3 or None}, ...]
    topics = models.JSONField(_("topics"), default=list, blank=True)
    title_it = models.CharField(_("title (Italian)"), max_length=200, blank=True)
    title_en = models.CharField(_("title (English)"), max_length=200, blank=True)
    intro_it = models.TextField(_("introduction (Italian)"), blank=True)
    intro_en = models.TextField(_("introduction (English)"), blank=True)
    thank_you_it = models.TextField(_("thank-you text (Italian)"), blank=True)
    thank_you_en = models.TextField(_("thank-you text (English)"), blank=True)
    # Sites allowed to embed the form ("https://shop.example"): its frame-ancestors.
    allowed_origins = models.JSONField(_("sites that may embed the form"), default=list, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    min_fill_seconds = models.PositiveSmallIntegerField(_("minimum fill time (seconds)"), default=3)
    max_per_ip_per_hour = models.PositiveSmallIntegerField(
        _("submissions per hour from one address"), default=10
    )
    max_per_email_per_hour = models.PositiveSmallIntegerField(
        _("submissions per hour from one email"), default=5
    )
    max_links = models.PositiveSmallIntegerField(_("links allowed in a message"), default=2)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("contact form")
        verbose_name_plural = _("contact forms")

    def __str__(self) -> str:
        return self.name

    def presence(self, field: str) -> str:
        """Hidden, optional or required, for one of FIELD_NAMES."""
        value = (self.fields or {}).get(field, default_fields()[field])
        return str(value) if value in Presence.values else Presence.HIDDEN

    def shows(self, field: str) -> bool:
        return self.presence(field) != Presence.HIDDEN

    def text(self, name: str, language: str) -> str:
        """A configured text (title, intro, thank_you) in the language, else the other one's."""
        first, second = ("it", "en") if language == "it" else ("en", "it")
        value: Any = getattr(self, f"{name}_{first}") or getattr(self, f"{name}_{second}")
        return str(value)

    def topic_choices(self, language: str) -> list[tuple[str, str]]:
        """The topics as (index, label in the language) for the dropdown."""
        key, other = ("label_it", "label_en") if language == "it" else ("label_en", "label_it")
        return [
            (str(index), str(topic.get(key) or topic.get(other) or ""))
            for index, topic in enumerate(self.topics or [])
        ]
