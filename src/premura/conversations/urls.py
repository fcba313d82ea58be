"""The conversation page, its fragments (older messages, polling) and its actions."""

from __future__ import annotations

from django.urls import path

from premura.conversations import views

app_name = "conversations"

urlpatterns = [
    path("<int:conversation_id>/", views.detail, name="detail"),
    path("<int:conversation_id>/older", views.older, name="older"),
    path("<int:conversation_id>/poll", views.poll, name="poll"),
    path("<int:conversation_id>/compose", views.compose, name="compose"),
    path("<int:conversation_id>/assign", views.assign, name="assign"),
    path("<int:conversation_id>/team", views.team, name="team"),
    path("<int:conversation_id>/status", views.status, name="status"),
    path("<int:conversation_id>/priority", views.priority, name="priority"),
    path("<int:conversation_id>/labels", views.labels, name="labels"),
    path("<int:conversation_id>/delete", views.delete, name="delete"),
    path("<int:conversation_id>/messages/<int:message_id>/retry", views.retry, name="retry"),
    path("messages/<int:message_id>/original", views.original, name="original"),
    path(
        "attachments/<int:attachment_id>/preview",
        views.attachment_preview,
        name="attachment_preview",
    ),
    path(
        "attachments/<int:attachment_id>/download",
        views.attachment_download,
        name="attachment_download",
    ),
]
