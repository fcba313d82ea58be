"""Files of a case: attachments (previewed images, downloads) and a message's original source."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
)
from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_GET

from premura.conversations.display import PREVIEW_TYPES
from premura.conversations.downloads import attachment_response
from premura.conversations.models import Attachment, Message
from premura.conversations.views.page import (
    _user,
)
from premura.conversations.visibility import require_read


def _attachment(request: HttpRequest, attachment_id: int) -> Attachment:
    attachment = get_object_or_404(
        Attachment.objects.select_related("message__conversation__team"), pk=attachment_id
    )
    require_read(_user(request), attachment.message.conversation)
    return attachment


@login_required
@require_GET
def attachment_preview(request: HttpRequest, attachment_id: int) -> FileResponse:
    """An image shown inline in the thread: only PNG, JPEG, GIF and WebP (sniffed), never SVG."""
    attachment = _attachment(request, attachment_id)
    if attachment.content_type not in PREVIEW_TYPES:
        raise Http404
    response = FileResponse(
        attachment.file.open("rb"),
        as_attachment=False,
        filename=attachment.filename,
        content_type=attachment.content_type,
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cross-Origin-Resource-Policy"] = "same-origin"
    response["Cache-Control"] = "private, max-age=3600"
    return response


@login_required
@require_GET
def attachment_download(request: HttpRequest, attachment_id: int) -> FileResponse:
    """Any attachment as a download (never rendered by the browser)."""
    return attachment_response(_attachment(request, attachment_id))


@login_required
@require_GET
def original(request: HttpRequest, message_id: int) -> HttpResponse:
    """The provider's payload of an inbound message exactly as received (an email's source), as
    a download: never rendered by the browser."""
    message = get_object_or_404(
        Message.objects.select_related("conversation__team", "raw", "inbox"), pk=message_id
    )
    require_read(_user(request), message.conversation)
    if message.raw is None:
        raise Http404
    is_email = message.raw.content_type == "message/rfc822"
    response = HttpResponse(
        bytes(message.raw.body),
        content_type="message/rfc822" if is_email else "application/octet-stream",
    )
    extension = "eml" if is_email else "txt"
    name = f"{message.conversation.reference}-{message.sequence}.{extension}"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
