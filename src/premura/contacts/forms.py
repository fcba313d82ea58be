"""The contact form: a contact's editable fields and its custom attributes as name/value rows."""

from __future__ import annotations

from typing import Any

from django import forms
from django.urls import reverse
from django.utils.translation import get_language_info, gettext_lazy
from django.utils.translation import gettext as _

from premura.contacts import selectors
from premura.contacts.models import Contact, Organization
from premura.contacts.services import normalize_phone

# The languages offered for a customer (their own language, not the agent UI's).
CUSTOMER_LANGUAGES = (
    "it", "en", "de", "fr", "es", "pt", "nl", "ro", "pl", "sq", "uk", "ru", "ar", "zh-hans", "hi",
)  # fmt: skip
MAX_ATTRIBUTES = 100
MAX_ATTRIBUTE_KEY = 100
MAX_ATTRIBUTE_VALUE = 2000


def _language_choices(current: str) -> list[tuple[str, str]]:
    codes = list(CUSTOMER_LANGUAGES)
    if current and current not in codes:
        codes.append(current)
    choices = [("", "—")]
    for code in codes:
        try:
            label = str(get_language_info(code)["name_translated"])
        except KeyError:
            label = code
        choices.append((code, label))
    return choices


class ContactForm(forms.Form):
    """The editable fields of a contact; custom attributes come as attr_key/attr_value rows."""

    name = forms.CharField(label=gettext_lazy("Name"), max_length=200, required=False)
    email = forms.EmailField(label=gettext_lazy("Email"), max_length=254, required=False)
    phone = forms.CharField(label=gettext_lazy("Phone"), max_length=40, required=False)
    organization = forms.CharField(
        label=gettext_lazy("Organization"), max_length=200, required=False
    )
    language = forms.ChoiceField(label=gettext_lazy("Language"), required=False)
    notes = forms.CharField(
        label=gettext_lazy("Notes"), max_length=20_000, required=False, widget=forms.Textarea
    )

    def __init__(self, *args: Any, contact: Contact, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.contact = contact
        language_field = self.fields["language"]
        assert isinstance(language_field, forms.ChoiceField)
        language_field.choices = _language_choices(contact.language)
        self.attribute_rows: list[tuple[str, str]] = selectors.attributes(contact)
        self.attribute_errors: list[str] = []
        self.attributes: dict[str, Any] = dict(contact.attributes)
        self.fields["organization"].widget.attrs.update(
            {
                "list": "organization-options",
                "autocomplete": "off",
                "hx-get": reverse("contacts:organization_options"),
                "hx-trigger": "input changed delay:200ms",
                "hx-target": "#organization-options",
            }
        )
        self.chosen_organization: Organization | None = contact.organization

    def clean_phone(self) -> str:
        phone: str = self.cleaned_data["phone"].strip()
        if not phone:
            return ""
        try:
            return normalize_phone(phone)
        except ValueError as exc:
            raise forms.ValidationError(
                _(
                    "“%(value)s” is not a valid phone number: write it with the country code, "
                    "for example +39 06 1234 5678."
                ),
                code="invalid",
                params={"value": phone},
            ) from exc

    def clean_email(self) -> str:
        return str(self.cleaned_data["email"]).strip().lower()

    def clean_organization(self) -> str:
        name: str = self.cleaned_data["organization"].strip()
        self.chosen_organization = None
        if name:
            self.chosen_organization = selectors.organization_named(name)
            if self.chosen_organization is None:
                raise forms.ValidationError(
                    _("There is no organization called “%(name)s”."),
                    code="unknown",
                    params={"name": name},
                )
        return name

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.data:
            self.attributes = self._clean_attributes()
        return cleaned

    def _clean_attributes(self) -> dict[str, Any]:
        keys = self.data.getlist("attr_key") if hasattr(self.data, "getlist") else []
        values = self.data.getlist("attr_value") if hasattr(self.data, "getlist") else []
        original = self.contact.attributes
        attributes: dict[str, Any] = {}
        self.attribute_rows = []
        for key, value in zip(keys, values, strict=False):
            key = key.strip()
            if not key and not value.strip():
                continue
            self.attribute_rows.append((key, value))
            if not key:
                self.attribute_errors.append(_("Every attribute needs a name."))
            elif len(key) > MAX_ATTRIBUTE_KEY:
                self.attribute_errors.append(
                    _("An attribute name can have at most %(n)d characters.")
                    % {"n": MAX_ATTRIBUTE_KEY}
                )
            elif key in attributes:
                self.attribute_errors.append(
                    _("The attribute “%(key)s” appears twice.") % {"key": key}
                )
            elif len(value) > MAX_ATTRIBUTE_VALUE:
                self.attribute_errors.append(
                    _("The value of “%(key)s” can have at most %(n)d characters.")
                    % {"key": key, "n": MAX_ATTRIBUTE_VALUE}
                )
            elif key in original and selectors.attribute_text(original[key]) == value:
                attributes[key] = original[key]  # unchanged: keeps its type (number, list …)
            else:
                attributes[key] = value
        if len(attributes) > MAX_ATTRIBUTES:
            self.attribute_errors.append(
                _("A contact can have at most %(n)d attributes.") % {"n": MAX_ATTRIBUTES}
            )
        if self.attribute_errors:
            raise forms.ValidationError(_("Check the custom attributes."), code="attributes")
        return attributes

    def changes(self) -> dict[str, Any]:
        """The fields that differ from the contact's, as update_contact takes them."""
        data = self.cleaned_data
        changes: dict[str, Any] = {}
        for name in ("name", "email", "phone", "language", "notes"):
            if data[name] != getattr(self.contact, name):
                changes[name] = data[name]
        organization_id = (
            self.chosen_organization.pk if self.chosen_organization is not None else None
        )
        if organization_id != self.contact.organization_id:
            changes["organization_id"] = organization_id
        if self.attributes != self.contact.attributes:
            changes["attributes"] = self.attributes
        return changes


def initial(contact: Contact) -> dict[str, Any]:
    """The form's starting values: the contact as it is."""
    return {
        "name": contact.name,
        "email": contact.email,
        "phone": contact.phone,
        "organization": contact.organization.name if contact.organization else "",
        "language": contact.language,
        "notes": contact.notes,
    }
