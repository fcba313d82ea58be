"""Inbound email through an email provider's webhook (django-anymail's normalised inbound).

Each email inbox that receives through a provider has its own URLs,
`/hooks/email/<inbox id>/<esp>/`, so the secrets that authenticate a webhook are the inbox's own:
HTTP basic auth (`credentials["webhook_secret"]`, "user:password", put in the URL pasted at the
provider) for every provider, plus the provider's signature where it has one (Mailgun's webhook
signing key, MailerSend's inbound secret: `credentials["webhook_signing_key"]`).

The views are anymail's inbound views, subclassed so that each parsed message goes straight to
`premura.mail.inbound.ingest_email` instead of anymail's global `inbound` signal: the data flow
stays visible, and a failure answers 5xx so the provider retries (ingest is idempotent on the
Message-ID, so a retry never duplicates a case).
"""

from __future__ import annotations

import logging
import secrets as _secrets
from typing import Any

from anymail.exceptions import AnymailError
from anymail.webhooks.base import AnymailCoreWebhookView
from anymail.webhooks.brevo import BrevoInboundWebhookView
from anymail.webhooks.mailersend import MailerSendInboundWebhookView
from anymail.webhooks.mailgun import MailgunInboundWebhookView
from anymail.webhooks.mailjet import MailjetInboundWebhookView
from anymail.webhooks.postmark import PostmarkInboundWebhookView
from anymail.webhooks.sendgrid import SendGridInboundWebhookView
from anymail.webhooks.sparkpost import SparkPostInboundWebhookView
from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt

from premura.channels.models import Inbox
from premura.mail.models import Mailbox
from premura.mail.services import merge_secrets

logger = logging.getLogger(__name__)

WEBHOOK_USER = "premura"


class _IngestInbound(AnymailCoreWebhookView):  # type: ignore[misc] # anymail is untyped
    """Hands every inbound message of a verified webhook to ingest_email.

    Sits just above AnymailCoreWebhookView in the MRO, so provider views that wrap `post` (Amazon
    SES's 401 challenge for SNS) still run first, and validation is anymail's own.
    """

    mailbox: Mailbox

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        from premura.mail.inbound import ingest_email

        self.run_validators(request)
        for event in self.parse_events(request):
            message = event.message
            if message is None:
                continue
            ingest_email(self.mailbox, message.as_bytes())
        return HttpResponse()


def _view(base: type[AnymailCoreWebhookView]) -> type[AnymailCoreWebhookView]:
    return type(f"Premura{base.__name__}", (base, _IngestInbound), {})


# The providers whose inbound webhooks are supported, by the <esp> part of the URL.
INBOUND_VIEWS: dict[str, type[AnymailCoreWebhookView]] = {
    "brevo": _view(BrevoInboundWebhookView),
    "mailersend": _view(MailerSendInboundWebhookView),
    "mailgun": _view(MailgunInboundWebhookView),
    "mailjet": _view(MailjetInboundWebhookView),
    "postmark": _view(PostmarkInboundWebhookView),
    "sendgrid": _view(SendGridInboundWebhookView),
    "sparkpost": _view(SparkPostInboundWebhookView),
}
# Providers that sign their webhooks: the anymail option that takes the inbox's signing key.
SIGNING_KEY_OPTION = {"mailgun": "webhook_signing_key", "mailersend": "inbound_secret"}
ESP_LABELS = {
    "brevo": "Brevo",
    "mailersend": "MailerSend",
    "mailgun": "Mailgun",
    "mailjet": "Mailjet",
    "postmark": "Postmark",
    "sendgrid": "SendGrid",
    "sparkpost": "SparkPost",
}


def new_webhook_secret() -> str:
    """A new basic-auth "user:password" for an inbox's webhooks."""
    return f"{WEBHOOK_USER}:{_secrets.token_urlsafe(24)}"


# The provider secrets of a mailbox, next to those premura.mail.services manages.
PROVIDER_SECRET_KEYS = frozenset({"api_key", "secret_key", "webhook_secret", "webhook_signing_key"})


def set_provider_secrets(mailbox: Mailbox, secrets: dict[str, str]) -> str:
    """Store or ("" value) remove a mailbox's provider secrets: the ESP API key, the webhook
    password and signing key. Merged under a row lock, like the mailbox's other secrets.

    A mailbox that receives through webhooks and has no password yet gets one (without it its
    webhooks are refused): returns that new "user:password", to be shown once, or "".
    """
    unknown = set(secrets) - PROVIDER_SECRET_KEYS
    if unknown:
        raise ValueError(f"unknown provider secret: {', '.join(sorted(unknown))}")
    if secrets:
        merge_secrets(mailbox, secrets)
    if mailbox.inbound != Mailbox.Inbound.WEBHOOK:
        return ""
    with transaction.atomic():  # two saves at once make one password, not two
        inbox = Inbox.objects.select_for_update().get(pk=mailbox.inbox_id)
        if (inbox.credentials or {}).get("webhook_secret"):
            mailbox.inbox = inbox
            return ""
        return rotate_webhook_secret(mailbox)


def rotate_webhook_secret(mailbox: Mailbox) -> str:
    """A new webhook password for the mailbox; the old one stops working at once."""
    secret = new_webhook_secret()
    merge_secrets(mailbox, {"webhook_secret": secret})
    return secret


def webhook_urls(inbox_id: int, *, secret: str = "") -> dict[str, str]:
    """The inbound webhook URL of every provider Premura takes mail from, for one inbox."""
    return {esp: webhook_url(inbox_id, esp, secret=secret) for esp in INBOUND_VIEWS}


def webhook_url(inbox_id: int, esp: str, *, secret: str = "") -> str:
    """The URL to paste at the provider; with `secret`, the basic auth written into it."""
    base = settings.PREMURA_BASE_URL.rstrip("/")
    path = reverse("mail:inbound_webhook", kwargs={"inbox_id": inbox_id, "esp": esp})
    if secret:
        scheme, _sep, rest = base.partition("://")
        base = f"{scheme}://{secret}@{rest}"
    return base + path


def _refused(status: int, reason: str) -> HttpResponse:
    return HttpResponse(reason + "\n", status=status, content_type="text/plain; charset=utf-8")


@csrf_exempt
def inbound_webhook(request: HttpRequest, inbox_id: int, esp: str) -> HttpResponse:
    """An inbound email webhook for one inbox and one provider."""
    view_class = INBOUND_VIEWS.get(esp)
    if view_class is None:
        return _refused(404, "unknown email provider")
    mailbox = (
        Mailbox.objects.select_related("inbox")
        .filter(inbox_id=inbox_id, inbound=Mailbox.Inbound.WEBHOOK, inbox__is_active=True)
        .first()
    )
    if mailbox is None:
        return _refused(404, "no email inbox receives through webhooks here")
    credentials = mailbox.inbox.credentials or {}
    basic_auth = str(credentials.get("webhook_secret") or "")
    if not basic_auth:
        # anymail would accept anyone (with a warning); an inbox without a secret takes nothing.
        return _refused(403, "this inbox's webhook secret is not set")
    kwargs: dict[str, Any] = {"webhook_secret": basic_auth}
    option = SIGNING_KEY_OPTION.get(esp)
    if option is not None:
        signing_key = str(credentials.get("webhook_signing_key") or "")
        if not signing_key:
            return _refused(403, "this inbox's webhook signing key is not set")
        kwargs[option] = signing_key
    if request.method not in ("POST", "HEAD", "OPTIONS"):
        return _refused(405, "POST only")
    try:
        view = view_class(**kwargs)
    except AnymailError as exc:  # e.g. Amazon SES without boto3 installed
        logger.error("inbound webhook for inbox %s (%s) unusable: %s", inbox_id, esp, exc)
        return _refused(503, "this provider's webhook cannot be used on this server")
    view.mailbox = mailbox
    view.setup(request, inbox_id=inbox_id, esp=esp)
    response: HttpResponse = view.dispatch(request)
    return response
