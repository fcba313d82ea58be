"""The settings form of an email inbox: IMAP or webhooks to receive, SMTP or a provider's API to
send, password or OAuth2 sign-in; secrets are never shown back."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from premura.administration.forms import TeamChoiceField
from premura.mail import oauth
from premura.mail.models import Mailbox
from premura.mail.outbound import ANYMAIL_ESPS
from premura.mail.requirements import missing_settings
from premura.mail.services import address_taken, name_taken

if TYPE_CHECKING:
    from django.utils.functional import _StrOrPromise as StrOrPromise

# Secret fields of the form → the key they are stored under in the inbox's credentials.
SECRET_FIELDS = {
    "imap_password": "imap_password",
    "smtp_password": "smtp_password",
    "oauth_client_secret": "oauth_client_secret",
    "esp_api_key": "api_key",
    "esp_secret_key": "secret_key",
    "webhook_signing_key": "webhook_signing_key",
}
# Stored by premura.mail.services.update_mailbox; the others by webhooks.set_provider_secrets.
MAILBOX_SERVICE_SECRETS = {"imap_password", "smtp_password", "oauth_client_secret"}
# A stored secret's key → the form field that sets it, where the two names differ.
FORM_FIELD = {key: name for name, key in SECRET_FIELDS.items() if key != name}
# The settings premura.mail.requirements.missing_settings looks at.
_REQUIRED_SETTINGS = (
    "auth",
    "inbound",
    "outbound",
    "imap_host",
    "folder",
    "smtp_host",
    "smtp_user",
    "esp_name",
    "esp_api_url",
    "oauth_provider",
    "oauth_client_id",
    "oauth_authorize_url",
    "oauth_token_url",
    "oauth_scope",
)


def _secret_field(label: StrOrPromise, help_text: StrOrPromise = "") -> forms.CharField:
    return forms.CharField(
        label=label,
        required=False,
        max_length=4000,
        strip=False,
        help_text=help_text,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )


def _remove_field(label: StrOrPromise) -> forms.BooleanField:
    return forms.BooleanField(label=label, required=False)


class MailboxForm(forms.Form):
    """Every setting of an email inbox, checked together so each message says what to fix."""

    name = forms.CharField(
        label=gettext_lazy("Name"),
        max_length=120,
        help_text=gettext_lazy("What agents see, e.g. “Assistenza”."),
    )
    team = TeamChoiceField()
    address = forms.EmailField(
        label=gettext_lazy("Email address"),
        max_length=254,
        help_text=gettext_lazy("Customers write to this address; replies are sent from it."),
    )
    from_name = forms.CharField(
        label=gettext_lazy("Sender name"),
        max_length=120,
        required=False,
        help_text=gettext_lazy("Shown as “Anna via <sender name>”; the inbox name when empty."),
    )
    signature = forms.CharField(
        label=gettext_lazy("Inbox signature"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=gettext_lazy("Added below every email sent from this inbox."),
    )
    auth = forms.ChoiceField(
        label=gettext_lazy("Sign-in"), choices=Mailbox.Auth.choices, initial="password"
    )
    inbound = forms.ChoiceField(
        label=gettext_lazy("Receive through"), choices=Mailbox.Inbound.choices, initial="imap"
    )
    imap_host = forms.CharField(label=gettext_lazy("IMAP host"), max_length=255, required=False)
    imap_port = forms.IntegerField(
        label=gettext_lazy("IMAP port"), min_value=1, max_value=65535, initial=993
    )
    imap_security = forms.ChoiceField(
        label=gettext_lazy("IMAP security"), choices=Mailbox.Security.choices, initial="tls"
    )
    imap_user = forms.CharField(
        label=gettext_lazy("IMAP user"),
        max_length=255,
        required=False,
        help_text=gettext_lazy("The email address when empty."),
    )
    imap_password = _secret_field(gettext_lazy("IMAP password"))
    imap_password_remove = _remove_field(gettext_lazy("Remove the stored IMAP password"))
    folder = forms.CharField(label=gettext_lazy("Folder"), max_length=255, initial="INBOX")
    use_idle = forms.BooleanField(
        label=gettext_lazy("Use IDLE when the server supports it"), required=False, initial=True
    )
    poll_seconds = forms.IntegerField(
        label=gettext_lazy("Poll interval (seconds)"), min_value=10, max_value=86400, initial=60
    )
    fetch_start = forms.ChoiceField(
        label=gettext_lazy("Start fetching with"),
        choices=[
            ("new", gettext_lazy("New mail only")),
            ("since", gettext_lazy("Mail since a date (imported as history)")),
        ],
        initial="new",
        widget=forms.RadioSelect,
        help_text=gettext_lazy(
            "Older mail is imported without acknowledgements, rules that send or notifications."
        ),
    )
    fetch_since = forms.DateField(
        label=gettext_lazy("Fetch mail since"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    outbound = forms.ChoiceField(
        label=gettext_lazy("Send through"), choices=Mailbox.Outbound.choices, initial="smtp"
    )
    smtp_host = forms.CharField(label=gettext_lazy("SMTP host"), max_length=255, required=False)
    smtp_port = forms.IntegerField(
        label=gettext_lazy("SMTP port"), min_value=1, max_value=65535, initial=587
    )
    smtp_security = forms.ChoiceField(
        label=gettext_lazy("SMTP security"), choices=Mailbox.Security.choices, initial="starttls"
    )
    smtp_user = forms.CharField(label=gettext_lazy("SMTP user"), max_length=255, required=False)
    smtp_password = _secret_field(gettext_lazy("SMTP password"))
    smtp_password_remove = _remove_field(gettext_lazy("Remove the stored SMTP password"))
    esp_name = forms.ChoiceField(
        label=gettext_lazy("Email provider"),
        required=False,
        choices=[
            ("", "—"),
            *[(esp, esp.replace("_", " ").title()) for esp in ANYMAIL_ESPS],
        ],
        help_text=gettext_lazy("For sending through the provider's API, and its webhooks."),
    )
    esp_api_key = _secret_field(
        gettext_lazy("Provider API key"),
        gettext_lazy("Postmark: the server token. Mailgun, SendGrid …: the API key."),
    )
    esp_api_key_remove = _remove_field(gettext_lazy("Remove the stored API key"))
    esp_secret_key = _secret_field(
        gettext_lazy("Provider secret key"), gettext_lazy("Mailjet: the secret key.")
    )
    esp_secret_key_remove = _remove_field(gettext_lazy("Remove the stored secret key"))
    esp_api_url = forms.URLField(
        label=gettext_lazy("Provider API URL"),
        max_length=500,
        required=False,
        assume_scheme="https",
        help_text=gettext_lazy(
            "Postal, Unisender Go: your server's API address. Mailgun, SparkPost: the EU API "
            "for EU accounts. Empty: the provider's default."
        ),
    )
    esp_sender_domain = forms.CharField(
        label=gettext_lazy("Sending domain"),
        max_length=255,
        required=False,
        help_text=gettext_lazy("Mailgun: the sending domain, when it is not the address's."),
    )
    webhook_signing_key = _secret_field(
        gettext_lazy("Webhook signing key"),
        gettext_lazy("Mailgun's HTTP webhook signing key, MailerSend's inbound secret."),
    )
    webhook_signing_key_remove = _remove_field(gettext_lazy("Remove the stored signing key"))
    oauth_provider = forms.ChoiceField(
        label=gettext_lazy("OAuth2 provider"),
        required=False,
        choices=[
            ("", "—"),
            ("google", "Google Workspace / Gmail"),
            ("microsoft", "Microsoft 365 / Outlook"),
            ("custom", gettext_lazy("Other (enter the endpoints)")),
        ],
    )
    oauth_client_id = forms.CharField(
        label=gettext_lazy("OAuth2 client id"), max_length=255, required=False
    )
    oauth_client_secret = _secret_field(gettext_lazy("OAuth2 client secret"))
    oauth_client_secret_remove = _remove_field(gettext_lazy("Remove the stored client secret"))
    oauth_authorize_url = forms.URLField(
        label=gettext_lazy("Authorization URL"),
        max_length=500,
        required=False,
        assume_scheme="https",
    )
    oauth_token_url = forms.URLField(
        label=gettext_lazy("Token URL"), max_length=500, required=False, assume_scheme="https"
    )
    oauth_scope = forms.CharField(label=gettext_lazy("Scope"), max_length=500, required=False)

    GROUPS: tuple[tuple[Any, tuple[str, ...]], ...] = (
        (gettext_lazy("Inbox"), ("name", "team", "address", "from_name", "signature", "auth")),
        (
            gettext_lazy("Receiving"),
            (
                "inbound",
                "imap_host",
                "imap_port",
                "imap_security",
                "imap_user",
                "imap_password",
                "imap_password_remove",
                "folder",
                "use_idle",
                "poll_seconds",
                "fetch_start",
                "fetch_since",
            ),
        ),
        (
            gettext_lazy("Sending"),
            (
                "outbound",
                "smtp_host",
                "smtp_port",
                "smtp_security",
                "smtp_user",
                "smtp_password",
                "smtp_password_remove",
            ),
        ),
        (
            gettext_lazy("Email provider (API sending, webhooks)"),
            (
                "esp_name",
                "esp_api_key",
                "esp_api_key_remove",
                "esp_secret_key",
                "esp_secret_key_remove",
                "esp_api_url",
                "esp_sender_domain",
                "webhook_signing_key",
                "webhook_signing_key_remove",
            ),
        ),
        (
            gettext_lazy("OAuth2 sign-in (Google, Microsoft)"),
            (
                "oauth_provider",
                "oauth_client_id",
                "oauth_client_secret",
                "oauth_client_secret_remove",
                "oauth_authorize_url",
                "oauth_token_url",
                "oauth_scope",
            ),
        ),
    )

    def __init__(self, *args: Any, mailbox: Mailbox | None = None, **kwargs: Any) -> None:
        self.mailbox = mailbox
        self.stored: set[str] = set()
        if mailbox is not None:
            inbox = mailbox.inbox
            kwargs.setdefault("initial", initial_for(mailbox))
            credentials = inbox.credentials or {}
            self.stored = {field for field, key in SECRET_FIELDS.items() if credentials.get(key)}
        super().__init__(*args, **kwargs)
        if mailbox is not None:
            # Where fetching starts matters only on the first connection.
            del self.fields["fetch_start"]
            del self.fields["fetch_since"]
        for name in SECRET_FIELDS:
            if name in self.stored:
                self.fields[name].help_text = " ".join(
                    str(part)
                    for part in (
                        _("A value is stored; leave empty to keep it."),
                        self.fields[name].help_text,
                    )
                    if part
                )
            else:
                del self.fields[f"{name}_remove"]

    def groups(self) -> list[tuple[Any, list[forms.BoundField]]]:
        """The form's fields in titled groups, for the template."""
        return [
            (title, [self[name] for name in names if name in self.fields])
            for title, names in self.GROUPS
        ]

    def clean_name(self) -> str:
        name = " ".join(str(self.cleaned_data["name"]).split())
        if not name:
            raise ValidationError(_("Enter a name."), code="required")
        if name_taken(name, mailbox=self.mailbox):
            raise ValidationError(_("An inbox with this name already exists."), code="duplicate")
        return name

    def clean_address(self) -> str:
        address = str(self.cleaned_data["address"]).strip().lower()
        if address_taken(address, mailbox=self.mailbox):
            raise ValidationError(
                _("Another email inbox already uses this address."), code="duplicate"
            )
        return address

    def _has_secret(self, name: str) -> bool:
        """Whether the secret will be set after saving (typed now, or stored and kept)."""
        if self.cleaned_data.get(name):
            return True
        return name in self.stored and not self.cleaned_data.get(f"{name}_remove")

    def _need(self, name: str, message: str) -> None:
        if not self.cleaned_data.get(name) and name not in self.errors:
            self.add_error(name, message)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for name in SECRET_FIELDS:
            if data.get(name) and data.get(f"{name}_remove"):
                self.add_error(
                    name, _("Either type a new value or remove the stored one, not both.")
                )
        probe = Mailbox(
            **{name: data.get(name) or "" for name in _REQUIRED_SETTINGS if name in self.fields}
        )
        will_hold = {key for name, key in SECRET_FIELDS.items() if self._has_secret(name)}
        for name, message in missing_settings(probe, will_hold):
            field = FORM_FIELD.get(name, name)
            if field not in self.errors:
                self.add_error(field, message)
        if data.get("fetch_start") == "since":
            since = data.get("fetch_since")
            if since is None:
                self._need("fetch_since", _("Choose the date to fetch mail from."))
            elif since > timezone.localdate():
                self.add_error("fetch_since", _("The date cannot be in the future."))
        return data

    def mailbox_fields(self) -> dict[str, Any]:
        """The Mailbox field values to save."""
        data = self.cleaned_data
        fields: dict[str, Any] = {
            name: data[name]
            for name in (
                "address",
                "from_name",
                "signature",
                "auth",
                "inbound",
                "outbound",
                "imap_host",
                "imap_port",
                "imap_security",
                "imap_user",
                "folder",
                "use_idle",
                "poll_seconds",
                "smtp_host",
                "smtp_port",
                "smtp_security",
                "smtp_user",
                "esp_name",
                "esp_api_url",
                "esp_sender_domain",
                "oauth_provider",
                "oauth_client_id",
            )
        }
        for name in (
            "imap_host",
            "imap_user",
            "folder",
            "smtp_host",
            "smtp_user",
            "from_name",
            "esp_sender_domain",
        ):
            fields[name] = str(fields[name]).strip()
        if data["oauth_provider"] in oauth.PROVIDERS:
            fields.update(oauth.provider_settings(data["oauth_provider"]))
        else:
            fields.update(
                oauth_authorize_url=data["oauth_authorize_url"],
                oauth_token_url=data["oauth_token_url"],
                oauth_scope=data["oauth_scope"],
            )
        if "fetch_start" in self.fields:
            fields["fetch_since"] = data["fetch_since"] if data["fetch_start"] == "since" else None
        return fields

    def secrets(self) -> tuple[dict[str, str], dict[str, str]]:
        """The secrets that change: (for update_mailbox, for set_provider_secrets); "" removes."""
        mailbox_secrets: dict[str, str] = {}
        provider_secrets: dict[str, str] = {}
        for name, key in SECRET_FIELDS.items():
            value = str(self.cleaned_data.get(name) or "")
            if not value and not self.cleaned_data.get(f"{name}_remove"):
                continue
            target = mailbox_secrets if name in MAILBOX_SERVICE_SECRETS else provider_secrets
            target[key] = value
        return mailbox_secrets, provider_secrets


def initial_for(mailbox: Mailbox) -> dict[str, Any]:
    """The form's values for an existing mailbox."""
    values = {
        field.name: getattr(mailbox, field.name)
        for field in Mailbox._meta.concrete_fields
        if field.name not in {"id", "inbox"}
    }
    values.update(name=mailbox.inbox.name, team=mailbox.inbox.team_id)
    return values
