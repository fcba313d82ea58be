"""Agent UI views."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from premura.conversations.models import Conversation


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """The agent's start page: how many cases wait, and where to go."""
    counts = {
        "open": Conversation.objects.filter(status=Conversation.Status.OPEN).count(),
        "pending": Conversation.objects.filter(status=Conversation.Status.PENDING).count(),
        "mine": Conversation.objects.filter(
            assignee_id=request.user.pk, status=Conversation.Status.OPEN
        ).count(),
    }
    return render(request, "web/home.html", {"counts": counts})


def health(request: HttpRequest) -> HttpResponse:
    """Liveness probe for load balancers."""
    return HttpResponse("ok", content_type="text/plain")
