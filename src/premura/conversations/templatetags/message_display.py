"""`{% message_body message as body %}`: a message's body as agents see it (display.py)."""

from __future__ import annotations

from typing import Any

from django import template

from premura.conversations.display import Body
from premura.conversations.display import message_body as _message_body
from premura.conversations.models import Message

register = template.Library()


@register.simple_tag(takes_context=True)
def message_body(context: Any, message: Message) -> Body:
    """Remote images show only in the message whose id the page's `images` parameter names."""
    return _message_body(message, remote_images=context.get("images_message_id") == message.pk)
