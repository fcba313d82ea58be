"""Signing in: the password form, the two-factor code step, the lockout page, password reset."""

from __future__ import annotations

import math
from typing import Any

from django.conf import settings
from django.contrib.auth import login as auth_login
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm, SetPasswordForm
from django.contrib.auth.models import AnonymousUser
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods
from django_otp import login as otp_login

from premura.accounts import two_factor
from premura.accounts.forms import CodeForm
from premura.accounts.models import User
from premura.accounts.services import unlock_sign_in


class SignInForm(AuthenticationForm):
    """Email and password; the email is compared in lower case, as it is stored."""

    error_messages = {
        "invalid_login": _("Email or password is not correct."),
        "inactive": _("This account is deactivated. Ask an admin."),
    }

    def clean_username(self) -> str:
        return str(self.cleaned_data.get("username") or "").strip().lower()


class SignInView(auth_views.LoginView):
    """The sign-in page; agents with two-factor sign-in continue to the code step."""

    template_name = "web/login.html"
    form_class = SignInForm

    def form_valid(self, form: AuthenticationForm) -> HttpResponse:
        user = form.get_user()
        auth_login(self.request, user)
        if user.two_factor_enabled:
            return redirect(code_step_url(self.get_success_url()))
        return HttpResponseRedirect(self.get_success_url())


def code_step_url(next_url: str) -> str:
    """The two-factor code step, returning to `next_url` once passed."""
    return f"{reverse('web:login_code')}?{urlencode({'next': next_url})}"


def _safe_next(request: HttpRequest) -> str:
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return reverse(settings.LOGIN_REDIRECT_URL)


@sensitive_post_parameters("code")
@csrf_protect
@never_cache
@require_http_methods(["GET", "POST"])
def sign_in_code(request: HttpRequest) -> HttpResponse:
    """Second sign-in step: the 6-digit code from the agent's authenticator app."""
    if not request.user.is_authenticated:
        return redirect(settings.LOGIN_URL)
    user = request.user
    next_url = _safe_next(request)
    if not user.two_factor_enabled or user.is_verified():  # type: ignore[attr-defined]
        return redirect(next_url)
    form = CodeForm(request.POST if request.method == "POST" else None, autofocus=True)
    status = 200
    if form.is_bound:
        if form.is_valid():
            try:
                device = two_factor.verify_sign_in(user, form.cleaned_data["code"])
            except two_factor.CodeRejected as rejected:
                form.add_error("code", code_error(rejected))
            else:
                if device is not None:
                    otp_login(request, device)
                return redirect(next_url)
        status = 400
    context = {
        "form": form,
        "next": next_url,
        # Not signed in yet as far as the page shell goes: no top bar, menu or palette.
        "user": AnonymousUser(),
        "agent_email": user.email,
    }
    return render(request, "accounts/sign_in_code.html", context, status=status)


def code_error(rejected: two_factor.CodeRejected) -> str:
    """The message for a refused code."""
    if rejected.wait_seconds:
        return ngettext(
            "Too many wrong codes. Wait %(seconds)d second and try again.",
            "Too many wrong codes. Wait %(seconds)d seconds and try again.",
            rejected.wait_seconds,
        ) % {"seconds": rejected.wait_seconds}
    return str(_("This code is not correct, or it was already used. Try the current one."))


def locked_out(
    request: HttpRequest,
    original_response: HttpResponse | None = None,
    credentials: dict[str, Any] | None = None,
) -> HttpResponse:
    """django-axes' lockout response: the sign-in page with the reason, status 429."""
    minutes = max(1, math.ceil(settings.AXES_COOLOFF_TIME.total_seconds() / 60))
    message = ngettext(
        "Too many failed sign-in attempts. Wait %(minutes)d minute and try again, "
        "or ask an admin to unlock your account.",
        "Too many failed sign-in attempts. Wait %(minutes)d minutes and try again, "
        "or ask an admin to unlock your account.",
        minutes,
    ) % {"minutes": minutes}
    context = {"form": SignInForm(request), "lockout_message": message, "next": _safe_next(request)}
    return render(request, "web/login.html", context, status=429)


def client_ip(request: HttpRequest) -> str:
    """The address a sign-in comes from, for the rate limit.

    Behind the HTTPS proxy that settings trust (SECURE_PROXY_SSL_HEADER, set when PREMURA_BASE_URL
    is https) REMOTE_ADDR is the proxy, so the address the proxy appended to X-Forwarded-For is
    used; the left part of that header is written by the client and never trusted.
    """
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if settings.SECURE_PROXY_SSL_HEADER and forwarded:
        return str(forwarded.split(",")[-1].strip())
    return str(request.META.get("REMOTE_ADDR", ""))


# --- Password reset by email ---------------------------------------------------------------------


class AgentPasswordResetForm(PasswordResetForm):
    """Reset for every active agent, also one invited without a password yet."""

    def get_users(self, email: str) -> QuerySet[User]:
        return User.objects.filter(email__iexact=email.strip(), is_active=True)

    def send_mail(
        self,
        subject_template_name: str,
        email_template_name: str,
        context: dict[str, Any],
        from_email: str | None,
        to_email: str,
        html_email_template_name: str | None = None,
    ) -> None:
        """The email speaks the agent's language (the page's language when they chose none)."""
        user = context["user"]
        with translation.override(user.language or translation.get_language()):
            super().send_mail(
                subject_template_name,
                email_template_name,
                context,
                from_email,
                to_email,
                html_email_template_name,
            )


class PasswordResetRequestView(auth_views.PasswordResetView):
    """Ask for a reset link; the answer is the same whether the email is known or not."""

    template_name = "accounts/password_reset_form.html"
    email_template_name = "accounts/password_reset_email.txt"
    subject_template_name = "accounts/password_reset_subject.txt"
    form_class = AgentPasswordResetForm
    success_url = reverse_lazy("web:password_reset_done")

    def get_extra_email_context(self) -> dict[str, Any]:
        # The link is built on PREMURA_BASE_URL, never on the request's Host header.
        return {"base_url": settings.PREMURA_BASE_URL.rstrip("/")}

    def form_valid(self, form: PasswordResetForm) -> HttpResponse:
        self.extra_email_context = self.get_extra_email_context()
        return super().form_valid(form)


class PasswordResetSentView(auth_views.PasswordResetDoneView):
    template_name = "accounts/password_reset_sent.html"


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    """Choose a new password from the emailed link (which then stops working)."""

    template_name = "accounts/password_reset_confirm.html"
    success_url = reverse_lazy("web:password_reset_complete")
    form_class = SetPasswordForm

    def form_valid(self, form: SetPasswordForm) -> HttpResponse:  # type: ignore[type-arg]
        response = super().form_valid(form)
        # Whoever holds the mailbox is the agent: a lockout from earlier guesses ends here.
        unlock_sign_in(self.user.email)
        return response


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "accounts/password_reset_complete.html"
