from __future__ import annotations

from django.urls import path

from premura.conversations import views

app_name = "conversations"

urlpatterns = [
    path("<int:conversation_id>/", views.detail, name="detail"),
]
