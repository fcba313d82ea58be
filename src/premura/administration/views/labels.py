"""Labels agents put on conversations: create, rename, recolour, delete."""

from __future__ import annotations

from django.contrib import messages
from django.db import IntegrityError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from premura.administration.forms import LabelForm
from premura.administration.views.common import admin_required, render_settings
from premura.conversations.models import Label
from premura.conversations.services import create_label, delete_label, update_label


def _duplicate(form: LabelForm) -> None:
    form.add_error("name", _("A label with this name already exists."))


def _list_page(request: HttpRequest, form: LabelForm, status: int = 200) -> HttpResponse:
    labels = Label.objects.order_by("name")
    return render_settings(
        request,
        "administration/label_list.html",
        {"labels": labels, "form": form},
        section="labels",
        status=status,
    )


@admin_required
def label_list(request: HttpRequest) -> HttpResponse:
    """Every label, and a form to add one."""
    return _list_page(request, LabelForm())


@admin_required
@require_POST
def label_create(request: HttpRequest) -> HttpResponse:
    """A new label."""
    form = LabelForm(request.POST)
    if form.is_valid():
        try:
            label = create_label(form.cleaned_data["name"], form.cleaned_data["color"])
        except IntegrityError:
            _duplicate(form)
        else:
            messages.success(request, _("Label “%(name)s” created.") % {"name": label.name})
            return redirect("administration:labels")
    return _list_page(request, form, status=400)


@admin_required
def label_detail(request: HttpRequest, label_id: int) -> HttpResponse:
    """A label's page: rename, recolour, delete."""
    label = get_object_or_404(Label, pk=label_id)
    status = 200
    if request.method == "POST":
        form = LabelForm(request.POST, label=label)
        if form.is_valid():
            try:
                update_label(
                    label, name=form.cleaned_data["name"], color=form.cleaned_data["color"]
                )
            except IntegrityError:
                _duplicate(form)
            else:
                messages.success(request, _("Label “%(name)s” saved.") % {"name": label.name})
                return redirect("administration:labels")
        status = 400
        label.refresh_from_db()
    else:
        form = LabelForm(label=label)
    return render_settings(
        request,
        "administration/label_detail.html",
        {"label": label, "form": form},
        section="labels",
        status=status,
    )


@admin_required
@require_POST
def label_delete(request: HttpRequest, label_id: int) -> HttpResponse:
    """Delete a label; it comes off every conversation (their history keeps its name)."""
    label = get_object_or_404(Label, pk=label_id)
    name = label.name
    used = delete_label(label)
    messages.success(
        request,
        ngettext(
            "Label “%(name)s” deleted; it was on %(count)d conversation.",
            "Label “%(name)s” deleted; it was on %(count)d conversations.",
            used,
        )
        % {"name": name, "count": used},
    )
    return redirect("administration:labels")
