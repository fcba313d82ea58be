"""The settings pages of contact forms: list, new, edit (admins only), with the embed snippets."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.db import IntegrityError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.html import escape
from django.utils.translation import gettext as _

from premura.administration.views.common import admin_required, render_settings
from premura.webforms.forms import ContactFormSettingsForm
from premura.webforms.models import ContactForm
from premura.webforms.services import create_contact_form, update_contact_form

SECTION = "forms"


def _slug_taken(form: ContactFormSettingsForm) -> None:
    form.add_error("slug", _("Another contact form already has this address."))


def public_urls(contact_form: ContactForm) -> dict[str, str]:
    """The form's public addresses and the two snippets that embed it on another site."""
    base = settings.PREMURA_BASE_URL.rstrip("/")
    page = base + reverse("webforms:page", args=[contact_form.slug])
    embed = base + reverse("webforms:embed", args=[contact_form.slug])
    script = base + reverse("webforms:embed_script", args=[contact_form.slug])
    title = escape(contact_form.text("title", "en") or contact_form.name)
    return {
        "page": page,
        "embed": embed,
        "iframe_snippet": (
            f'<iframe src="{embed}" title="{title}" width="100%" height="640" '
            'loading="lazy"></iframe>'
        ),
        "script_snippet": f'<script src="{script}" async></script>',
    }


@admin_required
def form_list(request: HttpRequest) -> HttpResponse:
    """Every contact form with its address and team."""
    forms = ContactForm.objects.select_related("inbox__team", "mailbox").order_by("name", "pk")
    return render_settings(
        request, "webforms/settings_list.html", {"contact_forms": forms}, section=SECTION
    )


@admin_required
def form_create(request: HttpRequest) -> HttpResponse:
    """A new contact form (and its inbox)."""
    status = 200
    if request.method == "POST":
        form = ContactFormSettingsForm(request.POST)
        if form.is_valid():
            try:
                contact_form = create_contact_form(team=form.cleaned_data["team"], **form.config())
            except IntegrityError:
                _slug_taken(form)
            else:
                messages.success(
                    request, _("Contact form “%(name)s” created.") % {"name": contact_form.name}
                )
                return redirect("webforms:settings_detail", form_id=contact_form.pk)
        status = 400
    else:
        form = ContactFormSettingsForm(initial=ContactFormSettingsForm.initial_for_new())
    return render_settings(
        request, "webforms/settings_new.html", {"form": form}, section=SECTION, status=status
    )


@admin_required
def form_detail(request: HttpRequest, form_id: int) -> HttpResponse:
    """A contact form's page: its addresses, the embed snippets, its settings."""
    contact_form = get_object_or_404(ContactForm.objects.select_related("inbox"), pk=form_id)
    status = 200
    if request.method == "POST":
        form = ContactFormSettingsForm(request.POST)
        if form.is_valid():
            try:
                update_contact_form(contact_form, team=form.cleaned_data["team"], **form.config())
            except IntegrityError:
                _slug_taken(form)
            else:
                messages.success(
                    request, _("Contact form “%(name)s” saved.") % {"name": contact_form.name}
                )
                return redirect("webforms:settings_detail", form_id=contact_form.pk)
        status = 400
        contact_form.refresh_from_db()
    else:
        form = ContactFormSettingsForm(initial=ContactFormSettingsForm.initial_for(contact_form))
    return render_settings(
        request,
        "webforms/settings_detail.html",
        {"contact_form": contact_form, "form": form, "urls": public_urls(contact_form)},
        section=SECTION,
        status=status,
    )
