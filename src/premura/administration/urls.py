from __future__ import annotations

from django.urls import path

from premura.administration import views

app_name = "administration"

urlpatterns = [
    path("", views.index, name="index"),
]
