from __future__ import annotations

from django.urls import path

from premura.inbox import views

app_name = "inbox"

urlpatterns = [
    path("", views.index, name="index"),
    path("bulk", views.bulk, name="bulk"),
    path("palette", views.palette, name="palette"),
]
