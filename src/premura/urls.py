"""URL configuration: one include per app, each with its own namespace."""

from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

from premura.api.api import api

urlpatterns = [
    path("api/", api.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("django-admin/", admin.site.urls),
    path("inbox/", include("premura.inbox.urls")),
    path("conversations/", include("premura.conversations.urls")),
    path("account/", include("premura.accounts.urls")),
    path("settings/", include("premura.administration.urls")),
    path("", include("premura.webforms.urls")),
    path("hooks/email/", include("premura.mail.urls")),
    path("", include("premura.contacts.urls")),
    path("", include("premura.web.urls")),
]
