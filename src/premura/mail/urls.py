"""Email's public URLs: provider webhooks that deliver inbound email, one set per inbox."""

from __future__ import annotations

from django.urls import path

from premura.mail import webhooks

app_name = "mail"

urlpatterns = [
    path("<int:inbox_id>/<slug:esp>/", webhooks.inbound_webhook, name="inbound_webhook"),
]
