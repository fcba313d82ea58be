"""Agent UI views."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from premura.conversations.selectors import workload


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """The agent's start page: how many cases wait, and where to go."""
    return render(request, "web/home.html", {"counts": workload(request.user)})  # type: ignore[arg-type]


def health(request: HttpRequest) -> HttpResponse:
    """Liveness probe for load balancers."""
    return HttpResponse("ok", content_type="text/plain")
