"""Inviting an agent: an email with a link where they choose their own password.

The link is Django's password-reset link (default_token_generator): it works once, until the
password is set, and for PASSWORD_RESET_TIMEOUT seconds. It is built on PREMURA_BASE_URL, never
on the request's Host header, so a forged Host cannot send agents to another site.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.translation import gettext as _

from premura.accounts.models import User


def set_password_url(user: User) -> str:
    """The absolute link where `user` chooses a password."""
    kwargs = {
        "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
        "token": default_token_generator.make_token(user),
    }
    path = reverse("web:password_reset_confirm", kwargs=kwargs)
    return settings.PREMURA_BASE_URL.rstrip("/") + path


def send_invitation(user: User, invited_by: User) -> None:
    """Email `user` the link to choose their password (raises on a mail server error)."""
    context = {
        "agent": user,
        "invited_by": invited_by,
        "link": set_password_url(user),
        "role": user.get_role_display(),
        "days": max(1, settings.PASSWORD_RESET_TIMEOUT // 86400),
        "base_url": settings.PREMURA_BASE_URL.rstrip("/"),
    }
    # In the agent's language when the admin chose one for them, else in the admin's.
    with translation.override(user.language or translation.get_language()):
        body = render_to_string("administration/emails/invitation.txt", context)
        subject = _("Your Premura account")
    send_mail(subject, body, None, [user.email])
