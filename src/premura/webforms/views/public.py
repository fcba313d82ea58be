"""The public contact form: its page, the embeddable page, the embedding script.

No sign-in, no cookie needed: the form carries a signed, time-stamped token instead of the CSRF
cookie (a browser does not send that cookie from a third-party iframe), so these views are
csrf_exempt; docs/contact-form.md explains why that is safe here.
"""

from __future__ import annotations

import logging
import time
from functools import cache
from pathlib import Path
from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.db import DatabaseError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import translation
from django.utils.cache import add_never_cache_headers, patch_cache_control, patch_vary_headers
from django.utils.translation import gettext as _
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from premura.accounts.signin import client_ip
from premura.conversations.ingest import InboundAttachment
from premura.webforms import spam, tokens
from premura.webforms.forms import MAX_FILES, SubmissionForm, max_file_bytes
from premura.webforms.models import ContactForm
from premura.webforms.services import Submission, identity_of, submission_key, submit

logger = logging.getLogger(__name__)

LANGUAGES = ("it", "en")
# Room for the text fields beside the largest attachments a submission may carry.
FORM_OVERHEAD_BYTES = 1024 * 1024


def _contact_form(slug: str) -> ContactForm:
    return get_object_or_404(
        ContactForm.objects.select_related("inbox"),
        slug=slug,
        is_active=True,
        inbox__is_active=True,
    )


def _too_large(request: HttpRequest) -> bool:
    """A body larger than any valid submission: refused before Django reads (and stores) it."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return True
    return length > MAX_FILES * max_file_bytes() + FORM_OVERHEAD_BYTES


def visitor_language(request: HttpRequest, *, read_body: bool = True) -> str:
    """?lang=it|en (or the form's hidden field) first, then the browser's Accept-Language."""
    posted = request.POST.get("lang") if read_body and request.method == "POST" else None
    chosen = posted or request.GET.get("lang") or ""
    if chosen in LANGUAGES:
        return chosen
    detected = translation.get_language_from_request(request)
    return detected if detected in LANGUAGES else "en"


def _frame(response: HttpResponse, form: ContactForm | None) -> HttpResponse:
    """Let the form's allowed sites (and Premura itself) frame this response, and no other."""
    origins = list(form.allowed_origins or []) if form is not None else []
    response._csp_replace = {"frame-ancestors": ["'self'", *origins]}  # type: ignore[attr-defined]
    return response


def _finish(response: HttpResponse, language: str) -> HttpResponse:
    # Every rendering carries a new submission id: a cached page would merge strangers' cases.
    add_never_cache_headers(response)
    patch_vary_headers(response, ["Accept-Language"])
    response["Content-Language"] = language
    return response


def _render(
    request: HttpRequest, template: str, context: dict[str, Any], status: int = 200
) -> HttpResponse:
    """Render a public page as a visitor sees it: a signed-in agent gets no app shell here, and
    their pending flash messages stay for their own pages."""
    public = {"user": AnonymousUser(), "messages": (), **context}
    return render(request, template, public, status=status)


def _page(
    request: HttpRequest,
    form: ContactForm,
    language: str,
    embedded: bool,
    submission_form: SubmissionForm,
    status: int = 200,
) -> HttpResponse:
    return _render(
        request,
        "webforms/page.html",
        {
            "contact_form": form,
            "form": submission_form,
            "title": form.text("title", language) or _("Contact us"),
            "intro": form.text("intro", language),
            "language": language,
            "embedded": embedded,
        },
        status=status,
    )


def _problem(
    request: HttpRequest,
    form: ContactForm,
    language: str,
    embedded: bool,
    *,
    title: str,
    text: str,
    status: int,
) -> HttpResponse:
    return _render(
        request,
        "webforms/problem.html",
        {
            "contact_form": form,
            "title": title,
            "text": text,
            "language": language,
            "embedded": embedded,
        },
        status=status,
    )


def _new_form(form: ContactForm, language: str) -> SubmissionForm:
    return SubmissionForm(
        form, language, initial={"token": tokens.issue(form.pk), "lang": language}
    )


def _attachments(files: list[Any]) -> tuple[InboundAttachment, ...]:
    return tuple(
        InboundAttachment(
            filename=str(item.name or "attachment"),
            content=item.read(),
            declared_content_type=str(item.content_type or ""),
        )
        for item in files
    )


def _submit(request: HttpRequest, form: ContactForm, language: str, embedded: bool) -> HttpResponse:
    data = request.POST.copy()
    token_error = ""
    try:
        token: tokens.FormToken | None = tokens.read(str(data.get("token", "")), form.pk)
    except tokens.InvalidToken as exc:
        token = None
        token_error = (
            _("The page was open for too long. Check your message and send it again.")
            if exc.expired
            else _("The form could not be checked. Send it again, please.")
        )
        data["token"] = tokens.issue(form.pk)
    data["lang"] = language
    bound = SubmissionForm(form, language, data, request.FILES)
    valid = bound.is_valid()
    if token is None:
        bound.add_error(None, token_error)
    if not valid or token is None:
        return _page(request, form, language, embedded, bound, status=400)

    cleaned = bound.cleaned_data
    email = str(cleaned.get("email") or "")
    phone = str(cleaned.get("phone") or "")
    key = submission_key(token.submission_id, identity_of(email, phone))
    ip = client_ip(request)
    if spam.over_rate_limit(form, submission_key=key, ip=ip, email=email):
        return _problem(
            request,
            form,
            language,
            embedded,
            title=_("Too many messages"),
            text=_(
                "We received several messages from you in the last hour. Please try again later; "
                "nothing was sent this time."
            ),
            status=429,
        )
    message = str(cleaned["message"])
    typed = [str(cleaned.get(name) or "") for name in ("name", "order_number")]
    verdict = spam.judge(
        form,
        honeypot=str(cleaned.get("website") or ""),
        fill_seconds=time.time() - token.rendered_at,
        texts=[message, *typed],
    )
    submission = Submission(
        submission_id=token.submission_id,
        language=language,
        message=message,
        name=str(cleaned.get("name") or ""),
        email=email,
        phone=phone,
        topic=cleaned.get("topic"),
        order_number=str(cleaned.get("order_number") or ""),
        attachments=_attachments(cleaned.get("attachments") or []),
        spam_reasons=verdict.reasons,
        ip=ip,
        user_agent=request.META.get("HTTP_USER_AGENT", ""),
    )
    try:
        result = submit(form, submission)
    except DatabaseError:
        logger.exception("contact form %s: could not store a submission", form.pk)
        bound.add_error(None, _("Your message could not be saved just now. Send it again, please."))
        return _page(request, form, language, embedded, bound, status=503)
    conversation = result.conversation
    return _render(
        request,
        "webforms/thanks.html",
        {
            "contact_form": form,
            "title": form.text("title", language) or _("Contact us"),
            "reference": conversation.reference,
            "thank_you": form.text("thank_you", language),
            "emailed_to": email if form.mailbox_id and email and not verdict.spam else "",
            "language": language,
            "embedded": embedded,
        },
    )


def _handle(request: HttpRequest, slug: str, *, embedded: bool) -> HttpResponse:
    form = _contact_form(slug)
    too_large = request.method == "POST" and _too_large(request)
    language = visitor_language(request, read_body=not too_large)
    with translation.override(language):
        if too_large:
            response = _problem(
                request,
                form,
                language,
                embedded,
                title=_("Too much to send"),
                text=_("The files are too large. Go back and attach smaller ones."),
                status=413,
            )
        elif request.method == "POST":
            response = _submit(request, form, language, embedded)
        else:
            response = _page(request, form, language, embedded, _new_form(form, language))
    if embedded:
        _frame(response, form)
    return _finish(response, language)


@csrf_exempt
@require_http_methods(["GET", "POST"])
def form_page(request: HttpRequest, slug: str) -> HttpResponse:
    """The form's own page, /forms/<slug>/ (never framed)."""
    return _handle(request, slug, embedded=False)


@csrf_exempt
@xframe_options_exempt
@require_http_methods(["GET", "POST"])
def form_embed(request: HttpRequest, slug: str) -> HttpResponse:
    """The form without page chrome, for an iframe on the sites the form allows."""
    return _handle(request, slug, embedded=True)


@cache
def _loader_source() -> bytes:
    path = Path(__file__).resolve().parent.parent / "static" / "webforms" / "loader.js"
    return path.read_bytes()


@require_GET
def embed_script(request: HttpRequest, slug: str) -> HttpResponse:
    """The script a site includes to show the form where the script tag is.

    The same file for every form: it finds its own URL and frames the page next to it.
    """
    if not ContactForm.objects.filter(slug=slug, is_active=True).exists():
        raise Http404
    response = HttpResponse(_loader_source(), content_type="text/javascript; charset=utf-8")
    patch_cache_control(response, public=True, max_age=300)
    return response
