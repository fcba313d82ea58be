"""The composer: a reply through the conversation's channel, or a private note with @mentions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages as flash
from django.contrib.auth.decorators import login_required
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
)
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from premura.conversations import services
from premura.conversations.attachments import AttachmentTooLarge
from premura.conversations.models import Conversation
from premura.conversations.views.page import (
    MAX_FILES,
    MAX_TEXT,
    _detail_url,
    _get,
    _is_htmx,
    _list_state,
    _page,
    _user,
)
from premura.conversations.visibility import access, require_act


class ComposeForm(forms.Form):
    """A reply to the customer or a private note."""

    mode = forms.ChoiceField(
        choices=[("reply", gettext_lazy("Reply")), ("note", gettext_lazy("Private note"))]
    )
    text = forms.CharField(required=False, max_length=MAX_TEXT, strip=False)

    def __init__(self, *args: Any, files_list: Sequence[Any] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.files_list = list(files_list)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        mode = data.get("mode")
        text = data.get("text") or ""
        if mode == "note" and self.files_list:
            raise forms.ValidationError(_("Private notes cannot carry attachments."))
        if len(self.files_list) > MAX_FILES:
            raise forms.ValidationError(_("Attach at most %(count)d files.") % {"count": MAX_FILES})
        for upload in self.files_list:
            if upload.size > settings.PREMURA_MAX_ATTACHMENT_BYTES:
                raise forms.ValidationError(
                    _("%(name)s is larger than the limit of %(size)d MB.")
                    % {
                        "name": upload.name,
                        "size": settings.PREMURA_MAX_ATTACHMENT_BYTES // (1024 * 1024),
                    }
                )
        if mode and not text.strip() and not self.files_list:
            raise forms.ValidationError(
                _("Write a note first.") if mode == "note" else _("Write a reply first.")
            )
        return data


def _composer_response(
    request: HttpRequest,
    conversation: Conversation,
    form: ComposeForm | None,
    *,
    mode: str,
    text: str = "",
    status: int = 200,
) -> HttpResponse:
    context = {
        "conversation": conversation,
        "can_act": True,
        "compose_mode": mode,
        "compose_text": text,
        "compose_form": form,
        "signature": _user(request).signature.strip(),
        "list_state": _list_state(request),
    }
    response = render(request, "conversations/detail.html#composer", context, status=status)
    if status == 200:
        response["HX-Trigger"] = "premura:poll"
    return response


@login_required
@require_POST
def compose(request: HttpRequest, conversation_id: int) -> HttpResponse:
    """Send a reply through the conversation's channel (via the outbox) or add a private note."""
    user = _user(request)
    conversation = _get(request, conversation_id)
    require_act(user, conversation)
    files = request.FILES.getlist("files")
    form = ComposeForm(request.POST, files_list=files)
    mode = "note" if request.POST.get("mode") == "note" else "reply"
    error = ""
    if form.is_valid():
        text = form.cleaned_data["text"]
        try:
            if form.cleaned_data["mode"] == "note":
                services.add_note(conversation, user, text)
                done = _("Note added.")
            else:
                attachments = [
                    services.OutgoingAttachment(
                        f.name or "attachment", f.read(), f.content_type or ""
                    )
                    for f in files
                ]
                services.reply(
                    conversation,
                    user,
                    services.with_signature(text, user) if text.strip() else text,
                    attachments=attachments,
                )
                done = _("Reply queued for delivery.")
        except AttachmentTooLarge:
            error = _("An attachment is larger than the limit.")
        except ValueError:
            error = _("Write a reply first.")
        if not error:
            if _is_htmx(request):
                return _composer_response(request, conversation, None, mode=mode)
            flash.success(request, done)
            return HttpResponseRedirect(_detail_url(conversation, request))
        form.add_error(None, error)
    status = 422 if _is_htmx(request) else 400
    text = request.POST.get("text", "")[:MAX_TEXT]
    if _is_htmx(request):
        return _composer_response(request, conversation, form, mode=mode, text=text, status=status)
    extra = {"compose_form": form, "compose_mode": mode, "compose_text": text}
    return _page(request, conversation, access(user, conversation), extra=extra, status=status)


# --- side actions --------------------------------------------------------------------------------
