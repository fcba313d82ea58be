"""The first pages: sign-in in Italian and English, the start page, security headers."""

from __future__ import annotations

import pytest
from django.test import Client

from premura.accounts.models import User

pytestmark = pytest.mark.django_db


def test_login_page_speaks_italian_and_english() -> None:
    # when
    italian = Client(headers={"Accept-Language": "it"}).get("/login/")
    english = Client(headers={"Accept-Language": "en"}).get("/login/")

    # then
    assert italian.status_code == 200
    assert "<h1>Accedi</h1>" in italian.content.decode()
    assert '<html lang="it">' in italian.content.decode()
    assert "<h1>Sign in</h1>" in english.content.decode()


def test_home_needs_sign_in_then_opens_the_inbox(admin: User) -> None:
    # given
    client = Client(headers={"Accept-Language": "it"})

    # when
    anonymous = client.get("/")
    client.post("/login/", {"username": "admin@example.com", "password": "x"})
    signed_in = client.get("/", follow=True)

    # then
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith("/login/")
    assert signed_in.redirect_chain == [("/inbox/", 302)]
    assert signed_in.status_code == 200


def test_wrong_password_shows_error(admin: User) -> None:
    response = Client().post("/login/", {"username": "admin@example.com", "password": "wrong"})
    assert response.status_code == 200
    assert "Email or password is not correct." in response.content.decode()


def test_pages_send_strict_security_headers() -> None:
    # when
    response = Client().get("/login/")

    # then
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_health_probe() -> None:
    assert Client().get("/healthz").content == b"ok"
