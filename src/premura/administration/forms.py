"""Settings forms: every value an admin types is checked here, with a message saying what to fix."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from premura.accounts.models import User
from premura.channels.models import Inbox
from premura.conversations.models import Label
from premura.routing.models import Team

HEX_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")


def _clean_name(value: str) -> str:
    """Names are stripped and inner runs of whitespace collapsed: "  Help  desk " → "Help desk"."""
    value = " ".join(value.split())
    if not value:
        raise ValidationError(_("Enter a name."), code="required")
    return value


def agents() -> QuerySet[User]:
    """Agents an admin may put in a team: the active ones, by name."""
    return User.objects.filter(is_active=True).order_by("display_name", "email")


class AgentChoiceField(forms.ModelMultipleChoiceField[User]):
    """Agents shown as "Name (email)" so two people with one name stay apart."""

    def label_from_instance(self, obj: Any) -> str:
        return f"{obj} ({obj.email})" if str(obj) != obj.email else str(obj.email)


class WebhookURLField(forms.CharField):
    """An http(s) URL without credentials in it: Premura signs its webhooks with the secret."""

    default_error_messages = {
        "invalid": _(
            "Enter a full http:// or https:// address, e.g. https://shop.example/premura."
        ),
        "credentials": _(
            "Remove the user name and password from the address: Premura signs every webhook "
            "with the inbox's secret instead."
        ),
    }

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 500)
        kwargs.setdefault("required", False)
        kwargs.setdefault("label", _("Webhook URL"))
        kwargs.setdefault(
            "help_text",
            _(
                "Agents' replies are POSTed here, signed with the webhook secret. Leave empty to decide later."
            ),
        )
        kwargs.setdefault(
            "widget", forms.URLInput(attrs={"placeholder": "https://", "inputmode": "url"})
        )
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> str:
        return str(super().to_python(value)).strip()

    def validate(self, value: Any) -> None:
        super().validate(value)
        if not value:
            return
        try:
            URLValidator(schemes=["http", "https"])(value)
        except ValidationError as exc:
            raise ValidationError(self.error_messages["invalid"], code="invalid") from exc
        parts = urlsplit(value)
        if parts.username or parts.password or "@" in parts.netloc:
            raise ValidationError(self.error_messages["credentials"], code="credentials")


class TeamChoiceField(forms.ModelChoiceField[Team]):
    """The team an inbox's new conversations go to (optional)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("queryset", Team.objects.order_by("name"))
        kwargs.setdefault("required", False)
        kwargs.setdefault("empty_label", _("No team: any agent may take them"))
        kwargs.setdefault("label", _("Team"))
        kwargs.setdefault("help_text", _("New conversations of this inbox go to this team."))
        super().__init__(**kwargs)


def _unique_inbox_name(name: str, exclude: Inbox | None = None) -> None:
    others = Inbox.objects.filter(name__iexact=name)
    if exclude is not None:
        others = others.exclude(pk=exclude.pk)
    if others.exists():
        raise ValidationError(_("An inbox with this name already exists."), code="duplicate")


class InboxCreateForm(forms.Form):
    """A new API channel inbox."""

    name = forms.CharField(
        label=_("Name"),
        max_length=120,
        help_text=_("What agents see, e.g. “Shop” or “Customer portal”."),
    )
    team = TeamChoiceField()
    webhook_url = WebhookURLField()

    def clean_name(self) -> str:
        name = _clean_name(self.cleaned_data["name"])
        _unique_inbox_name(name)
        return name


class InboxEditForm(forms.Form):
    """An inbox's name, team and (API channel) webhook URL."""

    name = forms.CharField(label=_("Name"), max_length=120)
    team = TeamChoiceField()
    webhook_url = WebhookURLField()

    def __init__(self, *args: Any, inbox: Inbox, **kwargs: Any) -> None:
        kwargs.setdefault(
            "initial",
            {"name": inbox.name, "team": inbox.team_id, "webhook_url": inbox.webhook_url},
        )
        super().__init__(*args, **kwargs)
        self.inbox = inbox
        if inbox.kind != Inbox.Kind.API:
            del self.fields["webhook_url"]

    def clean_name(self) -> str:
        name = _clean_name(self.cleaned_data["name"])
        _unique_inbox_name(name, exclude=self.inbox)
        return name


class TeamForm(forms.Form):
    """A team's name and whether it is restricted."""

    name = forms.CharField(label=_("Name"), max_length=100)
    restricted = forms.BooleanField(
        label=_("Restricted"),
        required=False,
        help_text=_(
            "Agents outside the team still see that its conversations exist (dates, status, "
            "channel, team) but not their content: no messages, notes or subject. Use it for "
            "legal, HR and other confidential work."
        ),
    )

    def __init__(self, *args: Any, team: Team | None = None, **kwargs: Any) -> None:
        if team is not None:
            kwargs.setdefault("initial", {"name": team.name, "restricted": team.restricted})
        super().__init__(*args, **kwargs)
        self.team = team

    def clean_name(self) -> str:
        name = _clean_name(self.cleaned_data["name"])
        others = Team.objects.filter(name__iexact=name)
        if self.team is not None:
            others = others.exclude(pk=self.team.pk)
        if others.exists():
            raise ValidationError(_("A team with this name already exists."), code="duplicate")
        return name


class AddMembersForm(forms.Form):
    """Agents to add to a team."""

    members = AgentChoiceField(
        label=_("Add agents"),
        queryset=User.objects.none(),
        error_messages={
            "required": _("Choose at least one agent to add."),
            "invalid_choice": _("Choose agents from the list: one of them cannot join this team."),
            "invalid_pk_value": _(
                "Choose agents from the list: one of them cannot join this team."
            ),
        },
    )

    def __init__(self, *args: Any, team: Team, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["members"]
        assert isinstance(field, AgentChoiceField)
        field.queryset = agents().exclude(teams=team)


class AgentCreateForm(forms.Form):
    """A new agent, invited by email to choose their own password."""

    email = forms.EmailField(label=_("Email"), max_length=254)
    display_name = forms.CharField(
        label=_("Name"), max_length=150, help_text=_("As colleagues and customers see it.")
    )
    role = forms.ChoiceField(
        label=_("Role"),
        choices=User.Role.choices,
        initial=User.Role.AGENT,
        help_text=_(
            "Agents act on their teams' conversations; supervisors on every conversation; "
            "admins also change these settings."
        ),
    )
    teams = forms.ModelMultipleChoiceField(
        label=_("Teams"),
        queryset=Team.objects.order_by("name"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    def clean_email(self) -> str:
        email = str(self.cleaned_data["email"]).strip().lower()
        if User.objects.filter(email__iexact=email).exists():
            raise ValidationError(_("An agent with this email already exists."), code="duplicate")
        return email

    def clean_display_name(self) -> str:
        return _clean_name(self.cleaned_data["display_name"])


class AgentEditForm(forms.Form):
    """An agent's name, role and teams."""

    display_name = forms.CharField(label=_("Name"), max_length=150)
    role = forms.ChoiceField(label=_("Role"), choices=User.Role.choices)
    teams = forms.ModelMultipleChoiceField(
        label=_("Teams"),
        queryset=Team.objects.order_by("name"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    def __init__(self, *args: Any, agent: User, **kwargs: Any) -> None:
        kwargs.setdefault(
            "initial",
            {
                "display_name": agent.display_name,
                "role": User.Role.ADMIN if agent.is_admin else agent.role,
                "teams": [team.pk for team in agent.teams.all()],
            },
        )
        super().__init__(*args, **kwargs)
        self.agent = agent

    def clean_display_name(self) -> str:
        return _clean_name(self.cleaned_data["display_name"])


class LabelForm(forms.Form):
    """A label's name and colour."""

    name = forms.CharField(label=_("Name"), max_length=60)
    color = forms.CharField(
        label=_("Colour"),
        max_length=7,
        initial="#6b7280",
        widget=forms.TextInput(attrs={"type": "color"}),
        error_messages={"required": _("Choose a colour.")},
    )

    def __init__(self, *args: Any, label: Label | None = None, **kwargs: Any) -> None:
        if label is not None:
            kwargs.setdefault("initial", {"name": label.name, "color": label.color})
        super().__init__(*args, **kwargs)
        self.label = label

    def clean_name(self) -> str:
        name = _clean_name(self.cleaned_data["name"])
        others = Label.objects.filter(name__iexact=name)
        if self.label is not None:
            others = others.exclude(pk=self.label.pk)
        if others.exists():
            raise ValidationError(_("A label with this name already exists."), code="duplicate")
        return name

    def clean_color(self) -> str:
        color = str(self.cleaned_data["color"]).strip()
        if not HEX_COLOUR.match(color):
            raise ValidationError(_("Choose a colour as #rrggbb, e.g. #2563eb."), code="invalid")
        return color.lower()
