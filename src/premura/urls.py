"""URL configuration."""

from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

from premura.api.api import api

urlpatterns = [
    path("api/", api.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("django-admin/", admin.site.urls),
    path("", include("premura.web.urls")),
]
