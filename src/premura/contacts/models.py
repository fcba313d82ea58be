"""A customer, the identities through which they reach us, and the organization they belong to."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class Organization(models.Model):
    """A company the customer belongs to."""

    name = models.CharField(_("name"), max_length=200)
    domain = models.CharField(_("domain"), max_length=200, blank=True, db_index=True)
    notes = models.TextField(_("notes"), blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("organization")
        verbose_name_plural = _("organizations")
        # The organizations list pages through names by cursor.
        indexes = [models.Index(fields=["name", "id"], name="organization_name_idx")]

    def __str__(self) -> str:
        return self.name


class Contact(models.Model):
    """A customer: one record, one history, whatever channel they use."""

    name = models.CharField(_("name"), max_length=200, blank=True)
    email = models.EmailField(_("email"), blank=True)
    phone = models.CharField(_("phone"), max_length=32, blank=True, help_text=_("E.164"))
    organization = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.SET_NULL, related_name="contacts"
    )
    language = models.CharField(_("language"), max_length=8, blank=True)
    attributes = models.JSONField(_("custom attributes"), default=dict, blank=True)
    notes = models.TextField(_("notes"), blank=True)
    # A contact merged into another keeps its row so links to it still resolve.
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="merged_from"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")
        indexes = [
            models.Index(fields=["email"], name="contact_email_idx"),
            models.Index(fields=["phone"], name="contact_phone_idx"),
            models.Index(fields=["-created_at", "-id"], name="contact_created_idx"),
        ]

    def __str__(self) -> str:
        return self.name or self.email or self.phone or f"#{self.pk}"


class Identity(models.Model):
    """How a contact is known on one channel: an email address, a phone number, a WhatsApp id …

    `scope` separates ids that are only unique within something: a Messenger page-scoped id is
    scoped by the page, the API channel's caller identifier by its inbox. Global ids (email, phone)
    have an empty scope.
    """

    class Kind(models.TextChoices):
        EMAIL = "email", _("Email")
        PHONE = "phone", _("Phone")
        WHATSAPP = "whatsapp", _("WhatsApp")
        TELEGRAM = "telegram", _("Telegram")
        MESSENGER = "messenger", _("Messenger")
        INSTAGRAM = "instagram", _("Instagram")
        WEBCHAT = "webchat", _("Web chat")
        API = "api", _("API")

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="identities")
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    scope = models.CharField(_("scope"), max_length=64, blank=True, default="")
    external_id = models.CharField(_("external id"), max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("identity")
        verbose_name_plural = _("identities")
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "scope", "external_id"], name="identity_unique_per_channel"
            ),
            models.CheckConstraint(condition=~Q(external_id=""), name="identity_external_id_set"),
        ]

    def __str__(self) -> str:
        return f"{self.kind}:{self.external_id}"


class ContactMerge(models.Model):
    """One contact merged into another: who did it, and exactly what moved, so it can be undone.

    Undo moves back the identities and conversations listed here (those still on the target),
    restores the target's fields the merge filled (unless edited since) and the source itself.
    """

    source = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="merges_out")
    target = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="merges_in")
    merged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField()
    identity_ids = models.JSONField(default=list)
    conversation_ids = models.JSONField(default=list)
    # The target's fields the merge filled from the source: {field: [before, after]}.
    filled_fields = models.JSONField(default=dict)
    # Custom attributes the source brought that the target lacked: {key: value}.
    added_attributes = models.JSONField(default=dict)
    undone_at = models.DateTimeField(null=True, blank=True)
    undone_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("contact merge")
        verbose_name_plural = _("contact merges")
        indexes = [models.Index(fields=["target", "-created_at"], name="contact_merge_target_idx")]

    def __str__(self) -> str:
        return f"{self.source_id} → {self.target_id}"
