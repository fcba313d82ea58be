"""Helpers for tests: an API client with a bearer token, valid request bodies."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from django.test import Client

from premura.accounts.models import User
from premura.accounts.services import issue_api_token


class APIClient:
    """A Django test client that sends a bearer token and JSON."""

    def __init__(self, token: str) -> None:
        self.client = Client()
        self.token = token

    def _headers(self) -> dict[str, str]:
        return {"HTTP_AUTHORIZATION": f"Bearer {self.token}"}

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return self.client.get(path, params or {}, **self._headers())

    def post(self, path: str, body: Any = None, *, raw: bytes | str | None = None) -> Any:
        data = raw if raw is not None else json.dumps(body if body is not None else {})
        return self.client.post(path, data, content_type="application/json", **self._headers())

    def patch(self, path: str, body: Any) -> Any:
        return self.client.patch(
            path, json.dumps(body), content_type="application/json", **self._headers()
        )

    def delete(self, path: str) -> Any:
        return self.client.delete(path, **self._headers())


def client_for(user: User) -> APIClient:
    """An API client authenticated with a fresh personal token of `user`."""
    return APIClient(issue_api_token(user).plaintext)


def message_body(
    message_id: str = "m-1", identifier: str = "cust-1", **extra: Any
) -> dict[str, Any]:
    """A valid API channel message body."""
    body: dict[str, Any] = {
        "message_id": message_id,
        "contact": {"identifier": identifier, "name": "Mario Rossi", "email": "mario@example.it"},
        "text": "Buongiorno, il mio ordine non è arrivato.",
    }
    body.update(extra)
    return body


def email_corpus_dir() -> Path:
    """The shared real-world email corpus (outside the repository): PREMURA_EMAIL_CORPUS, else
    `shared/corpus/emails` beside the checkout, else the workspace's copy."""
    configured = os.environ.get("PREMURA_EMAIL_CORPUS")
    if configured:
        return Path(configured)
    beside = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "emails"
    for candidate in (beside, Path("/work/shared/corpus/emails")):
        if (candidate / "MANIFEST.tsv").exists():
            return candidate
    return beside
