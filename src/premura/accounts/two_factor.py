"""Two-factor sign-in with a time-based code (TOTP through django-otp).

An agent sets it up in their settings: a new authenticator (an unconfirmed TOTPDevice) is shown
as a QR code and as text, and becomes active once the agent types a first code from it. From
then on User.two_factor_enabled is true and every session of the agent must pass the code step
(premura.accounts.middleware.TwoFactorMiddleware) before any page opens. Turning it off takes a
current code; an admin can reset it for an agent who lost their phone.
"""

from __future__ import annotations

import math
from base64 import b32encode
from urllib.parse import quote, urlencode

import segno
from django.db import transaction
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from premura.accounts.models import User

ISSUER = "Premura"
DEVICE_NAME = "Authenticator app"


class CodeRejected(Exception):  # noqa: N818 - reads as what happened to the code
    """A code was not accepted; `wait_seconds` > 0 when too many wrong codes came too fast."""

    def __init__(self, wait_seconds: int = 0) -> None:
        super().__init__(wait_seconds)
        self.wait_seconds = wait_seconds


def pending_device(user: User) -> TOTPDevice | None:
    """The authenticator being set up (shown, not yet confirmed with a code), if any."""
    return TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-pk").first()


def confirmed_device(user: User) -> TOTPDevice | None:
    """The agent's active authenticator, if two-factor sign-in is on."""
    return TOTPDevice.objects.filter(user=user, confirmed=True).order_by("-pk").first()


def start_setup(user: User) -> TOTPDevice:
    """A new authenticator for the agent, waiting for its first code (replaces an unfinished one)."""
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user, confirmed=False).delete()
        return TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=False)


def cancel_setup(user: User) -> None:
    """Forget an authenticator whose setup the agent abandoned."""
    TOTPDevice.objects.filter(user=user, confirmed=False).delete()


def _rejection(device: TOTPDevice, code: str) -> CodeRejected | None:
    """Why `code` is refused for `device` (None when it is a current, unused code).

    Returned rather than raised so that callers leave their transaction normally: the failure
    count that throttles guessing must be committed, not rolled back with the error.
    """
    allowed, info = device.verify_is_allowed()
    if not allowed:
        locked_until = (info or {}).get("locked_until")
        wait = (locked_until - timezone.now()).total_seconds() if locked_until else 1
        return CodeRejected(max(1, math.ceil(wait)))
    # verify_token refuses a code already used (replay) and counts failures for throttling.
    if not device.verify_token(code):
        return CodeRejected()
    return None


def _locked_device(user: User, *, confirmed: bool) -> TOTPDevice | None:
    """The agent's device, locked so that two requests cannot both spend the same code."""
    return (
        TOTPDevice.objects.select_for_update()
        .filter(user=user, confirmed=confirmed)
        .order_by("-pk")
        .first()
    )


def confirm_setup(user: User, code: str) -> TOTPDevice:
    """Activate the pending authenticator with its first code; two-factor sign-in is then on."""
    with transaction.atomic():
        device = _locked_device(user, confirmed=False)
        if device is None:
            raise CodeRejected()
        rejected = _rejection(device, code)
        if rejected is None:
            device.confirmed = True
            device.save(update_fields=["confirmed"])
            TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
            _set_enabled(user, enabled=True)
    if rejected is not None:
        raise rejected
    return device


def verify_sign_in(user: User, code: str) -> TOTPDevice | None:
    """The device that accepted `code` at the sign-in code step (raises CodeRejected).

    None when the agent has no active authenticator any more (removed by an admin in the Django
    admin): the flag is cleared so that the agent is not stuck at a code step they cannot pass.
    """
    with transaction.atomic():
        device = _locked_device(user, confirmed=True)
        if device is None:
            _set_enabled(user, enabled=False)
            return None
        rejected = _rejection(device, code)
    if rejected is not None:
        raise rejected
    return device


def disable(user: User, code: str) -> None:
    """Turn two-factor sign-in off; the agent proves they hold the authenticator with a code."""
    with transaction.atomic():
        device = _locked_device(user, confirmed=True)
        if device is None:
            raise CodeRejected()
        rejected = _rejection(device, code)
        if rejected is None:
            TOTPDevice.objects.filter(user=user).delete()
            _set_enabled(user, enabled=False)
    if rejected is not None:
        raise rejected


def reset(user: User) -> None:
    """Admin action: remove an agent's authenticator (lost phone); they sign in with the password."""
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user).delete()
        _set_enabled(user, enabled=False)


def _set_enabled(user: User, *, enabled: bool) -> None:
    # Written whatever the instance in memory says: it may be stale (an admin's list, a request).
    User.objects.filter(pk=user.pk).update(two_factor_enabled=enabled)
    user.two_factor_enabled = enabled


def secret_text(device: TOTPDevice) -> str:
    """The key in base32, in groups of four, for typing into an app by hand."""
    secret = b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def provisioning_uri(device: TOTPDevice) -> str:
    """The otpauth:// URI that authenticator apps read from the QR code."""
    label = quote(f"{ISSUER}:{device.user.email}")
    params = urlencode(
        {
            "secret": b32encode(device.bin_key).decode().rstrip("="),
            "issuer": ISSUER,
            "algorithm": "SHA1",
            "digits": device.digits,
            "period": device.step,
        }
    )
    return f"otpauth://totp/{label}?{params}"


def qr_code_data_uri(device: TOTPDevice) -> str:
    """The QR code as an SVG data: URI (the Content-Security-Policy allows data: images)."""
    qr = segno.make(provisioning_uri(device), error="m")
    return str(qr.svg_data_uri(scale=5, dark="#1f2933", light="#ffffff", border=2))
