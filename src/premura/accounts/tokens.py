"""Bearer tokens: random, shown once, stored only as their SHA-256."""

from __future__ import annotations

import hashlib
import secrets


def new_token(prefix: str) -> tuple[str, str]:
    """Return a fresh token with a readable prefix (e.g. "prm_pat_") and its hash for storage."""
    token = prefix + secrets.token_urlsafe(32)
    return token, hash_token(token)


def hash_token(token: str) -> str:
    """The value kept in the database for a token."""
    return hashlib.sha256(token.encode()).hexdigest()
