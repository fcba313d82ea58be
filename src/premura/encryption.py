"""Encryption at rest for inbox credentials and webhook secrets.

Values are encrypted with Fernet (AES-128-CBC + HMAC-SHA256) under keys from PREMURA_ENCRYPTION_KEYS;
the first key encrypts, every key decrypts, so keys can be rotated. Without that variable a key is
derived from SECRET_KEY, which is itself kept out of the repository.
"""

from __future__ import annotations

import base64
import hashlib
import json
from functools import cache, lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.db import models


@cache
def _fernet() -> MultiFernet:
    keys = list(settings.PREMURA_ENCRYPTION_KEYS)
    if not keys:
        digest = hashlib.sha256(("premura-encryption:" + settings.SECRET_KEY).encode()).digest()
        keys = [base64.urlsafe_b64encode(digest).decode()]
    return MultiFernet([Fernet(key.encode()) for key in keys])


def encrypt(plaintext: str) -> str:
    """Encrypt a string for storage."""
    return _fernet().encrypt(plaintext.encode()).decode()


@lru_cache(maxsize=1024)
def decrypt(token: str) -> str:
    """Decrypt a stored string; raises ValueError when no configured key opens it.

    Every row that loads an inbox decrypts its credentials and webhook secret (a thread page
    joins the inbox of each of its messages), so the few distinct ciphertexts are decrypted once
    per process: about 0.25 ms each otherwise. A ciphertext never changes meaning, and a rotated
    key set means a restarted process.
    """
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise ValueError("encrypted value cannot be decrypted with the configured keys") from exc


class EncryptedJSONField(models.TextField):  # type: ignore[type-arg]
    """A JSON value stored encrypted; the database only ever holds ciphertext."""

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> Any:
        if value is None or value == "":
            return {}
        return json.loads(decrypt(value))

    def to_python(self, value: Any) -> Any:
        if isinstance(value, str):
            if not value:
                return {}
            try:
                return json.loads(decrypt(value))
            except ValueError:
                return json.loads(value)
        return value if value is not None else {}

    def get_prep_value(self, value: Any) -> Any:
        if value is None:
            value = {}
        return encrypt(json.dumps(value, sort_keys=True))


class EncryptedTextField(models.TextField):  # type: ignore[type-arg]
    """A string stored encrypted (webhook secrets)."""

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> str:
        if not value:
            return ""
        return decrypt(value)

    def get_prep_value(self, value: Any) -> Any:
        if not value:
            return ""
        return encrypt(str(value))
