from __future__ import annotations

from django.contrib import admin

from premura.contacts.models import Contact, Identity, Organization


class IdentityInline(admin.TabularInline):  # type: ignore[type-arg]
    model = Identity
    extra = 0


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("id", "name", "email", "phone", "created_at")
    search_fields = ("email", "phone")
    inlines = [IdentityInline]
    raw_id_fields = ("organization", "merged_into")


admin.site.register(Organization)
