"""Inboxes: the list, a new API channel inbox, its page with the token and webhook secret."""

from __future__ import annotations

import json
import time

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from premura.administration.forms import InboxCreateForm, InboxEditForm
from premura.administration.views.common import admin_required, render_settings
from premura.channels.models import Inbox
from premura.channels.services import (
    INBOX_TOKEN_PREFIX,
    reissue_inbox_token,
    rotate_webhook_secret,
    set_up_api_inbox,
    update_inbox,
)

# Secrets waiting to be shown once, by inbox id. They live in the session only between the POST
# that made them and the page the POST redirects to, which takes them out; one never opened is
# dropped after SHOWN_ONCE_SECONDS rather than kept for the session's life.
SHOWN_ONCE_KEY = "administration.shown_once"
SHOWN_ONCE_SECONDS = 600


def _keep_for_one_view(request: HttpRequest, inbox: Inbox, **secrets: str) -> None:
    pending = dict(request.session.get(SHOWN_ONCE_KEY, {}))
    entry = {**pending.get(str(inbox.pk), {}), **secrets, "at": time.time()}
    pending[str(inbox.pk)] = entry
    request.session[SHOWN_ONCE_KEY] = pending


def _take_shown_once(request: HttpRequest, inbox: Inbox) -> dict[str, str]:
    """The secrets waiting for this inbox's page (removed from the session as they are taken)."""
    if SHOWN_ONCE_KEY not in request.session:
        return {}
    now = time.time()
    pending = {
        key: entry
        for key, entry in request.session[SHOWN_ONCE_KEY].items()
        if now - float(entry.get("at", 0)) < SHOWN_ONCE_SECONDS
    }
    secrets = pending.pop(str(inbox.pk), {})
    if pending:
        request.session[SHOWN_ONCE_KEY] = pending
    else:
        del request.session[SHOWN_ONCE_KEY]
    return {key: str(value) for key, value in secrets.items() if key != "at"}


def _curl_example(post_url: str, token: str) -> str:
    body = {
        "message_id": "order-1042-msg-1",
        "contact": {"identifier": "customer-77", "name": "Mario Rossi"},
        "text": "Buongiorno, il mio ordine non è arrivato.",
        "thread": "order-1042",
    }
    data = json.dumps(body, ensure_ascii=False, indent=2).replace("\n", "\n  ")
    return (
        f"curl -X POST '{post_url}' \\\n"
        f"  -H 'Authorization: Bearer {token}' \\\n"
        "  -H 'Content-Type: application/json' \\\n"
        f"  -d '{data}'"
    )


@admin_required
def inbox_list(request: HttpRequest) -> HttpResponse:
    """Every inbox with its channel, team and creation date."""
    inboxes = Inbox.objects.select_related("team").order_by("name", "pk")
    return render_settings(
        request, "administration/inbox_list.html", {"inboxes": inboxes}, section="inboxes"
    )


@admin_required
def inbox_create(request: HttpRequest) -> HttpResponse:
    """A new API channel inbox; its token and webhook secret are shown on the next page only."""
    form = InboxCreateForm(request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            created = set_up_api_inbox(
                form.cleaned_data["name"],
                webhook_url=form.cleaned_data["webhook_url"],
                team=form.cleaned_data["team"],
            )
            _keep_for_one_view(
                request, created.inbox, token=created.token, webhook_secret=created.webhook_secret
            )
            messages.success(request, _("Inbox “%(name)s” created.") % {"name": created.inbox.name})
            return redirect("administration:inbox", inbox_id=created.inbox.pk)
        return render_settings(
            request, "administration/inbox_new.html", {"form": form}, section="inboxes", status=400
        )
    return render_settings(
        request, "administration/inbox_new.html", {"form": form}, section="inboxes"
    )


@admin_required
def inbox_detail(request: HttpRequest, inbox_id: int) -> HttpResponse:
    """An inbox's page: how to connect (id, URL, curl), its token and secret, its settings."""
    inbox = get_object_or_404(Inbox.objects.select_related("team"), pk=inbox_id)
    status = 200
    if request.method == "POST":
        form = InboxEditForm(request.POST, inbox=inbox)
        if form.is_valid():
            update_inbox(
                inbox,
                name=form.cleaned_data["name"],
                team=form.cleaned_data["team"],
                webhook_url=form.cleaned_data.get("webhook_url", inbox.webhook_url),
            )
            messages.success(request, _("Inbox “%(name)s” saved.") % {"name": inbox.name})
            return redirect("administration:inbox", inbox_id=inbox.pk)
        status = 400
    else:
        form = InboxEditForm(inbox=inbox)
    shown_once = _take_shown_once(request, inbox) if request.method == "GET" else {}
    post_url = settings.PREMURA_BASE_URL.rstrip("/") + reverse(
        "api-1:inbox_messages", kwargs={"inbox_id": inbox.pk}
    )
    hint = str((inbox.settings or {}).get("token_hint") or INBOX_TOKEN_PREFIX)
    context = {
        "inbox": inbox,
        "form": form,
        "is_api": inbox.kind == Inbox.Kind.API,
        "new_token": shown_once.get("token", ""),
        "new_webhook_secret": shown_once.get("webhook_secret", ""),
        "token_hint": hint,
        "post_url": post_url,
        "curl": _curl_example(post_url, shown_once.get("token") or hint + "…"),
        "api_docs_url": reverse("api-1:openapi-view"),
    }
    return render_settings(
        request, "administration/inbox_detail.html", context, section="inboxes", status=status
    )


def _api_inbox(inbox_id: int) -> Inbox:
    return get_object_or_404(Inbox, pk=inbox_id, kind=Inbox.Kind.API)


@admin_required
@require_POST
def inbox_rotate_token(request: HttpRequest, inbox_id: int) -> HttpResponse:
    """A new bearer token; the old one stops working at once."""
    inbox = _api_inbox(inbox_id)
    token = reissue_inbox_token(inbox)
    _keep_for_one_view(request, inbox, token=token)
    messages.success(
        request,
        _("New token issued for “%(name)s”: the previous one no longer works.")
        % {"name": inbox.name},
    )
    return redirect("administration:inbox", inbox_id=inbox.pk)


@admin_required
@require_POST
def inbox_rotate_secret(request: HttpRequest, inbox_id: int) -> HttpResponse:
    """A new webhook signing secret; webhooks are signed with it from now on."""
    inbox = _api_inbox(inbox_id)
    secret = rotate_webhook_secret(inbox)
    _keep_for_one_view(request, inbox, webhook_secret=secret)
    messages.success(
        request,
        _("New webhook secret for “%(name)s”: webhooks are signed with it from now on.")
        % {"name": inbox.name},
    )
    return redirect("administration:inbox", inbox_id=inbox.pk)
