from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ChannelsConfig(AppConfig):
    name = "premura.channels"
    # "channels" is Django Channels' label (realtime); ours must differ.
    label = "premura_channels"
    verbose_name = _("Channels")

    def ready(self) -> None:
        from premura.channels import api_channel
        from premura.channels.models import Inbox
        from premura.conversations.outbox import register_sender

        register_sender(Inbox.Kind.API, api_channel.send)
