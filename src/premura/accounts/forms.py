"""Forms of the agent's own settings and of the two-factor code."""

from __future__ import annotations

import re
import zoneinfo
from functools import cache
from typing import Any

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from premura.accounts.models import User

SIGNATURE_MAX_CHARS = 10_000
# Each language named in itself, so that an agent finds theirs whatever the page's language.
LANGUAGE_CHOICES = [("it", "Italiano"), ("en", "English")]
# Names in the tz database that are not places an agent lives in.
_NOT_A_PLACE = {"Factory", "localtime", "posixrules", "build/etc/localtime"}


@cache
def timezone_names() -> tuple[str, ...]:
    """Every IANA time zone this system knows, sorted (computed once per process)."""
    return tuple(sorted(zoneinfo.available_timezones() - _NOT_A_PLACE))


class AgentSettingsForm(forms.Form):
    """What an agent sets for themselves: name, language, time zone, signature, availability."""

    display_name = forms.CharField(
        label=_("Display name"),
        max_length=150,
        required=False,
        help_text=_("Shown to colleagues and, with replies, to customers."),
    )
    language = forms.ChoiceField(
        label=_("Language"),
        required=False,
        help_text=_("The language of every page after you sign in."),
    )
    timezone = forms.ChoiceField(
        label=_("Time zone"),
        required=False,
        help_text=_("Every date and time is shown in this time zone."),
    )
    signature = forms.CharField(
        label=_("Signature"),
        required=False,
        max_length=SIGNATURE_MAX_CHARS,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("Added under your replies to customers. Plain text."),
    )
    availability = forms.ChoiceField(
        label=_("Availability"),
        choices=User.Availability.choices,
        widget=forms.RadioSelect,
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        language_field: Any = self.fields["language"]
        language_field.choices = [("", _("Same as the browser")), *LANGUAGE_CHOICES]
        timezone_field: Any = self.fields["timezone"]
        timezone_field.choices = [
            ("", _("Server default (%(zone)s)") % {"zone": settings.TIME_ZONE}),
            *((name, name.replace("_", " ")) for name in timezone_names()),
        ]

    @classmethod
    def for_agent(cls, user: User) -> AgentSettingsForm:
        """The form filled with the agent's current settings."""
        return cls(
            initial={
                "display_name": user.display_name,
                "language": user.language,
                "timezone": user.timezone,
                "signature": user.signature,
                "availability": user.availability,
            }
        )

    def clean_display_name(self) -> str:
        name = str(self.cleaned_data["display_name"]).strip()
        if any(ord(char) < 32 for char in name):
            raise forms.ValidationError(_("The name cannot contain line breaks or tabs."))
        return name


class AvailabilityForm(forms.Form):
    """The quick online / away / offline switch."""

    availability = forms.ChoiceField(choices=User.Availability.choices)


class CodeForm(forms.Form):
    """A 6-digit code from an authenticator app (spaces are ignored)."""

    code = forms.CharField(
        label=_("Code"),
        max_length=12,
        widget=forms.TextInput(
            attrs={
                "autocomplete": "one-time-code",
                "inputmode": "numeric",
                "pattern": r"[0-9 ]*",
                "size": 8,
            }
        ),
    )

    def __init__(self, *args: Any, autofocus: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if autofocus:
            self.fields["code"].widget.attrs["autofocus"] = True

    def clean_code(self) -> str:
        code = re.sub(r"\s+", "", str(self.cleaned_data["code"]))
        if not re.fullmatch(r"[0-9]{6}", code):
            raise forms.ValidationError(_("Enter the 6 digits shown in your authenticator app."))
        return code
