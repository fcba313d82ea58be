from __future__ import annotations

from django.urls import path

from premura.accounts import views

app_name = "account"

urlpatterns = [
    path("", views.settings_page, name="settings"),
    path("availability/", views.availability, name="availability"),
    path("password/", views.change_password, name="password"),
    path("two-factor/start/", views.two_factor_start, name="two_factor_start"),
    path("two-factor/cancel/", views.two_factor_cancel, name="two_factor_cancel"),
    path("two-factor/confirm/", views.two_factor_confirm, name="two_factor_confirm"),
    path("two-factor/disable/", views.two_factor_disable, name="two_factor_disable"),
]
