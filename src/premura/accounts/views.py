"""The agent's own settings: profile, language, time zone, signature, availability, password, 2FA."""

from __future__ import annotations

from typing import Any, cast

from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import PasswordChangeForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST
from django_otp import login as otp_login

from premura.accounts import two_factor
from premura.accounts.forms import AgentSettingsForm, AvailabilityForm, CodeForm
from premura.accounts.models import User
from premura.accounts.services import set_availability, update_agent_settings
from premura.accounts.signin import code_error

TWO_FACTOR_ANCHOR = "#two-factor"


def _agent(request: HttpRequest) -> User:
    return cast(User, request.user)


def _page(
    request: HttpRequest,
    *,
    settings_form: AgentSettingsForm | None = None,
    password_form: PasswordChangeForm | None = None,
    confirm_form: CodeForm | None = None,
    disable_form: CodeForm | None = None,
    status: int = 200,
) -> HttpResponse:
    user = _agent(request)
    pending = None if user.two_factor_enabled else two_factor.pending_device(user)
    if password_form is None:
        password_form = PasswordChangeForm(user)
        # Django's form focuses the current password: on this page it would scroll past the rest.
        password_form.fields["old_password"].widget.attrs.pop("autofocus", None)
    context: dict[str, Any] = {
        "nav": "account",
        "settings_form": settings_form or AgentSettingsForm.for_agent(user),
        "password_form": password_form,
        "confirm_form": confirm_form or CodeForm(autofocus=pending is not None),
        "disable_form": disable_form or CodeForm(),
        "pending_device": pending,
        "now": timezone.now(),
    }
    if pending is not None:
        context["qr_code"] = two_factor.qr_code_data_uri(pending)
        context["secret"] = two_factor.secret_text(pending)
    return render(request, "accounts/settings.html", context, status=status)


def _to_page(anchor: str = "") -> HttpResponse:
    return redirect(reverse("account:settings") + anchor)


@login_required
@require_http_methods(["GET", "POST"])
def settings_page(request: HttpRequest) -> HttpResponse:
    """The agent's settings page; a POST saves the profile part."""
    if request.method == "GET":
        return _page(request)
    form = AgentSettingsForm(request.POST)
    if not form.is_valid():
        return _page(request, settings_form=form, status=400)
    user = update_agent_settings(_agent(request), **form.cleaned_data)
    # The confirmation already speaks the language just chosen.
    translation.activate(user.language or translation.get_language())
    messages.success(request, _("Your settings were saved."))
    return _to_page()


@login_required
@require_POST
def availability(request: HttpRequest) -> HttpResponse:
    """The quick online / away / offline switch (an htmx fragment, or a redirect back)."""
    form = AvailabilityForm(request.POST)
    if not form.is_valid():
        return HttpResponse(_("Choose online, away or offline."), status=400)
    set_availability(_agent(request), form.cleaned_data["availability"])
    if request.headers.get("HX-Request") == "true":
        return render(request, "accounts/_availability.html")
    next_url = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        next_url = reverse("account:settings")
    return redirect(next_url)


@sensitive_post_parameters("old_password", "new_password1", "new_password2")
@login_required
@require_POST
def change_password(request: HttpRequest) -> HttpResponse:
    """Change the password; the agent's other sessions end, this one stays signed in."""
    form = PasswordChangeForm(_agent(request), request.POST)
    if not form.is_valid():
        return _page(request, password_form=form, status=400)
    user = form.save()
    update_session_auth_hash(request, user)
    messages.success(request, _("Your password was changed. Other devices were signed out."))
    return _to_page("#password")


@login_required
@require_POST
def two_factor_start(request: HttpRequest) -> HttpResponse:
    """Show a new authenticator to scan (two-factor sign-in is on once its first code is typed)."""
    user = _agent(request)
    if not user.two_factor_enabled:
        two_factor.start_setup(user)
    return _to_page(TWO_FACTOR_ANCHOR)


@login_required
@require_POST
def two_factor_cancel(request: HttpRequest) -> HttpResponse:
    """Abandon a setup that was not confirmed."""
    two_factor.cancel_setup(_agent(request))
    return _to_page(TWO_FACTOR_ANCHOR)


@sensitive_post_parameters("code")
@login_required
@require_POST
def two_factor_confirm(request: HttpRequest) -> HttpResponse:
    """Turn two-factor sign-in on with the first code from the new authenticator."""
    user = _agent(request)
    form = CodeForm(request.POST, autofocus=True)
    if form.is_valid():
        try:
            device = two_factor.confirm_setup(user, form.cleaned_data["code"])
        except two_factor.CodeRejected as rejected:
            form.add_error("code", code_error(rejected))
        else:
            # The code just typed verifies this session too: no code step for it.
            otp_login(request, device)
            messages.success(
                request,
                _(
                    "Two-factor sign-in is on: after your password you will type a code from the app."
                ),
            )
            return _to_page(TWO_FACTOR_ANCHOR)
    return _page(request, confirm_form=form, status=400)


@sensitive_post_parameters("code")
@login_required
@require_POST
def two_factor_disable(request: HttpRequest) -> HttpResponse:
    """Turn two-factor sign-in off; takes a current code from the authenticator."""
    user = _agent(request)
    form = CodeForm(request.POST, autofocus=True)
    if form.is_valid():
        try:
            two_factor.disable(user, form.cleaned_data["code"])
        except two_factor.CodeRejected as rejected:
            form.add_error("code", code_error(rejected))
        else:
            messages.success(request, _("Two-factor sign-in is off."))
            return _to_page(TWO_FACTOR_ANCHOR)
    return _page(request, disable_form=form, status=400)
