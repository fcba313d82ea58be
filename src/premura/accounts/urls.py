from __future__ import annotations

from django.urls import path

from premura.accounts import views

app_name = "account"

urlpatterns = [
    path("", views.settings_page, name="settings"),
]
