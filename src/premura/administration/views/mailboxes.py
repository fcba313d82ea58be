"""Email inboxes in the settings: create and edit a mailbox, test its connection, fetch status,
quarantined messages, OAuth2 sign-in (Google, Microsoft) and the provider webhook URLs.

Passwords and keys are never shown back: an empty field keeps the stored one, a "remove" box
deletes it. The webhook password Premura generates is shown once, like an API inbox's token.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import messages
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.utils.translation import gettext as _
from django.utils.translation import pgettext_lazy
from django.views.decorators.http import require_POST

from premura.administration.mailbox_forms import (
    MailboxForm,
)
from premura.administration.views.common import admin_required, render_settings
from premura.administration.views.inboxes import _keep_for_one_view, _take_shown_once
from premura.channels.models import Inbox
from premura.channels.services import update_inbox
from premura.mail import oauth, webhooks
from premura.mail.models import FetchState, Mailbox, QuarantinedEmail
from premura.mail.outbound import check_smtp

if TYPE_CHECKING:
    pass

STAGE_LABELS = {
    "dns": pgettext_lazy("connection stage", "name lookup (DNS)"),
    "connect": pgettext_lazy("connection stage", "connection"),
    "tls": pgettext_lazy("connection stage", "TLS"),
    "login": pgettext_lazy("connection stage", "sign-in"),
    "folder": pgettext_lazy("connection stage", "folder"),
    "ok": pgettext_lazy("connection stage", "all stages"),
}


def _mailbox(inbox_id: int) -> Mailbox:
    return get_object_or_404(
        Mailbox.objects.select_related("inbox", "inbox__team"),
        inbox_id=inbox_id,
        inbox__kind=Inbox.Kind.EMAIL,
    )


@admin_required
def mailbox_create(request: HttpRequest) -> HttpResponse:
    """A new email inbox: IMAP or webhooks to receive, SMTP or a provider's API to send."""
    from premura.mail.services import create_email_inbox

    form = MailboxForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            mailbox_secrets, provider_secrets = form.secrets()
            fields = form.mailbox_fields()
            try:
                with transaction.atomic():
                    mailbox = create_email_inbox(
                        name=form.cleaned_data["name"],
                        team=form.cleaned_data["team"],
                        secrets=mailbox_secrets,
                        **fields,
                    )
                    new_password = webhooks.set_provider_secrets(mailbox, provider_secrets)
            except ValueError as exc:
                form.add_error(None, str(exc))
            else:
                if new_password:
                    _keep_for_one_view(request, mailbox.inbox, webhook_password=new_password)
                messages.success(
                    request, _("Inbox “%(name)s” created.") % {"name": mailbox.inbox.name}
                )
                return redirect("administration:mailbox", inbox_id=mailbox.inbox_id)
        status = 400
    return render_settings(
        request,
        "administration/mailbox_new.html",
        {"form": form},
        section="inboxes",
        status=status,
    )


def _status_context(request: HttpRequest, mailbox: Mailbox) -> dict[str, Any]:
    from premura.mail import imap

    state = FetchState.objects.filter(mailbox=mailbox).first()
    stale_ids: set[int] = set()
    stale_mailboxes = getattr(imap, "stale_mailboxes", None)
    if callable(stale_mailboxes) and mailbox.inbound == Mailbox.Inbound.IMAP:
        stale_ids = {getattr(item, "pk", item) for item in stale_mailboxes()}
    quarantined = list(
        QuarantinedEmail.objects.filter(mailbox=mailbox, quarantined=True, released_at__isnull=True)
        .order_by("-updated_at", "-id")
        .defer("raw")[:100]
    )
    shown_once = _take_shown_once(request, mailbox.inbox) if request.method == "GET" else {}
    credentials = mailbox.inbox.credentials or {}
    webhook_secret = str(credentials.get("webhook_secret") or "")
    new_password = shown_once.get("webhook_password", "")
    esp_urls = []
    if mailbox.inbound == Mailbox.Inbound.WEBHOOK:
        masked = webhooks.WEBHOOK_USER + ":••••••" if webhook_secret else ""
        for esp, label in webhooks.ESP_LABELS.items():
            esp_urls.append(
                {
                    "esp": esp,
                    "label": label,
                    "url": webhooks.webhook_url(
                        mailbox.inbox_id, esp, secret=new_password or masked
                    ),
                    "current": esp == mailbox.esp_name,
                }
            )
    return {
        "mailbox": mailbox,
        "inbox": mailbox.inbox,
        "state": state,
        "stale": mailbox.pk in stale_ids,
        "quarantined": quarantined,
        "oauth_connected": bool(credentials.get("oauth_refresh_token")),
        "oauth_error": (mailbox.inbox.settings or {}).get("oauth_error", ""),
        "oauth_provider_label": (
            oauth.PROVIDERS[mailbox.oauth_provider].label
            if mailbox.oauth_provider in oauth.PROVIDERS
            else _("your provider")
        ),
        "oauth_redirect_uri": oauth.redirect_uri(),
        "esp_urls": esp_urls,
        "webhook_password_shown": bool(new_password),
        "has_webhook_secret": bool(webhook_secret),
    }


def _render_detail(
    request: HttpRequest,
    mailbox: Mailbox,
    form: MailboxForm,
    *,
    checks: list[dict[str, Any]] | None = None,
    status: int = 200,
) -> HttpResponse:
    context = {**_status_context(request, mailbox), "form": form, "checks": checks}
    return render_settings(
        request, "administration/mailbox_detail.html", context, section="inboxes", status=status
    )


@admin_required
def mailbox_detail(request: HttpRequest, inbox_id: int) -> HttpResponse:
    """An email inbox's page: status, test, quarantine, sign-in, webhooks, and its settings."""
    from premura.mail.services import update_mailbox

    mailbox = _mailbox(inbox_id)
    if request.method != "POST":
        return _render_detail(request, mailbox, MailboxForm(mailbox=mailbox))
    form = MailboxForm(request.POST, mailbox=mailbox)
    if form.is_valid():
        mailbox_secrets, provider_secrets = form.secrets()
        try:
            with transaction.atomic():
                update_inbox(
                    mailbox.inbox,
                    name=form.cleaned_data["name"],
                    team=form.cleaned_data["team"],
                    webhook_url="",
                )
                mailbox = update_mailbox(
                    mailbox, secrets=mailbox_secrets or None, **form.mailbox_fields()
                )
                new_password = webhooks.set_provider_secrets(mailbox, provider_secrets)
        except ValueError as exc:
            form.add_error(None, str(exc))
        else:
            if new_password:
                _keep_for_one_view(request, mailbox.inbox, webhook_password=new_password)
            messages.success(request, _("Inbox “%(name)s” saved.") % {"name": mailbox.inbox.name})
            return redirect("administration:mailbox", inbox_id=inbox_id)
    mailbox = _mailbox(inbox_id)
    return _render_detail(request, mailbox, form, status=400)


def _check(label: str, report: Any) -> dict[str, Any]:
    return {
        "label": label,
        "ok": bool(report.ok),
        "stage": STAGE_LABELS.get(report.stage, report.stage),
        "message": report.message,
    }


@admin_required
@require_POST
def mailbox_test(request: HttpRequest, inbox_id: int) -> HttpResponse:
    """Try receiving and sending now and say which stage failed and why."""
    from premura.mail.connection import check_imap

    mailbox = _mailbox(inbox_id)
    checks = []
    if mailbox.inbound == Mailbox.Inbound.IMAP:
        checks.append(_check(_("Receiving (IMAP)"), check_imap(mailbox)))
    label = (
        _("Sending (SMTP)")
        if mailbox.outbound == Mailbox.Outbound.SMTP
        else _("Sending (provider API)")
    )
    checks.append(_check(label, check_smtp(mailbox)))
    return _render_detail(request, mailbox, MailboxForm(mailbox=mailbox), checks=checks)


@admin_required
@require_POST
def mailbox_rotate_webhook_secret(request: HttpRequest, inbox_id: int) -> HttpResponse:
    """A new webhook password; the provider's URLs must be updated with it."""
    mailbox = _mailbox(inbox_id)
    secret = webhooks.rotate_webhook_secret(mailbox)
    _keep_for_one_view(request, mailbox.inbox, webhook_password=secret)
    messages.success(
        request,
        _("New webhook password: paste the new URL at your provider, the old one stops working."),
    )
    return redirect("administration:mailbox", inbox_id=inbox_id)


def _quarantined(mailbox: Mailbox, item_id: int) -> QuarantinedEmail:
    return get_object_or_404(QuarantinedEmail, pk=item_id, mailbox=mailbox)


@admin_required
def mailbox_quarantine_raw(request: HttpRequest, inbox_id: int, item_id: int) -> HttpResponse:
    """A quarantined email's raw source, as plain text: never rendered as HTML."""
    item = _quarantined(_mailbox(inbox_id), item_id)
    text = bytes(item.raw).decode("utf-8", errors="replace")
    response = HttpResponse(text, content_type="text/plain; charset=utf-8")
    response["Content-Disposition"] = f'inline; filename="quarantined-{item.pk}.txt"'
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["X-Content-Type-Options"] = "nosniff"
    return response


@admin_required
@require_POST
def mailbox_quarantine_retry(request: HttpRequest, inbox_id: int, item_id: int) -> HttpResponse:
    """Try a quarantined email again (after a fix); it leaves the list when it is stored."""
    from premura.mail.imap import retry_quarantined

    item = _quarantined(_mailbox(inbox_id), item_id)
    try:
        result = retry_quarantined(item)
    except Exception as exc:  # the parser or ingest still fails: say so, keep it quarantined
        messages.error(
            request, _("The message still cannot be stored: %(error)s") % {"error": str(exc)[:300]}
        )
    else:
        if result is None:
            messages.success(request, _("The message belongs to a deleted case: skipped."))
        else:
            messages.success(
                request,
                _("The message is stored in case %(reference)s.")
                % {"reference": result.conversation.reference},
            )
    return redirect("administration:mailbox", inbox_id=inbox_id)


@admin_required
@require_POST
def mailbox_oauth_start(request: HttpRequest, inbox_id: int) -> HttpResponse:
    """Send the admin to Google's or Microsoft's sign-in page for this mailbox."""
    mailbox = _mailbox(inbox_id)
    if mailbox.auth != Mailbox.Auth.OAUTH2:
        messages.error(request, _("This inbox signs in with a password, not OAuth2."))
        return redirect("administration:mailbox", inbox_id=inbox_id)
    try:
        url = oauth.authorization_url(request.session, mailbox)
    except oauth.OAuthError:
        messages.error(request, _("Set the OAuth2 provider and client id first."))
        return redirect("administration:mailbox", inbox_id=inbox_id)
    return redirect(url)


@admin_required
def mailbox_oauth_callback(request: HttpRequest) -> HttpResponse:
    """Where the provider sends the admin back: check the state, exchange the code."""
    state = request.GET.get("state", "")
    error = request.GET.get("error", "")
    if error:
        description = request.GET.get("error_description", "")
        mailbox_id = oauth.state_mailbox(state)
        mailbox = Mailbox.objects.filter(pk=mailbox_id).first() if mailbox_id else None
        if mailbox is None:
            return _oauth_failed(request, _("The sign-in was cancelled or refused."))
        messages.error(
            request,
            _("The provider refused the sign-in: %(error)s")
            % {"error": f"{error} {description}".strip()[:300]},
        )
        return redirect("administration:mailbox", inbox_id=mailbox.inbox_id)
    try:
        mailbox = oauth.complete_authorization(
            request.session, state=state, code=request.GET.get("code", "")
        )
    except oauth.OAuthStateError:
        return _oauth_failed(
            request,
            _(
                "This sign-in answer is not valid: it was altered, it expired, or it was started "
                "in another browser session. Start again from the inbox's page."
            ),
        )
    except oauth.OAuthError as exc:
        mailbox_id = oauth.state_mailbox(state)
        mailbox_row = Mailbox.objects.filter(pk=mailbox_id).first() if mailbox_id else None
        messages.error(request, _("Connecting failed: %(error)s") % {"error": str(exc)})
        if mailbox_row is None:
            return _oauth_failed(request, str(exc))
        return redirect("administration:mailbox", inbox_id=mailbox_row.inbox_id)
    messages.success(request, _("Mailbox connected: Premura signs in with OAuth2 from now on."))
    return redirect("administration:mailbox", inbox_id=mailbox.inbox_id)


def _oauth_failed(request: HttpRequest, message: str) -> HttpResponse:
    return render_settings(
        request,
        "administration/mailbox_oauth_failed.html",
        {"message": message},
        section="inboxes",
        status=400,
    )
