"""The inbox: the agent's list of conversations."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from premura.conversations.selectors import workload


@login_required
def index(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "web/home.html",
        {"counts": workload(request.user), "nav": "inbox"},  # type: ignore[arg-type]
    )


@login_required
def palette(request: HttpRequest) -> HttpResponse:
    return HttpResponse("")
