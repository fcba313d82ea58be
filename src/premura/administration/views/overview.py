"""The settings start page: one entry per section, with how many of each there are."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from premura.accounts.models import User
from premura.administration.views.common import admin_required, render_settings
from premura.channels.models import Inbox
from premura.conversations.models import Label
from premura.routing.models import Team


@admin_required
def index(request: HttpRequest) -> HttpResponse:
    """The sections of the settings."""
    counts = {
        "inboxes": Inbox.objects.count(),
        "teams": Team.objects.count(),
        "agents": User.objects.filter(is_active=True).count(),
        "labels": Label.objects.count(),
    }
    return render_settings(
        request, "administration/index.html", {"counts": counts}, section="index"
    )
