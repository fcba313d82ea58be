"""How a message's body is shown to agents: quoted history folded, remote images blocked until an
agent allows them, inline (cid:) images in place.

The stored HTML was sanitised with nh3 before it was stored (conversations.sanitize), so its
markup is regular (double-quoted attributes, entities escaped) and the rewrites below work on it
with plain patterns. Channels that know how to find a quoted reply in plain text (email) register
a splitter, as they register their sender with the outbox: the domain never imports a channel.
"""

from __future__ import annotations

import html as html_lib
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.urls import reverse
from django.utils.html import escape, linebreaks
from django.utils.safestring import SafeString, mark_safe

if TYPE_CHECKING:
    from premura.conversations.models import Attachment, Message

logger = logging.getLogger(__name__)

# Image types previewed inline; anything else (SVG above all) is only ever downloaded.
PREVIEW_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})

# (the new reply, the quoted part and signature)
TextSplitter = Callable[[str], tuple[str, str]]
_splitters: dict[str, TextSplitter] = {}


def register_text_splitter(channel_kind: str, splitter: TextSplitter) -> None:
    """Called by a channel at start-up: how to find the quoted reply in its plain-text messages."""
    _splitters[channel_kind] = splitter


@dataclass(frozen=True)
class Body:
    """A message body ready for the page."""

    html: SafeString
    has_quoted: bool = False
    blocked_images: int = 0


QUOTED_MARK = 'data-quoted=""'
_IMG = re.compile(r"<img\b[^>]*>", re.IGNORECASE)
_SRC = re.compile(r'\ssrc="([^"]*)"', re.IGNORECASE)
_SRCSET = re.compile(r'\ssrcset="[^"]*"', re.IGNORECASE)
_REMOTE = ("http://", "https://", "//")


def _inline_url(attachment: Attachment) -> str:
    if attachment.content_type in PREVIEW_TYPES:
        return reverse("conversations:attachment_preview", args=[attachment.pk])
    return ""


def _rewrite_images(
    html: str, attachments: list[Attachment], *, remote_images: bool
) -> tuple[str, int]:
    """cid: images point at their attachment; remote ones lose their address unless allowed."""
    by_cid = {a.content_id: a for a in attachments if a.content_id}
    blocked = 0

    def rewrite(match: re.Match[str]) -> str:
        nonlocal blocked
        tag = match.group(0)
        src_match = _SRC.search(tag)
        if src_match is None:
            return tag
        src = html_lib.unescape(src_match.group(1)).strip()
        if src.lower().startswith("cid:"):
            attachment = by_cid.get(src[4:].strip("<>"))
            url = _inline_url(attachment) if attachment is not None else ""
            replacement = f' src="{escape(url)}"' if url else " data-missing-inline"
            return tag.replace(src_match.group(0), replacement, 1)
        if src.lower().startswith(_REMOTE):
            if remote_images:
                return tag[:-1].rstrip("/") + ' referrerpolicy="no-referrer">'
            blocked += 1
            tag = _SRCSET.sub("", tag)
            return tag.replace(src_match.group(0), " data-blocked", 1)
        return tag

    return _IMG.sub(rewrite, html), blocked


def _split(message: Message) -> tuple[str, str]:
    splitter = _splitters.get(message.inbox.kind)
    if splitter is None or message.direction != message.Direction.INBOUND:
        return message.text, ""
    try:
        return splitter(message.text)
    except Exception:  # a splitter's bug must not hide the message
        logger.exception("could not split the quoted reply of message %s", message.pk)
        return message.text, ""


def message_body(message: Message, *, remote_images: bool = False) -> Body:
    """The body of `message` as agents see it."""
    if message.html:
        attachments = list(message.attachments.all())
        html, blocked = _rewrite_images(message.html, attachments, remote_images=remote_images)
        return Body(mark_safe(html), QUOTED_MARK in html, blocked)  # noqa: S308 - sanitised on the way in
    reply, quoted = _split(message)
    if reply.strip() and quoted.strip():
        html = (
            f"{linebreaks(reply, autoescape=True)}"
            f"<div {QUOTED_MARK}>{linebreaks(quoted, autoescape=True)}</div>"
        )
        return Body(mark_safe(html), True)  # noqa: S308 - escaped by linebreaks
    return Body(mark_safe(linebreaks(message.text, autoescape=True)))  # noqa: S308 - escaped
