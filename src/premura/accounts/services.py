"""Writes on agents and API tokens."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from premura.accounts.models import APIToken, User
from premura.accounts.tokens import hash_token, new_token

PERSONAL_TOKEN_PREFIX = "prm_pat_"  # noqa: S105 - a public prefix, not a secret


@dataclass(frozen=True)
class IssuedToken:
    """A token just created: the only moment its plaintext exists."""

    token: APIToken
    plaintext: str


def create_agent(
    email: str,
    *,
    role: str = User.Role.AGENT,
    password: str | None = None,
    display_name: str = "",
    language: str = "",
) -> User:
    """Create an agent (or supervisor, or admin) who signs in with their email."""
    is_admin = role == User.Role.ADMIN
    return User.objects.create_user(
        email,
        password,
        role=role,
        display_name=display_name,
        language=language,
        is_staff=is_admin,
        is_superuser=is_admin,
    )


def ensure_admin(email: str, password: str | None = None) -> tuple[User, str | None]:
    """Create an admin with a random password unless one with this email exists.

    Returns the user and the new password (None when the admin already existed).
    """
    with transaction.atomic():
        existing = User.objects.filter(email__iexact=email).first()
        if existing is not None:
            return existing, None
        password = password or secrets.token_urlsafe(12)
        user = create_agent(email, role=User.Role.ADMIN, password=password, display_name="Admin")
        return user, password


def issue_api_token(user: User, name: str = "API") -> IssuedToken:
    """Create a personal API token for an agent; its plaintext is returned once, never stored."""
    plaintext, token_hash = new_token(PERSONAL_TOKEN_PREFIX)
    token = APIToken.objects.create(
        user=user, name=name[:100], prefix=plaintext[:12], token_hash=token_hash
    )
    return IssuedToken(token=token, plaintext=plaintext)


def revoke_api_token(token: APIToken) -> None:
    """Revoke a token: it stops working at once and stays listed as revoked."""
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])


def user_for_token(plaintext: str) -> User | None:
    """The active agent a personal token belongs to, or None."""
    if not plaintext.startswith(PERSONAL_TOKEN_PREFIX):
        return None
    token = (
        APIToken.objects.select_related("user")
        .filter(token_hash=hash_token(plaintext), revoked_at__isnull=True, user__is_active=True)
        .first()
    )
    if token is None:
        return None
    now = timezone.now()
    # Recording use at most once a minute keeps reads from turning into writes.
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        APIToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user


class LastAdminError(Exception):
    """The change would leave nobody able to administer Premura."""


def _active_admins_locked() -> list[int]:
    """Ids of the active admins, their rows locked until the transaction ends.

    Locking them makes two admins who demote each other at the same moment take turns, so the
    second one sees that the first is no longer an admin.
    """
    from django.db.models import Q

    return list(
        User.objects.select_for_update()
        .filter(Q(role=User.Role.ADMIN) | Q(is_superuser=True), is_active=True)
        .values_list("pk", flat=True)
    )


def _keeps_an_admin(user: User) -> None:
    """Raise LastAdminError if `user` is the only active admin left."""
    admins = _active_admins_locked()
    if admins == [user.pk]:
        raise LastAdminError(str(user))


def update_agent(user: User, *, display_name: str, role: str) -> User:
    """Rename an agent or change their role; the last active admin keeps the admin role."""
    with transaction.atomic():
        if role != User.Role.ADMIN:
            _keeps_an_admin(user)
        is_admin = role == User.Role.ADMIN
        user.display_name = display_name
        user.role = role
        # As create_agent: admins are the Django admin's superusers (its fallback), nobody else.
        user.is_staff = is_admin
        user.is_superuser = is_admin
        user.save(update_fields=["display_name", "role", "is_staff", "is_superuser"])
    return user


def deactivate_agent(user: User) -> User:
    """Stop an agent signing in and using their tokens (never deleted: their history stays)."""
    with transaction.atomic():
        _keeps_an_admin(user)
        user.is_active = False
        user.availability = User.Availability.OFFLINE
        user.save(update_fields=["is_active", "availability"])
    return user


def reactivate_agent(user: User) -> User:
    """Let a deactivated agent sign in again."""
    user.is_active = True
    user.save(update_fields=["is_active"])
    return user


def update_agent_settings(
    user: User,
    *,
    display_name: str,
    language: str,
    timezone: str,
    signature: str,
    availability: str,
) -> User:
    """Save what an agent sets for themselves on their settings page (validated by the form)."""
    user.display_name = display_name
    user.language = language
    user.timezone = timezone
    user.signature = signature
    user.availability = availability
    user.save(update_fields=["display_name", "language", "timezone", "signature", "availability"])
    return user


def set_availability(user: User, availability: str) -> User:
    """Mark an agent online, away or offline."""
    if availability not in User.Availability.values:
        raise ValueError(availability)
    user.availability = availability
    user.save(update_fields=["availability"])
    return user


def unlock_sign_in(email: str) -> int:
    """Lift the sign-in lockout of an email address (from every address); returns lockouts lifted."""
    from axes.utils import reset

    return int(reset(username=email.strip().lower()) or 0)
