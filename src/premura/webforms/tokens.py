"""The signed form token: which form, when the page was rendered, and the submission's id.

Carried in a hidden field instead of relying on the CSRF cookie, which a browser refuses to send
from a third-party iframe (docs/contact-form.md). Signed and time-stamped with Django's signing,
so a visitor cannot change the render time (the minimum fill time) nor make up an id.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

from django.core import signing

SALT = "premura.webforms.form-token"
# A page left open longer than this must be reloaded (the visitor's text is kept on the page).
MAX_AGE_SECONDS = 24 * 3600


class InvalidToken(Exception):
    """The token is missing, forged, for another form, or too old (`expired`)."""

    def __init__(self, *, expired: bool = False) -> None:
        super().__init__("expired" if expired else "invalid")
        self.expired = expired


@dataclass(frozen=True)
class FormToken:
    """What the page's token says."""

    form_id: int
    rendered_at: float
    submission_id: str


def issue(form_id: int) -> str:
    """A new token for one rendering of a form's page: a fresh submission id, the time now."""
    payload = {"f": form_id, "t": round(time.time(), 3), "s": uuid.uuid4().hex}
    return signing.dumps(payload, salt=SALT, compress=False)


def read(value: str, form_id: int) -> FormToken:
    """Check and open a token for this form; InvalidToken when it cannot be trusted."""
    if not value:
        raise InvalidToken
    try:
        payload = signing.loads(value, salt=SALT, max_age=MAX_AGE_SECONDS)
    except signing.SignatureExpired as exc:
        raise InvalidToken(expired=True) from exc
    except signing.BadSignature as exc:
        raise InvalidToken from exc
    if not isinstance(payload, dict) or payload.get("f") != form_id:
        raise InvalidToken
    submission_id = payload.get("s")
    rendered_at = payload.get("t")
    if not isinstance(submission_id, str) or not isinstance(rendered_at, int | float):
        raise InvalidToken
    if time.time() - rendered_at > MAX_AGE_SECONDS:
        raise InvalidToken(expired=True)
    return FormToken(form_id=form_id, rendered_at=float(rendered_at), submission_id=submission_id)
