from __future__ import annotations

from django.urls import path

from premura.contacts import views

app_name = "contacts"

urlpatterns = [
    path("contacts/", views.contact_list, name="list"),
]
