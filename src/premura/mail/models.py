"""Email inboxes: how a mailbox is reached, where fetching stands, and what could not be read.

The mailbox's passwords and OAuth2 tokens live in its inbox's encrypted `credentials`
(keys `imap_password`, `smtp_password`, `oauth_refresh_token`, `oauth_access_token`,
`oauth_client_secret`); everything here is shown back to admins.
"""

from __future__ import annotations

import datetime as dt

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class Mailbox(models.Model):
    """The email settings of an email inbox: its address, IMAP for reading, SMTP for sending."""

    class Security(models.TextChoices):
        TLS = "tls", _("TLS")
        STARTTLS = "starttls", _("STARTTLS")
        NONE = "none", _("None (testing only)")

    class Auth(models.TextChoices):
        PASSWORD = "password", _("Password")
        OAUTH2 = "oauth2", _("OAuth2 (Google Workspace, Microsoft 365)")

    class Inbound(models.TextChoices):
        IMAP = "imap", _("IMAP")
        WEBHOOK = "webhook", _("Provider webhook (Mailgun, Postmark, SendGrid, Amazon SES …)")

    class Outbound(models.TextChoices):
        SMTP = "smtp", _("SMTP")
        ANYMAIL = "anymail", _("Email provider API (anymail)")

    inbox = models.OneToOneField(
        "premura_channels.Inbox", on_delete=models.CASCADE, related_name="mailbox"
    )
    address = models.EmailField(_("address"), max_length=254)
    # Shown in From: "Anna Rossi via <from_name>"; the inbox's name when empty.
    from_name = models.CharField(_("sender name"), max_length=120, blank=True)
    signature = models.TextField(_("signature"), blank=True)
    auth = models.CharField(_("sign-in"), max_length=16, choices=Auth.choices, default="password")
    inbound = models.CharField(
        _("receive through"), max_length=16, choices=Inbound.choices, default="imap"
    )
    outbound = models.CharField(
        _("send through"), max_length=16, choices=Outbound.choices, default="smtp"
    )

    imap_host = models.CharField(_("IMAP host"), max_length=255, blank=True)
    imap_port = models.PositiveIntegerField(_("IMAP port"), default=993)
    imap_security = models.CharField(
        _("IMAP security"), max_length=16, choices=Security.choices, default="tls"
    )
    imap_user = models.CharField(_("IMAP user"), max_length=255, blank=True)
    folder = models.CharField(_("folder"), max_length=255, default="INBOX")
    use_idle = models.BooleanField(_("use IDLE when the server supports it"), default=True)
    poll_seconds = models.PositiveIntegerField(_("poll interval (seconds)"), default=60)
    # Where fetching starts on the first connection: new mail only (None), or mail since a date
    # (imported as history: no acknowledgements, no rules that send, no notifications).
    fetch_since = models.DateField(_("fetch mail since"), null=True, blank=True)

    smtp_host = models.CharField(_("SMTP host"), max_length=255, blank=True)
    smtp_port = models.PositiveIntegerField(_("SMTP port"), default=587)
    smtp_security = models.CharField(
        _("SMTP security"), max_length=16, choices=Security.choices, default="starttls"
    )
    smtp_user = models.CharField(_("SMTP user"), max_length=255, blank=True)
    # anymail: the ESP name ("mailgun", "postmark", "sendgrid" …), its API's address where it is
    # not the provider's default (Postal and Unisender Go: always; Mailgun, SparkPost: EU
    # accounts) and Mailgun's sending domain when it is not the address's. The keys are in the
    # inbox's credentials ("api_key", Mailjet's "secret_key").
    esp_name = models.CharField(_("email provider"), max_length=40, blank=True)
    esp_api_url = models.URLField(_("provider API URL"), max_length=500, blank=True)
    esp_sender_domain = models.CharField(_("provider sending domain"), max_length=255, blank=True)

    # OAuth2 (auth = oauth2): the provider's endpoints and client id; the secret and the tokens
    # are in the inbox's credentials.
    oauth_provider = models.CharField(max_length=20, blank=True)  # "google", "microsoft", "custom"
    oauth_client_id = models.CharField(max_length=255, blank=True)
    oauth_authorize_url = models.URLField(max_length=500, blank=True)
    oauth_token_url = models.URLField(max_length=500, blank=True)
    oauth_scope = models.CharField(max_length=500, blank=True)
    oauth_expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("mailbox")
        verbose_name_plural = _("mailboxes")

    def __str__(self) -> str:
        return self.address


class FetchState(models.Model):
    """Where IMAP fetching stands: the folder's UIDVALIDITY and the last UID committed.

    Moved forward only in the transaction that stored the message, so a crash or a restart
    resumes after the last message kept, never after one that was lost.
    """

    mailbox = models.OneToOneField(Mailbox, on_delete=models.CASCADE, related_name="fetch_state")
    uidvalidity = models.BigIntegerField(null=True, blank=True)
    last_uid = models.BigIntegerField(default=0)
    # First connection: the UIDs up to here existed before the mailbox was connected and were
    # skipped (fetch_since empty) or imported as history.
    baseline_uid = models.BigIntegerField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    # The last count check: messages the server holds in the folder vs. messages we stored.
    server_count = models.PositiveIntegerField(null=True, blank=True)
    fetched_count = models.PositiveIntegerField(default=0)
    count_warning = models.TextField(blank=True)

    class Meta:
        verbose_name = _("fetch state")

    def __str__(self) -> str:
        return f"{self.mailbox} uidvalidity={self.uidvalidity} last_uid={self.last_uid}"

    def is_stale(self, now: dt.datetime, threshold: dt.timedelta) -> bool:
        """No successful fetch for longer than `threshold` (never succeeded counts from the
        first attempt)."""
        since = self.last_success_at or self.last_attempt_at
        return since is not None and now - since > threshold


class QuarantinedEmail(models.Model):
    """A message that failed to parse or ingest too many times: kept with its raw source for an
    admin, never retried forever, never dropped."""

    mailbox = models.ForeignKey(Mailbox, on_delete=models.CASCADE, related_name="quarantine")
    uidvalidity = models.BigIntegerField(null=True, blank=True)
    uid = models.BigIntegerField(null=True, blank=True)
    message_id = models.CharField(max_length=998, blank=True)
    raw = models.BinaryField()
    error = models.TextField()
    attempts = models.PositiveSmallIntegerField(default=1)
    quarantined = models.BooleanField(default=False)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    released_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("quarantined email")
        verbose_name_plural = _("quarantined emails")
        constraints = [
            models.UniqueConstraint(
                fields=["mailbox", "uidvalidity", "uid"],
                condition=Q(uid__isnull=False),
                name="quarantine_unique_uid",
            )
        ]

    def __str__(self) -> str:
        return f"{self.mailbox} uid {self.uid}: {self.error[:60]}"


class EmailReference(models.Model):
    """A Message-ID we sent or received, and the case it belongs to: how replies thread.

    Written for every inbound email and every email Premura sends (agent replies, contact-form
    confirmations); a customer's In-Reply-To / References is looked up here.
    """

    # The Message-ID header without its angle brackets.
    header_message_id = models.CharField(max_length=998)
    conversation = models.ForeignKey(
        "conversations.Conversation", on_delete=models.CASCADE, related_name="+"
    )
    message = models.ForeignKey(
        "conversations.Message", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    outbound = models.BooleanField(default=False)
    created_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["header_message_id"], name="emailref_message_id_idx")]

    def __str__(self) -> str:
        return self.header_message_id
