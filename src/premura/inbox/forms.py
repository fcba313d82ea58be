"""The inbox's one form: a bulk action over the selected conversations."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from premura.conversations.models import Conversation
from premura.inbox.services import MAX_BULK

# Snoozing needs a date per conversation: it is done from the conversation page.
BULK_STATUSES = [
    (value, label)
    for value, label in Conversation.Status.choices
    if value != Conversation.Status.SNOOZED
]


class IdsField(forms.Field):
    """The ids of the ticked rows (at most a page's worth)."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value: Any) -> list[int]:
        if not value:
            return []
        values = value if isinstance(value, list | tuple) else [value]
        ids: list[int] = []
        for item in values:
            text = str(item).strip()
            if not text.isdigit() or len(text) > 12:
                raise ValidationError(_("The selection is not valid."), code="invalid")
            if int(text) not in ids:
                ids.append(int(text))
        if len(ids) > MAX_BULK:
            raise ValidationError(
                _("Select at most %(max)d conversations at a time.") % {"max": MAX_BULK},
                code="too_many",
            )
        return ids


def _id_or_none(value: str) -> int | None:
    return None if value == "none" else int(value)


class BulkForm(forms.Form):
    """A bulk action: which one (the button pressed), on which conversations, with what value."""

    ACTIONS = ("assign", "team", "status", "label_add", "label_remove")

    ids = IdsField(required=False)
    action = forms.ChoiceField(choices=[(a, a) for a in ACTIONS])
    assignee = forms.TypedChoiceField(required=False, choices=(), empty_value="")
    team = forms.TypedChoiceField(required=False, choices=(), empty_value="")
    status = forms.ChoiceField(required=False, choices=BULK_STATUSES)
    label = forms.CharField(required=False, max_length=60, strip=True)
    next = forms.CharField(required=False, max_length=2000)

    def __init__(
        self,
        *args: Any,
        agents: list[tuple[int, str]],
        teams: list[tuple[int, str]],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        none = [("none", _("Nobody"))]
        self.fields["assignee"].choices = none + [(str(pk), name) for pk, name in agents]  # type: ignore[attr-defined]
        self.fields["team"].choices = [("none", _("No team"))] + [  # type: ignore[attr-defined]
            (str(pk), name) for pk, name in teams
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.errors:
            return data
        if not data.get("ids"):
            raise ValidationError(_("Select at least one conversation."), code="empty")
        action = data["action"]
        required = {
            "assign": "assignee",
            "team": "team",
            "status": "status",
            "label_add": "label",
            "label_remove": "label",
        }[action]
        if not data.get(required):
            self.add_error(required, _("Choose a value for this action."))
            return data
        if action == "assign":
            data["assignee_id"] = _id_or_none(data["assignee"])
        if action == "team":
            data["team_id"] = _id_or_none(data["team"])
        return data
