"""The conversation page."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse


@login_required
def detail(request: HttpRequest, conversation_id: int) -> HttpResponse:
    return HttpResponse(str(conversation_id))
