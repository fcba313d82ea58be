from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WebformsConfig(AppConfig):
    name = "premura.webforms"
    label = "webforms"
    verbose_name = _("Contact forms")

    def ready(self) -> None:
        from premura.channels.models import Inbox
        from premura.conversations.outbox import register_sender
        from premura.webforms.sender import send_webform_message

        # Confirmations and agents' replies in a contact-form case leave as email.
        register_sender(Inbox.Kind.WEBFORM, send_webform_message)
