from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MailConfig(AppConfig):
    name = "premura.mail"
    verbose_name = _("Email")

    def ready(self) -> None:
        from premura.channels.models import Inbox
        from premura.conversations.display import register_text_splitter
        from premura.conversations.outbox import register_sender
        from premura.mail import outbound, quoting

        register_sender(Inbox.Kind.EMAIL, outbound.send_email_message)
        # Plain-text email: the quoted history is found when the message is shown (it costs
        # too much to find for every message fetched).
        register_text_splitter(Inbox.Kind.EMAIL, quoting.split_reply)
