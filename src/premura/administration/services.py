"""Writes on labels from the settings pages (conversations.services.change_labels puts them on cases).

Events record label names, not ids, so renaming or deleting a label leaves every conversation's
history as it was written.
"""

from __future__ import annotations

from django.db import transaction

from premura.conversations.models import Label


def create_label(name: str, color: str) -> Label:
    """Create a label agents can put on conversations."""
    # A savepoint: a duplicate name fails here and leaves the caller's transaction usable.
    with transaction.atomic():
        return Label.objects.create(name=name[:60], color=color)


def update_label(label: Label, *, name: str, color: str) -> Label:
    """Rename a label or change its colour; conversations keep it."""
    label.name = name[:60]
    label.color = color
    with transaction.atomic():
        label.save(update_fields=["name", "color"])
    return label


def delete_label(label: Label) -> int:
    """Delete a label, taking it off every conversation; returns on how many it was."""
    with transaction.atomic():
        used = Label.conversations.through.objects.filter(label_id=label.pk).count()
        label.delete()
    return used
