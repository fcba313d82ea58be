"""Storing attachments: size limit, type sniffed from the bytes, safe file names."""

from __future__ import annotations

import hashlib
import re
import unicodedata
import uuid
from typing import TYPE_CHECKING

import filetype
from django.conf import settings
from django.core.files.base import ContentFile

from premura.conversations.models import Attachment

if TYPE_CHECKING:
    from premura.conversations.models import Message


class AttachmentTooLarge(ValueError):
    """An attachment over PREMURA_MAX_ATTACHMENT_BYTES."""


_UNSAFE_NAME = re.compile(r"[\x00-\x1f\x7f/\\:*?\"<>|]+")


def safe_filename(name: str) -> str:
    """A display file name without paths, control characters or shell-special characters."""
    name = unicodedata.normalize("NFC", name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = _UNSAFE_NAME.sub("_", name).strip(" .")
    return name[:200] or "attachment"


def sniff_content_type(content: bytes) -> str:
    """The content type the bytes say they are, never the one the sender declared."""
    kind = filetype.guess(content[:8192])
    if kind is not None:
        return str(kind.mime)
    head = content[:8192]
    if b"\x00" not in head:
        try:
            head.decode("utf-8")
        except UnicodeDecodeError:
            return "application/octet-stream"
        return "text/plain"
    return "application/octet-stream"


def check_size(size: int) -> None:
    """Raise AttachmentTooLarge for a file over the configured limit."""
    if size > settings.PREMURA_MAX_ATTACHMENT_BYTES:
        raise AttachmentTooLarge(
            f"attachment of {size} bytes is over the limit of "
            f"{settings.PREMURA_MAX_ATTACHMENT_BYTES} bytes"
        )


def store_attachment(
    message: Message,
    filename: str,
    content: bytes,
    declared_content_type: str = "",
    *,
    content_id: str = "",
    inline: bool = False,
) -> Attachment:
    """Save a file for a message under a random storage name."""
    check_size(len(content))
    attachment = Attachment(
        message=message,
        filename=safe_filename(filename),
        content_type=sniff_content_type(content),
        declared_content_type=declared_content_type[:100],
        size=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        content_id=content_id[:255],
        inline=inline and bool(content_id),
    )
    attachment.file.save(uuid.uuid4().hex, ContentFile(content), save=False)
    attachment.save()
    return attachment
