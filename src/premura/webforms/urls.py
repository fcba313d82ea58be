"""The public form pages (/forms/…) and their settings pages (/settings/forms/…)."""

from __future__ import annotations

from django.urls import path

from premura.webforms.views import manage, public

app_name = "webforms"

urlpatterns = [
    path("forms/<slug:slug>/", public.form_page, name="page"),
    path("forms/<slug:slug>/embed", public.form_embed, name="embed"),
    path("forms/<slug:slug>/embed.js", public.embed_script, name="embed_script"),
    path("settings/forms/", manage.form_list, name="settings_list"),
    path("settings/forms/new/", manage.form_create, name="settings_create"),
    path("settings/forms/<int:form_id>/", manage.form_detail, name="settings_detail"),
]
