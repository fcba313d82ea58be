"""Merging two contacts into one, and undoing it.

A merge moves the source's identities and conversations to the target, fills the target's blank
fields from the source and leaves the source as a tombstone (`merged_into`). A `ContactMerge` row
records who merged what, exactly, so the merge can be undone: undo moves back the identities and
conversations that moved (those still on the target), restores the fields the merge filled unless
someone edited them since, and revives the source. Every moved conversation gets a
`contact_merged` event for the merge and another one (payload `"undone": true`) for the undo.

Who may merge: every active agent, like editing (Zendesk lets agents merge end users). A customer
belongs to no team ("one history for everyone"), nothing of a conversation's content is shown or
changed by a merge, and every merge can be undone from the contact page.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from premura.contacts.models import Contact, ContactMerge, Identity
from premura.conversations.models import Conversation, ConversationEvent

if TYPE_CHECKING:
    from premura.accounts.models import User

# Fields a merge fills on the target when the target has none and the source has one.
FILLED_FIELDS = ("name", "email", "phone", "language", "notes", "organization_id")


class MergeError(ValueError):
    """A merge or undo that cannot be done; the message says why, for people."""


@dataclass(frozen=True)
class MergePreview:
    """What merging `source` into `target` would move and fill, to show before confirming."""

    source: Contact
    target: Contact
    identities: list[Identity]
    conversation_count: int
    filled: dict[str, Any]
    added_attributes: dict[str, Any]


def check_mergeable(source: Contact, target: Contact) -> None:
    """Raise MergeError when `source` may not be merged into `target`."""
    if source.pk == target.pk:
        raise MergeError(_("A contact cannot be merged into itself."))
    if source.merged_into_id is not None:
        raise MergeError(
            _("%(contact)s was already merged into another contact.") % {"contact": source}
        )
    if target.merged_into_id is not None:
        raise MergeError(
            _("%(contact)s was merged into another contact: merge into that one instead.")
            % {"contact": target}
        )


def _fills(source: Contact, target: Contact) -> dict[str, Any]:
    """The target's blank fields the source has a value for: {field: source value}."""
    return {
        name: getattr(source, name)
        for name in FILLED_FIELDS
        if not getattr(target, name) and getattr(source, name)
    }


def _blank(name: str) -> Any:
    """The blank value of a field a merge fills (a merge only ever fills blanks)."""
    return None if name == "organization_id" else ""


def _added_attributes(source: Contact, target: Contact) -> dict[str, Any]:
    return {k: v for k, v in source.attributes.items() if k not in target.attributes}


def preview_merge(source: Contact, target: Contact) -> MergePreview:
    """What a merge of `source` into `target` would do (raises MergeError when it may not)."""
    check_mergeable(source, target)
    return MergePreview(
        source=source,
        target=target,
        identities=list(source.identities.order_by("kind", "id")),
        conversation_count=Conversation.objects.filter(contact=source).count(),
        filled=_fills(source, target),
        added_attributes=_added_attributes(source, target),
    )


def _lock_pair(first: Contact, second: Contact) -> tuple[Contact, Contact]:
    """Both contacts, locked in id order (so two merges of the same pair cannot deadlock)."""
    ids = sorted([first.pk, second.pk])
    locked = {
        c.pk: c for c in Contact.objects.select_for_update().filter(pk__in=ids).order_by("pk")
    }
    if len(locked) != len({first.pk, second.pk}):
        raise MergeError(_("This contact no longer exists."))
    return locked[first.pk], locked[second.pk]


def _events(
    conversation_ids: list[int], actor: User | None, payload: dict[str, Any]
) -> list[ConversationEvent]:
    now = timezone.now()
    return ConversationEvent.objects.bulk_create(
        [
            ConversationEvent(
                conversation_id=cid,
                kind=ConversationEvent.Kind.CONTACT_MERGED,
                actor_user=actor,
                payload=payload,
                created_at=now,
            )
            for cid in conversation_ids
        ]
    )


def merge(source: Contact, target: Contact, actor: User | None) -> ContactMerge:
    """Merge `source` into `target` and return the record of what moved (see the module doc)."""
    with transaction.atomic():
        source, target = _lock_pair(source, target)
        check_mergeable(source, target)
        identity_ids = list(
            Identity.objects.filter(contact=source).order_by("id").values_list("id", flat=True)
        )
        conversation_ids = list(
            Conversation.objects.filter(contact=source).order_by("id").values_list("id", flat=True)
        )
        Identity.objects.filter(pk__in=identity_ids).update(contact=target)
        Conversation.objects.filter(pk__in=conversation_ids).update(contact=target)

        fills = _fills(source, target)
        added = _added_attributes(source, target)
        for name, value in fills.items():
            setattr(target, name, value)
        changed = list(fills)
        if added:
            target.attributes = {**target.attributes, **added}
            changed.append("attributes")
        target.save(update_fields=[*changed, "updated_at"])
        source.merged_into = target
        source.save(update_fields=["merged_into", "updated_at"])

        record = ContactMerge.objects.create(
            source=source,
            target=target,
            merged_by=actor,
            created_at=timezone.now(),
            identity_ids=identity_ids,
            conversation_ids=conversation_ids,
            # Before is always blank: a merge only fills blanks (organization: None).
            filled_fields={name: [_blank(name), value] for name, value in fills.items()},
            added_attributes=added,
        )
        _events(conversation_ids, actor, {"from_contact": source.pk, "into_contact": target.pk})
    return record


def merge_contacts(source: Contact, target: Contact, actor: User | None) -> Contact:
    """Move everything of `source` into `target`: identities, conversations, blank fields.

    `source` stays as a tombstone pointing at `target`; every moved conversation records a
    contact_merged event naming who merged what; the merge can be undone (`undo_merge`).
    """
    return merge(source, target, actor).target


def check_undoable(record: ContactMerge) -> None:
    """Raise MergeError when this merge cannot be undone (any more)."""
    if record.undone_at is not None:
        raise MergeError(_("This merge was already undone."))
    if record.target.merged_into_id is not None:
        raise MergeError(
            _("%(contact)s was merged into another contact since: undo that merge first.")
            % {"contact": record.target}
        )
    if record.source.merged_into_id != record.target_id:
        raise MergeError(_("%(contact)s is no longer merged.") % {"contact": record.source})


def undo_merge(record: ContactMerge, actor: User | None) -> ContactMerge:
    """Undo a merge: what moved goes back, the source is itself again (see the module doc)."""
    with transaction.atomic():
        record = ContactMerge.objects.select_for_update().get(pk=record.pk)
        source, target = _lock_pair(record.source, record.target)
        record.source, record.target = source, target
        check_undoable(record)
        Identity.objects.filter(pk__in=record.identity_ids, contact=target).update(contact=source)
        moved_back = list(
            Conversation.objects.filter(pk__in=record.conversation_ids, contact=target)
            .order_by("id")
            .values_list("id", flat=True)
        )
        Conversation.objects.filter(pk__in=moved_back).update(contact=source)

        changed = []
        for name, (before, after) in record.filled_fields.items():
            # A field edited since the merge keeps its new value.
            if getattr(target, name) == after:
                setattr(target, name, before)
                changed.append(name)
        attributes = dict(target.attributes)
        for key, value in record.added_attributes.items():
            if key in attributes and attributes[key] == value:
                del attributes[key]
        if attributes != target.attributes:
            target.attributes = attributes
            changed.append("attributes")
        target.save(update_fields=[*changed, "updated_at"])
        source.merged_into = None
        source.save(update_fields=["merged_into", "updated_at"])

        record.undone_at = timezone.now()
        record.undone_by = actor
        record.save(update_fields=["undone_at", "undone_by"])
        _events(
            moved_back,
            actor,
            {"from_contact": source.pk, "into_contact": target.pk, "undone": True},
        )
    return record
