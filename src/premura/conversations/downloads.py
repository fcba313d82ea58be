"""Serving attachments: always as a download, never rendered by the browser."""

from __future__ import annotations

from django.http import FileResponse

from premura.conversations.models import Attachment


def attachment_response(attachment: Attachment) -> FileResponse:
    """A download response: Content-Disposition attachment, nosniff, a sandboxing CSP."""
    response = FileResponse(
        attachment.file.open("rb"),
        as_attachment=True,
        filename=attachment.filename,
        content_type=attachment.content_type
        if attachment.content_type.startswith("image/")
        and attachment.content_type != "image/svg+xml"
        else "application/octet-stream",
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
