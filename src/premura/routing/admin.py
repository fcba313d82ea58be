from __future__ import annotations

from django.contrib import admin

from premura.routing.models import Team


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("name", "restricted")
    filter_horizontal = ("members",)
