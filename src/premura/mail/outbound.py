"""Sending email: an outbound Message becomes one threaded email, sent over SMTP or an ESP's API.

The outbox (premura.conversations.outbox) calls `send_email_message` for messages of email
inboxes; other channels that answer by email (the contact form's confirmation) call
`send_email_for` with their mailbox. Each email carries:

- Message-ID `<prm.{delivery_id}@{mailbox domain}>`: the same on every retry of one message, so a
  receiver that got a first attempt drops the repeat, and a customer's reply finds the case;
- In-Reply-To (the newest email the customer sent in the case) and References (the case's chain);
- the subject "Re: <case subject> [PRM-000123]", the reference never doubled;
- From "<agent> via <mailbox name> <address>", Reply-To the mailbox address;
- a plain-text body and an HTML alternative, both with the inbox's signature, and the attachments.

The Message-ID is written as an EmailReference *before* the email leaves: a customer who answers
within the second it takes to commit afterwards would otherwise open a new case. A reference to an
email that in the end was never delivered is harmless: nobody can reply to it.
"""

from __future__ import annotations

import html
import logging
import re
import smtplib
import socket
import ssl
import unicodedata
from collections.abc import Callable
from email.headerregistry import Address
from email.utils import parseaddr
from typing import TYPE_CHECKING, Any

from anymail.exceptions import (
    AnymailAPIError,
    AnymailConfigurationError,
    AnymailError,
    AnymailRecipientsRefused,
)
from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.backends.smtp import EmailBackend as SMTPBackend
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from premura.conversations.models import Conversation, Message, format_reference
from premura.conversations.outbox import DeliveryError, SendResult
from premura.mail import oauth
from premura.mail.models import EmailReference, Mailbox
from premura.mail.oauth import OAuthError

if TYPE_CHECKING:
    from django.core.mail.backends.base import BaseEmailBackend

    from premura.mail.connection import CheckReport

logger = logging.getLogger(__name__)

# References keeps the newest ids only: long threads would otherwise grow the header without
# limit, and RFC 5322 clients need only the root and the recent parents to thread.
MAX_REFERENCES = 20

# Reply prefixes mail clients put in front of a subject ("Re:", Italian "R:", German "AW:" …),
# stripped before ours is added so the subject never reads "Re: RE: Re: …".
_REPLY_PREFIX = re.compile(r"^\s*((re|r|aw|sv|antw|rif)\s*(\[\d+\])?\s*:\s*)+", re.IGNORECASE)
_REFERENCE_TAG = re.compile(r"\s*\[PRM-\d+\]", re.IGNORECASE)

# Secrets of an ESP passed to its anymail backend, as kwargs of the same name.
ANYMAIL_SECRET_KEYS = ("api_key", "secret_key")
# Keys stored under the backend's own option name before the settings page wrote "api_key".
_LEGACY_SECRET_KEYS = ("server_token", "api_secret")
# The backend option that takes the provider's key, where it is not anymail's usual "api_key".
ANYMAIL_KEY_OPTION = {
    "postmark": "server_token",
    "mailersend": "api_token",
    "mailtrap": "api_token",
}
# The ESPs anymail can send through; the admin page offers these.
# (Amazon SES is not among them: its anymail backend needs boto3 and AWS credentials; SES sends
# through its SMTP interface with an SMTP user and password instead.)
ANYMAIL_ESPS = (
    "brevo",
    "mailersend",
    "mailgun",
    "mailjet",
    "mailtrap",
    "mandrill",
    "postal",
    "postmark",
    "resend",
    "sendgrid",
    "sparkpost",
    "unisender_go",
)


def mailbox_domain(mailbox: Mailbox) -> str:
    """The domain of the mailbox address, IDNA-encoded for the Message-ID."""
    domain = mailbox.address.rsplit("@", 1)[-1].strip().lower()
    try:
        return domain.encode("idna").decode("ascii")
    except UnicodeError:
        return domain


def outbound_message_id(message: Message, mailbox: Mailbox) -> str:
    """The Message-ID of the email for `message` (without angle brackets)."""
    return f"prm.{message.delivery_id}@{mailbox_domain(mailbox)}"


def reply_subject(subject: str, conversation_id: int, *, language: str = "") -> str:
    """ "Re: <subject> [PRM-000123]": earlier prefixes and references taken out, added once."""
    reference = format_reference(conversation_id)
    base = _REFERENCE_TAG.sub("", _REPLY_PREFIX.sub("", subject or "")).strip()
    base = " ".join(base.split())
    if not base:
        with translation.override(language or settings.LANGUAGE_CODE):
            return _("Your request %(reference)s") % {"reference": f"[{reference}]"}
    return f"Re: {base} [{reference}]"


def thread_headers(conversation_id: int, own_message_id: str) -> tuple[str, list[str]]:
    """In-Reply-To and References for a new email of the case (ids without brackets).

    In-Reply-To is the newest email the customer sent (what they see as "answered"), else the
    newest of ours; References is the chain in the order the emails were stored, last 20 only.
    """
    rows = list(
        EmailReference.objects.filter(conversation_id=conversation_id)
        .exclude(header_message_id=own_message_id)
        .order_by("created_at", "id")
        .values_list("header_message_id", "outbound")
    )
    chain: list[str] = []
    for message_id, _outbound in rows:
        if message_id in chain:
            chain.remove(message_id)
        chain.append(message_id)
    inbound = [message_id for message_id, outbound in rows if not outbound]
    in_reply_to = inbound[-1] if inbound else (chain[-1] if chain else "")
    return in_reply_to, chain[-MAX_REFERENCES:]


def _sender_name(message: Message, mailbox: Mailbox) -> str:
    mailbox_name = mailbox.from_name.strip() or mailbox.inbox.name
    author = message.author_user
    if author is None or message.kind == Message.Kind.AUTOMATIC:
        return mailbox_name
    return _("%(agent)s via %(mailbox)s") % {"agent": str(author), "mailbox": mailbox_name}


def _bodies(message: Message, mailbox: Mailbox) -> tuple[str, str]:
    """The plain text and the HTML of the email, each ending with the inbox's signature."""
    text = message.text.rstrip()
    signature = mailbox.signature.strip()
    if message.html.strip():
        # Already sanitised with nh3 when the message was stored.
        body_html = message.html
    else:
        body_html = html.escape(text).replace("\n", "<br>\n")
    if signature:
        text = f"{text}\n\n{signature}" if text else signature
        body_html += '\n<br>\n<div class="signature">{}</div>'.format(
            html.escape(signature).replace("\n", "<br>\n")
        )
    return (
        text + "\n",
        f'<!DOCTYPE html>\n<html><body>\n<div dir="auto">{body_html}</div>\n</body></html>\n',
    )


def named_address(name: str, address: str) -> str:
    """`Mario Rossi <mario@example.it>`, quoted where needed, the name left in Unicode.

    Django encodes it for SMTP and the provider's API takes the name as it is (a name encoded
    here would reach them as `=?utf-8?q?…?=`). Control characters and line breaks become spaces,
    so a name can never add a header.
    """
    clean = "".join(" " if unicodedata.category(c) == "Cc" else c for c in name)
    clean = " ".join(clean.split())
    return str(Address(display_name=clean, addr_spec=address)) if clean else address


def _recipient(conversation: Conversation, address: str) -> str:
    """The customer's name and address, as mail clients show it."""
    return named_address(str(conversation.contact.name or ""), address)


def build_email(message: Message, mailbox: Mailbox, *, to: str) -> EmailMultiAlternatives:
    """The email for an outbound message, with its threading headers and attachments."""
    conversation = message.conversation
    message_id = outbound_message_id(message, mailbox)
    in_reply_to, references = thread_headers(conversation.pk, message_id)
    headers: dict[str, str] = {"Message-ID": f"<{message_id}>"}
    if in_reply_to:
        headers["In-Reply-To"] = f"<{in_reply_to}>"
    if references:
        headers["References"] = " ".join(f"<{ref}>" for ref in references)
    if message.kind == Message.Kind.AUTOMATIC:
        # RFC 3834: other robots must not answer; Exchange honours the second header.
        headers["Auto-Submitted"] = "auto-generated"
        headers["X-Auto-Response-Suppress"] = "All"
    with translation.override(conversation.language or settings.LANGUAGE_CODE):
        sender = _sender_name(message, mailbox)
    text, body_html = _bodies(message, mailbox)
    email = EmailMultiAlternatives(
        subject=reply_subject(
            conversation.subject, conversation.pk, language=conversation.language
        ),
        body=text,
        from_email=named_address(sender, mailbox.address),
        to=[_recipient(conversation, to)],
        reply_to=[mailbox.address],
        headers=headers,
    )
    email.attach_alternative(body_html, "text/html")
    for attachment in message.attachments.order_by("id"):
        with attachment.file.open("rb") as handle:
            content = handle.read()
        email.attach(
            attachment.filename,
            content,
            attachment.content_type or "application/octet-stream",
        )
    return email


def _remember(message: Message, message_id: str) -> None:
    """Write the outbound EmailReference once per message.

    Check-then-insert is safe here: the outbox claims a message (queued → sending) with a
    conditional UPDATE, so one message is never being sent by two workers at once.
    """
    with transaction.atomic():
        exists = EmailReference.objects.filter(
            message=message, header_message_id=message_id, outbound=True
        ).exists()
        if not exists:
            EmailReference.objects.create(
                header_message_id=message_id,
                conversation_id=message.conversation_id,
                message=message,
                outbound=True,
                created_at=timezone.now(),
            )


# --- Transports ---------------------------------------------------------------------------------


def xoauth2_string(user: str, token: str) -> str:
    """The SASL XOAUTH2 initial response (before base64), as Google and Microsoft document it."""
    return f"user={user}\x01auth=Bearer {token}\x01\x01"


class XOAuth2SMTPBackend(SMTPBackend):
    """Django's SMTP backend signing in with AUTH XOAUTH2 (Google Workspace, Microsoft 365)."""

    def __init__(self, *, oauth_user: str, token_source: Callable[[], str], **kwargs: Any) -> None:
        kwargs["password"] = ""  # Django then skips its own LOGIN; we authenticate in open()
        super().__init__(**kwargs)
        self.oauth_user = oauth_user
        self.token_source = token_source

    def open(self) -> bool | None:
        opened = super().open()
        if opened and self.connection is not None:
            try:
                smtp_xoauth2(self.connection, self.oauth_user, self.token_source())
            except BaseException:
                self.close()
                raise
        return opened


def smtp_xoauth2(connection: smtplib.SMTP, user: str, token: str) -> None:
    """Authenticate an open SMTP connection with XOAUTH2."""
    connection.ehlo_or_helo_if_needed()
    initial = xoauth2_string(user, token)

    def respond(challenge: bytes | None = None) -> str:
        # A failed XOAUTH2 answers 334 with a JSON error; an empty line ends the exchange so
        # the server sends its final 5xx, which smtplib raises as SMTPAuthenticationError.
        return initial if challenge is None else ""

    connection.auth("XOAUTH2", respond, initial_response_ok=True)


def _smtp_backend(mailbox: Mailbox) -> BaseEmailBackend:
    credentials = mailbox.inbox.credentials or {}
    common: dict[str, Any] = {
        "host": mailbox.smtp_host,
        "port": mailbox.smtp_port,
        "username": mailbox.smtp_user,
        "use_tls": mailbox.smtp_security == Mailbox.Security.STARTTLS,
        "use_ssl": mailbox.smtp_security == Mailbox.Security.TLS,
        "timeout": settings.PREMURA_OUTBOX_TIMEOUT_SECONDS,
        "fail_silently": False,
    }
    if mailbox.auth == Mailbox.Auth.OAUTH2:
        common["username"] = ""
        return XOAuth2SMTPBackend(
            oauth_user=mailbox.smtp_user or mailbox.address,
            token_source=lambda: oauth.access_token(mailbox),
            **common,
        )
    return SMTPBackend(password=str(credentials.get("smtp_password") or ""), **common)


def anymail_backend_kwargs(mailbox: Mailbox) -> dict[str, Any]:
    """The options of the mailbox's anymail backend: its secrets and non-secret settings."""
    credentials = mailbox.inbox.credentials or {}
    kwargs: dict[str, Any] = {
        key: str(credentials[key])
        for key in (*ANYMAIL_SECRET_KEYS, *_LEGACY_SECRET_KEYS)
        if credentials.get(key)
    }
    if mailbox.esp_api_url:
        kwargs["api_url"] = mailbox.esp_api_url
    if mailbox.esp_sender_domain and mailbox.esp_name == "mailgun":
        kwargs["sender_domain"] = mailbox.esp_sender_domain
    # The settings page stores every provider's key as "api_key"; some call it otherwise.
    option = ANYMAIL_KEY_OPTION.get(mailbox.esp_name.strip().lower())
    if option and "api_key" in kwargs:
        kwargs[option] = kwargs.pop("api_key")
    return kwargs


def _anymail_backend(mailbox: Mailbox) -> BaseEmailBackend:
    esp = mailbox.esp_name.strip().lower()
    if esp == "amazon_ses":
        raise DeliveryError(
            "Amazon SES is not offered through its API: send through SES's SMTP interface"
            " (the inbox's settings, Send through: SMTP)",
            permanent=True,
        )
    if esp != "test" and esp not in ANYMAIL_ESPS:
        raise DeliveryError(f"unknown email provider {mailbox.esp_name!r}", permanent=True)
    backend: BaseEmailBackend = get_connection(
        f"anymail.backends.{esp}.EmailBackend",
        fail_silently=False,
        **anymail_backend_kwargs(mailbox),
    )
    return backend


def backend_for(mailbox: Mailbox) -> BaseEmailBackend:
    """The Django email backend that sends for this mailbox."""
    if mailbox.outbound == Mailbox.Outbound.ANYMAIL:
        return _anymail_backend(mailbox)
    if not mailbox.smtp_host:
        raise DeliveryError("the mailbox has no SMTP server configured", permanent=True)
    return _smtp_backend(mailbox)


def _smtp_error(exc: smtplib.SMTPException) -> DeliveryError:
    """SMTP's answer classes: 5xx is the server refusing for good, 4xx and drops are retried."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _text in exc.recipients.values()]
        detail = "; ".join(
            f"{parseaddr(rcpt)[1] or rcpt}: {code} {_text(text)}"
            for rcpt, (code, text) in exc.recipients.items()
        )
        permanent = bool(codes) and all(500 <= code < 600 for code in codes)
        return DeliveryError(f"recipient refused: {detail}", permanent=permanent)
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        # The password or token is wrong: a setting to fix, after which the retry succeeds.
        return DeliveryError(f"SMTP sign-in refused: {exc.smtp_code} {_text(exc.smtp_error)}")
    if isinstance(exc, smtplib.SMTPResponseException):
        permanent = 500 <= exc.smtp_code < 600
        return DeliveryError(
            f"SMTP server answered {exc.smtp_code} {_text(exc.smtp_error)}", permanent=permanent
        )
    return DeliveryError(f"SMTP error: {exc}")


def _text(value: bytes | str) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def _anymail_error(exc: Exception) -> DeliveryError:
    if isinstance(exc, AnymailRecipientsRefused):
        return DeliveryError(f"recipient refused by the provider: {exc}", permanent=True)
    if isinstance(exc, AnymailConfigurationError):
        return DeliveryError(f"email provider not configured: {exc}", permanent=True)
    if isinstance(exc, AnymailAPIError):
        status = getattr(exc, "status_code", None)
        permanent = status is not None and 400 <= status < 500 and status not in (408, 429)
        return DeliveryError(f"email provider error: {exc}", permanent=permanent)
    return DeliveryError(f"email provider error: {exc!r}")


def send_email_for(message: Message, mailbox: Mailbox, *, to: str) -> SendResult:
    """Build and send one email for an outbound Message; writes its EmailReference(outbound=True).

    Raises DeliveryError: permanent for a refused recipient or a 5xx answer, otherwise retried.
    """
    if not to:
        raise DeliveryError("the customer has no email address", permanent=True)
    email = build_email(message, mailbox, to=to)
    message_id = outbound_message_id(message, mailbox)
    _remember(message, message_id)
    try:
        backend = backend_for(mailbox)
        email.connection = backend
        sent = email.send(fail_silently=False)
    except DeliveryError:
        raise
    except smtplib.SMTPException as exc:
        raise _smtp_error(exc) from exc
    except AnymailError as exc:
        raise _anymail_error(exc) from exc
    except ssl.SSLError as exc:
        raise DeliveryError(f"TLS with the SMTP server failed: {exc}") from exc
    except OSError as exc:  # refused, unreachable, timed out, DNS
        raise DeliveryError(f"cannot reach the SMTP server: {exc}") from exc
    except OAuthError as exc:
        raise DeliveryError(f"OAuth2 sign-in failed: {exc}") from exc
    if not sent:
        raise DeliveryError("the email backend sent nothing")
    return SendResult(provider_message_id=message_id)


def send_email_message(message: Message) -> SendResult:
    """The outbox sender of email inboxes: one email to the case's customer."""
    try:
        mailbox = Mailbox.objects.select_related("inbox").get(inbox_id=message.inbox_id)
    except Mailbox.DoesNotExist as exc:
        raise DeliveryError("this email inbox has no mailbox settings", permanent=True) from exc
    to = (message.conversation.contact.email or "").strip()
    return send_email_for(message, mailbox, to=to)


# --- Test connection ----------------------------------------------------------------------------


def check_smtp(mailbox: Mailbox) -> CheckReport:
    """Connect to the mailbox's SMTP server and sign in, saying which stage failed and why."""
    from premura.mail.connection import CheckReport

    if mailbox.outbound == Mailbox.Outbound.ANYMAIL:
        missing = not mailbox.esp_name or not anymail_backend_kwargs(mailbox)
        if missing:
            return CheckReport(
                ok=False, stage="login", message=_("No email provider or API key is set.")
            )
        return CheckReport(
            ok=True,
            stage="ok",
            message=_(
                "Sending through %(esp)s: the provider checks the API key on the first email."
            )
            % {"esp": mailbox.esp_name},
        )
    host, port = mailbox.smtp_host, mailbox.smtp_port
    if not host:
        return CheckReport(ok=False, stage="dns", message=_("No SMTP server is set."))
    timeout = settings.PREMURA_OUTBOX_TIMEOUT_SECONDS
    try:
        socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        return CheckReport(
            ok=False,
            stage="dns",
            message=_("The name %(host)s cannot be resolved: %(error)s") % _e(host, exc),
        )
    context = ssl.create_default_context()
    connection: smtplib.SMTP
    try:
        if mailbox.smtp_security == Mailbox.Security.TLS:
            connection = smtplib.SMTP_SSL(host, port, timeout=timeout, context=context)
        else:
            connection = smtplib.SMTP(host, port, timeout=timeout)
    except ssl.SSLError as exc:
        return CheckReport(
            ok=False, stage="tls", message=_("TLS with %(host)s failed: %(error)s") % _e(host, exc)
        )
    except (OSError, smtplib.SMTPException) as exc:
        return CheckReport(
            ok=False,
            stage="connect",
            message=_("Cannot connect to %(host)s: %(error)s") % _e(f"{host}:{port}", exc),
        )
    try:
        if mailbox.smtp_security == Mailbox.Security.STARTTLS:
            try:
                connection.starttls(context=context)
            except (ssl.SSLError, smtplib.SMTPException, OSError) as exc:
                return CheckReport(
                    ok=False,
                    stage="tls",
                    message=_("STARTTLS with %(host)s failed: %(error)s") % _e(host, exc),
                )
        try:
            if mailbox.auth == Mailbox.Auth.OAUTH2:
                try:
                    token = oauth.access_token(mailbox)
                except oauth.OAuthError as exc:
                    return CheckReport(ok=False, stage="login", message=str(exc))
                smtp_xoauth2(connection, mailbox.smtp_user or mailbox.address, token)
            elif mailbox.smtp_user:
                password = str((mailbox.inbox.credentials or {}).get("smtp_password") or "")
                connection.login(mailbox.smtp_user, password)
        except smtplib.SMTPException as exc:
            return CheckReport(
                ok=False,
                stage="login",
                message=_("Sign-in to %(host)s refused: %(error)s") % _e(host, exc),
            )
        except OSError as exc:
            return CheckReport(
                ok=False,
                stage="connect",
                message=_("The connection to %(host)s dropped: %(error)s") % _e(host, exc),
            )
    finally:
        try:
            connection.quit()
        except (OSError, smtplib.SMTPException):
            connection.close()
    return CheckReport(
        ok=True, stage="ok", message=_("Connected to %(host)s and signed in.") % {"host": host}
    )


def _e(host: str, exc: BaseException) -> dict[str, str]:
    if isinstance(exc, smtplib.SMTPResponseException):
        error = f"{exc.smtp_code} {_text(exc.smtp_error)}"
    else:
        error = str(exc) or exc.__class__.__name__
    return {"host": host, "error": error}
