"""Inboxes: each one configured channel instance ("assistenza@ email", "WhatsApp +39 …")."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from premura.encryption import EncryptedJSONField, EncryptedTextField


class Inbox(models.Model):
    """A configured channel through which customers reach us and we answer."""

    class Kind(models.TextChoices):
        API = "api", _("API")
        EMAIL = "email", _("Email")
        WEBFORM = "webform", _("Contact form")
        WEBCHAT = "webchat", _("Live chat")
        WHATSAPP = "whatsapp", _("WhatsApp")
        MESSENGER = "messenger", _("Messenger")
        INSTAGRAM = "instagram", _("Instagram")
        TELEGRAM = "telegram", _("Telegram")
        SMS = "sms", _("SMS")
        VOICE = "voice", _("Phone")
        REVIEWS = "reviews", _("Reviews")

    name = models.CharField(_("name"), max_length=120)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    team = models.ForeignKey(
        "routing.Team",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="inboxes",
        help_text=_("New conversations of this inbox go to this team."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    # Non-secret configuration of the channel (addresses, page ids …).
    settings = models.JSONField(_("settings"), default=dict, blank=True)
    # Secrets of the channel (passwords, access tokens): encrypted, never shown back.
    credentials = EncryptedJSONField(_("credentials"), default=dict, blank=True)
    # API channel: the bearer token callers use, stored as its SHA-256.
    token_hash = models.CharField(max_length=64, blank=True, db_index=True)
    webhook_url = models.URLField(_("webhook URL"), max_length=500, blank=True)
    webhook_secret = EncryptedTextField(_("webhook secret"), blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("inbox")
        verbose_name_plural = _("inboxes")

    def __str__(self) -> str:
        return self.name
