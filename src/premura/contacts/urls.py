"""Contacts, organizations and the customer panel (namespace "contacts")."""

from __future__ import annotations

from django.urls import path

from premura.contacts import views

app_name = "contacts"

urlpatterns = [
    path("contacts/", views.contact_list, name="list"),
    path("contacts/<int:contact_id>/", views.contact_detail, name="detail"),
    path("contacts/<int:contact_id>/edit", views.contact_edit, name="edit"),
    path("contacts/<int:contact_id>/panel", views.panel, name="panel"),
    path("contacts/<int:contact_id>/timeline", views.contact_timeline, name="timeline"),
    path("contacts/<int:contact_id>/merge", views.merge_contact, name="merge"),
    path("contacts/<int:contact_id>/merge/search", views.merge_search, name="merge_search"),
    path(
        "contacts/<int:contact_id>/merges/<int:merge_id>/undo",
        views.merge_undo,
        name="merge_undo",
    ),
    path("contacts/attribute-row", views.attribute_row, name="attribute_row"),
    path(
        "contacts/conversations/<int:conversation_id>/preview",
        views.conversation_preview,
        name="conversation_preview",
    ),
    path("organizations/", views.organization_list, name="organization_list"),
    path("organizations/options", views.organization_options, name="organization_options"),
    path(
        "organizations/<int:organization_id>/",
        views.organization_detail,
        name="organization_detail",
    ),
    path(
        "organizations/<int:organization_id>/conversations",
        views.organization_conversations,
        name="organization_conversations",
    ),
    path(
        "organizations/<int:organization_id>/contacts",
        views.organization_contacts,
        name="organization_contacts",
    ),
]
