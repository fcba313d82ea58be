"""What an email inbox needs before it can receive and send: one list for the settings page and the API."""

from __future__ import annotations

from collections.abc import Collection

from django.utils.translation import gettext as _

from premura.mail.models import Mailbox
from premura.mail.webhooks import ESP_LABELS, SIGNING_KEY_OPTION

# Providers whose anymail backend needs more than the API key.
NEEDS_SECRET_KEY = frozenset({"mailjet"})
NEEDS_API_URL = frozenset({"postal", "unisender_go"})  # no default: each account has its own


def missing_settings(mailbox: Mailbox, secrets: Collection[str]) -> list[tuple[str, str]]:
    """The settings and secrets this mailbox still lacks, as (name, what to enter).

    `secrets` names the secrets it will hold once saved (imap_password, api_key, …). Names are
    the mailbox's fields and the secrets' keys; the order is the order a person fills them in.
    """
    missing: list[tuple[str, str]] = []
    password = mailbox.auth == Mailbox.Auth.PASSWORD
    if mailbox.inbound == Mailbox.Inbound.IMAP:
        if not mailbox.imap_host:
            missing.append(("imap_host", _("Enter the IMAP server, e.g. imap.example.com.")))
        if not mailbox.folder:
            missing.append(("folder", _("Enter the folder to read, usually INBOX.")))
        if password and "imap_password" not in secrets:
            missing.append(("imap_password", _("Enter the IMAP password.")))
    if mailbox.outbound == Mailbox.Outbound.SMTP:
        if not mailbox.smtp_host:
            missing.append(("smtp_host", _("Enter the SMTP server, e.g. smtp.example.com.")))
        if password and mailbox.smtp_user and "smtp_password" not in secrets:
            missing.append(("smtp_password", _("Enter the SMTP password for this user.")))
    if mailbox.outbound == Mailbox.Outbound.ANYMAIL:
        if not mailbox.esp_name:
            missing.append(("esp_name", _("Choose the email provider that sends for this inbox.")))
        if "api_key" not in secrets:
            missing.append(("api_key", _("Enter the provider's API key.")))
        if mailbox.esp_name in NEEDS_SECRET_KEY and "secret_key" not in secrets:
            missing.append(
                ("secret_key", _("Mailjet signs in with two keys: enter the secret key."))
            )
        if mailbox.esp_name in NEEDS_API_URL and not mailbox.esp_api_url:
            missing.append(
                ("esp_api_url", _("Enter the address of your provider's API (your server's URL)."))
            )
    if mailbox.inbound == Mailbox.Inbound.WEBHOOK:
        esp = mailbox.esp_name
        if esp in SIGNING_KEY_OPTION and "webhook_signing_key" not in secrets:
            missing.append(
                (
                    "webhook_signing_key",
                    _("%(esp)s signs its webhooks: enter its signing key.")
                    % {"esp": ESP_LABELS[esp]},
                )
            )
    if mailbox.auth == Mailbox.Auth.OAUTH2:
        if not mailbox.oauth_provider:
            missing.append(
                ("oauth_provider", _("Choose Google, Microsoft or enter the endpoints."))
            )
        if not mailbox.oauth_client_id:
            missing.append(("oauth_client_id", _("Enter the client id of your OAuth2 app.")))
        if "oauth_client_secret" not in secrets:
            missing.append(
                ("oauth_client_secret", _("Enter the client secret of your OAuth2 app."))
            )
        if mailbox.oauth_provider == "custom":
            if not mailbox.oauth_authorize_url:
                missing.append(
                    ("oauth_authorize_url", _("Enter the provider's authorization URL."))
                )
            if not mailbox.oauth_token_url:
                missing.append(("oauth_token_url", _("Enter the provider's token URL.")))
            if not mailbox.oauth_scope:
                missing.append(
                    ("oauth_scope", _("Enter the scope that grants IMAP and SMTP access."))
                )
    return missing
